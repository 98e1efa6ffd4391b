"""The one time loop: any cell (rnn.cells) unrolled over τ steps into an explicit graph.

For t = 1..τ, ``state(t) = cell.step(p, state(t-1), x(t), t)``, where x(t) is the row of
token ids (gathered by the cell) or, for dense inputs, a constant node "x(t)" (D[, B]) tagged
``{"t": t, "role": "x"}``. The loop records every state (``states["h"][t]``, and
``states["c"][t]`` for an LSTM) and every tagged node of step t by role (``nodes[t]``), found
by walking back from the new state through the nodes tagged with step t.

>>> import numpy as np, minigrad as mg
>>> from rnn import inputs
>>> from rnn.cells import VanillaCell
>>> cell = VanillaCell(input_size=3, hidden_size=2)
>>> p = {n: mg.tensor(a, name=n) for n, a in
...      cell.init_parameters(np.random.default_rng(0), None).items()}
>>> x = inputs.inputs(np.array([0, 2, 1]), 3)
>>> trace = unroll(cell, cell.bind(p, batched=False), x, initial_state(cell, None, None))
>>> trace.states["h"][3].name, sorted(trace.nodes[2])
('h(3)', ['Ux', 'Wh', 'a', 'b+Wh', 'h'])

``checkpoint=`` (a number of segments, "sqrt" or a :class:`rnn.schedule.Budget`) cuts the
steps into segments (:mod:`rnn.schedule`): in each, all steps but the last are one
:func:`minigrad.checkpoint` node recomputed in backward, the last is an ordinary step,
stored. Such a trace keeps the stored steps (and state(0)) whole and nothing else:
reading another step's state or nodes raises :class:`NotKept`, naming the step and its
segment.

>>> for w in p.values():
...     w.requires_grad = True
>>> trace = unroll(cell, cell.bind(p, batched=False), x, initial_state(cell, None, None),
...                checkpoint=2)
>>> trace.schedule.stored(), trace.states["h"][3].name, sorted(trace.nodes[3])
((0, 1, 3), 'h(3)', ['Ux', 'Wh', 'a', 'b+Wh', 'h'])
>>> trace.nodes[3]["Wh"].inputs[1].name, trace.nodes[3]["Wh"].inputs[1].op
('steps 2..2', 'checkpoint')
>>> trace.states["h"][2]
Traceback (most recent call last):
rnn.layers.NotKept: h(2) is not kept: step 2 is inside the checkpointed segment 'steps 2..2', \
recomputed in backward and freed; this unroll keeps the steps 0, 1, 3 (unroll without \
checkpoint= to keep every node of every step)
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

import minigrad as mg
from minigrad import Tensor
from rnn import inputs
from rnn.cells.base import Cell, tag
from rnn.schedule import Schedule, Segment, plan

__all__ = ["Trace", "unroll", "initial_state", "step_input", "Kept", "NotKept"]


@dataclass
class Trace:
    """What one unroll recorded: ``states[name]`` is [s(0), s(1), ..., s(τ)] for each of the
    cell's state names, ``nodes[t]`` the tagged nodes of step t by role (None at t = 0).
    A checkpointed unroll has its ``schedule`` and keeps the stored steps only (both are
    then :class:`Kept`). ``losses``: given a loss role, the terms of the loss in order
    (each step's, or for a checkpointed unroll each segment node's sum and each stored
    step's)."""
    states: dict[str, Sequence[Tensor]]
    nodes: Sequence[Mapping[str, Tensor] | None]
    schedule: Schedule | None = None
    losses: list[Tensor] = field(default_factory=list)


class NotKept(LookupError):
    """A checkpointed unroll was asked for a node it did not keep (a state inside a
    segment, or any step's nodes): the message names the step and its segment."""


class Kept(Sequence):
    """[v(0), …, v(τ)] of a checkpointed unroll, indexed by step like a list: the entries
    of the steps it kept; any other step raises :class:`NotKept`. ``label`` names an
    entry in messages (``"h({t})"``).

    >>> from rnn.schedule import plan
    >>> h = Kept("h({t})", {0: "h(0)", 2: "h(2)", 4: "h(4)"}, plan(4, 2))
    >>> len(h), h[-1], h[0:3:2]
    (5, 'h(4)', ['h(0)', 'h(2)'])
    >>> h[3]
    Traceback (most recent call last):
    rnn.layers.NotKept: h(3) is not kept: step 3 is inside the checkpointed segment 'steps 3..3', \
recomputed in backward and freed; this unroll keeps the steps 0, 2, 4 (unroll without \
checkpoint= to keep every node of every step)
    """

    def __init__(self, label: str, items: dict[int, object], schedule: Schedule):
        self._label, self._items, self._schedule = label, items, schedule

    def __len__(self):
        return self._schedule.tau + 1

    def __getitem__(self, t):
        if isinstance(t, slice):
            return [self[i] for i in range(len(self))[t]]
        t = range(len(self))[t]  # negative indices count from the end; IndexError past it
        if t in self._items:
            return self._items[t]
        stored = self._schedule.stored()
        steps = ", ".join(map(str, stored)) if len(stored) <= 6 else (
            f"{', '.join(map(str, stored[:3]))}, …, {stored[-1]} ({len(stored)} steps)")
        raise NotKept(f"{self._label.format(t=t)} is not kept: step {t} is inside the "
                      f"checkpointed segment '{self._schedule.segment_of(t).name}', recomputed "
                      f"in backward and freed; this unroll keeps the steps {steps} "
                      "(unroll without checkpoint= to keep every node of every step)")


def initial_state(cell: Cell, state0, batch: int | None) -> tuple[Tensor, ...]:
    """state(0) as tensors named "h(0)", "c(0)", … and tagged ``{"t": 0, "role": name}``.

    ``state0``: None (zeros, constants), or for each state name in order an array, a Tensor
    or None; a one-state cell also takes the array or Tensor alone. Arrays become
    differentiable leaves (copied, float64), Tensors are used as they are. Each is checked
    to be (H,) for one sequence or (H, B) for a batch; the messages call them h0, c0, ….
    """
    names = cell.state_names
    if state0 is None:
        state0 = (None,) * len(names)
    elif isinstance(state0, (Tensor, np.ndarray)) and len(names) == 1:
        state0 = (state0,)
    if not isinstance(state0, Sequence) or isinstance(state0, str) or len(state0) != len(names):
        raise ValueError(f"the initial state of the {cell.kind} cell is {len(names)} "
                         f"array(s) ({', '.join(n + '0' for n in names)}), got {state0!r:.80}")
    return tuple(_initial(f"{name}0", name, value, cell.hidden_size, batch)
                 for name, value in zip(names, state0))


def _initial(label: str, name: str, value, H: int, batch: int | None) -> Tensor:
    if value is None:
        value = mg.tensor(np.zeros((H,) if batch is None else (H, batch)))
    elif isinstance(value, Tensor):
        inputs.state_shape(label, value.shape, H, batch)
        inputs.finite(label, value.data)
    else:
        value = mg.tensor(inputs.state(label, value, H, batch), requires_grad=True)
    return value.named(f"{name}(0)", t=0, role=name)


def step_input(x: inputs.Inputs, t: int):
    """x(t) as a step takes it: the ids of step t, or a constant node "x(t)" (D[, B])."""
    x_t = x.x[t - 1]
    if x.tokens:
        return x_t
    return tag(mg.tensor(x_t if x.batch is None else x_t.T), f"x({t})", t, "x")


def unroll(cell: Cell, p: Mapping[str, Tensor], x: inputs.Inputs | Sequence,
           state0: tuple[Tensor, ...],
           each_step: Callable[[Mapping[str, Tensor], int, tuple[Tensor, ...]],
                               Mapping[str, Tensor]] | None = None, *,
           checkpoint=None, loss: str | Callable | None = None) -> Trace:
    """Run ``cell`` over the checked inputs ``x`` from ``state0`` (:func:`initial_state`) with
    the bound parameters ``p`` (``cell.bind``). ``each_step(p, t, state(t))``, when given,
    runs right after step t and returns more nodes of step t by role, recorded with the
    cell's (the model builds its head there, so the nodes are made in the chapter's order);
    every tensor it reads that needs a gradient must come from ``p`` (which may hold more
    than the cell's parameters), so that a checkpointed segment is a function of its inputs.

    ``checkpoint``: None (every node kept), or a schedule (:func:`rnn.schedule.plan`): the
    recomputed steps of each segment are one :func:`minigrad.checkpoint` node over (state,
    ``p``), its stored step an ordinary step. The segment's node returns its last state and,
    given ``loss`` (a role of ``each_step``'s nodes, "L_t" for the head), that role summed
    over its steps; ``Trace.losses`` lists these sums and the stored steps' terms in order.
    ``loss`` may instead be a function ``loss(p, ts, h)`` of the steps ts and their states
    h(t) giving their loss at once (the model's fused head): each segment's node returns it
    for its steps, and the last entry of ``Trace.losses`` is the stored steps'.
    The loop runs with automatic garbage collection paused (:mod:`minigrad.collector`).

    ``x`` may also be the step inputs x(1..τ) themselves, as a step takes them (ids, or
    Tensors such as a lower layer's outputs, rnn.stack); the nodes of step t are then
    collected without walking into x(t).
    """
    tau = x.tau if isinstance(x, inputs.Inputs) else len(x)
    schedule = plan(tau, checkpoint)
    trace = Trace({name: {0: s} for name, s in zip(cell.state_names, state0)}, {0: None},
                  schedule)
    state = state0
    with mg.collection_paused():  # a long graph is built: see minigrad.collector
        for segment in (Segment(t, t) for t in range(1, tau + 1)) if schedule is None else (
                schedule.segments):
            if len(segment) > 1:
                state, part = _segment_node(cell, p, x, state, segment, each_step, loss)
                if part is not None:
                    trace.losses.append(part)
            t = segment.stop
            state, trace.nodes[t] = _kept_step(cell, p, x, state, t, each_step)
            for name, s in zip(cell.state_names, state):
                trace.states[name][t] = s
            if isinstance(loss, str):
                trace.losses.append(trace.nodes[t][loss])
        if callable(loss):  # the stored steps' loss at once
            kept = range(1, tau + 1) if schedule is None else schedule.stored()[1:]
            h = trace.states[cell.state_names[0]]
            trace.losses.append(loss(p, list(kept), [h[t] for t in kept]))
    if schedule is None:
        trace.states = {name: list(steps.values()) for name, steps in trace.states.items()}
        trace.nodes = list(trace.nodes.values())
    else:
        trace.states = {name: Kept(f"{name}({{t}})", steps, schedule)
                        for name, steps in trace.states.items()}
        trace.nodes = Kept("the nodes of step {t}", trace.nodes, schedule)
    return trace


def _step(cell: Cell, p, state: tuple[Tensor, ...], x_t, t: int) -> tuple[Tensor, ...]:
    """state(t) = cell.step(state(t-1), x(t)), checked to be one tensor per state."""
    state = cell.step(p, state, x_t, t)
    if not isinstance(state, tuple) or len(state) != len(cell.state_names):
        raise TypeError(f"{type(cell).__name__}.step must return a tuple of "
                        f"{len(cell.state_names)} tensors {cell.state_names}, "
                        f"got {state!r:.80}")
    return state


def _input(x, t: int):
    """x(t) as a step takes it, from checked inputs or from the given step inputs."""
    return step_input(x, t) if isinstance(x, inputs.Inputs) else x[t - 1]


def _kept_step(cell: Cell, p, x, state, t: int, each_step):
    """Step t as the graph keeps it: (state(t), every tagged node of step t by role)."""
    x_t = _input(x, t)
    state = _step(cell, p, state, x_t, t)
    nodes = StepNodes(state, t, () if isinstance(x, inputs.Inputs) else (x_t,),
                      {} if each_step is None else each_step(p, t, state))
    return state, nodes


class StepNodes(Mapping):
    """The tagged nodes of step t by role: ``given`` (the head's) at once, the cell's found
    by :func:`nodes_of_step` from state(t) when first read (the graph does not change, so
    the walk can wait; a training step that reads none of them never walks)."""

    __slots__ = ("_walk", "_given", "_found")

    def __init__(self, state, t: int, stop: tuple, given: dict):
        self._walk, self._given, self._found = (state, t, stop), given, None

    def _nodes(self) -> dict:
        if self._found is None:
            self._found = {**nodes_of_step(*self._walk), **self._given}
        return self._found

    def __getitem__(self, role: str) -> Tensor:
        return self._given[role] if role in self._given else self._nodes()[role]

    def __iter__(self):
        return iter(self._nodes())

    def __len__(self) -> int:
        return len(self._nodes())


def _segment_node(cell: Cell, p, x, state, segment: Segment, each_step, loss):
    """The recomputed steps of ``segment`` as one checkpoint node over (state, p):
    (state(stop − 1), their loss sum or None), cut from the node."""
    names, n = list(p), len(state)

    def steps(*tensors):
        return _recomputed(cell, dict(zip(names, tensors[n:])), x, tensors[:n], segment,
                           each_step, loss)

    outs = mg.checkpoint(steps, *state, *p.values(), name=segment.name)
    single = isinstance(outs, Tensor)  # one output is the node itself: the state h(stop − 1)
    node = outs if single else outs[0]
    while node.op == "reshape" or node.op == "getitem":  # several are cut from the node
        node = node.inputs[0]
    if node.op == "checkpoint":  # (no_grad: fn just ran) tagged for drawings, rnn.draw
        role = cell.state_names[0] if single else "segment"
        node.tags.update(t=segment.stop - 1, role=role, segment=(segment.start, segment.stop - 1))
    if single:
        return (outs,), None
    return tuple(outs[:n]), outs[n] if loss is not None else None


def _recomputed(cell: Cell, p, x, state, segment: Segment, each_step, loss):
    """Steps segment.start..stop − 1 from ``state`` (through the segment's parts, each a
    checkpoint node and a kept step, when it has parts): state(stop − 1), and with
    ``loss`` the sum of that role over the steps, named "L(start..stop − 1)"."""
    terms, kept = [], {}
    for part in segment.parts or (Segment(t, t) for t in range(segment.start, segment.stop)):
        if len(part) > 1:
            state, term = _segment_node(cell, p, x, state, part, each_step, loss)
            terms.append(term)
        state = _step(cell, p, state, _input(x, part.stop), part.stop)
        kept[part.stop] = state[0]
        if each_step is not None:  # the step's nodes are not kept: only the loss's is read
            nodes = each_step(p, part.stop, state)
            if isinstance(loss, str):
                terms.append(nodes[loss])
    if loss is None:
        return state[0] if len(state) == 1 else tuple(state)  # one output: the node itself
    if callable(loss):
        terms.append(loss(p, list(kept), list(kept.values())))
    total = mg.stack(terms).sum().named(f"L({segment.start}..{segment.stop - 1})",
                                         role="L_segment")
    return (*state, total)


def nodes_of_step(outputs: Sequence[Tensor], t: int, stop: Sequence = ()) -> dict[str, Tensor]:
    """Every node tagged with step t that ``outputs`` depend on, by role: the walk goes back
    through nodes without a step tag (a batch's bias columns) and stops at other steps' nodes
    (state(t-1)), at leaves and at the nodes in ``stop``. Two nodes of one step with one role
    are an error."""
    found, stack, seen = {}, list(outputs), {id(node) for node in stop}
    while stack:
        node = stack.pop()
        if id(node) in seen or node.tags.get("t", t) != t:
            continue
        seen.add(id(node))
        if "t" not in node.tags:
            stack.extend(node.inputs)
            continue
        role = node.tags.get("role")
        if role in found and found[role] is not node:
            raise ValueError(f"two nodes of step {t} have the role {role!r}: "
                             f"{found[role].name!r} and {node.name!r}")
        found[role] = node
        stack.extend(node.inputs)
    return found
