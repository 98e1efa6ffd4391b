"""Analytic back-propagation through time for the seed's RNN, in plain numpy.

This is the oracle the autodiff engine is checked against, so it never imports
minigrad. The model (Deep Learning §10.2, as the seed states it once its typos are
fixed), for t = 1..τ, with column vectors::

    a(t) = b + W h(t-1) + U x(t)        h(t) = tanh(a(t))
    o(t) = c + V h(t)                   ŷ(t) = softmax(o(t))
    L(t) = -log ŷ(t)[y(t)]              L = Σ_t L(t)   (also summed over a batch)

Shapes: U (H×D), W (H×H), V (K×H), b (H,), c (K,); h(t) is (H,) for one sequence
and (H, B) for a batch of B sequences (batch on the trailing axis). Inputs ``x`` are
integer token ids [τ] or [τ, B] (a one-hot x(t), so ``U x(t)`` is column
``U[:, x(t)]``) or floats [τ, D] or [τ, B, D]; targets ``y`` are ints [τ] or [τ, B].

The backward pass follows the book's equations 10.17-10.28 with the seed's errors
corrected; docs/seed_errata.md lists what the seed prints and why it is wrong.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

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
    """Loss and exact gradients of the seed's RNN by back-propagation through time.

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
    """:func:`bptt` with the two rules that the seed misprints passed in, shaped like
    :func:`dL_do_10_18` and :func:`next_dL_dh_10_21`; rnn.seed_formulas substitutes
    the printed versions to show what they would compute."""
    U, W, V, b, c, x, tokens, single = _check_params_and_inputs(U, W, V, b, c, x)
    tau, B = x.shape[:2]
    y = _check_targets(y, tau, B, single, V.shape[0])
    h = _hidden_states(U, W, b, x, tokens, _check_h0(h0, W.shape[0], B, single))
    o = _outputs(V, c, h)

    # L(t) = log Σ_k exp(o_k(t)) - o_{y(t)}(t), by a max-shifted log-sum-exp.
    o_max = o.max(axis=1, keepdims=True)
    log_Z = o_max + np.log(np.exp(o - o_max).sum(axis=1, keepdims=True))
    y_hat = np.exp(o - log_Z)
    loss = float((log_Z - np.take_along_axis(o, y[:, None, :], axis=1)).sum())

    dL_do = dL_do_rule(y_hat, y)
    dL_dh, dL_da = _backward_through_time(W, V, h, dL_do, next_dL_dh_rule)
    grads = {  # dL_da[t-1] = diag(1−h(t)²) ∇_{h(t)} L
        "U": _input_weight_gradient(U, x, tokens, dL_da),  # (10.28) Σ_t dL_da(t) x(t)^T
        "W": np.einsum("thb,tjb->hj", dL_da, h[:-1]),       # (10.26) Σ_t dL_da(t) h(t−1)^T
        "V": np.einsum("tkb,thb->kh", dL_do, h[1:]),        # (10.24) Σ_t ∇_{o(t)} L h(t)^T
        "b": dL_da.sum(axis=(0, 2)),                        # (10.23) Σ_t dL_da(t)
        "c": dL_do.sum(axis=(0, 2)),                        # (10.22) Σ_t ∇_{o(t)} L
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
    return c[:, None] + np.einsum("kh,thb->tkb", V, h[1:])      # o(t) = c + V h(t)


def dL_do_10_18(y_hat, y):
    """(10.18) ∇_{o(t)} L for all t at once (∂L/∂L(t) = 1 by 10.17); ŷ (τ, K, B), y (τ, B)."""
    onehot_y = np.zeros_like(y_hat)
    np.put_along_axis(onehot_y, y[:, None, :], 1.0, axis=1)
    return y_hat - onehot_y                     # (10.18 corrected) ∇_{o(t)} L = ŷ(t) − onehot(y(t))


def next_dL_dh_10_21(W, h_next, dL_dh_next):
    """The corrected W-term of (10.21): W^T diag(1−h(t+1)²) ∇_{h(t+1)} L; h(t+1) is (H, B)."""
    return W.T @ ((1 - h_next ** 2) * dL_dh_next)


def _backward_through_time(W, V, h, dL_do, next_dL_dh):
    """∇_{h(t)} L and ∇_{a(t)} L for t = τ..1, given ∇_{o(t)} L for all t.

    ``next_dL_dh(W, h(t+1), ∇_{h(t+1)} L)`` is the contribution of h(t+1) to ∇_{h(t)} L;
    rnn.seed_formulas passes the seed's printed versions of it, for comparison.
    """
    tau = len(dL_do)
    dL_dh = np.empty_like(h[1:])                # row t-1 holds ∇_{h(t)} L
    dL_dh[tau - 1] = V.T @ dL_do[tau - 1]       # (10.19) ∇_{h(τ)} L = V^T ∇_{o(τ)} L
    for t in range(tau - 1, 0, -1):
        # (10.21 corrected) ∇_{h(t)} L = W^T diag(1−h(t+1)²) ∇_{h(t+1)} L + V^T ∇_{o(t)} L
        dL_dh[t - 1] = next_dL_dh(W, h[t + 1], dL_dh[t]) + V.T @ dL_do[t - 1]
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


# -- validation ------------------------------------------------------------------------

SHAPES = "U is H×D, W H×H, V K×H, b (H,), c (K,)"

def _as_float_array(name, value, ndim):
    value = np.asarray(value)
    if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
        raise TypeError(f"{name} must be a real (integer or float) array, got dtype {value.dtype}")
    if value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s) ({SHAPES}), "
                         f"got shape {value.shape}")
    value = value.astype(np.float64)
    if not np.isfinite(value).all():
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return value


