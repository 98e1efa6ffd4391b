"""The LSTM cell of PyTorch's ``nn.LSTM`` (one layer, no peepholes), in column form::

    a(t) = W_ih x(t) + b_ih + W_hh h(t-1) + b_hh     (4H,) blocks i|f|g|o
    i(t) = σ(a_i(t))    f(t) = σ(a_f(t))    g(t) = tanh(a_g(t))    q(t) = σ(a_o(t))
    c(t) = f(t) ⊙ c(t-1) + i(t) ⊙ g(t)           h(t) = q(t) ⊙ tanh(c(t))

with W_ih (4H×D) = [W_ii; W_if; W_ig; W_io], W_hh (4H×H) likewise, b_ih and b_hh (4H,);
its state is (h, c). rnn.oracles.lstm is its analytic BPTT.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

import minigrad as mg
from minigrad import Tensor
from rnn.cells.base import Cell, tag

__all__ = ["LSTMCell"]

GATES = ("i", "f", "g", "q")   # the blocks of W_ih, W_hh, b_ih, b_hh, in PyTorch's order i|f|g|o
TORCH_NAMES = {"W_ih": "weight_ih_l0", "W_hh": "weight_hh_l0", "b_ih": "bias_ih_l0",
               "b_hh": "bias_hh_l0"}


class LSTMCell(Cell):
    """The LSTM: input gate i(t), forget gate f(t), candidate g(t), output gate q(t), cell
    state c(t) and output h(t), as in the module's equations.

    The output gate is q(t) (PyTorch's o_t, Deep Learning §10.10.1's q): o(t) is the head's
    output c + V h(t). Nodes of step t, in the order they are made: "W_ih x(t)" (role "Wx";
    for dense inputs after the model's "x(t)"), "W_hh h(t-1)" ("Wh"), unnamed sums with the
    biases ("Wx+b", "Wh+b"), "a(t)" (4H), its blocks "a_i(t)", "a_f(t)", "a_g(t)", "a_q(t)",
    the gates "i(t)", "f(t)", "g(t)", "q(t)", "f(t) c(t-1)" ("fc"), "i(t) g(t)" ("ig"),
    "c(t)", "tanh c(t)" ("tanh_c") and "h(t)"; each tagged ``{"t": t, "role": ...}``.

    ``forget_bias``: when given, the forget block of b_ih starts at this value and that of
    b_hh at 0, so f(t) starts near σ(forget_bias) (Jozefowicz et al. 2015 recommend 1);
    otherwise every parameter starts as in PyTorch.

    >>> import numpy as np, minigrad as mg
    >>> cell = LSTMCell(input_size=2, hidden_size=3, forget_bias=1.0)
    >>> arrays = cell.init_parameters(np.random.default_rng(0), None)
    >>> arrays["b_ih"][3:6] + arrays["b_hh"][3:6]
    array([1., 1., 1.])
    >>> p = {n: mg.tensor(a, name=n) for n, a in arrays.items()}
    >>> h, c = cell.step(cell.bind(p, batched=False), (mg.zeros(3), mg.zeros(3)), np.int64(1), 1)
    >>> h.name, c.name, sorted(n.name for n in h.inputs)
    ('h(1)', 'c(1)', ['q(1)', 'tanh c(1)'])
    >>> sorted(cell.to_torch(arrays))
    ['bias_hh_l0', 'bias_ih_l0', 'weight_hh_l0', 'weight_ih_l0']
    """

    kind = "lstm"
    state_names = ("h", "c")
    symbols = {"W_ih": "4H×D", "W_hh": "4H×H", "b_ih": "(4H,)", "b_hh": "(4H,)"}

    def __init__(self, input_size: int, hidden_size: int, *, forget_bias: float | None = None):
        super().__init__(input_size, hidden_size)
        real = (int, float, np.integer, np.floating)
        if forget_bias is not None and (not isinstance(forget_bias, real)
                                        or isinstance(forget_bias, bool)
                                        or not np.isfinite(forget_bias)):
            raise ValueError(f"forget_bias must be a finite number or None, got {forget_bias!r}")
        self.forget_bias = None if forget_bias is None else float(forget_bias)

    def __repr__(self):
        return f"{super().__repr__()[:-1]}, forget_bias={self.forget_bias})"

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        H, D = self.hidden_size, self.input_size
        return {"W_ih": (4 * H, D), "W_hh": (4 * H, H), "b_ih": (4 * H,), "b_hh": (4 * H,)}

    def init_parameters(self, rng: np.random.Generator, scale: float | None
                        ) -> dict[str, np.ndarray]:
        """Every parameter U(−s, s), s = ``scale`` or PyTorch's 1/√H; then the forget block
        of b_ih set to ``forget_bias`` and that of b_hh to 0, when forget_bias is given."""
        H = self.hidden_size
        s = 1.0 / np.sqrt(H) if scale is None else scale
        arrays = {name: rng.uniform(-s, s, shape) for name, shape in self.parameter_shapes().items()}
        if self.forget_bias is not None:
            arrays["b_ih"][H:2 * H], arrays["b_hh"][H:2 * H] = self.forget_bias, 0.0
        return arrays

    def step(self, p: Mapping[str, Tensor], state: tuple[Tensor, ...], x, t: int
             ) -> tuple[Tensor, ...]:
        h_prev, c_prev = state
        H = self.hidden_size
        Wx = self.input_product(p["W_ih"], x, t, "Wx", f"W_ih x({t})")
        Wh = tag(p["W_hh"] @ h_prev, f"W_hh h({t - 1})", t, "Wh")
        a = self.node(tag(Wx + p["b_ih"], None, t, "Wx+b") + tag(Wh + p["b_hh"], None, t, "Wh+b"),
                      "a", t)                                       # a(t), blocks i|f|g|o
        blocks = [self.node(a[k * H:(k + 1) * H], f"a_{gate}", t) for k, gate in enumerate(GATES)]
        i, f, g, q = (self.node((mg.tanh if gate == "g" else mg.sigmoid)(a_k), gate, t)
                      for gate, a_k in zip(GATES, blocks))
        fc = tag(f * c_prev, f"f({t}) c({t - 1})", t, "fc")
        ig = tag(i * g, f"i({t}) g({t})", t, "ig")
        c = self.node(fc + ig, "c", t)                              # c(t) = f c(t-1) + i g
        tanh_c = tag(mg.tanh(c), f"tanh c({t})", t, "tanh_c")
        return self.node(q * tanh_c, "h", t), c                     # h(t) = q tanh(c(t))

    def to_torch(self, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``nn.LSTM``'s layer-0 ``state_dict`` entries (float64 copies, checked shapes):
        W_ih → ``weight_ih_l0``, W_hh → ``weight_hh_l0``, b_ih → ``bias_ih_l0``, b_hh →
        ``bias_hh_l0``, unchanged (same gate order, same column-vector layout)."""
        p = self.check_parameters(params)
        return {TORCH_NAMES[name]: p[name] for name in TORCH_NAMES}

    def from_torch(self, state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """W_ih, W_hh, b_ih, b_hh from ``nn.LSTM``'s layer 0 (numpy arrays; exactly the four
        ``*_l0`` keys, each of its shape, or a clear error)."""
        sd = self.check_torch(state_dict, gates=4)
        return {name: sd[key] for name, key in TORCH_NAMES.items()}
