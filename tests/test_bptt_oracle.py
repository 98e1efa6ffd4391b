"""The analytic BPTT oracle (rnn.oracles.vanilla) against an independent forward pass and central
differences, and the seed's printed formulas (rnn.oracles.seed_formulas) shown to be wrong."""
import doctest

import numpy as np
import pytest
from hypothesis import example, given, strategies as st

import rnn.oracles.vanilla
import rnn.oracles.seed_formulas
from rnn.oracles.vanilla import bptt, forward
from rnn.oracles.seed_formulas import (seed_bptt, seed_dL_do, seed_next_dL_dh_10_20,
                                       seed_next_dL_dh_10_21)
from minigrad.testing import assert_roundoff_equal
from minigrad.testing.rnn import (PARAMETER_NAMES as NAMES, RNNProblem,
                                  assert_matches_central_differences,
                                  assert_steps_match_central_differences, make_problem,
                                  misses_central_differences, rnn_problems)

# Gradients are compared with central differences within the band minigrad.testing.rnn
# explains; the problems are its rnn_problems: scales up to 10 (tanh saturated, W large
# enough that gradients explode) stay inside that band (checked with 1000 examples).


def reference_loss(U, W, V, b, c, x, y, h0=None):
    """L written out directly, sharing nothing with rnn.oracles.vanilla: inputs as explicit
    one-hot or dense column matrices, one time step at a time."""
    H, D = U.shape
    X = np.eye(D)[x] if np.issubdtype(x.dtype, np.integer) else x      # [τ, (B,) D]
    X = X if X.ndim == 3 else X[:, None, :]
    h = np.zeros((H, X.shape[1])) if h0 is None else np.reshape(h0, (H, -1))
    L = 0.0
    for X_t, y_t in zip(X, y):
        h = np.tanh(b[:, None] + W @ h + U @ X_t.T)
        L += step_loss(V, c, h, y_t)
    return L


def step_loss(V, c, h, y_t):
    """L(t) from h(t) (H,) or (H, B)."""
    return output_loss(c[:, None] + V @ h.reshape(V.shape[1], -1), y_t)


def output_loss(o, y_t):
    """L(t) = -log softmax(o(t))[y(t)], summed over the columns of o(t); softmax is
    normalised without any shift (the logits here stay far from overflow)."""
    p = np.exp(o.reshape(len(o), -1))
    p = p / p.sum(axis=0)
    y_t = np.atleast_1d(y_t)
    return -np.log(p[y_t, np.arange(len(y_t))]).sum()


def loss_of(p: RNNProblem, name):
    """reference_loss as a function of one parameter (or "h0") of problem p."""
    if name == "h0":
        return lambda h0: reference_loss(*p.args, h0)
    return lambda value: reference_loss(*({**p.params, name: value}[n] for n in NAMES),
                                        p.x, p.y, p.h0)


def suffix_loss(p: RNNProblem, t):
    """L as a function of h(t), t ≥ 1: L(t) via o(t) plus the loss of steps t+1..τ
    started from h(t). (L(1), ..., L(t-1) do not depend on h(t) and are left out.)"""
    U, W, V, b, c = p.params.values()

    def f(h_t):
        later = reference_loss(U, W, V, b, c, p.x[t:], p.y[t:], h_t) if t < len(p.y) else 0.0
        return step_loss(V, c, h_t, p.y[t - 1]) + later
    return f


@given(rnn_problems())
def test_loss_matches_reference_forward(p):
    result = bptt(*p.args, h0=p.h0)
    assert result.loss == pytest.approx(reference_loss(*p.args, p.h0), rel=1e-12, abs=1e-12)


# Found by Hypothesis: W at scale 5 makes ∂L/∂h(0) ~ 85 and central differences miss it by
# 1.1e-3 through truncation alone, outside atol + rtol: the reason for the |D(2ε) − D(ε)| term.
EXPLODING = make_problem(H=6, D=1, K=2, tau=7, with_h0=False, seed=852,
                         scale=dict(U=1.0, W=5.0, V=0.5, b=0.5, c=2.0))


@given(rnn_problems())
@example(EXPLODING)
def test_gradients_match_central_differences(p):
    result = bptt(*p.args, h0=p.h0)
    for name in NAMES:
        assert_matches_central_differences(result.grads[name], loss_of(p, name), p.params[name],
                                           f"∂L/∂{name}")
    assert_matches_central_differences(result.grads["h0"], loss_of(p, "h0"), p.h0_or_zeros(),
                                       "∂L/∂h(0)")


