"""The LSTM: its analytic BPTT oracle (rnn.oracles.lstm) against an independent forward
pass, central differences, a known answer and PyTorch's nn.LSTM."""
from __future__ import annotations

import doctest
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import example, given, strategies as st

import rnn.oracles.lstm
from minigrad.testing import assert_roundoff_equal
from minigrad.testing.rnn import (CellProblem, assert_matches_central_differences,
                                  assert_steps_match_central_differences, cell_problems,
                                  log_uniform, make_cell_problem)
from rnn.oracles.lstm import PARAMETER_NAMES as NAMES, bptt, forward
from test_bptt_oracle import output_loss

STATE = ("h0", "c0")
SATURATES = 1000.0  # σ(1000) = 1.0 and σ(−1000) = 0.0 exactly: e^(−1000) underflows to 0


def shapes(D, H, K):
    """The LSTM model's parameters, written here from PyTorch's layout (not read off the code)."""
    return dict(W_ih=(4 * H, D), W_hh=(4 * H, H), b_ih=(4 * H,), b_hh=(4 * H,), V=(K, H),
                c=(K,))


def lstm_problems(**strategies):
    """Sizes 1..5, τ 1..10, one sequence or a batch of 1..3, tokens or dense inputs, h(0) and
    c(0) given or zeros, a scale per parameter from 1e-3 (gates at ½, tanh linear) to 10
    (gates and tanh saturated, logits in the tens)."""
    sizes = dict(H=st.integers(1, 5), D=st.integers(1, 5), K=st.integers(1, 5),
                 tau=st.integers(1, 10), batch=st.none() | st.integers(1, 3))
    return cell_problems(shapes, states=2, **{**sizes, **strategies})


def lstm_problem(**sizes) -> CellProblem:
    sizes = {**dict(H=3, D=4, K=3), **sizes}
    return make_cell_problem(shapes(sizes["D"], sizes["H"], sizes["K"]), states=2, **sizes)


TAU_1 = lstm_problem(tau=1)
HIDDEN_1 = lstm_problem(H=1, batch=3, tokens=False)
SATURATED = lstm_problem(H=4, batch=2, scale=10.0, tokens=False)


# -- an independent forward pass ------------------------------------------------------------

def reference_steps(params, x, state0=None):
    """[(h(t), c(t), q(t)) for t = 1..τ], each (H, B), written from the equations and sharing
    nothing with rnn.oracles.lstm: inputs as explicit one-hot or dense column matrices, each
    gate's weights sliced out by name, σ(a) = (1 + tanh(a/2))/2, one step at a time."""
    W_ii, W_if, W_ig, W_io = np.split(params["W_ih"], 4)
    W_hi, W_hf, W_hg, W_ho = np.split(params["W_hh"], 4)
    b_i, b_f, b_g, b_o = (b[:, None] for b in np.split(params["b_ih"] + params["b_hh"], 4))
    H, D = W_hi.shape[1], W_ii.shape[1]
    X = np.eye(D)[x] if np.issubdtype(x.dtype, np.integer) else x      # [τ, (B,) D]
    X = X if X.ndim == 3 else X[:, None, :]
    h, c = (np.zeros((H, X.shape[1])) if s is None else np.reshape(s, (H, -1))
            for s in (state0 or (None, None)))
    sigma = (lambda a: (1 + np.tanh(a / 2)) / 2)
    steps = []
    for X_t in X:
        x_t = X_t.T
        i = sigma(W_ii @ x_t + W_hi @ h + b_i)
        f = sigma(W_if @ x_t + W_hf @ h + b_f)
        g = np.tanh(W_ig @ x_t + W_hg @ h + b_g)
        q = sigma(W_io @ x_t + W_ho @ h + b_o)
        c = f * c + i * g
        h = q * np.tanh(c)
        steps.append((h, c, q))
    return steps


def reference_loss(params, x, y, state0=None):
    return sum(step_loss(params, h, y_t) for (h, _, _), y_t in
               zip(reference_steps(params, x, state0), y))


def step_loss(params, h, y_t):
    """L(t) from h(t), (H,) or (H, B)."""
    V, c = params["V"], params["c"]
    return output_loss(c[:, None] + V @ h.reshape(V.shape[1], -1), y_t)


def loss_of(p: CellProblem, name):
    """reference_loss as a function of one parameter, or of "h0" or "c0", of problem p."""
    if name in STATE:
        k = STATE.index(name)
        return lambda s: reference_loss(p.params, p.x, p.y,
                                        tuple(s if j == k else p.state0_or_zeros()[j]
                                              for j in range(2)))
    return lambda value: reference_loss({**p.params, name: value}, p.x, p.y, p.state0)


