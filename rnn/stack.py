"""Stacked and bidirectional recurrent layers of any cell, unrolled by the one time loop.

A :class:`Stack` holds L layers ℓ = 1..L of one cell kind, each run forward over the
sequence or, when bidirectional, forward and backward (Deep Learning §10.3, §10.5;
Graves 2012 §3.2). Layer ℓ reads x(t) (ℓ = 1) or the output of layer ℓ−1 at the same step::

    h→ℓ(t) = step(h→ℓ(t−1), input(t))   t = 1..τ, from h→ℓ(0)
    h←ℓ(t) = step(h←ℓ(t+1), input(t))   t = τ..1, from h←ℓ(τ+1)   (bidirectional only)
    output of layer ℓ at t: h→ℓ(t), or the concatenation [h→ℓ(t); h←ℓ(t)] (2H)

The final states are those PyTorch's ``nn.LSTM``/``nn.GRU``/``nn.RNN`` return as ``h_n``
(and ``c_n``), one per layer and direction in the order l0, l0_reverse, l1, …: h→ℓ(τ), and
for the backward direction h←ℓ(1), its state after reading x(1) (not its output at τ).

Names. Layer ℓ's parameters are the cell's with PyTorch's suffix: ``W_hh_l0`` is layer 1's,
``W_hh_l0_reverse`` its backward direction's (``U_l1`` a vanilla layer 2's), so
:meth:`Stack.to_torch` only renames the cell's ``weight_hh_l0`` to ``weight_hh_l1_reverse``.
Nodes carry the layer as a subscript and, in a bidirectional stack, the direction as an arrow
before every step index of the cell's names, and as tags ``layer`` (1..L) and ``direction``
("forward", "reverse"), which drawings read: a vanilla layer 2 makes "h₂(3)", "W h₂(2)";
bidirectional, "h₂→(3)" and "h₂←(3)" (its "W h₂←(4)": the backward step 3 reads h←(4)),
and the layer's output at step 3 is the concatenation node "h₂(3)" (role "h", direction
"both"). The tag ``t`` is always the step of the sequence, in both directions.

>>> import numpy as np, minigrad as mg
>>> from rnn import inputs
>>> stack = Stack("rnn", input_size=3, hidden_size=2, layers=2, bidirectional=True)
>>> list(stack.parameter_shapes())[:4]
['U_l0', 'W_l0', 'b_l0', 'U_l0_reverse']
>>> params = {n: mg.tensor(a, name=n) for n, a in
...           stack.init_parameters(np.random.default_rng(0), None).items()}
>>> trace = stack.unroll(params, inputs.inputs(np.array([0, 2, 1]), 3))
>>> [h.name for h in trace.outputs[2][1:]], trace.outputs[2][3].shape
(['h₂(1)', 'h₂(2)', 'h₂(3)'], (4,))
>>> [h.name for h in trace.final_states("h")]
['h₁→(3)', 'h₁←(1)', 'h₂→(3)', 'h₂←(1)']
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

import minigrad as mg
from minigrad import Tensor
from rnn import inputs, layers
from rnn.cells import CELLS, Cell
from rnn.cells.base import tag
from rnn.layout import Slot, slots, suffix

__all__ = ["Stack", "StackTrace", "Slot", "mark"]

SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
ARROWS = {"forward": "→", "reverse": "←"}


def mark(slot: Slot, bidirectional: bool) -> str:
    """What node names carry for ``slot`` before a step index: "₂", or "₂←" when the stack
    is bidirectional.

    >>> mark(Slot(2, "reverse"), True), mark(Slot(12, "forward"), False)
    ('₂←', '₁₂')
    """
    return str(slot.layer).translate(SUBSCRIPTS) + (ARROWS[slot.direction] if bidirectional
                                                     else "")


@dataclass
class StackTrace:
    """What one unroll of a stack recorded, indexed by the step t of the sequence.

    ``states[slot][name][t]`` is each state of each layer and direction after reading
    x(t), t = 1..τ; index 0 holds a forward direction's initial state, index τ+1 a backward
    one's (index 0 is None there). ``nodes[slot][t]`` are the tagged nodes of the slot's
    step t by role. ``outputs[ℓ][t]`` is layer ℓ's output at t (``outputs[0]`` is unused,
    ``outputs[ℓ][0]`` None), ``slots`` lists the slots in PyTorch's order.
    """
    slots: list[Slot]
    states: dict[Slot, dict[str, list[Tensor | None]]]
    nodes: dict[Slot, list[dict[str, Tensor] | None]]
    outputs: list[list[Tensor | None]]

    def final_states(self, name: str = "h") -> list[Tensor]:
        """State ``name`` at the end of each slot's pass, in PyTorch's ``h_n`` order: the
        forward state at τ, the backward state at 1."""
        tau = len(self.outputs[-1]) - 1
        return [self.states[s][name][tau if s.direction == "forward" else 1]
                for s in self.slots]


class Stack:
    """``layers`` recurrent layers of ``cell`` (a kind in :data:`rnn.cells.CELLS`) with
    ``hidden_size`` units per direction; the first reads ``input_size`` features (or ids),
    layer ℓ > 1 reads layer ℓ−1's output (H, or 2H when ``bidirectional``). ``options`` go
    to every cell (e.g. the LSTM's ``forget_bias``). ``part`` (e.g. "enc", "dec" in an
    encoder–decoder) goes before every node name ("dec h₁(3)") and into the tags.

    >>> Stack("gru", 4, 3, layers=2).cells[Slot(2, "forward")]
    GRUCell(input_size=3, hidden_size=3)
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, layers: int = 1,
                 bidirectional: bool = False, *, part: str | None = None, **options):
        if cell not in CELLS:
            raise KeyError(f"unknown cell {cell!r}; the cells are {sorted(CELLS)}")
        if not isinstance(bidirectional, bool):
            raise TypeError(f"bidirectional must be True or False, got {bidirectional!r}")
        self.kind, self.bidirectional, self.part = cell, bidirectional, part
        self.layers = inputs.size("layers", layers)
        self.slots = slots(self.layers, bidirectional)
        self.directions = tuple(dict.fromkeys(s.direction for s in self.slots))
        H = inputs.size("hidden_size", hidden_size)
        self.input_size, self.hidden_size = inputs.size("input_size", input_size), H
        self.output_size = H * len(self.directions)
        self.cells: dict[Slot, Cell] = {
            s: CELLS[cell](self.input_size if s.layer == 1 else self.output_size, H, **options)
            for s in self.slots}
        self.state_names = CELLS[cell].state_names

    def __repr__(self):
        return (f"Stack({self.kind!r}, input_size={self.input_size}, hidden_size="
                f"{self.hidden_size}, layers={self.layers}, bidirectional={self.bidirectional})")

    # -- parameters ---------------------------------------------------------------------------
    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's shape by name: each slot's cell's, suffixed, slot by slot."""
        return {name + suffix(s): shape for s in self.slots
                for name, shape in self.cells[s].parameter_shapes().items()}

    def init_parameters(self, rng: np.random.Generator, scale: float | None
                        ) -> dict[str, np.ndarray]:
        """Each slot's cell's initial parameters (``scale`` as the cell reads it), in order."""
        return {name + suffix(s): value for s in self.slots
                for name, value in self.cells[s].init_parameters(rng, scale).items()}

    def roles(self) -> dict[str, str]:
        """Each parameter's role tag: the cell's role of the unsuffixed name."""
        return {name + suffix(s): self.cells[s].role(name) for s in self.slots
                for name in self.cells[s].parameter_shapes()}

    def recurrent(self) -> tuple[str, ...]:
        """Every slot's recurrent weights (its cell's ``recurrent``), suffixed, slot by slot.

        >>> Stack("lstm", 4, 3, layers=2).recurrent()
        ('W_hh_l0', 'W_hh_l1')
        """
        return tuple(name + suffix(s) for s in self.slots for name in self.cells[s].recurrent)

    def symbols(self) -> dict[str, str]:
        """Each parameter's shape in letters; D is the slot's input size (2H above a
        bidirectional layer)."""
        return {name + suffix(s): symbol for s in self.slots
                for name, symbol in self.cells[s].symbols.items()}

    def sizes(self) -> str:
        """The sizes as messages write them."""
        return (f"H = {self.hidden_size}, D = {self.input_size}, L = {self.layers}"
                + (", bidirectional" if self.bidirectional else ""))

    def slot_parameters(self, params: Mapping, slot: Slot) -> dict:
        """The parameters of ``slot`` from ``params`` (tensors or arrays), by the cell's
        own names (W_hh, not W_hh_l1)."""
        return {name: params[name + suffix(slot)]
                for name in self.cells[slot].parameter_shapes()}

    def to_torch(self, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The parameter arrays in the ``state_dict`` layout of PyTorch's multi-layer
        (bidirectional) ``nn.RNN``/``nn.LSTM``/``nn.GRU`` with ``num_layers = L``: each slot's
        cell's ``*_l0`` keys renamed to ``*_l{ℓ-1}`` or ``*_l{ℓ-1}_reverse``."""
        checked = inputs.parameters(arrays, self.parameter_shapes(), self.symbols(),
                                    self.sizes())
        out = {}
        for s in self.slots:
            for key, value in self.cells[s].to_torch(self.slot_parameters(checked, s)).items():
                out[key.removesuffix("_l0") + suffix(s)] = value
        return out

    def from_torch(self, state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Parameter arrays from such a ``state_dict`` (numpy arrays), each slot checked by
        its cell; a key of no slot, or a slot's missing key, is a KeyError naming it."""
        by_slot: dict[Slot, dict] = {s: {} for s in self.slots}
        for key, value in state_dict.items():
            found = re.fullmatch(r"(.+)_l(\d+)(_reverse)?", key)
            slot = found and Slot(int(found[2]) + 1, "reverse" if found[3] else "forward")
            if slot not in by_slot:
                raise KeyError(f"state_dict key {key!r} belongs to no layer of {self!r}")
            by_slot[slot][f"{found[1]}_l0"] = value
        arrays = {}
        for s in self.slots:
            try:
                cell_arrays = self.cells[s].from_torch(by_slot[s])
            except (KeyError, ValueError) as error:
                raise type(error)(f"layer {s.layer} ({s.direction}): {error}") from None
            arrays.update({name + suffix(s): value for name, value in cell_arrays.items()})
        return arrays

    # -- the graph --------------------------------------------------------------------------
    def bind(self, params: Mapping[str, Tensor], batched: bool) -> dict[Slot, dict]:
        """Each slot's bound parameters (``cell.bind``), a batch's bias columns named like
        their parameter ("b_l1")."""
        bound = {}
        for s in self.slots:
            own = self.slot_parameters(params, s)
            bound[s] = self.cells[s].bind(own, batched)
            for name, node in bound[s].items():
                if node is not own[name]:
                    node.name = self._label(name + suffix(s))
                    node.tags.update(self._tags(s))
        return bound

    def unroll(self, params: Mapping[str, Tensor], x: inputs.Inputs | Sequence,
               state0: Sequence[Sequence[Tensor | None] | None] | None = None) -> StackTrace:
        """Unroll every layer over ``x`` with the parameter tensors ``params``. ``x``: checked
        inputs (:func:`rnn.inputs.inputs`), or the step inputs x(1..τ) as a step takes them
        (ids, or Tensors (D[, B]), e.g. to differentiate with respect to them). ``state0``
        gives, per slot in PyTorch's order, the initial state as a tuple of Tensors (or None
        for zeros, as is ``state0`` None). A given Tensor is read through a new node named
        for the slot ("h₁(0)", "h₁←(4)"), so it keeps its own name."""
        if isinstance(x, inputs.Inputs):
            step_inputs, batch = [layers.step_input(x, t) for t in range(1, x.tau + 1)], x.batch
        else:
            step_inputs = list(x)
            batch = None if np.ndim(step_inputs[0]) == (1 if isinstance(step_inputs[0], Tensor)
                                                        else 0) else np.shape(step_inputs[0])[-1]
        state0 = [None] * len(self.slots) if state0 is None else list(state0)
        if len(state0) != len(self.slots):
            raise ValueError(f"the initial state of {self!r} has one entry per layer and "
                             f"direction ({len(self.slots)}), got {len(state0)}")
        bound = self.bind(params, batch is not None)
        trace = StackTrace(self.slots, {}, {}, [[]])
        for layer in range(1, self.layers + 1):
            outs = {}
            for s in (Slot(layer, d) for d in self.directions):
                start = self._initial(s, state0[self.slots.index(s)], len(step_inputs), batch)
                outs[s.direction] = self._run(s, bound[s], step_inputs, start, trace)
            step_inputs = outs["forward"] if not self.bidirectional else [
                tag(mg.concat([f, r]), self._label(f"h{mark(Slot(layer, 'both'), False)}({t})"),
                    t, "h", **self._tags(Slot(layer, "both")))
                for t, (f, r) in enumerate(zip(outs["forward"], outs["reverse"]), start=1)]
            trace.outputs.append([None, *step_inputs])
        return trace

    def _initial(self, s: Slot, given, tau: int, batch: int | None) -> tuple[Tensor, ...]:
        cell, names = self.cells[s], self.state_names
        t0 = 0 if s.direction == "forward" else tau + 1
        if given is None:
            start = layers.initial_state(cell, None, batch)
        else:
            if len(given) != len(names):
                raise ValueError(f"the initial state of layer {s.layer} ({s.direction}) is "
                                 f"{len(names)} tensor(s) {names}, got {len(given)}")
            start = tuple(
                layers.initial_state(cell, None, batch)[k] if g is None else
                _checked(f"{n}0 of layer {s.layer} ({s.direction})", g, cell.hidden_size,
                         batch)
                for k, (n, g) in enumerate(zip(names, given)))
        m = mark(s, self.bidirectional)
        return tuple(tag(state, self._label(f"{n}{m}({t0})"), t0, n, **self._tags(s))
                     for n, state in zip(names, start))

    def _run(self, s: Slot, p, step_inputs, start, trace: StackTrace) -> list[Tensor]:
        """One slot's pass (backward: over the reversed inputs, then relabelled to the
        sequence's steps); records its states and nodes in ``trace``; returns h(1..τ)."""
        tau, forward = len(step_inputs), s.direction == "forward"
        run = layers.unroll(self.cells[s], p, step_inputs if forward else step_inputs[::-1],
                            start)
        when = (lambda k: k) if forward else (lambda k: tau + 1 - k)   # processing k → step t
        m = mark(s, self.bidirectional)
        nodes = [None, *(dict(run.nodes[k]) for k in range(1, tau + 1))]  # found before relabelling
        for k in range(1, tau + 1):
            for node in nodes[k].values():
                node.tags.update(t=when(k), **self._tags(s))
                if node.name is not None:
                    node.name = self._label(re.sub(r"\((\d+)\)",
                                                   lambda g: f"{m}({when(int(g[1]))})", node.name))
        by_step = (lambda seq: list(seq)) if forward else (lambda seq: [None, *seq[::-1]])
        trace.states[s] = {name: by_step(run.states[name]) for name in self.state_names}
        trace.nodes[s] = nodes if forward else [None, *nodes[:0:-1]]
        return trace.states[s]["h"][1:tau + 1]


    def _tags(self, s: Slot) -> dict:
        """The tags every node of slot ``s`` carries besides t and role."""
        return {"layer": s.layer, "direction": s.direction,
                **({"part": self.part} if self.part else {})}

    def _label(self, name: str) -> str:
        """A node's name, after the stack's ``part`` ("dec h₁(3)") when it has one."""
        return f"{self.part} {name}" if self.part else name


def _checked(label: str, value: Tensor, H: int, batch: int | None) -> Tensor:
    """A given initial state read through a new node (so that it keeps its own name)."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{label} must be a minigrad Tensor, got {type(value).__name__}")
    inputs.state_shape(label, value.shape, H, batch)
    inputs.finite(label, value.data)
    return mg.reshape(value, shape=value.shape)
