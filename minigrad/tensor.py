"""The graph node (`Tensor`), graph recording, and the reverse-mode engine.

Nothing in this module knows any specific op: ops live in :mod:`minigrad.ops`
as (forward, VJP) pairs and are recorded here by :func:`apply`. The backward
pass visits nodes newest first (every tensor is numbered when it is made, after
its inputs, so that order is a topological order; no recursion, no separate
sort), runs an accumulate loop that calls each node's VJP, and undoes
broadcasting in one place. A VJP may hand back a weight's gradient as
outer-product factors (:class:`Outer`), which the loop sums with one matrix
product per chunk instead of one full-matrix addition per use.
:func:`topological_order` gives the same order explicitly, for readers and
drawing code.
"""
from __future__ import annotations

import contextlib
import html
import heapq
import itertools
import threading
from typing import Callable, Iterable, Sequence

import numpy as np

__all__ = [
    "Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled",
    "detect_anomaly", "backward", "zero_grad", "OpError",
]


class OpError(ValueError):
    """An op or the engine rejected what it was given (shapes that do not fit, bad
    indices or targets, a gradient of the wrong shape), naming the op and operands."""


class OpIndexError(OpError, IndexError):
    """An index out of range: an :class:`OpError` that is also an ``IndexError``, so
    Python's iteration protocol stops at it."""


# Per-thread switches, held only for the threads inside no_grad() or detect_anomaly():
# in the common case (none) checking a switch costs one test of an empty dict.
_GRAD_ENABLED: dict[int, bool] = {}  # thread id -> recording on or off
_ANOMALY: dict[int, bool] = {}       # thread id -> anomaly checks on or off
_CREATED = itertools.count()  # creation numbers: every op's inputs are older than its result
_thread = threading.get_ident


def is_grad_enabled() -> bool:
    """Whether new ops are being recorded for differentiation (in this thread)."""
    return not _GRAD_ENABLED or _GRAD_ENABLED.get(_thread(), True)


def _anomaly_on() -> bool:
    return bool(_ANOMALY) and _ANOMALY.get(_thread(), False)


@contextlib.contextmanager
def _switch(table: dict, value: bool):
    me = _thread()
    previous = table.get(me)
    table[me] = value
    try:
        yield
    finally:
        if previous is None:
            del table[me]
        else:
            table[me] = previous


def _grad_mode(enabled: bool):
    return _switch(_GRAD_ENABLED, enabled)


def no_grad():
    """Context manager: ops inside it record no graph (results need no grad).

    >>> import minigrad as mg
    >>> x = mg.tensor(2.0, requires_grad=True)
    >>> with mg.no_grad():
    ...     y = x * x
    >>> y.requires_grad, y.op
    (False, None)
    """
    return _grad_mode(False)


def enable_grad():
    """Context manager: turn recording back on inside a :func:`no_grad` block."""
    return _grad_mode(True)


@contextlib.contextmanager
def detect_anomaly():
    """Context manager: raise at the first op whose forward result or whose
    gradient contains NaN or inf, naming the op and its operands.

    Off by default because it checks every array; like :func:`no_grad`, it holds
    for the thread that enters it.

    >>> import minigrad as mg
    >>> x = mg.tensor([0.0, 1.0], requires_grad=True, name="x")
    >>> with mg.detect_anomaly():
    ...     mg.log(x)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    FloatingPointError: op 'log' produced non-finite values ...
    """
    with _switch(_ANOMALY, True), np.errstate(all="ignore"):
        yield


def _describe(t: "Tensor") -> str:
    name = t.name if t.name is not None else (
        t.op or ("leaf" if t.requires_grad else "constant"))
    return f"{name!r} {t.data.shape} {t.data.dtype}"


SUPPORTED_KINDS = "fiub"  # floating, signed and unsigned integer, boolean


def _supported(array: np.ndarray, what: str) -> np.ndarray:
    if array.dtype.kind not in SUPPORTED_KINDS:
        raise TypeError(f"{what}: dtype {array.dtype} is not supported (minigrad works on "
                        "real floating, integer and boolean arrays)")
    return array


def _checked_name(name):
    if name is not None and not isinstance(name, str):
        raise TypeError(f"a tensor's name must be a string or None, got {name!r} "
                        f"({type(name).__name__})")
    return name


