"""The vanilla cell of the source chapter (Deep Learning §10.2, eq. 10.8-10.9 without the
output layer)::

    a(t) = b + W h(t-1) + U x(t)        h(t) = tanh(a(t))

with U (H×D), W (H×H), b (H,); its state is (h,).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

import minigrad as mg
from minigrad import Tensor
from rnn import inputs
from rnn.cells.base import Cell, tag

__all__ = ["VanillaCell"]


class VanillaCell(Cell):
    """a(t) = b + W h(t-1) + U x(t), h(t) = activation(a(t)) (tanh, the chapter's, by default;
    :mod:`rnn.analysis` uses a linear one). Nodes of step t, in the order they are made:
    "U x(t)" (role "Ux"; for dense inputs after the model's "x(t)"), "W h(t-1)" ("Wh"), an
    unnamed b + W h(t-1) ("b+Wh"), "a(t)" and "h(t)".

    PyTorch's ``nn.RNN`` is the same cell with U = ``weight_ih_l0``, W = ``weight_hh_l0`` and
    b = ``bias_ih_l0 + bias_hh_l0``.

    >>> import numpy as np, minigrad as mg
    >>> cell = VanillaCell(input_size=2, hidden_size=3)
    >>> p = {n: mg.tensor(a, name=n) for n, a in
    ...      cell.init_parameters(np.random.default_rng(0), None).items()}
    >>> (h,) = cell.step(cell.bind(p, batched=False), (mg.zeros(3),), np.int64(1), t=1)
    >>> h.name, h.inputs[0].name, h.inputs[0].inputs[1].name
    ('h(1)', 'a(1)', 'U x(1)')
    """

    kind = "rnn"
    state_names, recurrent = ("h",), ("W",)
    symbols = {"U": "H×D", "W": "H×H", "b": "(H,)"}

    def __init__(self, input_size: int, hidden_size: int, *, activation=mg.tanh):
        super().__init__(input_size, hidden_size)
        self.activation = activation

    @classmethod
    def sizes_of(cls, arrays: Mapping) -> tuple[int, int]:
        """(D, H) from U (H×D)."""
        inputs.require(arrays, ("U",))
        H, D = inputs.matrix("U", arrays["U"], cls.symbols["U"]).shape
        return D, H

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        H, D = self.hidden_size, self.input_size
        return {"U": (H, D), "W": (H, H), "b": (H,)}

    def init_parameters(self, rng: np.random.Generator, scale: float | None
                        ) -> dict[str, np.ndarray]:
        """U, W ~ N(0, s²) with s = ``scale``, or 1/√fan-in (D for U, H for W); b = 0."""
        H, D = self.hidden_size, self.input_size
        s = (lambda fan_in: scale if scale is not None else 1.0 / np.sqrt(fan_in))
        U = rng.normal(0.0, s(D), (H, D))
        W = rng.normal(0.0, s(H), (H, H))
        return {"U": U, "W": W, "b": np.zeros(H)}

    def step(self, p: Mapping[str, Tensor], state: tuple[Tensor, ...], x, t: int
             ) -> tuple[Tensor, ...]:
        (h_prev,) = state
        Ux = self.input_product(p["U"], x, t, "Ux", f"U x({t})")
        Wh = tag(p["W"] @ h_prev, f"W h({t - 1})", t, "Wh")
        a = tag(tag(p["b"] + Wh, None, t, "b+Wh") + Ux, f"a({t})", t, "a")  # b + W h(t-1) + U x(t)
        return (tag(self.activation(a), f"h({t})", t, "h"),)                  # h(t) = tanh(a(t))

    def to_torch(self, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``nn.RNN``'s layer 0: U, W, then b as ``bias_ih_l0`` and zeros as ``bias_hh_l0``."""
        p = self.check_parameters(params)
        return {"weight_ih_l0": p["U"], "weight_hh_l0": p["W"], "bias_ih_l0": p["b"],
                "bias_hh_l0": np.zeros_like(p["b"])}

    def from_torch(self, state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """U, W and b = ``bias_ih_l0 + bias_hh_l0`` from ``nn.RNN``'s layer 0 (tanh)."""
        sd = self.check_torch(state_dict, gates=1)
        return {"U": sd["weight_ih_l0"], "W": sd["weight_hh_l0"],
                "b": sd["bias_ih_l0"] + sd["bias_hh_l0"]}
