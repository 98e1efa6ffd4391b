"""Problems for the gated cells' tests: parameters by name, inputs, targets and an initial
state, for any cell whose parameters are W_ih (G·H×D), W_hh (G·H×H), b_ih, b_hh (G·H,)
with a head V (K×H), c (K,): G = 4 blocks for the LSTM (state (h, c)), 3 for the GRU (h).
``make_problem(4, ("h0", "c0"), H=2, batch=3)`` is one LSTM problem, ``problems(4, ("h0",
"c0"))`` the Hypothesis strategy of them.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from hypothesis import strategies as st

from minigrad.testing.rnn import log_uniform

PARAMETER_NAMES = ("W_ih", "W_hh", "b_ih", "b_hh", "V", "c")


def shapes(G, H, D, K):
    """The parameter shapes of a cell with G gate blocks and its head."""
    return dict(W_ih=(G * H, D), W_hh=(G * H, H), b_ih=(G * H,), b_hh=(G * H,), V=(K, H),
                c=(K,))


@dataclass(frozen=True)
class CellProblem:
    """Parameters by name (PARAMETER_NAMES), inputs x, targets y, the initial state
    ``state0`` (a tuple like ``(h0, c0)``, or None for zeros) and its names."""
    params: dict
    x: np.ndarray
    y: np.ndarray
    state0: tuple | None
    state_names: tuple

    H = property(lambda self: self.params["W_hh"].shape[1])
    D = property(lambda self: self.params["W_ih"].shape[1])
    K = property(lambda self: self.params["V"].shape[0])
    tau = property(lambda self: self.y.shape[0])
    batch = property(lambda self: self.y.shape[1] if self.y.ndim == 2 else None)
    tokens = property(lambda self: bool(np.issubdtype(self.x.dtype, np.integer)))
    state_shape = property(lambda self: (self.H,) if self.batch is None else (self.H, self.batch))

    def state0_or_zeros(self) -> tuple:
        """The initial state as the models use it: the given arrays or zeros."""
        if self.state0 is None:
            return tuple(np.zeros(self.state_shape) for _ in self.state_names)
        return self.state0

    def with_params(self, **arrays) -> "CellProblem":
        """The same problem with some parameters replaced."""
        return replace(self, params={**self.params, **arrays})


def make_problem(G, state_names, H=3, D=4, K=3, tau=5, batch=None, *, tokens=True,
                 with_state=True, scale=1.0, seed=0) -> CellProblem:
    """Parameters N(0, s²) (``scale`` one number or a dict by name), uniform tokens or N(0, 1)
    dense inputs, uniform targets, each initial state uniform in [−1, 1] when ``with_state``
    (None otherwise)."""
    rng = np.random.default_rng(seed)
    scales = scale if isinstance(scale, dict) else dict.fromkeys(PARAMETER_NAMES, scale)
    params = {name: scales[name] * rng.normal(size=shape)
              for name, shape in shapes(G, H, D, K).items()}
    steps = (tau,) if batch is None else (tau, batch)
    x = rng.integers(0, D, steps) if tokens else rng.normal(size=(*steps, D))
    y = rng.integers(0, K, steps)
    state = (H,) if batch is None else (H, batch)
    state0 = tuple(rng.uniform(-1.0, 1.0, state) for _ in state_names) if with_state else None
    return CellProblem(params, x, y, state0, tuple(state_names))


@st.composite
def problems(draw, G, state_names, H=st.integers(1, 5), D=st.integers(1, 5),
             K=st.integers(1, 5), tau=st.integers(1, 10), batch=st.none() | st.integers(1, 3),
             tokens=st.booleans(), with_state=st.booleans(), scale=log_uniform(1e-3, 10.0)):
    """Sizes 1..5, τ 1..10, one sequence or a batch of 1..3, tokens or dense inputs, the
    initial state given or zeros, a scale per parameter from 1e-3 (gates at ½, tanh linear)
    to 10 (gates and tanh saturated, logits in the tens)."""
    sizes = dict(H=draw(H), D=draw(D), K=draw(K), tau=draw(tau), batch=draw(batch))
    return make_problem(G, state_names, **sizes, tokens=draw(tokens),
                        with_state=draw(with_state),
                        scale={name: draw(scale) for name in PARAMETER_NAMES},
                        seed=draw(st.integers(0, 2 ** 32 - 1)))
