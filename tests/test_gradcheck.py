"""The checker is checked: deliberately wrong VJPs are caught, its failure message
locates the error, float32 is refused, both of its modes work, and the user's
tensors are left alone.

The wrong ops are recorded with ``minigrad.tensor.apply`` directly, so the real
rule table is never touched.
"""
import re
import runpy
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad.tensor import apply
from minigrad.testing import GradcheckError, gradcheck


def scaled_mul(scale):
    """x * y whose VJP is multiplied by ``scale`` (1 is the correct rule)."""
    def forward(x, y):
        return x * y, lambda g, out, x, y: (scale * g * y, scale * g * x)
    return lambda x, y: apply("scaled_mul", forward, (x, y), {})


def overwriting_getitem(x, index):
    """x[index] whose VJP assigns (``=``) where it must add (``+=``) for repeated indices."""
    def forward(x, *, index):
        def vjp(g, out, x):
            gx = np.zeros_like(x)
            gx[index] = g
            return gx,
        return x[index], vjp
    return apply("overwriting_getitem", forward, (x,), {"index": index})


def unreduced_sum(x, axis):
    """sum(x, axis, keepdims=True) whose VJP forgets to broadcast g back to x's shape."""
    def forward(x, *, axis):
        return x.sum(axis=axis, keepdims=True), lambda g, out, x: (g,)
    return apply("unreduced_sum", forward, (x,), {"axis": axis})


def leaf(shape, seed=0, name="x"):
    return mg.tensor(np.random.default_rng(seed).uniform(0.5, 2.0, shape), requires_grad=True,
                     name=name)


@pytest.mark.parametrize("max_full", [256, 0], ids=["full Jacobian", "projections"])
def test_a_vjp_off_by_a_tenth_of_a_percent_is_caught(max_full):
    x, y = leaf((2, 3)), leaf((3,), seed=1, name="y")
    assert gradcheck(scaled_mul(1.0), x, y, max_full=max_full)
    with pytest.raises(GradcheckError):
        gradcheck(scaled_mul(1.001), x, y, max_full=max_full)
    with pytest.raises(GradcheckError):
        gradcheck(scaled_mul(0.999), x, y, max_full=max_full)


@pytest.mark.parametrize("max_full", [256, 0], ids=["full Jacobian", "projections"])
def test_overwriting_instead_of_adding_repeated_indices_is_caught(max_full):
    x = leaf((4,))
    assert gradcheck(lambda x: overwriting_getitem(x, [2, 0, 3]), x, max_full=max_full)
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: overwriting_getitem(x, [2, 0, 2]), x, max_full=max_full)


def test_a_missing_broadcast_of_the_gradient_is_caught_with_op_and_shapes():
    x = leaf((3, 4))
    with pytest.raises(mg.OpError, match=r"unreduced_sum.*\(1, 4\).*'x' \(3, 4\)"):
        gradcheck(lambda x: unreduced_sum(x, 0), x)


def test_failure_message_names_input_element_and_both_values():
    x, y = leaf((2,), name="x"), mg.tensor([3.0, 5.0], requires_grad=True, name="y")
    with pytest.raises(GradcheckError) as caught:
        gradcheck(scaled_mul(1.001), x, y)
    message = str(caught.value)
    # the first input is wrong first: ∂(x*y)_0/∂x_0 = y_0 = 3, reported as 3.003
    assert "input 0 (x, shape (2,))" in message and "(0, 0)" in message
    numerical, analytical = (float(v) for v in re.findall(
        r"numerical (?:np\.float64\()?([-\d.e+]+)\)? vs analytical (?:np\.float64\()?([-\d.e+]+)",
        message)[0])
    assert numerical == pytest.approx(3.0, rel=1e-8)
    assert analytical == pytest.approx(3.003, rel=1e-12)


def test_failure_message_in_projection_mode():
    with pytest.raises(GradcheckError, match=r"input 0 \(x, shape \(20, 20\)\), projection"):
        gradcheck(scaled_mul(1.001), leaf((20, 20)), leaf((20,), seed=1, name="y"))


def test_full_jacobian_mode_is_used_for_small_inputs_and_projections_for_large():
    """A rule wrong in one Jacobian entry only: the full Jacobian pins the entry down."""
    def forward(x):
        def vjp(g, out, x):
            gx = 2 * g * x
            gx.flat[-1] *= 1.01
            return gx,
        return x * x, vjp
    square = lambda x: apply("one_wrong_entry", forward, (x,), {})  # noqa: E731
    with pytest.raises(GradcheckError, match=r"Jacobian element .*\(2, 2\): numerical"):
        gradcheck(square, leaf((3,)))
    with pytest.raises(GradcheckError, match="projection"):
        gradcheck(square, leaf((3,)), max_full=2)


