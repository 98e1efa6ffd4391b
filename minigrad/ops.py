"""The op table: each op's forward and its vector-Jacobian product, side by side.

``forward(*arrays, **params)`` returns ``(out, vjp)``; ``vjp(g, out, *inputs)``
returns one gradient per operand (None where there is none). The VJPs close over
nothing but static parameters and are written in operations that work on numpy
arrays *and* on Tensors (Python operators, methods both have, and the few
functions below that pick numpy or the op by their operand's type). The engine
calls a VJP with arrays in an ordinary backward pass, and with the graph's own
Tensors under ``create_graph=True``, where the same rule records the backward
pass as a graph that can be differentiated again. A gradient may keep the
broadcast shape of ``g``; the engine sums it back to the operand's shape
(:func:`minigrad.tensor.unbroadcast`), so each rule is the textbook formula.
Positional arguments are operands (differentiable); keyword arguments are static
parameters (axes, shapes, indices, masks). This module's ops shadow the builtins
``abs``, ``sum``, ``min``, ``max`` and ``pow``.
"""
from __future__ import annotations

import functools
import inspect

import numpy as np

from minigrad.lazy import Columns, Outer
from minigrad.tensor import Tensor, apply

RULES: dict[str, callable] = {}
_TABLE_OPEN = True  # until the end of this module: later primitives are the user's own


def primitive(fn):
    """Make an op from ``fn``, a function of arrays returning ``(out, vjp)``, where
    ``vjp(g, out, *operands)`` returns one gradient per operand, written in operations
    that work on arrays and Tensors alike (operators, methods, and ``mg`` ops for
    anything else), so the op works with ``create_graph`` too. ``fn``'s positional
    parameters are its operands, its keyword-only ones static parameters, which the op
    also takes positionally, as numpy does (``mg.sum(x, 0)``). minigrad's own rules
    are listed in ``RULES``.

    >>> import minigrad as mg
    >>> @mg.primitive
    ... def cube(x):
    ...     return x ** 3, lambda g, out, x: (3 * g * x * x,)
    >>> x = mg.tensor(2.0, requires_grad=True)
    >>> cube(x).backward()
    >>> float(x.grad), float(mg.gradient(mg.gradient(cube))(2.0))   # 3x², 6x
    (12.0, 12.0)
    """
    name = fn.__name__.lstrip("_")  # a leading _ marks a rule with a public wrapper below
    if _TABLE_OPEN:
        RULES[name] = fn
    parameters = inspect.signature(fn).parameters.values()
    static = [p.name for p in parameters if p.kind is p.KEYWORD_ONLY]
    if not static or any(p.kind is p.VAR_POSITIONAL for p in parameters):
        @functools.wraps(fn)
        def op(*operands, **params):
            return apply(name, fn, operands, params)
        return op
    n = len(parameters) - len(static)

    @functools.wraps(fn)
    def op_with_parameters(*operands, **params):
        if len(operands) > n:
            if len(operands) > n + len(static):
                raise TypeError(f"{name}() takes {n} operands and at most {len(static)} "
                                f"parameters ({', '.join(static)}), got {len(operands)}")
            for key, value in zip(static, operands[n:]):
                if key in params:
                    raise TypeError(f"{name}() got two values for {key!r}")
                params[key] = value
            operands = operands[:n]
        return apply(name, fn, operands, params)
    return op_with_parameters


# -- what the VJPs call: numpy on arrays, the op on Tensors ------------------------------
def _on_tensors(*xs):
    return any(isinstance(x, Tensor) for x in xs)

def _exp(x): return exp(x) if isinstance(x, Tensor) else np.exp(x)
def _log(x): return log(x) if isinstance(x, Tensor) else np.log(x)
def _select(condition, x, y):
    return where(condition, x, y) if _on_tensors(x, y) else np.where(condition, x, y)
def _broadcast(x, shape):
    return broadcast_to(x, shape=shape) if isinstance(x, Tensor) else np.broadcast_to(x, shape)
