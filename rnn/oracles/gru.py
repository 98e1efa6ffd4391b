"""Analytic back-propagation through time for the GRU language model, in plain numpy.

The oracle the GRU cell on minigrad is checked against, so it never imports minigrad.
The cell is the gated recurrent unit of Cho et al. 2014 ("Learning Phrase Representations
using RNN Encoder–Decoder for Statistical Machine Translation", §2.3, eqs. 5–8) in the variant
PyTorch's ``nn.GRU`` documents: the reset gate multiplies ``W_hn h(t-1) + b_hn`` (Cho et al.
multiply h(t-1) before ``W_hn``), and two bias vectors. For t = 1..τ, column vectors,
σ the logistic function::

    r(t) = σ(W_ir x(t) + b_ir + W_hr h(t-1) + b_hr)                 (G1) reset gate
    z(t) = σ(W_iz x(t) + b_iz + W_hz h(t-1) + b_hz)                 (G2) update gate
    n(t) = tanh(W_in x(t) + b_in + r(t) ⊙ (W_hn h(t-1) + b_hn))     (G3) candidate
    h(t) = (1 − z(t)) ⊙ n(t) + z(t) ⊙ h(t-1)                        (G4)
    o(t) = c + V h(t),  ŷ(t) = softmax(o(t)),  L = Σ_t −log ŷ(t)[y(t)]  (the head)

The gate blocks are stacked r|z|n as in PyTorch: W_ih (3H×D) = [W_ir; W_iz; W_in],
W_hh (3H×H) = [W_hr; W_hz; W_hn], b_ih and b_hh (3H,) likewise; V (K×H), c (K,).
Shapes and conventions follow :mod:`rnn.oracles.vanilla`: h(t) is (H,) for one sequence and
(H, B) for a batch; x is token ids [τ] or [τ, B] (made one-hot here, where the model gathers
the columns ``W_ih[:, x(t)]``) or floats [τ, D] or [τ, B, D]; y is class ids [τ] or [τ, B].

The backward pass, written from (G1)–(G4) with a(t) for the pre-activations
(a_r, a_z the arguments of σ, a_n the argument of tanh) and g(t) = ∇_{h(t)} L::

    ∇n = (1 − z) ⊙ g                ∇z = (h(t-1) − n) ⊙ g          from (G4)
    ∇a_n = (1 − n²) ⊙ ∇n            ∇a_z = z(1 − z) ⊙ ∇z           tanh', σ'
    ∇r = (W_hn h(t-1) + b_hn) ⊙ ∇a_n                                 from (G3)
    ∇a_r = r(1 − r) ⊙ ∇r
    ∇(W_ih x + b_ih) = [∇a_r; ∇a_z; ∇a_n]
    ∇(W_hh h(t-1) + b_hh) = [∇a_r; ∇a_z; r ⊙ ∇a_n]
    g(t-1) = W_hh^T ∇(W_hh h(t-1) + b_hh) + z ⊙ g(t) + V^T ∇_{o(t-1)} L
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from rnn import inputs
from rnn.oracles import head

__all__ = ["GRUResult", "Forward", "forward", "bptt", "PARAMETER_NAMES"]

PARAMETER_NAMES = ("W_ih", "W_hh", "b_ih", "b_hh", "V", "c")


class Forward(NamedTuple):
    """The forward stacks, step t in row t-1: ``h`` (τ+1, H[, B]) with ``h[0] = h(0)``;
    the gates ``r``, ``z``, the candidate ``n`` and ``hn = W_hn h(t-1) + b_hn``
    (τ, H[, B]); the head's ``o`` (τ, K[, B])."""
    h: np.ndarray
    r: np.ndarray
    z: np.ndarray
    n: np.ndarray
    hn: np.ndarray
    o: np.ndarray


@dataclass(frozen=True)
class GRUResult:
    """Loss, gradients and forward stacks of one BPTT pass of the GRU model.

    ``grads`` maps "W_ih", "W_hh", "b_ih", "b_hh", "V", "c", "h0" to ∂L/∂(that), each
    with the shape of what it differentiates. Time-stacked arrays put step t in row t-1:
    ``dL_dh[t-1] = ∇_{h(t)} L`` (τ, H[, B]), the total gradient through all later steps;
    ``dL_do[t-1] = ∇_{o(t)} L`` and ``y_hat[t-1] = ŷ(t)`` (τ, K[, B]); ``h`` (τ+1, H[, B])
    starts with h(0); ``r``, ``z``, ``n``, ``hn`` as in :class:`Forward`.
    """
    loss: float
    grads: dict[str, np.ndarray]
    dL_do: np.ndarray
    dL_dh: np.ndarray
    h: np.ndarray
    r: np.ndarray
    z: np.ndarray
    n: np.ndarray
    hn: np.ndarray
    y_hat: np.ndarray


