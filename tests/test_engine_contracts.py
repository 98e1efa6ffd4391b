"""The engine's smaller promises: what repr, detach, the explicit topological order, nested
anomaly mode and the error messages say (cases the mutation run found untested:
docs/mutation.md)."""
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.tensor import topological_order


def test_repr_shows_the_values_the_name_and_how_the_tensor_was_made():
    leaf = mg.tensor([1.0, 2.5], requires_grad=True, name="w")
    text = repr(leaf)
    assert text.startswith("Tensor([1.  2.5], ") and "name='w'" in text
    assert "requires_grad=True" in text and "op=" not in text
    constant = repr(mg.tensor(3.0))
    assert constant.startswith("Tensor(3., ") and "requires_grad" not in constant
    assert "name=" not in constant
    assert "op='mul'" in repr(leaf * 2.0)
    assert "..." in repr(mg.tensor(np.arange(100.0)))  # long arrays are summarized


def test_detach_gives_a_constant_that_keeps_the_name():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    d = (x * 3.0).named("y").detach()
    assert d.requires_grad is False and d.is_leaf and d.name == "y"
    assert x.detach().name == "x" and x.detach().requires_grad is False


def test_topological_order_lists_each_node_once_after_its_inputs():
    a = mg.tensor(1.5, requires_grad=True, name="a")
    b = a * a                   # a used twice
    c, d = b + a, b * 2.0       # a diamond through b
    top = c * d + b
    order = topological_order([top])
    assert len(order) == len(set(order)) == 6   # a, b, c, d, c*d, top
    position = {node: i for i, node in enumerate(order)}
    for node in order:
        assert all(position[x] < position[node] for x in node.inputs if x.requires_grad)
    assert order[-1] is top


def test_detect_anomaly_nested_blocks_keep_checking_in_the_outer_block():
    x = mg.tensor([0.0], requires_grad=True, name="x")
    with mg.detect_anomaly():
        with mg.detect_anomaly():
            pass
        with pytest.raises(FloatingPointError, match="'log'"):
            mg.log(x)
    with np.errstate(divide="ignore"):
        mg.log(x)  # off again after the outer block


def test_detect_anomaly_raises_instead_of_warning():
    x = mg.tensor([0.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy RuntimeWarning would fail here
        with mg.detect_anomaly(), pytest.raises(FloatingPointError):
            mg.log(x)


def test_messages_name_an_unnamed_node_by_its_op_and_a_constant_as_constant():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"non-scalar 'mul' \(2,\) float64"):
        (x * x).backward()
    with pytest.raises(RuntimeError, match=r"backward from 'constant' \(\) float64"):
        mg.tensor(1.0).backward()


def test_a_node_records_its_ops_static_params_and_none_when_it_has_none():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert x.sum(axis=0).params == {"axis": 0, "keepdims": False}
    assert x.transpose(1, 0).params == {"axes": (1, 0)}
    assert (x + x).params is None and x.params is None
