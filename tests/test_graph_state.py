"""Random graphs, built step by step by a Hypothesis state machine, differentiated by
minigrad and by an independent reference.

Each step (a new leaf, a unary op, a binary op with broadcasting, a reduction, an
operand used twice) records the minigrad node and, beside it, how to recompute it in
plain numpy. The reference replays that program in forward mode (value and tangent
per step, with derivative rules written here), once per leaf element, and so gets the
gradient of a scalar output without minigrad's engine: no topological order, no
accumulation, no unbroadcasting (numpy broadcasts tangents like values). Both are
exact, so they must agree to round-off.
"""
import numpy as np
from hypothesis import settings, strategies as st
from hypothesis.stateful import (Bundle, RuleBasedStateMachine, initialize, invariant, multiple,
                                 rule)

import minigrad as mg
from minigrad.tensor import topological_order
from minigrad.testing.strategies import arrays, axes, keepdims

FULL = (2, 3, 4)  # every leaf shape is a broadcast-compatible piece of this one
LIMIT = 1e4       # steps whose values leave [-LIMIT, LIMIT] are not recorded


@st.composite
def family_shapes(draw):
    ndim = draw(st.integers(0, len(FULL)))
    return tuple(draw(st.sampled_from([1, n])) for n in FULL[len(FULL) - ndim:])


# Forward mode: each rule maps (value, tangent) pairs to the result's (value, tangent).
def _max(v, t, axis, keepdims):
    hit = v == v.max(axis=axis, keepdims=True)  # ties share the derivative, as in minigrad
    share = t * hit / hit.sum(axis=axis, keepdims=True)
    return v.max(axis=axis, keepdims=keepdims), share.sum(axis=axis, keepdims=keepdims)


def _sigmoid(v, t):
    y = 0.5 * (1 + np.tanh(v / 2))
    return y, t * y * (1 - y)


JVP = {
    "neg": lambda v, t: (-v, -t),
    "exp": lambda v, t: (np.exp(v), t * np.exp(v)),
    "tanh": lambda v, t: (np.tanh(v), t * (1 - np.tanh(v) ** 2)),
    "sigmoid": _sigmoid,
    "relu": lambda v, t: (np.where(v > 0, v, 0.0), np.where(v > 0, t, 0.0)),
    "add": lambda a, ta, b, tb: (a + b, ta + tb),
    "sub": lambda a, ta, b, tb: (a - b, ta - tb),
    "mul": lambda a, ta, b, tb: (a * b, ta * b + a * tb),
    "div": lambda a, ta, b, tb: (a / b, ta / b - a * tb / (b * b)),
    "sum": lambda v, t, **p: (v.sum(**p), t.sum(**p)),
    "mean": lambda v, t, **p: (v.mean(**p), t.mean(**p)),
    "max": lambda v, t, **p: _max(v, t, **p),
}
MINIGRAD = {"neg": lambda x: -x, "exp": mg.exp, "tanh": mg.tanh, "sigmoid": mg.sigmoid,
            "relu": mg.relu, "add": lambda x, y: x + y, "sub": lambda x, y: x - y,
            "mul": lambda x, y: x * y, "div": lambda x, y: x / y, "sum": mg.sum,
            "mean": mg.mean, "max": mg.max}
UNARY, BINARY = ["neg", "exp", "tanh", "sigmoid", "relu"], ["add", "sub", "mul", "div"]


def replay(program, seeded=None, seed=None):
    """Values and tangents of every step; the tangent of leaf ``seeded`` is ``seed``."""
    values, tangents = [], []
    for k, (op, args, params) in enumerate(program):
        if op == "leaf":
            v = params["value"]
            t = seed if k == seeded else np.zeros_like(v)
        else:
            pairs = [x for i in args for x in (values[i], tangents[i])]
            v, t = JVP[op](*pairs, **params)
        values.append(np.asarray(v))
        tangents.append(np.asarray(t))
    return values, tangents


def reference_gradient(program, output, weights, leaf):
    """∂ Σ(weights · node[output]) / ∂ leaf: one forward-mode replay per leaf element."""
    value = program[leaf][2]["value"]
    grad = np.zeros_like(value)
    for k in range(value.size):
        seed = np.zeros_like(value)
        seed.flat[k] = 1.0
        grad.flat[k] = np.sum(weights * replay(program, leaf, seed)[1][output])
    return grad


