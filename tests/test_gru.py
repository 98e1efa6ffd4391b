"""The GRU: its analytic BPTT oracle (rnn.oracles.gru) against an independent forward pass,
central differences, known answers and PyTorch's nn.GRU; the cell (rnn.cells.gru) in the
language model against the oracle and nn.GRU; its state_dict layout; bad input named."""
from __future__ import annotations

import doctest
from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import example, given, strategies as st

import rnn.oracles.gru
from minigrad.testing import assert_roundoff_equal
from minigrad.testing.rnn import (CellProblem, assert_matches_central_differences,
                                  assert_steps_match_central_differences, cell_problems,
                                  log_uniform, make_cell_problem)
from rnn.cells import CELLS
from rnn.cells.gru import GRUCell
from rnn.model import LanguageModel
from rnn.oracles.gru import PARAMETER_NAMES as NAMES, bptt, forward
from rnn.oracles.vanilla import bptt as vanilla_bptt
from test_bptt_oracle import output_loss

SIGMOID_SATURATES = 100.0  # σ(a) for |a − 100| < 60 rounds to 1.0; σ(a − 100) < 1e-17


def shapes(D, H, K):
    """The GRU language model's parameter shapes, in its order."""
    return dict(W_ih=(3 * H, D), W_hh=(3 * H, H), b_ih=(3 * H,), b_hh=(3 * H,), V=(K, H),
                c=(K,))


def make_problem(H=3, D=4, K=3, tau=5, batch=None, **options) -> CellProblem:
    return make_cell_problem(shapes(D, H, K), H=H, D=D, K=K, tau=tau, batch=batch, **options)


def gru_problems(**strategies):
    """Sizes 1..5, τ 1..10, one sequence or a batch of 1..3, tokens or dense inputs, h(0)
    given or zeros, a scale per parameter from 1e-3 (gates at ½, tanh linear) to 10
    (gates and tanh saturated, logits in the tens)."""
    sizes = dict(H=st.integers(1, 5), D=st.integers(1, 5), K=st.integers(1, 5),
                 tau=st.integers(1, 10), batch=st.none() | st.integers(1, 3))
    return cell_problems(shapes, 1, **{**sizes, **strategies})


def h0_of(p: CellProblem) -> np.ndarray:
    """h(0) as the model uses it: the given array or zeros."""
    return p.state0_or_zeros()[0]


def with_params(p: CellProblem, **arrays) -> CellProblem:
    return replace(p, params={**p.params, **arrays})


# -- an independent forward pass ------------------------------------------------------------

def reference_loss(params, x, y, h0=None):
    """L written out from the equations, sharing nothing with rnn.oracles.gru: inputs as
    explicit one-hot or dense column matrices, each gate block sliced out by name,
    σ(a) = (1 + tanh(a/2))/2, one step at a time."""
    W_ir, W_iz, W_in = np.split(params["W_ih"], 3)
    W_hr, W_hz, W_hn = np.split(params["W_hh"], 3)
    b_ir, b_iz, b_in = (b[:, None] for b in np.split(params["b_ih"], 3))
    b_hr, b_hz, b_hn = (b[:, None] for b in np.split(params["b_hh"], 3))
    H, D = W_hn.shape[0], W_in.shape[1]
    X = np.eye(D)[x] if np.issubdtype(x.dtype, np.integer) else x      # [τ, (B,) D]
    X = X if X.ndim == 3 else X[:, None, :]
    h = np.zeros((H, X.shape[1])) if h0 is None else np.reshape(h0, (H, -1))
    sigma = (lambda a: (1 + np.tanh(a / 2)) / 2)
    L = 0.0
    for X_t, y_t in zip(X, y):
        x_t = X_t.T
        r = sigma(W_ir @ x_t + b_ir + W_hr @ h + b_hr)
        z = sigma(W_iz @ x_t + b_iz + W_hz @ h + b_hz)
        n = np.tanh(W_in @ x_t + b_in + r * (W_hn @ h + b_hn))
        h = (1 - z) * n + z * h
        L += step_loss(params, h, y_t)
    return L


def step_loss(params, h, y_t):
    """L(t) from h(t), (H,) or (H, B)."""
    V, c = params["V"], params["c"]
    return output_loss(c[:, None] + V @ h.reshape(V.shape[1], -1), y_t)


