"""The softmax output head of every recurrent model, forward and backward, in plain numpy.

Shared by the cells' oracles (rnn.oracles.vanilla, lstm, gru): whatever the cell, its
outputs h(1..τ) meet the same head (Deep Learning §10.2, eqs. 10.8-10.9, 10.18, 10.22,
10.24)::

    o(t) = c + V h(t)        ŷ(t) = softmax(o(t))        L = Σ_t -log ŷ(t)[y(t)]
    ∇_{o(t)} L = ŷ(t) − onehot(y(t))     ∇_V L = Σ_t ∇_{o(t)} L h(t)^T     ∇_c L = Σ_t ∇_{o(t)} L

and the head's part of ∇_{h(t)} L is V^T ∇_{o(t)} L. Arrays are batched and time-stacked:
h (τ, H, B) holds h(1..τ), o and ŷ (τ, K, B), y (τ, B) (rnn.oracles.vanilla adds and removes
the batch axis of a single sequence). Never imports minigrad.

>>> import numpy as np
>>> V, c = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.zeros(3)
>>> h, y = np.zeros((2, 2, 1)), np.array([[0], [2]])
>>> loss, y_hat = softmax_loss(outputs(V, c, h), y)
>>> bool(np.isclose(loss, 2 * np.log(3)))             # ŷ(t) uniform over K = 3
True
>>> bool(np.allclose(dL_do(y_hat, y).sum(axis=1), 0))  # Σ_k ∂L/∂o_k(t) = 0
True
"""
from __future__ import annotations

import numpy as np

__all__ = ["outputs", "softmax_loss", "dL_do", "backward"]


def outputs(V, c, h):
    """o(t) = c + V h(t) for h (τ, H, B): (τ, K, B)."""
    return c[:, None] + np.einsum("kh,thb->tkb", V, h)


def softmax_loss(o, y) -> tuple[float, np.ndarray]:
    """L = Σ_t log Σ_k exp(o_k(t)) − o_{y(t)}(t) by a log-sum-exp shifted per step and
    sequence, and ŷ = softmax(o) (τ, K, B)."""
    o_max = o.max(axis=1, keepdims=True)
    log_Z = o_max + np.log(np.exp(o - o_max).sum(axis=1, keepdims=True))
    loss = float((log_Z - np.take_along_axis(o, y[:, None, :], axis=1)).sum())
    return loss, np.exp(o - log_Z)


def dL_do(y_hat, y):
    """(10.18) ∇_{o(t)} L for all t at once (∂L/∂L(t) = 1 by 10.17); ŷ (τ, K, B), y (τ, B)."""
    onehot_y = np.zeros_like(y_hat)
    np.put_along_axis(onehot_y, y[:, None, :], 1.0, axis=1)
    return y_hat - onehot_y                     # (10.18 corrected) ∇_{o(t)} L = ŷ(t) − onehot(y(t))


def backward(V, h, dL_do) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The head's gradients {"V", "c"} and its part of ∇_{h(t)} L, V^T ∇_{o(t)} L (τ, H, B),
    for h (τ, H, B) holding h(1..τ) and ∇_{o(t)} L (τ, K, B)."""
    grads = {"V": np.einsum("tkb,thb->kh", dL_do, h),      # (10.24) Σ_t ∇_{o(t)} L h(t)^T
             "c": dL_do.sum(axis=(0, 2))}                  # (10.22) Σ_t ∇_{o(t)} L
    return grads, np.einsum("kh,tkb->thb", V, dL_do)       # (10.19/10.21) V^T ∇_{o(t)} L
