"""Every op of the table and every Tensor operator: the forward equals the numpy
expression, and the gradients equal central differences (minigrad.testing.gradcheck).

Each test declares the rules it covers with ``@covers``; the declaration is checked
(the op must appear in a graph the test built) and ``test_every_rule_is_covered``
fails when a rule is added to ``minigrad.RULES`` without a test here.
"""
import functools
import operator
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad.tensor import topological_order
from minigrad.testing import gradcheck
from minigrad.testing.strategies import (arrays, axes, broadcastable_shapes, distinct_arrays,
                                         keepdims, matmul_shapes, nonzero_arrays,
                                         positive_arrays, shapes)

# Central differences with step 1e-6 are off by ~1e-10·|f| (rounding) plus ~1e-13·|f'''|
# (truncation); elements here are bounded by 3 (700 in the stability tests, where the
# functions are flat), so 1e-6 absolute plus 1e-5 relative is two orders of magnitude above
# the noise, and still catches a rule that is wrong by 0.1 %.
TOL = dict(atol=1e-6, rtol=1e-5)
COVERED: set[str] = set()
_seen: set[str] = set()


def covers(*ops):
    """Declare the rules a test exercises; the test fails if one never shows up in its graphs
    (only the rule named by its ``op`` argument, for a test parametrized over rules)."""
    def decorate(test):
        COVERED.update(ops)

        @functools.wraps(test)
        def run(*args, **kwargs):
            _seen.clear()
            test(*args, **kwargs)
            missing = ({kwargs["op"]} if "op" in kwargs else set(ops)) - _seen
            assert not missing, f"declared but never recorded: {missing}"
        return run
    return decorate


def check(fn, reference, *arrays, **params):
    """fn on leaves made from arrays == reference on the arrays; gradcheck on every leaf."""
    xs = [mg.tensor(a, requires_grad=True, name=f"x{i}") for i, a in enumerate(arrays)]
    out = fn(*xs, **params)
    expected = np.asarray(reference(*arrays, **params))
    assert out.shape == expected.shape and out.dtype == np.float64
    np.testing.assert_allclose(seen(out).data, expected, rtol=1e-12, atol=1e-300)
    assert gradcheck(fn_with(params, fn), *xs, **TOL)


def seen(out):
    """Record the ops of out's graph for ``@covers``."""
    _seen.update(node.op for node in topological_order([out]))
    return out


def fn_with(params, fn):
    return lambda *xs: fn(*xs, **params)


def test_every_rule_is_covered():
    assert set(mg.RULES) - COVERED == set(), "a rule without a test in tests/test_ops.py"


# -- arithmetic ------------------------------------------------------------------
BINARY = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}


def binary_operands(op, shape_x, shape_y):
    """The second operand of a division stays away from 0."""
    return arrays(shape_x), (nonzero_arrays(shape_y) if op == "div" else arrays(shape_y))


def fixed(shape, k=0):
    """Deterministic test values in [-1, 1], different for each k."""
    return np.sin(np.arange(1.0, 1.0 + np.prod(shape, dtype=int)) + k).reshape(shape)


@covers(*BINARY)
@pytest.mark.parametrize("op", sorted(BINARY))
@given(pair=broadcastable_shapes(), data=st.data())
def test_binary_tensor_tensor(op, pair, data):
    xs, ys = binary_operands(op, *pair)
    check(BINARY[op], BINARY[op], data.draw(xs), data.draw(ys))


@covers(*BINARY)
@pytest.mark.parametrize("op", sorted(BINARY))
@given(kind=st.sampled_from(["number", "array"]),
       tensor_on_left=st.booleans(), pair=broadcastable_shapes(), data=st.data())
def test_binary_with_constant(op, kind, tensor_on_left, pair, data):
    """Python numbers and numpy arrays on either side of a Tensor."""
    xs, ys = binary_operands(op, *pair)
    if kind == "number":
        ys = ys.map(float) if not pair[1] else (nonzero_arrays(()) if op == "div"
                                                 else arrays(())).map(float)
    x, c = data.draw(xs if tensor_on_left else ys), data.draw(ys if tensor_on_left else xs)
    f = BINARY[op]
    g = (lambda x: f(x, c)) if tensor_on_left else (lambda x: f(c, x))
    check(g, g, x)
    assert isinstance(g(mg.tensor(x)), mg.Tensor)


@covers("neg")
@given(arrays())
def test_neg(a):
    check(operator.neg, operator.neg, a)