def loss_of(p: CellProblem, name):
    """reference_loss as a function of one parameter (or "h0") of problem p."""
    if name == "h0":
        return lambda h0: reference_loss(p.params, p.x, p.y, h0)
    return lambda value: reference_loss({**p.params, name: value}, p.x, p.y, p.state0[0])


def suffix_loss(p: CellProblem, t):
    """L as a function of h(t), t ≥ 1: L(t) via o(t), plus steps t+1..τ started from h(t)."""
    def f(h_t):
        later = reference_loss(p.params, p.x[t:], p.y[t:], h_t) if t < p.tau else 0.0
        return step_loss(p.params, h_t, p.y[t - 1]) + later
    return f


# -- the oracle ---------------------------------------------------------------------------

TAU_1 = make_problem(tau=1)
HIDDEN_1 = make_problem(H=1, batch=3, tokens=False)
SATURATED = make_problem(H=4, batch=2, scale=10.0, tokens=False)


@given(gru_problems())
@example(TAU_1)
@example(SATURATED)
def test_loss_matches_reference_forward(p):
    result = bptt(p.params, p.x, p.y, p.state0)
    assert result.loss == pytest.approx(reference_loss(p.params, p.x, p.y, p.state0[0]),
                                        rel=1e-12, abs=1e-12)


@given(gru_problems())
@example(TAU_1)
@example(HIDDEN_1)
@example(SATURATED)
def test_gradients_match_central_differences(p):
    """Every parameter and h(0), in minigrad.testing.rnn's band (ε = 1e-6, atol 1e-6,
    rtol 1e-5, plus the observed |D(2ε) − D(ε)| truncation estimate)."""
    result = bptt(p.params, p.x, p.y, p.state0)
    for name in NAMES:
        assert_matches_central_differences(result.grads[name], loss_of(p, name), p.params[name],
                                           f"∂L/∂{name}")
    assert_matches_central_differences(result.grads["h0"], loss_of(p, "h0"), h0_of(p),
                                       "∂L/∂h(0)")


@given(gru_problems())
@example(TAU_1)
@example(SATURATED)
def test_dL_dh_and_dL_do_match_central_differences(p):
    """dL_dh[t-1] = ∂L/∂h(t) through all later steps; dL_do[t-1] = ∂L/∂o(t)."""
    result = bptt(p.params, p.x, p.y, p.state0)
    o = forward(p.params, p.x, p.state0).o
    assert_steps_match_central_differences(p.tau, {
        "o": (result.dL_do, lambda t: (lambda o_t: output_loss(o_t, p.y[t - 1]), o[t - 1])),
        "h": (result.dL_dh, lambda t: (suffix_loss(p, t), result.h[t]))})


@given(gru_problems())
def test_shapes_and_forward_agree(p):
    H, D, K, tau, batch = p.H, p.D, p.K, p.tau, p.y.shape[1:]
    result = bptt(p.params, p.x, p.y, p.state0)
    stacks = forward(p.params, p.x, p.state0)
    assert {n: g.shape for n, g in result.grads.items()} == {
        **shapes(D, H, K), "h0": (H, *batch)}
    assert result.h.shape == stacks.h.shape == (tau + 1, H, *batch)
    for gate in ("r", "z", "n", "hn"):
        assert getattr(result, gate).shape == (tau, H, *batch), gate
        np.testing.assert_array_equal(getattr(result, gate), getattr(stacks, gate))
    assert result.dL_dh.shape == (tau, H, *batch)
    assert result.dL_do.shape == result.y_hat.shape == stacks.o.shape == (tau, K, *batch)
    assert isinstance(result.loss, float)
    np.testing.assert_array_equal(result.h, stacks.h)
    np.testing.assert_array_equal(stacks.h[0], h0_of(p))
    assert np.all((0 <= stacks.r) & (stacks.r <= 1) & (0 <= stacks.z) & (stacks.z <= 1))
    o = stacks.o
    assert_roundoff_equal(result.y_hat, np.exp(o) / np.exp(o).sum(axis=1, keepdims=True), "ŷ")


