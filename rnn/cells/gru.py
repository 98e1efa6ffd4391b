"""The gated recurrent unit (Cho et al. 2014, "Learning Phrase Representations using RNN
Encoder–Decoder for Statistical Machine Translation", §2.3) as PyTorch's ``nn.GRU`` computes
it: :class:`GRUCell`, its equations in its docstring; its numpy oracle is rnn.oracles.gru."""
from __future__ import annotations

from collections.abc import Mapping

import minigrad as mg
from minigrad import Tensor
from rnn.cells.base import GatedCell, tag

__all__ = ["GRUCell"]

class GRUCell(GatedCell):
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

    kind, gates = "gru", 3
    state_names = ("h",)
    symbols = {"W_ih": "3H×D", "W_hh": "3H×H", "b_ih": "(3H,)", "b_hh": "(3H,)"}

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
