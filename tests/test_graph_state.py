"""Random graphs, built step by step by a Hypothesis state machine, differentiated by
minigrad and by an independent reference.

Each step comes from the generator users get (minigrad.testing.graphs.steps: every op
of the table, in every form, with fan-out, broadcasting, operands used twice, Tensor
indices, negative axes, size-0 arrays). The machine applies it to minigrad and keeps
the program beside it. The reference replays the program in forward mode (value and
tangent per step, with derivative rules written here), once per leaf element, and so
gets the gradient of a scalar output without minigrad's engine: no topological order,
no accumulation, no unbroadcasting (numpy broadcasts tangents like values). Both are
exact, so they must agree to round-off.
"""
import numpy as np
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import minigrad as mg
from minigrad.tensor import topological_order
from minigrad.testing import assert_roundoff_equal
from minigrad.testing.graphs import OPS, Program, array_rules, call_minigrad, steps
from minigrad.testing.strategies import arrays

VALUE = array_rules()  # values: formulas written from the definitions


def _softmax_jvp(s, t, axis):
    return s * (t - (s * t).sum(axis=axis, keepdims=True))


def _cross_entropy_jvp(xs, ts, out, targets, reduction="sum", axis=-1):
    """L = -log softmax(x)[targets]: a linear function of log softmax's tangent."""
    x, t = xs[0], ts[0]
    t_log = t - (np.exp(VALUE["log_softmax"](x, axis=axis)) * t).sum(axis=axis, keepdims=True)
    picked = -np.take_along_axis(t_log, np.expand_dims(targets.astype(np.intp), axis), axis)
    losses = picked.squeeze(axis)
    if reduction == "none":
        return losses
    return losses.sum() / (losses.size if reduction == "mean" and losses.size else 1)


def _extreme_jvp(extreme):
    def jvp(xs, ts, out, axis=None, keepdims=False):
        x, t = xs[0], ts[0]
        hit = x == extreme(x, axis=axis, keepdims=True)  # ties share the derivative
        share = t * hit / hit.sum(axis=axis, keepdims=True)
        return share.sum(axis=axis, keepdims=keepdims)
    return jvp


def _clip_jvp(xs, ts, out, low=None, high=None):
    inside = (xs[0] >= (-np.inf if low is None else low)) & (xs[0] <= (np.inf if high is None
                                                                        else high))
    return ts[0] * inside


def _linear(op):
    """A linear op's tangent is the op applied to the tangents."""
    return lambda xs, ts, out, **p: VALUE[op](*ts, **p)


# Forward mode: each rule maps the operands' values xs and tangents ts (and the result
# `out`) to the result's tangent.
JVP = {
    **{op: _linear(op) for op in ("neg", "add", "sub", "sum", "mean", "reshape", "transpose",
                                  "broadcast_to", "getitem", "scatter_add", "concat", "stack",
                                  "where")},
    "mul": lambda xs, ts, out: ts[0] * xs[1] + xs[0] * ts[1],
    "div": lambda xs, ts, out: ts[0] / xs[1] - xs[0] * ts[1] / (xs[1] * xs[1]),
    "matmul": lambda xs, ts, out: ts[0] @ xs[1] + xs[0] @ ts[1],
    "power": lambda xs, ts, out, exponent: (
        0 * ts[0] if exponent == 0 else ts[0] * exponent * xs[0] ** (exponent - 1)),
    "pow": lambda xs, ts, out: ts[0] * xs[1] * xs[0] ** (xs[1] - 1) + ts[1] * out * np.log(xs[0]),
    "exp": lambda xs, ts, out: ts[0] * out,
    "log": lambda xs, ts, out: ts[0] / xs[0],
    "tanh": lambda xs, ts, out: ts[0] * (1 - out * out),
    "sigmoid": lambda xs, ts, out: ts[0] * out * (1 - out),
    "relu": lambda xs, ts, out: np.where(xs[0] > 0, ts[0], 0.0),
    "max": _extreme_jvp(np.max), "min": _extreme_jvp(np.min),
    "abs": lambda xs, ts, out: ts[0] * np.sign(xs[0]),
    "sqrt": lambda xs, ts, out: ts[0] / (2 * out),
    "square": lambda xs, ts, out: 2 * xs[0] * ts[0],
    "clip": _clip_jvp,
    "softmax": lambda xs, ts, out, axis: _softmax_jvp(out, ts[0], axis),
    "log_softmax": lambda xs, ts, out, axis: ts[0] - (np.exp(out) * ts[0]).sum(axis=axis,
                                                                             keepdims=True),
    "cross_entropy": _cross_entropy_jvp,
}