@given(rnn_problems())
def test_dL_do_and_dL_dh_match_central_differences(p):
    """dL_do[t-1] = ∂L/∂o(t) and dL_dh[t-1] = ∂L/∂h(t), the latter through all later steps."""
    result = bptt(*p.args, h0=p.h0)
    o = forward(*p.args[:-1], h0=p.h0).o
    assert_steps_match_central_differences(p.tau, {
        "o": (result.dL_do, lambda t: (lambda o_t: output_loss(o_t, p.y[t - 1]), o[t - 1])),
        "h": (result.dL_dh, lambda t: (suffix_loss(p, t), result.h[t]))})


@given(rnn_problems())
def test_shapes_and_forward_agree(p):
    (H, D), K, tau = p.U.shape, p.K, p.tau
    batch = p.y.shape[1:]
    result = bptt(*p.args, h0=p.h0)
    h, o = forward(*p.args[:-1], h0=p.h0)
    assert {n: g.shape for n, g in result.grads.items()} == dict(
        U=(H, D), W=(H, H), V=(K, H), b=(H,), c=(K,), h0=(H, *batch))
    assert result.dL_do.shape == result.y_hat.shape == o.shape == (tau, K, *batch)
    assert result.dL_dh.shape == (tau, H, *batch)
    assert result.h.shape == h.shape == (tau + 1, H, *batch)
    assert all(a.dtype == np.float64 for a in (*result.grads.values(), result.dL_dh, h, o))
    assert isinstance(result.loss, float)
    np.testing.assert_array_equal(result.h, h)
    np.testing.assert_array_equal(h[0], np.zeros((H, *batch)) if p.h0 is None else p.h0)
    assert_roundoff_equal(result.y_hat, np.exp(o) / np.exp(o).sum(axis=1, keepdims=True), "ŷ")


@given(rnn_problems(batch=st.integers(1, 4)))
def test_a_batch_is_the_sum_of_its_sequences(p):
    batched = bptt(*p.args, h0=p.h0)
    h0 = p.h0_or_zeros()
    singles = [bptt(**p.params, x=p.x[:, j], y=p.y[:, j], h0=h0[:, j])
               for j in range(p.y.shape[1])]
    assert batched.loss == pytest.approx(sum(s.loss for s in singles), rel=1e-12, abs=1e-12)
    for name in NAMES:
        assert_roundoff_equal(batched.grads[name], sum(s.grads[name] for s in singles), name)
    assert_roundoff_equal(batched.grads["h0"], np.stack([s.grads["h0"] for s in singles], -1),
                          "h0")
    for field in ("dL_do", "dL_dh", "h", "y_hat"):
        assert_roundoff_equal(getattr(batched, field),
                             np.stack([getattr(s, field) for s in singles], -1), field)


@given(rnn_problems())
def test_tokens_are_one_hot_inputs(p):
    tokens = p.x if p.tokens else p.x.argmax(-1)
    from_tokens = bptt(**p.params, x=tokens, y=p.y, h0=p.h0)
    from_one_hot = bptt(**p.params, x=np.eye(p.D)[tokens], y=p.y, h0=p.h0)
    assert from_tokens.loss == pytest.approx(from_one_hot.loss, rel=1e-12, abs=1e-12)
    for name in (*NAMES, "h0"):
        assert_roundoff_equal(from_tokens.grads[name], from_one_hot.grads[name], name)


# -- validation -------------------------------------------------------------------------

def valid_arguments(**changes):
    """A valid call (H=3, D=4, K=2, τ=3, one sequence of tokens) with some arguments replaced."""
    args = dict(U=np.ones((3, 4)), W=np.eye(3), V=np.ones((2, 3)), b=np.zeros(3), c=np.zeros(2),
                x=np.array([0, 3, 1]), y=np.array([1, 0, 1]), h0=None)
    return {**args, **changes}


