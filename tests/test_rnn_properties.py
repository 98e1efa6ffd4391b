"""The unrolled minigrad RNN (rnn.model) against the analytic BPTT oracle (rnn.oracles.vanilla),
central differences, and properties that hold for every RNN problem."""
import runpy
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import minigrad as mg
from minigrad.draw import walk
from minigrad.testing import assert_roundoff_equal, gradcheck
from minigrad.testing.rnn import (PARAMETER_NAMES as NAMES, RNNProblem, log_uniform, make_problem,
                                  rnn_problems)
from rnn import RNN
from rnn.oracles.vanilla import bptt
from rnn.oracles.seed_formulas import seed_bptt, seed_dL_do


def autodiff(p: RNNProblem):
    """The model, its unrolled graph and L, after ``L.backward()``."""
    model = RNN.from_arrays(**p.params)
    graph = model.unroll(p.x, p.y, p.h0)
    graph.loss.backward()
    return model, graph


def oracle(p: RNNProblem):
    return bptt(**p.params, x=p.x, y=p.y, h0=p.h0)


# -- edge cases pinned for every property that takes any problem ---------------------
TAU_1 = make_problem(tau=1)
HIDDEN_1 = make_problem(H=1, batch=3)
ONE_CLASS = make_problem(K=1, tau=4, batch=2)
SATURATED = make_problem(H=4, scale=50.0, tokens=False)             # tanh = ±1 exactly
TIED_LOGITS = make_problem(K=4).with_params(V=np.zeros((4, 3)), c=np.full(4, 2.0))
# Logits of ±700 and ±800: e^800 overflows (float64 ends near e^709.8) and e^-800 is 0,
# so only a shifted log-sum-exp keeps L finite (one sequence's L(t) is up to ≈ 1600).
EXTREME_LOGITS = make_problem(K=4, batch=2).with_params(c=np.array([700.0, -700, 800, -800]))
EDGE_CASES = (TAU_1, HIDDEN_1, ONE_CLASS, SATURATED, TIED_LOGITS, EXTREME_LOGITS)


def with_edge_cases(test):
    for problem in EDGE_CASES:
        test = example(problem)(test)
    return test


# -- 1. agreement with the oracle --------------------------------------------------------

@given(rnn_problems())
@with_edge_cases
def test_autodiff_agrees_with_bptt(p):
    model, graph = autodiff(p)
    expected = oracle(p)
    assert_roundoff_equal(graph.loss.data, expected.loss, "L")
    for name, parameter in model.parameters().items():
        assert_roundoff_equal(parameter.grad, expected.grads[name], f"∂L/∂{name}")
    if p.h0 is None:
        assert graph.h[0].grad is None           # the default h(0) is a constant
    else:
        assert_roundoff_equal(graph.h[0].grad, expected.grads["h0"], "∂L/∂h(0)")
    for t in range(1, p.tau + 1):
        assert_roundoff_equal(graph.h[t].data, expected.h[t], f"h({t})")
        assert_roundoff_equal(graph.y_hat[t].data, expected.y_hat[t - 1], f"ŷ({t})")
        assert_roundoff_equal(graph.o[t].grad, expected.dL_do[t - 1], f"∂L/∂o({t})")
        assert_roundoff_equal(graph.h[t].grad, expected.dL_dh[t - 1], f"∂L/∂h({t})")


