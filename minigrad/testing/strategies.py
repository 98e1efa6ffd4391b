"""Hypothesis strategies for testing differentiable code built on minigrad.

Everything here draws what users pass: float64 arrays (or shapes, axes),
small enough that a full Jacobian by central differences stays cheap; leaf
tensors (:func:`tensors`); indices of every kind numpy accepts, with every
integer dtype (:func:`indices`); transpose axes, negative ones included
(:func:`transpose_axes`); exponents, 0 and 1 included (:data:`exponents`).
Shapes may have size-0 sides where a function says so (``min_side=0``).

>>> import minigrad as mg
>>> from hypothesis import given, settings
>>> from minigrad.testing import gradcheck
>>> from minigrad.testing.strategies import arrays, positive_arrays
>>> @settings(max_examples=5)
... @given(arrays(shape=(2, 3)), positive_arrays(shape=(3,)))
... def test_div(a, b):
...     x, y = mg.tensor(a, requires_grad=True), mg.tensor(b, requires_grad=True)
...     assert gradcheck(lambda x, y: x / y, x, y)
>>> test_div()
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad

__all__ = ["shapes", "arrays", "tensors", "positive_arrays", "nonzero_arrays",
           "distinct_arrays", "broadcastable_shapes", "matmul_shapes", "axes", "keepdims",
           "transpose_axes", "indices", "index_arrays", "INDEX_DTYPES", "exponents"]

MAX_SIDE = 4


def _shape(shape) -> st.SearchStrategy:
    if shape is None:
        return shapes()
    if isinstance(shape, st.SearchStrategy):
        return shape
    return st.just((shape,) if isinstance(shape, int) else tuple(shape))


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
           max_side: int = MAX_SIDE) -> st.SearchStrategy[tuple]:
    """Array shapes, 0-d ``()`` included by default.

    >>> from hypothesis import find
    >>> from minigrad.testing.strategies import shapes
    >>> find(shapes(min_dims=2), lambda shape: True)  # the simplest one
    (1, 1)
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def arrays(shape=None, min_value: float = -3.0, max_value: float = 3.0,
           **kwargs) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays with finite elements in ``[min_value, max_value]``.

    ``shape`` is a tuple, an int, a strategy of shapes, or None for
    :func:`shapes`; other keyword arguments go to ``hypothesis.extra.numpy.arrays``
    (e.g. ``unique=True``).

    >>> from hypothesis import find
    >>> from minigrad.testing.strategies import arrays
    >>> a = find(arrays((2, 3), -1.0, 1.0), lambda a: a.max() > 0.5)
    >>> a.shape, a.dtype, bool(abs(a).max() <= 1)
    ((2, 3), dtype('float64'), True)
    """
    elements = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False)
    return hnp.arrays(np.float64, _shape(shape), elements=elements, **kwargs)


def tensors(shape=None, min_value: float = -3.0, max_value: float = 3.0, *,
            requires_grad: bool = True, name: str | None = None,
            **kwargs) -> st.SearchStrategy[minigrad.Tensor]:
    """Leaf tensors over :func:`arrays` (same arguments), float64, requiring grad
    unless told otherwise.

    >>> from hypothesis import find
    >>> from minigrad.testing.strategies import tensors
    >>> t = find(tensors((2, 3), name="W"), lambda t: t.data.min() < 0)
    >>> t.shape, t.dtype, t.requires_grad, t.name, t.is_leaf
    ((2, 3), dtype('float64'), True, 'W', True)
    """
    return arrays(shape, min_value, max_value, **kwargs).map(
        lambda a: minigrad.tensor(a, requires_grad=requires_grad, name=name))


def positive_arrays(shape=None, min_value: float = 0.1,
                    max_value: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    """Arrays with elements in ``[min_value, max_value]``, ``min_value > 0``: inputs of
    ``log``, bases of ``**`` and denominators, kept away from the pole at 0.

    >>> from hypothesis import find
    >>> from minigrad.testing.strategies import positive_arrays
    >>> bool(find(positive_arrays((5,)), lambda a: a.std() > 0).min() >= 0.1)
    True
    """
    if min_value <= 0:
        raise ValueError(f"positive_arrays: min_value must be > 0, got {min_value}")
    return arrays(shape, min_value, max_value)


def nonzero_arrays(shape=None, min_magnitude: float = 0.1,
                   max_magnitude: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    """Arrays of either sign with ``min_magnitude <= |element| <= max_magnitude``:
    denominators, and inputs of ``relu`` kept off its kink at 0 (where central
    differences straddle two slopes).

    >>> from hypothesis import find
    >>> from minigrad.testing.strategies import nonzero_arrays
    >>> a = find(nonzero_arrays((5,)), lambda a: (a < 0).any() and (a > 0).any())
    >>> bool(abs(a).min() >= 0.1)
    True
    """
    magnitude = st.floats(min_magnitude, max_magnitude)
    elements = st.tuples(st.sampled_from([-1.0, 1.0]), magnitude).map(lambda sm: sm[0] * sm[1])
    return hnp.arrays(np.float64, _shape(shape), elements=elements)


def distinct_arrays(shape=None, min_value: float = -3.0, max_value: float = 3.0,
                    gap: float = 0.01) -> st.SearchStrategy[np.ndarray]:
    """Arrays whose elements differ pairwise by at least ``gap`` (a grid of step
    ``gap``): inputs of ``max``, where a tie has no derivative and a central
    difference of step < ``gap`` would straddle the kink.

    >>> import numpy as np
    >>> from hypothesis import find
    >>> from minigrad.testing.strategies import distinct_arrays
    >>> a = find(distinct_arrays((6,)), lambda a: True)
    >>> bool(np.diff(np.sort(a)).min() >= 0.0099)
    True
    """
    grid = st.integers(int(np.ceil(min_value / gap)), int(np.floor(max_value / gap)))
    return hnp.arrays(np.float64, _shape(shape), elements=grid.map(lambda k: k * gap),
                      unique=True)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3,
                         max_side: int = MAX_SIDE) -> st.SearchStrategy[tuple]:
    """Tuples of ``num_shapes`` shapes that broadcast together (numpy's rules),
    e.g. ``((2, 1, 3), (4, 1))``.

    >>> import numpy as np
    >>> from hypothesis import find
    >>> from minigrad.testing.strategies import broadcastable_shapes
    >>> a, b = find(broadcastable_shapes(), lambda ab: len(ab[0]) == 2 and ab[0] != ab[1])
    >>> len(np.broadcast_shapes(a, b))
    2
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims,
        max_side=max_side).map(lambda b: b.input_shapes)