def _leaf(data, requires_grad, name, tags, grad, hooks) -> "Tensor":
    """Rebuild a leaf from its parts (``copy``, ``deepcopy`` and pickle use this)."""
    t = Tensor._make(data, requires_grad, name)
    t.tags, t.grad, t.hooks = tags, grad, hooks
    return t


class Tensor:
    """A node of the computation graph: a numpy array plus how it was made.

    Leaves (``op is None``) are parameters (``requires_grad=True``) or
    constants. Every other tensor remembers the ``op`` that made it, its
    ordered ``inputs`` (an operand used twice appears twice) and the op's
    static ``params``; ``name`` and ``tags`` are free for the user (the RNN
    tags ``h(3)`` with ``{"t": 3, "role": "h"}``).

    After :meth:`backward`, ``grad`` holds ∂output/∂self with exactly
    ``data``'s shape. Gradients accumulate over backward calls (as in
    PyTorch); clear them with :func:`zero_grad` or ``t.grad = None``.

    Arrays a recorded op keeps for its VJP (its operands' and its result's
    ``data``) become read-only, so writing into them after the graph is built
    raises instead of silently changing the gradient. To change a tensor,
    assign a new array (``w.data = w.data - lr * w.grad``): the recorded graph
    keeps the values it was computed from.

    Tensors work with numpy and Python like arrays do: ``np.asarray(t)``,
    ``float(t)``, ``bool(t)`` and ``format(t, ".3f")`` for one element,
    iteration and unpacking along the first axis (each item a differentiable
    ``t[i]``), and comparisons, which give constant boolean tensors.

    >>> import minigrad as mg
    >>> a = mg.tensor([1.0, 2.0], requires_grad=True, name="a")
    >>> loss = (a * a).sum()
    >>> loss.backward()
    >>> a.grad
    array([2., 4.])
    >>> first, second = a
    >>> float(second), (a > 1.5).data
    (2.0, array([False,  True]))
    """

    __slots__ = ("data", "grad", "requires_grad", "name", "tags",
                 "op", "inputs", "params", "vjp", "hooks", "seq", "frozen", "__weakref__")
    __array_ufunc__ = None  # numpy defers to our reflected operators
    __hash__ = object.__hash__  # identity, although == compares values

    def __init__(self, data, requires_grad: bool = False, name: str | None = None,
                 dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        array = _supported(np.array(data, dtype=np.float64 if dtype is None else dtype),
                           f"tensor {name!r}")
        if requires_grad and not np.issubdtype(array.dtype, np.floating):
            raise TypeError(f"tensor {name!r}: requires_grad needs a floating dtype, "
                            f"got {array.dtype}")
        self.data = array
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.name = _checked_name(name)
        self.tags = {}
        self.op = None
        self.inputs = ()
        self.params = None
        self.vjp = None
        self.hooks = None
        self.frozen = None  # the array made read-only when an op saved it (the current data)
        self.seq = next(_CREATED)

    # -- plain attributes ---------------------------------------------------
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    is_leaf = property(lambda self: self.op is None,
                       doc="No recorded op made it: made by the user, or under no_grad().")

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        return self._one("item()").item()

    def numpy(self) -> np.ndarray:
        """The underlying array (not a copy)."""
        return self.data

    # -- Python and numpy protocols -------------------------------------------
    def _one(self, what: str) -> np.ndarray:
        if self.data.size != 1:
            raise TypeError(f"{what} needs a one-element tensor, got {_describe(self)}")
        return self.data

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError(f"len() of 0-d tensor {_describe(self)}")
        return len(self.data)

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError(f"iteration over 0-d tensor {_describe(self)}")
        return (self[i] for i in range(len(self.data)))

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        if copy is False and dtype is not None and np.dtype(dtype) != self.data.dtype:
            raise ValueError(f"np.asarray(copy=False) of {_describe(self)} as {dtype} "
                             "needs a copy")
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def __float__(self):
        return float(self._one("float()").item())

    def __int__(self):
        return int(self._one("int()").item())

    def __bool__(self):
        return bool(self._one("bool() (the truth value)").item())

    def __format__(self, spec: str) -> str:
        if self.data.size == 1:
            return format(self.data.item(), spec)
        if spec:
            raise TypeError(f"format spec {spec!r} needs a one-element tensor, "
                            f"got {_describe(self)}")
        return str(self)

    def _compare(self, other, compare) -> "Tensor":
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._make(np.asarray(compare(self.data, other)), False)

    __eq__ = lambda self, other: self._compare(other, np.equal)
    __ne__ = lambda self, other: self._compare(other, np.not_equal)
    __lt__ = lambda self, other: self._compare(other, np.less)
    __le__ = lambda self, other: self._compare(other, np.less_equal)
    __gt__ = lambda self, other: self._compare(other, np.greater)
    __ge__ = lambda self, other: self._compare(other, np.greater_equal)

    def __reduce_ex__(self, protocol):
        if self.op is not None:
            raise TypeError(f"cannot copy or pickle {_describe(self)}, made by op {self.op!r}: "
                            "a recorded graph holds its VJP closures; copy t.detach() instead")
        return _leaf, (self.data, self.requires_grad, self.name, self.tags, self.grad,
                       self.hooks)

    def __repr__(self):
        return f"Tensor({np.array2string(self.data, precision=4, threshold=8)}, {self._summary()})"

    def _summary(self) -> str:
        parts = [f"shape={self.data.shape}", f"dtype={self.data.dtype}"]
        parts += [f"name={self.name!r}"] if self.name is not None else []
        parts += [f"op={self.op!r}"] if self.op is not None else []
        if self.requires_grad:
            parts += ["requires_grad=True", "grad=" + ("held" if self.grad is not None else "None")]
        return ", ".join(parts)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th>{html.escape(key)}</th><td>{html.escape(value)}</td></tr>"
                       for key, value in (part.split("=", 1) for part in self._summary().split(", ")))
        values = html.escape(np.array2string(self.data, precision=4, threshold=64))
        return f"<table>{rows}</table><pre>{values}</pre>"

    def named(self, name: str, **tags) -> "Tensor":
        """Set the name (and optionally tags) in place and return self, for chaining.

        >>> import minigrad as mg
        >>> mg.tensor(1.0).named("h(0)", t=0, role="h").tags
        {'t': 0, 'role': 'h'}
        """
        self.name = _checked_name(name)
        self.tags.update(tags)
        return self

    def detach(self) -> "Tensor":
        """A new constant leaf sharing this tensor's data, cut from the graph."""
        return Tensor._make(self.data, False, self.name)

    def register_hook(self, hook: Callable[[np.ndarray], np.ndarray | None]) -> None:
        """Call ``hook(grad)`` when this tensor's gradient is complete during a
        backward pass; a non-None return value (of the same shape) replaces the
        gradient. ``grad`` is read-only: return a new array instead of changing it.

        >>> import minigrad as mg
        >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
        >>> x.register_hook(lambda g: 10 * g)
        >>> (x * x).sum().backward()
        >>> x.grad
        array([20., 40.])
        """
        if not callable(hook):
            raise TypeError(f"register_hook on {_describe(self)}: {hook!r} is not callable")
        self.hooks = (self.hooks or ()) + (hook,)

    def backward(self, grad=None, *, retain_graph_grads: bool = True) -> None:
        """Back-propagate from this tensor; see :func:`backward`."""
        backward([self], None if grad is None else [grad],
                 retain_graph_grads=retain_graph_grads)

    @staticmethod
    def _make(data: np.ndarray, requires_grad: bool, name=None) -> "Tensor":
        t = Tensor.__new__(Tensor)
        t.data, t.grad, t.requires_grad, t.name, t.tags = data, None, requires_grad, name, {}
        t.op, t.inputs, t.params, t.vjp, t.hooks, t.frozen = None, (), None, None, None, None
        t.seq = next(_CREATED)
        return t


