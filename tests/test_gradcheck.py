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


# -- the comparison, exactly ---------------------------------------------------------------
# With eps = 2⁻²⁰ the central difference of 2x at x = 1 is exact, (2 + 2⁻¹⁹ − (2 − 2⁻¹⁹)) / 2⁻¹⁹
# = 2, so the analytical value a VJP returns sets |numerical − analytical| to the bit.
EXACT = dict(eps=2.0**-20)


def doubling(slope):
    """2x whose VJP multiplies g by ``slope`` (2.0 is the correct rule)."""
    def forward(x):
        return 2.0 * x, lambda g, out, x: (slope * g,)
    return lambda x: apply("doubling", forward, (x,), {})


def one():
    return mg.tensor([1.0], requires_grad=True, name="x")


@pytest.mark.parametrize("atol, rtol", [(2.0**-10, 0.0), (0.0, 2.0**-11)])
def test_a_difference_of_exactly_atol_plus_rtol_times_numerical_passes(atol, rtol):
    """The bound is inclusive: |2 − (2 + 2⁻¹⁰)| = 2⁻¹⁰ = atol + rtol·|2| passes, and the next
    float above, 2 + 2⁻¹⁰ + 2⁻⁵¹, fails."""
    assert gradcheck(doubling(2.0 + 2.0**-10), one(), atol=atol, rtol=rtol, **EXACT)
    with pytest.raises(GradcheckError):
        gradcheck(doubling(2.0 + 2.0**-10 + 2.0**-51), one(), atol=atol, rtol=rtol, **EXACT)


def test_zero_tolerances_are_allowed_and_demand_equality():
    """atol and rtol lie in [0, 1): 0 is allowed, and then only an exact match passes."""
    assert gradcheck(doubling(2.0), one(), atol=0.0, rtol=0.0, **EXACT)
    with pytest.raises(GradcheckError):
        gradcheck(doubling(2.0 + 2.0**-51), one(), atol=0.0, rtol=0.0, **EXACT)


def test_the_failure_message_in_full():
    with pytest.raises(GradcheckError) as caught:
        gradcheck(doubling(2.0 + 2.0**-9), one(), **EXACT)
    assert str(caught.value) == ("gradcheck: input 0 (x, shape (1,)), Jacobian element "
                                 "(output..., input flat index) (0, 0): numerical 2.0 vs "
                                 "analytical 2.001953125")


def test_a_value_that_is_not_finite_is_explained_in_the_message():
    with pytest.raises(GradcheckError) as caught:
        gradcheck(doubling(np.inf), one(), **EXACT)
    assert str(caught.value).endswith(
        ": numerical 2.0 vs analytical inf (not finite: the function is not differentiable "
        "there, or a step of eps leaves its domain)")


def test_the_projection_message_names_the_projection():
    with pytest.raises(GradcheckError, match=r"^gradcheck: input 0 \(x, shape \(2,\)\), "
                       r"projection <u, J v> \(0,\): numerical \S+ vs analytical \S+$"):
        gradcheck(doubling(2.001), mg.tensor([1.0, 2.0], requires_grad=True, name="x"),
                  max_full=0)


def test_projections_are_random_directions_not_only_the_ones_vector():
    """A VJP wrong by a zero-sum vector is right along (1, …, 1): only a random v sees it."""
    def forward(x):
        return 2.0 * x, lambda g, out, x: (2.0 * g + np.array([0.01, -0.01]) * g.sum(),)
    wrong = lambda x: apply("zero_sum_error", forward, (x,), {})  # noqa: E731
    with pytest.raises(GradcheckError, match="projection"):
        gradcheck(wrong, mg.tensor([1.0, 2.0], requires_grad=True), max_full=0)


# -- which check runs: the full Jacobian up to max_full elements, then projections ----------

def spread(n_out, slope):
    """x ↦ Σx repeated n_out times, whose VJP scales by ``slope`` (1 is right)."""
    def forward(x):
        return np.full(n_out, x.sum()), lambda g, out, x: (slope * g.sum() * np.ones_like(x),)
    return lambda x: apply("spread", forward, (x,), {})


@pytest.mark.parametrize("n_in, n_out, check", [
    (256, 1, "Jacobian element"), (257, 1, "projection"),
    (1, 256, "Jacobian element"), (1, 257, "projection"),
])
def test_the_default_max_full_256_switches_to_projections_at_257_elements(n_in, n_out, check):
    """Either side, input or output, past 256 elements makes the check projections."""
    x = mg.tensor(np.linspace(0.5, 1.0, n_in), requires_grad=True, name="x")
    with pytest.raises(GradcheckError, match=rf"input 0 \(x, shape \({n_in},\)\), {check}"):
        gradcheck(spread(n_out, 1.01), x)


@pytest.mark.parametrize("projections, modes", [(None, ("rev",)), (5, ("rev",)),
                                                (5, ("fwd",))])
