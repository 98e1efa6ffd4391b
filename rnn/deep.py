"""Deep (stacked) and bidirectional recurrent models of any cell: a :class:`rnn.stack.Stack`
under the softmax head, o(t) = c + V out_L(t) with out_L(t) the top layer's output.

A bidirectional model's o(t) depends on the whole sequence (its backward direction has read
x(τ)..x(t)), so it labels each step of a given sequence; it is no next-symbol model and has
no :meth:`StackedModel.step` (the command line refuses it for language modelling).

>>> import numpy as np
>>> model = StackedModel("lstm", 4, 3, 4, layers=2, bidirectional=True, seed=0)
>>> list(model.parameters())[:5], list(model.parameters())[-2:]
(['W_ih_l0', 'W_hh_l0', 'b_ih_l0', 'b_hh_l0', 'W_ih_l0_reverse'], ['V', 'c'])
>>> graph = model.unroll(np.array([0, 2, 1]), np.array([2, 1, 3]))
>>> graph.loss.backward()
>>> graph.h[2].name, graph.o[2].name, model.W_hh_l1_reverse.grad.shape
('h₂(2)', 'o(2)', (12, 3))
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

import minigrad as mg
from minigrad import Tensor
from rnn import inputs
from rnn.heads import SoftmaxHead, Softmaxes
from rnn.layout import Slot
from rnn.model import LanguageModel
from rnn.stack import Stack, StackTrace

__all__ = ["StackedModel", "StackedUnrolled", "stacked_state"]


@dataclass
class StackedUnrolled:
    """One unrolled graph of a :class:`StackedModel`: ``stack`` is what the layers recorded
    (:class:`rnn.stack.StackTrace`: every slot's states and nodes); ``h[t]`` the top layer's
    output at t = 1..τ (``h[0]`` its initial state when it runs forward only, else None);
    ``o``, ``y_hat``, ``L`` the head's per-step nodes (None at index 0), ``loss`` L or None."""
    tau: int
    batch: int | None
    stack: StackTrace
    h: list[Tensor | None]
    o: list[Tensor | None]
    y_hat: Sequence[Tensor | None]
    L: list[Tensor | None] = field(default_factory=list)
    loss: Tensor | None = None


def stacked_state(stack: Stack, state0, batch: int | None) -> list[tuple | None] | None:
    """The per-slot initial states :meth:`rnn.stack.Stack.unroll` takes, from the stacked
    form a model takes: None (zeros), or per state name (h, then c for an LSTM) an array or
    Tensor (L·dirs, H[, B]) in PyTorch's slot order, or None for zeros. An array becomes one
    differentiable leaf named "h0" ("c0"), read slot by slot."""
    if state0 is None:
        return None
    names = stack.state_names
    if isinstance(state0, (np.ndarray, Tensor)) and len(names) == 1:
        state0 = (state0,)
    if isinstance(state0, (str, np.ndarray, Tensor)) or len(state0) != len(names):
        raise ValueError(f"the initial state of {stack!r} is {len(names)} array(s) "
                         f"({', '.join(n + '0' for n in names)}), each (L·dirs, H[, B])")
    expected = (len(stack.slots), stack.hidden_size) + (() if batch is None else (batch,))
    columns = []
    for name, value in zip(names, state0):
        if value is None:
            columns.append([None] * len(stack.slots))
            continue
        if not isinstance(value, Tensor):
            value = mg.tensor(inputs.real_array(f"{name}0", value), requires_grad=True)
        if value.shape != expected:
            raise ValueError(f"{name}0 must have shape {expected} (layers·directions, hidden"
                             f"[, batch]), got {value.shape}")
        inputs.finite(f"{name}0", value.data)
        if value.name is None:
            value.name = f"{name}0"
        columns.append([value[i] for i in range(len(stack.slots))])
    return [tuple(per_slot) for per_slot in zip(*columns)]


class StackedModel(LanguageModel):
    """``layers`` layers of ``cell`` ("rnn", "lstm", "gru"), each forward or, when
    ``bidirectional``, both ways, of ``hidden_size`` units per direction, and the softmax head
    of ``output_size`` classes over the top layer's output. Parameters: every slot's cell
    parameters with PyTorch's suffixes (rnn.layout), then V (K × H·dirs) and c; read,
    replaced and set as :class:`rnn.model.LanguageModel`'s are.
    """

    def __init__(self, cell: str = "rnn", input_size: int | None = None,
                 hidden_size: int | None = None, output_size: int | None = None, *,
                 layers: int = 1, bidirectional: bool = False, seed: int = 0,
                 scale: float | None = None, **options):
        self.stack = Stack(cell, input_size, hidden_size, layers, bidirectional, **options)
        self.head = SoftmaxHead(self.stack.output_size, output_size)
        self.input_size, self.hidden_size = self.stack.input_size, self.stack.hidden_size
        self.output_size = self.head.output_size
        self.layers, self.bidirectional = self.stack.layers, self.stack.bidirectional
        rng = np.random.default_rng(seed)
        arrays = {**self.stack.init_parameters(rng, scale),
                  **self.head.init_parameters(rng, scale)}
        roles = {**self.stack.roles(), "V": "V", "c": "c"}
        self._params = {name: mg.tensor(value, requires_grad=True, name=name)
                        for name, value in arrays.items()}
        for name, p in self._params.items():
            p.tags.update(role=roles[name])

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], cell: str = "rnn", *,
                    layers: int = 1, bidirectional: bool = False, **options) -> "StackedModel":
        """A model with the given arrays (copied, float64): D and H read off layer 1's
        forward cell (its parameters suffixed "_l0"), K off V; every array must match."""
        first = Stack(cell, 1, 1).cells[Slot(1, "forward")]
        D, H = type(first).sizes_of({n: arrays[n + "_l0"] for n in first.parameter_shapes()
                                     if n + "_l0" in arrays})
        inputs.require(arrays, ("V",))
        K = inputs.matrix("V", arrays["V"], SoftmaxHead.symbols["V"]).shape[0]
        model = cls(cell, D, H, K, layers=layers, bidirectional=bidirectional, **options)
        inputs.require(arrays, tuple(model.parameter_shapes()))
        model.set_arrays(**arrays)
        return model

    kind = property(lambda self: self.stack.kind, doc="The cells' kind.")
    state_names = property(lambda self: self.stack.state_names, doc="The cells' state names.")

    def recurrent(self) -> tuple[str, ...]:
        return self.stack.recurrent()

    def symbols(self) -> dict[str, str]:
        return {**self.stack.symbols(), **self.head.symbols}

    def sizes(self) -> str:
        return f"{self.stack.sizes()}, K = {self.output_size}"

    def to_torch(self) -> dict[str, np.ndarray]:
        """The recurrent layers' arrays in PyTorch's ``state_dict`` layout (the head is not
        part of ``nn.LSTM``; V and c are :meth:`arrays`' "V" and "c")."""
        return self.stack.to_torch({n: a for n, a in self.arrays().items()
                                    if n not in ("V", "c")})

    def unroll(self, x, y=None, state0=None) -> StackedUnrolled:
        """The graph for inputs ``x`` (token ids [τ] or [τ, B], or floats [τ(, B), D]) and
        targets ``y`` (or None). ``state0``: see :func:`stacked_state`."""
        x = inputs.inputs(x, self.input_size)
        y = None if y is None else inputs.targets(y, x.tau, x.batch, self.output_size)
        trace = self.stack.unroll(self._params, x,
                                  stacked_state(self.stack, state0, x.batch))
        head_p = self._head_params(x.batch is not None)
        top = trace.outputs[-1]
        steps = [self.head.step(head_p, top[t], t, None if y is None else y[t - 1])
                 for t in range(1, x.tau + 1)]
        o = [None, *(s["o"] for s in steps)]
        L = [None, *(s["L_t"] for s in steps)] if y is not None else [None]
        h0 = None if self.bidirectional else trace.states[trace.slots[-1]]["h"][0]
        graph = StackedUnrolled(x.tau, x.batch, trace, [h0, *top[1:]], o, Softmaxes(o), L)
        if y is not None:
            graph.loss = self.head.total(L[1:])
        return graph

    def initial_state(self, batch: int | None = None) -> tuple[np.ndarray, ...]:
        """Zeros for every state of every layer, (L, H[, B]) each, for :meth:`step`."""
        shape = (len(self.stack.slots), self.hidden_size) + (() if batch is None else (batch,))
        return tuple(np.zeros(shape) for _ in self.state_names)

    def step(self, state: Sequence[np.ndarray], x) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        """One step of every layer without a graph (forward-only stacks): (state(t), o(t))
        from state(t-1), each state (L, H[, B]) as :meth:`initial_state` makes it, and x(t)
        (a token id or B ids, or a dense (D,) or (B, D)).

        >>> model = StackedModel("gru", 4, 3, 2, layers=2, seed=0)
        >>> state, o = model.step(model.initial_state(), 2)
        >>> graph = model.unroll(np.array([2]))
        >>> bool(np.allclose(o, graph.o[1].data)), state[0].shape
        (True, (2, 3))
        """
        if self.bidirectional:
            raise ValueError("a bidirectional model reads the whole sequence at once: it has "
                             "no step(); unroll the sequence instead")
        x = inputs.inputs(np.asarray(x)[None], self.input_size)
        with mg.no_grad():
            graph = self.unroll(x.x, state0=tuple(mg.tensor(s) for s in state))
        trace = graph.stack
        new = tuple(np.stack([trace.states[s][name][1].data for s in trace.slots])
                    for name in self.state_names)
        return new, graph.o[1].data