@covers("power")
@given(exponent=st.sampled_from([0, 1, 2, 3, -1, 0.5, 1.5, -2.5, np.float64(2.0)]),
       a=positive_arrays())
def test_power_by_number(exponent, a):
    check(lambda x: x ** exponent, lambda x: x ** exponent, a)


@covers("power")
@given(exponent=st.sampled_from([2, 3, -1]), a=nonzero_arrays())
def test_integer_power_of_negative_base(exponent, a):
    check(lambda x: x ** exponent, lambda x: x ** exponent, a)


@covers("pow")
@given(pair=broadcastable_shapes(), data=st.data())
def test_power_with_an_array_exponent(pair, data):
    """Tensor ** Tensor, and Tensor ** ndarray (a constant exponent that is not a number)."""
    base, exponent = data.draw(positive_arrays(pair[0])), data.draw(arrays(pair[1], -2, 2))
    check(operator.pow, operator.pow, base, exponent)
    check(lambda x: x ** exponent, lambda x: x ** exponent, base)


@covers("pow")
@given(base=st.sampled_from([2.0, 0.5, np.e, np.array([1.5, 3.0])]), a=arrays((2,), -2, 2))
def test_constant_to_tensor_power(base, a):
    """number ** Tensor and ndarray ** Tensor go through pow with a constant base."""
    check(lambda x: base ** x, lambda x: base ** x, a)


# -- elementwise functions ---------------------------------------------------------
def numpy_sigmoid(x):
    e = np.exp(-np.abs(x))  # 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below
    return np.where(x >= 0, 1, e) / (1 + e)


UNARY = {  # rule: (minigrad function, numpy reference, strategy of inputs)
    "exp": (mg.exp, np.exp, arrays()),
    "log": (mg.log, np.log, positive_arrays()),
    "tanh": (mg.tanh, np.tanh, arrays()),
    "sigmoid": (mg.sigmoid, numpy_sigmoid, arrays()),
    "relu": (mg.relu, lambda x: np.maximum(x, 0), nonzero_arrays()),
}


@covers(*UNARY)
@pytest.mark.parametrize("op", sorted(UNARY))
@given(data=st.data())
def test_unary(op, data):
    fn, reference, inputs = UNARY[op]
    check(fn, reference, data.draw(inputs))
    method = getattr(mg.tensor(0.5), op)()
    assert method.op == op and method.item() == pytest.approx(float(reference(np.array(0.5))))


@covers("sigmoid")
def test_sigmoid_saturates_without_overflow_warnings():
    x = np.array([-1000.0, -745.0, -50.0, 0.0, 50.0, 745.0, 1000.0])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        check(mg.sigmoid, numpy_sigmoid, x)
        t = mg.tensor(x, requires_grad=True)
        mg.sigmoid(t).sum().backward()
    assert np.all(np.isfinite(t.grad)) and t.grad[0] == t.grad[-1] == 0.0
    assert t.grad[3] == 0.25


# -- matrix product -------------------------------------------------------------------
@covers("matmul")
@pytest.mark.parametrize("pair", [
    ((3,), (3,)),                # vector · vector
    ((2, 3), (3,)),              # matrix · vector
    ((3,), (3, 2)),              # vector · matrix
    ((2, 3), (3, 4)),            # matrix · matrix
    ((2, 1, 2, 3), (5, 3, 4)),   # batch dimensions broadcast
    ((3,), (2, 3, 4)),           # vector · batch of matrices
    ((2, 2, 3), (3,)),           # batch of matrices · vector
])
def test_matmul_cases(pair):
    a, b = fixed(pair[0]), fixed(pair[1], 1)
    check(operator.matmul, operator.matmul, a, b)
    check(lambda x: a @ x, lambda x: a @ x, b)  # ndarray @ Tensor


@covers("matmul")
@given(pair=matmul_shapes(), data=st.data())
def test_matmul(pair, data):
    a, b = data.draw(arrays(pair[0])), data.draw(arrays(pair[1]))
    check(operator.matmul, operator.matmul, a, b)


# -- reductions -----------------------------------------------------------------------
REDUCTIONS = {"sum": (mg.sum, np.sum, arrays), "mean": (mg.mean, np.mean, arrays),
              "max": (mg.max, np.max, distinct_arrays)}


