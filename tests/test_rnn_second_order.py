"""The seed's RNN to second order: autodiff Hessian-vector products of the unrolled
graph's loss (mg.hvp, reverse-over-reverse and forward-over-reverse) against the
R-operator oracle (rnn.oracles.rop, numpy only) and against central differences of gradients.
"""
import re
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import minigrad as mg
from minigrad.testing import assert_roundoff_equal, gradcheck
from minigrad.testing.rnn import RNNProblem, log_uniform, rnn_problems
from rnn import RNN
from rnn.oracles.rop import hvp as rop_hvp
from test_rnn_properties import EDGE_CASES, HIDDEN_1, TAU_1

MODES = ("rev-rev", "fwd-rev")


def variables(p: RNNProblem) -> dict[str, np.ndarray]:
    """U, W, V, b, c, and h(0) when the problem gives one (else h(0) is the constant 0)."""
    return {**p.params, **({} if p.h0 is None else {"h0": p.h0})}


def loss_function(p: RNNProblem):
    """L as a function of the variables' Tensors, built by the model's own unroll."""
    model = RNN.from_arrays(**p.params)

    def loss(U, W, V, b, c, h0=None):
        model.U, model.W, model.V, model.b, model.c = U, W, V, b, c
        return model.unroll(p.x, p.y, h0).loss
    return loss


def direction(p: RNNProblem, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(a.shape) for name, a in variables(p).items()}


def autodiff_hvp(p: RNNProblem, v: dict, mode: str) -> dict[str, np.ndarray]:
    products = mg.hvp(loss_function(p), tuple(variables(p).values()), tuple(v.values()),
                      mode=mode)
    return {name: h.data for name, h in zip(v, products)}


def oracle_hvp(p: RNNProblem, v: dict) -> dict[str, np.ndarray]:
    return rop_hvp(*p.args, v, p.h0).product


def with_edge_cases(test):
    for problem in EDGE_CASES:
        test = example(p=problem, seed=0)(test)
    return test


# Autodiff and the R-operator compute the same H v exactly, in different orders of
# floating-point operations, so they differ by round-off only, and the bound of the
# first-order tests applies (assert_roundoff_equal: 1e-9 · max(1, ‖oracle‖∞) per array).
# H v has the structure of a gradient (the R-passes are one forward and one backward
# sweep over the same graph, with products of at most the same terms), so its round-off
# is a few ulp times the number of terms summed, and grows through long products the
# same way; the first-order tests see ~1e-16 of the scale, far under 1e-9, while a wrong
# term (a missing v_W^T ∇a, a sign of the tanh'' term) misses by O(1) of the scale.
@given(rnn_problems(), st.integers(0, 2 ** 32 - 1))
@with_edge_cases
def test_autodiff_hvp_equals_the_r_operator(p, seed):
    v = direction(p, seed)
    expected = oracle_hvp(p, v)
    for mode in MODES:
        actual = autodiff_hvp(p, v, mode)
        for name in v:
            assert_roundoff_equal(actual[name], expected[name], f"(H v)_{name}, {mode}")


# Central differences of autodiff gradients, D = (∇L(θ + εv) − ∇L(θ − εv)) / 2ε with
# ε = 1e-6, carry a rounding error of about ε_mach·‖∇L‖/ε ≈ 1e-10·‖∇L‖ ≲ 1e-7 here and a
# truncation error of ε²/6·|∂³∇L[v, v]| ≈ 2e-13·|∂³∇L|; the band of the first-order
# tests (1e-6 absolute, 1e-5 relative) covers both while the curvature stays ordinary,
# which is why the scales stop at 2, as in tests/test_rnn_properties' central-difference
# test (the oracle's own tests, tests/test_rop_oracle, reach saturating scales with
# shrinking steps). Both products must lie in the band.
FD_EXAMPLES = max(3, settings().max_examples // 3)
EPS, ATOL, RTOL = 1e-6, 1e-6, 1e-5


@settings(max_examples=FD_EXAMPLES)
@given(rnn_problems(scale=log_uniform(1e-3, 2.0)), st.integers(0, 2 ** 32 - 1))
@example(p=TAU_1, seed=1)
@example(p=HIDDEN_1, seed=2)
def test_both_equal_central_differences_of_gradients(p, seed):
    v = direction(p, seed)
    names = tuple(v)
    gradient = mg.gradient(loss_function(p), argnums=tuple(range(len(names))))

    def grads_at(step):
        return [g.data for g in gradient(*(a + step * v[n] for n, a in variables(p).items()))]
    differences = {n: (plus - minus) / (2 * EPS)
                   for n, plus, minus in zip(names, grads_at(EPS), grads_at(-EPS))}
    for what, product in [("R-operator", oracle_hvp(p, v))] + [
            (mode, autodiff_hvp(p, v, mode)) for mode in MODES]:
        for n in names:
            band = ATOL + RTOL * np.abs(differences[n])
            error = np.abs(product[n] - differences[n])
            assert np.all(error <= band), (
                f"(H v)_{n} by {what}: off central differences by {error.max():.3g}")


@settings(max_examples=max(2, settings().max_examples // 5))
@given(rnn_problems(H=st.integers(1, 3), D=st.integers(1, 3), K=st.integers(1, 3),
                    tau=st.integers(1, 4), batch=st.none() | st.integers(1, 2),
                    scale=log_uniform(1e-2, 2.0)))
def test_gradcheck_at_second_order_passes_on_the_rnn(p):
    """Every second derivative of L (the whole Hessian, over U, W, V, b, c and h(0))
    against central differences of autodiff gradients, by gradcheck itself."""
    leaves = [mg.tensor(a, requires_grad=True, name=n) for n, a in variables(p).items()]
    assert gradcheck(loss_function(p), *leaves, order=2, modes=("rev",), atol=ATOL, rtol=RTOL)



def test_example_06_agrees_three_ways_and_draws_the_second_derivative(tmp_path, monkeypatch,
                                                                      capsys):
    script = Path(__file__).parent.parent / "examples" / "06_second_order.py"
    monkeypatch.setattr(sys, "argv", [str(script), str(tmp_path)])
    runpy.run_path(str(script), run_name="__main__")
    printed = capsys.readouterr().out
    assert float(re.search(r"largest difference between any two: (\S+)", printed)[1]) < 1e-12
    value = re.search(r"d²tanh/dx² at 0\.5: (\S+)", printed)[1]
    assert float(value) == pytest.approx(-2 * np.tanh(0.5) * (1 - np.tanh(0.5) ** 2), rel=1e-14)
    svg = (tmp_path / "d2tanh.svg").read_text()
    assert ">d²tanh/dx²<" in svg and ">tanh<" in svg and svg.count("<svg") == 1