def _scatter(g, shape, index):
    if isinstance(g, Tensor):
        return scatter_add(g, shape=shape, index=index)
    columns = _columns(g, shape, index)
    return _scatter_add(g, shape, index) if columns is None else columns


# -- elementwise arithmetic ------------------------------------------------------
@primitive
def add(x, y): return x + y, lambda g, out, x, y: (g, g)
@primitive
def sub(x, y): return x - y, lambda g, out, x, y: (g, -g)
@primitive
def mul(x, y): return x * y, lambda g, out, x, y: (g * y, g * x)
@primitive
def div(x, y): return x / y, lambda g, out, x, y: (g / y, -g * x / (y * y))
@primitive
def neg(x): return -x, lambda g, out, x: (-g,)
@primitive
def power(x, *, exponent):                      # x ** c, c a constant number; d/dx x^0 = 0
    return x ** exponent, lambda g, out, x: (
        g * exponent * x ** (exponent - 1) if exponent else 0 * g,)
@primitive
def pow(x, y):                                  # x ** y, both differentiable
    return x ** y, lambda g, out, x, y: (       # d/dy x^y = x^y log x, taken as 0 where x <= 0
        g * y * x ** _select(_zero(x) & _zero(y), 1, y - 1),  # 0 at x = y = 0, and only there:
        g * out * _log(_select(x > 0, x, 1.0)))               # d/dy (y x^(y-1)) = 1/x at y = 0

def _zero(t):
    """Where ``t`` is 0: a constant boolean array."""
    return (t.data if isinstance(t, Tensor) else t) == 0


# -- elementwise functions -------------------------------------------------------
@primitive
def exp(x): return np.exp(x), lambda g, out, x: (g * out,)
@primitive
def log(x): return np.log(x), lambda g, out, x: (g / x,)
@primitive
def tanh(x): return np.tanh(x), lambda g, out, x: (g * (1.0 - out * out),)
@primitive
def sigmoid(x):                                 # 1 / (1 + e^-x) without overflow
    return np.exp(-np.logaddexp(0.0, -x)), lambda g, out, x: (g * out * (1.0 - out),)
@primitive
def relu(x): return np.maximum(x, 0.0), lambda g, out, x: (g * (x > 0),)
@primitive
def abs(x): return np.abs(x), lambda g, out, x: (g * _constant(np.sign, x),)   # |x|' = 0 at 0
@primitive
def sqrt(x): return np.sqrt(x), lambda g, out, x: (g / (2.0 * out),)
@primitive
def square(x): return x * x, lambda g, out, x: (2.0 * g * x,)
@primitive
def clip(x, *, low=None, high=None):            # the gradient passes where low <= x <= high
    return np.clip(x, low, high), lambda g, out, x: (g * _constant(
        lambda x: (x >= (-np.inf if low is None else low)) & (x <= (np.inf if high is None
                                                                   else high)), x),)

def _constant(f, x):
    """``f`` of x's values, as a constant (a mask or a sign: no gradient flows through it)."""
    return f(x.data if isinstance(x, Tensor) else x)
@primitive
def _where(x, y, *, condition): return np.where(condition, x, y), lambda g, out, x, y: (
    _select(condition, g, 0.0), _select(condition, 0.0, g))


# -- linear algebra ----------------------------------------------------------------
@primitive
def matmul(x, y):
    return x @ y, _matmul_vjp

def _matmul_vjp(g, out, x, y):
    if x.ndim == 2 and y.ndim <= 2:             # the common case; g yᵀ perhaps summed lazily
        return outer(g, y), x.T @ g
    if x.ndim == 1 and y.ndim == 1:
        return g * y, g * x
    x2 = x.reshape((1,) + x.shape) if x.ndim == 1 else x            # row vector (1, k)
    y2 = y.reshape(y.shape + (1,)) if y.ndim == 1 else y            # column vector (k, 1)
    g2 = g.reshape(g.shape[:-1] + (1,) + g.shape[-1:]) if x.ndim == 1 else g
    g2 = g2.reshape(g2.shape + (1,)) if y.ndim == 1 else g2
    gx, gy = g2 @ _swap_last(y2), _swap_last(x2) @ g2
    return (gx[..., 0, :] if x.ndim == 1 else gx), (gy[..., 0] if y.ndim == 1 else gy)

