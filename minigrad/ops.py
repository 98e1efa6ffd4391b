"""The op table: each op's forward and its vector-Jacobian product, side by side.

Every rule below works on plain numpy arrays: ``forward(*arrays, **params)``
returns ``(out, vjp)`` and ``vjp(g)`` returns one gradient per operand. A
gradient may keep the broadcast shape of ``g``; the engine sums it back to the
operand's shape (:func:`minigrad.tensor.unbroadcast`), so each rule is the
textbook formula. A weight's ``g yᵀ`` may stay unmultiplied
(:func:`minigrad.tensor.outer_sum`) for the engine to sum over many uses at
once. Positional arguments are operands (differentiable); keyword arguments
are static parameters (axes, shapes, indices, masks).
This module's ops shadow the builtins ``sum``, ``max`` and ``pow``.
"""
from __future__ import annotations

import functools

import numpy as np

from minigrad.tensor import Tensor, apply, outer_sum

RULES: dict[str, callable] = {}


def primitive(fn):
    """Register ``fn`` (an op on arrays returning ``(out, vjp)``) and return the
    Tensor-level op that records it in the graph."""
    name = fn.__name__.lstrip("_")  # a leading _ marks a rule with a public wrapper below
    RULES[name] = fn

    @functools.wraps(fn)
    def op(*operands, **params):
        return apply(name, fn, operands, params)
    return op


# -- elementwise arithmetic ------------------------------------------------------
@primitive
def add(x, y): return x + y, lambda g: (g, g)
@primitive
def sub(x, y): return x - y, lambda g: (g, -g)
@primitive
def mul(x, y): return x * y, lambda g: (g * y, g * x)
@primitive
def div(x, y): return x / y, lambda g: (g / y, -g * x / (y * y))
@primitive
def neg(x): return -x, lambda g: (-g,)
@primitive
def power(x, *, exponent):                      # x ** c, c a constant number; d/dx x^0 = 0
    return x ** exponent, lambda g: (g * exponent * x ** (exponent - 1) if exponent else 0 * g,)
@primitive
def pow(x, y):                                  # x ** y, both differentiable
    out = x ** y                                # d/dy x^y = x^y log x, taken as 0 where x <= 0
    return out, lambda g: (g * y * x ** np.where(y == 0, 1, y - 1),   # d/dx x^0 = 0
                           g * out * np.log(np.where(x > 0, x, 1.0)))


# -- elementwise functions -------------------------------------------------------
@primitive
def exp(x):
    out = np.exp(x)
    return out, lambda g: (g * out,)
@primitive
def log(x): return np.log(x), lambda g: (g / x,)
@primitive
def tanh(x):
    out = np.tanh(x)
    return out, lambda g: (g * (1.0 - out * out),)
@primitive
def sigmoid(x):
    out = np.exp(-np.logaddexp(0.0, -x))        # 1 / (1 + e^-x) without overflow
    return out, lambda g: (g * out * (1.0 - out),)
@primitive
def relu(x): return np.maximum(x, 0.0), lambda g: (g * (x > 0),)
@primitive
def _where(x, y, *, condition): return np.where(condition, x, y), lambda g: (
    np.where(condition, g, 0.0), np.where(condition, 0.0, g))


# -- linear algebra ----------------------------------------------------------------
@primitive
def matmul(x, y):
    out = x @ y
    def vjp(g):
        if x.ndim == 2 and y.ndim <= 2:     # the common case; g yᵀ summed lazily by the engine
            return outer_sum(g, y), x.T @ g
        if x.ndim == 1 and y.ndim == 1:
            return g * y, g * x
        x2 = x[None, :] if x.ndim == 1 else x                    # row vector (1, k)
        y2 = y[:, None] if y.ndim == 1 else y                    # column vector (k, 1)
        g2 = np.expand_dims(g, -2) if x.ndim == 1 else g
        g2 = np.expand_dims(g2, -1) if y.ndim == 1 else g2
        gx = g2 @ np.swapaxes(y2, -1, -2)
        gy = np.swapaxes(x2, -1, -2) @ g2
        return (gx[..., 0, :] if x.ndim == 1 else gx), (gy[..., 0] if y.ndim == 1 else gy)
    return out, vjp


# -- reductions --------------------------------------------------------------------
def _expand(g, shape, axis, keepdims):
    """Give a reduced gradient back its reduced axes, ready to broadcast to ``shape``."""
    if axis is None or keepdims:
        return g if keepdims else np.reshape(g, (1,) * len(shape))
    return np.expand_dims(g, axis)

@primitive
def sum(x, *, axis=None, keepdims=False):
    return x.sum(axis=axis, keepdims=keepdims), lambda g: (
        np.broadcast_to(_expand(g, x.shape, axis, keepdims), x.shape),)
@primitive
def mean(x, *, axis=None, keepdims=False):
    out = x.mean(axis=axis, keepdims=keepdims)
    count = x.size / out.size if out.size else 1.0
    return out, lambda g: (np.broadcast_to(_expand(g, x.shape, axis, keepdims) / count, x.shape),)
