"""Hessian- and Gauss-Newton-vector products of the vanilla RNN's loss, in plain numpy.

The second-order counterpart of :mod:`rnn.oracles.vanilla`, and like it an oracle that never
imports minigrad. The model (rnn.oracles.vanilla's, Deep Learning §10.2), for t = 1..τ::

    a(t) = b + W h(t-1) + U x(t)        h(t) = tanh(a(t))
    o(t) = c + V h(t)                   ŷ(t) = softmax(o(t))
    L = Σ_t -log ŷ(t)[y(t)]   with first-order gradients (rnn.oracles.vanilla, 10.18-10.28)
    ∇_{o(t)} L = ŷ(t) - e_{y(t)}        ∇_{h(t)} L = W^T ∇_{a(t+1)} L + V^T ∇_{o(t)} L
    ∇_{a(t)} L = (1-h(t)²) ⊙ ∇_{h(t)} L  (∇_{a(τ+1)} L = 0)

Pearlmutter's R-operator (Pearlmutter 1994, "Fast exact multiplication by the
Hessian") is R{f} = d/dε f(θ + εv) at ε = 0 for a direction v = (v_U, v_W, v_V,
v_b, v_c, v_h0): R{θ} = v_θ, R{x} = R{y} = 0, and R obeys the product and chain
rules. Applied to every line of the forward pass it gives the forward R-pass, a
forward-mode derivative (R{h(0)} = v_h0)::

    (F1) R{a(t)} = v_b + v_W h(t-1) + W R{h(t-1)} + v_U x(t)
    (F2) R{h(t)} = (1-h(t)²) ⊙ R{a(t)}                    (tanh' = 1 - tanh²)
    (F3) R{o(t)} = v_c + v_V h(t) + V R{h(t)}

and applied to every line of BPTT, the backward R-pass (tanh'' = -2 tanh (1 - tanh²))::

    (B1) R{∇_{o(t)} L} = R{ŷ(t)} = (diag ŷ(t) - ŷ(t) ŷ(t)^T) R{o(t)}
    (B2) R{∇_{h(t)} L} = W^T R{∇_{a(t+1)} L} + v_W^T ∇_{a(t+1)} L
                         + V^T R{∇_{o(t)} L} + v_V^T ∇_{o(t)} L
    (B3) R{∇_{a(t)} L} = (1-h(t)²) ⊙ R{∇_{h(t)} L} - 2 h(t) ⊙ R{h(t)} ⊙ ∇_{h(t)} L

Since ∇_θ L is a function of θ, R{∇_θ L} = H v, the Hessian of L times v. R of the
gradient sums 10.22-10.28 gives its blocks (x(t) is data, so R{x(t)} = 0)::

    (P1) (H v)_U = Σ_t R{∇_{a(t)} L} x(t)^T
    (P2) (H v)_W = Σ_t R{∇_{a(t)} L} h(t-1)^T + ∇_{a(t)} L R{h(t-1)}^T
    (P3) (H v)_V = Σ_t R{∇_{o(t)} L} h(t)^T + ∇_{o(t)} L R{h(t)}^T
    (P4) (H v)_b = Σ_t R{∇_{a(t)} L}        (P5) (H v)_c = Σ_t R{∇_{o(t)} L}
    (P6) (H v)_h0 = W^T R{∇_{a(1)} L} + v_W^T ∇_{a(1)} L

summed over the sequences of a batch as well. One H v costs a forward pass, BPTT,
and the two R-passes: a small constant times one gradient, never the P×P Hessian.

The Gauss-Newton matrix (Martens & Sutskever 2011, "Learning recurrent neural
networks with Hessian-free optimization") keeps only the curvature of the loss
in the outputs: with J = ∂(o(1), ..., o(τ))/∂θ and the softmax/cross-entropy
Hessian H_L(t) = diag ŷ(t) - ŷ(t) ŷ(t)^T, G = J^T blockdiag_t(H_L(t)) J. So
G v = J^T δ with δ(t) = H_L(t) R{o(t)} (J v is the forward R-pass, (F1)-(F3);
δ(t) is (B1)), and J^T δ is BPTT with δ(t) in place of ∇_{o(t)} L. G is symmetric
positive semidefinite (v^T G v = Σ_t R{o(t)}^T H_L(t) R{o(t)} ≥ 0 as each H_L(t)
is a covariance matrix). H = G + Σ_t Σ_k (∇_{o(t)} L)_k ∇²o_k(t): the two agree
wherever o is linear in the directions used (for example v and u in (V, c) only:
u^T H v = u^T G v).

h(0) is always a variable, as in rnn.oracles.vanilla (whose grads include "h0"): the
direction may have an "h0" entry (zero when left out), and the product always
has one, the h(0) row of the Hessian over (U, W, V, b, c, h(0)) times v. Leaving
"h0" out of v and ignoring it in the product treats h(0) as a constant.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rnn import inputs
from rnn.oracles.vanilla import (_check_params_and_inputs, _input_weight_gradient, _outputs,
                                 _unbatch, bptt, bptt_with_rules, next_dL_dh_10_21)

__all__ = ["SecondOrderResult", "hvp", "gnvp", "DIRECTION_NAMES"]

DIRECTION_NAMES = ("U", "W", "V", "b", "c", "h0")


@dataclass(frozen=True)
class SecondOrderResult:
    """Loss, gradients and one curvature-vector product of the vanilla RNN.

    ``loss`` and ``grads`` are :func:`rnn.oracles.vanilla.bptt`'s. ``product`` maps "U", "W",
    "V", "b", "c", "h0" to the block of H v (:func:`hvp`) or G v (:func:`gnvp`), each
    with the shape of what it is named after. Time-stacked arrays put step t in row
    t-1, as in rnn.oracles.vanilla: ``R_h`` (τ+1, H[, B]) holds R{h(t)} from R{h(0)} = v_h0,
    ``R_o`` (τ, K[, B]) R{o(t)}, ``R_dL_do`` (τ, K[, B]) H_L(t) R{o(t)} = R{∇_{o(t)} L},
    and ``R_dL_dh`` (τ, H[, B]): for hvp R{∇_{h(t)} L}, for gnvp the pull-back of
    ``R_dL_do`` to h(t) (the BPTT recursion run on it).
    """
    loss: float
    grads: dict[str, np.ndarray]
    product: dict[str, np.ndarray]
    R_h: np.ndarray
    R_o: np.ndarray
    R_dL_do: np.ndarray
    R_dL_dh: np.ndarray


def hvp(U, W, V, b, c, x, y, v, h0=None) -> SecondOrderResult:
    """H v, the Hessian of the loss times the direction v, by Pearlmutter's R-operator.

    Arguments as :func:`rnn.oracles.vanilla.bptt`; ``v`` is a dict with an array for each of
    "U", "W", "V", "b", "c" shaped like the parameter, and optionally "h0" shaped
    like h(0) ((H,) or (H, B)). The module docstring derives every line.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> H, D, K = 3, 4, 2
    >>> U, W, V = rng.normal(size=(H, D)), rng.normal(size=(H, H)), rng.normal(size=(K, H))
    >>> b, c, x, y = np.zeros(H), np.zeros(K), np.array([0, 3, 1]), np.array([1, 0, 1])
    >>> v = {name: rng.normal(size=p.shape) for name, p in dict(U=U, W=W, V=V, b=b, c=c).items()}
    >>> result = hvp(U, W, V, b, c, x, y, v)
    >>> result.product["W"].shape, result.R_h.shape
    ((3, 3), (4, 3))
    >>> u = {name: rng.normal(size=a.shape) for name, a in v.items()}
    >>> uHv = sum((u[n] * result.product[n]).sum() for n in u)
    >>> vHu = sum((v[n] * hvp(U, W, V, b, c, x, y, u).product[n]).sum() for n in v)
    >>> bool(np.isclose(uHv, vHu, rtol=1e-12))   # the Hessian is symmetric
    True
    """
    s = _first_order_and_forward_R(U, W, V, b, c, x, y, v, h0)
    W, V, v, h = s.W, s.V, s.v, s.h
    dL_do, dL_dh, R_h, R_dL_do = s.dL_do, s.dL_dh, s.R_h, s.R_dL_do
    dL_da = (1 - h[1:] ** 2) * dL_dh                 # ∇_{a(t)} L = (1−h(t)²) ⊙ ∇_{h(t)} L
    # (B2), the output terms: R{V^T ∇_{o(t)} L} = V^T R{∇_{o(t)} L} + v_V^T ∇_{o(t)} L
    R_dL_dh = (np.einsum("kh,tkb->thb", V, R_dL_do)
               + np.einsum("kh,tkb->thb", v["V"], dL_do))
    R_dL_da = np.empty_like(R_dL_dh)
    for t in range(len(R_dL_dh), 0, -1):
        if t < len(R_dL_dh):  # (B2), recurrent terms: W^T R{∇_{a(t+1)} L} + v_W^T ∇_{a(t+1)} L
            R_dL_dh[t - 1] += W.T @ R_dL_da[t] + v["W"].T @ dL_da[t]
        # (B3) R{∇_a(t) L} = (1−h(t)²) ⊙ R{∇_h(t) L} − 2 h(t) ⊙ R{h(t)} ⊙ ∇_h(t) L
        R_dL_da[t - 1] = (1 - h[t] ** 2) * R_dL_dh[t - 1] - 2 * h[t] * R_h[t] * dL_dh[t - 1]
    product = {
        "U": _input_weight_gradient(s.U, s.x, s.tokens, R_dL_da),  # (P1) Σ_t R{∇_a L} x(t)^T
        "W": np.einsum("thb,tjb->hj", R_dL_da, h[:-1])   # (P2) Σ_t R{∇_a L} h(t−1)^T
             + np.einsum("thb,tjb->hj", dL_da, R_h[:-1]),  #      + ∇_a L R{h(t−1)}^T
        "V": np.einsum("tkb,thb->kh", R_dL_do, h[1:])    # (P3) Σ_t R{∇_o L} h(t)^T
             + np.einsum("tkb,thb->kh", dL_do, R_h[1:]),   #      + ∇_o L R{h(t)}^T
        "b": R_dL_da.sum(axis=(0, 2)),                    # (P4) Σ_t R{∇_{a(t)} L}
        "c": R_dL_do.sum(axis=(0, 2)),                    # (P5) Σ_t R{∇_{o(t)} L}
        "h0": _unbatch(W.T @ R_dL_da[0] + v["W"].T @ dL_da[0], s.single),  # (P6)
    }
    return s.result(product, _unbatch(R_dL_dh, s.single))


def gnvp(U, W, V, b, c, x, y, v, h0=None) -> SecondOrderResult:
    """G v, the Gauss-Newton matrix J^T H_L J of the loss times the direction v.

    Arguments and result as :func:`hvp`. J v is the forward R-pass (F1)-(F3),
    H_L(t) J v is (B1), and J^T of that is rnn.oracles.vanilla's BPTT run with H_L(t) R{o(t)} in
    place of ∇_{o(t)} L (Martens & Sutskever 2011).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> U, W, V = rng.normal(size=(3, 4)), rng.normal(size=(3, 3)), rng.normal(size=(2, 3))
    >>> b, c, x, y = np.zeros(3), np.zeros(2), np.array([0, 3, 1]), np.array([1, 0, 1])
    >>> v = {name: rng.normal(size=p.shape) for name, p in dict(U=U, W=W, V=V, b=b, c=c).items()}
    >>> Gv = gnvp(U, W, V, b, c, x, y, v).product
    >>> bool(sum((v[n] * Gv[n]).sum() for n in v) >= 0)   # G is positive semidefinite
    True
    """
    s = _first_order_and_forward_R(U, W, V, b, c, x, y, v, h0)
    pullback = bptt_with_rules(U, W, V, b, c, x, y, h0,                # J^T (H_L J v)
                               lambda y_hat, y: s.R_dL_do, next_dL_dh_10_21)
    return s.result(pullback.grads, pullback.dL_dh)


@dataclass(frozen=True)
class _State:
    """Validated batched parameters and direction, the forward and BPTT stacks
    (batched: (τ+1, H, B), (τ, K, B), ...), and the forward R-pass."""
    U: np.ndarray
    W: np.ndarray
    V: np.ndarray
    x: np.ndarray
    tokens: bool
    single: bool
    v: dict[str, np.ndarray]
    loss: float
    grads: dict[str, np.ndarray]
    h: np.ndarray
    dL_do: np.ndarray
    dL_dh: np.ndarray
    R_h: np.ndarray
    R_o: np.ndarray
    R_dL_do: np.ndarray

    def result(self, product, R_dL_dh) -> SecondOrderResult:
        """The result with these product blocks and R_dL_dh (both already unbatched)."""
        stacks = (_unbatch(s, self.single) for s in (self.R_h, self.R_o, self.R_dL_do))
        return SecondOrderResult(self.loss, self.grads, product, *stacks, R_dL_dh)


def _first_order_and_forward_R(U, W, V, b, c, x, y, v, h0) -> _State:
    first = bptt(U, W, V, b, c, x, y, h0)       # validates x, y, h0 and the parameters
    U, W, V, b, c, x, tokens, single = _check_params_and_inputs(U, W, V, b, c, x)
    batched = (lambda s: s[..., None]) if single else (lambda s: s)
    h, y_hat, dL_do, dL_dh = (batched(s) for s in (first.h, first.y_hat, first.dL_do, first.dL_dh))
    v = _check_direction(v, dict(U=U, W=W, V=V, b=b, c=c, h0=h[0]), single)

    vU_x = (v["U"][:, x].transpose(1, 0, 2) if tokens
            else np.einsum("hd,tbd->thb", v["U"], x))           # v_U x(t), x(t) one-hot or dense
    R_h = np.empty_like(h)
    R_h[0] = v["h0"]                                            # R{h(0)} = v_h0
    for t in range(1, len(h)):
        R_a = v["b"][:, None] + v["W"] @ h[t - 1] + W @ R_h[t - 1] + vU_x[t - 1]   # (F1)
        R_h[t] = (1 - h[t] ** 2) * R_a                                            # (F2)
    R_o = _outputs(v["V"], v["c"], h) + np.einsum("kh,thb->tkb", V, R_h[1:])      # (F3)
    # (B1) R{∇_{o(t)} L} = (diag ŷ − ŷ ŷ^T) R{o(t)} = ŷ ⊙ (R{o(t)} − ŷ^T R{o(t)})
    R_dL_do = y_hat * (R_o - (y_hat * R_o).sum(axis=1, keepdims=True))
    return _State(U, W, V, x, tokens, single, v, first.loss, first.grads, h, dL_do, dL_dh,
                  R_h, R_o, R_dL_do)


def _check_direction(v, like, single):
    """v as float64 arrays shaped like ``like`` (batched; h0 (H, B)); "h0" zeros if absent."""
    if not isinstance(v, Mapping):
        raise TypeError(f"the direction v must be a dict of arrays by name (U, W, V, b, c "
                        f"and optionally h0), got {type(v).__name__}")
    missing = [n for n in DIRECTION_NAMES[:5] if n not in v]
    unknown = sorted(set(v) - set(DIRECTION_NAMES), key=repr)
    if missing or unknown:
        raise ValueError(f"the direction v needs exactly U, W, V, b, c (and optionally h0): "
                         f"missing {missing}, unknown {unknown}")
    checked = {}
    for name, target in like.items():
        shape = target.shape[:1] if name == "h0" and single else target.shape
        if name not in v:
            checked[name] = np.zeros_like(target)               # only h0 may be left out
            continue
        if np.shape(v[name]) != shape:
            raise ValueError(f"v[{name!r}] must have the shape of {name}, {shape}, "
                             f"got {np.shape(v[name])}")
        checked[name] = inputs.real_array(f"v[{name!r}]", v[name]).reshape(target.shape)
    return checked
