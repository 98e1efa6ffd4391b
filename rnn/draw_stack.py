"""Drawings of stacked, bidirectional and encoder–decoder graphs (rnn.deep, rnn.seq2seq),
read from the nodes' tags (t, layer, direction, part, role) and names only.

:func:`draw_stack_unrolled` nests clusters: one per step t, inside it one per layer ℓ, inside
that one per direction (→, ←), holding that slot's nodes of step t (every named or tagged
node of the cell, or only its states with ``cells=False``); a bidirectional layer's output
[h→(t); h←(t)] sits in the layer's cluster, the head's o(t) and L(t) in the step's. Edges
join each drawn node to the nearest drawn nodes it was computed from (parameters and the
untagged glue between nodes are left out). :func:`draw_stack_folded` draws the network as
the book does (Deep Learning Fig. 10.11, 10.13): one box per layer and direction with its
recurrence as a loop (h(t−1) → h(t) forward, h(t+1) → h(t) backward), the stack from x to o.

>>> import numpy as np
>>> from rnn.deep import StackedModel
>>> model = StackedModel("gru", 3, 2, 3, layers=2, bidirectional=True)
>>> graph = model.unroll(np.array([0, 2]), np.array([1, 1]))
>>> dot = draw_stack_unrolled(graph, cells=False)
>>> sorted(c for c in dot.source.split() if c.startswith('"cluster_t2'))[:3]
['"cluster_t2"', '"cluster_t2_l1"', '"cluster_t2_l1_forward"']
>>> "h₁←(2)" in draw_stack_unrolled(graph).source, "loop" in draw_stack_folded(graph).source
(True, True)
"""
from __future__ import annotations

import re
from collections import defaultdict

from minigrad import Tensor
from minigrad.draw import escape, statement
from rnn.stack import ARROWS, StackTrace

__all__ = ["draw_stack_unrolled", "draw_stack_folded"]

STYLE = {"h": {"fillcolor": "#dbe9f6"}, "c": {"fillcolor": "#fde2c8"},
         "o": {"fillcolor": "#fff3b0"}, "L_t": {"fillcolor": "#f6d5d5"},
         "x": {"fillcolor": "#eeeeee"}}


def _traces(graph) -> list[StackTrace]:
    """The stack traces of a graph: a stacked model's one, an encoder–decoder's encoder
    passes and decoder."""
    return [graph.stack] if hasattr(graph, "stack") else [*graph.encoders, graph.decoder]


def _cluster(trace: StackTrace, node: Tensor, t: int) -> tuple:
    """Where a node goes: (step, part, layer, direction); None parts for the head."""
    tags = node.tags
    return (t, tags.get("part"), tags.get("layer"), tags.get("direction"))


def _drawn(graph, cells: bool) -> dict[Tensor, tuple]:
    """Every node to draw and its cluster key."""
    drawn = {}
    for trace in _traces(graph):
        tau = len(trace.outputs[1]) - 1
        for s in trace.slots:
            for t in range(1, tau + 1):
                for role, node in trace.nodes[s][t].items():
                    if cells or role in trace.states[s]:
                        drawn[node] = _cluster(trace, node, t)
            start = 0 if s.direction == "forward" else tau + 1
            for name in trace.states[s]:
                drawn[trace.states[s][name][start]] = _cluster(trace, trace.states[s][name][start],
                                                               start)
        for layer, outputs in enumerate(trace.outputs[1:], start=1):
            for t, node in enumerate(outputs[1:], start=1):
                drawn.setdefault(node, _cluster(trace, node, t))
    for states in getattr(graph, "context", []):       # an encoder's final states
        for node in states:
            drawn[node] = (node.tags["t"], "enc", node.tags["layer"], node.tags["direction"])
    for nodes in (graph.o, graph.L):
        for t, node in enumerate(nodes[1:], start=1):
            if node is not None:
                drawn[node] = (t, None, None, None)
    return drawn


def _sources(node: Tensor, drawn: dict, memo: dict) -> list[Tensor]:
    """The nearest drawn nodes ``node`` was computed from, through undrawn op nodes."""
    found = []
    for x in node.inputs:
        if x in drawn:
            found.append(x)
        elif x.op is not None:
            if id(x) not in memo:
                memo[id(x)] = _sources(x, drawn, memo)
            found.extend(memo[id(x)])
    return list(dict.fromkeys(found))


def _label(node: Tensor) -> str:
    shape = "×".join(map(str, node.shape)) or "scalar"
    return f"{node.name or node.tags.get('role', '?')}\n{shape}"


