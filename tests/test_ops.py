"""Every op of the table and every Tensor operator: the forward equals an independent
reference (an element-by-element formula in Python's math, explicit loops, a value
worked out by hand, or a property such as "the transpose moves each element to its
permuted place"), and the gradients equal central differences (minigrad.testing.gradcheck).

The inputs are what users pass: negative axes wherever axes are accepted, index arrays
of every integer dtype, boolean masks, Tensors as indices and as gradients, exponents
0 and 1 (at x = 0 too) and size-0 arrays. Indexing has no formula but numpy's own
rules, which minigrad promises to follow: there the reference is numpy's indexing of
the positions, and hand-worked cases pin it down.

Each test declares the rules it covers with ``@covers``; the declaration is checked
(the op must appear in a graph the test built) and ``test_every_rule_is_covered``
fails when a rule is added to ``minigrad.RULES`` without a test here.
"""
import math
import operator
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad.testing import gradcheck
from minigrad.testing.graphs import tensor_index
from minigrad.testing.strategies import (INDEX_DTYPES, arrays, axes, broadcastable_shapes,
                                         distinct_arrays, exponents, index_arrays, indices,
                                         keepdims, matmul_shapes, nonzero_arrays,
                                         positive_arrays, shapes, tensors, transpose_axes)
from rule_coverage import Coverage

# Central differences with step 1e-6 are off by ~1e-10·|f| (rounding) plus ~1e-13·|f'''|
# (truncation); elements here are bounded by 3 (700 in the stability tests, where the
# functions are flat), so 1e-6 absolute plus 1e-5 relative is two orders of magnitude above
# the noise, and still catches a rule that is wrong by 0.1 %.
TOL = dict(atol=1e-6, rtol=1e-5)
# Python's math and numpy's vectorised functions may differ by an ulp or two; sums in
# another order by a few ulps of the largest term.
ULPS = dict(rtol=1e-13, atol=1e-14)
COVERAGE = Coverage()
covers, seen = COVERAGE.covers, COVERAGE.seen


def check(fn, reference, *arrays, **params):
    """fn on leaves made from arrays == the independent reference on the arrays;
    gradcheck on every leaf."""
    xs = [mg.tensor(a, requires_grad=True, name=f"x{i}") for i, a in enumerate(arrays)]
    out = fn(*xs, **params)
    expected = np.asarray(reference(*arrays, **params), dtype=np.float64)
    assert out.shape == expected.shape and out.dtype == np.float64
    np.testing.assert_allclose(seen(out).data, expected, **ULPS)
    assert gradcheck(fn_with(params, fn), *xs, **TOL)


def fn_with(params, fn):
    return lambda *xs: fn(*xs, **params)


def test_every_rule_is_covered():
    assert COVERAGE.missing() == set(), "a rule without a test in tests/test_ops.py"


# -- independent references: one element at a time, broadcasting written out -------------
def broadcast_source(i, shape):
    """The element of an operand of ``shape`` that output element ``i`` reads: leading
    axes the operand lacks are dropped, a side of length 1 repeats."""
    i = i[len(i) - len(shape):] if shape else ()
    return tuple(k if n > 1 else 0 for k, n in zip(i, shape))


def broadcast_shape(*shapes):
    ndim = max((len(s) for s in shapes), default=0)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    return tuple(0 if 0 in sides else max(sides) for sides in zip(*padded))


def elementwise(f):
    """The reference of an elementwise op: ``f`` on Python floats, element by element."""
    def reference(*operands):
        operands = [np.asarray(a, dtype=np.float64) for a in operands]
        shape = broadcast_shape(*(a.shape for a in operands))
        out = np.empty(shape)
        for i in np.ndindex(*shape):
            out[i] = f(*(float(a[broadcast_source(i, a.shape)]) for a in operands))
        return out
    return reference


