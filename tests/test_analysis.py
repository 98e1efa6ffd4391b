"""Vanishing and exploding gradients (rnn.analysis): the s^k laws on W = s·Q,
Jacobian products against autodiff, the eigendecomposition identity, clipping,
and a tiny instance of the memory task."""
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, example, given, strategies as st

import minigrad as mg
from rnn import RNN, Unrolled
from rnn.analysis import (SUCCESS, clipping_run, eigen, grad_norms, jacobian_products, last_step_loss,
                          last_step_profile, linear, memory_task, scaled_orthogonal, step_jacobians,
                          train_memory, with_spectrum)
from rnn.optim import clip_grad_norm, global_norm
from minigrad.testing.rnn import RNNProblem, make_problem, rnn_problems

ROUNDOFF = 1e-12   # slack for an inequality that can hold with equality (tanh'(a) = 1 at a = 0)


@st.composite
def scaled_problems(draw, s=st.floats(0.2, 2.0), batch=st.none() | st.integers(1, 3),
                    K=st.integers(1, 6)):
    """An RNN problem whose W is replaced by s·Q (Q orthogonal), and s."""
    p = draw(rnn_problems(batch=batch, K=K))
    s = draw(s)
    return p.with_params(W=scaled_orthogonal(p.H, s, seed=draw(st.integers(0, 2 ** 16)))), s


def profile(p: RNNProblem, activation):
    """``‖∂L(τ)/∂h(τ−k)‖`` for k = 0..τ, and the model it was measured on."""
    model = RNN.from_arrays(**p.params)
    return last_step_profile(model, p.x, p.y, p.h0, activation=activation), model


def clear_of_underflow(norms) -> bool:
    """Round-off is relative only above the subnormal range (< 2.2e-308): a
    saturated softmax can send back gradients so small that a few ulp are a
    large fraction of them."""
    return bool(np.all((norms == 0) | (norms > 1e-290)))


def powers(s, tau):
    return s ** np.arange(tau + 1.0)


# -- the s^k laws on W = s·Q -----------------------------------------------------------

@given(scaled_problems())
@example((make_problem(H=1, tau=12).with_params(W=np.array([[-0.2]])), 0.2))
def test_linear_gradient_scales_exactly_as_s_to_the_distance(problem):
    p, s = problem
    norms, _ = profile(p, linear)
    assume(clear_of_underflow(norms))
    np.testing.assert_allclose(norms, powers(s, p.tau) * norms[0], rtol=1e-10, atol=0)


@given(scaled_problems(s=st.floats(0.05, 0.999)))
def test_tanh_gradient_is_bounded_by_s_to_the_distance_when_s_below_1(problem):
    p, s = problem
    norms, _ = profile(p, mg.tanh)
    assume(clear_of_underflow(norms))
    assert np.all(norms <= powers(s, p.tau) * norms[0] * (1 + ROUNDOFF))


@given(scaled_problems(s=st.floats(1.05, 2.0), K=st.integers(2, 6)))   # K = 1: L(τ) = 0
def test_linear_gradient_explodes_as_s_to_the_distance(problem):
    p, s = problem
    norms, _ = profile(p, linear)
    assume(norms[0] > 0 and clear_of_underflow(norms))   # a saturated softmax can send back 0
    np.testing.assert_allclose(norms / norms[0], powers(s, p.tau), rtol=1e-10)
    assert np.all(np.diff(norms) > 0)


# -- per-step Jacobians against autodiff -----------------------------------------------

@given(rnn_problems(batch=st.none()), st.sampled_from(["tanh", "linear"]))
def test_jacobian_products_carry_the_last_step_gradient_back(p, activation):
    """∂L(τ)/∂h(τ−k) from autodiff = M[k]ᵀ ∂L(τ)/∂h(τ), with M[k] built from the
    formula J(t) = diag(1 − h(t)²) W (or W), never from the graph's VJPs."""
    model = RNN.from_arrays(**p.params)
    graph = model.unroll(p.x, p.y, p.h0_or_zeros(), activation=mg.tanh if activation == "tanh" else linear)
    graph.L[p.tau].backward()
    M = jacobian_products(step_jacobians(graph, p.W))
    g_tau = graph.h[p.tau].grad
    scale = max(1.0, max(np.abs(graph.h[p.tau - k].grad).max() for k in range(p.tau + 1)))
    for k in range(p.tau + 1):
        assert np.abs(M[k].T @ g_tau - graph.h[p.tau - k].grad).max() <= 1e-10 * scale


