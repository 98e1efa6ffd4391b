"""An engine error tells the user what to do next: each message states its cause and its
remedy in words of its own (the op, the flag, the call to make instead), checked phrase by
phrase, case and all, not as a copy of the whole message."""
import copy
import re

import numpy as np
import pytest

import minigrad as mg


def says(message: str, *phrases: str) -> None:
    """Each phrase appears in ``message`` as whole words (not run into other text)."""
    for phrase in phrases:
        assert re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", message), (
            f"{phrase!r} not said in: {message}")


def test_copying_a_recorded_tensor_says_why_and_to_copy_a_detached_one():
    y = mg.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(TypeError) as caught:
        copy.deepcopy(y)
    says(str(caught.value), "made by op 'mul'", "VJP closures", "copy t.detach() instead")


def test_a_second_order_pass_on_reassigned_data_says_to_recompute_the_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    y = (x * x).sum()
    x.data = np.array([5.0, 6.0])
    with pytest.raises(mg.OpError) as caught:
        y.backward(create_graph=True)
    says(str(caught.value), "after op 'mul' recorded it", "create_graph=True",
         "recorded values", "(recompute the graph)")


def test_backward_from_a_constant_says_how_it_came_to_need_no_grad():
    with pytest.raises(RuntimeError) as caught:
        mg.tensor([1.0, 2.0]).sum().backward()
    says(str(caught.value), "does not require grad (made from constants", "inside no_grad()")


def test_an_unsupported_dtype_lists_the_supported_ones():
    with pytest.raises(TypeError) as caught:
        mg.tensor([1.0], dtype=np.complex64)
    says(str(caught.value), "complex64", "real floating, integer and boolean arrays")


def test_backward_on_one_tensor_says_to_call_its_method():
    with pytest.raises(TypeError) as caught:
        mg.backward(mg.tensor(1.0, requires_grad=True) * 2)
    says(str(caught.value), "backward(outputs, grads) takes a list of outputs",
         "t.backward(grad)")


def test_a_second_observer_in_a_thread_is_refused_by_name():
    with mg.observe_backward(lambda event: None), pytest.raises(RuntimeError) as caught:
        with mg.observe_backward(lambda event: None):
            pass
    says(str(caught.value), "observe_backward", "already has an observer")