def naive_matmul(a, b):
    """a @ b by its definition: a vector is a row on the left and a column on the right,
    batch sides broadcast, each entry is math.fsum over the shared side."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    batch = broadcast_shape(a2.shape[:-2], b2.shape[:-2])
    out = np.empty(batch + (a2.shape[-2], b2.shape[-1]))
    for i in np.ndindex(*out.shape):
        ia, ib = broadcast_source(i[:-2], a2.shape[:-2]), broadcast_source(i[:-2], b2.shape[:-2])
        out[i] = math.fsum(a2[ia + (i[-2], k)] * b2[ib + (k, i[-1])] for k in range(a2.shape[-1]))
    out = out[..., 0, :] if a.ndim == 1 else out
    return out[..., 0] if b.ndim == 1 else out


def naive_reduce(f, x, axis=None, keepdims=False):
    """A reduction by its definition: ``f`` of the list of elements that share every index
    outside the reduced axes."""
    x = np.asarray(x, dtype=np.float64)
    reduced = set(range(x.ndim)) if axis is None else {
        a % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,))}
    kept = [k for k in range(x.ndim) if k not in reduced]
    groups = {}
    for i in np.ndindex(*x.shape):
        groups.setdefault(tuple(i[k] for k in kept), []).append(float(x[i]))
    shape = tuple(x.shape[k] for k in kept)
    out = np.array([f(groups.get(i, [])) for i in np.ndindex(*shape)]).reshape(shape)
    kept_shape = [1 if k in reduced else n for k, n in enumerate(x.shape)]
    return out.reshape(kept_shape) if keepdims else out


def python_sigmoid(v):
    return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))


def test_the_references_agree_with_values_worked_out_by_hand():
    """The references themselves, on small cases computed on paper."""
    np.testing.assert_array_equal(elementwise(operator.sub)(np.array([[1.0], [2.0]]),
                                                            np.array([10.0, 20.0])),
                                  [[-9.0, -19.0], [-8.0, -18.0]])
    np.testing.assert_array_equal(naive_matmul(np.array([[1.0, 2.0], [3.0, 4.0]]),
                                               np.array([5.0, 6.0])), [17.0, 39.0])
    np.testing.assert_array_equal(naive_reduce(max, np.array([[1.0, 5.0], [7.0, 2.0]]), axis=-1,
                                               keepdims=True), [[5.0], [7.0]])
    assert python_sigmoid(0.0) == 0.5 and elementwise(math.exp)(np.zeros((2, 0))).shape == (2, 0)


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
@given(pair=hnp.mutually_broadcastable_shapes(num_shapes=2, min_side=0, max_side=4).map(
    lambda b: b.input_shapes), data=st.data())
def test_binary_tensor_tensor(op, pair, data):
    """Broadcasting both ways, sides of length 0 included."""
    xs, ys = binary_operands(op, *pair)
    check(BINARY[op], elementwise(BINARY[op]), data.draw(xs), data.draw(ys))


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
    f, ref = BINARY[op], elementwise(BINARY[op])
    g = (lambda x: f(x, c)) if tensor_on_left else (lambda x: f(c, x))
    check(g, (lambda x: ref(x, c)) if tensor_on_left else (lambda x: ref(c, x)), x)
    assert isinstance(g(mg.tensor(x)), mg.Tensor)


@covers("neg")
@given(a=arrays(shapes(min_side=0)))
def test_neg(a):
    check(operator.neg, elementwise(lambda v: -v), a)


def bases(exponent):
    """Inputs of x ** c: any sign (exact zeros likely) for an integer c >= 0, nonzero
    for a negative integer, positive for a fraction."""
    if float(exponent) != int(exponent):
        return positive_arrays()
    if exponent < 0:
        return nonzero_arrays()
    return hnp.arrays(np.float64, shapes(), elements=st.sampled_from([0.0, -1.5])
                      | st.floats(-3.0, 3.0))


@covers("power")
@given(exponent=exponents, data=st.data())
def test_power_by_number(exponent, data):
    """x ** c for every kind of c; x ** 0 is the constant 1 and x ** 1 is x, at 0 too."""
    a = data.draw(bases(exponent))
    check(lambda x: x ** exponent, elementwise(lambda v: math.pow(v, float(exponent))), a)


@covers("power")
def test_power_0_and_1_at_zero_by_hand():
    x = mg.tensor([0.0, 0.0, 2.0], requires_grad=True)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])  # d/dx 1 = 0
    x.grad = None
    seen(x ** 1).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 1.0])


@covers("pow")
@given(pair=broadcastable_shapes(), data=st.data())
def test_power_with_an_array_exponent(pair, data):
    """Tensor ** Tensor, and Tensor ** ndarray (a constant exponent that is not a number)."""
    base, exponent = data.draw(positive_arrays(pair[0])), data.draw(arrays(pair[1], -2, 2))
    check(operator.pow, elementwise(math.pow), base, exponent)
    check(lambda x: x ** exponent, lambda x: elementwise(math.pow)(x, exponent), base)


@covers("pow")
@given(base=st.sampled_from([2.0, 0.5, np.e, np.array([1.5, 3.0])]), a=arrays((2,), -2, 2))
def test_constant_to_tensor_power(base, a):
    """number ** Tensor and ndarray ** Tensor go through pow with a constant base."""
    check(lambda x: base ** x, lambda x: elementwise(math.pow)(base, x), a)


@covers("pow")
def test_pow_takes_the_exponent_derivative_as_0_where_the_base_is_not_positive():
    """d/dy x^y = x^y log x has no real value at x <= 0; minigrad's convention is 0 there
    (autograd and torch give NaN: see minigrad.testing.differential)."""
    x, y = mg.tensor([-2.0, 0.0, 4.0], requires_grad=True), mg.tensor(2.0, requires_grad=True)
    seen(x ** y).sum().backward()
    assert y.grad == pytest.approx(16 * math.log(4.0), rel=1e-15)
    np.testing.assert_array_equal(x.grad, [-4.0, 0.0, 8.0])  # y x^(y-1)


# -- elementwise functions ---------------------------------------------------------
UNARY = {  # rule: (minigrad function, reference on a Python float, strategy of inputs)
    "exp": (mg.exp, math.exp, arrays(shapes(min_side=0))),
    "log": (mg.log, math.log, positive_arrays()),
    "tanh": (mg.tanh, math.tanh, arrays()),
    "sigmoid": (mg.sigmoid, python_sigmoid, arrays()),
    "relu": (mg.relu, lambda v: v if v > 0 else 0.0, nonzero_arrays()),
}


@covers(*UNARY)
@pytest.mark.parametrize("op", sorted(UNARY))
@given(data=st.data())
def test_unary(op, data):
    fn, reference, inputs = UNARY[op]
    check(fn, elementwise(reference), data.draw(inputs))
    method = getattr(mg.tensor(0.5), op)()
    assert method.op == op and method.item() == pytest.approx(reference(0.5), rel=1e-15)


@covers("sigmoid")
def test_sigmoid_saturates_without_overflow_warnings():
    x = np.array([-1000.0, -745.0, -50.0, 0.0, 50.0, 745.0, 1000.0])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        check(mg.sigmoid, elementwise(python_sigmoid), x)
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
    ((2, 0), (0, 3)),            # an empty shared side: zeros
    ((0, 3), (3, 2)),            # an empty result
])
def test_matmul_cases(pair):
    a, b = fixed(pair[0]), fixed(pair[1], 1)
    check(operator.matmul, naive_matmul, a, b)
    check(lambda x: a @ x, lambda x: naive_matmul(a, x), b)  # ndarray @ Tensor


@covers("matmul")
@given(pair=matmul_shapes(), data=st.data())
def test_matmul(pair, data):
    a, b = data.draw(arrays(pair[0])), data.draw(arrays(pair[1]))
    check(operator.matmul, naive_matmul, a, b)
    check(mg.matmul, naive_matmul, a, b)


# -- reductions -----------------------------------------------------------------------
REDUCTIONS = {"sum": (mg.sum, math.fsum, arrays),
              "mean": (mg.mean, lambda xs: math.fsum(xs) / len(xs), arrays),
              "max": (mg.max, max, distinct_arrays)}


@covers(*REDUCTIONS)
@pytest.mark.parametrize("op", sorted(REDUCTIONS))
@given(shape=shapes(), keep=keepdims, data=st.data())
def test_reduction(op, shape, keep, data):
    """Every axis form (None, an int, a negative int, a tuple), keepdims both ways."""
    fn, reference, inputs = REDUCTIONS[op]
    axis = data.draw(axes(len(shape)))
    check(fn, lambda x, axis, keepdims: naive_reduce(reference, x, axis, keepdims),
          data.draw(inputs(shape)), axis=axis, keepdims=keep)
    method = getattr(mg.tensor(np.ones(shape)), op)(axis=axis, keepdims=keep)
    assert method.op == op
    assert method.shape == naive_reduce(reference, np.ones(shape), axis, keep).shape


@covers("sum")
@given(shape=shapes(min_dims=1, min_side=0), keep=keepdims, data=st.data())
def test_sum_of_empty_arrays_is_zero(shape, keep, data):
    axis = data.draw(axes(len(shape)))
    check(mg.sum, lambda x, axis, keepdims: naive_reduce(math.fsum, x, axis, keepdims),
          np.zeros(shape), axis=axis, keepdims=keep)


@covers("max")
def test_max_ties_share_the_gradient_equally():
    x = mg.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    seen(mg.max(x, axis=1).sum()).backward()
    np.testing.assert_array_equal(x.grad, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


# -- shapes and indexing ------------------------------------------------------------------
@covers("reshape")
@given(shape=shapes(min_side=0), data=st.data())
def test_reshape(shape, data):
    """Row-major order is kept and the new shape is the one asked for (-1 resolved)."""
    a = data.draw(arrays(shape))
    new = data.draw(st.permutations(list(shape) + [1]))
    if a.size and data.draw(st.booleans()):
        new[data.draw(st.integers(0, len(new) - 1))] = -1
    resolved = tuple(a.size // -math.prod(new) if n == -1 else n for n in new)

    def reference(x):
        out, sources = np.empty(resolved), list(np.ndindex(*shape))  # both in row-major order
        for k, i in enumerate(np.ndindex(*resolved)):
            out[i] = x[sources[k]]
        return out
    check(lambda x: x.reshape(new), reference, a)
    check(lambda x: mg.reshape(x, shape=tuple(new)), reference, a)
    if new:
        check(lambda x: x.reshape(*new), reference, a)


def transposed(x, axes):
    """out[i] = x[j] with j[axes[k]] = i[k]: each element moved to its permuted place."""
    perm = tuple(range(x.ndim))[::-1] if axes is None else tuple(a % x.ndim for a in axes)
    out = np.empty(tuple(x.shape[a] for a in perm))
    for i in np.ndindex(*out.shape):
        j = [0] * x.ndim
        for k, a in enumerate(perm):
            j[a] = i[k]
        out[i] = x[tuple(j)]
    return out


@covers("transpose")
@given(shape=shapes(min_side=0), data=st.data())
def test_transpose(shape, data):
    """Every form, with axes given as k or as k - ndim."""
    a = data.draw(arrays(shape))
    perm = data.draw(transpose_axes(len(shape)))
    check(lambda x: x.T, lambda x: transposed(x, None), a)
    check(lambda x: x.transpose(), lambda x: transposed(x, None), a)
    check(lambda x: mg.transpose(x, axes=perm), lambda x: transposed(x, perm), a)
    if perm:
        check(lambda x: x.transpose(perm), lambda x: transposed(x, perm), a)
    if len(perm) >= 2:
        check(lambda x: x.transpose(*perm), lambda x: transposed(x, perm), a)


def positions(shape, index):
    """numpy's indexing applied to the flat positions: which element each output reads."""
    return np.arange(math.prod(shape)).reshape(shape)[index]


