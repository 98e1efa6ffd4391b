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
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

import minigrad as mg
from minigrad import Tensor
from rnn import inputs
from rnn.cells.base import Cell, tag

__all__ = ["Trace", "unroll", "initial_state", "step_input"]


@dataclass
class Trace:
    """What one unroll recorded: ``states[name]`` is [s(0), s(1), ..., s(τ)] for each of the
    cell's state names, ``nodes[t]`` the tagged nodes of step t by role (None at t = 0)."""
    states: dict[str, list[Tensor]]
    nodes: list[dict[str, Tensor] | None]


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
           each_step: Callable[[int, tuple[Tensor, ...]], Mapping[str, Tensor]] | None = None
           ) -> Trace:
    """Run ``cell`` over the checked inputs ``x`` from ``state0`` (:func:`initial_state`) with
    the bound parameters ``p`` (``cell.bind``). ``each_step(t, state(t))``, when given, runs
    right after step t and returns more nodes of step t by role, recorded with the cell's
    (the model builds its head there, so the nodes are made in the chapter's order).
    ``x`` may also be the step inputs x(1..τ) themselves, as a step takes them (ids, or
    Tensors such as a lower layer's outputs, rnn.stack); the nodes of step t are then
    collected without walking into x(t).
    """
    given = not isinstance(x, inputs.Inputs)
    trace = Trace({name: [s] for name, s in zip(cell.state_names, state0)}, [None])
    state = state0
    for t in range(1, (len(x) if given else x.tau) + 1):
        x_t = x[t - 1] if given else step_input(x, t)
        state = cell.step(p, state, x_t, t)
        if not isinstance(state, tuple) or len(state) != len(cell.state_names):
            raise TypeError(f"{type(cell).__name__}.step must return a tuple of "
                            f"{len(cell.state_names)} tensors {cell.state_names}, "
                            f"got {state!r:.80}")
        for name, s in zip(cell.state_names, state):
            trace.states[name].append(s)
        trace.nodes.append(nodes_of_step(state, t, stop=[x_t] if given else ()))
        if each_step is not None:
            trace.nodes[t].update(each_step(t, state))
    return trace


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
