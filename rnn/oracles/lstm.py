"""Analytic back-propagation through time for the LSTM language model, in plain numpy.

The oracle the LSTM cell on minigrad (rnn.cells.lstm) is checked against, so it never
imports minigrad: the head is rnn.oracles.head's and the input checks rnn.inputs'. The cell is PyTorch's ``nn.LSTM`` (one layer, no peepholes, two bias
vectors), written in column form; for t = 1..τ, σ the logistic function::

    a(t) = W_ih x(t) + b_ih + W_hh h(t-1) + b_hh     (4H,) blocks i|f|g|o     (L1)
    i(t) = σ(a_i(t))   f(t) = σ(a_f(t))   g(t) = tanh(a_g(t))   q(t) = σ(a_o(t))  (L2)
    c(t) = f(t) ⊙ c(t-1) + i(t) ⊙ g(t)                                         (L3)
    h(t) = q(t) ⊙ tanh(c(t))                                                   (L4)
    o(t) = c + V h(t),  ŷ(t) = softmax(o(t)),  L = Σ_t −log ŷ(t)[y(t)]  (the head)

q(t) is the output gate, PyTorch's o_t: o(t) is already the head's output (Deep Learning
§10.10.1 calls the output gate q too). W_ih (4H×D) = [W_ii; W_if; W_ig; W_io], W_hh (4H×H)
likewise, b_ih and b_hh (4H,); V (K×H), c (K,) — the head's bias c is not the cell state
c(t), whose initial value is "c0". h(t), c(t) are (H,) for one sequence and (H, B) for a
batch (batch on the trailing axis); x is token ids [τ] or [τ, B] (one-hot: ``W_ih x(t)`` is
column ``W_ih[:, x(t)]``) or floats [τ, D] or [τ, B, D]; y is class ids [τ] or [τ, B].

The backward pass is the one of Greff et al. 2017 ("LSTM: A Search Space Odyssey", IEEE
TNNLS 28(10), Appendix, "Backpropagation Through Time") with the peephole weights set to
zero. Their block input z, block output y and gates i, f, o are our g, h and i, f, q; their
δ of a barred quantity is the gradient of its pre-activation, here ∇a. With Δ(t) = V^T
∇_{o(t)} L (what the head sends to h(t)) and all products elementwise but W^T::

    ∇h(t)   = Δ(t) + W_hh^T ∇a(t+1)                                (G-δy)
    ∇a_o(t) = ∇h(t) ⊙ tanh(c(t)) ⊙ q(1 − q)                        (G-δo)
    ∇c(t)   = ∇h(t) ⊙ q ⊙ (1 − tanh²(c(t))) + ∇c(t+1) ⊙ f(t+1)     (G-δc)
    ∇a_f(t) = ∇c(t) ⊙ c(t-1) ⊙ f(1 − f)                            (G-δf)
    ∇a_i(t) = ∇c(t) ⊙ g ⊙ i(1 − i)                                 (G-δi)
    ∇a_g(t) = ∇c(t) ⊙ i ⊙ (1 − g²)                                 (G-δz)
    ∇W_ih = Σ_t ∇a(t) x(t)^T   ∇W_hh = Σ_t ∇a(t) h(t-1)^T   ∇b_ih = ∇b_hh = Σ_t ∇a(t)

with ∇a(τ+1) = 0, ∇c(τ+1) = 0; then ∇h(0) = W_hh^T ∇a(1) and ∇c(0) = ∇c(1) ⊙ f(1). ∇h(t)
and ∇c(t) are total gradients: through the head, the later steps and, for c(t), h(t).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from rnn import inputs
from rnn.oracles import head

__all__ = ["LSTMResult", "Forward", "forward", "bptt", "PARAMETER_NAMES"]

PARAMETER_NAMES = ("W_ih", "W_hh", "b_ih", "b_hh", "V", "c")


class Forward(NamedTuple):
    """The forward stacks: ``h`` and ``c`` (τ+1, H[, B]) start with h(0), c(0); the gates
    ``i``, ``f``, ``q`` and the candidate ``g`` (τ, H[, B]) and the head's ``o`` (τ, K[, B])
    put step t in row t-1."""
    h: np.ndarray
    c: np.ndarray
    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    q: np.ndarray
    o: np.ndarray


@dataclass(frozen=True)
class LSTMResult:
    """Loss, gradients and forward stacks of one BPTT pass of the LSTM model.

    ``grads`` maps "W_ih", "W_hh", "b_ih", "b_hh", "V", "c", "h0", "c0" to ∂L/∂(that),
    each with the shape of what it differentiates ("c" is the head's bias, "c0" the initial
    cell state). Time-stacked arrays put step t in row t-1: ``dL_dh[t-1] = ∇_{h(t)} L`` and
    ``dL_dc[t-1] = ∇_{c(t)} L`` (τ, H[, B]), total gradients; ``dL_do[t-1] = ∇_{o(t)} L``
    and ``y_hat[t-1] = ŷ(t)`` (τ, K[, B]); ``h``, ``c`` (τ+1, H[, B]) start with h(0), c(0);
    ``i``, ``f``, ``g``, ``q`` as in :class:`Forward`.
    """
    loss: float
    grads: dict[str, np.ndarray]
    dL_do: np.ndarray
    dL_dh: np.ndarray
    dL_dc: np.ndarray
    h: np.ndarray
    c: np.ndarray
    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    q: np.ndarray
    y_hat: np.ndarray


def forward(params, x, state0=None) -> Forward:
    """Run the LSTM model forward; ``params`` maps the names in PARAMETER_NAMES to arrays,
    ``state0`` is None (h(0) = c(0) = 0) or ``(h0, c0)``, each (H,) or (H, B), or None for
    zeros.

    >>> import numpy as np
    >>> H, D, K = 3, 4, 2
    >>> rng = np.random.default_rng(0)
    >>> shapes = dict(W_ih=(4 * H, D), W_hh=(4 * H, H), b_ih=(4 * H,), b_hh=(4 * H,),
    ...               V=(K, H), c=(K,))
    >>> params = {name: rng.normal(size=shape) for name, shape in shapes.items()}
    >>> stacks = forward(params, np.array([0, 3, 1]))
    >>> stacks.h.shape, stacks.c.shape, stacks.f.shape, stacks.o.shape
    ((4, 3), (4, 3), (3, 3), (3, 2))
    """
    p, x, tokens, single = _check_params_and_inputs(params, x)
    stacks = _recurrence(p, x, tokens, _check_state0(state0, p, x.shape[1], single))
    o = head.outputs(p["V"], p["c"], stacks[0][1:])
    return Forward(*(_unbatch(s, single) for s in (*stacks, o)))


def bptt(params, x, y, state0=None) -> LSTMResult:
    """Loss and exact gradients of the LSTM language model by back-propagation through time.

    ``state0`` is None or ``(h0, c0)`` as in :func:`forward`; the gradients of h(0) and c(0)
    are reported whether they were given or zeros.

    >>> import numpy as np
    >>> H, D, K = 3, 4, 2
    >>> rng = np.random.default_rng(0)
    >>> shapes = dict(W_ih=(4 * H, D), W_hh=(4 * H, H), b_ih=(4 * H,), b_hh=(4 * H,),
    ...               V=(K, H), c=(K,))
    >>> params = {name: rng.normal(size=shape) for name, shape in shapes.items()}
    >>> result = bptt(params, np.array([0, 3, 1]), np.array([1, 0, 1]))
    >>> result.grads["W_hh"].shape, result.grads["c0"].shape, result.dL_dc.shape
    ((12, 3), (3,), (3, 3))
    """
    p, x, tokens, single = _check_params_and_inputs(params, x)
    tau, B = x.shape[:2]
    y = _check_targets(y, tau, B, single, p["V"].shape[0])
    h, c, i, f, g, q = _recurrence(p, x, tokens, _check_state0(state0, p, B, single))
    loss, y_hat = head.softmax_loss(head.outputs(p["V"], p["c"], h[1:]), y)
    dL_do = head.dL_do(y_hat, y)                                # ŷ(t) − onehot(y(t))
    head_grads, Delta = head.backward(p["V"], h[1:], dL_do)     # Δ(t) = V^T ∇_{o(t)} L
    dL_dh, dL_dc = np.empty_like(h[1:]), np.empty_like(c[1:])   # row t-1: ∇h(t), ∇c(t)
    dL_da = np.empty((tau, *p["b_ih"].shape, B))                # ∇a(t), blocks i|f|g|o
    from_h, from_c = np.zeros_like(h[0]), np.zeros_like(c[0])   # W_hh^T ∇a(t+1), ∇c(t+1) f(t+1)
    for t in range(tau, 0, -1):
        s = t - 1
        dh = dL_dh[s] = Delta[s] + from_h                                  # (G-δy)
        tanh_c = np.tanh(c[t])
        dc = dL_dc[s] = dh * q[s] * (1 - tanh_c ** 2) + from_c             # (G-δc), (L4)
        dL_da[s] = np.concatenate([dc * g[s] * i[s] * (1 - i[s]),          # (G-δi), (L3)
                                   dc * c[t - 1] * f[s] * (1 - f[s]),      # (G-δf), (L3)
                                   dc * i[s] * (1 - g[s] ** 2),            # (G-δz), (L3)
                                   dh * tanh_c * q[s] * (1 - q[s])])       # (G-δo), (L4)
        from_h = p["W_hh"].T @ dL_da[s]         # (L1): h(t-1) enters a(t) through W_hh
        from_c = dc * f[s]                      # (L3): c(t-1) enters c(t) through f(t)
    grads = {
        "W_ih": _input_weight_gradient(p["W_ih"], x, tokens, dL_da),   # Σ_t ∇a(t) x(t)^T
        "W_hh": np.einsum("tgb,thb->gh", dL_da, h[:-1]),                # Σ_t ∇a(t) h(t-1)^T
        "b_ih": dL_da.sum(axis=(0, 2)),                                 # Σ_t ∇a(t)
        "b_hh": dL_da.sum(axis=(0, 2)),                                 # the same sum, (L1)
        **head_grads,                                                   # V, c
        "h0": _unbatch(from_h, single),         # ∇h(0) = W_hh^T ∇a(1): no head at t = 0
        "c0": _unbatch(from_c, single),         # ∇c(0) = ∇c(1) ⊙ f(1)
    }
    return LSTMResult(loss, grads, *(_unbatch(s, single)
                                      for s in (dL_do, dL_dh, dL_dc, h, c, i, f, g, q, y_hat)))


# -- forward on batched arrays: x [τ, B] or [τ, B, D]; h, c (τ+1, H, B) ---------------------

def _recurrence(p, x, tokens, state0):
    W_ih, W_hh = p["W_ih"], p["W_hh"]
    H = W_hh.shape[1]
    Wx = W_ih[:, x].transpose(1, 0, 2) if tokens else np.einsum("gd,tbd->tgb", W_ih, x)
    a_x = Wx + p["b_ih"][:, None]               # W_ih x(t) + b_ih for all t, (τ, 4H, B)
    h, c = (np.empty((len(x) + 1, *s.shape)) for s in state0)
    h[0], c[0] = state0
    i, f, g, q = (np.empty((len(x), *h[0].shape)) for _ in range(4))
    for t in range(1, len(x) + 1):
        s = t - 1
        a = a_x[s] + W_hh @ h[t - 1] + p["b_hh"][:, None]                 # (L1)
        i[s], f[s], q[s] = (_sigmoid(a[k * H:(k + 1) * H]) for k in (0, 1, 3))   # (L2)
        g[s] = np.tanh(a[2 * H:3 * H])                                    # (L2)
        c[t] = f[s] * c[t - 1] + i[s] * g[s]                              # (L3)
        h[t] = q[s] * np.tanh(c[t])                                       # (L4)
    return h, c, i, f, g, q


def _sigmoid(a):
    """σ(a) = 1 / (1 + e^(−a)) = exp(−log(1 + e^(−a))), which overflows for no a."""
    return np.exp(-np.logaddexp(0.0, -a))


def _input_weight_gradient(W_ih, x, tokens, dL_da):
    if not tokens:
        return np.einsum("tgb,tbd->gd", dL_da, x)
    dL_dW = np.zeros_like(W_ih)                 # x(t) one-hot: ∇a(t) x(t)^T is one column
    np.add.at(dL_dW.T, x, dL_da.transpose(0, 2, 1))
    return dL_dW


def _unbatch(stack, single):
    return stack[..., 0] if single else stack


# -- validation (rnn.inputs, numpy only) --------------------------------------------------

SYMBOLS = {"W_ih": "4H×D", "W_hh": "4H×H", "b_ih": "(4H,)", "b_hh": "(4H,)", "V": "K×H",
           "c": "(K,)"}


def _check_params_and_inputs(params, x):
    """Float64 parameters (sizes D from W_ih, K and H from V) and x made batched
    ([τ, B] tokens or [τ, B, D] floats), with rnn.inputs' messages."""
    inputs.require(params, PARAMETER_NAMES)
    (_, D), (K, H) = (inputs.matrix(n, params[n], SYMBOLS[n]).shape for n in ("W_ih", "V"))
    shapes = {"W_ih": (4 * H, D), "W_hh": (4 * H, H), "b_ih": (4 * H,), "b_hh": (4 * H,),
              "V": (K, H), "c": (K,)}
    p = inputs.parameters(params, shapes, SYMBOLS, f"H = {H}, D = {D}, K = {K}")
    x, tokens, _, batch = inputs.inputs(x, D, source="W_ih.shape[1]")
    return p, (x[:, None] if batch is None else x), tokens, batch is None


def _check_state0(state0, p, B, single):
    """(h(0), c(0)) as (H, B) arrays from state0: None, or (h0, c0) with either None
    (zeros), as the model takes it (rnn.layers.initial_state)."""
    H = p["W_hh"].shape[1]
    state0 = (None, None) if state0 is None else state0
    if not isinstance(state0, (tuple, list)) or len(state0) != 2:
        raise ValueError(f"the initial state of the LSTM is 2 arrays (h0, c0), got {state0!r:.80}")
    return tuple(np.zeros((H, B)) if s is None else
                 inputs.state(name, s, H, None if single else B).reshape(H, B)
                 for name, s in zip(("h0", "c0"), state0))


def _check_targets(y, tau, B, single, K):
    return inputs.targets(y, tau, None if single else B, K, source="V.shape[0]").reshape(tau, B)
