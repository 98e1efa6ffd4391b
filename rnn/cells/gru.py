"""The gated recurrent unit (Cho et al. 2014, §2.3) in PyTorch's ``nn.GRU`` form::

    r(t) = σ(W_ir x(t) + b_ir + W_hr h(t-1) + b_hr)                 reset gate
    z(t) = σ(W_iz x(t) + b_iz + W_hz h(t-1) + b_hz)                 update gate
    n(t) = tanh(W_in x(t) + b_in + r(t) ⊙ (W_hn h(t-1) + b_hn))     candidate
    h(t) = (1 − z(t)) ⊙ n(t) + z(t) ⊙ h(t-1)

with the blocks stacked r|z|n: W_ih (3H×D), W_hh (3H×H), b_ih, b_hh (3H,); its state is (h,).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

import minigrad as mg
from minigrad import Tensor
from rnn.cells.base import Cell, tag

__all__ = ["GRUCell"]

TORCH_NAMES = {"W_ih": "weight_ih_l0", "W_hh": "weight_hh_l0", "b_ih": "bias_ih_l0",
               "b_hh": "bias_hh_l0"}


class GRUCell(Cell):
    """The GRU cell of ``nn.GRU``, column form, σ the logistic function::

        r(t) = σ(a_r(t)),  a_r(t) = W_ir x(t) + b_ir + W_hr h(t-1) + b_hr
        z(t) = σ(a_z(t)),  a_z(t) = W_iz x(t) + b_iz + W_hz h(t-1) + b_hz
        n(t) = tanh(a_n(t)),  a_n(t) = W_in x(t) + b_in + r(t) ⊙ (W_hn h(t-1) + b_hn)
        h(t) = (1 − z(t)) ⊙ n(t) + z(t) ⊙ h(t-1)

    The reset gate multiplies ``W_hn h(t-1) + b_hn``, as PyTorch documents (Cho et al.
    multiply h(t-1) before ``W_hn``); z(t) = 1 keeps h(t-1), z(t) = 0 takes the candidate.
    Parameters, blocks stacked r|z|n as in PyTorch's ``state_dict``: W_ih = [W_ir; W_iz; W_in]
    (3H×D), W_hh = [W_hr; W_hz; W_hn] (3H×H), b_ih, b_hh (3H,). Named nodes of step t:
    "W_ih x(t)" (role "Wx"), "W_hh h(t-1)" ("Wh"), "a_r(t)", "r(t)", "a_z(t)", "z(t)",
    "W_hn h(t-1) + b_hn" ("hn"), "a_n(t)", "n(t)", "h(t)"; the sums with the biases, the block
    slices and the terms of h(t) are unnamed, tagged with t and a role.

    >>> import numpy as np, minigrad as mg
    >>> cell = GRUCell(input_size=2, hidden_size=3)
    >>> p = {n: mg.tensor(a, name=n) for n, a in
    ...      cell.init_parameters(np.random.default_rng(0), None).items()}
    >>> (h,) = cell.step(cell.bind(p, batched=False), (mg.zeros(3),), np.int64(1), t=1)
    >>> h.name, h.shape, sorted(cell.to_torch({n: a.data for n, a in p.items()}))
    ('h(1)', (3,), ['bias_hh_l0', 'bias_ih_l0', 'weight_hh_l0', 'weight_ih_l0'])
    """

    kind = "gru"
    state_names = ("h",)
    symbols = {"W_ih": "3H×D", "W_hh": "3H×H", "b_ih": "(3H,)", "b_hh": "(3H,)"}

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        H, D = self.hidden_size, self.input_size
        return {"W_ih": (3 * H, D), "W_hh": (3 * H, H), "b_ih": (3 * H,), "b_hh": (3 * H,)}

    def init_parameters(self, rng: np.random.Generator, scale: float | None
                        ) -> dict[str, np.ndarray]:
        """Every entry uniform in [−k, k], k = ``scale`` or PyTorch's default 1/√H."""
        k = scale if scale is not None else 1.0 / np.sqrt(self.hidden_size)
        return {name: rng.uniform(-k, k, shape) for name, shape in self.parameter_shapes().items()}

    def step(self, p: Mapping[str, Tensor], state: tuple[Tensor, ...], x, t: int
             ) -> tuple[Tensor, ...]:
        (h_prev,) = state
        H = self.hidden_size
        r_, z_, n_ = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)   # the blocks r|z|n
        Wx = self.input_product(p["W_ih"], x, t, "Wx", f"W_ih x({t})")
        Wh = tag(p["W_hh"] @ h_prev, f"W_hh h({t - 1})", t, "Wh")
        ax = tag(Wx + p["b_ih"], None, t, "Wx+b")                # W_ih x(t) + b_ih
        ah = tag(Wh + p["b_hh"], None, t, "Wh+b")                # W_hh h(t-1) + b_hh

        def block(a, rows, role):
            return tag(a[rows], None, t, role)

        a_r = tag(block(ax, r_, "Wx+b_r") + block(ah, r_, "Wh+b_r"), f"a_r({t})", t, "a_r")
        r = tag(mg.sigmoid(a_r), f"r({t})", t, "r")                                  # reset
        a_z = tag(block(ax, z_, "Wx+b_z") + block(ah, z_, "Wh+b_z"), f"a_z({t})", t, "a_z")
        z = tag(mg.sigmoid(a_z), f"z({t})", t, "z")                                  # update
        hn = tag(ah[n_], f"W_hn h({t - 1}) + b_hn", t, "hn")
        r_hn = tag(r * hn, None, t, "r*hn")                       # r(t) ⊙ (W_hn h(t-1) + b_hn)
        a_n = tag(block(ax, n_, "Wx+b_n") + r_hn, f"a_n({t})", t, "a_n")
        n = tag(mg.tanh(a_n), f"n({t})", t, "n")                                     # candidate
        keep = tag(1.0 - z, None, t, "1-z")
        h = tag(tag(keep * n, None, t, "(1-z)*n") + tag(z * h_prev, None, t, "z*h"),
                f"h({t})", t, "h")                                 # (1 − z) ⊙ n + z ⊙ h(t-1)
        return (h,)

    def to_torch(self, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``nn.GRU``'s layer 0: W_ih, W_hh, b_ih, b_hh as ``weight_ih_l0``, ``weight_hh_l0``,
        ``bias_ih_l0``, ``bias_hh_l0`` (float64 copies; the same block order r|z|n)."""
        p = self.check_parameters(params)
        return {TORCH_NAMES[name]: p[name] for name in self.parameter_shapes()}

    def from_torch(self, state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """W_ih, W_hh, b_ih, b_hh from ``nn.GRU``'s layer 0, checked (exactly its four keys,
        3H rows each)."""
        sd = self.check_torch(state_dict, gates=3)
        return {name: sd[key] for name, key in TORCH_NAMES.items()}
