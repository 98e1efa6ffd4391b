"""What a backward pass promises: plain arrays in a plain pass, Tensors under
create_graph, seeds typed like their output, accumulation, no shared memory."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.tensor import apply


def _graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    h = (x * x).named("h")
    return x, h, (h * 3).sum().named("L")


def test_a_plain_pass_stores_plain_arrays_everywhere():
    x, h, L = _graph()
    L.backward()
    for t in (x, h, L):
        assert type(t.grad) is np.ndarray
    np.testing.assert_array_equal(x.grad, [6.0, 12.0])


def test_a_plain_pass_with_a_tensor_gradient_stores_plain_arrays():
    x, h, _ = _graph()
    h.backward(mg.tensor([1.0, 10.0]))
    assert type(x.grad) is np.ndarray and type(h.grad) is np.ndarray
    np.testing.assert_array_equal(x.grad, [2.0, 40.0])


def test_create_graph_stores_tensors_everywhere_and_the_seed_is_a_constant_one():
    x, h, L = _graph()
    L.backward(create_graph=True)
    for t in (x, h, L):
        assert isinstance(t.grad, mg.Tensor)
    assert L.grad.requires_grad is False and float(L.grad) == 1.0
    assert x.grad.requires_grad is True  # 6x depends on x
    np.testing.assert_array_equal(mg.grad(x.grad.sum(), x).data, [6.0, 6.0])


def test_the_method_passes_create_graph_on():
    x = mg.tensor(3.0, requires_grad=True)
    (x ** 3).backward(create_graph=True)
    assert isinstance(x.grad, mg.Tensor)
    assert float(mg.grad(x.grad, x)) == 18.0


def test_create_graph_inside_no_grad_still_records_the_backward_pass():
    x = mg.tensor(3.0, requires_grad=True)
    y = x ** 3
    with mg.no_grad():
        dy = mg.grad(y, x, create_graph=True)
    assert dy.requires_grad and float(mg.grad(dy, x)) == 18.0


def test_a_plain_pass_inside_no_grad_leaves_recording_off_for_its_hooks():
    x = mg.tensor(2.0, requires_grad=True)
    y = x * x
    seen = []
    x.register_hook(lambda g: seen.append(mg.is_grad_enabled()))
    with mg.no_grad():
        y.backward()
    assert seen == [False]


def test_a_recorded_upstream_gradient_is_differentiable():
    """grad(y, x, v, create_graph=True) is linear in v: its derivative in v is ∂y/∂x."""
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    v = mg.tensor([3.0, 5.0], requires_grad=True)
    vjp = mg.grad(x * x, x, v, create_graph=True)          # 2 x v
    np.testing.assert_array_equal(vjp.data, [6.0, 20.0])
    np.testing.assert_array_equal(mg.grad(vjp.sum(), v).data, [2.0, 4.0])


def test_a_number_is_a_gradient_for_a_one_element_output():
    x = mg.tensor(2.0, requires_grad=True)
    (x * x).backward(2.0)
    assert float(x.grad) == 8.0


@pytest.mark.parametrize("given", [np.array([1.0, 1.0]), np.array([1, 1]),
                                   mg.tensor([1.0, 1.0])])
def test_an_upstream_gradient_takes_the_outputs_dtype(given):
    x = mg.tensor([1.0, 2.0], requires_grad=True, dtype=np.float32)
    y = x * x
    y.backward(given)
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


@pytest.mark.parametrize("create_graph", [False, True])
def test_under_create_graph_an_upstream_gradient_takes_the_outputs_dtype(create_graph):
    x = mg.tensor([1.0, 2.0], requires_grad=True, dtype=np.float32)
    g = mg.grad(x * x, x, np.array([1.0, 1.0]), create_graph=create_graph)
    assert g.dtype == np.float32


def test_gradients_accumulate_over_passes_by_addition():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0, 7.0])


@pytest.mark.parametrize("create_graph", [False, True])
def test_a_tensor_gradient_accumulates_onto_an_array_gradient(create_graph):
    x = mg.tensor(2.0, requires_grad=True)
    (x * x).backward()
    (x * x).backward(create_graph=create_graph)
    assert float(x.grad) == 8.0
    assert isinstance(x.grad, mg.Tensor) is create_graph


def test_intermediates_keep_their_gradients_by_default_and_only_leaves_when_asked():
    x, h, L = _graph()
    L.backward()
    np.testing.assert_array_equal(h.grad, [3.0, 3.0])
    x, h, L = _graph()
    mg.backward([L])
    np.testing.assert_array_equal(h.grad, [3.0, 3.0])
    x, h, L = _graph()
    L.backward(keep_intermediate_grads=False)
    assert h.grad is None and L.grad is None and x.grad is not None


def test_no_two_grads_and_no_grad_and_upstream_gradient_share_memory():
    """Ops whose VJP passes its gradient through (add, reshape, sum) must not let
    one .grad array alias another or the caller's gradient."""
    x = mg.tensor([[1.0, 2.0]], requires_grad=True, name="x")
    a = (x + 0.0).named("a")
    b = a.reshape(2).named("b")
    c = (b + 0.0).named("c")
    upstream = np.array([1.0, 1.0])
    c.backward(upstream)
    grads = [x.grad, a.grad, b.grad, c.grad]
    for i, g in enumerate(grads):
        assert not np.shares_memory(g, upstream)
        for other in grads[i + 1:]:
            assert not np.shares_memory(g, other)
    c.backward(upstream)  # accumulating must not write through an alias either
    np.testing.assert_array_equal(upstream, [1.0, 1.0])
    np.testing.assert_array_equal(x.grad, [[2.0, 2.0]])
    np.testing.assert_array_equal(b.grad, [2.0, 2.0])


