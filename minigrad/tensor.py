"""The graph node (`Tensor`), graph recording, and the reverse-mode engine.

Nothing in this module knows any specific op: ops live in :mod:`minigrad.ops`
as (forward, VJP) pairs and are recorded here by :func:`apply`. The backward
pass (``_walk``, behind :func:`backward` and :func:`grad`) visits nodes
newest first (every tensor is numbered when it is made, after its inputs, so
that order is a topological order; no recursion, no separate sort), runs an
accumulate loop that calls each node's VJP, and undoes broadcasting in one
place. VJPs run on the saved arrays, or, with ``create_graph=True``, on the
graph's Tensors, so that the backward pass is itself recorded. A VJP may hand
back a :class:`LazyGradient`, which the loop sums by its own ``add``.
"""
from __future__ import annotations

import contextlib
import html
import heapq
import itertools
import threading
from typing import Callable, Iterable, NamedTuple, Sequence

import numpy as np

from minigrad.collector import collection_paused

__all__ = [
    "Tensor", "tensor", "zeros", "ones", "arange", "randn", "no_grad", "enable_grad", "is_grad_enabled", "observe_backward",
    "BackwardEvent", "grad", "LazyGradient",
    "detect_anomaly", "backward", "zero_grad", "OpError", "OpIndexError", "apply", "unbroadcast",
    "topological_order",
]


class OpError(ValueError):
    """An op or the engine rejected what it was given (shapes that do not fit, bad
    indices or targets, a gradient of the wrong shape), naming the op and operands.

    >>> import minigrad as mg
    >>> try:
    ...     mg.tensor([1.0, 2.0], name="x") @ mg.tensor([1.0, 2.0, 3.0], name="y")
    ... except mg.OpError as error:
    ...     print(str(error)[:60])
    op 'matmul' failed on operands ['x' (2,) float64, 'y' (3,) f
    """


class OpIndexError(OpError, IndexError):
    """An index out of range: an :class:`OpError` that is also an ``IndexError``, so
    Python's iteration protocol stops at it."""


# Per-thread switches, held only for the threads inside no_grad() or detect_anomaly():
# in the common case (none) checking a switch costs one test of an empty dict.
_GRAD_ENABLED: dict[int, bool] = {}  # thread id -> recording on or off
_ANOMALY: dict[int, bool] = {}       # thread id -> anomaly checks on or off
_OBSERVERS: dict[int, Callable] = {} # thread id -> the backward-pass observer
_CREATED = itertools.count()  # creation numbers: every op's inputs are older than its result
_thread = threading.get_ident


def is_grad_enabled() -> bool:
    """Whether new ops are being recorded for differentiation (in this thread).

    >>> import minigrad as mg
    >>> with mg.no_grad():
    ...     mg.is_grad_enabled()
    False
    """
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
    """Context manager: turn recording back on inside a :func:`no_grad` block.

    >>> import minigrad as mg
    >>> x = mg.tensor(1.0, requires_grad=True)
    >>> with mg.no_grad(), mg.enable_grad():
    ...     (x * 2).requires_grad
    True
    """
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


class BackwardEvent(NamedTuple):
    """One step of a backward pass as an observer sees it (arrays are read-only copies
    or views, so observing changes nothing).

    ``kind`` is ``"visit"`` (``node`` comes out of the queue with its complete
    gradient ``grad``, before its hooks), ``"hook"`` (a hook on ``node`` replaced
    ``before`` by ``grad``) or ``"send"`` (``node``'s VJP sends ``grad``, summed
    back to the operand's shape, to ``input``, its operand number ``index``).

    >>> import minigrad as mg
    >>> mg.BackwardEvent("visit", mg.tensor(1.0), mg.tensor(1.0).data).kind
    'visit'
    """
    kind: str
    node: "Tensor"
    grad: np.ndarray
    input: "Tensor | None" = None
    index: int | None = None
    before: np.ndarray | None = None