def gather(x, index):
    picked = positions(x.shape, index)
    return np.array([x.flat[k] for k in picked.ravel()]).reshape(picked.shape)


@covers("getitem")
@given(shape=shapes(min_dims=0, min_side=0), as_tensors=st.booleans(), data=st.data())
def test_indexing(shape, as_tensors, data):
    """Every kind of index (minigrad.testing.strategies.indices: basic, integer arrays of
    every dtype on one or every axis, masks, empty ids), arrays given as numpy arrays or
    as Tensors of the same dtype."""
    index = data.draw(indices(shape))
    given_index = tensor_index(index) if as_tensors else index
    check(lambda x: x[given_index], lambda x: gather(x, index), data.draw(arrays(shape)))


@covers("getitem")
@pytest.mark.parametrize("dtype", INDEX_DTYPES, ids=str)
@pytest.mark.parametrize("as_tensor", [False, True], ids=["array", "Tensor"])
def test_gathered_columns_take_every_integer_dtype(dtype, as_tensor):
    """U[:, ids], the RNN's embedding lookup, with repeated ids: column k of the result is
    column ids[k], and the gradient of a column adds over its repeats."""
    ids = np.array([2, 0, 2], dtype=dtype)
    x = mg.tensor(fixed((2, 3)), requires_grad=True)
    out = seen(x[:, mg.tensor(ids, dtype=dtype) if as_tensor else ids])
    np.testing.assert_array_equal(out.data, fixed((2, 3))[:, [2, 0, 2]])
    out.backward(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    np.testing.assert_array_equal(x.grad, [[2.0, 0.0, 4.0], [5.0, 0.0, 10.0]])


@covers("getitem")
@pytest.mark.parametrize("shape, index, expected", [
    ((2, 3), (slice(None), np.array([True, False, True])), [[0, 2], [3, 5]]),
    ((2, 3), (np.array([1, -2], dtype=np.int8), slice(None, None, -1)), [[5, 4, 3], [2, 1, 0]]),
    ((2, 3), (np.array([1, 1]), np.array([0, 2], dtype=np.uint64)), [3, 5]),
    ((2, 3), (Ellipsis, None, -1), [[2], [5]]),
    ((2, 3), np.array([[True, False, False], [False, False, True]]), [0, 5]),
    ((2, 0), (slice(None), np.array([], dtype=np.uint8)), np.zeros((2, 0))),
    ((3,), np.array([], dtype=np.int64), []),
])
def test_indexing_by_hand(shape, index, expected):
    """Indices worked out on paper against x = arange: the value is the position read."""
    a = np.arange(float(math.prod(shape))).reshape(shape)
    for given_index in (index, tensor_index(index)):
        check(lambda x: x[given_index], lambda x: np.asarray(expected, dtype=float), a)


@covers("getitem")
def test_repeated_indices_add_up():
    x = mg.tensor([10.0, 20.0, 30.0], requires_grad=True)
    seen(x[[0, 2, 0, 0]].sum()).backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])
    x.grad = None
    x[mg.tensor([1, 1], dtype=int)].sum().backward()  # an integer Tensor as the index
    np.testing.assert_array_equal(x.grad, [0.0, 2.0, 0.0])