@given(gru_problems(batch=st.integers(1, 3)))
def test_a_batch_is_the_sum_of_its_sequences(p):
    batched = bptt(p.params, p.x, p.y, p.state0)
    h0 = h0_of(p)
    singles = [bptt(p.params, p.x[:, j], p.y[:, j], (h0[:, j],)) for j in range(p.batch)]
    assert batched.loss == pytest.approx(sum(s.loss for s in singles), rel=1e-12, abs=1e-12)
    for name in NAMES:
        assert_roundoff_equal(batched.grads[name], sum(s.grads[name] for s in singles), name)
    for field in ("dL_do", "dL_dh", "h", "r", "z", "n", "hn", "y_hat"):
        assert_roundoff_equal(getattr(batched, field),
                              np.stack([getattr(s, field) for s in singles], -1), field)
    assert_roundoff_equal(batched.grads["h0"], np.stack([s.grads["h0"] for s in singles], -1),
                          "h0")


# -- known answers ------------------------------------------------------------------------

def saturated_gates(p: CellProblem, r=None, z=None) -> CellProblem:
    """p with b_ir (or b_iz) set to ±SIGMOID_SATURATES, so r(t) (or z(t)) is exactly 1 or
    below 1e-17 whatever x, h: the tests draw scales ≤ 1, so the rest of the gate's argument
    stays far below 60 in size."""
    H, b_ih = p.H, p.params["b_ih"].copy()
    for block, value in ((0, r), (1, z)):
        if value is not None:
            b_ih[block * H:(block + 1) * H] = SIGMOID_SATURATES if value else -SIGMOID_SATURATES
    return with_params(p, b_ih=b_ih)


@given(gru_problems(scale=log_uniform(1e-3, 1.0), with_state0=st.just(True)))
def test_update_gate_one_copies_h0_through_every_step(p):
    """z(t) = 1 exactly: h(t) = 0·n(t) + 1·h(t-1) = h(0) for every t, so
    L = Σ_t CE(c + V h(0), y(t)) and ∂L/∂h(0) = Σ_t V^T(ŷ(t) − onehot(y(t))) with ŷ(t) the
    softmax of c + V h(0), computed here directly; nothing reaches W_ih, W_hh, b_ih, b_hh."""
    p = saturated_gates(p, z=True)
    result = bptt(p.params, p.x, p.y, p.state0)
    (h0,), V, c = p.state0, p.params["V"], p.params["c"]
    y = p.y.reshape(p.tau, -1)
    o = c[:, None] + V @ h0.reshape(p.H, -1)
    y_hat = np.exp(o) / np.exp(o).sum(axis=0)
    onehot = np.eye(p.K)[y].transpose(0, 2, 1)                       # (τ, K, B)
    for t in range(p.tau + 1):
        np.testing.assert_array_equal(result.h[t], h0)
    expected_loss = -sum(np.log(y_hat[y_t, np.arange(len(y_t))]).sum() for y_t in y)
    assert result.loss == pytest.approx(expected_loss, rel=1e-12, abs=1e-12)
    expected_dh0 = V.T @ (p.tau * y_hat - onehot.sum(axis=0))
    assert_roundoff_equal(result.grads["h0"], expected_dh0.reshape(h0.shape), "∂L/∂h(0)")
    for name in ("W_ih", "W_hh", "b_ih", "b_hh"):
        np.testing.assert_array_equal(result.grads[name], 0.0)


@given(gru_problems(scale=log_uniform(1e-3, 1.0)))
def test_reset_gate_one_and_update_gate_zero_is_the_vanilla_rnn(p):
    """r(t) = 1 and z(t) = 0 (to 1e-17): h(t) = tanh(W_in x + b_in + W_hn h(t-1) + b_hn),
    the vanilla RNN (rnn.oracles.vanilla) with U = W_in, W = W_hn, b = b_in + b_hn. Its loss and
    gradients are the GRU's: ∂L/∂U = ∂L/∂W_in, ∂L/∂W = ∂L/∂W_hn, ∂L/∂b = ∂L/∂b_in =
    ∂L/∂b_hn; the saturated blocks get ≲ 1e-17 (σ' < 1e-17)."""
    p = saturated_gates(p, r=True, z=False)
    result = bptt(p.params, p.x, p.y, p.state0)
    H, block = p.H, slice(2 * p.H, 3 * p.H)
    vanilla = vanilla_bptt(p.params["W_ih"][block], p.params["W_hh"][block], p.params["V"],
                           p.params["b_ih"][block] + p.params["b_hh"][block], p.params["c"],
                           p.x, p.y, p.state0[0])
    assert result.loss == pytest.approx(vanilla.loss, rel=1e-12, abs=1e-12)
    for gru_name, name in (("W_ih", "U"), ("W_hh", "W"), ("b_ih", "b"), ("b_hh", "b")):
        assert_roundoff_equal(result.grads[gru_name][block], vanilla.grads[name], gru_name)
        assert np.all(np.abs(result.grads[gru_name][:2 * H]) < 1e-15), gru_name
    for name in ("V", "c", "h0"):
        assert_roundoff_equal(result.grads[name], vanilla.grads[name], name)
    assert_roundoff_equal(result.dL_dh, vanilla.dL_dh, "∂L/∂h(t)")