@contextlib.contextmanager
def observe_backward(observer: Callable[[BackwardEvent], None]):
    """Context manager: call ``observer(event)`` at every step of every backward pass
    this thread runs inside it, in the engine's order (see :class:`BackwardEvent`).
    Observing records nothing and changes no gradient; off, it costs one test of an
    empty dict per backward pass.

    >>> import minigrad as mg
    >>> x = mg.tensor(2.0, requires_grad=True, name="x")
    >>> y = (x * x).named("y")
    >>> events = []
    >>> with mg.observe_backward(events.append):
    ...     y.backward()
    >>> [(e.kind, e.node.name, float(e.grad)) for e in events]
    [('visit', 'y', 1.0), ('send', 'y', 2.0), ('send', 'y', 2.0), ('visit', 'x', 4.0)]
    """
    if not callable(observer):
        raise TypeError(f"observe_backward: {observer!r} is not callable")
    me = _thread()
    if me in _OBSERVERS:
        raise RuntimeError("observe_backward: this thread already has an observer")
    _OBSERVERS[me] = observer
    try:
        yield
    finally:
        del _OBSERVERS[me]


def _shown(g) -> np.ndarray:
    """A read-only look at a gradient (array, Tensor or lazy) for an observer."""
    array = g.data if isinstance(g, Tensor) else (
        g.dense() if isinstance(g, LazyGradient) else np.asarray(g))
    view = array.view()
    view.setflags(False)
    return view


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


def _check_range(source: np.ndarray, kind: np.dtype, name) -> None:
    """OverflowError naming the tensor and the first value of ``source`` that ``kind``
    cannot hold (out of its range; NaN and infinities for integers)."""
    number, info = (int, np.iinfo) if kind.kind in "iu" else (float, np.finfo)
    low, high = number(info(kind).min), number(info(kind).max)  # exact comparisons
    flat = source.ravel()
    inside = np.asarray((flat >= low) & (flat <= high), dtype=bool)  # NaN is not inside
    if not inside.all():
        raise OverflowError(f"tensor {name!r}: {flat[~inside].tolist()[0]} is outside "
                            f"{kind}'s range {low}..{high}")


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
                 "op", "inputs", "params", "vjp", "saved", "hooks", "seq", "frozen",
                 "__weakref__")
    __array_ufunc__ = None  # numpy defers to our reflected operators
    __hash__ = object.__hash__  # identity, although == compares values

    def __init__(self, data, requires_grad: bool = False, name: str | None = None,
                 dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        source = np.asarray(data)
        if source.dtype.kind == "c":  # numpy would drop the imaginary part, or fail unnamed
            values = np.array2string(source.ravel(), threshold=6, separator=", ")
            _supported(source, f"tensor {name!r} from a {type(data).__name__} of shape "
                       f"{source.shape}, values {values}")
        kind = np.dtype(np.float64 if dtype is None else dtype)
        try:
            with np.errstate(invalid="ignore"):  # NaN cast to integers: refused below
                array = _supported(np.array(data, dtype=kind), f"tensor {name!r}")
        except OverflowError:  # numpy's names no tensor, at times no value
            array = None
        if array is None or (kind.kind in "iu" and source.dtype.kind in "iufO" and source.size):
            _check_range(source, kind, name)  # an array is cast unchecked: 300 would be 44
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
        self.saved = None
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
        summary = ", ".join(f"{key}={value}" for key, value in self._summary())
        return f"Tensor({np.array2string(self.data, precision=4, threshold=8)}, {summary})"

    def _summary(self) -> list[tuple[str, str]]:
        parts = [("shape", str(self.data.shape)), ("dtype", str(self.data.dtype))]
        parts += [("name", repr(self.name))] if self.name is not None else []
        parts += [("op", repr(self.op))] if self.op is not None else []
        if self.requires_grad:
            parts += [("requires_grad", "True"),
                      ("grad", "held" if self.grad is not None else "None")]
        return parts

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th>{key}</th><td>{html.escape(value)}</td></tr>"
                       for key, value in self._summary())
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

    def backward(self, grad=None, *, create_graph: bool = False,
                 keep_intermediate_grads: bool = True) -> None:
        """Back-propagate from this tensor; see :func:`backward`."""
        backward([self], None if grad is None else [grad], create_graph=create_graph,
                 keep_intermediate_grads=keep_intermediate_grads)

    @staticmethod
    def _make(data: np.ndarray, requires_grad: bool, name=None) -> "Tensor":
        t = Tensor.__new__(Tensor)
        t.data, t.grad, t.requires_grad, t.name, t.tags = data, None, requires_grad, name, {}
        t.op, t.inputs, t.params, t.vjp, t.saved, t.hooks, t.frozen = (
            None, (), None, None, None, None, None)
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


