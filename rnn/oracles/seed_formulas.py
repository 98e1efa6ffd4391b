"""The source chapter's back-propagation formulas *as printed*, for comparison only.

"Seed" in this module's name and functions (``seed_bptt``, ``SEED_ERRORS``) means the seed
text of this project, Deep Learning §10.2 as quoted to it, never a random seed.

Never use these to train anything: they are here so that tests and docs can show,
with numbers, that the text is wrong where rnn.oracles.vanilla (the corrected oracle) is right.
Each function evaluates one printed formula under the only reading that makes it
computable; docs/seed_errata.md explains every error. Equation numbers are the
book's (Deep Learning §10.2.2). Shapes follow rnn.oracles.vanilla: time-stacked arrays put step
t in row t-1, and a batch adds a trailing axis.

>>> import numpy as np
>>> from rnn.oracles.vanilla import bptt
>>> rng = np.random.default_rng(0)
>>> U, W, V = rng.normal(size=(3, 4)), rng.normal(size=(3, 3)), rng.normal(size=(2, 3))
>>> args = (U, W, V, np.zeros(3), np.zeros(2), np.array([0, 3, 1]), np.array([1, 0, 1]))
>>> right, printed = bptt(*args).grads["W"], seed_bptt(*args, errors=("10.21",)).grads["W"]
>>> bool(np.allclose(right, printed))
False
"""
from __future__ import annotations

import numpy as np

from rnn.oracles.vanilla import BPTTResult, bptt_with_rules, dL_do_10_18, next_dL_dh_10_21

__all__ = ["seed_dL_do", "seed_next_dL_dh_10_20", "seed_next_dL_dh_10_21", "seed_bptt",
           "SEED_ERRORS"]


def seed_dL_do(y_hat, y):
    """(10.18) as printed: (∇_{o(t)} L)_i = ŷ_i(t) − y(t).

    y(t) is the integer class id, so the printed formula subtracts that integer from
    every component. Right: ŷ_i(t) − 1[i = y(t)]. ``y_hat`` (τ, K[, B]), ``y`` (τ[, B]).
    """
    y_hat, y = np.asarray(y_hat, dtype=np.float64), np.asarray(y)
    return y_hat - y[:, None, ...]


def seed_next_dL_dh_10_20(W, h_next, dL_dh_next):
    """The W-term of (10.20) as printed: (∂h(t)/∂h(t+1))^T ∇_{h(t+1)} L.

    Numerator and denominator are swapped. Reading ∂h(t)/∂h(t+1) as the Jacobian
    between the two states with its indices swapped, i.e. (∂h(t+1)/∂h(t))^T, the
    printed term applies the Jacobian J = diag(1−h(t+1)²) W itself instead of J^T:
    diag(1−h(t+1)²) W ∇_{h(t+1)} L. Right: J^T ∇ = W^T diag(1−h(t+1)²) ∇_{h(t+1)} L.
    """
    return (1 - h_next ** 2) * (W @ dL_dh_next)


def seed_next_dL_dh_10_21(W, h_next, dL_dh_next):
    """The W-term of (10.21) as printed: W^T (∇_{h(t+1)} L) diag(1−h(t+1)²).

    An (H×1) column times an (H×H) matrix is undefined for H > 1. The only way to
    compute it is to treat W^T ∇ as a row vector, which scales it elementwise:
    diag(1−h(t+1)²) W^T ∇_{h(t+1)} L, the tanh derivative applied on the wrong side
    of W^T. Right: W^T diag(1−h(t+1)²) ∇_{h(t+1)} L. Equal only when H = 1.
    """
    return (W.T @ dL_dh_next) * (1 - h_next ** 2)


SEED_ERRORS = {"10.18": seed_dL_do, "10.20": seed_next_dL_dh_10_20,
               "10.21": seed_next_dL_dh_10_21}


def seed_bptt(U, W, V, b, c, x, y, h0=None, *, errors=("10.18", "10.21")) -> BPTTResult:
    """BPTT as in rnn.oracles.vanilla.bptt, but with the printed formulas named in ``errors``.

    ``errors`` picks from "10.18" (∇_{o(t)} L), and one of "10.20" or "10.21" (the
    recursion for ∇_{h(t)} L). The parameter formulas 10.22-10.28 are right in their
    final form, so they are kept; the wrong ∇_{o(t)} L and ∇_{h(t)} L flow into them.
    The loss, h and ŷ are unaffected (the forward pass is not changed).
    """
    unknown = set(errors) - set(SEED_ERRORS)
    if unknown:
        raise ValueError(f"unknown seed equations {sorted(unknown)}; "
                         f"choose from {list(SEED_ERRORS)}")
    if {"10.20", "10.21"} <= set(errors):
        raise ValueError("10.20 and 10.21 are two readings of the same recursion: pick one")
    dL_do_rule = seed_dL_do if "10.18" in errors else dL_do_10_18
    next_dL_dh_rule = next((SEED_ERRORS[e] for e in ("10.20", "10.21") if e in errors),
                           next_dL_dh_10_21)
    return bptt_with_rules(U, W, V, b, c, x, y, h0, dL_do_rule, next_dL_dh_rule)