def _swap_last(a):
    return a.transpose(tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2))


def outer(g, y):
    """``g yᵀ`` for matrices g (m×k) and y (n×k), or vectors (k = 1): on arrays, an
    :class:`Outer` gradient when the product is bigger than its factors (m and n at
    least k; vectors of 16 or more), where one product per use would spend its time
    writing and adding m×n results; else (and on Tensors) the product itself."""
    if isinstance(g, Tensor):  # under create_graph every operand is a Tensor
        return g.reshape((-1, 1)) * y if g.ndim == 1 else g @ y.T
    m, n = g.shape[0], y.shape[0]
    if g.ndim == 1:
        return Outer(g[None, :], y[None, :]) if m >= 16 and n >= 16 else g[:, None] * y
    k = g.shape[1]
    return Outer(g.T, y.T) if m >= k and n >= k else g @ y.T


# -- reductions and broadcasting -------------------------------------------------------
def _expand(g, shape, axis, keepdims):
    """Give a reduced gradient back its reduced axes, ready to broadcast to ``shape``."""
    if keepdims:
        return g
    if axis is None:
        return g.reshape((1,) * len(shape))
    axes = {int(a) % len(shape) for a in np.atleast_1d(axis)}
    return g.reshape(tuple(1 if i in axes else n for i, n in enumerate(shape)))

@primitive
def sum(x, *, axis=None, keepdims=False):
    return x.sum(axis=axis, keepdims=keepdims), lambda g, out, x: (
        _broadcast(_expand(g, x.shape, axis, keepdims), x.shape),)
@primitive
def mean(x, *, axis=None, keepdims=False):
    out = x.mean(axis=axis, keepdims=keepdims)
    count = x.size / out.size if out.size else 1.0
    return out, lambda g, out, x: (_broadcast(_expand(g, x.shape, axis, keepdims) / count, x.shape),)
@primitive
def max(x, *, axis=None, keepdims=False):       # ties share the gradient equally
    return x.max(axis=axis, keepdims=keepdims), lambda g, out, x: (
        _share(x, out, axis, keepdims) * _expand(g, x.shape, axis, keepdims),)
@primitive
def min(x, *, axis=None, keepdims=False):       # ties share the gradient equally
    return x.min(axis=axis, keepdims=keepdims), lambda g, out, x: (
        _share(x, out, axis, keepdims) * _expand(g, x.shape, axis, keepdims),)

def _share(x, out, axis, keepdims):
    """1 / (number of extrema) where x is the extremum ``out``, else 0: a constant of
    x's dtype."""
    x, out = (t.data if isinstance(t, Tensor) else t for t in (x, out))
    hit = x == _expand(out, x.shape, axis, keepdims)
    return (hit / hit.sum(axis=axis, keepdims=True)).astype(x.dtype, copy=False)

@primitive
def broadcast_to(x, *, shape):                  # the engine sums g back to x's shape
    return np.broadcast_to(x, shape), lambda g, out, x: (g,)


# -- shape and indexing --------------------------------------------------------------
@primitive
def reshape(x, *, shape): return x.reshape(shape), lambda g, out, x: (g.reshape(x.shape),)
@primitive
def transpose(x, *, axes=None):
    axes = None if axes is None else _permutation(axes, x.ndim)
    inverse = None if axes is None else tuple(np.argsort(axes))
    return np.transpose(x, axes), lambda g, out, x: (g.transpose(inverse),)

def _permutation(axes, ndim):
    """``axes`` with negative entries counted from the end; a permutation of range(ndim)."""
    normal = tuple(int(a) + ndim if int(a) < 0 else int(a) for a in axes)
    if sorted(normal) != list(range(ndim)):
        raise ValueError(f"axes {tuple(axes)} are not a permutation of the {ndim} axes")
    return normal

@primitive
def getitem(x, *, index):                       # repeated integer indices add up
    return x[index], lambda g, out, x: (_scatter(g, x.shape, index),)
