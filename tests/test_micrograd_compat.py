"""micrograd's two engine tests (a "sanity check" and "more ops": every Python operator
with numbers on either side, relu, ** with a number), on 0-d tensors.

Each expression is written once and evaluated three ways: on minigrad tensors
(autodiff), on Python floats (the value) and on Python complex numbers for the
complex-step derivative f'(x) = Im f(x + ih) / h, which has no subtraction and so
is exact to round-off even with h = 1e-30: an oracle independent of minigrad.
"""
import numpy as np
import pytest
from hypothesis import assume, example, given, strategies as st

import minigrad as mg

H = 1e-30


def relu(v):
    """relu for tensors, floats and complex numbers (complex step: the slope of the real part)."""
    if isinstance(v, mg.Tensor):
        return mg.relu(v)
    return v if v.real > 0 else 0 * v


def sanity_check(x):
    z = 2 * x + 2 + x
    q = relu(z) + z * x
    h = relu(z * z)
    return h + q + q * x


def more_ops(a, b):
    c = a + b
    d = a * b + b ** 3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + relu(b + a)
    d += 3 * d + relu(b - a)
    e = c - d
    f = e ** 2
    g = f / 2.0
    g += 10.0 / f
    return g


def reflected_ops(x, y):
    """The operators micrograd's tests leave out: number - x, number / x, x / number, x ** -k."""
    return (3 - x) * (x - 0.5) + 2 / y - y / 4 + x ** -2 + (1.5 * y) ** 2 / (x * x + 1)


def complex_step(fn, args, i):
    shifted = [complex(a, H) if k == i else complex(a) for k, a in enumerate(args)]
    return fn(*shifted).imag / H


def check_against_oracle(fn, *args, rel=1e-12):
    """``rel``: numpy's x ** 3 and Python's may differ in the last bit, and a difference
    like c − d in more_ops amplifies that by (|c| + |d|) / |c − d|."""
    leaves = [mg.tensor(a, requires_grad=True) for a in args]
    out = fn(*leaves)
    assert out.shape == () and out.requires_grad
    assert out.item() == pytest.approx(fn(*map(float, args)), rel=rel, abs=1e-14)
    out.backward()
    for i, x in enumerate(leaves):
        assert x.grad.shape == ()
        assert x.grad.item() == pytest.approx(complex_step(fn, args, i), rel=rel, abs=1e-12)


def test_sanity_check():
    check_against_oracle(sanity_check, -4.0)


def test_sanity_check_by_hand():
    """At x = −4, z = 3x + 2 = −10 < 0 and z² > 0, so y = z² + zx + zx² and
    dy/dx = 6z + (3x + z) + (3x² + 2zx) = −60 − 22 + 128 = 46."""
    x = mg.tensor(-4.0, requires_grad=True)
    y = sanity_check(x)
    y.backward()
    assert y.item() == 100 - 10 * -4 - 10 * 16 == -20
    assert x.grad.item() == 46.0


def test_more_ops():
    check_against_oracle(more_ops, -4.0, 2.0)


@given(x=st.floats(-5, 5), a=st.floats(-3, 3), b=st.floats(-3, 3))
@example(x=-2 / 3, a=0.0, b=0.0)  # relu exactly at its kink: both sides take slope 0
@example(x=0.0, a=3.0, b=0.0)      # c = d, f = 0: more_ops is undefined there
def test_micrograd_expressions_at_random_points(x, a, b):
    check_against_oracle(sanity_check, x)
    try:
        g = more_ops(a, b)
    except ZeroDivisionError:
        g = np.inf
    assume(abs(g) < 1e6)  # f = (c − d)² ≥ 1e-5: cancellation at most ~1e5
    check_against_oracle(more_ops, a, b, rel=1e-9)


@given(x=st.floats(0.2, 3), y=st.floats(0.2, 3))
def test_reflected_operators(x, y):
    check_against_oracle(reflected_ops, x, y)
    check_against_oracle(reflected_ops, -x, -y)


def test_operators_return_zero_dimensional_tensors():
    x = mg.tensor(2.0, requires_grad=True)
    for y in (x + 1, 1 + x, x - 1, 1 - x, x * 2, 2 * x, x / 2, 2 / x, x ** 2, 2 ** x, -x, relu(x)):
        assert isinstance(y, mg.Tensor) and y.shape == () and y.dtype == np.float64