@given(scaled_problems(s=st.floats(0.05, 2.0), batch=st.none()))
def test_singular_values_of_jacobian_products(problem):
    """Linear: M[k] = (sQ)^k has every singular value s^k; tanh: all ≤ s^k."""
    p, s = problem
    for activation in (linear, mg.tanh):
        graph = RNN.from_arrays(**p.params).unroll(p.x, activation=activation)
        sv = np.array([np.linalg.svd(M, compute_uv=False)
                       for M in jacobian_products(step_jacobians(graph, p.W))])
        bound = powers(s, p.tau)[:, None]
        if activation is linear:
            np.testing.assert_allclose(sv, np.broadcast_to(bound, sv.shape), rtol=1e-10)
        else:
            assert np.all(sv <= bound * (1 + 1e-10))


def test_step_jacobians_refuse_a_batch():
    graph = RNN(3, 2, 3).unroll(np.zeros((4, 2), dtype=int))
    with pytest.raises(ValueError, match="single-sequence"):
        step_jacobians(graph, np.eye(2))


def test_grad_norms_mark_a_constant_h0_with_nan():
    p = make_problem(tau=3)
    graph = RNN.from_arrays(**p.params).unroll(p.x, p.y)           # h(0) = zeros, a constant
    graph.loss.backward()
    norms = grad_norms(graph)
    assert np.isnan(norms[0]) and np.all(norms[1:] > 0)


def test_grad_norms_of_tiny_gradients_do_not_underflow():
    """Regression: np.linalg.norm squares entries, so a 1e-157 gradient lost
    ~1e-11 of its norm (found by the s^k law on a saturated softmax)."""
    h = [mg.tensor(np.zeros(2), requires_grad=True) for _ in range(2)]
    h[0].grad, h[1].grad = np.array([3e-160, 4e-160]), np.array([0.0, 0.0])
    norms = grad_norms(Unrolled(1, None, {"h": h}, [None, {}], [None, None], [None, None]))
    assert norms[0] == pytest.approx(5e-160, rel=1e-15) and norms[1] == 0


@given(rnn_problems(batch=st.none() | st.integers(1, 3)))
def test_last_step_node_equals_a_loss_with_only_the_last_target(p):
    """Back-propagating from the graph's L(τ) node gives the same ∂/∂h(t) as a
    graph whose only loss is the cross-entropy of o(τ): the other L(t) lie on no
    path from L(τ)."""
    model = RNN.from_arrays(**p.params)
    norms = last_step_profile(model, p.x, p.y, p.h0_or_zeros())
    graph, loss = last_step_loss(model, p.x, p.y[-1], p.h0_or_zeros())
    (loss * p.sequences).backward()                  # last_step_loss is the mean over sequences
    np.testing.assert_allclose(grad_norms(graph)[::-1], norms, rtol=1e-12, atol=0)


# -- eigen-analysis of W -----------------------------------------------------------------

def assert_same_multiset(found, wanted, atol):
    """Each wanted eigenvalue matches a distinct found one (repeated ones included)."""
    found = list(found)
    for z in wanted:
        i = int(np.argmin(np.abs(np.array(found) - z)))
        assert abs(found[i] - z) <= atol, (z, found)
        found.pop(i)


def assert_power_identity(W, kmax=10):
    """W^k = P diag(λ)^k P⁻¹ for k = 0..kmax, to round-off amplified by κ(P)²
    (once for the computed eigenvectors, once for forming P Λ^k P⁻¹)."""
    e = eigen(W)
    rho = max(e.spectral_radius, 1e-3)
    for k in range(kmax + 1):
        error = np.abs(e.power(k) - np.linalg.matrix_power(W, k)).max()
        assert error <= 1e-13 * (k + 1) * len(W) * e.condition ** 2 * max(rho, e.sigma_max) ** k, (k, error)


@given(st.integers(1, 8), st.integers(0, 2 ** 32 - 1))
@example(2, 0)
def test_eigendecomposition_powers_of_random_nonsymmetric_W(H, seed):
    W = np.random.default_rng(seed).normal(size=(H, H)) / np.sqrt(H)
    e = eigen(W)
    np.testing.assert_allclose(W @ e.P, e.P * e.eigenvalues, atol=1e-12 * e.condition)
    assert e.spectral_radius <= e.sigma_max * (1 + ROUNDOFF)
    assert_power_identity(W)