def tensor(data, requires_grad: bool = False, name: str | None = None, dtype=None) -> Tensor:
    """Make a leaf tensor. Data is copied and becomes float64 unless ``dtype`` says
    otherwise; differentiable tensors must be floating point.

    >>> import minigrad as mg
    >>> W = mg.tensor([[1, 2], [3, 4]], requires_grad=True, name="W")
    >>> W.dtype, W.shape
    (dtype('float64'), (2, 2))
    """
    return Tensor(data, requires_grad=requires_grad, name=name, dtype=dtype)


# -- recording -----------------------------------------------------------------

def apply(op: str, forward: Callable, operands: Sequence, params: dict) -> Tensor:
    """Run one op's forward on the operands' arrays and record the result.

    ``forward(*arrays, **params)`` returns ``(out, vjp)`` where ``vjp(g)`` maps
    the output gradient to one gradient per operand (None where there is none).
    Python numbers and arrays among the operands become constant leaves, typed
    by numpy's promotion rules (an integer tensor plus 0.5 is float64). When
    the result needs a gradient, the arrays its VJP may read (operands and
    result) are made read-only.
    """
    requires_grad = False
    for x in operands:  # one pass decides everything: the common case is all Tensors
        if not isinstance(x, Tensor):
            operands = _with_constants(op, operands)
            requires_grad = any(x.requires_grad for x in operands)
            break
        requires_grad = requires_grad or x.requires_grad
    try:
        out, vjp = forward(*[x.data for x in operands], **params)
    except IndexError as error:
        raise OpIndexError(_failure(op, operands, params, error)) from None
    except ValueError as error:
        raise OpError(_failure(op, operands, params, error)) from None
    if type(out) is not np.ndarray:  # numpy gives 0-d results as scalars
        out = np.asarray(out)
    node = Tensor._make(out, False)
    if not _GRAD_ENABLED or _GRAD_ENABLED.get(_thread(), True):
        # inside no_grad() nothing is recorded: no op, no inputs kept alive
        node.op, node.inputs, node.params = op, tuple(operands), params or None
        if requires_grad:
            node.requires_grad, node.vjp = True, vjp
            out.setflags(write=False)
            node.frozen = out
            for x in operands:
                if x.frozen is not x.data:  # a leaf's first use, or data assigned since
                    x.data.setflags(write=False)
                    x.frozen = x.data
    if _ANOMALY and _anomaly_on():
        _check_finite(out, f"op {op!r} produced non-finite values", operands)
    return node


