"""Hypothesis strategies for RNN problems: the vanilla RNN of Deep Learning §10.2
with concrete numpy parameters, inputs, targets and h(0), everything
:func:`rnn.oracles.vanilla.bptt` and :meth:`rnn.RNN.unroll` take (this module needs only
numpy and Hypothesis, not the ``rnn`` package).

>>> from hypothesis import given, settings
>>> from minigrad.testing.rnn import rnn_problems
>>> @settings(max_examples=5)
... @given(rnn_problems())
... def test(problem):
...     assert problem.U.shape == (problem.H, problem.D)
>>> test()
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from hypothesis import strategies as st

__all__ = ["RNNProblem", "make_problem", "rnn_problems", "log_uniform", "PARAMETER_NAMES"]

PARAMETER_NAMES = ("U", "W", "V", "b", "c")


@dataclass(frozen=True)
class RNNProblem:
    """Parameters ``U`` (H×D), ``W`` (H×H), ``V`` (K×H), ``b`` (H,), ``c`` (K,);
    inputs ``x`` (int tokens [τ(, B)] or floats [τ(, B), D]); targets ``y`` [τ(, B)];
    ``h0`` (H(, B)) or None for the zeros default. ``batch`` None is one sequence.

    >>> from minigrad.testing.rnn import make_problem
    >>> p = make_problem(H=2, D=3, K=4, tau=5, with_h0=False)
    >>> p.H, p.D, p.K, p.tau, p.batch, p.tokens, p.h0_or_zeros().shape
    (2, 3, 4, 5, None, True, (2,))
    >>> sorted(p.params), len(p.args), p.with_params(b=p.b + 1).b.shape
    (['U', 'V', 'W', 'b', 'c'], 7, (2,))
    """
    U: np.ndarray
    W: np.ndarray
    V: np.ndarray
    b: np.ndarray
    c: np.ndarray
    x: np.ndarray
    y: np.ndarray
    h0: np.ndarray | None

    H = property(lambda self: self.W.shape[0])
    D = property(lambda self: self.U.shape[1])
    K = property(lambda self: self.V.shape[0])
    tau = property(lambda self: self.y.shape[0])
    batch = property(lambda self: self.y.shape[1] if self.y.ndim == 2 else None)
    tokens = property(lambda self: bool(np.issubdtype(self.x.dtype, np.integer)))

    @property
    def params(self) -> dict[str, np.ndarray]:
        """``{"U": U, "W": W, "V": V, "b": b, "c": c}``."""
        return {name: getattr(self, name) for name in PARAMETER_NAMES}

    @property
    def args(self) -> tuple[np.ndarray, ...]:
        """``(U, W, V, b, c, x, y)``, the positional arguments of
        :func:`rnn.oracles.vanilla.bptt`."""
        return (*self.params.values(), self.x, self.y)

    @property
    def sequences(self) -> int:
        """B, or 1 for a single sequence."""
        return 1 if self.batch is None else self.batch

    def h0_or_zeros(self) -> np.ndarray:
        """h(0) as the model uses it: the given array or zeros."""
        shape = (self.H,) if self.batch is None else (self.H, self.batch)
        return np.zeros(shape) if self.h0 is None else self.h0

    def with_params(self, **arrays) -> "RNNProblem":
        """The same problem with some parameters (or x, y, h0) replaced."""
        return replace(self, **arrays)


def make_problem(H=3, D=4, K=3, tau=5, batch=None, *, tokens=True, with_h0=True,
                 scale=1.0, seed=0) -> RNNProblem:
    """A problem with parameters drawn N(0, s²) from ``np.random.default_rng(seed)``.

    ``scale`` is one number for every parameter or a dict by name; inputs are
    uniform tokens or N(0, 1) floats, targets uniform classes, h(0) uniform in
    [-1, 1] when ``with_h0``.

    >>> p = make_problem(H=2, D=3, K=4, tau=6, batch=2, tokens=False)
    >>> p.x.shape, p.y.shape, p.h0.shape, p.V.shape
    ((6, 2, 3), (6, 2), (2, 2), (4, 2))
    """
    rng = np.random.default_rng(seed)
    scales = scale if isinstance(scale, dict) else dict.fromkeys(PARAMETER_NAMES, scale)
    shapes = dict(U=(H, D), W=(H, H), V=(K, H), b=(H,), c=(K,))
    params = {name: scales[name] * rng.normal(size=shapes[name]) for name in PARAMETER_NAMES}
    steps = (tau,) if batch is None else (tau, batch)
    x = rng.integers(0, D, steps) if tokens else rng.normal(size=(*steps, D))
    y = rng.integers(0, K, steps)
    h0 = rng.uniform(-1.0, 1.0, (H,) if batch is None else (H, batch)) if with_h0 else None
    return RNNProblem(**params, x=x, y=y, h0=h0)


def log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    """Floats between low and high, uniform in log10.

    >>> from hypothesis import find
    >>> from minigrad.testing.rnn import log_uniform
    >>> 1e-3 <= find(log_uniform(1e-3, 10.0), lambda s: s > 1.0) <= 10.0
    True
    """
    return st.floats(np.log10(low), np.log10(high)).map(lambda e: float(10.0 ** e))


@st.composite
def rnn_problems(draw, H=st.integers(1, 6), D=st.integers(1, 6), K=st.integers(1, 6),
                 tau=st.integers(1, 12), batch=st.none() | st.integers(1, 4),
                 tokens=st.booleans(), with_h0=st.booleans(),
                 scale=log_uniform(1e-3, 10.0)):  # a strategy of RNNProblem
    """Random problems. Every argument is a strategy; the defaults cover sizes 1..6,
    τ 1..12, one sequence or a batch of 1..4, token or dense inputs, h(0) given or
    zeros, and a scale per parameter from 1e-3 (tanh nearly linear) to 10 (tanh
    saturated, logits in the tens).

    >>> from hypothesis import find, strategies as st
    >>> from minigrad.testing.rnn import rnn_problems
    >>> p = find(rnn_problems(batch=st.integers(2, 4)), lambda p: p.tau > 3)
    >>> p.y.shape, p.x.shape[:2] == p.y.shape
    ((4, 2), True)
    """
    sizes = dict(H=draw(H), D=draw(D), K=draw(K), tau=draw(tau), batch=draw(batch))
    return make_problem(**sizes, tokens=draw(tokens), with_h0=draw(with_h0),
                        scale={name: draw(scale) for name in PARAMETER_NAMES},
                        seed=draw(st.integers(0, 2 ** 32 - 1)))