def matmul_shapes(max_batch_dims: int = 2, max_side: int = MAX_SIDE) -> st.SearchStrategy[tuple]:
    """Pairs of shapes valid for ``@``: vector·vector, matrix·vector,
    vector·matrix, matrix·matrix and stacks of matrices whose batch dimensions
    broadcast, e.g. ``((2, 1, 3, 4), (5, 4, 2))``.

    >>> import numpy as np
    >>> from hypothesis import find
    >>> from minigrad.testing.strategies import matmul_shapes
    >>> a, b = find(matmul_shapes(), lambda ab: (len(ab[0]), len(ab[1])) == (3, 2))
    >>> (np.ones(a) @ np.ones(b)).ndim
    3
    """
    return hnp.mutually_broadcastable_shapes(
        signature=np.matmul.signature, max_dims=max_batch_dims,
        max_side=max_side).map(lambda b: b.input_shapes)


def axes(ndim: int) -> st.SearchStrategy:
    """The ``axis`` argument of a reduction over an ``ndim``-dimensional array:
    None, an int (negative ones too) or a tuple of distinct axes.

    >>> from hypothesis import find
    >>> from minigrad.testing.strategies import axes
    >>> find(axes(3), lambda axis: isinstance(axis, tuple) and len(axis) == 2)
    (0, 1)
    """
    choices = [st.none(), hnp.valid_tuple_axes(ndim)]
    if ndim > 0:
        choices.insert(1, st.integers(-ndim, ndim - 1))
    return st.one_of(*choices)