@covers(*REDUCTIONS)
@pytest.mark.parametrize("op", sorted(REDUCTIONS))
@given(shape=shapes(), keep=keepdims, data=st.data())
def test_reduction(op, shape, keep, data):
    fn, reference, inputs = REDUCTIONS[op]
    axis = data.draw(axes(len(shape)))
    check(fn, reference, data.draw(inputs(shape)), axis=axis, keepdims=keep)
    method = getattr(mg.tensor(np.ones(shape)), op)(axis=axis, keepdims=keep)
    assert method.op == op
    assert method.shape == reference(np.ones(shape), axis=axis, keepdims=keep).shape


@covers("max")
def test_max_ties_share_the_gradient_equally():
    x = mg.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    seen(mg.max(x, axis=1).sum()).backward()
    np.testing.assert_array_equal(x.grad, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


# -- shapes and indexing ------------------------------------------------------------------
@covers("reshape")
@given(shape=shapes(), data=st.data())
def test_reshape(shape, data):
    new = data.draw(st.permutations(list(shape) + [1]))
    if data.draw(st.booleans()):
        new[data.draw(st.integers(0, len(new) - 1))] = -1
    check(lambda x: x.reshape(new), lambda x: x.reshape(new), data.draw(arrays(shape)))
    if new:
        check(lambda x: x.reshape(*new), lambda x: x.reshape(*new), data.draw(arrays(shape)))


@covers("transpose")
@given(shape=shapes(), data=st.data())
def test_transpose(shape, data):
    a = data.draw(arrays(shape))
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    check(lambda x: x.T, lambda x: x.T, a)
    check(lambda x: x.transpose(), np.transpose, a)
    check(lambda x: mg.transpose(x, axes=perm), lambda x: np.transpose(x, perm), a)
    if perm:
        check(lambda x: x.transpose(*perm), lambda x: x.transpose(*perm), a)
        check(lambda x: x.transpose(perm), lambda x: x.transpose(perm), a)


@covers("getitem")
@given(shape=shapes(min_dims=1), data=st.data())
def test_basic_indexing(shape, data):
    """Integers, slices (negative steps too), Ellipsis and np.newaxis."""
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    check(lambda x: x[index], lambda x: x[index], data.draw(arrays(shape)))


@covers("getitem")
@given(shape=shapes(min_dims=1), data=st.data())
def test_integer_array_indexing(shape, data):
    """Integer arrays, repeats likely: gradients of repeated picks add up."""
    index = data.draw(hnp.integer_array_indices(shape, result_shape=shapes(1, 2)))
    check(lambda x: x[index], lambda x: x[index], data.draw(arrays(shape)))


@covers("getitem")
@pytest.mark.parametrize("shape, index", [
    ((1, 1), (np.array([0, 0]), np.array([0, 0]))),   # shrunk failures of the
    ((1, 1), (np.array([0, 0, 0]), slice(None))),      # Hypothesis tests above
    ((3, 4), (slice(None), np.array([1, 3, 1]))),     # gathered columns, repeated
    ((3, 4), (np.array([True, False, True]), slice(None, None, -1))),
    ((2, 3, 4), (Ellipsis, None, 1)),
    ((3, 4), (slice(None), [2, 2])),
])
def test_indexing_cases(shape, index):
    check(lambda x: x[index], lambda x: x[index], fixed(shape))


@covers("getitem")
def test_repeated_indices_add_up():
    x = mg.tensor([10.0, 20.0, 30.0], requires_grad=True)
    seen(x[[0, 2, 0, 0]].sum()).backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])
    x.grad = None
    x[mg.tensor([1, 1], dtype=np.int64)].sum().backward()  # an integer Tensor as the index
    np.testing.assert_array_equal(x.grad, [0.0, 2.0, 0.0])


@covers("getitem")
@given(shape=shapes(min_dims=1), data=st.data())
def test_boolean_mask_indexing(shape, data):
    mask = data.draw(hnp.arrays(bool, shape))
    check(lambda x: x[mask], lambda x: x[mask], data.draw(arrays(shape)))


@covers("getitem")
@given(shape=shapes(min_dims=2), data=st.data())
def test_mixed_indexing(shape, data):
    """An integer array (repeats likely) or a boolean mask on axis 0, a slice on axis 1."""
    ids = st.integers(-shape[0], shape[0] - 1)
    rows = data.draw(st.one_of(hnp.arrays(np.intp, 3, elements=ids), hnp.arrays(bool, shape[0])))
    index = (rows, slice(None, None, data.draw(st.sampled_from([1, -1, 2]))))
    check(lambda x: x[index], lambda x: x[index], data.draw(arrays(shape)))