def zeros(shape, requires_grad: bool = False, name: str | None = None, dtype=None) -> Tensor:
    """A leaf of zeros (float64 unless ``dtype`` says otherwise).

    >>> import minigrad as mg
    >>> mg.zeros((2, 3), requires_grad=True).grad is None
    True
    """
    return Tensor(np.zeros(shape), requires_grad=requires_grad, name=name, dtype=dtype)


def ones(shape, requires_grad: bool = False, name: str | None = None, dtype=None) -> Tensor:
    """A leaf of ones (float64 unless ``dtype`` says otherwise).

    >>> import minigrad as mg
    >>> mg.ones(3).data
    array([1., 1., 1.])
    """
    return Tensor(np.ones(shape), requires_grad=requires_grad, name=name, dtype=dtype)


def arange(*args, requires_grad: bool = False, name: str | None = None, dtype=None) -> Tensor:
    """``np.arange(*args)`` as a leaf (float64 unless ``dtype`` says otherwise).

    >>> import minigrad as mg
    >>> mg.arange(1, 4).data, mg.arange(3, dtype=int).data
    (array([1., 2., 3.]), array([0, 1, 2]))
    """
    return Tensor(np.arange(*args), requires_grad=requires_grad, name=name, dtype=dtype)


def randn(*shape, seed=None, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """A leaf of standard normal float64 samples from ``np.random.default_rng(seed)``.

    >>> import minigrad as mg
    >>> mg.randn(2, 3, seed=0).shape, float(mg.randn(seed=0)) == float(mg.randn(seed=0))
    ((2, 3), True)
    """
    shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    return Tensor(np.random.default_rng(seed).standard_normal(shape),
                  requires_grad=requires_grad, name=name)


# -- recording -----------------------------------------------------------------

def apply(op: str, forward: Callable, operands: Sequence, params: dict) -> Tensor:
    """Run one op's forward on the operands' arrays and record the result.

    ``forward(*arrays, **params)`` returns ``(out, vjp)`` where ``vjp(g, out,
    *operands)`` maps the output gradient to one gradient per operand (None where
    there is none); the node keeps ``out`` and the operands' arrays for it.
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
    arrays = [x.data for x in operands]
    try:
        out, vjp = forward(*arrays, **params)
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
            # what the VJP runs on, vjp(g, out, *operands): a tuple of arrays, which the
            # cyclic garbage collector stops tracking at its first pass (a list it never would)
            node.requires_grad, node.vjp, node.saved = True, vjp, (out, *arrays)
            out.setflags(False)  # positional: half the cost of write=False
            node.frozen = out
            for x in operands:
                if x.frozen is not x.data:  # a leaf's first use, or data assigned since
                    x.data.setflags(False)
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
    # a copy when it is the caller's own array: recording makes saved arrays read-only
    return Tensor._make(array.astype(like, copy=array is x), False)


def _check_finite(array: np.ndarray, message: str, inputs: Iterable[Tensor]) -> None:
    if not np.all(np.isfinite(array)):
        raise FloatingPointError(
            f"{message} (operands: {', '.join(_describe(x) for x in inputs)})")


# -- differentiation -----------------------------------------------------------

def topological_order(roots: Sequence[Tensor]) -> list[Tensor]:
    """Nodes that need a gradient, each after all of its inputs (iterative DFS).

    The backward pass does not call this (it orders nodes by creation number, which
    is a topological order too); it is for readers and tests that want the list."""
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


def unbroadcast(grad, x: Tensor, node: Tensor):
    """Sum ``grad`` (an array, or a Tensor under ``create_graph``) back to ``x``'s
    shape: the one place broadcasting is undone."""
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


class LazyGradient:
    """A gradient a VJP hands back unevaluated, for the engine to sum cheaply: it has
    ``shape`` and ``dtype``, ``add(other)`` (another of its kind) returning the sum, and
    ``dense()`` returning the array. The engine calls nothing else; the op table's
    are in :mod:`minigrad.lazy` (a weight's g hᵀ over many steps, a gathered
    matrix's columns).

    >>> import numpy as np, minigrad as mg
    >>> from minigrad.lazy import Outer
    >>> isinstance(Outer(np.ones((1, 2)), np.ones((1, 3))), mg.LazyGradient)
    True
    """

    __slots__ = ()


def backward(outputs: Sequence[Tensor], grads: Sequence | None = None, *,
             create_graph: bool = False, keep_intermediate_grads: bool = True) -> None:
    """Accumulate ∂(Σ outputs·grads)/∂x into ``x.grad`` for every tensor x that
    needs a gradient, in one pass over the shared graph.

    A one-element output's gradient defaults to 1; any other output needs an
    explicit gradient of its shape (an array or a Tensor). By default every
    intermediate keeps its gradient too, so ``∂L/∂h(t)`` can be read after
    backward; ``keep_intermediate_grads=False`` keeps only the leaves' (saves
    memory in training). Inputs, upstream gradients and existing ``.grad``
    arrays are never mutated, and no two ``.grad`` arrays share memory. With
    ``create_graph=True`` the rules run on Tensors: the backward pass is
    recorded, and ``.grad`` holds Tensors that can be differentiated again.

    >>> import minigrad as mg
    >>> x = mg.tensor(3.0, requires_grad=True)
    >>> y, z = x * x, 2 * x
    >>> mg.backward([y, z])
    >>> x.grad
    array(8.)
    """
    stored: set[int] = set()  # ids of arrays now held as some .grad

    def store(node: Tensor, g) -> None:
        if node.grad is None:
            if type(g) is np.ndarray and g.base is None and id(g) not in stored:
                node.grad = g  # a fresh array no other .grad holds: no copy
            else:
                node.grad = g if isinstance(g, Tensor) else np.array(g)
        elif isinstance(g, Tensor) or isinstance(node.grad, Tensor):
            node.grad = node.grad + g
        else:
            node.grad = np.asarray(node.grad + g)
        stored.add(id(node.grad))

    _walk(outputs, grads, create_graph, store, store_all=keep_intermediate_grads)


def grad(outputs, inputs, grad_outputs=None, *, create_graph: bool = False,
         allow_unused: bool = False):
    """The gradients ∂(Σ outputs·grad_outputs)/∂input as Tensors, one per input,
    without touching any ``.grad`` (PyTorch's ``autograd.grad``).

    ``outputs`` and ``inputs`` are a Tensor or a sequence of them; a single input
    gives a single gradient, a sequence a tuple. With ``create_graph=True`` the
    gradients are recorded functions of the inputs, to differentiate again. An
    input the outputs do not depend on is an error unless ``allow_unused=True``,
    which gives it zeros.

    >>> import minigrad as mg
    >>> x = mg.tensor(3.0, requires_grad=True)
    >>> dy = mg.grad(x ** 3, x, create_graph=True)   # 3x² = 27
    >>> d2y = mg.grad(dy, x)                         # 6x = 18
    >>> float(dy), float(d2y), x.grad is None
    (27.0, 18.0, True)
    """
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if isinstance(outputs, Tensor):
        outputs, grad_outputs = [outputs], None if grad_outputs is None else [grad_outputs]
    for x in inputs:
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise ValueError(f"grad: input {x!r} does not require grad")
    wanted, found = set(inputs), {}

    def store(node: Tensor, g) -> None:
        if node in wanted:
            found[node] = g

    _walk(outputs, grad_outputs, create_graph, store)
    results = []
    for x in inputs:
        g = found.get(x)
        if g is None and not allow_unused:
            raise ValueError(f"grad: the outputs do not depend on {_describe(x)} "
                             "(allow_unused=True gives zeros)")
        g = np.zeros_like(x.data) if g is None else g
        results.append(g if isinstance(g, Tensor) else Tensor._make(np.array(g), False))
    return results[0] if single else tuple(results)


def _walk(outputs, grads, create_graph: bool, store: Callable, store_all: bool = True,
          floor: int = -1) -> None:
    """The one backward pass: every node's gradient, complete, handed to ``store``
    (only the leaves' unless ``store_all``; a node made before creation number
    ``floor`` is handed to ``store`` as it is, without its hooks or its VJP).

    Nodes wait in a heap, newest first. Every consumer of a node is newer than the
    node, so when a node comes out its gradient is complete: hooks run, then
    ``store``, then its VJP sends one gradient to each input. Under
    ``create_graph``, ``detect_anomaly`` or an observer, ``watch`` adds their work.
    Automatic garbage collection waits until the pass ends (see
    :mod:`minigrad.collector`): under ``create_graph`` and in a checkpoint's
    recomputation the pass builds a graph, whose nodes it would otherwise scan."""
    pending, waiting = _start(outputs, grads, create_graph)
    anomaly = _anomaly_on()
    observer = _OBSERVERS.get(_thread()) if _OBSERVERS else None
    watch = (create_graph, anomaly, observer) if create_graph or anomaly or observer else None
    heappop, heappush = heapq.heappop, heapq.heappush
    with collection_paused(), _grad_mode(True) if create_graph else contextlib.nullcontext():
        while waiting:
            node = heappop(waiting)[1]
            g = pending.pop(node)
            if type(g) not in _SUMMED:  # a _Sum or a LazyGradient
                g = _dense(g)
            if node.seq < floor:  # outside an inner pass (see _inner_pass)
                store(node, g)
                continue
            if watch:
                _watch_visit(node, g, anomaly, observer)
            if node.hooks:
                g = _run_hooks(node, g, observer)
            if store_all or node.op is None:
                store(node, g)
            if node.vjp is None:
                continue
            # the VJP, and what it sends to each input (inline: this loop is the hot path)
            try:
                gs = node.vjp(g, *(_recorded(node) if create_graph else node.saved))
            except (OpError, FloatingPointError):
                raise
            except Exception as error:
                raise OpError(f"VJP of op {node.op!r} on operands [{_operands(node)}] raised "
                              f"{type(error).__name__}: {error}") from error
            if len(gs) != len(node.inputs):
                raise OpError(f"VJP of op {node.op!r} returned {len(gs)} gradients for "
                              f"{len(node.inputs)} operands [{_operands(node)}]")
            if watch:
                gs = _watch_sends(node, gs, *watch)
            for x, gx in zip(node.inputs, gs):
                if gx is None or not x.requires_grad:
                    continue
                data = x.data
                if gx.shape != data.shape:
                    gx = unbroadcast(gx, x, node)
                if gx.dtype is not data.dtype and gx.dtype != data.dtype:
                    raise OpError(f"VJP of op {node.op!r} returned a {gx.dtype} gradient for "
                                  f"operand {_describe(x)}")
                if x in pending:
                    _accumulate(pending, waiting, x, gx)
                else:  # _accumulate's common case, inline: a first contribution
                    pending[x] = gx
                    heappush(waiting, (-x.seq, x))


def _inner_pass(outputs, grads, create_graph: bool, store: Callable, floor: int) -> None:
    """A backward pass run from inside another pass's VJP (a checkpoint's segment):
    only nodes made at or after ``floor`` are walked; older ones reach ``store`` with
    their gradient and are not expanded, and the thread's observer does not see the
    pass (it sees the segment's one node in the outer pass)."""
    me = _thread()
    observer = _OBSERVERS.pop(me, None)
    try:
        _walk(outputs, grads, create_graph, store, floor=floor)
    finally:
        if observer is not None:
            _OBSERVERS[me] = observer


def _now() -> int:
    """A creation number: every tensor made after this call has a larger one."""
    return next(_CREATED)


def _start(outputs, grads, create_graph: bool) -> tuple[dict, list]:
    """The pending gradients (by node, still being summed) and the heap of waiting nodes
    at the start of a pass: each output seeded with its gradient."""
    if isinstance(outputs, Tensor):
        raise TypeError("backward(outputs, grads) takes a list of outputs; "
                        "for one tensor call t.backward(grad)")
    outputs = list(outputs)
    grads = [None] * len(outputs) if grads is None else list(grads)
    if len(grads) != len(outputs):
        raise ValueError(f"backward: {len(outputs)} outputs but {len(grads)} gradients")
    pending: dict[Tensor, object] = {}
    waiting: list[tuple[int, Tensor]] = []
    for out, g in zip(outputs, grads):
        _accumulate(pending, waiting, out, _seed(out, g, create_graph))
    return pending, waiting


def _operands(node: Tensor) -> str:
    return ", ".join(_describe(x) for x in node.inputs)


def _watch_visit(node: Tensor, g, anomaly: bool, observer) -> None:
    """The checks and events of a node coming out with its complete gradient."""
    if observer:
        observer(BackwardEvent("visit", node, _shown(g)))
    if anomaly:
        _check_finite(_array(g), f"gradient reaching {_describe(node)} is non-finite",
                      node.inputs)


def _watch_sends(node: Tensor, gs, create_graph: bool, anomaly: bool, observer) -> list:
    """A VJP's outputs outside an ordinary pass: made Tensors under create_graph,
    checked under detect_anomaly, shown to the observer, in operand order."""
    gs = list(gs)
    for i, (x, gx) in enumerate(zip(node.inputs, gs)):
        if gx is None or not x.requires_grad:
            continue
        if create_graph and not isinstance(gx, Tensor):
            gx = Tensor._make(np.asarray(gx), False)
        if anomaly:
            gx = gx if create_graph else _dense(gx)
            _check_finite(_array(gx), f"VJP of op {node.op!r} gave a non-finite gradient for "
                          f"{_describe(x)}", node.inputs)
        if observer:
            shape = x.data.shape
            observer(BackwardEvent("send", node, _shown(gx if gx.shape == shape else
                                                        unbroadcast(gx, x, node)), x, i))
        gs[i] = gx
    return gs


def _recorded(node: Tensor) -> tuple:
    """The Tensors a VJP runs on under ``create_graph``: the result and the operands,
    which must still hold the arrays the op saw."""
    for t, saved in zip((node, *node.inputs), node.saved):
        if t.data is not saved:
            raise OpError(f"{_describe(t)} was assigned new data after op {node.op!r} "
                          f"recorded it (in node {_describe(node)}); a backward pass with "
                          "create_graph=True needs the recorded values (recompute the graph)")
    return (node, *node.inputs)


def _array(g) -> np.ndarray:
    return g.data if isinstance(g, Tensor) else _dense(g)


def _seed(out: Tensor, grad, create_graph: bool):
    """The gradient a backward pass starts from at ``out``: 1, or the given one (kept
    as a Tensor under ``create_graph``, so the result can depend on it)."""
    if not isinstance(out, Tensor):
        raise TypeError(f"backward from {out!r}, which is not a Tensor")
    if not out.requires_grad:
        raise RuntimeError(f"backward from {_describe(out)}, which does not require grad "
                           "(made from constants, or inside no_grad())")
    if grad is None:
        if out.data.size != 1:
            raise RuntimeError(f"backward from non-scalar {_describe(out)} needs an explicit "
                               "gradient of the same shape")
        g = np.ones_like(out.data)
    else:
        g = _supported(np.asarray(grad.data if isinstance(grad, Tensor) else grad),
                       f"gradient given for {_describe(out)}")
        if g.shape != out.data.shape:
            raise OpError(f"gradient of shape {g.shape} given for {_describe(out)}")
        if create_graph and isinstance(grad, Tensor) and grad.data.dtype == out.data.dtype:
            return grad
        g = np.array(g, dtype=out.data.dtype)
    return Tensor._make(g, False) if create_graph else g


def _run_hooks(node: Tensor, g, observer=None):
    """Each hook sees a read-only view of the gradient; what it returns replaces it."""
    for hook in node.hooks:
        view = g
        if not isinstance(g, Tensor):
            view = g.view()
            view.setflags(False)
        replaced = hook(view)
        if replaced is not None:
            if not isinstance(g, Tensor) or not isinstance(replaced, Tensor):
                replaced = np.asarray(replaced.data if isinstance(replaced, Tensor) else replaced)
            if replaced.shape != g.shape or replaced.dtype.kind not in "fiub":
                raise OpError(f"hook {getattr(hook, '__name__', hook)!r} on {_describe(node)} "
                              f"returned a {replaced.dtype} gradient of shape {replaced.shape}; "
                              f"expected {g.dtype} of shape {g.shape}")
            if observer:
                before = _shown(g)
            g = replaced if isinstance(replaced, Tensor) else _like(replaced, g)
            if observer:
                observer(BackwardEvent("hook", node, _shown(g), before=before))
    return g


def _like(array: np.ndarray, g):
    array = array.astype(g.dtype, copy=False)
    return Tensor._make(array, False) if isinstance(g, Tensor) else array


def _accumulate(pending: dict, waiting: list, x: Tensor, g) -> None:
    previous = pending.get(x)
    if previous is None:  # the common case: one consumer, nothing to add
        pending[x] = g
        heapq.heappush(waiting, (-x.seq, x))
    elif type(previous) is _Sum:
        previous.add(g)
    elif isinstance(previous, Tensor):  # create_graph: the sum is recorded too
        pending[x] = previous + g
    else:
        pending[x] = _Sum(previous, g)


_SUMMED = frozenset({np.ndarray, np.float64, np.float32, Tensor})  # gradients summed already


def _dense(g) -> np.ndarray:
    return g.total() if type(g) is _Sum else g.dense() if isinstance(g, LazyGradient) else (
        np.asarray(g))


class _Sum:
    """A gradient with several contributions being summed: a dense part (added in
    place once this pass owns it) and a :class:`LazyGradient` part of each kind."""

    __slots__ = ("dense", "owned", "lazy")

    def __init__(self, *terms):
        self.dense, self.owned, self.lazy = None, False, {}
        for g in terms:
            self.add(g)

    def add(self, g) -> None:
        if isinstance(g, LazyGradient):
            held = self.lazy.get(type(g))
            self.lazy[type(g)] = g if held is None else held.add(g)
        elif self.dense is None:
            self.dense = g
        elif self.owned:
            np.add(self.dense, g, out=self.dense)
        else:
            self.dense, self.owned = np.asarray(self.dense + g), True

    def total(self) -> np.ndarray:
        total = self.dense
        for lazy in self.lazy.values():
            part = lazy.dense()
            total = part if total is None else np.add(part, total, out=part)
        return total


def zero_grad(tensors: "Tensor | Iterable[Tensor] | dict") -> None:
    """Forget accumulated gradients (``t.grad = None``) of a tensor, of the tensors in
    an iterable, or of a dict's values (``model.parameters()``).

    >>> import minigrad as mg
    >>> w = mg.tensor(1.0, requires_grad=True)
    >>> (w * 3).backward()
    >>> mg.zero_grad(w); w.grad is None
    True
    """
    tensors = [tensors] if isinstance(tensors, Tensor) else (
        tensors.values() if isinstance(tensors, dict) else tensors)
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"zero_grad: {t!r} is not a Tensor")
        t.grad = None