@primitive
def scatter_add(g, *, shape, index):            # zeros(shape) with g added at [index]
    return _scatter_add(g, shape, index), lambda u, out, g: (u[index],)

def _scatter_add(g, shape, index):
    """``zeros(shape)`` with ``g`` added at ``[index]`` (``np.add.at``, with faster
    paths for basic indices, which never repeat, and for gathered columns ``[:, ids]``)."""
    parts = index if isinstance(index, tuple) else (index,)
    if all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in parts):
        out = np.zeros(shape, dtype=g.dtype)
        out[index] = g
        return out
    columns = _columns(g, shape, index)
    if columns is not None:
        return columns.dense()
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, index, g)
    return out

def _columns(g, shape, index):
    """For a gather of columns ``x[:, ids]`` (or of one, ``x[:, i]``) from a matrix with
    columns, ``g`` as a :class:`Columns` gradient; else None."""
    if not (len(shape) == 2 and shape[1] > 0 and type(index) is tuple and len(index) == 2
            and isinstance(index[0], slice) and index[0] == slice(None)):
        return None
    ids = index[1]
    if isinstance(ids, (int, np.integer)) and not isinstance(ids, bool):
        return Columns(g[:, None], np.array([ids]), shape)
    if isinstance(ids, np.ndarray) and ids.ndim == 1 and ids.dtype.kind in "iu":
        return Columns(g, ids, shape)
    return None


@primitive
def _concat(*xs, axis=0):
    return np.concatenate(xs, axis=axis), lambda g, out, *xs: _pieces(g, axis, [
        x.shape[axis] for x in xs])
@primitive
def _stack(*xs, axis=0):
    return np.stack(xs, axis=axis), lambda g, out, *xs: tuple(
        g[(slice(None),) * (axis % g.ndim) + (i,)] for i in range(len(xs)))

def _pieces(g, axis, sizes):
    """``g`` cut along ``axis`` into consecutive pieces of the given sizes."""
    ends = np.cumsum([0] + sizes)
    lead = (slice(None),) * (axis % g.ndim)
    return tuple(g[lead + (slice(int(a), int(b)),)] for a, b in zip(ends[:-1], ends[1:]))


# -- probabilities -----------------------------------------------------------------
def _max_and_sum_exp(x, axis):
    """``top = max x``, ``e = exp(x − top)`` and ``Σ e`` along ``axis`` (kept, length 1):
    log Σ exp(x) = top + log Σ e, computed without overflow."""
    top = np.maximum.reduce(x, axis=axis, keepdims=True)
    e = np.exp(x - top)
    return top, e, np.add.reduce(e, axis=axis, keepdims=True)

def _log_softmax(x, axis):
    top, _, total = _max_and_sum_exp(x, axis)
    return (x - top) - np.log(total)

@primitive
def log_softmax(x, *, axis=-1):
    return _log_softmax(x, axis), lambda g, out, x: (
        g - _exp(out) * g.sum(axis=axis, keepdims=True),)
@primitive
def softmax(x, *, axis=-1):
    return np.exp(_log_softmax(x, axis)), lambda g, out, x: (
        out * (g - (g * out).sum(axis=axis, keepdims=True)),)