def test_fan_out_sums_every_contribution_without_touching_them():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    uses = [x * k for k in (1.0, 2.0, 3.0, 4.0)]
    total = uses[0] + uses[1] + uses[2] + uses[3]
    total.backward(np.ones(2))
    np.testing.assert_array_equal(x.grad, [10.0, 10.0])
    for k, u in zip((1.0, 2.0, 3.0, 4.0), uses):
        np.testing.assert_array_equal(u.grad, [1.0, 1.0])


def test_grad_results_are_constants_without_create_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    g = mg.grad((x * x).sum(), x)
    assert isinstance(g, mg.Tensor) and g.requires_grad is False
    np.testing.assert_array_equal(g.data, [2.0, 4.0])
    assert x.grad is None


def _scale_op(c, w):
    """A user's op through apply whose VJP hands back plain arrays, even under create_graph."""
    return apply("scale", lambda a, b: (a * b, lambda g, out, a, b: (
        None, np.asarray(g) * np.asarray(a))), [c, w], {})


def test_a_vjp_returning_arrays_under_create_graph_still_sends_every_gradient():
    c = mg.tensor([2.0, 3.0], name="c")
    w = mg.tensor([1.0, 1.0], requires_grad=True, name="w")
    y = _scale_op(c, w)
    sends = []
    with mg.observe_backward(lambda e: sends.append(e) if e.kind == "send" else None):
        y.backward(np.ones(2), create_graph=True)
    assert isinstance(w.grad, mg.Tensor) and w.grad.requires_grad is False
    np.testing.assert_array_equal(w.grad.data, [2.0, 3.0])
    assert [(e.input, e.index) for e in sends] == [(w, 1)]


def test_detect_anomaly_changes_no_gradient_and_keeps_create_graph_tensors():
    a, b = mg.tensor([[1.0, 2.0]], requires_grad=True), mg.tensor([3.0], requires_grad=True)
    with mg.detect_anomaly():
        ((a * b) ** 2).sum().backward(create_graph=True)
    assert isinstance(a.grad, mg.Tensor) and isinstance(b.grad, mg.Tensor)
    np.testing.assert_array_equal(a.grad.data, [[18.0, 36.0]])     # 2 a b²
    np.testing.assert_array_equal(b.grad.data, [30.0])             # Σ 2 a² b
    np.testing.assert_array_equal(mg.grad(b.grad.sum(), b).data, [10.0])


def test_an_observer_sees_each_send_summed_back_to_its_operands_shape():
    a, b = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True), mg.tensor(
        [10.0, 20.0], requires_grad=True)
    y = a * b
    sends = []
    with mg.observe_backward(lambda e: sends.append(e) if e.kind == "send" else None):
        y.backward(np.ones((2, 2)))
    assert [(e.input, e.index) for e in sends] == [(a, 0), (b, 1)]
    np.testing.assert_array_equal(sends[0].grad, [[10.0, 20.0], [10.0, 20.0]])
    np.testing.assert_array_equal(sends[1].grad, [4.0, 6.0])
    np.testing.assert_array_equal(b.grad, [4.0, 6.0])


def test_a_hook_handing_back_another_tensors_grad_gets_a_copy_of_its_own():
    """No two .grad arrays share memory, even when a hook returns an array that is
    already some tensor's .grad: adding into one must not change the other."""
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    h = (x * 3).named("h")
    L = (h * h).sum()
    x.register_hook(lambda g: h.grad)            # h comes out first: its .grad is complete
    L.backward()
    np.testing.assert_array_equal(x.grad, h.grad)
    assert not np.shares_memory(x.grad, h.grad)
    x.grad += 1.0
    np.testing.assert_array_equal(h.grad, [6.0, 12.0])   # 2h


def test_a_leaf_whose_float64_dtype_carries_metadata_gets_its_gradient():
    """numpy dtypes that compare equal are the same dtype for the engine's check of a VJP's
    result, even when they are different objects (a dtype with metadata, as h5py makes)."""
    tagged = np.dtype(np.float64, metadata={"unit": "m"})
    x = mg.tensor(np.array([1.0, 2.0], dtype=tagged), requires_grad=True)
    assert x.dtype == np.float64 and x.dtype is not np.dtype(np.float64)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