# -- PyTorch's nn.GRU on the same weights ---------------------------------------------------

def torch_loss_and_gradients(p: CellProblem):
    """L and its gradients (W_ih, W_hh, b_ih, b_hh, V, c, h0, and each h(t)) from nn.GRU in
    float64 with the weights of p, and an o(t) = c + V h(t) head in torch."""
    batched = p.batch is not None
    x = np.eye(p.D)[p.x] if p.tokens else p.x                       # [τ, (B,) D]
    gru = torch.nn.GRU(p.D, p.H, dtype=torch.float64)
    with torch.no_grad():
        for key, name in (("weight_ih_l0", "W_ih"), ("weight_hh_l0", "W_hh"),
                          ("bias_ih_l0", "b_ih"), ("bias_hh_l0", "b_hh")):
            getattr(gru, key).copy_(torch.from_numpy(p.params[name]))
    h0 = torch.tensor(h0_of(p).T[None], requires_grad=True)  # (1, [B,] H)
    V, c = (torch.tensor(p.params[n], requires_grad=True) for n in ("V", "c"))
    h, _ = gru(torch.from_numpy(x), h0)                             # [τ, (B,) H]
    h.retain_grad()
    o = h @ V.T + c
    L = torch.nn.functional.cross_entropy(o.reshape(-1, p.K), torch.from_numpy(p.y).reshape(-1),
                                          reduction="sum")
    L.backward()
    grads = {name: getattr(gru, key).grad.numpy() for key, name in (
        ("weight_ih_l0", "W_ih"), ("weight_hh_l0", "W_hh"), ("bias_ih_l0", "b_ih"),
        ("bias_hh_l0", "b_hh"))}
    grads.update(V=V.grad.numpy(), c=c.grad.numpy(), h0=h0.grad.numpy()[0].T)
    hs = h.detach().numpy()
    return L.item(), grads, (hs.transpose(0, 2, 1) if batched else hs), h.grad.numpy()


@given(gru_problems())
@example(SATURATED)
def test_oracle_equals_torch_nn_gru(p):
    """Loss, every gradient and h(1..τ) as nn.GRU computes them. torch's h.grad is only the
    head's part of ∂L/∂h(t) (the recurrence inside nn.GRU is one op), V^T ∂L/∂o(t)."""
    loss, grads, h, head_dL_dh = torch_loss_and_gradients(p)
    result = bptt(p.params, p.x, p.y, p.state0)
    assert_roundoff_equal(result.loss, loss, "L")
    for name in (*NAMES, "h0"):
        assert_roundoff_equal(result.grads[name], grads[name], f"∂L/∂{name}")
    assert_roundoff_equal(result.h[1:], h, "h(1..τ)")
    V_T_dL_do = np.einsum("kh,tk...->th...", p.params["V"], result.dL_do)
    if p.batch is not None:
        head_dL_dh = head_dL_dh.transpose(0, 2, 1)
    assert_roundoff_equal(V_T_dL_do, head_dL_dh, "V^T ∂L/∂o(t)")


def test_docstring_examples_run():
    failed, attempted = doctest.testmod(rnn.oracles.gru)
    assert attempted > 0 and failed == 0


# -- the cell: parameters, PyTorch's state_dict layout, bad input -------------------------

TORCH_KEYS = {"W_ih": "weight_ih_l0", "W_hh": "weight_hh_l0", "b_ih": "bias_ih_l0",
              "b_hh": "bias_hh_l0"}


def cell_params(p: CellProblem) -> dict:
    return {name: p.params[name] for name in TORCH_KEYS}