# Central differences in float64 with step ε = 1e-6 carry a rounding error of about
# ε_mach·|L|/ε ≈ 2e-10·|L| ≤ 2e-7 for the losses here (|L| ≲ 10³), covered by
# atol = 1e-6, and a truncation error of ε²/6·|∂³L| that rtol = 1e-5 covers while the
# curvature stays ordinary. That is why the scales stop at 2: at larger W the
# gradients explode and ∂³L with them, and the truncation error alone would exceed
# any honest band (the oracle's own central-difference test handles that regime with
# a D(2ε) − D(ε) estimate; autodiff matches the oracle there to round-off, above).
# gradcheck checks every entry of every input. The oracle equals autodiff to 1e-9
# (test above), so it equals central differences within this band too.
FD_EXAMPLES = max(3, settings().max_examples // 3)


@settings(max_examples=FD_EXAMPLES)
@given(rnn_problems(with_h0=st.just(True), scale=log_uniform(1e-3, 2.0)))
@example(TAU_1)
@example(HIDDEN_1)
def test_autodiff_matches_central_differences(p):
    model = RNN.from_arrays(**p.params)

    def loss(U, W, V, b, c, h0):
        model.U, model.W, model.V, model.b, model.c = U, W, V, b, c
        return model.unroll(p.x, p.y, h0).loss

    h0 = mg.tensor(p.h0, requires_grad=True, name="h(0)")
    assert gradcheck(loss, *model.parameters().values(), h0, eps=1e-6, atol=1e-6, rtol=1e-5)


# -- 2. properties -----------------------------------------------------------------------

@given(rnn_problems())
@with_edge_cases
def test_output_gradients_sum_to_zero_over_classes(p):
    """∂L/∂o(t) = ŷ(t) − onehot(y(t)) sums to 0 over classes, so do ∂L/∂c = Σ_t ∂L/∂o(t)
    and each column of ∂L/∂V = Σ_t ∂L/∂o(t) h(t)^T. Each step's entries are at most 1
    in size and |h| ≤ 1, so the round-off of each sum is ≲ K·τ·B ulp of 1; 1e-12·τ·B
    bounds it (a wrong gradient, e.g. the seed's ŷ − y, misses by ≥ 1)."""
    model, graph = autodiff(p)
    bound = 1e-12 * p.tau * p.sequences
    for t in range(1, p.tau + 1):
        assert np.all(np.abs(graph.o[t].grad.sum(axis=0)) <= bound), t
    assert abs(model.c.grad.sum()) <= bound
    assert np.all(np.abs(model.V.grad.sum(axis=0)) <= bound)


@given(rnn_problems())
@with_edge_cases
def test_zero_output_weights_give_loss_tau_B_ln_K(p):
    """V = 0, c = 0: every ŷ(t) is uniform, so L = τ·B·ln K whatever U, W, b, x, h(0)."""
    _, graph = autodiff(p.with_params(V=np.zeros_like(p.V), c=np.zeros_like(p.c)))
    assert graph.loss.item() == pytest.approx(p.tau * p.sequences * np.log(p.K), rel=1e-12,
                                              abs=0)


@given(rnn_problems())
@with_edge_cases
def test_zero_recurrence_is_independent_one_step_problems(p):
    """W = 0: h(t) = tanh(b + U x(t)) ignores h(t−1), so step t is the τ = 1 problem
    (x(t), y(t)). L, ∂L/∂U, ∂L/∂V, ∂L/∂b, ∂L/∂c, ∂L/∂o(t) and ∂L/∂h(t) are the
    one-step problems' values (summed over steps for the parameters); ∂L/∂W is not
    zero but Σ_t ∂L/∂a(t) h(t−1)^T with ∂L/∂a(t) and h(t−1) from the one-step
    problems, and ∂L/∂h(0) = W^T ∂L/∂a(1) is exactly zero."""
    p = p.with_params(W=np.zeros_like(p.W))
    model, graph = autodiff(p)
    steps = [autodiff(p.with_params(x=p.x[t - 1:t], y=p.y[t - 1:t]))
             for t in range(1, p.tau + 1)]
    assert_roundoff_equal(graph.loss.data, sum(g.loss.data for _, g in steps), "L")
    for name in ("U", "V", "b", "c"):
        assert_roundoff_equal(model.parameters()[name].grad,
                              sum(m.parameters()[name].grad for m, _ in steps), f"∂L/∂{name}")
    previous_h = [p.h0_or_zeros()] + [g.h[1].data for _, g in steps[:-1]]
    dL_dW = sum(np.reshape(g.a[1].grad, (p.H, -1)) @ np.reshape(h, (p.H, -1)).T
                for (_, g), h in zip(steps, previous_h))
    assert_roundoff_equal(model.W.grad, dL_dW, "∂L/∂W")
    for t, (_, step) in enumerate(steps, start=1):
        assert_roundoff_equal(graph.o[t].grad, step.o[1].grad, f"∂L/∂o({t})")
        assert_roundoff_equal(graph.h[t].grad, step.h[1].grad, f"∂L/∂h({t})")
    if p.h0 is not None:
        assert not np.any(graph.h[0].grad)


@given(rnn_problems())
@with_edge_cases
def test_loss_and_gradients_add_over_time_steps(p):
    """Back-propagating each L(t) alone (through its own graph) and summing gives L's
    gradients: the chain rule is linear in the output gradient."""
    model, graph = autodiff(p)
    parts = []
    for t in range(1, p.tau + 1):
        part_model = RNN.from_arrays(**p.params)
        part = part_model.unroll(p.x, p.y, p.h0)
        part.L[t].backward()
        parts.append((part_model, part, t))
    assert_roundoff_equal(graph.loss.data, sum(g.L[t].data for _, g, t in parts), "L")
    for name, parameter in model.parameters().items():
        assert_roundoff_equal(parameter.grad, sum(m.parameters()[name].grad for m, _, _ in parts),
                              f"∂L/∂{name}")
    if p.h0 is not None:
        assert_roundoff_equal(graph.h[0].grad, sum(g.h[0].grad for _, g, _ in parts), "∂L/∂h(0)")


@given(rnn_problems(batch=st.integers(1, 4)))
@with_edge_cases
def test_loss_and_gradients_add_over_the_batch(p):
    """A batch of B sequences is B independent single-sequence runs: L and the parameter
    gradients add up; ∂L/∂h(t) and ∂L/∂h(0) are the single runs' columns."""
    if p.batch is None:                       # the single-sequence edge cases
        p = p.with_params(x=p.x[:, None], y=p.y[:, None],
                          h0=None if p.h0 is None else p.h0[:, None])
    model, graph = autodiff(p)
    h0 = p.h0_or_zeros()
    singles = [autodiff(p.with_params(x=p.x[:, j], y=p.y[:, j], h0=h0[:, j]))
               for j in range(p.batch)]
    assert_roundoff_equal(graph.loss.data, sum(g.loss.data for _, g in singles), "L")
    for name, parameter in model.parameters().items():
        assert_roundoff_equal(parameter.grad, sum(m.parameters()[name].grad for m, _ in singles),
                              f"∂L/∂{name}")
    columns = [[g.h[t].grad for _, g in singles] for t in range(p.tau + 1)]
    if p.h0 is not None:
        assert_roundoff_equal(graph.h[0].grad, np.stack(columns[0], -1), "∂L/∂h(0)")
    for t in range(1, p.tau + 1):
        assert_roundoff_equal(graph.h[t].grad, np.stack(columns[t], -1), f"∂L/∂h({t})")


@given(rnn_problems(), st.integers(1, 40))
def test_graph_size_is_linear_in_tau(p, tau):
    """Read off the equations, each step adds the nodes U x(t) (and the constant x(t)
    for dense inputs), W h(t−1), b + W h(t−1), a(t), h(t), V h(t), o(t) and L(t):
    β = 8 (9 dense). Shared by all steps: U, W, V, b, c, h(0), the stack of the L(t)
    and L = their sum, plus b and c as columns in a batch: α = 8 (10 batched). ŷ(t)
    does not lie on the way to L. Nothing is copied per step, so the count is exact."""
    steps = (tau,) if p.batch is None else (tau, p.batch)
    x = np.resize(p.x, steps + p.x.shape[len(steps):])
    graph = RNN.from_arrays(**p.params).unroll(x, np.resize(p.y, steps), p.h0)
    alpha = 8 + (0 if p.batch is None else 2)
    beta = 8 + (0 if p.tokens else 1)
    assert len(walk([graph.loss])) == alpha + beta * tau


@given(rnn_problems())
def test_shared_parameters_feed_every_step(p):
    """U, W, V, b and c are single leaves used by an op of every step t (in a batch, b
    and c through one reshape node each, into columns, shared by all steps)."""
    model = RNN.from_arrays(**p.params)
    graph = model.unroll(p.x, p.y, p.h0)
    nodes = walk([graph.loss])
    shared = model.parameters()
    if p.batch is not None:
        for name in ("b", "c"):
            column, = (n for n in nodes if n.op == "reshape" and n.inputs[0] is shared[name])
            assert "t" not in column.tags
            shared[name] = column
    for t in range(1, p.tau + 1):
        inputs = {id(x) for n in nodes if n.tags.get("t") == t for x in n.inputs}
        for name, node in shared.items():
            assert id(node) in inputs, (name, t)


@given(rnn_problems(K=st.just(1)))
@example(ONE_CLASS)
def test_a_single_class_has_zero_loss_and_zero_gradients(p):
    """K = 1: ŷ(t) = 1 = onehot(y(t)) at every step, so L = 0 and every gradient is 0
    exactly (1 − 1 is exact, and zeros propagate as zeros)."""
    model, graph = autodiff(p)
    assert graph.loss.item() == 0.0
    for name, parameter in model.parameters().items():
        assert not np.any(parameter.grad), name
    for t in range(0 if p.h0 is not None else 1, p.tau + 1):
        assert not np.any(graph.h[t].grad), t


# -- 4. the seed's printed formulas disagree with autodiff; the corrected oracle agrees ---

@given(rnn_problems())
@with_edge_cases
def test_seed_10_18_disagrees_with_autodiff_at_every_step(p):
    """Printed (10.18): ŷ(t) − y(t), subtracting the class id from every entry. The
    difference from ŷ(t) − onehot(y(t)) is onehot(y(t)) − y(t), whose largest entry is 1
    in size for every y(t) and K, so every step misses by at least 1."""
    _, graph = autodiff(p)
    expected = oracle(p)
    printed = seed_dL_do(expected.y_hat, p.y)
    for t in range(1, p.tau + 1):
        assert np.max(np.abs(printed[t - 1] - graph.o[t].grad)) >= 1 - 1e-12, t
        assert_roundoff_equal(graph.o[t].grad, expected.dL_do[t - 1], f"∂L/∂o({t})")


# A problem where every gradient is O(1) and nothing is degenerate (H > 1, W full).
SEED_PROBLEMS = [make_problem(H=3, D=4, K=3, tau=5, seed=seed) for seed in range(3)]


def relative_miss(actual, expected):
    return np.max(np.abs(actual - expected)) / max(1.0, np.max(np.abs(expected)))


@pytest.mark.parametrize("p", SEED_PROBLEMS)
@pytest.mark.parametrize("errors, wrong", [
    (("10.18",), ("U", "W", "V", "b", "c", "h0")),
    (("10.20",), ("U", "W", "b", "h0")),
    (("10.21",), ("U", "W", "b", "h0")),
    (("10.18", "10.21"), ("U", "W", "V", "b", "c", "h0")),
])
def test_seed_formulas_disagree_with_autodiff_where_the_oracle_agrees(p, errors, wrong):
    """A wrong ∇_{o(t)} L spoils every gradient; a wrong recursion for ∇_{h(t)} L spoils
    ∇_{h(t)} L for t < τ and what it feeds (U, W, b, h(0)) but not V and c. A miss
    means off by more than 1% of the gradient's scale, 10⁷ × the round-off bound."""
    model, graph = autodiff(p)
    autodiff_grads = {**{n: t.grad for n, t in model.parameters().items()}, "h0": graph.h[0].grad}
    printed, corrected = seed_bptt(**p.params, x=p.x, y=p.y, h0=p.h0, errors=errors), oracle(p)
    for name, grad in autodiff_grads.items():
        assert_roundoff_equal(grad, corrected.grads[name], f"∂L/∂{name}")
        if name in wrong:
            assert relative_miss(printed.grads[name], grad) > 1e-2, name
        else:
            assert_roundoff_equal(printed.grads[name], grad, f"printed ∂L/∂{name}")
    for t in range(1, p.tau):
        assert relative_miss(printed.dL_dh[t - 1], graph.h[t].grad) > 1e-2, t


def test_the_gradients_example_shows_agreement(capsys):
    example_path = Path(__file__).parent.parent / "examples" / "02_rnn_gradients.py"
    runpy.run_path(str(example_path), run_name="__main__")
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert last_line.startswith("largest absolute difference anywhere:")
    assert float(last_line.split(":")[1]) < 1e-12