@primitive
def _cross_entropy(logits, *, targets, reduction="sum", axis=-1):
    """−log softmax(logits)[target] along ``axis``; VJP: (softmax − one-hot) g."""
    axis %= logits.ndim
    grid = [np.arange(n).reshape((n,) + (1,) * (targets.ndim - 1 - i))  # open grid over the
            for i, n in enumerate(targets.shape)]                       # targets' positions
    picked = tuple(grid[:axis] + [targets] + grid[axis:])              # logits[picked]: one
    top, e, total = _max_and_sum_exp(logits, axis)                     # entry per target
    losses = np.log(total).squeeze(axis) - (logits[picked] - top.squeeze(axis))
    scale = 1.0 / losses.size if reduction == "mean" and losses.size else 1.0
    def vjp(g, out, logits):
        g = _expand(g, logits.shape, axis, False) if reduction == "none" else g * scale
        if isinstance(logits, Tensor):                                 # create_graph: through
            one_hot = np.zeros(logits.shape, dtype=logits.dtype)       # the softmax op
            one_hot[picked] = 1.0
            return (softmax(logits, axis=axis) - one_hot) * g,
        d_logits = e / total                                           # softmax(logits), from
        d_logits[picked] -= 1.0                                        # the forward's exps
        return d_logits * g,
    return losses if reduction == "none" else losses.sum() * scale, vjp


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
    shape = logits.data.shape  # read once: this runs once per step of an unrolled loss
    ndim = len(shape)
    context = lambda: f"cross_entropy(logits {logits.name or ''}{shape}, targets {targets.shape})"
    if reduction not in ("sum", "mean", "none"):
        raise ValueError(f"{context()}: reduction must be 'sum', 'mean' or 'none', got {reduction!r}")
    if ndim == 0:
        raise ValueError(f"{context()}: logits need a class axis")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{context()}: axis {axis} is out of range for {ndim}-d logits")
    axis %= ndim
    classes, expected = shape[axis], shape[:axis] + shape[axis + 1:]
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
Tensor.abs, Tensor.__abs__, Tensor.sqrt, Tensor.square = abs, abs, sqrt, square
Tensor.clip = lambda x, low=None, high=None: clip(x, low=low, high=high)
Tensor.min = lambda x, axis=None, keepdims=False: min(x, axis=axis, keepdims=keepdims)
Tensor.sum = lambda x, axis=None, keepdims=False: sum(x, axis=axis, keepdims=keepdims)
Tensor.mean = lambda x, axis=None, keepdims=False: mean(x, axis=axis, keepdims=keepdims)
Tensor.max = lambda x, axis=None, keepdims=False: max(x, axis=axis, keepdims=keepdims)
Tensor.softmax = lambda x, axis=-1: softmax(x, axis=axis)
Tensor.log_softmax = lambda x, axis=-1: log_softmax(x, axis=axis)
Tensor.reshape, Tensor.transpose = _reshape, _transpose
Tensor.T = property(lambda x: transpose(x))