def test_cell_is_registered_with_its_shapes():
    cell = CELLS["gru"](input_size=4, hidden_size=3)
    assert isinstance(cell, GRUCell) and cell.kind == "gru" and cell.state_names == ("h",)
    assert cell.parameter_shapes() == {"W_ih": (9, 4), "W_hh": (9, 3), "b_ih": (9,),
                                       "b_hh": (9,)}


@pytest.mark.parametrize("scale, bound", [(None, 1 / np.sqrt(16)), (0.3, 0.3)])
def test_init_is_uniform_within_pytorchs_bound_or_the_scale(scale, bound):
    """PyTorch's nn.GRU draws every entry from U(−1/√H, 1/√H); ``scale`` replaces the bound.
    Of 1,632 draws, some come within 5% of each end (all miss with probability 0.95^1632)."""
    params = GRUCell(input_size=16, hidden_size=16).init_parameters(np.random.default_rng(0),
                                                                    scale)
    values = np.concatenate([a.ravel() for a in params.values()])
    assert values.size == 3 * 16 * 16 * 2 + 2 * 3 * 16
    assert np.all(np.abs(values) <= bound)
    assert values.max() > 0.95 * bound and values.min() < -0.95 * bound
    assert abs(values.mean()) < 0.05 * bound      # mean 0, std of the mean bound/√(3·1632)


@given(gru_problems())
def test_state_dict_round_trip_through_nn_gru(p):
    """to_torch's arrays load into nn.GRU as they are (no transpose, same r|z|n order: its
    forward then equals the oracle's h, which test_oracle_equals_torch_nn_gru pins), and
    nn.GRU's state_dict comes back through from_torch unchanged."""
    cell = GRUCell(p.D, p.H)
    state_dict = cell.to_torch(cell_params(p))
    assert set(state_dict) == set(TORCH_KEYS.values())
    gru = torch.nn.GRU(p.D, p.H, dtype=torch.float64)
    gru.load_state_dict({k: torch.from_numpy(v) for k, v in state_dict.items()})
    back = cell.from_torch({k: v.numpy() for k, v in gru.state_dict().items()})
    assert set(back) == set(TORCH_KEYS)
    for name, key in TORCH_KEYS.items():
        np.testing.assert_array_equal(state_dict[key], p.params[name])
        np.testing.assert_array_equal(back[name], p.params[name])
        assert back[name].dtype == np.float64
    x = torch.from_numpy(np.eye(p.D)[p.x] if p.tokens else p.x)
    h, _ = gru(x, torch.from_numpy(h0_of(p).T[None].copy()))
    expected = forward(p.params, p.x, p.state0).h[1:]
    h = h.detach().numpy()
    assert_roundoff_equal(h.transpose(0, 2, 1) if p.batch else h, expected, "nn.GRU's h")


def test_from_torch_copies_and_converts_float32():
    cell = GRUCell(2, 1)
    sd = {key: np.ones(shape, dtype=np.float32) for key, shape in (
        ("weight_ih_l0", (3, 2)), ("weight_hh_l0", (3, 1)), ("bias_ih_l0", (3,)),
        ("bias_hh_l0", (3,)))}
    params = cell.from_torch(sd)
    assert all(a.dtype == np.float64 for a in params.values())
    params["W_ih"][0, 0] = 5.0
    assert sd["weight_ih_l0"][0, 0] == 1.0


def torch_state_dict(H=3, D=4, gates=3, **changes):
    sd = {"weight_ih_l0": np.zeros((gates * H, D)), "weight_hh_l0": np.zeros((gates * H, H)),
          "bias_ih_l0": np.zeros(gates * H), "bias_hh_l0": np.zeros(gates * H)}
    sd.update(changes)
    return {k: v for k, v in sd.items() if v is not None}