def replay(program, seeded=None, seed=None):
    """Values and tangents of every step; the tangent of leaf ``seeded`` is ``seed``."""
    values, tangents = [], []
    for k, step in enumerate(program.steps):
        if step.op == "leaf":
            v = step.params["value"]
            t = seed if k == seeded else np.zeros_like(v)
        else:
            xs, ts = [values[i] for i in step.args], [tangents[i] for i in step.args]
            if "constant" in step.params:
                c = np.asarray(step.params["constant"], dtype=np.float64)
                side = len(xs) if step.params["side"] else 0
                xs.insert(side, c)
                ts.insert(side, np.zeros_like(c))
            v = np.asarray(VALUE[step.op](*xs, **step.static()))
            t = JVP[step.op](xs, ts, v, **step.static())
        values.append(np.asarray(v))
        tangents.append(np.broadcast_to(np.asarray(t, dtype=np.float64), np.shape(v)))
    return values, tangents


def reference_gradient(program, output, weights, leaf):
    """∂ Σ(weights · node[output]) / ∂ leaf: one forward-mode replay per leaf element."""
    value = program.steps[leaf].params["value"]
    grad = np.zeros_like(value)
    for k in range(value.size):
        seed = np.zeros_like(value)
        seed.flat[k] = 1.0
        grad.flat[k] = np.sum(weights * replay(program, leaf, seed)[1][output])
    return grad


def test_the_forward_mode_rules_cover_every_op_the_generator_makes():
    assert set(JVP) == set(OPS)


class RandomGraph(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.tensors, self.program = [], Program([], [])

    def apply(self, step, value):
        """The step in minigrad, in its form; the program keeps it and its numpy value."""
        self.tensors.append(mg.tensor(step.params["value"], requires_grad=True)
                            if step.op == "leaf" else call_minigrad(step, self.tensors))
        self.program.add(step, value)

    @initialize(data=st.data())
    def first_leaf(self, data):
        self.apply(*data.draw(steps(self.program)))

    @rule(data=st.data())
    def step(self, data):
        self.apply(*data.draw(steps(self.program)))

    @precondition(lambda self: self.tensors)
    @rule(data=st.data())
    def check_gradients(self, data):
        i = data.draw(st.integers(0, len(self.tensors) - 1))
        self.compare(i, data.draw(arrays(self.tensors[i].shape, -1.0, 1.0)))

    def compare(self, output, weights):
        """Backward from Σ(weights · node) against the forward-mode reference, for every leaf."""
        mg.zero_grad(self.tensors)
        loss = mg.sum(self.tensors[output] * weights)
        loss.backward()
        for node in topological_order([loss]):
            assert node.grad.shape == node.data.shape
        for k in self.program.leaves:
            expected = reference_gradient(self.program, output, weights, k)
            got = self.tensors[k].grad
            got = np.zeros_like(expected) if got is None else got
            assert_roundoff_equal(got, expected, f"leaf {k}, output {output}, program:\n"
                                  + self.program.listing())

    @invariant()
    def forward_values_agree(self):
        values, _ = replay(self.program)
        for k, (tensor, value) in enumerate(zip(self.tensors, values)):
            assert_roundoff_equal(tensor.data, value, f"node {k}", tol=1e-12)

    def teardown(self):
        if self.tensors:
            last = len(self.tensors) - 1
            self.compare(last, np.cos(np.arange(self.tensors[last].size)).reshape(
                self.tensors[last].shape))


RandomGraph.TestCase.settings = settings(
    settings(), stateful_step_count=20,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestRandomGraph = RandomGraph.TestCase