@covers("getitem")
@given(t=tensors(shapes(min_dims=1)))
def test_a_tensor_iterates_and_unpacks_along_its_first_axis(t):
    """list(t)[k] is t[k] (values and gradients), and iteration stops after len(t)."""
    rows = list(t)
    assert len(rows) == len(t) == t.shape[0]
    for k, row in enumerate(rows):
        np.testing.assert_array_equal(seen(row).data, t.data[k])
    mg.stack(rows).sum().backward()
    np.testing.assert_array_equal(t.grad, np.ones(t.shape))
    first, *rest = t
    assert first.shape == t.shape[1:] and len(rest) == len(t) - 1


@given(t=tensors(shapes(min_side=0)), data=st.data())
def test_a_tensor_gradient_is_the_same_as_its_array(t, data):
    """backward(g) with g a Tensor or a numpy array: the same gradients."""
    g = data.draw(arrays(t.shape))
    (t * t).backward(mg.tensor(g))
    by_tensor, t.grad = t.grad, None
    (t * t).backward(g)
    np.testing.assert_array_equal(by_tensor, t.grad)
    np.testing.assert_allclose(t.grad, 2 * t.data * g, rtol=1e-15, atol=1e-300)


@covers("concat", "stack")
@given(shape=shapes(min_dims=1), n=st.integers(1, 3), data=st.data())
def test_concat_and_stack(shape, n, data):
    """The parts come back as consecutive slices (concat) or as the entries of the new
    axis (stack); axes negative or not, sides of length 0 among the parts."""
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    k = axis % len(shape)
    parts = [data.draw(arrays(shape[:k] + (data.draw(st.integers(0, 3)),) + shape[k + 1:]))
             for _ in range(n)]

    def joined(*xs, axis):
        out, start = np.empty(shape[:k] + (sum(x.shape[k] for x in xs),) + shape[k + 1:]), 0
        for x in xs:
            for i in np.ndindex(*x.shape):
                out[i[:k] + (start + i[k],) + i[k + 1:]] = x[i]
            start += x.shape[k]
        return out
    check(lambda *xs: mg.concat(xs, axis=axis), lambda *xs: joined(*xs, axis=axis), *parts)
    same = [data.draw(arrays(shape)) for _ in range(n)]
    new_axis = data.draw(st.integers(-len(shape) - 1, len(shape)))

    def stacked(*xs):
        m = new_axis % (len(shape) + 1)
        out = np.empty(shape[:m] + (len(xs),) + shape[m:])
        for j, x in enumerate(xs):
            for i in np.ndindex(*shape):
                out[i[:m] + (j,) + i[m:]] = x[i]
        return out
    check(lambda *xs: mg.stack(xs, axis=new_axis), stacked, *same)