def _failure(op: str, operands: Sequence[Tensor], params: dict, error: Exception) -> str:
    shapes = ", ".join(_describe(x) for x in operands)
    return f"op {op!r} failed on operands [{shapes}]{' with ' + repr(params) if params else ''}: {error}"


def _with_constants(op: str, operands: Sequence) -> tuple:
    """Operands with numbers and arrays made constant leaves (alone, float64)."""
    like = next((x.data.dtype for x in operands if isinstance(x, Tensor)), np.dtype(np.float64))
    return tuple(x if isinstance(x, Tensor) else _constant(op, x, like) for x in operands)


_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2}


def _constant(op: str, x, like: np.dtype) -> Tensor:
    """A constant operand as an array of the tensors' dtype ``like``, promoted as numpy
    promotes when its kind ranks higher (an integer tensor plus 0.5 is float64), never
    narrowed below its values (an int8 tensor plus 300 is an error), and never changing
    a tensor's precision within its kind (float32 times ``np.float64(2)`` stays float32)."""
    what = f"op {op!r}: constant operand {x!r}"
    try:
        array = _supported(np.asarray(x), what)
    except ValueError as error:  # ragged lists and the like
        raise OpError(f"{what}: {error}") from None
    if _KIND_RANK[array.dtype.kind] > _KIND_RANK[like.kind]:
        return Tensor._make(array.astype(np.result_type(like, array.dtype)), False)
    if array.dtype.kind in "iu" and like.kind in "iu" and array.size:
        info = np.iinfo(like)
        if array.min() < info.min or array.max() > info.max:
            raise OpError(f"{what} does not fit the tensor dtype {like}")
    return Tensor._make(array.astype(like, copy=False), False)


def _check_finite(array: np.ndarray, message: str, inputs: Iterable[Tensor]) -> None:
    if not np.all(np.isfinite(array)):
        raise FloatingPointError(
            f"{message} (operands: {', '.join(_describe(x) for x in inputs)})")


# -- differentiation -----------------------------------------------------------

def topological_order(roots: Sequence[Tensor]) -> list[Tensor]:
    """Nodes that need a gradient, each after all of its inputs (iterative DFS)."""
    order, visited = [], set()
    stack = [(root, False) for root in roots if root.requires_grad]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        stack.extend((x, False) for x in node.inputs if x.requires_grad and x not in visited)
    return order


