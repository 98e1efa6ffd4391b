"""Vanishing and exploding gradients in the vanilla RNN, measured on minigrad graphs.

A gradient that reaches h(t) from a loss at step τ has passed back through the
per-step Jacobians ∂h(s)/∂h(s-1) = diag(1 − h(s)²) W for s = τ, ..., t+1::

    ∂L(τ)/∂h(t) = Jᵀ(t+1) ⋯ Jᵀ(τ) ∂L(τ)/∂h(τ),    J(s) = ∂h(s)/∂h(s-1).

Without the tanh (a *linear* RNN) that product is (Wᵀ)^(τ-t), and with
W = P diag(λ) P⁻¹ it is governed by λ^(τ-t): eigenvalue moduli below 1 make
the gradient vanish, above 1 explode. For W = s·Q with Q orthogonal every
‖(Wᵀ)^k v‖ equals s^k ‖v‖ exactly; tanh only shrinks (0 < 1 − h² ≤ 1), so
with s < 1 the linear rate is an upper bound (Pascanu, Mikolov & Bengio 2013).

This module reads those quantities off one unrolled graph after ``backward()``,
builds controlled W, and runs the experiments of ``examples/05_vanishing_gradients.py``:

>>> import numpy as np
>>> from rnn import RNN
>>> model = RNN(3, 4, 3, seed=0)
>>> model.set_params(W=scaled_orthogonal(4, 0.5, seed=1))
>>> norms = last_step_profile(model, np.array([0, 1, 2, 0]), np.array([0, 1, 2, 0]), activation=linear)
>>> np.round(norms / norms[0], 6)          # ‖∂L(τ)/∂h(τ-k)‖ / ‖∂L(τ)/∂h(τ)‖ = 0.5^k
array([1.    , 0.5   , 0.25  , 0.125 , 0.0625])
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

import minigrad as mg
from minigrad import Tensor
from rnn.model import RNN, Unrolled
from rnn.optim import Adam, clip_grad_norm, global_norm

__all__ = ["linear", "ACTIVATIONS", "grad_norms", "last_step_profile", "step_jacobians",
           "jacobian_products", "Eigen", "eigen", "orthogonal", "scaled_orthogonal", "with_spectrum",
           "distance_profiles", "ClippingRun", "clipping_run", "memory_task", "train_memory",
           "memory_sweep", "last_step_loss", "SUCCESS"]


# -- reading gradients off an unrolled graph ------------------------------------

def linear(a: Tensor) -> Tensor:
    """The identity activation h(t) = a(t), recorded as its own node (a
    shape-preserving reshape) so that h(t) and a(t) stay distinct in the graph."""
    return mg.reshape(a, shape=a.shape)


ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"tanh": mg.tanh, "linear": linear}


def grad_norms(graph: Unrolled) -> np.ndarray:
    """``‖∂/∂h(t)‖`` of the last backward pass, for t = 0..τ (index t); NaN where
    h(t) received no gradient (a constant h(0)). Over a batch the norm is taken
    over all sequences together."""
    return np.array([np.nan if h.grad is None else _norm(h.grad) for h in graph.h])


def _norm(g: np.ndarray) -> float:
    """‖g‖₂ without squaring tiny entries into the subnormal range (below
    ~1e-154 squares lose precision, and vanishing gradients get that small)."""
    m = np.abs(g).max(initial=0.0)
    return float(m * np.linalg.norm(g / m)) if m > 0 else 0.0


def last_step_profile(model: RNN, x, y, h0=None, *, activation=mg.tanh) -> np.ndarray:
    """``‖∂L(τ)/∂h(τ−k)‖`` for k = 0..τ (index k is the distance back in time).

    The graph is unrolled with all targets but back-propagated from its node
    ``L(τ)`` only, so the gradients are those of the last step's loss alone
    (the other L(t) are not on any path from L(τ)). ``h0`` defaults to zeros,
    passed as an array so that h(0) is a differentiable leaf and k = τ exists.
    The model's parameter gradients are reset first, so afterwards they hold
    ∂L(τ)/∂θ.
    """
    h0 = np.zeros(model.hidden_size if np.ndim(y) == 1 else (model.hidden_size, np.shape(y)[1])) \
        if h0 is None else h0
    graph = model.unroll(x, y, h0, activation=activation)
    mg.zero_grad(model.parameters().values())
    graph.L[graph.tau].backward()
    return grad_norms(graph)[::-1]


def step_jacobians(graph: Unrolled, W: np.ndarray) -> list[np.ndarray | None]:
    """``J[t] = ∂h(t)/∂h(t−1)`` for t = 1..τ of a single-sequence graph (``J[0]``
    is None): ``diag(1 − h(t)²) W`` for tanh nodes, ``W`` for :func:`linear` ones."""
    if graph.batch is not None:
        raise ValueError("step_jacobians takes a single-sequence graph (h(t) of shape (H,))")
    J = [None]
    for h in graph.h[1:]:
        if h.op == "tanh":
            J.append((1.0 - h.data ** 2)[:, None] * W)
        elif h.op == "reshape":
            J.append(np.array(W, dtype=float))
        else:
            raise ValueError(f"no Jacobian rule for activation op {h.op!r} at {h.name}")
    return J


def jacobian_products(J: list[np.ndarray | None]) -> list[np.ndarray]:
    """``M[k] = ∂h(τ)/∂h(τ−k) = J(τ) J(τ−1) ⋯ J(τ−k+1)`` for k = 0..τ (``M[0] = I``).

    Then ``∂L(τ)/∂h(τ−k) = M[k]ᵀ ∂L(τ)/∂h(τ)``, and the singular values of M[k]
    (``np.linalg.svd(M[k], compute_uv=False)``) bound how much it can grow or shrink.
    """
    tau, H = len(J) - 1, J[-1].shape[0]
    M = [np.eye(H)]
    for t in range(tau, 0, -1):
        M.append(M[-1] @ J[t])
    return M


# -- the eigen-analysis of W ------------------------------------------------------

@dataclass(frozen=True)
class Eigen:
    """``W = P diag(λ) P⁻¹`` (λ and P complex in general).

    >>> e = eigen(np.array([[0.0, -2.0], [2.0, 0.0]]))   # a rotation by 90°, scaled by 2
    >>> e.eigenvalues, round(e.spectral_radius, 12), round(e.sigma_max, 12)
    (array([0.+2.j, 0.-2.j]), 2.0, 2.0)
    >>> np.allclose(e.power(3), np.linalg.matrix_power(e.W, 3))
    True
    """

    W: np.ndarray
    eigenvalues: np.ndarray
    P: np.ndarray
    P_inv: np.ndarray

    @property
    def spectral_radius(self) -> float:
        """max |λ|: the growth rate of W^k as k → ∞."""
        return float(np.abs(self.eigenvalues).max())

    @property
    def sigma_max(self) -> float:
        """The largest singular value ‖W‖₂ ≥ spectral radius (equal for normal W)."""
        return float(np.linalg.norm(self.W, 2))

    @property
    def condition(self) -> float:
        """κ(P) = ‖P‖₂‖P⁻¹‖₂: 1 for normal W, large when W is nearly defective."""
        return float(np.linalg.cond(self.P))

    def power(self, k: int) -> np.ndarray:
        """``P diag(λ)^k P⁻¹`` (complex; its imaginary part is round-off for real W)."""
        return (self.P * self.eigenvalues ** k) @ self.P_inv


def eigen(W) -> Eigen:
    """The eigendecomposition of a square matrix ``W``."""
    W = np.asarray(W, dtype=float)
    eigenvalues, P = np.linalg.eig(W)
    return Eigen(W, eigenvalues, P, np.linalg.inv(P))


# -- controlled recurrent matrices ------------------------------------------------

def orthogonal(H: int, seed: int = 0) -> np.ndarray:
    """A random H×H orthogonal matrix (uniform over the orthogonal group)."""
    Q, R = np.linalg.qr(np.random.default_rng(seed).normal(size=(H, H)))
    return Q * np.sign(np.diag(R))


def scaled_orthogonal(H: int, s: float, seed: int = 0) -> np.ndarray:
    """``W = s·Q`` with Q orthogonal: every eigenvalue and singular value has modulus s.

    >>> W = scaled_orthogonal(5, 0.9, seed=3)
    >>> np.allclose(np.abs(np.linalg.eigvals(W)), 0.9), np.allclose(W @ W.T, 0.81 * np.eye(5))
    (True, True)
    """
    return s * orthogonal(H, seed)


def with_spectrum(eigenvalues, seed: int = 0, *, normal: bool = True) -> np.ndarray:
    """A real matrix with exactly the given ``eigenvalues`` (complex ones in
    conjugate pairs): the block-diagonal real form B (a 2×2 block
    ``[[a, −b], [b, a]]`` per pair a ± bi) conjugated by a random matrix,
    orthogonal when ``normal`` (then singular values = |λ|), Gaussian otherwise.

    >>> W = with_spectrum([0.5, 1.2j, -1.2j], seed=0)
    >>> [complex(z) for z in np.round(np.sort_complex(np.linalg.eigvals(W)), 10)]
    [-1.2j, 1.2j, (0.5+0j)]
    """
    eigenvalues = np.asarray(eigenvalues, dtype=complex)
    real = eigenvalues[eigenvalues.imag == 0].real
    upper = eigenvalues[eigenvalues.imag > 0]
    if not np.array_equal(np.sort_complex(eigenvalues), np.sort_complex(eigenvalues.conj())):
        raise ValueError(f"complex eigenvalues of a real matrix come in conjugate pairs, got {eigenvalues}")
    H = len(eigenvalues)
    B = np.zeros((H, H))
    B[range(len(real)), range(len(real))] = real
    for i, z in enumerate(upper):
        j = len(real) + 2 * i
        B[j:j + 2, j:j + 2] = [[z.real, -z.imag], [z.imag, z.real]]
    if normal:
        Q = orthogonal(H, seed)
        return Q @ B @ Q.T
    P = np.random.default_rng(seed).normal(size=(H, H))
    return P @ B @ np.linalg.inv(P)


# -- experiments --------------------------------------------------------------------

def distance_profiles(scales, *, H: int = 16, tau: int = 40, activation: str = "linear",
                      seed: int = 0) -> dict[float, np.ndarray]:
    """For each s: ``‖∂L(τ)/∂h(τ−k)‖ / ‖∂L(τ)/∂h(τ)‖`` for k = 0..τ with W = s·Q
    (one fixed Q), on one random token sequence. Linear: exactly s^k; tanh: at most s^k when s < 1.

    A linear RNN's forward pass grows like s^t too, and a saturated softmax
    (ŷ(τ) one-hot at y(τ)) sends back a zero gradient; as the linear backward
    factors do not depend on h, U is divided by max(1, s)^τ there to keep h(τ)
    of order 1.

    >>> p = distance_profiles([0.9, 1.1], H=4, tau=5)
    >>> np.allclose(p[0.9], 0.9 ** np.arange(6)), np.allclose(p[1.1], 1.1 ** np.arange(6))
    (True, True)
    """
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 4, tau), rng.integers(0, 4, tau)
    model = RNN(4, H, 4, seed=seed)
    profiles = {}
    U = model.U.data
    for s in scales:
        model.set_params(W=scaled_orthogonal(H, s, seed),
                         U=U / max(1.0, s) ** tau if activation == "linear" else U)
        norms = last_step_profile(model, x, y, activation=ACTIVATIONS[activation])
        profiles[s] = norms / norms[0]
    return profiles


@dataclass
class ClippingRun:
    """Per SGD step: the loss before the step, the gradient norm, the update norm."""
    loss: list[float]
    grad_norm: list[float]
    update_norm: list[float]


def clipping_run(max_norm: float | None, *, s: float = 1.2, H: int = 16, tau: int = 30,
                 steps: int = 40, lr: float = 0.1, seed: int = 0) -> ClippingRun:
    """Plain SGD on a fixed batch of random sequences with a linear RNN started
    at W = s·Q, s > 1, so ∂L/∂W grows like s^τ; gradients clipped to
    ``max_norm`` (None: not clipped). Stops early once the loss is not finite.

    >>> plain, clipped = clipping_run(None, steps=5), clipping_run(1.0, steps=5)
    >>> len(plain.loss), plain.loss[-1], clipped.loss[-1] < clipped.loss[0]
    (3, nan, True)
    """
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 4, (tau, 8)), rng.integers(0, 4, (tau, 8))
    model = RNN(4, H, 4, seed=seed)
    model.set_params(W=scaled_orthogonal(H, s, seed))
    params = model.parameters()
    run = ClippingRun([], [], [])
    with np.errstate(over="ignore", invalid="ignore"):   # the unclipped run is meant to blow up
        for _ in range(steps):
            graph = model.unroll(x, y, activation=linear)
            run.loss.append(graph.loss.item() / y.size)
            if not np.isfinite(run.loss[-1]):
                break
            mg.zero_grad(params.values())
            graph.loss.backward(keep_intermediate_grads=False)
            grads = {name: p.grad / y.size for name, p in params.items()}
            update, norm = clip_grad_norm(grads, max_norm) if max_norm is not None else (grads, global_norm(grads))
            run.grad_norm.append(norm)
            run.update_norm.append(lr * global_norm(update))
            for name, p in params.items():
                p.data = p.data - lr * update[name]
    return run


# -- the long-memory task -----------------------------------------------------------

def memory_task(d: int, n: int, *, symbols: int = 2, distractors: int = 4,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences of length d+1 (columns of x, shape [d+1, n]): token
    ``x[0]`` is one of ``symbols`` symbols 0..symbols−1, then d tokens drawn
    uniformly from ``distractors`` other symbols. The target ``y`` (shape [n])
    is the first symbol, to be output at the last step.

    >>> x, y = memory_task(3, 2, rng=np.random.default_rng(0))
    >>> x.shape, bool((x[1:] >= 2).all()), bool((y == x[0]).all())
    ((4, 2), True, True)
    """
    x = rng.integers(symbols, symbols + distractors, (d + 1, n))
    x[0] = rng.integers(0, symbols, n)
    return x, x[0].copy()