@primitive
def max(x, *, axis=None, keepdims=False):       # ties share the gradient equally
    out = x.max(axis=axis, keepdims=keepdims)
    def vjp(g):
        hit = x == _expand(out, x.shape, axis, keepdims)
        return hit * (_expand(g, x.shape, axis, keepdims) / hit.sum(axis=axis, keepdims=True)),
    return out, vjp


# -- shape and indexing --------------------------------------------------------------
@primitive
def reshape(x, *, shape): return x.reshape(shape), lambda g: (g.reshape(x.shape),)
@primitive
def transpose(x, *, axes=None):
    axes = None if axes is None else _permutation(axes, x.ndim)
    inverse = None if axes is None else tuple(np.argsort(axes))
    return np.transpose(x, axes), lambda g: (np.transpose(g, inverse),)

def _permutation(axes, ndim):
    """``axes`` with negative entries counted from the end; a permutation of range(ndim)."""
    normal = tuple(int(a) + ndim if int(a) < 0 else int(a) for a in axes)
    if sorted(normal) != list(range(ndim)):
        raise ValueError(f"axes {tuple(axes)} are not a permutation of the {ndim} axes")
    return normal
@primitive
def getitem(x, *, index):                       # repeated integer indices add up
    return x[index], lambda g: (_scatter_add(x.shape, index, g),)

def _scatter_add(shape, index, g):
    """``zeros(shape)`` with ``g`` added at ``[index]`` (``np.add.at``, with faster
    paths for basic indices, which never repeat, and for gathered columns ``[:, ids]``)."""
    parts = index if isinstance(index, tuple) else (index,)
    if all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in parts):
        out = np.zeros(shape, dtype=g.dtype)
        out[index] = g
        return out
    if (len(shape) == 2 and len(parts) == 2 and isinstance(parts[0], slice) and parts[0] == slice(None)
            and isinstance(parts[1], np.ndarray) and parts[1].ndim == 1 and parts[1].dtype.kind in "iu"
            and shape[1] > 0):
        rows, cols = shape                      # one bincount sums every (row, column) pair
        cells = np.arange(0, rows * cols, cols)[:, None] + parts[1].astype(np.intp) % cols
        return np.bincount(cells.ravel(), g.ravel(), minlength=rows * cols).reshape(shape).astype(
            g.dtype, copy=False)
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, index, g)
    return out


@primitive
def _concat(*xs, axis=0):
    ends = np.cumsum([x.shape[axis] for x in xs])[:-1]
    return np.concatenate(xs, axis=axis), lambda g: tuple(np.split(g, ends, axis=axis))
@primitive
def _stack(*xs, axis=0):
    return np.stack(xs, axis=axis), lambda g: tuple(np.moveaxis(g, axis, 0))


# -- probabilities -----------------------------------------------------------------
def _max_and_log_sum_exp(x, axis):
    """``top = max x`` and ``log Σ exp(x − top)`` along ``axis`` (kept, length 1):
    log Σ exp(x) is their sum, computed without overflow."""
    top = np.maximum.reduce(x, axis=axis, keepdims=True)
    return top, np.log(np.add.reduce(np.exp(x - top), axis=axis, keepdims=True))

def _log_softmax(x, axis):
    top, log_sum = _max_and_log_sum_exp(x, axis)
    return (x - top) - log_sum

@primitive
def log_softmax(x, *, axis=-1):
    out = _log_softmax(x, axis)
    return out, lambda g: (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)
@primitive
def softmax(x, *, axis=-1):
    out = np.exp(_log_softmax(x, axis))
    return out, lambda g: (out * (g - (g * out).sum(axis=axis, keepdims=True)),)
@primitive
def _cross_entropy(logits, *, targets, reduction="sum", axis=-1):
    """−log softmax(logits)[target] along ``axis``; VJP: softmax − one-hot."""
    axis %= logits.ndim
    grid = [np.arange(n).reshape((n,) + (1,) * (targets.ndim - 1 - i))  # open grid over the
            for i, n in enumerate(targets.shape)]                       # targets' positions
    picked = tuple(grid[:axis] + [targets] + grid[axis:])              # logits[picked]: one
    top, log_sum = _max_and_log_sum_exp(logits, axis)                  # entry per target
    losses = log_sum.squeeze(axis) - (logits[picked] - top.squeeze(axis))
    scale = 1.0 / losses.size if reduction == "mean" and losses.size else 1.0
    out = losses if reduction == "none" else losses.sum() * scale
    def vjp(g):
        d_logits = np.exp((logits - top) - log_sum)                    # softmax(logits)
        d_logits[picked] -= 1.0
        g = np.expand_dims(g, axis) if reduction == "none" else g * scale
        return d_logits * g,
    return out, vjp