@pytest.mark.parametrize("changes, error, message", [
    (dict(U=np.ones(4)), ValueError,
     r"parameter U must be a matrix H×D with H, D ≥ 1, got shape \(4,\)"),
    (dict(U=np.ones((3, 4), dtype=complex)), TypeError,
     r"U must be a real \(integer or float\) array, got dtype complex128"),
    (dict(b=np.array(["0", "0", "0"])), TypeError, r"b must be a real .*, got dtype <U1"),
    (dict(U=np.ones((0, 4))), ValueError, r"parameter U must be a matrix H×D with H, D ≥ 1, "
                                          r"got shape \(0, 4\)"),
    (dict(V=np.ones((0, 3))), ValueError, r"parameter V must be a matrix K×H with K, H ≥ 1, "
                                          r"got shape \(0, 3\)"),
    (dict(W=np.eye(3)[:, :2]), ValueError,
     r"parameter W must have shape \(3, 3\) \(H×H; H = 3, D = 4, K = 2\), got \(3, 2\)"),
    (dict(V=np.ones((2, 4))), ValueError, r"V must have shape \(2, 3\)"),
    (dict(b=np.zeros(4)), ValueError, r"b must have shape \(3,\)"),
    (dict(c=np.zeros((2, 1))), ValueError,
     r"parameter c must have shape \(2,\) \(\(K,\); .*got \(2, 1\)"),
    (dict(W=np.full((3, 3), np.nan)), ValueError, r"W contains non-finite values \(NaN or inf\)"),
    (dict(x=np.zeros((3, 1, 1), dtype=int)), ValueError,
     r"token inputs x must have shape \[τ\] or \[τ, B\], got \(3, 1, 1\)"),
    (dict(x=np.array([0, 4, 1])), ValueError, r"token ids in x must lie in \[0, 4\)"),
    (dict(x=np.array([0, -1, 1])), ValueError, r"token ids in x must lie in \[0, 4\)"),
    (dict(x=np.zeros((3, 5))), ValueError,
     r"dense inputs x must have shape \[τ, 4\] or \[τ, B, 4\] \(U.shape\[1\] 4\), got \(3, 5\)"),
    (dict(x=np.zeros(3)), ValueError, r"dense inputs x must have shape"),
    (dict(x=np.array([[0.0, np.inf, 0, 0]] * 3)), ValueError,
     r"^dense inputs x contain non-finite values \(NaN or inf\)$"),
    (dict(x=np.array([True, False, True])), TypeError,
     r"inputs x must be integer token ids or floats, got dtype bool"),
    (dict(x=np.array(["a", "b", "c"])), TypeError, r"inputs x must be integer token ids or floats"),
    (dict(x=np.array([], dtype=int), y=np.array([], dtype=int)), ValueError,
     r"inputs x must have at least one time step, got shape \(0,\)"),
    (dict(x=np.zeros((3, 0), dtype=int), y=np.zeros((3, 0), dtype=int)), ValueError,
     r"a batch of inputs x must hold at least one sequence, got shape \(3, 0\)"),
    (dict(y=np.array([1.0, 0.0, 1.0])), TypeError,
     r"targets y must be integer class ids, got dtype float64"),
    (dict(y=np.array([1, 0])), ValueError, r"targets y must have shape \(3,\) to match x, got \(2,\)"),
    (dict(y=np.array([[1], [0], [1]])), ValueError, r"targets y must have shape \(3,\)"),
    (dict(y=np.array([1, 2, 1])), ValueError, r"target ids in y must lie in \[0, 2\) \(V.shape\[0\]\)"),
    (dict(h0=np.zeros(4)), ValueError, r"h0 must have shape \(3,\) \(hidden\[, batch\]\), got \(4,\)"),
    (dict(x=np.array([[0, 1]] * 3), y=np.array([[1, 0]] * 3), h0=np.zeros(3)), ValueError,
     r"h0 must have shape \(3, 2\)"),
    (dict(h0=np.array([0.0, np.nan, 0.0])), ValueError, r"h0 contains non-finite values"),
    (dict(h0=np.zeros(3, dtype=complex)), TypeError, r"h0 must be a real \(integer or float\)"),
])
def test_invalid_inputs_are_rejected_with_a_clear_message(changes, error, message):
    """TypeError for a wrong dtype kind, ValueError for wrong shapes or values (as rnn.model)."""
    with pytest.raises(error, match=message):
        bptt(**valid_arguments(**changes))


def test_forward_validates_like_bptt():
    arguments = valid_arguments(x=np.array([0, 4, 1]))
    del arguments["y"]
    with pytest.raises(ValueError, match=r"token ids in x must lie in \[0, 4\)"):
        forward(**arguments)


def test_docstring_examples_run():
    for module in (rnn.oracles.vanilla, rnn.oracles.seed_formulas):
        failed, attempted = doctest.testmod(module)
        assert attempted > 0 and failed == 0, module.__name__


# -- the seed's printed formulas disagree with central differences; corrected ones agree ---