def unbroadcast(grad: np.ndarray, x: Tensor, node: Tensor) -> np.ndarray:
    """Sum ``grad`` back to ``x``'s shape: the one place broadcasting is undone."""
    shape = x.data.shape
    extra = grad.ndim - len(shape)
    if extra >= 0:
        axes = tuple(range(extra)) + tuple(
            extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
        grad = grad.sum(axis=axes).reshape(shape) if axes else grad
    if grad.shape != shape:
        raise OpError(f"VJP of op {node.op!r} returned a gradient of shape {grad.shape} "
                         f"for operand {_describe(x)}")
    return grad


def backward(outputs: Sequence[Tensor], grads: Sequence | None = None, *,
             retain_graph_grads: bool = True) -> None:
    """Accumulate ∂(Σ outputs·grads)/∂x into ``x.grad`` for every tensor x that
    needs a gradient, in one pass over the shared graph.

    A one-element output's gradient defaults to 1; any other output needs an
    explicit gradient of its shape. With ``retain_graph_grads=False`` only
    leaves keep ``.grad`` (saves memory in training); by default every
    intermediate keeps it too, so ``∂L/∂h(t)`` can be read after backward.
    Inputs, upstream gradients and existing ``.grad`` arrays are never
    mutated, and no two ``.grad`` arrays share memory.

    >>> import minigrad as mg
    >>> x = mg.tensor(3.0, requires_grad=True)
    >>> y, z = x * x, 2 * x
    >>> mg.backward([y, z])
    >>> x.grad
    array(8.)
    """
    if isinstance(outputs, Tensor):
        raise TypeError("backward(outputs, grads) takes a list of outputs; "
                        "for one tensor call t.backward(grad)")
    outputs = list(outputs)
    if grads is not None:
        grads = list(grads)
        if len(grads) != len(outputs):
            raise ValueError(f"backward: {len(outputs)} outputs but {len(grads)} gradients")
    pending: dict[Tensor, np.ndarray | Outer | _Sum] = {}  # gradients still being summed
    # Nodes wait in a heap, newest first. Every consumer of a node is newer than
    # the node, so when a node comes out its gradient is complete.
    waiting: list[tuple[int, Tensor]] = []
    for i, out in enumerate(outputs):
        _accumulate(pending, waiting, out, _seed(out, None if grads is None else grads[i]))

    stored: set[int] = set()  # ids of arrays now held as some .grad
    anomaly = _anomaly_on()
    while waiting:
        node = heapq.heappop(waiting)[1]
        g = pending.pop(node)
        if type(g) is _Sum or type(g) is Outer:
            g = _dense(g)
        if node.hooks:
            g = _run_hooks(node, g)
        if anomaly:
            _check_finite(g, f"gradient reaching {_describe(node)} is non-finite", node.inputs)
        if retain_graph_grads or node.op is None:
            if node.grad is not None:
                node.grad = np.asarray(node.grad + g)
            elif type(g) is np.ndarray and g.base is None and id(g) not in stored:
                node.grad = g
            else:
                node.grad = np.array(g)
            stored.add(id(node.grad))
        if node.vjp is None:
            continue
        gs = node.vjp(g)
        if len(gs) != len(node.inputs):
            raise OpError(f"VJP of op {node.op!r} returned {len(gs)} gradients for "
                          f"{len(node.inputs)} operands")
        for x, gx in zip(node.inputs, gs):
            if gx is not None and x.requires_grad:
                if anomaly:
                    gx = _dense(gx)
                    _check_finite(gx, f"VJP of op {node.op!r} gave a non-finite gradient for "
                                  f"{_describe(x)}", node.inputs)
                if gx.shape != x.data.shape:
                    gx = unbroadcast(gx, x, node)
                _accumulate(pending, waiting, x, gx)


def _seed(out: Tensor, grad) -> np.ndarray:
    """The gradient a backward pass starts from at ``out``: 1, or the given one."""
    if not isinstance(out, Tensor):
        raise TypeError(f"backward from {out!r}, which is not a Tensor")
    if not out.requires_grad:
        raise RuntimeError(f"backward from {_describe(out)}, which does not require grad "
                           "(made from constants, or inside no_grad())")
    if grad is None:
        if out.data.size != 1:
            raise RuntimeError(f"backward from non-scalar {_describe(out)} needs an explicit "
                               "gradient of the same shape")
        return np.ones_like(out.data)
    g = _supported(np.asarray(grad.data if isinstance(grad, Tensor) else grad),
                   f"gradient given for {_describe(out)}")
    if g.shape != out.data.shape:
        raise OpError(f"gradient of shape {g.shape} given for {_describe(out)}")
    return np.array(g, dtype=out.data.dtype)


def _run_hooks(node: Tensor, g: np.ndarray) -> np.ndarray:
    """Each hook sees a read-only view of the gradient; what it returns replaces it."""
    for hook in node.hooks:
        view = g.view()
        view.setflags(write=False)
        replaced = hook(view)
        if replaced is not None:
            replaced = np.asarray(replaced.data if isinstance(replaced, Tensor) else replaced)
            if replaced.shape != g.shape or replaced.dtype.kind not in "fiub":
                raise OpError(f"hook {getattr(hook, '__name__', hook)!r} on {_describe(node)} "
                              f"returned a {replaced.dtype} gradient of shape {replaced.shape}; "
                              f"expected {g.dtype} of shape {g.shape}")
            g = replaced.astype(g.dtype, copy=False)
    return g


def _accumulate(pending: dict, waiting: list, x: Tensor, g) -> None:
    previous = pending.get(x)
    if previous is None:  # the common case: one consumer, nothing to add
        pending[x] = g
        heapq.heappush(waiting, (-x.seq, x))
    elif type(previous) is _Sum:
        previous.add(g)
    else:
        pending[x] = _Sum(previous, g)


class Outer:
    """A gradient given as a sum of outer products, Σ_i u_i v_iᵀ over the rows of
    ``u`` (k×m) and ``v`` (k×n), not yet multiplied out: the matmul VJP's
    ``g(t) h(t-1)ᵀ`` for a weight when the batch is small. Adding τ of them one
    by one costs τ outer products and τ additions of a full matrix; the engine
    stacks the rows instead and multiplies once per ``OUTER_CHUNK`` rows:
    Σ_t g(t) h(t)ᵀ = [g(1) … g(τ)] [h(1) … h(τ)]ᵀ, one BLAS call."""

    __slots__ = ("u", "v", "shape")

    def __init__(self, u: np.ndarray, v: np.ndarray):
        self.u, self.v, self.shape = u, v, (u.shape[1], v.shape[1])


OUTER_CHUNK = 256  # rows of stacked factors multiplied out at once


def outer_sum(g: np.ndarray, y: np.ndarray):
    """``g yᵀ`` for matrices g (m×k) and y (n×k), or vectors (k = 1): an
    :class:`Outer` gradient when the product is much bigger than its factors (m
    and n at least 4k; vectors of 16 or more), where one product per use would
    spend its time writing and adding m×n results; else the product itself."""
    m, n = g.shape[0], y.shape[0]
    if g.ndim == 1:
        return Outer(g[None, :], y[None, :]) if m >= 16 and n >= 16 else g[:, None] * y
    k = 4 * g.shape[1]
    return Outer(g.T, y.T) if m >= k and n >= k else g @ y.T


def _dense(g) -> np.ndarray:
    return g.u.T @ g.v if type(g) is Outer else g.total() if type(g) is _Sum else g


class _Sum:
    """A gradient with several contributions being summed: a dense part (added in
    place once this pass owns it) and :class:`Outer` terms waiting to be multiplied out."""

    __slots__ = ("dense", "owned", "us", "vs", "rows")

    def __init__(self, *terms):
        self.dense, self.owned, self.us, self.vs, self.rows = None, False, [], [], 0
        for g in terms:
            self.add(g)

    def add(self, g) -> None:
        if type(g) is Outer:
            self.us.append(g.u)
            self.vs.append(g.v)
            self.rows += g.u.shape[0]
            if self.rows >= OUTER_CHUNK:
                self._add_dense(self._multiply_out())
        else:
            self._add_dense(g)

    def _add_dense(self, g) -> None:
        if self.dense is None:
            self.dense = g
        elif self.owned:
            np.add(self.dense, g, out=self.dense)
        else:
            self.dense, self.owned = np.asarray(self.dense + g), True

    def _multiply_out(self) -> np.ndarray:
        us, vs = self.us, self.vs
        self.us, self.vs, self.rows = [], [], 0
        return (us[0] if len(us) == 1 else np.concatenate(us)).T @ (
            vs[0] if len(vs) == 1 else np.concatenate(vs))

    def total(self) -> np.ndarray:
        if self.us:
            self._add_dense(self._multiply_out())
        return self.dense


def zero_grad(tensors: Iterable[Tensor]) -> None:
    """Forget accumulated gradients (``t.grad = None``) of the given tensors."""
    for t in tensors:
        t.grad = None