def suffix_loss(p: CellProblem, t, of):
    """L as a function of h(t) (``of`` "h", c(t) held) or of c(t) (``of`` "c": h(t) =
    q(t) ⊙ tanh(c(t)) with q(t) held, since q(t) does not depend on c(t)), t ≥ 1: L(t) via
    o(t) plus the steps t+1..τ started from (h(t), c(t)). Earlier L(s) are left out."""
    h_t, c_t, q_t = (s.reshape(p.state0_or_zeros()[0].shape) for s in reference_steps(p.params, p.x,
                                                                       p.state0)[t - 1])

    def f(state):
        h, c = (state, c_t) if of == "h" else (q_t * np.tanh(state), state)
        later = reference_loss(p.params, p.x[t:], p.y[t:], (h, c)) if t < p.tau else 0.0
        return step_loss(p.params, h, p.y[t - 1]) + later
    return f, (h_t if of == "h" else c_t)


# -- the oracle ---------------------------------------------------------------------------

@given(lstm_problems())
@example(TAU_1)
@example(SATURATED)
def test_loss_matches_reference_forward(p):
    result = bptt(p.params, p.x, p.y, p.state0)
    assert result.loss == pytest.approx(reference_loss(p.params, p.x, p.y, p.state0),
                                        rel=1e-12, abs=1e-12)


@given(lstm_problems())
@example(TAU_1)
@example(HIDDEN_1)
@example(SATURATED)
def test_gradients_match_central_differences(p):
    """Every parameter, h(0) and c(0), in the band of tests/test_bptt_oracle.py (ε = 1e-6,
    atol 1e-6, rtol 1e-5, plus the observed |D(2ε) − D(ε)| truncation estimate)."""
    result = bptt(p.params, p.x, p.y, p.state0)
    for name in NAMES:
        assert_matches_central_differences(result.grads[name], loss_of(p, name), p.params[name],
                                           f"∂L/∂{name}")
    for name, s0 in zip(STATE, p.state0_or_zeros()):
        assert_matches_central_differences(result.grads[name], loss_of(p, name), s0, f"∂L/∂{name}")


@given(lstm_problems())
@example(TAU_1)
@example(SATURATED)
def test_per_step_gradients_match_central_differences(p):
    """dL_dh[t-1] = ∂L/∂h(t) and dL_dc[t-1] = ∂L/∂c(t), total (through h(t) for c(t), and all
    later steps); dL_do[t-1] = ∂L/∂o(t)."""
    result = bptt(p.params, p.x, p.y, p.state0)
    o = forward(p.params, p.x, p.state0).o
    assert_steps_match_central_differences(p.tau, {
        "o": (result.dL_do, lambda t: (lambda o_t: output_loss(o_t, p.y[t - 1]), o[t - 1])),
        "h": (result.dL_dh, lambda t: suffix_loss(p, t, "h")),
        "c": (result.dL_dc, lambda t: suffix_loss(p, t, "c"))})


@given(lstm_problems())
def test_shapes_and_forward_agree(p):
    H, D, K, tau, batch = p.H, p.D, p.K, p.tau, p.y.shape[1:]
    result = bptt(p.params, p.x, p.y, p.state0)
    stacks = forward(p.params, p.x, p.state0)
    assert {n: g.shape for n, g in result.grads.items()} == {
        **shapes(D, H, K), "h0": (H, *batch), "c0": (H, *batch)}
    for name in ("h", "c"):
        assert getattr(result, name).shape == (tau + 1, H, *batch), name
        np.testing.assert_array_equal(getattr(result, name), getattr(stacks, name))
    for gate in ("i", "f", "g", "q"):
        assert getattr(result, gate).shape == (tau, H, *batch), gate
        np.testing.assert_array_equal(getattr(result, gate), getattr(stacks, gate))
    assert result.dL_dh.shape == result.dL_dc.shape == (tau, H, *batch)
    assert result.dL_do.shape == result.y_hat.shape == stacks.o.shape == (tau, K, *batch)
    assert isinstance(result.loss, float)
    for s, s0 in zip((stacks.h, stacks.c), p.state0_or_zeros()):
        np.testing.assert_array_equal(s[0], s0)
    assert all(np.all((0 <= s) & (s <= 1)) for s in (stacks.i, stacks.f, stacks.q))
    o = stacks.o
    assert_roundoff_equal(result.y_hat, np.exp(o) / np.exp(o).sum(axis=1, keepdims=True), "ŷ")