@given(st.lists(st.floats(0.1, 1.5), min_size=1, max_size=3), st.lists(st.floats(0.1, 3.0), max_size=3),
       st.floats(0.1, 1.5), st.integers(0, 2 ** 16), st.booleans())
def test_chosen_spectra_complex_pairs_included(real_moduli, angles, radius, seed, normal):
    signs = np.resize([1.0, -1.0], len(real_moduli))
    pairs = [radius * np.exp(1j * a) for a in angles]
    wanted = np.concatenate([signs * real_moduli, pairs, np.conj(pairs)])
    W = with_spectrum(wanted, seed, normal=normal)
    e = eigen(W)
    assert W.dtype == float
    assert_same_multiset(e.eigenvalues, wanted, atol=1e-8 * e.condition)
    if normal:   # W = Q B Qᵀ with Q orthogonal: singular values = |λ|, σ_max = ρ
        np.testing.assert_allclose(np.sort(np.linalg.svd(W, compute_uv=False)),
                                   np.sort(np.abs(wanted)), rtol=1e-10)
    assert_power_identity(W)


def test_with_spectrum_refuses_unpaired_complex_eigenvalues():
    with pytest.raises(ValueError, match="conjugate pairs"):
        with_spectrum([0.5, 1j])


# -- clipping ----------------------------------------------------------------------------

@given(scaled_problems(s=st.floats(1.2, 2.0)), st.floats(0.01, 10.0))
def test_clipping_bounds_the_exploding_gradient_and_keeps_its_direction(problem, max_norm):
    p, _ = problem
    _, model = profile(p, linear)
    grads = {name: q.grad for name, q in model.parameters().items()}
    clipped, norm = clip_grad_norm(grads, max_norm)
    assert norm == global_norm(grads)
    np.testing.assert_allclose(global_norm(clipped), min(norm, max_norm), rtol=1e-12)
    flat, flat_clipped = (np.concatenate([g.ravel() for g in d.values()]) for d in (grads, clipped))
    if norm > 0:
        cosine = flat @ flat_clipped / (np.linalg.norm(flat) * np.linalg.norm(flat_clipped))
        assert abs(cosine - 1) <= 1e-12


def test_clipping_turns_a_diverging_run_into_a_converging_one():
    plain, clipped = clipping_run(None, steps=10), clipping_run(1.0, steps=10)
    assert not np.isfinite(plain.loss[-1]) or plain.loss[-1] > 1e6 * plain.loss[0]
    assert plain.grad_norm[0] == clipped.grad_norm[0] > 1.0                 # same start, clipped
    assert np.all(np.array(clipped.update_norm) <= 0.1 * 1.0 * (1 + ROUNDOFF))
    assert clipped.loss[-1] < clipped.loss[0] / 2


# -- the memory task -----------------------------------------------------------------------

@given(st.integers(0, 30), st.integers(1, 20), st.integers(2, 4), st.integers(1, 5))
def test_memory_task_targets_the_first_symbol(d, n, symbols, distractors):
    x, y = memory_task(d, n, symbols=symbols, distractors=distractors, rng=np.random.default_rng(d))
    assert x.shape == (d + 1, n) and y.shape == (n,)
    assert np.array_equal(y, x[0]) and np.all(x[0] < symbols)
    assert np.all((x[1:] >= symbols) & (x[1:] < symbols + distractors))


def test_a_short_gap_is_learned():
    """d = 2 within the default budget (a breakdown at large d is measured by
    examples/05_vanishing_gradients.py, never asserted on a tiny budget)."""
    assert train_memory(2, seed=0)[0] >= SUCCESS


def test_the_example_runs_and_draws_its_pictures(tmp_path, monkeypatch):
    script = Path(__file__).parent.parent / "examples" / "05_vanishing_gradients.py"
    monkeypatch.setattr(sys, "argv", [str(script), "--quick", "--out", str(tmp_path)])
    runpy.run_path(str(script), run_name="__main__")
    for name in ("grad_norm_vs_distance", "eigenvalues", "clipping", "memory_task"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
