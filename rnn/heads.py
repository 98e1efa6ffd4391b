"""The softmax output head, the same for every cell: it reads h(t) and nothing else::

    o(t) = c + V h(t)        ŷ(t) = softmax(o(t))        L(t) = -log ŷ(t)[y(t)]        L = Σ_t L(t)

with V (K×H) and c (K,). Its numpy counterpart, for the oracles, is rnn.oracles.head.

Training, which reads only L and the parameters' gradients, can run the head over the whole
sequence at once instead (:meth:`SoftmaxHead.sequence`): one product V [h(1) … h(τ)] and one
cross-entropy over every step's columns, as the numpy BPTT does, in 3 nodes instead of 3τ + 1.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

import minigrad as mg
from minigrad import Tensor
from rnn import inputs
from rnn.cells.base import as_columns, tag

__all__ = ["SoftmaxHead", "Softmaxes", "NotPerStep"]


class SoftmaxHead:
    """o(t) = c + V h(t) for K classes read off H hidden units; the loss is the cross-entropy
    of softmax(o(t)) summed over steps (and sequences), computed from o(t) by log-sum-exp.

    >>> import numpy as np, minigrad as mg
    >>> head = SoftmaxHead(hidden_size=3, output_size=2)
    >>> p = {n: mg.tensor(a, name=n) for n, a in
    ...      head.init_parameters(np.random.default_rng(0), None).items()}
    >>> nodes = head.step(head.bind(p, batched=False), mg.zeros(3), t=1, y_t=np.int64(1))
    >>> {role: node.name for role, node in nodes.items()}
    {'Vh': 'V h(1)', 'o': 'o(1)', 'L_t': 'L(1)'}
    """

    symbols = {"V": "K×H", "c": "(K,)"}

    def __init__(self, hidden_size: int, output_size: int):
        self.hidden_size = inputs.size("hidden_size", hidden_size)
        self.output_size = inputs.size("output_size", output_size)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"V": (self.output_size, self.hidden_size), "c": (self.output_size,)}

    def init_parameters(self, rng: np.random.Generator, scale: float | None
                        ) -> dict[str, np.ndarray]:
        """V ~ N(0, s²) with s = ``scale`` or 1/√H; c = 0."""
        s = scale if scale is not None else 1.0 / np.sqrt(self.hidden_size)
        V = rng.normal(0.0, s, (self.output_size, self.hidden_size))
        return {"V": V, "c": np.zeros(self.output_size)}

    def bind(self, params: Mapping[str, Tensor], batched: bool) -> dict[str, Tensor]:
        """V, and c as one (K, 1) column node named "c" for a batch."""
        return as_columns(params, batched)

    @staticmethod
    def step(p: Mapping[str, Tensor], h: Tensor, t: int, y_t=None) -> dict[str, Tensor]:
        """The head's nodes of step t by role: "Vh" (V h(t)), "o" (o(t) = c + V h(t)) and,
        given targets y(t), "L_t" (L(t) = -log softmax(o(t))[y(t)] summed over a batch, by
        log-sum-exp, the targets tagged "y")."""
        Vh = tag(p["V"] @ h, f"V h({t})", t, "Vh")
        nodes = {"Vh": Vh, "o": tag(p["c"] + Vh, f"o({t})", t, "o")}
        if y_t is not None:
            L_t = mg.cross_entropy(nodes["o"], y_t, reduction="sum", axis=0)
            nodes["L_t"] = tag(L_t, f"L({t})", t, "L_t", y=y_t)
        return nodes

    @staticmethod
    def sequence(p: Mapping[str, Tensor], h: Sequence[Tensor], y=None) -> dict[str, Tensor]:
        """The head of all steps at once, by role: "H" = [h(1) … h(τ)] (H × τ, or H × τB with
        step t in columns (t-1)B … tB - 1), "Vh" = V H, "o" = O = c + V H (K × τ[B]) and,
        given targets y ([τ] or [τ, B]), "L": the cross-entropies of every column summed, the
        loss of :meth:`step` and :meth:`total` (and its gradients) to round-off: the same
        terms summed in another order. ``p`` is :meth:`bind`'s with ``batched=True`` (c a
        column). No per-step o(t) or L(t) node is made.

        >>> import numpy as np, minigrad as mg
        >>> head = SoftmaxHead(hidden_size=3, output_size=2)
        >>> p = {n: mg.tensor(a, name=n) for n, a in
        ...      head.init_parameters(np.random.default_rng(0), None).items()}
        >>> nodes = head.sequence(head.bind(p, batched=True), [mg.ones(3), mg.zeros(3)],
        ...                       np.array([1, 0]))
        >>> nodes["o"].shape, nodes["L"].name
        ((2, 2), 'L')
        """
        H = mg.concat(h, axis=1) if h[0].ndim == 2 else mg.stack(h, axis=1)
        Vh = (p["V"] @ H.named("H", role="H")).named("V H", role="Vh")
        nodes = {"H": H, "Vh": Vh, "o": (p["c"] + Vh).named("O", role="o")}
        if y is not None:
            nodes["L"] = mg.cross_entropy(nodes["o"], np.reshape(y, -1), reduction="sum",
                                          axis=0).named("L", role="L", y=y)
        return nodes

    @staticmethod
    def total(L: Sequence[Tensor]) -> Tensor:
        """L = Σ_t L(t), named "L"."""
        return mg.stack(list(L)).sum().named("L", role="L")


class Softmaxes(Sequence):
    """``ŷ(t) = softmax(o(t))`` for t = 0..τ (None at 0), indexed like a list.

    Each ŷ(t) is an ordinary graph node (op "softmax", input o(t)), made on
    first access and kept: training, which never reads ŷ, pays for no softmax.

    >>> import numpy as np
    >>> from rnn import RNN
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
                self._made[t] = tag(mg.softmax(self._o[t], axis=0), f"ŷ({t})", t, "y_hat")
        return self._made[t]


class NotPerStep(Sequence):
    """What stands for the lists o, ŷ and L of a graph unrolled with the sequence head
    (:meth:`SoftmaxHead.sequence`), which makes no per-step node: its length is τ + 1, and
    reading an entry is an error that says where the outputs are.

    >>> NotPerStep("o", 3)[1]  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    LookupError: o(1): the graph was unrolled with head="sequence", ... graph.O holds ...
    """

    def __init__(self, symbol: str, tau: int):
        self._symbol, self._tau = symbol, tau

    def __len__(self):
        return self._tau + 1

    def __getitem__(self, t):
        raise LookupError(f"{self._symbol}({t}): the graph was unrolled with head=\"sequence\", "
                          "which makes no per-step o, ŷ or L; graph.O holds every step's outputs "
                          "(K × τ·B), graph.loss is L; unroll with head=\"steps\" to read them "
                          "per step")