@given(lstm_problems(batch=st.integers(1, 3)))
def test_a_batch_is_the_sum_of_its_sequences(p):
    batched = bptt(p.params, p.x, p.y, p.state0)
    h0, c0 = p.state0_or_zeros()
    singles = [bptt(p.params, p.x[:, j], p.y[:, j], (h0[:, j], c0[:, j]))
               for j in range(p.batch)]
    assert batched.loss == pytest.approx(sum(s.loss for s in singles), rel=1e-12, abs=1e-12)
    for name in NAMES:
        assert_roundoff_equal(batched.grads[name], sum(s.grads[name] for s in singles), name)
    for name in STATE:
        assert_roundoff_equal(batched.grads[name], np.stack([s.grads[name] for s in singles], -1),
                              name)
    for field in ("dL_do", "dL_dh", "dL_dc", "h", "c", "i", "f", "g", "q", "y_hat"):
        assert_roundoff_equal(getattr(batched, field),
                              np.stack([getattr(s, field) for s in singles], -1), field)


@given(lstm_problems())
def test_tokens_are_one_hot_inputs(p):
    tokens = p.x if p.tokens else p.x.argmax(-1)
    from_tokens = bptt(p.params, tokens, p.y, p.state0)
    from_one_hot = bptt(p.params, np.eye(p.D)[tokens], p.y, p.state0)
    assert from_tokens.loss == pytest.approx(from_one_hot.loss, rel=1e-12, abs=1e-12)
    for name in (*NAMES, *STATE):
        assert_roundoff_equal(from_tokens.grads[name], from_one_hot.grads[name], name)


@given(lstm_problems(with_state0=st.just(True)))
def test_initial_state_forms_agree(p):
    """None, (None, None) and zeros are the same start; None in one place is zeros there;
    a list is taken as the tuple (as the model takes them)."""
    h0, c0 = p.state0
    zeros = np.zeros_like(h0)
    for a, b in ((None, (None, None)), (None, (zeros, zeros)), ((h0, None), (h0, zeros)),
                 ((None, c0), (zeros, c0)), ([h0, c0], (h0, c0))):
        first, second = bptt(p.params, p.x, p.y, a), bptt(p.params, p.x, p.y, b)
        assert first.loss == second.loss
        for name in (*NAMES, *STATE):
            np.testing.assert_array_equal(first.grads[name], second.grads[name])


# -- a known answer -----------------------------------------------------------------------

def carrying(p: CellProblem) -> CellProblem:
    """p with the input gate shut and the forget gate open exactly: b_i = −1000, b_f = +1000
    in b_ih (b_hh keeps its values), weights at scale ≤ 1, so |a_i|, |a_f| ≥ 1000 − 100 and
    i(t) = σ(a_i) = 0.0, f(t) = 1.0 in float64."""
    H, b_ih = p.H, p.params["b_ih"].copy()
    b_ih[:H], b_ih[H:2 * H] = -SATURATES, SATURATES
    return replace(p, params={**p.params, "b_ih": b_ih})


@given(lstm_problems(scale=log_uniform(1e-3, 1.0), with_state0=st.just(True)))
def test_open_forget_gate_and_shut_input_gate_carry_c0_unchanged(p):
    """i = 0 and f = 1 exactly: c(t) = 1·c(t-1) + 0·g(t) = c(0) for every t, bit for bit,
    and h(t) = q(t) ⊙ tanh(c(0)). Backward, ∇c(t) = ∇c(t+1) + ∇h(t) ⊙ q(t)(1 − tanh² c(0)),
    so ∂L/∂c(0) = Σ_t ∂L/∂h(t) ⊙ q(t) ⊙ (1 − tanh² c(0)); the i, f, g blocks of W_ih, W_hh,
    b_ih, b_hh get exactly 0 (each is a product with i(1 − i), f(1 − f) or i)."""
    p = carrying(p)
    h0, c0 = p.state0
    result = bptt(p.params, p.x, p.y, p.state0)
    for t in range(p.tau + 1):
        np.testing.assert_array_equal(result.c[t], c0)
    np.testing.assert_array_equal(result.i, 0.0)
    np.testing.assert_array_equal(result.f, 1.0)
    assert_roundoff_equal(result.h[1:], result.q * np.tanh(c0), "h(t) = q(t) tanh(c(0))")
    expected_dc0 = (result.dL_dh * result.q).sum(axis=0) * (1 - np.tanh(c0) ** 2)
    assert_roundoff_equal(result.grads["c0"], expected_dc0, "∂L/∂c(0)")
    for name in ("W_ih", "W_hh", "b_ih", "b_hh"):
        np.testing.assert_array_equal(result.grads[name][:3 * p.H], 0.0)