@pytest.mark.parametrize("state_dict, error, message", [
    (torch_state_dict(bias_hh_l0=None), KeyError,
     r"missing parameter\(s\) \['bias_hh_l0'\]"),
    (torch_state_dict(weight_ih_l1=np.zeros((9, 3))), KeyError,
     r"unknown parameter 'weight_ih_l1'"),
    (torch_state_dict(gates=4), ValueError,              # an nn.LSTM's layer: 4H rows
     r"parameter weight_ih_l0 must have shape \(9, 4\) \(3H×D; H = 3, D = 4\), got \(12, 4\)"),
    (torch_state_dict(gates=1), ValueError,              # an nn.RNN's layer: H rows
     r"parameter weight_ih_l0 must have shape \(9, 4\) \(3H×D; H = 3, D = 4\), got \(3, 4\)"),
    (torch_state_dict(D=5), ValueError, r"weight_ih_l0 must have shape \(9, 4\).*got \(9, 5\)"),
    (torch_state_dict(weight_hh_l0=np.zeros((9, 2))), ValueError,
     r"weight_hh_l0 must have shape \(9, 3\) \(3H×H; H = 3, D = 4\), got \(9, 2\)"),
    (torch_state_dict(bias_ih_l0=np.zeros((9, 1))), ValueError,
     r"bias_ih_l0 must have shape \(9,\) \(\(3H,\); H = 3, D = 4\), got \(9, 1\)"),
    (torch_state_dict(bias_hh_l0=np.full(9, np.nan)), ValueError,
     r"bias_hh_l0 contains non-finite values"),
    (torch_state_dict(weight_hh_l0=np.zeros((9, 3), dtype=complex)), TypeError,
     r"weight_hh_l0 must be a real \(integer or float\) array, got dtype complex128"),
])
def test_from_torch_refuses_a_bad_state_dict_naming_key_and_shape(state_dict, error, message):
    with pytest.raises(error, match=message):
        GRUCell(4, 3).from_torch(state_dict)


@pytest.mark.parametrize("changes, error, message", [
    (dict(b_hh=None), KeyError, r"missing parameter\(s\) \['b_hh'\]"),
    (dict(U=np.zeros((3, 4))), KeyError, r"unknown parameter 'U'"),
    (dict(W_ih=np.zeros((12, 4))), ValueError,
     r"parameter W_ih must have shape \(9, 4\) \(3H×D; H = 3, D = 4\), got \(12, 4\)"),
    (dict(b_ih=np.zeros(3)), ValueError, r"parameter b_ih must have shape \(9,\)"),
])
def test_to_torch_refuses_bad_parameters_naming_them(changes, error, message):
    params = {"W_ih": np.zeros((9, 4)), "W_hh": np.zeros((9, 3)), "b_ih": np.zeros(9),
              "b_hh": np.zeros(9), **changes}
    with pytest.raises(error, match=message):
        GRUCell(4, 3).to_torch({k: v for k, v in params.items() if v is not None})


def valid_oracle_arguments(**changes):
    """A valid call (H=3, D=4, K=2, τ=3, one sequence of tokens) with arguments replaced;
    a parameter given as None is left out."""
    params = {"W_ih": np.ones((9, 4)), "W_hh": np.eye(9, 3), "b_ih": np.zeros(9),
              "b_hh": np.zeros(9), "V": np.ones((2, 3)), "c": np.zeros(2)}
    args = dict(x=np.array([0, 3, 1]), y=np.array([1, 0, 1]), state0=None)
    for name, value in changes.items():
        (args if name in args else params)[name] = value
    return {"params": {n: v for n, v in params.items() if v is not None}, **args}


@pytest.mark.parametrize("changes, error, message", [
    (dict(V=None), KeyError, r"missing parameter 'V'; the GRU model has \('W_ih', 'W_hh'"),
    (dict(b_hh=None), KeyError, r"missing parameter\(s\) \['b_hh'\]"),
    (dict(U=np.ones((3, 4))), KeyError, r"unknown parameter 'U'"),
    (dict(W_ih=np.ones(4)), ValueError, r"parameter W_ih must be a matrix 3H×D"),
    (dict(W_hh=np.eye(12, 3)), ValueError,
     r"parameter W_hh must have shape \(9, 3\) \(3H×H; H = 3, D = 4, K = 2\), got \(12, 3\)"),
    (dict(W_ih=np.ones((12, 4))), ValueError, r"parameter W_ih must have shape \(9, 4\)"),
    (dict(b_ih=np.zeros(3)), ValueError, r"parameter b_ih must have shape \(9,\) \(\(3H,\)"),
    (dict(c=np.zeros(3)), ValueError, r"parameter c must have shape \(2,\) \(\(K,\)"),
    (dict(W_hh=np.full((9, 3), np.inf)), ValueError, r"parameter W_hh contains non-finite"),
    (dict(b_ih=np.zeros(9, dtype=complex)), TypeError, r"parameter b_ih must be a real"),
    (dict(x=np.array([0, 4, 1])), ValueError,
     r"token ids in x must lie in \[0, 4\) \(W_ih.shape\[1\]\), got 0..4"),
    (dict(x=np.zeros((3, 5))), ValueError, r"dense inputs x must have shape \[τ, 4\]"),
    (dict(y=np.array([1, 2, 1])), ValueError, r"target ids in y must lie in \[0, 2\) \(V.shape"),
    (dict(y=np.array([1, 0])), ValueError, r"targets y must have shape \(3,\) to match x"),
    (dict(state0=np.zeros(4)), ValueError, r"h0 must have shape \(3,\) \(hidden\[, batch\]\)"),
    (dict(state0=(np.zeros((3, 2)),)), ValueError, r"h0 must have shape \(3,\)"),
    (dict(state0=(np.zeros(3), np.zeros(3))), ValueError,    # an LSTM's (h0, c0)
     r"the initial state of the GRU is 1 array \(h0\), got \(array"),
    (dict(state0=(np.array([0.0, np.nan, 0.0]),)), ValueError, r"h0 contains non-finite"),
])
def test_oracle_refuses_bad_input_naming_it(changes, error, message):
    with pytest.raises(error, match=message):
        bptt(**valid_oracle_arguments(**changes))


