"""The backward-pass observer: an event stream in the engine's order that changes nothing."""
import threading

import numpy as np
import pytest

import minigrad as mg
from minigrad.tensor import topological_order
from rnn import RNN


def unrolled(H=20, tau=6, seed=0):
    """An RNN graph whose weights collect Outer (lazy) gradients: H >= 16, one sequence."""
    rng = np.random.default_rng(seed)
    model = RNN(input_size=5, hidden_size=H, output_size=5, seed=seed)
    return model, rng.integers(0, 5, tau), rng.integers(0, 5, tau)


def test_every_node_is_visited_once_after_all_of_its_consumers_sent_their_gradient():
    model, x, y = unrolled()
    graph = model.unroll(x, y)
    events = []
    with mg.observe_backward(events.append):
        graph.loss.backward()
    visits = [e.node for e in events if e.kind == "visit"]
    nodes = topological_order([graph.loss])
    assert len(visits) == len(set(visits)) == len(nodes)
    assert set(visits) == set(nodes)
    position = {}
    for k, e in enumerate(events):
        if e.kind == "visit":
            position[e.node] = k
    for k, e in enumerate(events):
        if e.kind == "send":  # a gradient is sent before its receiver is visited
            assert position[e.node] < k < position[e.input]
            assert e.node.inputs[e.index] is e.input


def test_the_sends_to_a_node_add_up_to_its_gradient_and_w_receives_one_per_step():
    model, x, y = unrolled(tau=7)
    graph = model.unroll(x, y)
    sends = {}
    with mg.observe_backward(lambda e: e.kind == "send" and sends.setdefault(
            e.input, []).append(np.array(e.grad))):
        graph.loss.backward()
    for node, parts in sends.items():
        np.testing.assert_allclose(np.sum(parts, axis=0), node.grad, rtol=1e-12, atol=1e-15)
    assert len(sends[model.W]) == 7  # W h(t−1), t = 1..7 (h(0) = 0 still sends)


def test_observing_changes_no_gradient_bit():
    model, x, y = unrolled(H=24, tau=9)
    plain = model.unroll(x, y)
    plain.loss.backward()
    expected = {k: p.grad.copy() for k, p in model.parameters().items()}
    mg.zero_grad(model.parameters().values())
    observed = model.unroll(x, y)
    with mg.observe_backward(lambda e: None):
        observed.loss.backward()
    for k, p in model.parameters().items():
        np.testing.assert_array_equal(p.grad, expected[k])
    for t in range(1, 10):
        np.testing.assert_array_equal(observed.h[t].grad, plain.h[t].grad)


def test_observed_arrays_are_read_only():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    arrays = []
    with mg.observe_backward(lambda e: arrays.append(e.grad)):
        (x * 3).sum().backward()
    for a in arrays:
        with pytest.raises(ValueError, match="read-only"):
            a[...] = 0
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_a_hook_that_replaces_a_gradient_is_an_event():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    x.register_hook(lambda g: g * 10)
    events = []
    with mg.observe_backward(events.append):
        (x * x).sum().backward()
    hook, = (e for e in events if e.kind == "hook")
    assert hook.node is x
    np.testing.assert_array_equal(hook.before, [2.0, 4.0])
    np.testing.assert_array_equal(hook.grad, [20.0, 40.0])
    assert events[-1] is hook  # x is the last node: visited, then hooked


def test_an_observer_sees_a_create_graph_pass_too():
    x = mg.tensor(0.5, requires_grad=True)
    events = []
    with mg.observe_backward(events.append):
        g = mg.grad(mg.tanh(x), x, create_graph=True)
    assert [e.kind for e in events] == ["visit", "send", "visit"]
    assert float(events[-1].grad) == pytest.approx(1 - np.tanh(0.5) ** 2, rel=1e-15)
    assert g.requires_grad


def test_one_observer_per_thread_and_none_in_other_threads():
    seen = []
    with mg.observe_backward(seen.append):
        with pytest.raises(RuntimeError, match="already has an observer"):
            with mg.observe_backward(seen.append):
                pass
        thread = threading.Thread(
            target=lambda: (mg.tensor(1.0, requires_grad=True) * 2).backward())
        thread.start()
        thread.join()
    assert seen == []
    with pytest.raises(TypeError, match="not callable"):
        with mg.observe_backward(3):
            pass