@covers("concat", "stack")
@given(shape=shapes(min_dims=1), n=st.integers(1, 3), data=st.data())
def test_concat_and_stack(shape, n, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    parts = [data.draw(arrays(shape[:axis % len(shape)] + (data.draw(st.integers(1, 3)),)
                              + shape[axis % len(shape) + 1:])) for _ in range(n)]
    check(lambda *xs: mg.concat(xs, axis=axis), lambda *xs: np.concatenate(xs, axis=axis), *parts)
    same = [data.draw(arrays(shape)) for _ in range(n)]
    new_axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check(lambda *xs: mg.stack(xs, axis=new_axis), lambda *xs: np.stack(xs, axis=new_axis), *same)


@covers("where")
@given(triple=broadcastable_shapes(3), data=st.data())
def test_where_with_constant_mask(triple, data):
    mask = data.draw(hnp.arrays(bool, triple[0]))
    a, b = data.draw(arrays(triple[1])), data.draw(arrays(triple[2]))
    check(lambda x, y: mg.where(mask, x, y), lambda x, y: np.where(mask, x, y), a, b)
    check(lambda x: mg.where(mask, x, 0.5), lambda x: np.where(mask, x, 0.5), a)


# -- probabilities ---------------------------------------------------------------------
def naive_log_softmax(x, axis=-1):
    """The textbook formula (fine for |x| <= 3)."""
    return np.log(np.exp(x) / np.exp(x).sum(axis=axis, keepdims=True))


@covers("softmax", "log_softmax")
@given(shape=shapes(min_dims=1), data=st.data())
def test_softmax_and_log_softmax(shape, data):
    axis, a = data.draw(st.integers(-len(shape), len(shape) - 1)), data.draw(arrays(shape))
    check(mg.log_softmax, naive_log_softmax, a, axis=axis)
    check(mg.softmax, lambda x, axis: np.exp(naive_log_softmax(x, axis)), a, axis=axis)
    assert mg.tensor(a).softmax(axis=axis).op == "softmax"
    assert mg.tensor(a).log_softmax(axis=axis).op == "log_softmax"


@covers("softmax", "log_softmax")
def test_softmax_is_stable_at_700():
    """By hand: softmax([700, 699]) = [1, e⁻¹] / (1 + e⁻¹); log_softmax([700, -700]) = [0, -1400]
    (the largest element dominates: e^-1400 vanishes beside 1)."""
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        np.testing.assert_allclose(mg.softmax(mg.tensor([700.0, 699.0])).data,
                                   np.array([1.0, np.exp(-1.0)]) / (1 + np.exp(-1.0)), rtol=1e-14)
        np.testing.assert_allclose(mg.log_softmax(mg.tensor([700.0, -700.0])).data,
                                   [0.0, -1400.0], rtol=1e-14, atol=1e-300)
        big = np.array([[700.0, -700.0, 699.5], [-700.0, -699.0, -700.0]])
        z1, z2 = np.log1p(np.exp(-0.5)), np.log1p(2 * np.exp(-1.0))
        expected = np.array([[-z1, -1400 - z1, -0.5 - z1], [-1 - z2, -z2, -1 - z2]])
        check(mg.log_softmax, lambda x: expected, big)
        with np.errstate(under="ignore"):  # e^-1400 is 0 in float64
            check(mg.softmax, lambda x: np.exp(expected), big)


@covers("cross_entropy")
@given(shape=shapes(min_dims=1), reduction=st.sampled_from(["sum", "mean", "none"]),
       data=st.data())
def test_cross_entropy(shape, reduction, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    rest = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    targets = data.draw(hnp.arrays(np.intp, rest, elements=st.integers(0, shape[axis] - 1)))

    def reference(x):
        picked = np.take_along_axis(naive_log_softmax(x, axis), np.expand_dims(targets, axis), axis)
        losses = -picked.squeeze(axis)
        return {"sum": losses.sum(), "mean": losses.mean(), "none": losses}[reduction]

    check(lambda x: mg.cross_entropy(x, targets, reduction=reduction, axis=axis), reference,
          data.draw(arrays(shape)))


@pytest.mark.parametrize("bad, message", [
    (dict(targets=[0, 3]), r"class ids must lie in \[0, 3\)"),
    (dict(targets=[0]), r"targets must have shape \(2,\)"),
    (dict(targets=[0.0, 1.0]), "integer class ids"),
    (dict(targets=[0, 1], reduction="avg"), "reduction must be"),
])
def test_cross_entropy_rejects_bad_targets(bad, message):
    with pytest.raises((ValueError, TypeError), match=message):
        mg.cross_entropy(mg.tensor(np.zeros((2, 3))), **bad)



# -- the primitives the VJPs are written in ---------------------------------------------
@covers("broadcast_to")
@pytest.mark.parametrize("shape, target", [((3,), (2, 3)), ((2, 1), (2, 4)), ((), (3,)),
                                           ((1, 3), (2, 2, 3))])
def test_broadcast_to_copies_values_and_sums_gradients_back(shape, target):
    a = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)
    check(lambda x: mg.broadcast_to(x, shape=target),
          lambda x: np.broadcast_to(x, target).copy(), a)


@covers("scatter_add")
def test_scatter_add_adds_repeated_indices_and_its_vjp_gathers():
    ids = np.array([0, 2, 0, 0])
    g = mg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    out = seen(mg.scatter_add(g, shape=(3,), index=ids))
    np.testing.assert_array_equal(out.data, [1.0 + 3.0 + 4.0, 0.0, 2.0])  # by hand
    (out * mg.tensor([10.0, 20.0, 30.0])).sum().backward()
    np.testing.assert_array_equal(g.grad, [10.0, 30.0, 10.0, 10.0])      # w[ids]
    check(lambda g: mg.scatter_add(g, shape=(2, 3), index=(slice(None), np.array([2, 2]))),
          lambda g: np.stack([[0.0, 0.0, g[0, 0] + g[0, 1]], [0.0, 0.0, g[1, 0] + g[1, 1]]]),
          np.array([[1.0, 2.0], [3.0, 4.0]]))


# -- abs, sqrt, square, clip, min -------------------------------------------------------
@covers("abs")
@given(a=nonzero_arrays())
def test_abs_is_the_magnitude_with_the_sign_as_its_derivative(a):
    check(lambda x: abs(x), lambda x: np.where(x < 0, -x, x), a)


@covers("sqrt")
@given(a=positive_arrays())
def test_sqrt_squares_back_to_its_input(a):
    check(mg.sqrt, lambda x: np.exp(0.5 * np.log(x)), a)
    np.testing.assert_allclose(mg.sqrt(mg.tensor(a)).data ** 2, a, rtol=1e-14)


@covers("square")
@given(a=arrays())
def test_square_is_x_times_x(a):
    check(mg.square, lambda x: x * x, a)


@covers("clip")
@given(a=arrays(), bounds=st.sampled_from([(-0.5, 0.5), (None, 0.3), (-0.2, None), (0.1, 0.1)]))
def test_clip_limits_values_and_passes_the_gradient_only_inside(a, bounds):
    low, high = bounds
    expected = np.array([min(max(v, -np.inf if low is None else low), np.inf if high is None
                             else high) for v in a.ravel()]).reshape(a.shape)
    x = mg.tensor(a, requires_grad=True)
    y = seen(mg.clip(x, low, high))
    np.testing.assert_array_equal(y.data, expected)
    y.backward(np.ones(a.shape))
    inside = (a >= (-np.inf if low is None else low)) & (a <= (np.inf if high is None else high))
    np.testing.assert_array_equal(x.grad, inside.astype(float))


@covers("min")
@given(a=distinct_arrays(), data=st.data())
def test_min_is_minus_the_max_of_minus_x(a, data):
    axis = data.draw(axes(a.ndim))
    check(lambda x: mg.min(x, axis=axis), lambda x: -np.max(-x, axis=axis), a)


@covers("min")
def test_tied_minima_share_the_gradient_equally():
    x = mg.tensor([[1.0, 1.0, 2.0], [0.0, 3.0, 0.0]], requires_grad=True)
    seen(x.min(axis=1)).backward(np.array([1.0, 6.0]))
    np.testing.assert_array_equal(x.grad, [[0.5, 0.5, 0.0], [3.0, 0.0, 3.0]])


def test_static_parameters_may_be_given_positionally_as_in_numpy():
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(mg.sum(x, 0).data, [3.0, 5.0, 7.0])
    np.testing.assert_array_equal(mg.sum(x, 1, True).data, [[3.0], [12.0]])
    assert mg.reshape(x, (3, 2)).shape == (3, 2)
    np.testing.assert_allclose(mg.softmax(x, 0).data.sum(axis=0), 1.0, rtol=1e-15)
    assert mg.transpose(x, (1, 0)).shape == (3, 2)
    with pytest.raises(TypeError, match="two values for 'axis'"):
        mg.sum(x, 0, axis=1)
    with pytest.raises(TypeError, match="at most 2 parameters"):
        mg.sum(x, 0, True, 1)
