"""mg.grad, the functional form of backward: the same gradients as backward, as new Tensors,
with no .grad touched (its branches had no test in the mutation run: docs/mutation.md)."""
import numpy as np
import pytest

import minigrad as mg


def problem():
    x = mg.tensor([0.5, -1.0, 2.0], requires_grad=True, name="x")
    w = mg.tensor([[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0]], requires_grad=True, name="w")
    return x, w, mg.tanh(w @ x)


def backward_grads(tensors, out, g=None):
    out.backward(g)
    return [t.grad.copy() for t in tensors]


def test_grad_equals_backward_and_touches_no_grad():
    x, w, out = problem()
    gx, gw = mg.grad(out.sum(), [x, w])
    assert x.grad is None and w.grad is None
    assert not gx.requires_grad and not gw.requires_grad
    expected = backward_grads([x, w], out.sum())
    np.testing.assert_array_equal(gx.data, expected[0])
    np.testing.assert_array_equal(gw.data, expected[1])


def test_a_single_input_gives_a_single_tensor_and_a_list_a_tuple():
    x, w, out = problem()
    one = mg.grad(out.sum(), x)
    assert isinstance(one, mg.Tensor) and one.shape == (3,)
    both = mg.grad(out.sum(), (x,))
    assert isinstance(both, tuple) and len(both) == 1
    np.testing.assert_array_equal(both[0].data, one.data)


def test_grad_outputs_weight_a_non_scalar_output():
    x, w, out = problem()
    g = np.array([2.0, -3.0])
    gx = mg.grad(out, x, g)
    np.testing.assert_array_equal(gx.data, backward_grads([x], out, g)[0])
    x2, w2, out2 = problem()
    (gx_list,) = mg.grad([out2], [x2], [g])
    np.testing.assert_array_equal(gx_list.data, gx.data)


def test_inputs_must_require_grad_and_be_used_unless_allowed():
    x, w, out = problem()
    with pytest.raises(ValueError, match="^grad: input .* does not require grad"):
        mg.grad(out.sum(), mg.tensor([1.0, 2.0, 3.0]))
    unused = mg.tensor([[1.0, 2.0]], requires_grad=True, name="unused")
    with pytest.raises(ValueError, match=r"^grad: the outputs do not depend on 'unused' \(1, 2\) "
                                         r"float64 \(allow_unused=True gives zeros\)$"):
        mg.grad(out.sum(), [x, unused])
    gx, gu = mg.grad(out.sum(), [x, unused], allow_unused=True)
    assert gu.data.tolist() == [[0.0, 0.0]] and not gu.requires_grad
    np.testing.assert_array_equal(gx.data, mg.grad(out.sum(), x).data)


def test_create_graph_gives_gradients_that_differentiate_again():
    x = mg.tensor([1.5, -2.0], requires_grad=True)
    first = mg.grad((x ** 3).sum(), x, create_graph=True)      # 3x²
    assert first.requires_grad
    np.testing.assert_allclose(first.data, 3 * x.data ** 2, rtol=1e-15)
    second = mg.grad(first.sum(), x)                            # 6x
    np.testing.assert_allclose(second.data, 6 * x.data, rtol=1e-15)
    assert not mg.grad((x ** 3).sum(), x).requires_grad         # the default records nothing


def test_grad_with_respect_to_an_intermediate_is_its_gradient_not_unused():
    x, w, out = problem()
    h = (w @ x).named("h")
    L = (mg.tanh(h) * 2.0).sum()
    gh = mg.grad(L, h)
    np.testing.assert_allclose(gh.data, 2.0 * (1.0 - np.tanh(h.data) ** 2), rtol=1e-15)
    assert h.grad is None