# -- PyTorch's nn.LSTM on the same weights --------------------------------------------------

TORCH_KEYS = {"W_ih": "weight_ih_l0", "W_hh": "weight_hh_l0", "b_ih": "bias_ih_l0",
              "b_hh": "bias_hh_l0"}


def torch_lstm(p: CellProblem):
    """An nn.LSTM in float64 holding p's weights, and the inputs, states and head in torch
    with gradients on: x [τ, (B,) D], (h0, c0) each (1, [B,] H), V, c."""
    lstm = torch.nn.LSTM(p.D, p.H, dtype=torch.float64)
    with torch.no_grad():
        for name, key in TORCH_KEYS.items():
            getattr(lstm, key).copy_(torch.from_numpy(p.params[name]))
    x = torch.from_numpy(np.eye(p.D)[p.x] if p.tokens else p.x)
    state0 = tuple(torch.tensor(s.T[None], requires_grad=True) for s in p.state0_or_zeros())
    V, c = (torch.tensor(p.params[n], requires_grad=True) for n in ("V", "c"))
    return lstm, x, state0, V, c


def torch_loss_and_gradients(p: CellProblem):
    """L, its gradients (W_ih, W_hh, b_ih, b_hh, V, c, h0, c0), h(1..τ) and c(τ) from nn.LSTM,
    and torch's h.grad, all in our layout: (τ, H[, B]) for stacks."""
    lstm, x, state0, V, c = torch_lstm(p)
    h, (_, c_tau) = lstm(x, state0)                                 # [τ, (B,) H]
    h.retain_grad()
    o = h @ V.T + c
    L = torch.nn.functional.cross_entropy(o.reshape(-1, p.K), torch.from_numpy(p.y).reshape(-1),
                                          reduction="sum")
    L.backward()
    grads = {name: getattr(lstm, key).grad.numpy() for name, key in TORCH_KEYS.items()}
    grads.update(V=V.grad.numpy(), c=c.grad.numpy(),
                 **{name: s.grad.numpy()[0].T for name, s in zip(STATE, state0)})
    ours = (lambda a: a.transpose(0, 2, 1) if p.batch is not None else a)   # [τ, B, H] → (τ, H, B)
    return (L.item(), grads, ours(h.detach().numpy()), c_tau.detach().numpy()[0].T,
            ours(h.grad.numpy()))


@given(lstm_problems())
@example(SATURATED)
def test_oracle_equals_torch_nn_lstm(p):
    """Loss, every gradient, h(1..τ) and c(τ) as nn.LSTM computes them (float64). torch's
    h.grad is only the head's part of ∂L/∂h(t), V^T ∂L/∂o(t): nn.LSTM's recurrence is one op."""
    loss, grads, h, c_tau, head_dL_dh = torch_loss_and_gradients(p)
    result = bptt(p.params, p.x, p.y, p.state0)
    assert_roundoff_equal(result.loss, loss, "L")
    for name in (*NAMES, *STATE):
        assert_roundoff_equal(result.grads[name], grads[name], f"∂L/∂{name}")
    assert_roundoff_equal(result.h[1:], h, "h(1..τ)")
    assert_roundoff_equal(result.c[-1], c_tau, "c(τ)")
    V_T_dL_do = np.einsum("kh,tk...->th...", p.params["V"], result.dL_do)
    assert_roundoff_equal(V_T_dL_do, head_dL_dh, "V^T ∂L/∂o(t)")


# -- bad input ---------------------------------------------------------------------------

def valid_arguments(**changes):
    """A valid call (H = 3, D = 4, K = 2, τ = 3, one sequence of tokens, given h0 and c0) with
    some arguments or parameters replaced; a parameter set to None is left out."""
    H, D, K = 3, 4, 2
    params = {name: np.zeros(shape) for name, shape in shapes(D, H, K).items()}
    args = dict(x=np.array([0, 3, 1]), y=np.array([1, 0, 1]), state0=(np.zeros(H), np.zeros(H)))
    for name, value in changes.items():
        (args if name in args else params)[name] = value
    return dict(params={n: v for n, v in params.items() if v is not None}, **args)


