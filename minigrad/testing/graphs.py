"""Random computation graphs over minigrad's op table, as Hypothesis strategies.

A :class:`Program` is a list of :class:`Step` s: step k makes node k from
earlier nodes (a leaf, or an op on nodes and constants). Programs have fan-out
(a node feeds several steps), broadcasting, operands used twice (``x * x``,
``concat([x, x])``), every form of call (function ``mg.exp(x)``, method
``x.exp()``, operator ``x + y``, a constant on either side ``2.0 - x``, a
Tensor as an index or as a gradient, iteration ``list(x)[k]``), negative axes,
indices of every integer dtype, boolean masks, exponents 0 and 1, and size-0
arrays. The generator keeps every op in its domain (log of values ≥ 0.1,
denominators ≥ 0.25 in magnitude, ...) and every value within ``LIMIT``.

A program is engine-neutral: :func:`evaluate` runs it with any table of rules
(:func:`array_rules` over numpy or a numpy-like module such as
``autograd.numpy``), and :func:`run_minigrad` runs it with minigrad, calling
each op in the step's form. Its loss is ``Σ_k <weights[k], node[outputs[k]]>``
over the nodes no step consumes, so every node matters.

>>> import numpy as np
>>> from hypothesis import given, settings
>>> from minigrad.testing.graphs import evaluate, programs, run_minigrad
>>> @settings(max_examples=10)
... @given(programs())
... def test_minigrad_values_match_numpy(program):
...     nodes, grads = run_minigrad(program)
...     for node, value in zip(nodes, evaluate(program)):
...         np.testing.assert_allclose(node.data, value, rtol=1e-10, atol=1e-10)
>>> test_minigrad_values_match_numpy()
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad.testing.strategies import (arrays, axes, exponents, index_arrays, indices,
                                         transpose_axes)

__all__ = ["Step", "Program", "OPS", "LIMIT", "FORMS", "steps", "programs", "array_rules",
           "scatter_matrix", "evaluate", "call_minigrad", "run_minigrad", "tensor_index"]

LIMIT = 1e4  # steps whose values leave [-LIMIT, LIMIT] (or are not finite) are not made
BINARY = ("add", "sub", "mul", "div")
UNARY = ("exp", "log", "tanh", "sigmoid", "relu", "abs", "sqrt", "square")
REDUCTIONS = ("sum", "mean", "max", "min")
OPS = ("neg", *BINARY, "power", "pow", *UNARY, "clip", "matmul", *REDUCTIONS, "softmax",
       "log_softmax", "cross_entropy", "reshape", "transpose", "broadcast_to", "getitem",
       "scatter_add", "concat", "stack", "where")
"""Every op the generator makes: each rule of ``minigrad.RULES``, by its public name."""


@dataclass
class Step:
    """How node k is made. ``op`` is ``"leaf"`` (``params["value"]``) or a name in
    :data:`OPS`; ``args`` are earlier nodes in operand order (one may appear twice);
    ``form`` is how minigrad is called (see :func:`run_minigrad`); ``params`` are the
    op's static arguments, plus ``constant`` and ``side`` (0 left, 1 right) for an
    operand that is a number or an array, not a node.

    >>> from minigrad.testing.graphs import Step
    >>> Step("add", (0, 0), "operator")
    Step(op='add', args=(0, 0), form='operator', params={})
    """
    op: str
    args: tuple = ()
    form: str = "function"
    params: dict = field(default_factory=dict)

    def static(self) -> dict:
        """The params an op rule takes (without ``constant`` and ``side``)."""
        return {k: v for k, v in self.params.items() if k not in ("constant", "side")}


@dataclass
class Program:
    """Steps, the numpy value of every node, the loss's ``outputs`` (nodes no step
    consumes) and ``weights`` (one array per output), whether minigrad gets the
    weights as Tensors (``tensor_grads``) in ``backward``, and the ``base`` shape
    whose pieces the leaves have (a side may be 0: empty arrays).

    >>> from hypothesis import find
    >>> from minigrad.testing.graphs import programs
    >>> p = find(programs(min_steps=3), lambda p: len(p.outputs) == 2)
    >>> len(p.steps) == len(p.values), len(p.weights), p.leaves[0]
    (True, 2, 0)
    """
    steps: list
    values: list
    outputs: tuple = ()
    weights: tuple = ()
    tensor_grads: bool = False
    base: tuple = (2, 3, 4)  # leaves have broadcast-compatible pieces of this shape

    def add(self, step: Step, value: np.ndarray) -> int:
        """Append a step (from :func:`steps`) and its value; return its node number."""
        self.steps.append(step)
        self.values.append(value)
        return len(self.steps) - 1

    @property
    def leaves(self) -> list[int]:
        """The nodes that are leaves (each requires grad)."""
        return [k for k, s in enumerate(self.steps) if s.op == "leaf"]

    def listing(self) -> str:
        """One line per step, e.g. ``2 = mul(0, 1) operator``: the program in a
        failure message.

        >>> import numpy as np
        >>> from minigrad.testing.graphs import Program, Step
        >>> print(Program([Step("leaf", params={"value": np.ones(2)}), Step("exp", (0,))],
        ...               [np.ones(2), np.e * np.ones(2)]).listing())
        0 = leaf (2,)
        1 = exp(0) function
        """
        lines = []
        for k, s in enumerate(self.steps):
            if s.op == "leaf":
                lines.append(f"{k} = leaf {s.params['value'].shape}")
            else:
                params = {n: (v.tolist() if isinstance(v, np.ndarray) and v.size <= 8 else v)
                          for n, v in s.params.items()}
                lines.append(f"{k} = {s.op}({', '.join(map(str, s.args))}) {s.form}"
                             + (f" {params}" if params else ""))
        return "\n".join(lines)


# -- the rules as formulas over a numpy-like module ---------------------------------

def array_rules(xp=np) -> dict:
    """Each op of :data:`OPS` as a plain formula over ``xp`` (numpy, or a numpy-like
    module: ``autograd.numpy`` differentiates them), written from the definitions,
    not from minigrad's code. Conventions: ``x ** 0`` is the constant 1; relu'(0) = 0;
    ``cross_entropy(reduction="mean")`` over zero targets is 0; ``clip`` passes the
    gradient at its bounds (autograd's ``np.clip`` blocks it there); ``where`` selects by
    weights 1 and 0 (``c·x + (1 − c)·y``, exact for finite values: autograd's own
    ``where`` fails to unbroadcast onto a 0-d operand); ``getitem`` and ``scatter_add``
    multiply by the 0/1 matrix of :func:`scatter_matrix` (exact, and differentiable to
    any order in autograd).

    >>> import numpy as np
    >>> from minigrad.testing.graphs import array_rules
    >>> rules = array_rules()
    >>> rules["softmax"](np.array([0.0, 0.0]), axis=-1)
    array([0.5, 0.5])
    """
    def log_softmax(x, *, axis=-1):
        shifted = x - xp.max(x, axis=axis, keepdims=True)
        return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))

    def cross_entropy(x, *, targets, reduction="sum", axis=-1):
        axis %= x.ndim
        grid = list(np.indices(targets.shape, sparse=True))
        picked = log_softmax(x, axis=axis)[tuple(grid[:axis] + [targets] + grid[axis:])]
        losses = -picked
        if reduction == "none":
            return losses
        return xp.sum(losses) / (losses.size if reduction == "mean" and losses.size else 1)

    def transpose(x, *, axes=None):
        return xp.transpose(x, None if axes is None else tuple(a % x.ndim for a in axes))

    def scatter_add(g, *, shape, index):  # a 0/1 matrix from target positions to g's elements
        return xp.reshape(xp.matmul(scatter_matrix(shape, index), xp.reshape(g, (-1,))), shape)

    def clip(x, *, low=None, high=None):  # selects by 0/1 weights: the bounds let g through
        x = x if low is None else (x < low) * low + (x >= low) * x
        return x if high is None else (x > high) * high + (x <= high) * x

    def getitem(x, *, index):  # the transposed matrix gathers (autograd's own x[()] fails
        picked = np.arange(x.size).reshape(x.shape)[index]  # to differentiate twice at 0-d)
        return xp.reshape(xp.matmul(scatter_matrix(x.shape, index).T, xp.reshape(x, (-1,))),
                          np.shape(picked))

    return {
        "neg": lambda x: -x, "add": operator.add, "sub": operator.sub, "mul": operator.mul,
        "div": operator.truediv,
        "power": lambda x, *, exponent: x * 0.0 + 1.0 if exponent == 0 else x ** exponent,
        "pow": lambda x, y: x ** y,
        "exp": xp.exp, "log": xp.log, "tanh": xp.tanh,
        "sigmoid": lambda x: 0.5 * (1.0 + xp.tanh(0.5 * x)),
        "relu": lambda x: xp.where(x > 0, x, 0.0),
        "abs": lambda x: xp.where(x < 0, -x, x), "sqrt": lambda x: x ** 0.5,
        "square": lambda x: x * x, "clip": clip,
        "matmul": xp.matmul,
        "sum": lambda x, *, axis=None, keepdims=False: xp.sum(x, axis=axis, keepdims=keepdims),
        "mean": lambda x, *, axis=None, keepdims=False: xp.mean(x, axis=axis, keepdims=keepdims),
        "max": lambda x, *, axis=None, keepdims=False: xp.max(x, axis=axis, keepdims=keepdims),
        "min": lambda x, *, axis=None, keepdims=False: xp.min(x, axis=axis, keepdims=keepdims),
        "softmax": lambda x, *, axis=-1: xp.exp(log_softmax(x, axis=axis)),
        "log_softmax": log_softmax, "cross_entropy": cross_entropy,
        "reshape": lambda x, *, shape: xp.reshape(x, shape), "transpose": transpose,
        "broadcast_to": lambda x, *, shape: x * np.ones(shape),
        "getitem": getitem, "scatter_add": scatter_add,
        "concat": lambda *xs, axis=0: xp.concatenate(xs, axis=axis),
        "stack": lambda *xs, axis=0: xp.stack(xs, axis=axis),
        "where": lambda x, y, *, condition: condition * x + (1.0 - condition) * y,  # select
    }


def scatter_matrix(shape: tuple, index) -> np.ndarray:
    """P with P[p, j] = 1 where element j of ``zeros(shape)[index]`` sits at flat position
    p: ``scatter_add(g, shape, index)`` is ``(P @ g.ravel()).reshape(shape)``, repeated
    positions adding up.

    >>> import numpy as np
    >>> from minigrad.testing.graphs import scatter_matrix
    >>> scatter_matrix((3,), np.array([0, 2, 0]))
    array([[1., 0., 1.],
           [0., 0., 0.],
           [0., 1., 0.]])
    """
    positions = np.ravel(np.arange(int(np.prod(shape))).reshape(shape)[index])
    matrix = np.zeros((int(np.prod(shape)), positions.size))
    matrix[positions, np.arange(positions.size)] = 1.0
    return matrix


def _operands(step: Step, nodes: list, constant=lambda c: c) -> list:
    xs = [nodes[i] for i in step.args]
    if "constant" in step.params:
        xs.insert(len(xs) if step.params["side"] else 0, constant(step.params["constant"]))
    return xs


def _run(program: Program, leaves, call) -> list:
    given, nodes = iter(leaves), []
    for step in program.steps:
        nodes.append(next(given) if step.op == "leaf" else call(step, nodes))
    return nodes


def evaluate(program: Program, rules: dict | None = None, leaves=None,
             constant=lambda c: c) -> list:
    """Every node's value, made by ``rules`` (default :func:`array_rules` over numpy)
    from ``leaves`` (default the program's leaf values, in order); ``constant`` maps
    a constant operand (number or array) into the rules' world.

    >>> import numpy as np
    >>> from minigrad.testing.graphs import Program, Step, evaluate
    >>> p = Program([Step("leaf", params={"value": np.array(2.0)}),
    ...              Step("mul", (0, 0), "operator"), Step("sub", (1,), "operator",
    ...                                                  {"constant": 1.0, "side": 0})], [])
    >>> [float(v) for v in evaluate(p)]
    [2.0, 4.0, -3.0]
    """
    rules = _NUMPY if rules is None else rules
    if leaves is None:
        leaves = [program.steps[k].params["value"] for k in program.leaves]
    return _run(program, leaves, lambda step, nodes: rules[step.op](
        *_operands(step, nodes, constant), **step.static()))


_NUMPY = array_rules()


# -- minigrad, called in each form --------------------------------------------------

def tensor_index(index):
    """The same index with each array part given as a Tensor of the same dtype.

    >>> import numpy as np
    >>> from minigrad.testing.graphs import tensor_index
    >>> tensor_index((slice(None), np.array([True, False])))[1].dtype
    dtype('bool')
    """
    parts = index if isinstance(index, tuple) else (index,)
    wrapped = tuple(mg.tensor(i, dtype=i.dtype) if isinstance(i, np.ndarray) else i
                    for i in parts)
    return wrapped if isinstance(index, tuple) else wrapped[0]


_OPERATORS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
              "div": operator.truediv, "pow": operator.pow, "matmul": operator.matmul}

FORMS = {
    **{(op, "operator"): f for op, f in _OPERATORS.items()},
    ("neg", "operator"): operator.neg, ("abs", "operator"): operator.abs,
    ("power", "operator"): lambda x, *, exponent: x ** exponent,
    **{(op, "function"): getattr(mg, op) for op in (
        *BINARY, "neg", "power", "pow", *UNARY, "clip", "matmul", *REDUCTIONS, "softmax",
        "log_softmax", "transpose", "reshape", "getitem", "broadcast_to", "scatter_add")},
    **{(op, "method"): (lambda op: lambda x, **p: getattr(x, op)(**p))(op)
       for op in (*UNARY, "clip", "softmax", "log_softmax")},
    **{(op, "positional method"): (lambda op: lambda x, *, axis, keepdims: getattr(x, op)(
        axis, keepdims))(op) for op in REDUCTIONS},
    **{(op, "positional function"): (lambda op: lambda x, *, axis, keepdims: getattr(mg, op)(
        x, axis, keepdims))(op) for op in REDUCTIONS},
    ("cross_entropy", "function"): lambda x, *, targets, reduction, axis: mg.cross_entropy(
        x, targets, reduction=reduction, axis=axis),
    ("reshape", "method"): lambda x, *, shape: x.reshape(shape),
    ("reshape", "method*"): lambda x, *, shape: x.reshape(*shape),
    ("transpose", "method"): lambda x, *, axes: x.transpose(axes),
    ("transpose", "method*"): lambda x, *, axes: x.transpose(*axes),
    ("transpose", "T"): lambda x, *, axes: x.T,
    ("getitem", "operator"): lambda x, *, index: x[index],
    ("getitem", "tensor index"): lambda x, *, index: x[tensor_index(index)],
    ("getitem", "iteration"): lambda x, *, index: list(x)[index],
    ("concat", "function"): lambda *xs, axis: mg.concat(xs, axis=axis),
    ("stack", "function"): lambda *xs, axis: mg.stack(list(xs), axis=axis),
    ("where", "function"): lambda x, y, *, condition: mg.where(condition, x, y),
    ("where", "tensor condition"): lambda x, y, *, condition: mg.where(
        mg.tensor(condition, dtype=bool), x, y),
}
"""``(op, form) -> call``: how :func:`run_minigrad` calls minigrad for each step."""


def call_minigrad(step: Step, nodes: list) -> mg.Tensor:
    """The minigrad node of one (non-leaf) step, called in its form on earlier ``nodes``.

    >>> import minigrad as mg
    >>> from minigrad.testing.graphs import Step, call_minigrad
    >>> x = mg.tensor([1.0, 2.0])
    >>> call_minigrad(Step("sub", (0,), "operator", {"constant": 3.0, "side": 0}), [x]).data
    array([2., 1.])
    """
    return FORMS[step.op, step.form](*_operands(step, nodes), **step.static())


def run_minigrad(program: Program):
    """Build the program with minigrad (leaves require grad; each step called in its
    form) and back-propagate its loss with ``minigrad.backward``. Returns the nodes
    and the leaves' gradients (zeros where a leaf does not reach the loss).

    >>> import numpy as np
    >>> from minigrad.testing.graphs import Program, Step, run_minigrad
    >>> p = Program([Step("leaf", params={"value": np.array([1.0, 2.0])}),
    ...              Step("mul", (0, 0), "operator")], [], outputs=(1,),
    ...             weights=(np.ones(2),))
    >>> nodes, grads = run_minigrad(p)
    >>> grads[0]
    array([2., 4.])
    """
    leaves = [mg.tensor(program.steps[k].params["value"], requires_grad=True, name=f"{k}")
              for k in program.leaves]
    nodes = _run(program, leaves, call_minigrad)
    outputs = [nodes[k] for k in program.outputs]
    weights = [mg.tensor(w) if program.tensor_grads else w for w in program.weights]
    if outputs:
        mg.backward(outputs, weights)
    return nodes, [np.zeros_like(x.data) if x.grad is None else x.grad for x in leaves]


# -- the generator ------------------------------------------------------------------

def _value(step: Step, values: list):
    """The step's numpy value, or None when it is outside the op's domain, not finite
    or beyond LIMIT."""
    with np.errstate(all="ignore"):
        try:
            value = np.asarray(_NUMPY[step.op](*_operands(step, values), **step.static()))
        except (ValueError, IndexError, TypeError):
            return None
    ok = value.dtype == np.float64 and np.all(np.isfinite(value)) and np.all(np.abs(value) <= LIMIT)
    return value if ok else None


def _pick(draw, values, ok=lambda v: True):
    """A node whose value passes ``ok``, or None."""
    ks = [k for k, v in enumerate(values) if ok(v)]
    return draw(st.sampled_from(ks)) if ks else None


def _piece(draw, shape) -> tuple:
    """A shape that broadcasts with ``shape``: a suffix, some sides replaced by 1."""
    k = draw(st.sampled_from(range(len(shape), -1, -1)))  # all of it, most often
    return tuple(draw(st.sampled_from([n, 1])) for n in shape[len(shape) - k:])


def _broadcasts(*shapes) -> bool:
    try:
        np.broadcast_shapes(*shapes)
        return True
    except ValueError:
        return False


def _at_least(low):
    return lambda v: v.size == 0 or np.min(np.abs(v)) >= low


def _elements(draw):
    """Floats in [-2, 2]; or only -1, 0, 1 (ties for max, zeros for relu and x ** 0);
    or positive ones, in [0.1, 2] (inputs of log, bases of x ** y)."""
    return draw(st.sampled_from([st.floats(-2.0, 2.0), st.sampled_from([-1.0, 0.0, 1.0]),
                                 st.floats(0.1, 2.0)]))


def _leaf(draw, values, base):
    if values and draw(st.booleans()):  # a partner for matmul: (n, m) after a (..., n)
        n = draw(st.sampled_from([v.shape[-1] for v in values if v.ndim] or [2]))
        shape = draw(st.sampled_from([(n,), (n, draw(st.integers(1, 3)))]))
    else:
        shape = _piece(draw, base)
    value = draw(hnp.arrays(np.float64, shape, elements=_elements(draw)))
    return Step("leaf", (), "leaf", {"value": value})


def _constant(draw, shape, nonzero=False, positive=False):
    """A Python number or an array broadcasting with ``shape``."""
    low = 0.5 if positive else -2.0
    number = st.floats(low, 2.0).filter(lambda c: not nonzero or abs(c) >= 0.25)
    array = arrays(_piece(draw, shape), low, 2.0).filter(
        lambda c: not nonzero or c.size == 0 or np.min(np.abs(c)) >= 0.25)
    return draw(st.one_of(number, array))


def _binary(op):
    denominator = _at_least(0.25) if op == "div" else (lambda v: True)

    def build(draw, values, base):
        form = draw(st.sampled_from(["operator", "function"]))  # x - y or mg.sub(x, y)
        if draw(st.booleans()):  # two nodes (perhaps the same one twice)
            i = _pick(draw, values)
            j = _pick(draw, values, lambda v: _broadcasts(values[i].shape, v.shape)
                      and denominator(v))
            return None if j is None else Step(op, (i, j), form)
        side = draw(st.integers(0, 1))  # side of the constant: 0 is `c - x`
        i = _pick(draw, values, denominator if side == 0 else (lambda v: True))
        if i is None:
            return None
        c = _constant(draw, values[i].shape, nonzero=op == "div" and side == 1)
        return Step(op, (i,), form, {"constant": c, "side": side})
    return build


def _power(draw, values, base):
    c = draw(exponents)
    integer = float(c) == int(c)
    ok = lambda v: (integer or v.size == 0 or v.min() >= 0.1) and (c >= 0 or _at_least(0.25)(v))
    i = _pick(draw, values, ok)
    form = draw(st.sampled_from(["operator", "function"]))
    return None if i is None else Step("power", (i,), form, {"exponent": c})


def _pow(draw, values, base):
    positive = lambda v: v.size == 0 or v.min() >= 0.1
    kinds = ["nodes", "constant exponent"] if any(positive(v) for v in values) else []
    kind = draw(st.sampled_from(kinds + ["constant base"]))
    if kind == "constant base":  # c ** x: Tensor.__rpow__
        i = _pick(draw, values, lambda v: v.size == 0 or np.max(np.abs(v)) <= 5)
        return None if i is None else Step("pow", (i,), "operator", {
            "constant": _constant(draw, values[i].shape, positive=True), "side": 0})
    i = _pick(draw, values, positive)
    if i is None:
        return None
    if kind == "constant exponent":  # x ** array
        return Step("pow", (i,), "operator", {
            "constant": draw(arrays(_piece(draw, values[i].shape), -2.0, 2.0)), "side": 1})
    j = _pick(draw, values, lambda v: _broadcasts(values[i].shape, v.shape)
              and (v.size == 0 or np.max(np.abs(v)) <= 3))
    form = draw(st.sampled_from(["operator", "function"]))  # x ** y or mg.pow(x, y)
    return None if j is None else Step("pow", (i, j), form)


def _unary(op):
    positive = lambda v: v.size == 0 or v.min() >= 0.1  # noqa: E731
    domain = {"exp": lambda v: v.size == 0 or v.max() <= 8, "log": positive,
              "sqrt": positive}.get(op, lambda v: True)
    forms = {"neg": ["operator", "function"], "abs": ["operator", "function", "method"]}.get(
        op, ["function", "method"])

    def build(draw, values, base):
        i = _pick(draw, values, domain)
        form = draw(st.sampled_from(forms))
        return None if i is None else Step(op, (i,), form)
    return build


def _fits_matmul(a, b) -> bool:
    try:
        np.matmul(np.empty(a), np.empty(b))
        return len(a) > 0 and len(b) > 0
    except ValueError:
        return False


def _matmul(draw, values, base):
    i = _pick(draw, values, lambda v: v.ndim >= 1)
    if i is None:
        return None
    a = values[i].shape
    form = draw(st.sampled_from(["operator", "function"]))
    if draw(st.booleans()):
        j = _pick(draw, values, lambda v: _fits_matmul(a, v.shape))
        if j is not None:
            return Step("matmul", (i, j), form)
    side = draw(st.integers(0, 1))  # a constant matrix or vector on either side
    m = draw(st.integers(1, 3))
    inner = a[-1] if side == 1 else (a[-2] if len(a) >= 2 else a[0])
    shape = draw(st.sampled_from([(inner,), (inner, m) if side == 1 else (m, inner)]))
    return Step("matmul", (i,), "operator", {"constant": draw(arrays(shape)), "side": side})


def _reduced(shape, axis) -> tuple:
    if axis is None:
        return tuple(range(len(shape)))
    return tuple(a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,)))


def _reduction(op):
    def build(draw, values, base):
        i = _pick(draw, values)
        shape = values[i].shape
        axis, keep = draw(axes(len(shape))), draw(st.booleans())
        if op != "sum" and any(shape[a] == 0 for a in _reduced(shape, axis)):
            return None  # max and min have no value and mean divides by 0 over an empty axis
        form = draw(st.sampled_from(["function", "positional method", "positional function"]))
        return Step(op, (i,), form, {"axis": axis, "keepdims": keep})
    return build


def _axis_op(op):
    def build(draw, values, base):
        i = _pick(draw, values, lambda v: v.ndim >= 1)
        if i is None:
            return None
        shape = values[i].shape
        axis = draw(st.integers(-len(shape), len(shape) - 1))
        if shape[axis] == 0:
            return None
        if op != "cross_entropy":
            return Step(op, (i,), draw(st.sampled_from(["function", "method"])), {"axis": axis})
        rest = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
        dtype = draw(st.sampled_from([np.int8, np.uint8, np.int32, np.int64, np.uint64]))
        targets = draw(hnp.arrays(dtype, rest, elements=st.integers(0, shape[axis] - 1)))
        return Step(op, (i,), "function", {"targets": targets, "axis": axis, "reduction": draw(
            st.sampled_from(["sum", "mean", "none"]))})
    return build


def _reshape(draw, values, base):
    i = _pick(draw, values)
    v = values[i]
    shape = list(draw(st.permutations(list(v.shape) + [1])))
    if v.size and shape and draw(st.booleans()):
        shape[draw(st.integers(0, len(shape) - 1))] = -1
    forms = ["function", "method"] + (["method*"] if shape else [])
    return Step("reshape", (i,), draw(st.sampled_from(forms)), {"shape": tuple(shape)})


def _transpose(draw, values, base):
    i = _pick(draw, values)
    ndim = values[i].ndim
    form = draw(st.sampled_from(["function", "method", "T"] + (["method*"] if ndim >= 2 else [])))
    return Step("transpose", (i,), form,
                {"axes": None if form == "T" else draw(transpose_axes(ndim))})


def _getitem(draw, values, base):
    i = _pick(draw, values)
    shape = values[i].shape
    if shape and shape[0] and draw(st.integers(0, 3)) == 0:  # list(x)[k]: iteration
        return Step("getitem", (i,), "iteration", {"index": draw(st.integers(-shape[0],
                                                                            shape[0] - 1))})
    if len(shape) == 2 and draw(st.booleans()):  # the RNN's U[:, ids], any integer dtype
        index = (slice(None), draw(index_arrays(shape[1])))
    else:
        index = draw(indices(shape))
    parts = index if isinstance(index, tuple) else (index,)
    has_array = any(isinstance(p, np.ndarray) for p in parts)
    forms = ["operator", "function"] + (["tensor index"] if has_array else [])
    return Step("getitem", (i,), draw(st.sampled_from(forms)), {"index": index})


def _clip(draw, values, base):
    bound = st.none() | st.sampled_from([-1.0, 0.0, 0.5, 1.0])  # ties with -1, 0, 1 leaves
    low, high = draw(bound), draw(bound)
    if low is not None and high is not None and low > high:
        low, high = high, low
    return Step("clip", (_pick(draw, values),), draw(st.sampled_from(["function", "method"])),
                {"low": low, "high": high})


def _broadcast_to(draw, values, base):
    i = _pick(draw, values)
    shape = values[i].shape
    extra = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
    target = extra + tuple(draw(st.integers(0, 3)) if n == 1 else n for n in shape)
    return Step("broadcast_to", (i,), "function", {"shape": target})


def _scatter_add(draw, values, base):
    """zeros(shape) with node g added at index: ids along axis 0 or 1 (repeats likely) or
    an integer, so that zeros(shape)[index] has g's shape."""
    i = _pick(draw, values)
    g = values[i].shape
    n = draw(st.integers(1, 4))
    if not g:
        return Step("scatter_add", (i,), "function", {"shape": (n,), "index": draw(
            st.integers(-n, n - 1))})
    axis = draw(st.sampled_from([0, 1] if len(g) >= 2 else [0]))
    ids = draw(index_arrays(n, min_length=g[axis], max_length=g[axis]))
    shape = g[:axis] + (n,) + g[axis + 1:]
    return Step("scatter_add", (i,), "function", {"shape": shape,
                                                  "index": (slice(None),) * axis + (ids,)})


def _join(op):
    def build(draw, values, base):
        i = _pick(draw, values, lambda v: v.ndim >= 1 or op == "stack")
        if i is None:
            return None
        shape = values[i].shape
        if op == "stack":
            axis = draw(st.integers(-len(shape) - 1, len(shape)))
            same = lambda v: v.shape == shape
        else:
            axis = draw(st.integers(-len(shape), len(shape) - 1))
            same = lambda v: v.ndim == len(shape) and all(
                n == m for k, (n, m) in enumerate(zip(v.shape, shape)) if k != axis % len(shape))
        others = [draw(st.sampled_from([k for k, v in enumerate(values) if same(v)]))
                  for _ in range(draw(st.integers(0, 2)))]
        return Step(op, (i, *others), "function", {"axis": axis})
    return build


def _where(draw, values, base):
    i = _pick(draw, values)
    shape = values[i].shape
    condition = draw(hnp.arrays(bool, _piece(draw, shape)))
    form = draw(st.sampled_from(["function", "tensor condition"]))
    if draw(st.booleans()):
        j = _pick(draw, values, lambda v: _broadcasts(shape, v.shape, condition.shape))
        if j is not None:
            return Step("where", (i, j), form, {"condition": condition})
    return Step("where", (i,), form, {"condition": condition, "constant": draw(
        st.floats(-2.0, 2.0)), "side": 1})


_BUILD = {"leaf": _leaf, "neg": _unary("neg"), **{op: _binary(op) for op in BINARY},
          "power": _power, "pow": _pow, **{op: _unary(op) for op in UNARY},
          "clip": _clip, "matmul": _matmul, **{op: _reduction(op) for op in REDUCTIONS},
          **{op: _axis_op(op) for op in ("softmax", "log_softmax", "cross_entropy")},
          "reshape": _reshape, "transpose": _transpose, "getitem": _getitem,
          "broadcast_to": _broadcast_to, "scatter_add": _scatter_add,
          "concat": _join("concat"), "stack": _join("stack"), "where": _where}


@st.composite
def steps(draw, program: Program, ops=OPS):
    """``(step, value)``: one step valid after ``program`` (a new leaf or one of
    ``ops``, each op four times as likely as a leaf), with its numpy value; add it with
    :meth:`Program.add`. A program with no node yet gets a leaf.

    >>> from hypothesis import find
    >>> from minigrad.testing.graphs import Program, steps
    >>> program = Program([], [])
    >>> step, value = find(steps(program), lambda sv: True)
    >>> step.op, program.add(step, value)
    ('leaf', 0)
    """
    values = program.values
    for _ in range(10):
        op = draw(st.sampled_from(("leaf",) + tuple(ops) * 4)) if values else "leaf"
        step = _BUILD[op](draw, values, program.base)
        value = None if step is None else (
            step.params["value"] if op == "leaf" else _value(step, values))
        if value is not None:
            return step, value
    return Step("neg", (len(values) - 1,), "operator"), -values[-1]  # always valid


@st.composite
def programs(draw, min_steps: int = 1, max_steps: int = 10, ops=OPS):
    """Random programs of ``min_steps`` … ``max_steps`` steps (leaves included) over
    ``ops``, with the loss's outputs and weights drawn.

    >>> from hypothesis import find
    >>> from minigrad.testing.graphs import programs
    >>> p = find(programs(ops=("matmul",)), lambda p: any(s.op == "matmul" for s in p.steps))
    >>> sorted({s.op for s in p.steps}), p.outputs[-1] == len(p.steps) - 1
    (['leaf', 'matmul'], True)
    """
    ndim = draw(st.sampled_from([2, 3, 1]))  # 0-d leaves are pieces of any base
    base = tuple(draw(st.sampled_from([2, 3, 1, 4, 0])) for _ in range(ndim))
    program = Program([], [], base=base)
    for _ in range(draw(st.integers(min_steps, max_steps))):
        program.add(*draw(steps(program, ops)))
    used = {i for step in program.steps for i in step.args}
    program.outputs = tuple(k for k in range(len(program.steps)) if k not in used)
    program.weights = tuple(draw(arrays(program.values[k].shape, -1.0, 1.0))
                            for k in program.outputs)
    program.tensor_grads = draw(st.booleans())
    return program
