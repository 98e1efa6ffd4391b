"""Hypothesis strategies for RNN problems: the vanilla RNN of Deep Learning §10.2
with concrete numpy parameters, inputs, targets and h(0), everything
:func:`rnn.oracles.vanilla.bptt` and :meth:`rnn.RNN.unroll` take, and the same for any
recurrent model given its parameter shapes (:func:`cell_problems`: an LSTM's or a GRU's),
and central differences to check gradients with (this module needs only numpy and
Hypothesis, not the ``rnn`` package).

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

__all__ = ["RNNProblem", "make_problem", "rnn_problems", "CellProblem", "make_cell_problem",
           "cell_problems", "log_uniform", "central_differences",
           "assert_matches_central_differences", "assert_steps_match_central_differences",
           "misses_central_differences",
           "PARAMETER_NAMES"]

PARAMETER_NAMES = ("U", "W", "V", "b", "c")


def _vanilla_shapes(D, H, K):
    return dict(U=(H, D), W=(H, H), V=(K, H), b=(H,), c=(K,))


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

    @classmethod
    def of(cls, problem: "CellProblem") -> "RNNProblem":
        """The vanilla problem a :class:`CellProblem` with U, W, V, b, c and one state is."""
        return cls(**{n: problem.params[n] for n in PARAMETER_NAMES}, x=problem.x,
                   y=problem.y, h0=problem.state0[0])

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
    p = make_cell_problem(_vanilla_shapes(D, H, K), H=H, D=D, K=K, tau=tau, batch=batch,
                          tokens=tokens, with_state0=with_h0, scale=scale, seed=seed)
    return RNNProblem.of(p)


@dataclass(frozen=True)
class CellProblem:
    """A problem for any recurrent model: ``params`` by name (numpy arrays), inputs ``x``
    (int tokens [τ(, B)] or floats [τ(, B), D]), targets ``y`` [τ(, B)], and ``state0``, one
    (H(, B)) array or None (zeros) per state of the cell: (h0,) or (h0, c0).

    >>> from minigrad.testing.rnn import make_cell_problem
    >>> p = make_cell_problem({"W_ih": (8, 3), "W_hh": (8, 2)}, H=2, D=3, K=4, tau=5,
    ...                       states=2, batch=3)
    >>> p.params["W_hh"].shape, p.x.shape, [s.shape for s in p.state0], p.sequences
    ((8, 2), (5, 3), [(2, 3), (2, 3)], 3)
    """
    params: dict
    x: np.ndarray
    y: np.ndarray
    state0: tuple
    H: int
    D: int
    K: int

    tau = RNNProblem.tau
    batch = RNNProblem.batch
    tokens = RNNProblem.tokens
    sequences = RNNProblem.sequences

    def state0_or_zeros(self) -> tuple[np.ndarray, ...]:
        """The initial states as the model uses them: the given arrays or zeros."""
        shape = (self.H,) if self.batch is None else (self.H, self.batch)
        return tuple(np.zeros(shape) if s is None else s for s in self.state0)


def make_cell_problem(shapes, H=3, D=4, K=3, tau=5, batch=None, *, states=1, tokens=True,
                      with_state0=True, scale=1.0, seed=0) -> CellProblem:
    """A problem with parameters of the given ``shapes`` (name → shape, in order; the
    caller's model for sizes H, D, K) drawn N(0, s²) from ``np.random.default_rng(seed)``.

    ``scale`` is one number for every parameter or a dict by name; inputs are uniform
    tokens or N(0, 1) floats, targets uniform classes, each of the ``states`` initial states
    uniform in [-1, 1] when ``with_state0`` (else None).

    >>> p = make_cell_problem({"U": (2, 3), "W": (2, 2)}, H=2, D=3, K=4, tau=6, batch=2,
    ...                       tokens=False, with_state0=False)
    >>> p.x.shape, p.y.shape, p.state0, p.state0_or_zeros()[0].shape
    ((6, 2, 3), (6, 2), (None,), (2, 2))
    """
    rng = np.random.default_rng(seed)
    scales = scale if isinstance(scale, dict) else dict.fromkeys(shapes, scale)
    params = {name: scales[name] * rng.normal(size=shape) for name, shape in shapes.items()}
    steps = (tau,) if batch is None else (tau, batch)
    x = rng.integers(0, D, steps) if tokens else rng.normal(size=(*steps, D))
    y = rng.integers(0, K, steps)
    shape = (H,) if batch is None else (H, batch)
    state0 = tuple(rng.uniform(-1.0, 1.0, shape) if with_state0 else None
                   for _ in range(states))
    return CellProblem(params, x, y, state0, H, D, K)


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
    return draw(cell_problems(_vanilla_shapes, H=H, D=D, K=K, tau=tau, batch=batch,
                              tokens=tokens, with_state0=with_h0, scale=scale).map(RNNProblem.of))


@st.composite
def cell_problems(draw, shapes, states=1, H=st.integers(1, 6), D=st.integers(1, 6),
                  K=st.integers(1, 6), tau=st.integers(1, 12), batch=st.none() | st.integers(1, 4),
                  tokens=st.booleans(), with_state0=st.booleans(),
                  scale=log_uniform(1e-3, 10.0)):  # a strategy of CellProblem
    """Random problems for a model whose parameter shapes are ``shapes(D, H, K)`` (name →
    shape) with ``states`` initial states; the other arguments are strategies, with the
    defaults of :func:`rnn_problems` (a scale drawn per parameter).

    >>> from hypothesis import find, strategies as st
    >>> from minigrad.testing.rnn import cell_problems
    >>> lstm = lambda D, H, K: {"W_ih": (4 * H, D), "W_hh": (4 * H, H), "V": (K, H)}
    >>> p = find(cell_problems(lstm, states=2, H=st.just(2)), lambda p: p.tau > 1)
    >>> p.params["W_hh"].shape, len(p.state0)
    ((8, 2), 2)
    """
    sizes = dict(H=draw(H), D=draw(D), K=draw(K), tau=draw(tau), batch=draw(batch))
    names = shapes(sizes["D"], sizes["H"], sizes["K"])
    return make_cell_problem(names, **sizes, states=states, tokens=draw(tokens),
                             with_state0=draw(with_state0),
                             scale={name: draw(scale) for name in names},
                             seed=draw(st.integers(0, 2 ** 32 - 1)))


# -- central differences -----------------------------------------------------------------
# Central differences D(ε) = (f(θ+ε) − f(θ−ε)) / 2ε in float64 carry a truncation error of
# about ε²/6·|∂³L| and a rounding error of about ε_mach·|L|/ε ≈ 2e-10·|L| (a few ulp of the
# loss, divided by 2ε). With ε = 1e-6 and losses up to ~10³ (τ·B ≤ 48 steps), an absolute
# 1e-6 covers the rounding and a relative 1e-5 covers truncation for ordinary curvature.
# Where W is large and gradients explode, ∂³L is so large that truncation alone exceeds
# that (Hypothesis found ∂L/∂h(0) ≈ −5.7e4 missed by 3e-4 relative at W scale ≈ 3), so the
# band also adds the observed |D(2ε) − D(ε)|: D(2ε) has 4× the truncation error of D(ε),
# so this is about 3× D(ε)'s own truncation error (plus its rounding noise). A wrong
# formula misses by O(1) relative, far outside this band.
EPS = 1e-6
ATOL, RTOL = 1e-6, 1e-5


def central_differences(f, a, eps=EPS):
    """∂f/∂a by central differences with step eps, entry by entry (a is not changed).

    >>> import numpy as np
    >>> from minigrad.testing.rnn import central_differences
    >>> central_differences(lambda a: (a ** 2).sum(), np.array([1.0, -2.0])).round(6)
    array([ 2., -4.])
    """
    a, grad = np.array(a, dtype=np.float64), np.empty(np.shape(a))
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + eps
        f_plus = f(a)
        a[i] = old - eps
        grad[i] = (f_plus - f(a)) / (2 * eps)
        a[i] = old
    return grad


def _with_band(f, a):
    """D(ε) and the allowed difference from it, entry by entry (see above)."""
    numeric = central_differences(f, a)
    truncation = np.abs(central_differences(f, a, 2 * EPS) - numeric)
    return numeric, ATOL + RTOL * np.abs(numeric) + truncation


def assert_matches_central_differences(analytic, f, a, what):
    """AssertionError naming ``what``, the worst entry and both values unless ``analytic``
    equals the central differences of ``f`` at ``a`` within the band above.

    >>> import numpy as np
    >>> from minigrad.testing.rnn import assert_matches_central_differences
    >>> a = np.array([1.0, -2.0])
    >>> assert_matches_central_differences(2 * a, lambda a: (a ** 2).sum(), a, "∂/∂a")
    >>> assert_matches_central_differences(a, lambda a: (a ** 2).sum(), a, "∂/∂a")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    AssertionError: ∂/∂a at (1,): analytic np.float64(-2.0), central differences ...
    """
    numeric, band = _with_band(f, a)
    assert np.shape(analytic) == np.shape(numeric), what
    error = np.abs(analytic - numeric)
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(error - band), band.shape))
    assert np.all(error <= band), (
        f"{what} at {worst}: analytic {analytic[worst]!r}, central differences "
        f"{numeric[worst]!r}, allowed difference {band[worst]:.3g}")


def assert_steps_match_central_differences(tau, quantities):
    """:func:`assert_matches_central_differences` at every step t = 1..τ for every quantity:
    ``quantities`` maps a symbol (``"h"``) to ``(analytic, at)``, where ``analytic`` holds the τ
    per-step gradients ∂L/∂symbol(t) (entry t-1) and ``at(t)`` gives ``(f, a)``: the loss as a
    function of symbol(t) and symbol(t) itself. Failures name ``∂L/∂symbol(t)``.

    >>> import numpy as np
    >>> from minigrad.testing.rnn import assert_steps_match_central_differences
    >>> s = [np.array([1.0]), np.array([-2.0])]  # L = Σ_t t·s(t)², ∂L/∂s(t) = 2t·s(t)
    >>> at = lambda t: (lambda a: t * (a ** 2).sum(), s[t - 1])
    >>> assert_steps_match_central_differences(2, {"s": ([2 * s[0], 4 * s[1]], at)})
    >>> assert_steps_match_central_differences(2, {"s": ([2 * s[0], 2 * s[1]], at)})
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    AssertionError: ∂L/∂s(2) at (0,): analytic np.float64(-4.0), central differences ...
    """
    for symbol, (analytic, _) in quantities.items():
        assert len(analytic) == tau, f"∂L/∂{symbol}: {len(analytic)} steps, τ = {tau}"
    for t in range(1, tau + 1):
        for symbol, (analytic, at) in quantities.items():
            assert_matches_central_differences(analytic[t - 1], *at(t), f"∂L/∂{symbol}({t})")


def misses_central_differences(analytic, f, a, factor=1000):
    """True when analytic is off by more than factor × the allowed difference somewhere.

    >>> import numpy as np
    >>> from minigrad.testing.rnn import misses_central_differences
    >>> misses_central_differences(np.array([1.0]), lambda a: (a ** 2).sum(), np.array([1.0]))
    True
    """
    numeric, band = _with_band(f, a)
    return bool(np.max(np.abs(analytic - numeric) / band) > factor)