def test_float32_is_refused():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="w", dtype=np.float32)
    with pytest.raises(TypeError, match=r"input 0 \('w'\) is float32"):
        gradcheck(lambda x: (x * x).sum(), x)


def test_inputs_that_need_no_grad_are_held_fixed_and_at_least_one_must_need_grad():
    x, c = leaf((2,)), mg.tensor([1.0, 2.0])
    assert gradcheck(lambda x, c, k: x * c * k, x, c, 3.0)
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda c: c * c, c)


@pytest.mark.parametrize("max_full", [256, 0], ids=["full Jacobian", "projections"])
def test_the_users_tensors_are_not_modified(max_full):
    x, y = leaf((2, 3)), leaf((3,), seed=1, name="y")
    sentinel = np.full((3,), 7.0)
    y.grad = sentinel
    before = x.data.copy(), y.data.copy()
    data_arrays = x.data, y.data
    gradcheck(lambda x, y: mg.tanh(x * y).sum(axis=0), x, y, max_full=max_full)
    np.testing.assert_array_equal(x.data, before[0])
    np.testing.assert_array_equal(y.data, before[1])
    assert x.data is data_arrays[0] and y.data is data_arrays[1]
    assert x.grad is None and y.grad is sentinel and np.all(sentinel == 7.0)
    assert x.requires_grad and y.requires_grad


def test_example_01_runs_and_agrees(capsys):
    runpy.run_path(str(Path(__file__).parent.parent / "examples" / "01_autodiff_basics.py"))
    printed = capsys.readouterr().out
    assert float(re.search(r"largest difference: (\S+)", printed)[1]) < 1e-8
    assert printed.rstrip().endswith("(the whole Jacobian): True")


# -- a check that cannot tell never passes (issue 11, bug 6) ------------------------------

@pytest.mark.filterwarnings("ignore:invalid value encountered in log")
def test_a_nan_central_difference_fails_instead_of_passing():
    """log at 1e-7 ± 1e-6 is NaN on one side: the checker cannot compare, so it must fail
    (before the fix, NaN compared as "not bad" and this wrong VJP passed)."""
    x = mg.tensor([1e-7], requires_grad=True, name="x")
    with pytest.raises(GradcheckError, match=r"input 0 \(x.*numerical nan.*not finite"):
        gradcheck(lambda x: (mg.log(x) * x.detach()).sum(), x)


@pytest.mark.parametrize("max_full", [256, 0], ids=["full Jacobian", "projections"])
def test_an_infinite_analytic_value_fails(max_full):
    def forward(x):
        return 2 * x, lambda g, out, x: (np.full_like(g, np.inf),)
    wrong = lambda x: apply("infinite_vjp", forward, (x,), {})  # noqa: E731
    with pytest.raises(GradcheckError, match="analytical inf"):
        gradcheck(wrong, leaf((2,)), max_full=max_full)


@pytest.mark.filterwarnings("ignore:invalid value encountered in log")
def test_a_function_that_is_not_finite_at_the_inputs_fails():
    x = mg.tensor([0.5, 2.0], requires_grad=True)
    with pytest.raises(GradcheckError, match="value is not finite"):
        gradcheck(lambda x: mg.log(x - 1.0).sum(), x)


@pytest.mark.parametrize("bad", [
    dict(eps=0), dict(eps=-1e-6), dict(eps=float("nan")), dict(eps=float("inf")), dict(eps=1.0),
    dict(eps=1e-300), dict(atol=float("nan")), dict(atol=-1e-6), dict(atol=float("inf")),
    dict(atol=5.0), dict(rtol=float("nan")), dict(rtol=-0.1), dict(rtol=1.0), dict(rtol=1e9),
    dict(eps="1e-6"),
])
def test_absurd_steps_and_tolerances_are_refused(bad):
    """eps = 0 made every difference 0/0 = NaN, which passed; rtol >= 1 accepts a zero
    gradient; a step too small to move the input in float64 measures nothing."""
    with pytest.raises(ValueError, match=f"gradcheck: {next(iter(bad))}"):
        gradcheck(scaled_mul(1.5), leaf((2,)), leaf((2,), seed=1, name="y"), **bad)


def test_assert_roundoff_equal_accepts_an_error_of_exactly_the_bound():
    """The documented bound is |actual − expected| ≤ tol·max(1, ‖expected‖∞), inclusive."""
    from minigrad.testing import assert_roundoff_equal
    assert_roundoff_equal(np.array([0.5]), np.array([0.0]), "at the bound", tol=0.5)
    with pytest.raises(AssertionError, match="past the bound: off by 0.5 at scale 1"):
        assert_roundoff_equal(np.array([0.5]), np.array([0.0]), "past the bound", tol=0.25)