def forward(params, x, state0=None) -> Forward:
    """Run the GRU model forward; ``params`` maps the names in PARAMETER_NAMES to arrays,
    ``state0`` is None (h(0) = 0), h0 or the tuple ``(h0,)``, h0 (H,) or (H, B).

    With b_iz = 40 the update gate is σ(40) = 1.0 in float64, so h(0) is carried unchanged:

    >>> import numpy as np
    >>> b_ih = np.array([0.0, 0.0, 40.0, 40.0, 0.0, 0.0])           # H = 2: blocks r|z|n
    >>> params = dict(W_ih=np.ones((6, 3)), W_hh=np.ones((6, 2)), b_ih=b_ih, b_hh=np.zeros(6),
    ...               V=np.ones((4, 2)), c=np.zeros(4))
    >>> stacks = forward(params, np.array([0, 2, 1]), np.array([0.5, -1.0]))
    >>> stacks.h.tolist(), stacks.z.shape, stacks.o.shape
    ([[0.5, -1.0], [0.5, -1.0], [0.5, -1.0], [0.5, -1.0]], (3, 2), (3, 4))
    """
    p, x, single = _check_params_and_inputs(params, x)
    stacks = _recurrence(p, x, _check_h0(state0, p, x.shape[1], single))
    o = head.outputs(p["V"], p["c"], stacks[0][1:])
    return Forward(*(_unbatch(s, single) for s in (*stacks, o)))


def bptt(params, x, y, state0=None) -> GRUResult:
    """Loss and exact gradients of the GRU language model by back-propagation through time.

    ``state0`` is None (h(0) = 0; its gradient is still reported), h0 or ``(h0,)``.

    >>> import numpy as np
    >>> H, D, K = 3, 4, 2
    >>> rng = np.random.default_rng(0)
    >>> shapes = dict(W_ih=(3 * H, D), W_hh=(3 * H, H), b_ih=(3 * H,), b_hh=(3 * H,),
    ...               V=(K, H), c=(K,))
    >>> params = {name: rng.normal(size=shape) for name, shape in shapes.items()}
    >>> result = bptt(params, np.array([0, 3, 1]), np.array([1, 0, 1]))
    >>> result.grads["W_hh"].shape, result.grads["h0"].shape, result.dL_dh.shape
    ((9, 3), (3,), (3, 3))
    """
    p, x, single = _check_params_and_inputs(params, x)
    tau, B = x.shape[:2]
    y = inputs.targets(y, tau, None if single else B, p["V"].shape[0],
                       source="V.shape[0]").reshape(tau, B)
    h, r, z, n, hn = _recurrence(p, x, _check_h0(state0, p, B, single))
    loss, y_hat = head.softmax_loss(head.outputs(p["V"], p["c"], h[1:]), y)  # the head, L
    dL_do = head.dL_do(y_hat, y)                                              # ŷ − onehot(y)
    head_grads, dL_dh_from_o = head.backward(p["V"], h[1:], dL_do)           # V, c; V^T ∇_o L
    dL_dh = np.empty_like(h[1:])                # row t-1 holds g(t) = ∇_{h(t)} L
    dL_da_i = np.empty((tau, *p["b_ih"].shape, B))   # ∇(W_ih x(t) + b_ih), (τ, 3H, B)
    dL_da_h = np.empty_like(dL_da_i)            # ∇(W_hh h(t-1) + b_hh)
    from_later = np.zeros_like(h[0])            # what h(t+1) sends back to h(t); none at τ
    for t in range(tau, 0, -1):
        i = t - 1
        g = dL_dh[i] = from_later + dL_dh_from_o[i]        # + the head's V^T ∇_{o(t)} L
        dL_dn = (1 - z[i]) * g                              # (G4) ∂h/∂n = 1 − z
        dL_dz = (h[t - 1] - n[i]) * g                       # (G4) ∂h/∂z = h(t-1) − n
        dL_da_n = (1 - n[i] ** 2) * dL_dn                   # (G3) tanh' = 1 − n²
        dL_da_z = z[i] * (1 - z[i]) * dL_dz                 # (G2) σ' = z(1 − z)
        dL_da_r = r[i] * (1 - r[i]) * hn[i] * dL_da_n       # (G3) ∂a_n/∂r = hn, (G1) σ'
        dL_da_i[i] = np.concatenate([dL_da_r, dL_da_z, dL_da_n])
        dL_da_h[i] = np.concatenate([dL_da_r, dL_da_z, r[i] * dL_da_n])  # (G3) ∂a_n/∂hn = r
        # h(t-1) feeds W_hh h(t-1) in (G1)–(G3) and z ⊙ h(t-1) in (G4)
        from_later = p["W_hh"].T @ dL_da_h[i] + z[i] * g
    grads = {
        "W_ih": np.einsum("tgb,tbd->gd", dL_da_i, x),               # Σ_t ∇a_i(t) x(t)^T
        "W_hh": np.einsum("tgb,thb->gh", dL_da_h, h[:-1]),           # Σ_t ∇a_h(t) h(t-1)^T
        "b_ih": dL_da_i.sum(axis=(0, 2)),
        "b_hh": dL_da_h.sum(axis=(0, 2)),
        **head_grads,                                                # V, c
        "h0": _unbatch(from_later, single),                          # g(0), nothing from a head
    }
    return GRUResult(loss, grads, *(_unbatch(s, single)
                                     for s in (dL_do, dL_dh, h, r, z, n, hn, y_hat)))


