"""Hooks keep the gradient's dtype and work under create_graph; grad mode is per thread
(cases the mutation run found untested: docs/mutation.md)."""
import functools
import threading

import numpy as np
import pytest

import minigrad as mg


@pytest.mark.parametrize("dtype, returned", [(np.float64, np.float32), (np.float64, np.int64),
                                             (np.float32, np.float64)])
def test_a_hook_replacement_takes_the_dtype_of_the_gradient(dtype, returned):
    x = mg.tensor([1.0, 2.0], requires_grad=True, dtype=dtype)
    x.register_hook(lambda g: np.array([3, 4], dtype=returned))
    (x * x).sum().backward()
    assert x.grad.dtype == dtype and x.grad.tolist() == [3.0, 4.0]


@pytest.mark.parametrize("as_tensor", [False, True])
def test_under_create_graph_a_hook_sees_a_tensor_and_its_replacement_is_recorded(as_tensor):
    x = mg.tensor([1.0, -2.0], requires_grad=True)
    y = x * x                                       # dL/dy = 3 y² = 3 x⁴ for L = Σ y³
    seen = []

    def double(g):  # in the first pass only (the second one runs through y again)
        seen.append(g)
        if len(seen) == 1:
            return 2 * g if as_tensor else np.asarray(2 * g.data)
    y.register_hook(double)
    first = mg.grad((y * y * y).sum(), x, create_graph=True)   # 2 · 3x⁴ · 2x = 12 x⁵
    assert isinstance(seen[0], mg.Tensor) and seen[0].data.tolist() == [3.0, 48.0]
    np.testing.assert_allclose(first.data, 12 * x.data ** 5, rtol=1e-14)
    assert isinstance(first, mg.Tensor) and first.dtype == np.float64
    second = mg.grad(first.sum(), x)
    # a Tensor replacement keeps its dependence on x (60 x⁴); an array is a constant, so only
    # the path through y's VJP (2x · 2 g, g constant: 2 · 2 · 3x⁴ = 12 x⁴) is differentiated
    expected = 60 * x.data ** 4 if as_tensor else 12 * x.data ** 4
    np.testing.assert_allclose(second.data, expected, rtol=1e-14)


def test_a_hook_returning_the_wrong_shape_is_named_in_the_error():
    def widen(g):
        return np.ones(5)
    for hook, name in [(widen, "'widen'"), (functools.partial(widen), "functools.partial")]:
        x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True, name="x")
        x.register_hook(hook)
        with pytest.raises(mg.OpError, match=rf"^hook {name}.* on 'x' \(3,\) float64 returned"):
            (x * x).sum().backward()


def test_no_grad_in_another_thread_leaves_this_one_recording():
    entered, release = threading.Event(), threading.Event()

    def other():
        with mg.no_grad():
            entered.set()
            release.wait(10)
    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert entered.wait(10)
        assert mg.is_grad_enabled()
        x = mg.tensor(2.0, requires_grad=True)
        assert (x * x).requires_grad
    finally:
        release.set()
        thread.join()
    with mg.no_grad():
        assert not mg.is_grad_enabled()