@covers("where")
@given(triple=broadcastable_shapes(3), as_tensor=st.booleans(), data=st.data())
def test_where_with_constant_mask(triple, as_tensor, data):
    mask = data.draw(hnp.arrays(bool, triple[0]))
    condition = mg.tensor(mask, dtype=bool) if as_tensor else mask
    a, b = data.draw(arrays(triple[1])), data.draw(arrays(triple[2]))
    select = elementwise(lambda m, x, y: x if m else y)
    check(lambda x, y: mg.where(condition, x, y), lambda x, y: select(mask, x, y), a, b)
    check(lambda x: mg.where(condition, x, 0.5), lambda x: select(mask, x, 0.5), a)


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
       dtype=st.sampled_from(INDEX_DTYPES), data=st.data())
def test_cross_entropy(shape, reduction, dtype, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    rest = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    targets = data.draw(hnp.arrays(dtype, rest, elements=st.integers(0, shape[axis] - 1)))

    def reference(x):
        picked = np.take_along_axis(naive_log_softmax(x, axis),
                                    np.expand_dims(targets.astype(np.intp), axis), axis)
        losses = -picked.squeeze(axis)
        return {"sum": losses.sum(), "mean": losses.mean(), "none": losses}[reduction]

    check(lambda x: mg.cross_entropy(x, targets, reduction=reduction, axis=axis), reference,
          data.draw(arrays(shape)))


@covers("cross_entropy")
@pytest.mark.parametrize("reduction, expected", [("sum", 0.0), ("mean", 0.0), ("none", [])])
def test_cross_entropy_over_zero_targets(reduction, expected):
    """No targets, no loss: mean is 0 by minigrad's convention (torch gives NaN)."""
    logits = mg.tensor(np.zeros((0, 3)), requires_grad=True)
    loss = seen(mg.cross_entropy(logits, np.zeros(0, dtype=int), reduction=reduction))
    np.testing.assert_array_equal(loss.data, expected)
    loss.backward(np.zeros(loss.shape))
    assert logits.grad.shape == (0, 3)


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
                                           ((1, 3), (2, 2, 3)), ((2, 1), (2, 0))])
def test_broadcast_to_copies_values_and_sums_gradients_back(shape, target):
    """Each output element is the operand element broadcasting reads (written out)."""
    a = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)

    def reference(x):
        out = np.empty(target)
        for i in np.ndindex(*target):
            out[i] = x[broadcast_source(i, x.shape)]
        return out
    check(lambda x: mg.broadcast_to(x, shape=target), reference, a)


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
    check(mg.square, elementwise(lambda v: math.pow(v, 2)), a)


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