def listing(program):
    """One line per step: ``3 = mul(1, 1)``, ``0 = leaf (2, 1)``."""
    return "\n".join(
        f"{k} = leaf {params['value'].shape}" if op == "leaf" else
        f"{k} = {op}{args}" + (f" {params}" if params else "")
        for k, (op, args, params) in enumerate(program))


class RandomGraph(RuleBasedStateMachine):
    nodes = Bundle("nodes")

    def __init__(self):
        super().__init__()
        self.tensors, self.program = [], []

    def record(self, tensor, op, args=(), **params):
        if not np.all(np.abs(tensor.data) <= LIMIT):  # also drops inf and NaN
            return multiple()
        self.tensors.append(tensor)
        self.program.append((op, args, params))
        return len(self.tensors) - 1

    @initialize(target=nodes, shape=family_shapes(), data=st.data())
    def first_leaf(self, shape, data):
        return self.new_leaf(shape, data)

    @rule(target=nodes, shape=family_shapes(), data=st.data())
    def new_leaf(self, shape, data):
        value = data.draw(arrays(shape, -2.0, 2.0))
        return self.record(mg.tensor(value, requires_grad=True), "leaf", value=value)

    @rule(target=nodes, op=st.sampled_from(UNARY), i=nodes)
    def unary(self, op, i):
        return self.record(MINIGRAD[op](self.tensors[i]), op, (i,))

    @rule(target=nodes, op=st.sampled_from(BINARY), i=nodes, j=nodes)
    def binary(self, op, i, j):
        x, y = self.tensors[i], self.tensors[j]
        try:
            np.broadcast_shapes(x.shape, y.shape)
        except ValueError:
            return multiple()
        if op == "div" and not np.all(np.abs(y.data) >= 0.5):
            return multiple()
        return self.record(MINIGRAD[op](x, y), op, (i, j))

    @rule(target=nodes, op=st.sampled_from(["add", "mul", "sub"]), i=nodes)
    def reuse(self, op, i):
        """An operand used twice: x + x, x * x, x - x."""
        return self.record(MINIGRAD[op](self.tensors[i], self.tensors[i]), op, (i, i))

    @rule(target=nodes, op=st.sampled_from(["sum", "mean", "max"]), i=nodes, keep=keepdims,
          data=st.data())
    def reduction(self, op, i, keep, data):
        x = self.tensors[i]
        axis = data.draw(axes(x.ndim))
        return self.record(MINIGRAD[op](x, axis=axis, keepdims=keep), op, (i,),
                           axis=axis, keepdims=keep)

    @rule(i=nodes, data=st.data())
    def check_gradients(self, i, data):
        self.compare(i, data.draw(arrays(self.tensors[i].shape, -1.0, 1.0)))

    def compare(self, output, weights):
        """Backward from Σ(weights · node) against the forward-mode reference, for every leaf."""
        mg.zero_grad(self.tensors)
        loss = mg.sum(self.tensors[output] * weights)
        if not loss.requires_grad:
            return
        loss.backward()
        for node in topological_order([loss]):
            assert node.grad.shape == node.data.shape
        for k, (op, _, _) in enumerate(self.program):
            if op == "leaf":
                expected = reference_gradient(self.program, output, weights, k)
                got = self.tensors[k].grad
                got = np.zeros_like(expected) if got is None else got
                scale = max(1.0, np.abs(expected).max(initial=0.0))
                np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * scale,
                                           err_msg=f"leaf {k}, output {output}, program:\n"
                                                   + listing(self.program))

    @invariant()
    def forward_values_agree(self):
        values, _ = replay(self.program)
        for tensor, value in zip(self.tensors, values):
            np.testing.assert_allclose(tensor.data, value, rtol=1e-12, atol=1e-12)

    def teardown(self):
        if self.tensors:
            last = len(self.tensors) - 1
            self.compare(last, np.cos(np.arange(self.tensors[last].size)).reshape(
                self.tensors[last].shape))


RandomGraph.TestCase.settings = settings(settings(), stateful_step_count=20)
TestRandomGraph = RandomGraph.TestCase