@pytest.mark.parametrize("state0", [None, (None,), np.zeros(3), (np.zeros(3),), [np.zeros(3)]])
def test_oracle_takes_the_initial_state_as_the_model_does(state0):
    args = valid_oracle_arguments(state0=state0)
    result = bptt(**args)
    assert result.loss == bptt(**valid_oracle_arguments()).loss
    np.testing.assert_array_equal(forward(args["params"], args["x"], state0).h[0], np.zeros(3))


# -- the cell on minigrad, unrolled by the language model, against the oracle --------------

def autodiff(p: CellProblem):
    """The GRU language model with p's parameters, its unrolled graph, after L.backward()."""
    model = LanguageModel.from_arrays(p.params, cell="gru")
    graph = model.unroll(p.x, p.y, p.state0)
    graph.loss.backward()
    return model, graph


@given(gru_problems())
@example(TAU_1)
@example(HIDDEN_1)
@example(SATURATED)
def test_autodiff_agrees_with_the_oracle(p):
    """L, every parameter's gradient, h(0)'s, and for each step the forward values of r, z,
    n, W_hn h + b_hn and h and the gradients ∂L/∂o(t), ∂L/∂h(t) read from the graph."""
    model, graph = autodiff(p)
    expected = bptt(p.params, p.x, p.y, p.state0)
    assert list(model.parameters()) == list(NAMES)
    assert_roundoff_equal(graph.loss.data, expected.loss, "L")
    for name, parameter in model.parameters().items():
        assert_roundoff_equal(parameter.grad, expected.grads[name], f"∂L/∂{name}")
    if p.state0[0] is None:
        assert graph.h[0].grad is None           # the default h(0) is a constant
    else:
        assert_roundoff_equal(graph.h[0].grad, expected.grads["h0"], "∂L/∂h(0)")
    for t in range(1, p.tau + 1):
        for role in ("r", "z", "n", "hn"):
            assert_roundoff_equal(graph.nodes[t][role].data, getattr(expected, role)[t - 1],
                                  f"{role}({t})")
        assert_roundoff_equal(graph.h[t].data, expected.h[t], f"h({t})")
        assert_roundoff_equal(graph.o[t].grad, expected.dL_do[t - 1], f"∂L/∂o({t})")
        assert_roundoff_equal(graph.h[t].grad, expected.dL_dh[t - 1], f"∂L/∂h({t})")


