"""The seed's vanilla RNN, built from minigrad ops as an explicitly unrolled graph.

For t = 1..τ (column vectors; a batch of B sequences stacks columns, so
``h(t)`` is (H,) for one sequence and (H, B) for a batch)::

    a(t) = b + W h(t-1) + U x(t)        h(t) = tanh(a(t))
    o(t) = c + V h(t)                   ŷ(t) = softmax(o(t))
    L(t) = -log ŷ(t)[y(t)]              L = Σ_t L(t)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

import minigrad as mg
from minigrad import Tensor
from rnn import inputs

__all__ = ["RNN", "Unrolled", "Softmaxes", "PARAMETER_NAMES"]

PARAMETER_NAMES = ("U", "W", "V", "b", "c")
SHAPES = {"U": "H×D", "W": "H×H", "V": "K×H", "b": "(H,)", "c": "(K,)"}  # H hidden, D input, K output


@dataclass
class Unrolled:
    """One unrolled graph. Lists are indexed by time as in the seed: ``h[0]`` is
    h(0) and ``h[t]``, ``a[t]``, ``o[t]``, ``y_hat[t]``, ``L[t]`` belong to step
    t = 1..τ (index 0 of the per-step lists is None). ``loss`` is L, or None
    when no targets were given. Every node is named (``"h(3)"``) and tagged
    ``{"t": 3, "role": "h"}``. The loss reads o(t) directly, so each ŷ(t) node
    is made when it is first read (see :class:`Softmaxes`)."""

    tau: int
    batch: int | None
    h: list[Tensor]
    a: list[Tensor | None]
    o: list[Tensor | None]
    y_hat: Sequence[Tensor | None]
    L: list[Tensor | None] = field(default_factory=list)
    loss: Tensor | None = None

    def step_nodes(self, t: int) -> dict[str, Tensor]:
        """The named nodes of step t, by role."""
        nodes = {"a": self.a[t], "h": self.h[t], "o": self.o[t], "y_hat": self.y_hat[t]}
        if self.loss is not None:
            nodes["L"] = self.L[t]
        return nodes


def _node(tensor: Tensor, name: str | None, t: int, role: str, **tags) -> Tensor:
    tensor.name = name
    tensor.tags = {"t": t, "role": role, **tags}
    return tensor


class Softmaxes(Sequence):
    """``ŷ(t) = softmax(o(t))`` for t = 0..τ (None at 0), indexed like a list.

    Each ŷ(t) is an ordinary graph node (op "softmax", input o(t)), made on
    first access and kept: training, which never reads ŷ, pays for no softmax.

    >>> import numpy as np
    >>> graph = RNN(4, 3, 4).unroll(np.array([0, 2]), np.array([2, 1]))
    >>> graph.y_hat[2].name, graph.y_hat[2].op, graph.y_hat[2].inputs == (graph.o[2],)
    ('ŷ(2)', 'softmax', True)
    >>> graph.y_hat[2] is graph.y_hat[-1], len(graph.y_hat), graph.y_hat[0]
    (True, 3, None)
    """

    def __init__(self, o: list[Tensor | None]):
        self._o, self._made = o, {}

    def __len__(self):
        return len(self._o)

    def __getitem__(self, t):
        if isinstance(t, slice):
            return [self[i] for i in range(len(self))[t]]
        t = range(len(self))[t]  # negative indices count from the end; IndexError past it
        if t == 0:
            return None
        if t not in self._made:
            with mg.enable_grad():  # a node even when first read inside no_grad()
                self._made[t] = _node(mg.softmax(self._o[t], axis=0), f"ŷ({t})", t, "y_hat")
        return self._made[t]


class RNN:
    """The seed's RNN with parameters ``U`` (H×D), ``W`` (H×H), ``V`` (K×H),
    ``b`` (H,), ``c`` (K,) as named minigrad tensors.

    >>> import numpy as np
    >>> from rnn import RNN
    >>> model = RNN(input_size=4, hidden_size=3, output_size=4, seed=0)
    >>> graph = model.unroll(np.array([0, 2, 1]), np.array([2, 1, 3]))
    >>> graph.loss.backward()
    >>> graph.h[2].name, graph.h[2].grad.shape, model.W.grad.shape
    ('h(2)', (3,), (3, 3))
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, *,
                 seed: int = 0, scale: float | None = None):
        input_size, hidden_size, output_size = (
            inputs.size(what, size) for what, size in (("input_size", input_size),
                                                       ("hidden_size", hidden_size),
                                                       ("output_size", output_size)))
        rng = np.random.default_rng(seed)
        D, H, K = input_size, hidden_size, output_size
        s = (lambda fan_in: scale if scale is not None else 1.0 / np.sqrt(fan_in))
        self.input_size, self.hidden_size, self.output_size = D, H, K
        self.U = mg.tensor(rng.normal(0.0, s(D), (H, D)), requires_grad=True, name="U")
        self.W = mg.tensor(rng.normal(0.0, s(H), (H, H)), requires_grad=True, name="W")
        self.V = mg.tensor(rng.normal(0.0, s(H), (K, H)), requires_grad=True, name="V")
        self.b = mg.tensor(np.zeros(H), requires_grad=True, name="b")
        self.c = mg.tensor(np.zeros(K), requires_grad=True, name="c")
        for name in PARAMETER_NAMES:
            self.parameters()[name].tags.update(role=name)

    @classmethod
    def from_arrays(cls, U, W, V, b, c) -> "RNN":
        """A model with the given parameter arrays (copied, as float64); U (H×D)
        and V (K×H) give the sizes, the others must match them.

        >>> import numpy as np
        >>> RNN.from_arrays(np.ones(4), np.eye(3), np.ones((2, 3)), np.zeros(3), np.zeros(2))
        Traceback (most recent call last):
        ValueError: parameter U must be a matrix H×D with H, D ≥ 1, got shape (4,)
        """
        (H, D), (K, _) = (inputs.matrix(name, value, SHAPES[name]).shape
                          for name, value in (("U", U), ("V", V)))
        model = cls(D, H, K)
        model.set_params(U=U, W=W, V=V, b=b, c=c)
        return model

    def parameters(self) -> dict[str, Tensor]:
        """``{"U": U, "W": W, "V": V, "b": b, "c": c}``, in that order."""
        return {name: getattr(self, name) for name in PARAMETER_NAMES}

    def set_params(self, **arrays) -> None:
        """Overwrite parameters by name with finite real arrays of the same shape
        (copied, as float64). Nothing is changed if any array is refused.

        >>> import numpy as np
        >>> RNN(4, 3, 2).set_params(W=np.eye(2))
        Traceback (most recent call last):
        ValueError: parameter W must have shape (3, 3) (H×H; H = 3, D = 4, K = 2), got (2, 2)
        """
        params = self.parameters()
        sizes = f"H = {self.hidden_size}, D = {self.input_size}, K = {self.output_size}"
        shapes = {name: p.shape for name, p in params.items()}
        for name, value in inputs.parameters(arrays, shapes, SHAPES, sizes,
                                             complete=False).items():
            params[name].data = value

    def unroll(self, x, y=None, h0=None, *, activation=mg.tanh) -> Unrolled:
        """Build the graph for inputs ``x`` (and targets ``y``) from ``h(0) = h0``.

        ``x``: integer token ids [τ] or [τ, B] (one-hot inputs: ``U x(t)`` gathers
        columns of U), or floats [τ, D] or [τ, B, D]. ``y``: integer class ids
        [τ] or [τ, B], or None for no loss. ``h0``: (H,) or (H, B); zeros (a
        constant) by default; an array given here becomes a differentiable
        leaf, a Tensor is used as it is. ``activation``: the seed's tanh, or
        another elementwise minigrad function returning a new node (the gradient
        analysis in :mod:`rnn.analysis` uses a linear one).
        """
        x, tokens, tau, batch = inputs.inputs(x, self.input_size)
        y = None if y is None else inputs.targets(y, tau, batch, self.output_size)
        h0 = self._initial_state(h0, batch)
        b = self.b if batch is None else mg.reshape(self.b, shape=(-1, 1)).named("b", role="b")
        c = self.c if batch is None else mg.reshape(self.c, shape=(-1, 1)).named("c", role="c")

        o_list = [None]
        graph = Unrolled(tau, batch, h=[h0], a=[None], o=o_list, y_hat=Softmaxes(o_list), L=[None])
        for t in range(1, tau + 1):
            x_t = x[t - 1]
            if tokens:                                          # U x(t) for one-hot x(t)
                Ux = _node(self.U[:, x_t], f"U x({t})", t, "Ux", x=x_t)
            else:
                x_col = _node(mg.tensor(x_t if batch is None else x_t.T), f"x({t})", t, "x")
                Ux = _node(self.U @ x_col, f"U x({t})", t, "Ux")
            Wh = _node(self.W @ graph.h[t - 1], f"W h({t - 1})", t, "Wh")
            a = _node(_node(b + Wh, None, t, "b+Wh") + Ux, f"a({t})", t, "a")  # a(t) = b + W h(t-1) + U x(t)
            h = _node(activation(a), f"h({t})", t, "h")                          # h(t) = tanh(a(t))
            Vh = _node(self.V @ h, f"V h({t})", t, "Vh")
            o = _node(c + Vh, f"o({t})", t, "o")                                 # o(t) = c + V h(t)
            for store, value in ((graph.a, a), (graph.h, h), (graph.o, o)):  # ŷ(t) = softmax(o(t)),
                store.append(value)                                          # made when read
            if y is not None:                                   # L(t) = -log ŷ(t)[y(t)], by log-sum-exp
                L_t = mg.cross_entropy(o, y[t - 1], reduction="sum", axis=0)
                graph.L.append(_node(L_t, f"L({t})", t, "L_t", y=y[t - 1]))
        if y is not None:
            graph.loss = mg.stack(graph.L[1:]).sum().named("L", role="L")         # L = Σ_t L(t)
        return graph

    def _initial_state(self, h0, batch):
        if h0 is None:
            shape = (self.hidden_size,) if batch is None else (self.hidden_size, batch)
            return mg.tensor(np.zeros(shape)).named("h(0)", t=0, role="h")
        if isinstance(h0, Tensor):
            inputs.state_shape("h0", h0.shape, self.hidden_size, batch)
            inputs.finite("h0", h0.data)
        else:
            h0 = mg.tensor(inputs.state("h0", h0, self.hidden_size, batch), requires_grad=True)
        return h0.named("h(0)", t=0, role="h")