# -- what each op does, with an example (kept apart so the rule table stays short) ----------
_DOCS = {  # name: (what it does, an example, what the example prints)
    "add": ('x + y, elementwise with numpy broadcasting.',
        'mg.add(mg.tensor([1.0, 2.0]), 10.0).data',
        'array([11., 12.])'),
    "sub": ('x − y, elementwise with broadcasting.',
        '(mg.tensor([1.0, 2.0]) - 1.0).data',
        'array([0., 1.])'),
    "mul": ('x · y, elementwise with broadcasting.',
        '(mg.tensor([1.0, 2.0]) * 3.0).data',
        'array([3., 6.])'),
    "div": ('x / y, elementwise with broadcasting.',
        '(mg.tensor([1.0, 2.0]) / 4.0).data',
        'array([0.25, 0.5 ])'),
    "neg": ('−x.',
        '(-mg.tensor([1.0, -2.0])).data',
        'array([-1.,  2.])'),
    "power": ('x ** c for a constant number c (``x ** 2``).',
        '(mg.tensor([2.0, 3.0]) ** 2).data',
        'array([4., 9.])'),
    "pow": ('x ** y, both differentiable (∂/∂y = x^y log x, taken as 0 where x <= 0).',
        '(mg.tensor([2.0, 3.0]) ** mg.tensor([3.0, 2.0])).data',
        'array([8., 9.])'),
    "exp": ('e^x, elementwise.',
        'mg.exp(mg.tensor([0.0, 1.0])).data',
        'array([1.        , 2.71828183])'),
    "log": ('The natural logarithm, elementwise.',
        'mg.log(mg.tensor([1.0, np.e])).data',
        'array([0., 1.])'),
    "tanh": ('The hyperbolic tangent, elementwise.',
        'mg.tanh(mg.tensor([0.0, 100.0])).data',
        'array([0., 1.])'),
    "sigmoid": ('1 / (1 + e^−x), elementwise, without overflow.',
        'mg.sigmoid(mg.tensor([0.0, -1000.0])).data',
        'array([0.5, 0. ])'),
    "relu": ('max(x, 0), elementwise (the gradient at 0 is 0).',
        'mg.relu(mg.tensor([-1.0, 2.0])).data',
        'array([0., 2.])'),
    "abs": ('|x|, elementwise (the gradient at 0 is 0); also ``abs(t)``.',
        'abs(mg.tensor([-1.5, 2.0])).data',
        'array([1.5, 2. ])'),
    "sqrt": ('√x, elementwise.',
        'mg.sqrt(mg.tensor([4.0, 9.0])).data',
        'array([2., 3.])'),
    "square": ('x², elementwise.',
        'mg.square(mg.tensor([-3.0, 2.0])).data',
        'array([9., 4.])'),
    "clip": ('x limited to [low, high] (either may be None); the gradient passes inside, '
             'boundaries included.',
        'mg.clip(mg.tensor([-2.0, 0.5, 3.0]), -1.0, 1.0).data',
        'array([-1. ,  0.5,  1. ])'),
    "matmul": ("The matrix product x @ y (numpy's rules for 1-d and stacked operands).",
        'mg.matmul(mg.tensor([[1.0, 2.0]]), mg.tensor([3.0, 4.0])).data',
        'array([11.])'),
    "sum": ('The sum over ``axis`` (all by default), ``keepdims`` as in numpy.',
        'mg.sum(mg.tensor([[1.0, 2.0], [3.0, 4.0]]), 0).data',
        'array([4., 6.])'),
    "mean": ('The mean over ``axis`` (all by default).',
        'mg.mean(mg.tensor([[1.0, 2.0], [3.0, 5.0]]), 1).data',
        'array([1.5, 4. ])'),
    "max": ('The maximum over ``axis``; tied maxima share the gradient equally.',
        'mg.max(mg.tensor([[1.0, 5.0], [3.0, 2.0]]), 1).data',
        'array([5., 3.])'),
    "min": ('The minimum over ``axis``; tied minima share the gradient equally.',
        'mg.min(mg.tensor([[1.0, 5.0], [3.0, 2.0]]), 1).data',
        'array([1., 2.])'),
    "reshape": ('x with a new shape (``t.reshape(3, 2)`` too).',
        'mg.reshape(mg.arange(6), (2, 3)).data',
        'array([[0., 1., 2.],\n       [3., 4., 5.]])'),
    "transpose": ('x with its axes permuted (reversed by default; negative axes count from '
                  'the end).',
        'mg.transpose(mg.arange(6).reshape(2, 3)).shape',
        '(3, 2)'),
    "broadcast_to": ('x broadcast to ``shape``; the gradient is summed back.',
        'mg.broadcast_to(mg.tensor([1.0, 2.0]), (2, 2)).data',
        'array([[1., 2.],\n       [1., 2.]])'),
    "getitem": ("x[index], numpy's indexing (basic, integer arrays, boolean masks); repeated "
                "indices add up in the gradient.",
        'mg.getitem(mg.arange(5), [0, 0, 3]).data',
        'array([0., 0., 3.])'),
    "scatter_add": ("zeros(``shape``) with g added at [``index``]: getitem's VJP, whose own "
                    "VJP is a gather.",
        'mg.scatter_add(mg.tensor([1.0, 2.0]), (3,), [2, 2]).data',
        'array([0., 0., 3.])'),
    "softmax": ('exp(x) / Σ exp(x) along ``axis`` (the last by default), stably.',
        'mg.softmax(mg.tensor([0.0, np.log(3.0)])).data',
        'array([0.25, 0.75])'),
    "log_softmax": ('x − log Σ exp(x) along ``axis``, stably.',
        'mg.log_softmax(mg.tensor([0.0, 0.0])).data',
        'array([-0.69314718, -0.69314718])'),
}


for _name, (_summary, _example, _printed) in _DOCS.items():
    globals()[_name].__doc__ = (f"{_summary}\n\n>>> import numpy as np, minigrad as mg\n"
                                f">>> {_example}\n{_printed}\n")
_TABLE_OPEN = False
