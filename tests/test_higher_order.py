"""Every rule of the table to second order, in forward and reverse mode.

``check2`` runs ``gradcheck(order=2, modes=("fwd", "rev"))``: the JVPs (mg.jvp, the
transpose trick) against central differences, then the autodiff first derivatives
(the create_graph gradient of ⟨u, f⟩ and the JVP along v, for fixed random u and v)
differentiated again by both modes and compared with central differences of those
first derivatives. Each test declares its rules with ``@covers`` and
``test_every_rule_has_a_second_order_test`` fails when a rule of ``minigrad.RULES`` has
none here. Inputs are small (at most 2 axes of at most 3): order 2 in both modes costs
about a hundred backward passes per input element.
"""
import operator
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad.tensor import apply
from minigrad.testing import GradcheckError, gradcheck
from minigrad.testing.strategies import (arrays, axes, broadcastable_shapes, distinct_arrays,
                                         keepdims, matmul_shapes, nonzero_arrays,
                                         positive_arrays, shapes)
from rule_coverage import Coverage

# The tolerances of tests/test_ops.py (two orders of magnitude above the central-difference
# error at ε = 1e-6; a rule 0.1 % off fails). At second order the function differenced is
# an autodiff first derivative, as smooth as the op; inputs are kept where its derivatives
# stay ≲ 1e3 (denominators and logs ≥ 0.5 in magnitude), so the same bound holds.
TOL = dict(atol=1e-6, rtol=1e-5)
SMALL = shapes(max_dims=2, max_side=3)
COVERAGE = Coverage()
covers = COVERAGE.covers


def check2(fn, *arrays, **params):
    """gradcheck at order 2, forward and reverse mode, on leaves made from the arrays."""
    xs = [mg.tensor(a, requires_grad=True, name=f"x{i}") for i, a in enumerate(arrays)]
    COVERAGE.seen(fn(*xs, **params))
    assert gradcheck(lambda *xs: fn(*xs, **params), *xs, order=2, modes=("fwd", "rev"), **TOL)


def test_every_rule_has_a_second_order_test():
    assert COVERAGE.missing() == set(), "a rule without a test in tests/test_higher_order.py"


# -- arithmetic ---------------------------------------------------------------------
BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}


@covers(*BINARY)
@pytest.mark.parametrize("op", sorted(BINARY))
@given(pair=broadcastable_shapes(max_dims=2, max_side=3), data=st.data())
def test_binary(op, pair, data):
    x = data.draw(arrays(pair[0]))
    y = data.draw(nonzero_arrays(pair[1], 0.5) if op == "div" else arrays(pair[1]))
    check2(BINARY[op], x, y)
    c = data.draw(nonzero_arrays((), 0.5)).item()  # a Python number on either side
    check2(lambda y: BINARY[op](c, y), y)
    check2(lambda x: BINARY[op](x, c), x)


@covers("neg")
@given(arrays(SMALL))
def test_neg(a):
    check2(operator.neg, a)


@covers("power")
@given(exponent=st.sampled_from([0, 1, 2, 3, -1, 0.5, 1.5, -2.5]), a=positive_arrays(SMALL, 0.5))
def test_power_by_number(exponent, a):
    check2(lambda x: x ** exponent, a)


@covers("pow")
@given(pair=broadcastable_shapes(max_dims=2, max_side=3), data=st.data())
def test_tensor_to_tensor_power(pair, data):
    base, exponent = data.draw(positive_arrays(pair[0], 0.5)), data.draw(arrays(pair[1], -2, 2))
    check2(operator.pow, base, exponent)
    check2(lambda y: 1.5 ** y, exponent)


# -- elementwise functions -------------------------------------------------------------
UNARY = {"exp": (mg.exp, arrays(SMALL)), "log": (mg.log, positive_arrays(SMALL, 0.5)),
         "tanh": (mg.tanh, arrays(SMALL)), "sigmoid": (mg.sigmoid, arrays(SMALL)),
         "relu": (mg.relu, nonzero_arrays(SMALL)),  # relu and abs off their kinks
         "abs": (mg.abs, nonzero_arrays(SMALL)), "sqrt": (mg.sqrt, positive_arrays(SMALL, 0.5)),
         "square": (mg.square, arrays(SMALL))}


@covers(*UNARY)
@pytest.mark.parametrize("op", sorted(UNARY))
@given(data=st.data())
def test_unary(op, data):
    fn, inputs = UNARY[op]
    a = data.draw(inputs)
    check2(lambda x: fn(x) * x, a)  # times x: relu'' = 0, but (x relu x)'' = 2 relu'
    check2(fn, a)