# -- the public functions whose signatures differ from their rules ------------------
def cross_entropy(logits, targets, reduction: str = "sum", axis: int = -1) -> Tensor:
    """Negative log-likelihood of integer class ``targets`` under
    ``softmax(logits)`` along ``axis``, computed stably by log-sum-exp.

    ``targets`` has the logits' shape without the class axis; ``reduction`` is
    ``"sum"``, ``"mean"`` or ``"none"`` (one loss per target).

    >>> import minigrad as mg
    >>> logits = mg.tensor([[0.0, 0.0], [0.0, 0.0]], requires_grad=True)
    >>> round(mg.cross_entropy(logits, [0, 1]).item(), 6)  # 2 ln 2
    1.386294
    """
    logits = logits if isinstance(logits, Tensor) else Tensor(logits)
    targets = np.asarray(targets)
    context = lambda: f"cross_entropy(logits {logits.name or ''}{logits.shape}, targets {targets.shape})"
    if reduction not in ("sum", "mean", "none"):
        raise ValueError(f"{context()}: reduction must be 'sum', 'mean' or 'none', got {reduction!r}")
    if logits.ndim == 0:
        raise ValueError(f"{context()}: logits need a class axis")
    if not -logits.ndim <= axis < logits.ndim:
        raise ValueError(f"{context()}: axis {axis} is out of range for {logits.ndim}-d logits")
    axis %= logits.ndim
    classes, expected = logits.shape[axis], logits.shape[:axis] + logits.shape[axis + 1:]
    if targets.shape != expected:
        raise ValueError(f"{context()}: targets must have shape {expected} (logits without axis {axis})")
    if targets.dtype.kind not in "iu":
        raise TypeError(f"{context()}: targets must be integer class ids, got dtype {targets.dtype}")
    low, high = (int(targets), int(targets)) if targets.ndim == 0 else (
        (targets.min(), targets.max()) if targets.size else (0, 0))
    if low < 0 or high >= classes:
        raise ValueError(f"{context()}: class ids must lie in [0, {classes}), got {low}..{high}")
    return _cross_entropy(logits, targets=targets, reduction=reduction, axis=axis)




def where(condition, x, y) -> Tensor:
    """``x`` where the constant boolean ``condition`` holds, else ``y`` (no gradient
    flows to the condition).

    >>> import minigrad as mg
    >>> mg.where([True, False], mg.tensor([1.0, 2.0]), 0.0).data
    array([1., 0.])
    """
    condition = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if condition.dtype != bool:
        raise TypeError(f"where: condition must be boolean, got dtype {condition.dtype}")
    return _where(x, y, condition=condition)


def concat(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (``np.concatenate``).

    >>> import minigrad as mg
    >>> mg.concat([mg.tensor([1.0]), mg.tensor([2.0, 3.0])]).shape
    (3,)
    """
    return _concat(*tensors, axis=axis)


def stack(tensors, axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis (``np.stack``).

    >>> import minigrad as mg
    >>> mg.stack([mg.tensor([1.0, 2.0]), mg.tensor([3.0, 4.0])]).shape
    (2, 2)
    """
    return _stack(*tensors, axis=axis)


# -- the Tensor's operators and methods --------------------------------------------
def _index(index):
    """A Tensor inside an index stands for its array: integer ids or a boolean mask."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if isinstance(index, Tensor):
        if index.data.dtype.kind not in "biu":
            raise TypeError(f"index tensor {index.name or ''}{index.shape} has dtype "
                            f"{index.data.dtype}: indices must be integers or booleans "
                            "(mg.tensor(ids, dtype=int))")
        return index.data
    return index

def _pow(x, y):
    return power(x, exponent=y) if isinstance(y, (int, float)) else pow(x, y)

def _reshape(x, *shape):
    return reshape(x, shape=shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

def _transpose(x, *axes):                        # t.transpose(), (1, 0), 1, 0 or None
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        axes = axes[0]
    return transpose(x, axes=None if axes is None or axes == () else tuple(axes))

Tensor.__add__, Tensor.__radd__ = add, lambda x, y: add(y, x)
Tensor.__sub__, Tensor.__rsub__ = sub, lambda x, y: sub(y, x)
Tensor.__mul__, Tensor.__rmul__ = mul, lambda x, y: mul(y, x)
Tensor.__truediv__, Tensor.__rtruediv__ = div, lambda x, y: div(y, x)
Tensor.__pow__, Tensor.__rpow__ = _pow, lambda x, y: pow(y, x)
Tensor.__matmul__, Tensor.__rmatmul__ = matmul, lambda x, y: matmul(y, x)
Tensor.__neg__ = neg
Tensor.__getitem__ = lambda x, index: getitem(x, index=_index(index))
Tensor.exp, Tensor.log, Tensor.tanh, Tensor.sigmoid, Tensor.relu = exp, log, tanh, sigmoid, relu
Tensor.sum = lambda x, axis=None, keepdims=False: sum(x, axis=axis, keepdims=keepdims)
Tensor.mean = lambda x, axis=None, keepdims=False: mean(x, axis=axis, keepdims=keepdims)
Tensor.max = lambda x, axis=None, keepdims=False: max(x, axis=axis, keepdims=keepdims)
Tensor.softmax = lambda x, axis=-1: softmax(x, axis=axis)
Tensor.log_softmax = lambda x, axis=-1: log_softmax(x, axis=axis)
Tensor.reshape, Tensor.transpose = _reshape, _transpose
Tensor.T = property(lambda x: transpose(x))
