"""Analytic back-propagation through time for the vanilla RNN, in plain numpy.

This is the oracle the autodiff engine is checked against, so it never imports
minigrad. The model (Deep Learning §10.2, as the source chapter states it once its typos are
fixed), for t = 1..τ, with column vectors::

    a(t) = b + W h(t-1) + U x(t)        h(t) = tanh(a(t))
    o(t) = c + V h(t)                   ŷ(t) = softmax(o(t))
    L(t) = -log ŷ(t)[y(t)]              L = Σ_t L(t)   (also summed over a batch)

Shapes: U (H×D), W (H×H), V (K×H), b (H,), c (K,); h(t) is (H,) for one sequence
and (H, B) for a batch of B sequences (batch on the trailing axis). Inputs ``x`` are
integer token ids [τ] or [τ, B] (a one-hot x(t), so ``U x(t)`` is column
``U[:, x(t)]``) or floats [τ, D] or [τ, B, D]; targets ``y`` are ints [τ] or [τ, B].

The backward pass follows the book's equations 10.17-10.28 with the source
chapter's errors corrected; docs/seed_errata.md lists what the chapter prints and why it is
wrong. ("Seed" in the names seed_errata and rnn.oracles.seed_formulas means that source
chapter, the project's seed text; the models' ``seed=`` arguments are random seeds.)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from rnn import inputs
from rnn.oracles import head

__all__ = ["BPTTResult", "Forward", "bptt", "forward", "bptt_with_rules", "dL_do_10_18",
           "next_dL_dh_10_21"]


class Forward(NamedTuple):
    """The forward stacks: ``h`` (τ+1, H[, B]) with ``h[0] = h(0)``, and ``o`` (τ, K[, B])
    with ``o[t-1] = o(t)``."""
    h: np.ndarray
    o: np.ndarray


@dataclass(frozen=True)
class BPTTResult:
    """Loss, parameter gradients and the intermediate gradients of one BPTT pass.

    ``grads`` maps "U", "W", "V", "b", "c", "h0" to ∂L/∂(that), each with the shape
    of what it differentiates. Time-stacked arrays put step t in row t-1:
    ``dL_do[t-1] = ∇_{o(t)} L`` (τ, K[, B]), ``dL_dh[t-1] = ∇_{h(t)} L`` (τ, H[, B]),
    ``y_hat[t-1] = ŷ(t)`` (τ, K[, B]); ``h`` (τ+1, H[, B]) starts with h(0).
    """
    loss: float
    grads: dict[str, np.ndarray]
    dL_do: np.ndarray
    dL_dh: np.ndarray
    h: np.ndarray
    y_hat: np.ndarray


def forward(U, W, V, b, c, x, h0=None) -> Forward:
    """Run the RNN forward and return the stacks of h(t) and o(t).

    >>> import numpy as np
    >>> H, D, K = 3, 4, 2
    >>> rng = np.random.default_rng(0)
    >>> U, W, V = rng.normal(size=(H, D)), rng.normal(size=(H, H)), rng.normal(size=(K, H))
    >>> h, o = forward(U, W, V, np.zeros(H), np.zeros(K), np.array([0, 3, 1]))
    >>> h.shape, o.shape
    ((4, 3), (3, 2))
    """
    U, W, V, b, c, x, tokens, single = _check_params_and_inputs(U, W, V, b, c, x)
    h = _hidden_states(U, W, b, x, tokens, _check_h0(h0, W.shape[0], x.shape[1], single))
    o = _outputs(V, c, h)
    return Forward(*(_unbatch(s, single) for s in (h, o)))


def bptt(U, W, V, b, c, x, y, h0=None) -> BPTTResult:
    """Loss and exact gradients of the vanilla RNN by back-propagation through time.

    ``h0`` is h(0), (H,) or (H, B); zeros when None (its gradient is still reported).

    >>> import numpy as np
    >>> H, D, K = 3, 4, 2
    >>> rng = np.random.default_rng(0)
    >>> U, W, V = rng.normal(size=(H, D)), rng.normal(size=(H, H)), rng.normal(size=(K, H))
    >>> b, c = np.zeros(H), np.zeros(K)
    >>> x, y = np.array([0, 3, 1]), np.array([1, 0, 1])
    >>> result = bptt(U, W, V, b, c, x, y)
    >>> result.grads["W"].shape, result.dL_dh.shape
    ((3, 3), (3, 3))
    >>> bool(np.allclose(result.dL_do.sum(axis=1), 0))   # each ŷ(t) - onehot(y(t)) sums to 0
    True
    """
    return bptt_with_rules(U, W, V, b, c, x, y, h0, dL_do_10_18, next_dL_dh_10_21)


def bptt_with_rules(U, W, V, b, c, x, y, h0, dL_do_rule, next_dL_dh_rule):
    """:func:`bptt` with the two rules that the source chapter misprints passed in, shaped like
    :func:`dL_do_10_18` and :func:`next_dL_dh_10_21`; rnn.oracles.seed_formulas substitutes
    the printed versions to show what they would compute."""
    U, W, V, b, c, x, tokens, single = _check_params_and_inputs(U, W, V, b, c, x)
    tau, B = x.shape[:2]
    y = _check_targets(y, tau, B, single, V.shape[0])
    h = _hidden_states(U, W, b, x, tokens, _check_h0(h0, W.shape[0], B, single))
    loss, y_hat = head.softmax_loss(_outputs(V, c, h), y)  # L(t) = -log ŷ(t)[y(t)]

    dL_do = dL_do_rule(y_hat, y)
    head_grads, dL_dh_from_o = head.backward(V, h[1:], dL_do)
    dL_dh, dL_da = _backward_through_time(W, h, dL_dh_from_o, next_dL_dh_rule)
    grads = {  # dL_da[t-1] = diag(1−h(t)²) ∇_{h(t)} L
        "U": _input_weight_gradient(U, x, tokens, dL_da),  # (10.28) Σ_t dL_da(t) x(t)^T
        "W": np.einsum("thb,tjb->hj", dL_da, h[:-1]),       # (10.26) Σ_t dL_da(t) h(t−1)^T
        "V": head_grads["V"],                               # (10.24) Σ_t ∇_{o(t)} L h(t)^T
        "b": dL_da.sum(axis=(0, 2)),                        # (10.23) Σ_t dL_da(t)
        "c": head_grads["c"],                               # (10.22) Σ_t ∇_{o(t)} L
        "h0": _unbatch(W.T @ dL_da[0], single),             # h(0) feeds only a(1): W^T dL_da(1)
    }
    return BPTTResult(loss, grads, *(_unbatch(s, single) for s in (dL_do, dL_dh, h, y_hat)))


# -- forward and backward on batched arrays: x [τ, B] or [τ, B, D], h (τ+1, H, B) ----------

def _hidden_states(U, W, b, x, tokens, h0):
    Ux = U[:, x].transpose(1, 0, 2) if tokens else np.einsum("hd,tbd->thb", U, x)
    h = np.empty((len(x) + 1, *h0.shape))
    h[0] = h0
    for t in range(1, len(x) + 1):
        h[t] = np.tanh(b[:, None] + W @ h[t - 1] + Ux[t - 1])   # h(t) = tanh(b + W h(t−1) + U x(t))
    return h


def _outputs(V, c, h):
    return head.outputs(V, c, h[1:])                            # o(t) = c + V h(t)


dL_do_10_18 = head.dL_do    # (10.18) ∇_{o(t)} L = ŷ(t) − onehot(y(t)), the head's rule


def next_dL_dh_10_21(W, h_next, dL_dh_next):
    """The corrected W-term of (10.21): W^T diag(1−h(t+1)²) ∇_{h(t+1)} L; h(t+1) is (H, B)."""
    return W.T @ ((1 - h_next ** 2) * dL_dh_next)


def _backward_through_time(W, h, dL_dh_from_o, next_dL_dh):
    """∇_{h(t)} L and ∇_{a(t)} L for t = τ..1, given the head's part V^T ∇_{o(t)} L.

    ``next_dL_dh(W, h(t+1), ∇_{h(t+1)} L)`` is the contribution of h(t+1) to ∇_{h(t)} L;
    rnn.oracles.seed_formulas passes the seed's printed versions of it, for comparison.
    """
    tau = len(dL_dh_from_o)
    dL_dh = np.empty_like(h[1:])                # row t-1 holds ∇_{h(t)} L
    dL_dh[tau - 1] = dL_dh_from_o[tau - 1]      # (10.19) ∇_{h(τ)} L = V^T ∇_{o(τ)} L
    for t in range(tau - 1, 0, -1):
        # (10.21 corrected) ∇_{h(t)} L = W^T diag(1−h(t+1)²) ∇_{h(t+1)} L + V^T ∇_{o(t)} L
        dL_dh[t - 1] = next_dL_dh(W, h[t + 1], dL_dh[t]) + dL_dh_from_o[t - 1]
    dL_da = (1 - h[1:] ** 2) * dL_dh            # ∇_{a(t)} L = diag(1−h(t)²) ∇_{h(t)} L
    return dL_dh, dL_da


def _input_weight_gradient(U, x, tokens, dL_da):
    if not tokens:
        return np.einsum("thb,tbd->hd", dL_da, x)
    dL_dU = np.zeros_like(U)                   # x(t) one-hot: ∇_{a(t)} L x(t)^T is a single column
    np.add.at(dL_dU.T, x, dL_da.transpose(0, 2, 1))
    return dL_dU


def _unbatch(stack, single):
    return stack[..., 0] if single else stack


# -- validation (rnn.inputs, numpy only) -----------------------------------------------

SYMBOLS = {"U": "H×D", "W": "H×H", "V": "K×H", "b": "(H,)", "c": "(K,)"}  # as rnn.model's


def _check_params_and_inputs(U, W, V, b, c, x):
    """Float64 parameters and x made batched ([τ, B] tokens or [τ, B, D] floats), with the
    messages rnn.model gives for the same mistakes."""
    (H, D), (K, _) = (inputs.matrix(n, p, SYMBOLS[n]).shape for n, p in (("U", U), ("V", V)))
    shapes = {"U": (H, D), "W": (H, H), "V": (K, H), "b": (H,), "c": (K,)}
    p = inputs.parameters(dict(U=U, W=W, V=V, b=b, c=c), shapes, SYMBOLS,
                          f"H = {H}, D = {D}, K = {K}")
    x, tokens, _, batch = inputs.inputs(x, D, source="U.shape[1]")
    return (*p.values(), x[:, None] if batch is None else x, tokens, batch is None)


def _check_h0(h0, H, B, single):
    if h0 is None:
        return np.zeros((H, B))
    return inputs.state("h0", h0, H, None if single else B).reshape(H, B)


def _check_targets(y, tau, B, single, K):
    return inputs.targets(y, tau, None if single else B, K, source="V.shape[0]").reshape(tau, B)