def test_each_projection_is_one_central_difference(projections, modes):
    """``projections`` directions (3 by default), each two evaluations of fn (under no_grad,
    where gradcheck evaluates its differences), in either mode."""
    differences = []

    def fn(x):
        if not mg.is_grad_enabled():
            differences.append(1)
        return x * x
    options = {} if projections is None else dict(projections=projections)
    assert gradcheck(fn, leaf((3,)), max_full=0, modes=modes, **options)
    assert len(differences) == 2 * (projections or 3)


# -- an empty Jacobian ------------------------------------------------------------------------

@pytest.mark.parametrize("name, shown", [("x", "x"), (None, "#0")])
def test_a_nonzero_gradient_of_an_empty_output_fails(name, shown):
    """An output with no elements sends nothing back: every input's gradient must be zero."""
    def forward(x):
        return x[:0], lambda g, out, x: (np.ones_like(x),)
    leaky = lambda x: apply("leaky_empty", forward, (x,), {})  # noqa: E731
    x = mg.tensor([1.0, 2.0], requires_grad=True, name=name)
    assert gradcheck(lambda x: x[:0], x)
    with pytest.raises(GradcheckError) as caught:
        gradcheck(leaky, x)
    assert str(caught.value) == (f"gradcheck: input 0 ({shown}, shape (2,)): gradient "
                                 "array([1., 1.]) of an empty Jacobian")


# -- what is refused, with the message a user reads ---------------------------------------------

@pytest.mark.parametrize("order, modes", [(1, ("rev",)), (1, ("fwd",)), (2, ("rev",))])
@pytest.mark.parametrize("what, value, interval", [
    ("eps", 0, "(0, 1)"), ("eps", 1.0, "(0, 1)"), ("atol", -1e-06, "[0, 1)"),
    ("rtol", 1.0, "[0, 1)"),
])
def test_the_error_gives_the_documented_range_in_every_mode(what, value, interval, order,
                                                             modes):
    with pytest.raises(ValueError, match=re.escape(
            f"gradcheck: {what} must be a finite number in {interval}, got {value!r}")):
        gradcheck(mg.tanh, leaf((2,)), order=order, modes=modes, **{what: value})


@pytest.mark.parametrize("what, value, low", [
    ("projections", 0, 1), ("projections", -2, 1), ("projections", 1.5, 1),
    ("projections", True, 1), ("max_full", -1, 0), ("max_full", 2.0, 0)])
def test_a_count_that_would_check_nothing_is_refused(what, value, low):
    """With no projection a large input would be checked by nothing and pass: a wrong VJP
    (here tanh's rule doubled) must never get a True."""
    def forward(x):
        return np.tanh(x), lambda g, out, x: (2 * g * (1 - out ** 2),)
    wrong = lambda x: apply("wrong_tanh", forward, (x,), {})  # noqa: E731
    with pytest.raises(ValueError, match=re.escape(
            f"gradcheck: {what} must be an integer ≥ {low}, got {value!r}")):
        gradcheck(wrong, leaf((300,)), **{what: value})


def test_refusals_say_what_to_do():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="w", dtype=np.float32)
    with pytest.raises(TypeError, match=r"^gradcheck: input 0 \('w'\) is float32; central "
                                        r"differences need float64$"):
        gradcheck(lambda x: (x * x).sum(), x)
    with pytest.raises(ValueError, match="^gradcheck: no input requires grad$"):
        gradcheck(lambda c: c * c, mg.tensor([1.0]))


def test_a_value_that_is_not_float64_is_refused():
    """A function computing in float32 (here a user op) would difference its round-off."""
    def forward(x):
        return np.tanh(x).astype(np.float32), lambda g, out, x: (g * (1 - np.tanh(x) ** 2),)
    single = lambda x: apply("float32_tanh", forward, (x,), {})  # noqa: E731
    with pytest.raises(TypeError, match="^gradcheck: the function's value is float32; "
                                        "central differences need float64$"):
        gradcheck(single, leaf((2,)))


@pytest.mark.parametrize("x0", [2.0**33, -(2.0**33)])
def test_a_step_that_moves_an_input_one_way_only_is_refused(x0):
    """float64's spacing is 2⁻¹⁹ above 2³³ and 2⁻²⁰ below it, so 2³³ + 6e-7 rounds back to
    2³³ while 2³³ − 6e-7 does not (and the other way round at −2³³): a one-sided step is not
    a central difference."""
    moved = (x0 + 6e-7 != x0, x0 - 6e-7 != x0)
    assert moved == ((False, True) if x0 > 0 else (True, False))
    x = mg.tensor([1.0, x0], requires_grad=True, name="x")
    with pytest.raises(ValueError, match=r"^gradcheck: eps=6e-07 does not move input 0 \('x', "
                       r"largest magnitude 8\.59e\+09\) in float64; use a larger eps$"):
        gradcheck(lambda x: 2.0 * x, x, eps=6e-7)
