"""A hook's replacement gradient, whatever it is given as, becomes a gradient of the
kind the pass works in: an array in a plain pass, a Tensor under create_graph."""
import numpy as np

import minigrad as mg


def test_a_hook_may_return_a_python_number_for_a_one_element_tensor():
    x = mg.tensor(2.0, requires_grad=True)
    x.register_hook(lambda g: 5.0)
    (x * x).backward()
    assert type(x.grad) is np.ndarray and float(x.grad) == 5.0


def test_a_hook_returning_a_tensor_in_a_plain_pass_gives_an_array():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    h.register_hook(lambda g: mg.tensor(10 * g))
    h.sum().backward()
    assert type(h.grad) is np.ndarray and type(x.grad) is np.ndarray
    np.testing.assert_array_equal(x.grad, [20.0, 40.0])


def test_under_create_graph_a_hook_returning_an_array_gives_a_constant_tensor():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    h.register_hook(lambda g: np.array([7.0, 8.0]))
    h.sum().backward(create_graph=True)
    assert isinstance(h.grad, mg.Tensor) and h.grad.requires_grad is False
    np.testing.assert_array_equal(h.grad.data, [7.0, 8.0])
    assert isinstance(x.grad, mg.Tensor)
    np.testing.assert_array_equal(x.grad.data, [14.0, 32.0])   # 2x * replaced
    np.testing.assert_array_equal(mg.grad(x.grad.sum(), x).data, [14.0, 16.0])