@covers("where")
@given(triple=broadcastable_shapes(3, max_dims=2, max_side=3), data=st.data())
def test_where(triple, data):
    mask = data.draw(hnp.arrays(bool, triple[0]))
    a, b = data.draw(arrays(triple[1])), data.draw(arrays(triple[2]))
    check2(lambda x, y: mg.where(mask, x * y, y * y), a, b)


@covers("clip")
@given(a=distinct_arrays(SMALL), low=st.sampled_from([None, -1.005]),
       high=st.sampled_from([None, 1.005]))
def test_clip(a, low, high):
    """Inputs on a grid of step 0.01, bounds half a step off it: no central difference
    straddles a bound."""
    check2(lambda x: mg.clip(x, low=low, high=high) * x, a)


# -- linear algebra ---------------------------------------------------------------------
@covers("matmul")
@given(pair=matmul_shapes(max_batch_dims=1, max_side=3), data=st.data())
def test_matmul(pair, data):
    a, b = data.draw(arrays(pair[0])), data.draw(arrays(pair[1]))
    check2(lambda x, y: mg.tanh(x @ y), a, b)


@covers("matmul")
@pytest.mark.parametrize("pair", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)),
                                  ((2, 2, 3), (3,)), ((3,), (2, 3, 2))])
def test_matmul_cases(pair):
    a, b = (np.sin(np.arange(1.0, 1 + np.prod(s)) + k).reshape(s) for k, s in enumerate(pair))
    check2(operator.matmul, a, b)
    check2(lambda x, y: (x @ y) * (x @ y), a, b)


# -- reductions and broadcasting ----------------------------------------------------------
REDUCTIONS = {"sum": (mg.sum, arrays), "mean": (mg.mean, arrays), "max": (mg.max, distinct_arrays),
              "min": (mg.min, distinct_arrays)}


@covers(*REDUCTIONS)
@pytest.mark.parametrize("op", sorted(REDUCTIONS))
@given(shape=SMALL, keep=keepdims, data=st.data())
def test_reduction(op, shape, keep, data):
    fn, inputs = REDUCTIONS[op]
    axis = data.draw(axes(len(shape)))
    check2(lambda x: fn(x * x, axis=axis, keepdims=keep), data.draw(inputs(shape, 0.1, 3.0)))


@covers("broadcast_to")
@given(shape=SMALL, lead=st.integers(0, 1), data=st.data())
def test_broadcast_to(shape, lead, data):
    target = (2,) * lead + tuple(data.draw(st.sampled_from([n, 2])) if n == 1 else n
                                 for n in shape)
    check2(lambda x: mg.broadcast_to(x * x, shape=target), data.draw(arrays(shape)))


# -- shapes and indexing --------------------------------------------------------------------
@covers("reshape", "transpose")
@given(shape=SMALL, data=st.data())
def test_reshape_and_transpose(shape, data):
    a = data.draw(arrays(shape))
    new = data.draw(st.permutations(list(shape) + [1]))
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    check2(lambda x: (x * x).reshape(new), a)
    check2(lambda x: mg.transpose(x * x, axes=perm), a)


@covers("getitem", "scatter_add")
@given(shape=shapes(min_dims=1, max_dims=2, max_side=3), data=st.data())
def test_indexing(shape, data):
    """Basic indices, integer arrays (repeats add up) and masks; getitem's VJP is a
    scatter_add, whose VJP is a gather, so both rules are differentiated here."""
    a = data.draw(arrays(shape))
    for index in (data.draw(hnp.basic_indices(shape, allow_newaxis=True)),
                  data.draw(hnp.integer_array_indices(shape, result_shape=shapes(1, 2, 1, 3))),
                  data.draw(hnp.arrays(bool, shape))):
        check2(lambda x: (x * x)[index], a)
    check2(lambda g: mg.scatter_add(g * g, shape=(2, 3), index=(slice(None), np.array([2, 0, 2]))),
           data.draw(arrays((2, 3))))