@pytest.mark.parametrize("changes, error, message", [
    (dict(W_hh=None), KeyError, r"missing parameter\(s\) \['W_hh'\]; given "
                                r"\['V', 'W_ih', 'b_hh', 'b_ih', 'c'\]"),
    (dict(U=np.zeros((3, 4))), KeyError, r"unknown parameter 'U'"),
    (dict(W_ih=np.zeros(12)), ValueError, r"parameter W_ih must be a matrix 4H×D"),
    (dict(V=np.zeros((2, 0))), ValueError, r"parameter V must be a matrix K×H with K, H ≥ 1"),
    (dict(W_ih=np.zeros((9, 4)), W_hh=np.zeros((9, 3)), b_ih=np.zeros(9), b_hh=np.zeros(9)),
     ValueError, r"parameter W_ih must have shape \(12, 4\) \(4H×D; H = 3, D = 4, K = 2\), "
                 r"got \(9, 4\)"),     # a GRU's parameters
    (dict(W_hh=np.zeros((12, 4))), ValueError, r"parameter W_hh must have shape \(12, 3\)"),
    (dict(b_hh=np.zeros((12, 1))), ValueError, r"parameter b_hh must have shape \(12,\) \(\(4H,\)"),
    (dict(c=np.zeros(3)), ValueError, r"parameter c must have shape \(2,\) \(\(K,\)"),
    (dict(b_ih=np.full(12, np.inf)), ValueError, r"parameter b_ih contains non-finite values"),
    (dict(W_hh=np.zeros((12, 3), complex)), TypeError, r"parameter W_hh must be a real"),
    (dict(x=np.array([0, 4, 1])), ValueError,
     r"token ids in x must lie in \[0, 4\) \(W_ih.shape\[1\]\), got 0..4"),
    (dict(x=np.zeros((3, 5))), ValueError, r"dense inputs x must have shape \[τ, 4\] or "
                                           r"\[τ, B, 4\] \(W_ih.shape\[1\] 4\), got \(3, 5\)"),
    (dict(x=np.array([], int), y=np.array([], int)), ValueError, r"at least one time step"),
    (dict(y=np.array([1, 2, 1])), ValueError, r"target ids in y must lie in \[0, 2\) "
                                              r"\(V.shape\[0\]\)"),
    (dict(y=np.array([1, 0])), ValueError, r"targets y must have shape \(3,\) to match x"),
    (dict(state0=(None, np.zeros(4))), ValueError, r"c0 must have shape \(3,\)"),
    (dict(state0=(np.zeros(3),)), ValueError,
     r"the initial state of the LSTM is 2 arrays \(h0, c0\), got \(array"),
    (dict(state0=np.zeros((2, 3))), ValueError, r"the initial state of the LSTM is 2 arrays"),
    (dict(state0=(np.zeros(3),) * 3), ValueError, r"the initial state of the LSTM is 2 arrays"),
    (dict(state0="h0"), ValueError, r"the initial state of the LSTM is 2 arrays .*got 'h0'"),
    (dict(state0=(np.zeros(3), np.zeros(4))), ValueError,
     r"c0 must have shape \(3,\) \(hidden\[, batch\]\), got \(4,\)"),
    (dict(state0=(np.zeros((3, 1)), np.zeros(3))), ValueError,
     r"h0 must have shape \(3,\) \(hidden\[, batch\]\), got \(3, 1\)"),
    (dict(x=np.array([[0, 1]] * 3), y=np.array([[1, 0]] * 3)), ValueError,
     r"h0 must have shape \(3, 2\)"),       # a batch of 2 with single-sequence states
    (dict(state0=(np.zeros(3), np.array([0, np.nan, 0]))), ValueError,
     r"c0 contains non-finite values"),
])
def test_bad_input_is_refused_with_a_message_that_names_it(changes, error, message):
    """TypeError for a wrong dtype, KeyError for a wrong name, ValueError for a wrong shape,
    value or number of states; bptt and forward (which takes no y) say the same."""
    arguments = valid_arguments(**changes)
    with pytest.raises(error, match=message):
        bptt(**arguments)
    if "y" not in changes:
        del arguments["y"]
        with pytest.raises(error, match=message):
            forward(**arguments)


def test_docstring_examples_run():
    failed, attempted = doctest.testmod(rnn.oracles.lstm)
    assert attempted > 0 and failed == 0