def draw_stack_unrolled(graph, *, cells: bool = True, name: str = "stack"):
    """A ``graphviz.Digraph`` of a stacked model's or an encoder–decoder's unrolled graph
    (``graph`` from :meth:`rnn.deep.StackedModel.unroll` or :meth:`rnn.seq2seq.Seq2Seq.unroll`)
    in clusters per step, layer and direction; ``cells=False`` draws only the states."""
    import graphviz

    drawn = _drawn(graph, cells)
    ids = {node: f"n{i}" for i, node in enumerate(drawn)}
    clusters: dict[tuple, list[Tensor]] = defaultdict(list)
    for node, key in drawn.items():
        clusters[key].append(node)
    lines = []
    for t in sorted({k[0] for k in clusters}):
        lines.append(f'subgraph "cluster_t{t}" {{\nlabel="{escape(_step_title(t))}"\n')
        for part in sorted({k[1] for k in clusters if k[0] == t}, key=str):
            prefix = f"cluster_t{t}" + (f"_{part}" if part else "")
            if part:
                lines.append(f'subgraph "{escape(prefix)}" {{\nlabel="{escape(part)}"\n')
            for layer in sorted({k[2] for k in clusters if k[:2] == (t, part) and k[2]}):
                lines.append(f'subgraph "{escape(prefix)}_l{layer}" {{\n'
                             f'label="layer {layer}"\n')
                for direction in ("forward", "reverse", "both"):
                    key = (t, part, layer, direction)
                    if key not in clusters:
                        continue
                    inner = direction != "both"
                    if inner:
                        lines.append(f'subgraph "{escape(prefix)}_l{layer}_{direction}" {{\n'
                                     f'label="{ARROWS[direction]}"\n')
                    lines.extend(_node(n, ids[n]) for n in clusters[key])
                    if inner:
                        lines.append("}\n")
                lines.append("}\n")
            if part:
                lines.append("}\n")
        lines.extend(_node(n, ids[n]) for n in clusters.get((t, None, None, None), []))
        lines.append("}\n")
    memo = {}
    for node in drawn:
        lines.extend(statement(ids[x], {}, head=ids[node]) for x in _sources(node, drawn, memo))
    dot = graphviz.Digraph(graphviz.nohtml(escape(name)))
    dot.attr(rankdir="BT", compound="true")
    dot.attr("node", shape="box", style="rounded,filled", fillcolor="white",
             fontname="Helvetica", fontsize="10")
    dot.attr("edge", arrowsize="0.6")
    dot.body.extend(lines)
    return dot


def _named_roles(nodes: dict[str, Tensor]) -> list[str]:
    """The roles of a step's nodes named after their role (h₁(3), f₂←(3)): the cell's states,
    gates and candidates, not its intermediate products."""
    return sorted(role for role, node in nodes.items()
                  if node.name and re.match(rf"(\w+ )?{re.escape(role)}[₀-₉]", node.name))


def _step_title(t: int) -> str:
    return "start" if t == 0 else f"step {t}"


def _node(node: Tensor, node_id: str) -> str:
    return statement(node_id, {"label": _label(node), **STYLE.get(node.tags.get("role"), {})})


def draw_stack_folded(graph, *, name: str = "folded"):
    """A ``graphviz.Digraph`` of the network ``graph`` was unrolled from, folded: x(t), then
    per part (encoder, decoder) each layer's boxes, one per direction, each with its
    recurrence as a loop edge ("t−1" forward, "t+1" backward) and its cell's nodes by role,
    a bidirectional layer's concatenation, and the head o(t), L(t). Read from the tags."""
    import graphviz

    lines, previous = [statement("x", {"label": "x(t)", **STYLE["x"]})], ["x"]
    for trace in _traces(graph):
        part = trace.slots and next(iter(trace.nodes[trace.slots[0]][1].values())).tags.get("part")
        for layer in sorted({s.layer for s in trace.slots}):
            boxes = []
            for s in (s for s in trace.slots if s.layer == layer):
                box = f"{part or ''}l{layer}{s.direction}"
                roles = " ".join(_named_roles(trace.nodes[s][1]))
                title = f"{part + ' ' if part else ''}layer {layer} {ARROWS[s.direction]}"
                lines.append(statement(box, {"label": f"{title}\n{roles}", **STYLE["h"]}))
                loop = "t−1" if s.direction == "forward" else "t+1"
                lines.append(statement(box, {"label": f"loop {loop}"}, head=box))
                lines.extend(statement(p, {}, head=box) for p in previous)
                if part == "dec":
                    lines.append(statement("context", {"style": "dashed"}, head=box))
                boxes.append(box)
            if len(boxes) > 1:
                join = f"{part or ''}l{layer}both"
                lines.append(statement(join, {"label": f"layer {layer}: [h→(t); h←(t)]"}))
                lines.extend(statement(b, {}, head=join) for b in boxes)
                boxes = [join]
            previous = boxes
        if part == "enc":
            lines.append(statement("context", {"label": "each layer's final states: the "
                                                          "decoder's h(0)"}))
            lines.extend(statement(f"encl{layer}forward", {"style": "dashed"}, head="context")
                         for layer in sorted({s.layer for s in trace.slots}))
            previous = ["y_in"]
            lines.append(statement("y_in", {"label": "y(t−1), ⟨s⟩ first", **STYLE["x"]}))
    lines.append(statement("o", {"label": "o(t) = c + V h(t)", **STYLE["o"]}))
    lines.extend(statement(p, {}, head="o") for p in previous)
    lines.append(statement("L", {"label": "L(t)", **STYLE["L_t"]}))
    lines.append(statement("o", {}, head="L"))
    dot = graphviz.Digraph(graphviz.nohtml(escape(name)))
    dot.attr(rankdir="BT")
    dot.attr("node", shape="box", style="rounded,filled", fillcolor="white",
             fontname="Helvetica", fontsize="10")
    dot.attr("edge", fontname="Helvetica", fontsize="9")
    dot.body.extend(lines)
    return dot