def last_step_loss(model: RNN, x, y, h0=None) -> tuple[Unrolled, Tensor]:
    """The unrolled graph (no per-step targets) and the mean cross-entropy of
    o(τ) against ``y``: the loss sits only at the last step."""
    graph = model.unroll(x, h0=h0)
    return graph, mg.cross_entropy(graph.o[graph.tau], y, reduction="mean", axis=0)


def train_memory(d: int, seed: int, *, hidden: int = 16, steps: int = 400, batch: int = 32,
                 lr: float = 0.01, symbols: int = 2, distractors: int = 4,
                 test_size: int = 1000) -> tuple[float, RNN]:
    """Train a fresh vanilla RNN (Adam, gradient norm clipped at 1) for ``steps``
    batches of the memory task with gap d; return its accuracy on ``test_size``
    new sequences (chance is 1/symbols) and the trained model."""
    rng = np.random.default_rng(seed)
    model = RNN(symbols + distractors, hidden, symbols, seed=seed)
    params = model.parameters()
    optimizer = Adam(params, lr=lr)
    for _ in range(steps):
        _, loss = last_step_loss(model, *memory_task(d, batch, symbols=symbols,
                                                     distractors=distractors, rng=rng))
        mg.zero_grad(params.values())
        loss.backward(keep_intermediate_grads=False)
        optimizer.step(clip_grad_norm({name: p.grad for name, p in params.items()}, 1.0)[0])
    x, y = memory_task(d, test_size, symbols=symbols, distractors=distractors, rng=rng)
    with mg.no_grad():
        graph = model.unroll(x)
    return float((graph.o[graph.tau].data.argmax(axis=0) == y).mean()), model


SUCCESS = 0.99   # a memory-task run succeeds when its held-out accuracy reaches this


def memory_sweep(gaps, seeds, *, map=map, **train) -> dict[int, np.ndarray]:
    """``{d: held-out accuracies, one per seed}`` of :func:`train_memory`; the
    success rate at gap d is ``(accuracies >= SUCCESS).mean()``. Pass a process
    pool's ``map`` to train the seeds in parallel."""
    return {d: np.array([accuracy for accuracy, _ in map(partial(train_memory, d, **train), seeds)])
            for d in gaps}