def test_each_step_is_wired_as_the_equations_write_it():
    """h(t) = (1 − z) ⊙ n + z ⊙ h(t-1), n(t) = tanh(a_n), a_n = [W_ih x + b_ih]_n + r ⊙ hn,
    hn = [W_hh h(t-1) + b_hh]_n, r and z the σ of their pre-activations: node by node."""
    p = make_problem(batch=2, tokens=False)
    _, graph = autodiff(p)
    for t in range(1, p.tau + 1):
        nodes = graph.nodes[t]
        names = {role: node.name for role, node in nodes.items()}
        assert {names[r] for r in ("a_r", "r", "a_z", "z", "a_n", "n", "h", "hn")} == {
            f"a_r({t})", f"r({t})", f"a_z({t})", f"z({t})", f"a_n({t})", f"n({t})", f"h({t})",
            f"W_hn h({t - 1}) + b_hn"}
        assert all(node.tags["t"] == t for node in nodes.values())
        h, z, n, r, hn = (nodes[role] for role in ("h", "z", "n", "r", "hn"))
        keep_n, z_h = h.inputs
        assert keep_n.inputs[1] is n and keep_n.inputs[0].inputs[-1] is z
        assert z_h.inputs == (z, graph.h[t - 1])
        assert n.op == "tanh" and n.inputs == (nodes["a_n"],)
        assert nodes["a_n"].inputs[1].inputs == (r, hn)
        assert r.op == z.op == "sigmoid"
        assert (r.inputs, z.inputs) == ((nodes["a_r"],), (nodes["a_z"],))
        assert hn.op == "getitem" and hn.inputs[0].inputs[0] is nodes["Wh"]
        assert nodes["Wh"].inputs[1] is graph.h[t - 1]


@given(gru_problems(scale=log_uniform(1e-3, 1.0), with_state0=st.just(True)))
def test_the_model_with_update_gate_one_copies_h0(p):
    """On the graph too: z(t) = 1 exactly, so every h(t) holds h(0)'s values, and the gate
    and weight gradients are exactly 0 (σ' = 1·(1 − 1) = 0, 1 − z = 0)."""
    p = saturated_gates(p, z=True)
    model, graph = autodiff(p)
    for t in range(1, p.tau + 1):
        np.testing.assert_array_equal(graph.nodes[t]["z"].data, 1.0)
        np.testing.assert_array_equal(graph.h[t].data, p.state0[0])
    for name in ("W_ih", "W_hh", "b_ih", "b_hh"):
        np.testing.assert_array_equal(model.parameters()[name].grad, 0.0)


@given(gru_problems())
@example(SATURATED)
def test_autodiff_equals_torch_nn_gru(p):
    """nn.GRU (float64) on the weights of p: the same L, gradients and h(1..τ) as the graph."""
    loss, grads, h, _ = torch_loss_and_gradients(p)
    model, graph = autodiff(p)
    assert_roundoff_equal(graph.loss.data, loss, "L")
    for name, parameter in model.parameters().items():
        assert_roundoff_equal(parameter.grad, grads[name], f"∂L/∂{name}")
    if p.state0[0] is not None:
        assert_roundoff_equal(graph.h[0].grad, grads["h0"], "∂L/∂h(0)")
    assert_roundoff_equal(np.stack([graph.h[t].data for t in range(1, p.tau + 1)]), h, "h")


@pytest.mark.parametrize("state0, message", [
    (np.zeros(4), r"h0 must have shape \(3,\) \(hidden\[, batch\]\), got \(4,\)"),
    ((np.zeros((3, 2)),), r"h0 must have shape \(3,\) \(hidden\[, batch\]\), got \(3, 2\)"),
    ((np.zeros(3), np.zeros(3)), r"the initial state of the gru cell is 1 array\(s\) \(h0\)"),
])
def test_the_model_refuses_a_wrong_initial_state_naming_it(state0, message):
    model = LanguageModel("gru", input_size=4, hidden_size=3, output_size=2)
    with pytest.raises(ValueError, match=message):
        model.unroll(np.array([0, 3, 1]), np.array([1, 0, 1]), state0)


def test_the_model_refuses_another_cells_parameters_naming_them():
    """An LSTM's W_ih (4H rows) or the vanilla cell's names are not a GRU's."""
    p = make_problem()
    lstm_like = {**p.params, "W_ih": np.zeros((12, 4)), "W_hh": np.zeros((12, 3)),
                 "b_ih": np.zeros(12), "b_hh": np.zeros(12)}
    with pytest.raises(ValueError, match=r"parameter W_ih must have shape \(9, 4\) \(3H×D"):
        LanguageModel.from_arrays(lstm_like, cell="gru")
    vanilla = {"U": np.zeros((3, 4)), "W": np.zeros((3, 3)), "b": np.zeros(3),
               "V": p.params["V"], "c": p.params["c"]}
    with pytest.raises(KeyError, match=r"missing parameter\(s\) \['W_ih', 'W_hh'\]"):
        LanguageModel.from_arrays(vanilla, cell="gru")