# -- forward on batched arrays: x [τ, B, D], h (τ+1, H, B) ---------------------------------

def _recurrence(p, x, h0):
    W_ih, W_hh, b_ih, b_hh = p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"]
    H = W_hh.shape[1]
    a_i = np.einsum("gd,tbd->tgb", W_ih, x) + b_ih[:, None]   # W_ih x(t) + b_ih, (τ, 3H, B)
    h = np.empty((len(x) + 1, *h0.shape))
    h[0] = h0
    r, z, n, hn = (np.empty((len(x), *h0.shape)) for _ in range(4))
    for t in range(1, len(x) + 1):
        i = t - 1
        a_h = W_hh @ h[t - 1] + b_hh[:, None]   # W_hh h(t-1) + b_hh, blocks r|z|n
        r[i] = _sigmoid(a_i[i, :H] + a_h[:H])                       # (G1)
        z[i] = _sigmoid(a_i[i, H:2 * H] + a_h[H:2 * H])             # (G2)
        hn[i] = a_h[2 * H:]                                         # W_hn h(t-1) + b_hn
        n[i] = np.tanh(a_i[i, 2 * H:] + r[i] * hn[i])               # (G3)
        h[t] = (1 - z[i]) * n[i] + z[i] * h[t - 1]                  # (G4)
    return h, r, z, n, hn


def _sigmoid(a):
    """σ(a) = 1 / (1 + e^(−a)), written so that neither branch overflows."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def _unbatch(stack, single):
    return stack[..., 0] if single else stack


# -- validation (rnn.inputs, numpy only) -----------------------------------------------------

SYMBOLS = {"W_ih": "3H×D", "W_hh": "3H×H", "b_ih": "(3H,)", "b_hh": "(3H,)", "V": "K×H",
           "c": "(K,)"}  # as rnn.cells.gru's and rnn.heads'


def _check_params_and_inputs(params, x):
    """Float64 parameters, and x as float columns [τ, B, D] (token ids made one-hot: the
    model gathers columns of W_ih instead, so the two are computed differently)."""
    for name in ("W_ih", "V"):                  # the two that give the sizes D, H, K
        if name not in params:
            raise KeyError(f"missing parameter {name!r}; the GRU model has {PARAMETER_NAMES}")
    (_, D), (K, H) = (inputs.matrix(n, params[n], SYMBOLS[n]).shape for n in ("W_ih", "V"))
    shapes = {"W_ih": (3 * H, D), "W_hh": (3 * H, H), "b_ih": (3 * H,), "b_hh": (3 * H,),
              "V": (K, H), "c": (K,)}
    p = inputs.parameters(params, shapes, SYMBOLS, f"H = {H}, D = {D}, K = {K}")
    x, tokens, _, batch = inputs.inputs(x, D, source="W_ih.shape[1]")
    x = np.eye(D)[x] if tokens else x
    return p, x[:, None] if batch is None else x, batch is None


def _check_h0(state0, p, B, single):
    """h(0) batched, (H, B), from state0: None or (None,) (zeros), h0, or (h0,), as the
    model takes it (rnn.layers.initial_state)."""
    H = p["W_hh"].shape[1]
    if state0 is None or isinstance(state0, np.ndarray):
        state0 = (state0,)
    if not isinstance(state0, (tuple, list)) or len(state0) != 1:
        raise ValueError(f"the initial state of the GRU is 1 array (h0), got {state0!r:.80}")
    if state0[0] is None:
        return np.zeros((H, B))
    return inputs.state("h0", state0[0], H, None if single else B).reshape(H, B)