keepdims = st.booleans()
"""The ``keepdims`` argument of a reduction."""

exponents = st.sampled_from([0, 1, 2, 3, -1, -2, 0.5, 1.5, -2.5, np.float64(2.0)])
"""Constant exponents of ``x ** c``: 0 and 1 first, integers (any base), fractions
(positive bases only), and a numpy float."""

INDEX_DTYPES = tuple(np.dtype(f"{kind}{bits}") for kind in ("int", "uint")
                     for bits in (8, 16, 32, 64))
"""Every integer dtype an index array may have: int8 … int64, uint8 … uint64."""


def transpose_axes(ndim: int) -> st.SearchStrategy[tuple]:
    """The ``axes`` of a transpose of an ``ndim``-dimensional array: a permutation,
    each axis given as ``k`` or as ``k - ndim`` (numpy accepts both).

    >>> from hypothesis import find
    >>> from minigrad.testing.strategies import transpose_axes
    >>> axes = find(transpose_axes(3), lambda axes: min(axes) < 0)
    >>> min(axes) < 0, sorted(k % 3 for k in axes)
    (True, [0, 1, 2])
    """
    return st.permutations(range(ndim)).flatmap(lambda perm: st.tuples(*(
        st.sampled_from([k, k - ndim]) for k in perm)))


@st.composite
def index_arrays(draw, side: int, dtype=None, min_length: int = 0, max_length: int = 4):
    """1-d integer arrays of ids into an axis of length ``side``: any dtype of
    :data:`INDEX_DTYPES` (or the one given), negative ids for signed dtypes,
    repeats likely, lengths ``min_length`` … ``max_length``, and the empty array (the
    only one when ``side`` is 0).

    >>> from hypothesis import find
    >>> from minigrad.testing.strategies import index_arrays
    >>> ids = find(index_arrays(3), lambda ids: ids.dtype == "int8" and ids.min(initial=0) < 0)
    >>> bool(ids.min() >= -3 and ids.max() < 3)
    True
    """
    dtype = np.dtype(draw(st.sampled_from(INDEX_DTYPES)) if dtype is None else dtype)
    if side == 0:
        return np.zeros(0, dtype)
    low = -side if dtype.kind == "i" else 0
    return draw(hnp.arrays(dtype, st.integers(min_length, max_length),
                           elements=st.integers(low, side - 1)))


@st.composite
def indices(draw, shape: tuple):
    """Indices ``x[index]`` for an array of ``shape``, of every kind numpy accepts:
    basic (integers, slices with negative steps, Ellipsis, np.newaxis), integer
    arrays of any :data:`INDEX_DTYPES` on one axis (``x[:, ids]``) or on every
    axis, boolean masks of the whole shape or of one axis, and empty ids.

    >>> import numpy as np
    >>> from hypothesis import find
    >>> from minigrad.testing.strategies import indices
    >>> index = find(indices((2, 3)), lambda i: isinstance(i, tuple) and len(i) == 2
    ...              and isinstance(i[1], np.ndarray) and i[1].dtype == bool)
    >>> np.arange(6).reshape(2, 3)[index].shape
    (2, 0)
    """
    ndim = len(shape)
    kinds = ["basic"] + (["ids on one axis"] * 2 + ["ids on every axis", "mask", "mask on one axis"]
                         if ndim else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "basic":
        return draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True,
                                      allow_ellipsis=True))
    if kind == "mask":
        return draw(hnp.arrays(bool, shape))
    axis = draw(st.integers(0, ndim - 1))
    if kind == "mask on one axis":
        return (slice(None),) * axis + (draw(hnp.arrays(bool, shape[axis])),)
    dtype = draw(st.sampled_from(INDEX_DTYPES))
    if kind == "ids on one axis":
        return (slice(None),) * axis + (draw(index_arrays(shape[axis], dtype)),)
    length = 0 if 0 in shape else draw(st.integers(0, 4))
    return tuple(draw(index_arrays(n, dtype, length, length)) for n in shape)