SEED_EXAMPLE = make_problem(H=3, D=4, K=3, tau=5, seed=0)


def test_seed_10_18_subtracts_the_class_id_instead_of_a_one_hot():
    p = SEED_EXAMPLE
    result = bptt(*p.args, h0=p.h0)
    o = forward(*p.args[:-1], h0=p.h0).o
    printed = seed_dL_do(result.y_hat, p.y)
    for t in range(1, len(p.y) + 1):
        L_t = (lambda o_t: output_loss(o_t, p.y[t - 1]))
        assert misses_central_differences(printed[t - 1], L_t, o[t - 1]), t
        assert_matches_central_differences(result.dL_do[t - 1], L_t, o[t - 1], f"∂L/∂o({t})")


@pytest.mark.parametrize("printed_term", [seed_next_dL_dh_10_20, seed_next_dL_dh_10_21])
def test_seed_recursion_for_dL_dh_is_wrong_where_corrected_is_right(printed_term):
    """One step of the recursion from the true ∇_{h(t+1)} L and ∇_{o(t)} L, t < τ."""
    p = SEED_EXAMPLE
    result = bptt(*p.args, h0=p.h0)
    W, V = p.W, p.V
    for t in range(1, len(p.y)):
        printed = printed_term(W, result.h[t + 1], result.dL_dh[t]) + V.T @ result.dL_do[t - 1]
        assert misses_central_differences(printed, suffix_loss(p, t), result.h[t]), t
        assert_matches_central_differences(result.dL_dh[t - 1], suffix_loss(p, t), result.h[t],
                                           f"∂L/∂h({t})")


@pytest.mark.parametrize("errors, wrong", [
    (("10.18",), ("U", "W", "V", "b", "c", "h0")),
    (("10.20",), ("U", "W", "b", "h0")),
    (("10.21",), ("U", "W", "b", "h0")),
    (("10.18", "10.21"), ("U", "W", "V", "b", "c", "h0")),
])
def test_seed_errors_spread_into_exactly_the_gradients_they_feed(errors, wrong):
    """10.22-10.28 are right in their final form: with the true ∇_{o(t)} L, ∇_V L and
    ∇_c L survive a wrong recursion for ∇_{h(t)} L; everything downstream is wrong."""
    p = SEED_EXAMPLE
    grads = seed_bptt(*p.args, h0=p.h0, errors=errors).grads
    for name in (*NAMES, "h0"):
        start = p.h0 if name == "h0" else p.params[name]
        if name in wrong:
            assert misses_central_differences(grads[name], loss_of(p, name), start), name
        else:
            assert_matches_central_differences(grads[name], loss_of(p, name), start, name)


@given(rnn_problems())
def test_seed_bptt_without_errors_gives_the_true_gradients(p):
    """With no printed formula swapped in, seed_bptt's loss is the reference forward's and
    its gradients are the reference loss's central differences (not merely bptt's: both
    run the same corrected rules, so comparing them could not fail)."""
    result = seed_bptt(*p.args, h0=p.h0, errors=())
    assert result.loss == pytest.approx(reference_loss(*p.args, p.h0), rel=1e-12, abs=1e-12)
    for name in NAMES:
        assert_matches_central_differences(result.grads[name], loss_of(p, name), p.params[name],
                                           f"∂L/∂{name}")
    assert_matches_central_differences(result.grads["h0"], loss_of(p, "h0"), p.h0_or_zeros(),
                                       "∂L/∂h(0)")


@given(rnn_problems(H=st.just(1)), st.sampled_from(["10.20", "10.21"]))
def test_printed_recursions_are_right_for_a_single_hidden_unit(p, equation):
    """With H = 1 every matrix in 10.20/10.21 is a scalar, so order and transposes stop
    mattering: the printed recursions are wrong only as matrix formulas."""
    printed, oracle = seed_bptt(*p.args, h0=p.h0, errors=(equation,)), bptt(*p.args, h0=p.h0)
    for name in (*NAMES, "h0"):
        assert_roundoff_equal(printed.grads[name], oracle.grads[name], name)


@pytest.mark.parametrize("errors, message", [
    (("10.19",), r"unknown seed equations \['10.19'\]"),
    (("10.20", "10.21"), r"pick one"),
])
def test_seed_bptt_rejects_unknown_or_conflicting_equations(errors, message):
    with pytest.raises(ValueError, match=message):
        seed_bptt(*SEED_EXAMPLE.args, errors=errors)