def _check_params_and_inputs(U, W, V, b, c, x):
    """Float64 parameters and x made batched ([τ, B] tokens or [τ, B, D] floats).
    Wrong dtype kinds raise TypeError, wrong shapes or values ValueError (as rnn.model)."""
    U, W, V = (_as_float_array(n, p, 2) for n, p in (("U", U), ("W", W), ("V", V)))
    b, c = _as_float_array("b", b, 1), _as_float_array("c", c, 1)
    (H, D), K = U.shape, V.shape[0]
    if 0 in (H, D, K):
        raise ValueError(f"U (H×D) and V (K×H) need H, D, K ≥ 1, got U {U.shape}, V {V.shape}")
    for name, p, shape in (("W", W, (H, H)), ("V", V, (K, H)), ("b", b, (H,)), ("c", c, (K,))):
        if p.shape != shape:
            raise ValueError(f"{name} must have shape {shape} to match U {U.shape} and V "
                             f"{V.shape} ({SHAPES}), got {p.shape}")
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.integer):
        tokens = True
        if x.ndim not in (1, 2):
            raise ValueError(f"token inputs x must have shape [τ] or [τ, B], got {x.shape}")
        if x.size and (x.min() < 0 or x.max() >= D):
            raise ValueError(f"token ids in x must lie in [0, {D}) (D = U.shape[1]), "
                             f"got {x.min()}..{x.max()}")
    elif np.issubdtype(x.dtype, np.floating):
        tokens = False
        if x.ndim not in (2, 3) or x.shape[-1] != D:
            raise ValueError(f"dense inputs x must have shape [τ, {D}] or [τ, B, {D}] "
                             f"(D = U.shape[1]), got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("dense inputs x contain non-finite values (NaN or inf)")
        x = x.astype(np.float64)
    else:
        raise TypeError(f"inputs x must be integer token ids or floats, got dtype {x.dtype}")
    single = x.ndim == (1 if tokens else 2)
    if single:
        x = x[:, None]
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"x needs at least one time step and one sequence, got shape "
                         f"{x.shape[:1] if single else x.shape[:2]}")
    return U, W, V, b, c, x, tokens, single


def _check_h0(h0, H, B, single):
    if h0 is None:
        return np.zeros((H, B))
    expected = (H,) if single else (H, B)
    if np.shape(h0) != expected:
        raise ValueError(f"h0 must have shape {expected} (hidden[, batch]), got {np.shape(h0)}")
    return _as_float_array("h0", h0, len(expected)).reshape(H, B)


def _check_targets(y, tau, B, single, K):
    y = np.asarray(y)
    expected = (tau,) if single else (tau, B)
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"targets y must be integer class ids, got dtype {y.dtype}")
    if y.shape != expected:
        raise ValueError(f"targets y must have shape {expected} to match x, got {y.shape}")
    if y.min() < 0 or y.max() >= K:
        raise ValueError(f"target ids in y must lie in [0, {K}) (K = V.shape[0]), "
                         f"got {y.min()}..{y.max()}")
    return y.reshape(tau, B)