@covers("concat", "stack")
@given(shape=shapes(min_dims=1, max_dims=2, max_side=3), data=st.data())
def test_concat_and_stack(shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    a, b = data.draw(arrays(shape)), data.draw(arrays(shape))
    check2(lambda x, y: mg.concat([x * y, y], axis=axis), a, b)
    check2(lambda x, y: mg.stack([x * y, x], axis=axis), a, b)


# -- probabilities ---------------------------------------------------------------------------
@covers("softmax", "log_softmax")
@given(shape=shapes(min_dims=1, max_dims=2, max_side=3), data=st.data())
def test_softmax_and_log_softmax(shape, data):
    axis, a = data.draw(st.integers(-len(shape), len(shape) - 1)), data.draw(arrays(shape))
    check2(mg.softmax, a, axis=axis)
    check2(mg.log_softmax, a, axis=axis)


@covers("cross_entropy")
@given(shape=shapes(min_dims=1, max_dims=2, max_side=3),
       reduction=st.sampled_from(["sum", "mean", "none"]), data=st.data())
def test_cross_entropy(shape, reduction, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    rest = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    targets = data.draw(hnp.arrays(np.intp, rest, elements=st.integers(0, shape[axis] - 1)))
    check2(lambda x: mg.cross_entropy(x, targets, reduction=reduction, axis=axis),
           data.draw(arrays(shape)))


@covers("pow")
def test_the_mixed_derivative_of_pow_at_exponent_zero():
    """∂²(x^y)/∂y∂x = x^(y−1) (1 + y log x), which is 1/x at y = 0 (the rule used to
    replace x^(y−1) by x^1 wherever y = 0, right at first order, wrong here)."""
    x, y = mg.tensor([0.5, 2.0], requires_grad=True), mg.tensor([0.0, 0.0], requires_grad=True)
    dx = mg.grad(COVERAGE.seen((x ** y).sum()), x, create_graph=True)
    np.testing.assert_array_equal(dx.data, [0.0, 0.0])
    np.testing.assert_allclose(mg.grad(dx.sum(), y).data, [2.0, 0.5], rtol=1e-15)


# -- the checker is checked at second order ------------------------------------------------
def _data(t):
    return t.data if isinstance(t, mg.Tensor) else t


def constant_reading_tanh(x):
    """tanh whose VJP reads ``out.data``: g (1 − t²) with t a constant, right at first
    order, but under create_graph the (1 − t²) factor is not differentiated."""
    def forward(x):
        return np.tanh(x), lambda g, out, x: (g * (1.0 - _data(out) ** 2),)
    return apply("constant_reading_tanh", forward, (x,), {})


def constant_reading_mul(x, y):
    """x * y whose VJP for x uses y's array (a numpy constant) instead of the Tensor y."""
    def forward(x, y):
        return x * y, lambda g, out, x, y: (g * _data(y), g * x)
    return apply("constant_reading_mul", forward, (x, y), {})


def scaled_tanh(scale):
    def forward(x):
        return np.tanh(x), lambda g, out, x: (scale * g * (1.0 - out * out),)
    return lambda x: apply("scaled_tanh", forward, (x,), {})


@pytest.mark.parametrize("mode", ["fwd", "rev"])
@pytest.mark.parametrize("max_full", [256, 0], ids=["full Jacobian", "projections"])
def test_a_vjp_that_is_right_but_not_differentiable_fails_at_order_2_only(mode, max_full):
    x, y = (mg.tensor(a, requires_grad=True) for a in ([0.3, -1.1, 0.7], [1.5, -0.4, 2.0]))
    for fn, inputs in ((constant_reading_tanh, (x,)), (constant_reading_mul, (x, y))):
        assert gradcheck(fn, *inputs, modes=("fwd", "rev"), max_full=max_full)
        with pytest.raises(GradcheckError, match=re.escape(
                {"fwd": "∂(fn)·v (v fixed, random), in forward mode (mg.jvp)",
                 "rev": "∇⟨u, fn⟩ (u fixed, random), in reverse mode (backward)"}[mode])):
            gradcheck(fn, *inputs, order=2, modes=(mode,), max_full=max_full)
    assert gradcheck(mg.tanh, x, order=2, modes=(mode,), max_full=max_full)
    assert gradcheck(operator.mul, x, y, order=2, modes=(mode,), max_full=max_full)


def test_forward_mode_catches_a_vjp_a_tenth_of_a_percent_off():
    """mg.jvp transposes the VJP, so a wrong VJP is a wrong JVP."""
    x = mg.tensor([0.3, -1.1], requires_grad=True)
    assert gradcheck(scaled_tanh(1.0), x, order=3, modes=("fwd",))
    with pytest.raises(GradcheckError, match=r"forward mode \(mg.jvp\): input 0"):
        gradcheck(scaled_tanh(1.001), x, modes=("fwd",))


def test_a_wrong_third_derivative_is_caught_at_order_3_only():
    """x³ whose VJP is g·3·sq(x), sq an x² whose own VJP reads x's array: the first
    and second derivatives (3x², 6x) come out right, but the second is recorded as a
    function of g only, so the third (6) comes out 0. A correct x³ passes at order 3."""
    def forward(x):
        return x ** 3, lambda g, out, x: (g * 3.0 * x * x,)
    cube = lambda x: apply("cube", forward, (x,), {})  # noqa: E731
    x = mg.tensor([0.4, -1.3], requires_grad=True)
    assert gradcheck(cube, x, order=3, modes=("fwd", "rev"))

    def forward_bad(x):
        return x ** 3, lambda g, out, x: (g * 3.0 * (
            square_with_constant_vjp(x) if isinstance(x, mg.Tensor) else x * x),)
    bad = lambda x: apply("cube", forward_bad, (x,), {})  # noqa: E731
    assert gradcheck(bad, x, order=2, modes=("fwd", "rev"))
    with pytest.raises(GradcheckError):
        gradcheck(bad, x, order=3, modes=("rev",))


def square_with_constant_vjp(x):
    """x² whose VJP 2 g x reads x's array: right to first order, wrong beyond."""
    def forward(x):
        return x * x, lambda g, out, x: (2.0 * g * _data(x),)
    return apply("square", forward, (x,), {})


@pytest.mark.parametrize("bad, message", [(dict(order=0), "order must be an integer"),
                                          (dict(order=1.5), "order must be an integer"),
                                          (dict(modes=()), "modes must be"),
                                          (dict(modes=("fwd", "back")), "modes must be"),
                                          (dict(modes=("rev", "rev")), "modes must be")])
def test_order_and_modes_are_validated(bad, message):
    with pytest.raises(ValueError, match=message):
        gradcheck(mg.tanh, mg.tensor([0.5], requires_grad=True), **bad)


def test_higher_order_checks_leave_the_users_tensors_alone():
    x = mg.tensor([0.5, -0.2], requires_grad=True)
    before, array = x.data.copy(), x.data
    assert gradcheck(lambda x: mg.exp(x) * x, x, order=2, modes=("fwd", "rev"))
    assert x.data is array and np.array_equal(x.data, before) and x.grad is None


# -- each mode checks its own derivative ---------------------------------------------------
def offset_square(x):
    """x² whose VJP adds a constant, 2gx + 1: backward returns it; forward mode, the VJP's
    linear part in g (differentiated at g = 0), is right."""
    def forward(x):
        return x * x, lambda g, out, x: (2.0 * g * x + 1.0,)
    return apply("offset_square", forward, (x,), {})


def array_reading_square(x):
    """x² whose VJP reads g's array, 2·g.data·x: backward is right, but under create_graph
    the result is not a function of g, so the JVP transposed from it is 0."""
    def forward(x):
        return x * x, lambda g, out, x: (2.0 * _data(g) * x,)
    return apply("array_reading_square", forward, (x,), {})


@pytest.mark.parametrize("fn, wrong", [(offset_square, "rev"), (array_reading_square, "fwd")])
def test_reverse_mode_checks_backward_and_forward_mode_checks_jvp(fn, wrong):
    x = mg.tensor([0.3, -1.1], requires_grad=True)
    right = {"fwd": "rev", "rev": "fwd"}[wrong]
    assert gradcheck(fn, x, modes=(right,))
    with pytest.raises(GradcheckError, match=re.escape(
            {"fwd": "in forward mode (mg.jvp): input 0",
             "rev": "in reverse mode (backward): input 0"}[wrong])):
        gradcheck(fn, x, modes=("fwd", "rev"))


def test_one_mode_may_be_given_as_a_string():
    x = mg.tensor([0.3, -1.1], requires_grad=True)
    assert gradcheck(mg.tanh, x, modes="fwd") and gradcheck(mg.tanh, x, modes="rev")
    with pytest.raises(GradcheckError, match=re.escape("in forward mode (mg.jvp)")):
        gradcheck(array_reading_square, x, modes="fwd")


def test_inputs_that_need_no_grad_are_held_fixed_at_every_order_and_mode():
    x, c = mg.tensor([0.3, -1.1], requires_grad=True), mg.tensor([2.0, 0.5])
    assert gradcheck(lambda x, c, k: x * x * c * k, x, c, 3.0, order=2, modes=("fwd", "rev"))


def test_forward_mode_checks_a_function_with_an_empty_input():
    """An input with no elements has an empty Jacobian column block; the other input's
    forward-mode Jacobian is still checked."""
    e, y = mg.tensor(np.zeros(0), requires_grad=True), mg.tensor([0.3, -1.1], requires_grad=True)
    assert gradcheck(lambda e, y: e.sum() + y * y, e, y, modes=("fwd", "rev"))
    with pytest.raises(GradcheckError, match=re.escape("in forward mode (mg.jvp): input 1")):
        gradcheck(lambda e, y: e.sum() + array_reading_square(y), e, y, modes=("fwd",))


# -- the seed ---------------------------------------------------------------------------------
def failure(fn, x, **options) -> str:
    with pytest.raises(GradcheckError) as caught:
        gradcheck(fn, x, max_full=0, **options)
    return str(caught.value)


@pytest.mark.parametrize("modes", [("rev",), ("fwd",)])
def test_the_seed_picks_the_random_directions(modes):
    """The same seed checks the same directions (the same numbers in the message); another
    seed, others."""
    x = mg.tensor([0.3, -1.1, 0.7], requires_grad=True)
    wrong = scaled_tanh(1.001)
    assert failure(wrong, x, modes=modes, seed=3) == failure(wrong, x, modes=modes, seed=3)
    assert failure(wrong, x, modes=modes, seed=3) != failure(wrong, x, modes=modes, seed=4)


def test_check_orders_runs_what_gradcheck_runs():
    """gradcheck(..., modes=...) is check_orders(gradcheck, ...): by default, with the same seed."""
    from minigrad.testing.higher import check_orders
    x = mg.tensor([0.3, -1.1, 0.7], requires_grad=True)
    with pytest.raises(GradcheckError) as caught:
        check_orders(gradcheck, scaled_tanh(1.001), [x], order=1, modes=("fwd",), max_full=0)
    assert str(caught.value) == failure(scaled_tanh(1.001), x, modes=("fwd",))


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_a_failing_derivative_can_be_rerun_alone(mode):
    """As higher.py documents: the direction from default_rng(seed), the check with seed + 1."""
    from minigrad.testing.higher import forward_derivative, reverse_derivative
    x = mg.tensor([0.3, -1.1, 0.7], requires_grad=True)
    whole = failure(constant_reading_tanh, x, order=2, modes=(mode,), seed=7)
    direction = np.random.default_rng(7).standard_normal(3)
    derivative = (reverse_derivative(constant_reading_tanh, direction) if mode == "rev" else
                  forward_derivative(constant_reading_tanh, [direction]))
    alone = failure(derivative, x, modes=(mode,), seed=8)
    assert whole[whole.index("input 0"):] == alone[alone.index("input 0"):]


# -- the derivative functions, by their values --------------------------------------------------
def test_the_derivative_functions_give_known_values():
    """∇⟨u, x³⟩ = 3x²u and ∂(x³)·v = 3x²v keep x's shape; two inputs give their derivatives
    flattened and concatenated (∇⟨w, Σx·y⟩ = (⟨w, y⟩ 1, Σx w); an unused input zeros); a
    constant derivative is recorded, with derivative zero; a constant function has
    derivative zero."""
    from minigrad.testing.higher import forward_derivative, reverse_derivative
    a, b = np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([1.5, -0.5, 3.0])
    x, y = mg.tensor(a, requires_grad=True), mg.tensor(b, requires_grad=True)
    u, w = np.array([[1.0, 2.0], [-1.0, 0.5]]), np.array([0.5, 1.0, -2.0])
    np.testing.assert_allclose(reverse_derivative(lambda x: x ** 3, u)(x).data, 3 * a**2 * u)
    np.testing.assert_allclose(forward_derivative(lambda x: x ** 3, [u])(x).data, 3 * a**2 * u)
    np.testing.assert_allclose(reverse_derivative(lambda x, y: x.sum() * y, w)(x, y).data,
                               np.concatenate([np.full(4, w @ b), w * a.sum()]))
    np.testing.assert_allclose(reverse_derivative(lambda x, y: 2.0 * y, w)(x, y).data,
                               np.concatenate([np.zeros(4), 2.0 * w]))
    linear = reverse_derivative(lambda y: 3.0 * y, w)(y)
    np.testing.assert_array_equal(linear.data, 3.0 * w)
    np.testing.assert_array_equal(mg.grad(linear.sum(), y).data, np.zeros(3))
    constant = reverse_derivative(lambda y: mg.tensor([1.0, 2.0]), [1.0, 1.0])(y)
    np.testing.assert_array_equal(constant.data, np.zeros(3))
