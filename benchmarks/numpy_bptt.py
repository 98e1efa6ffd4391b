"""The benchmark's baseline: one RNN training step (loss and ∂L/∂U, W, V, b, c)
by hand-written back-propagation through time, written for speed.

Same model and layout as :mod:`rnn.model` (token inputs, ``h(t)`` a column per
sequence), but everything that does not depend on the recurrence is done for
all steps at once: the ``U x(t)`` gather, the outputs ``o = V h + c``, the
softmax, ``∂L/∂o``, ``∂L/∂h`` from the outputs, and the weight gradients as
single matrix products. Only ``h(t) = tanh(W h(t-1) + …)`` forward and
``∂L/∂a(t)`` backward loop over time, on preallocated rows. Internally the
batch is the leading axis (rows), so each per-step product is one BLAS call.

The clear, equation-by-equation oracle is :mod:`rnn.oracles.vanilla`; this one is only
meant to be fast.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> U, W, V = rng.normal(size=(3, 5)), rng.normal(size=(3, 3)), rng.normal(size=(5, 3))
>>> loss, grads = step(U, W, V, np.zeros(3), np.zeros(5), np.array([0, 4, 1]), np.array([4, 1, 2]))
>>> sorted(grads), grads["U"].shape
(['U', 'V', 'W', 'b', 'c'], (3, 5))
"""
from __future__ import annotations

import numpy as np

__all__ = ["step"]


def step(U, W, V, b, c, x, y):
    """Loss L = Σ_t −log softmax(o(t))[y(t)] and its gradients for token inputs
    ``x`` and targets ``y`` ([τ] or [τ, B]) from h(0) = 0."""
    single = x.ndim == 1
    x2, y2 = (x[:, None], y[:, None]) if single else (x, y)
    tau, B = x2.shape
    H = W.shape[0]
    WT = W.T

    # forward: h[t] (rows = sequences) for t = 0..τ
    h = np.empty((tau + 1, B, H))
    h[0] = 0.0
    a = np.take(np.ascontiguousarray(U.T), x2, axis=0)  # (τ, B, H): U x(t) gathers columns of U
    a += b
    for t in range(tau):
        np.matmul(h[t], WT, out=h[t + 1])
        h[t + 1] += a[t]
        np.tanh(h[t + 1], out=h[t + 1])
    hs = h[1:].reshape(tau * B, H)
    o = hs @ V.T                        # (τB, K)
    o += c
    o -= o.max(axis=1, keepdims=True)
    rows, targets = np.arange(tau * B), y2.reshape(-1)
    picked = o[rows, targets]           # o_y(t) − max_k o_k(t)
    np.exp(o, out=o)
    Z = o.sum(axis=1, keepdims=True)
    o /= Z                              # o is now ŷ
    loss = float(np.log(Z).sum() - picked.sum())
    dO = o
    dO[rows, targets] -= 1.0            # ∂L/∂o = ŷ − onehot(y)

    # backward through time: da[t] = (1 − h²) (∂L/∂h from o(t) + W^T da[t+1])
    da = (dO @ V).reshape(tau, B, H)
    one_minus_h2 = 1.0 - h[1:] * h[1:]
    da[tau - 1] *= one_minus_h2[tau - 1]
    for t in range(tau - 1, 0, -1):
        da[t - 1] += da[t] @ W
        da[t - 1] *= one_minus_h2[t - 1]
    da2 = da.reshape(tau * B, H)
    D = U.shape[1]                      # ∂L/∂U[:, j] = Σ of da over the steps whose token is j
    cells = (np.arange(H)[:, None] * D + x2.reshape(1, -1)).reshape(-1)
    grads = {
        "U": np.bincount(cells, da2.T.reshape(-1), minlength=H * D).reshape(H, D),
        "W": da2.T @ h[:-1].reshape(tau * B, H),
        "V": dO.T @ hs,
        "b": da2.sum(axis=0),
        "c": dO.sum(axis=0),
    }
    return loss, grads
