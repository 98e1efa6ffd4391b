"""Pictures of an unrolled recurrent network, as in the seed's figure (Deep Learning, Fig. 10.3),
for any cell: the vanilla RNN, the LSTM, the GRU.

Both views are derived from the real graph by its tags, never drawn by hand:
:func:`role_graph` contracts the op-level graph to its named variables — x(t), the
cell's states h(t) (and c(t)), its gates and candidates (i f g q, r z n), o(t), L(t),
y(t), L — and labels each contracted edge with the parameters it multiplies by (``W`` on
h(t-1) → h(t)). :func:`draw_unrolled` draws one cluster per time step (a gated cell's
internals drawn, or collapsed into one box per step); :func:`draw_folded` merges the steps
by role into the recurrent loop. A checkpointed graph (``unroll(..., checkpoint=...)``) is
drawn as it is kept: one cluster per segment, its recomputed steps one dashed box and its
last step, stored, drawn whole. The graph is only read. Every node and edge is written
with :func:`minigrad.draw.statement`, which escapes all text, so a tensor name never
becomes markup.

>>> import numpy as np
>>> from rnn import RNN
>>> graph = RNN(4, 3, 4, seed=0).unroll(np.array([0, 2, 1]), np.array([2, 1, 3]))
>>> draw_unrolled(graph).source.count("subgraph cluster_")
3
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from minigrad import Tensor
from minigrad.draw import NONFINITE, HeatScale, Html, escape, grad_norm, nonfinite, statement, walk
from rnn.model import Unrolled

__all__ = ["RoleGraph", "role_graph", "draw_unrolled", "draw_folded"]

HEAD_KINDS = ("o", "L_t", "L")             # the head's variables; y(t) comes from L(t)'s tags
GATES = ("sigmoid", "tanh")                # the ops of a cell's gates and candidates
PRODUCTS = ("Wh",)   # a gated cell's one W_hh h(t-1) per step, drawn once, feeding its gates
PARAMETER_COLOURS = {"U": "#1f6fb4", "W": "#c62828", "V": "#2e7d32", "b": "#6a3d9a", "c": "#8d5524",
                     "W_ih": "#1f6fb4", "W_hh": "#c62828", "b_ih": "#6a3d9a", "b_hh": "#b0489c"}
OTHER_COLOURS = ("#00838f", "#ef6c00", "#5d4037", "#455a64")   # parameters not named above
STYLE = {
    "x": dict(shape="ellipse", fillcolor="#d9ead3"),
    "y": dict(shape="ellipse", fillcolor="#fce5cd"),
    "h": dict(shape="ellipse"), "o": dict(shape="ellipse"), "L_t": dict(shape="ellipse"),
    "L": dict(shape="ellipse", fillcolor="#fff2cc", peripheries="2"),
    "state": dict(shape="ellipse", fillcolor="#eeeeee"),
    "gate": dict(shape="box", style="rounded,filled", fillcolor="#fdf6e3"),
    "product": dict(shape="box", style="rounded,filled", fillcolor="#fbe9e7"),
    "cell": dict(shape="box", style="rounded,filled,bold", fillcolor="#fdf6e3"),
    "param": dict(shape="box", style="rounded,filled,bold", fillcolor="#cfe2f3"),
    "middle": dict(shape="box", style="rounded,filled,dashed", fillcolor="#f3f3f3"),
    "segment": dict(shape="box", style="rounded,filled,dashed", fillcolor="#e8eaf6",
                    color="#3949ab"),
}

Key = tuple  # (kind, t): ("h", 3), ("L", None)


@dataclass
class RoleGraph:
    """The unrolled graph contracted to its named variables.

    ``nodes`` maps ``(kind, t)`` to the tensor; the kinds are x, the cell's states
    (``states``: h, and c for an LSTM), its gates and candidates (``gates``: the named
    σ and tanh nodes of a step, i f g q for an LSTM, r z n for a GRU, none for the
    vanilla cell), ``products`` (a gated cell's recurrent product W_hh h(t-1), kind "Wh": one
    node per step feeding every gate, none for the vanilla cell, whose W h(t-1) feeds h(t)
    alone), and the head's o, L_t, L. A token input x(t) is its gather node
    ``U x(t)`` (tag ``x`` = the token). In a checkpointed graph each segment's checkpoint
    node is ``("segment", e)``, e its last recomputed step (``segments[e]`` = (first, e)),
    and the states it hands on are keys at step e. ``edges`` are ``(source key, target key,
    parameters)``: h(t-1) → h(t) carries ``("W",)``. ``biases[key]`` names parameters
    added at a node (b at h(t), c at o(t)); ``uses[name]`` is the sorted steps using a
    parameter; ``params`` the parameter leaves (matrices first, then biases, each in the
    order the model made them); ``targets[t]`` is y(t).
    """
    nodes: dict[Key, Tensor] = field(default_factory=dict)
    edges: list[tuple[Key, Key, tuple[str, ...]]] = field(default_factory=list)
    biases: dict[Key, tuple[str, ...]] = field(default_factory=dict)
    uses: dict[str, list[int]] = field(default_factory=dict)
    params: dict[str, Tensor] = field(default_factory=dict)
    targets: dict[int, np.ndarray] = field(default_factory=dict)
    tau: int = 0
    states: tuple[str, ...] = ("h",)
    gates: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    cell: str = "RNN"
    segments: dict[int, tuple[int, int]] = field(default_factory=dict)

    def segment_of(self, t) -> int | None:
        """The last step of the recomputed segment holding step t, or None."""
        for first, last in self.segments.values():
            if t is not None and first <= t <= last:
                return last
        return None

    def colour(self, name: str) -> str:
        """The colour of parameter ``name`` in edges and the table."""
        others = [p for p in self.params if p not in PARAMETER_COLOURS]
        return PARAMETER_COLOURS.get(name) or OTHER_COLOURS[others.index(name) % len(OTHER_COLOURS)]

    def product(self, kind: str) -> str:
        """What a product kind multiplies, from its edge in: "W_hh h(t-1)"."""
        source, _, params = next(e for e in self.edges if e[1][0] == kind)
        return f"{' '.join(params)} {_pattern(source, previous=True)}"

    def fed(self, kind: str) -> list[str]:
        """The kinds ``kind`` feeds, products looked through (W_hh h(t-1) → i, f, g, q)."""
        into = dict.fromkeys(t[0] for s, t, _ in self.edges if s[0] == kind)
        return [k for i in into for k in (self.fed(i) if i in self.products else [i])]


@dataclass(frozen=True)
class _Kinds:
    """What each tensor of an unrolled graph is, from its tags (and, for gates, its op);
    with ``products`` (a gated cell) the recurrent product W_hh h(t-1) is one too."""
    states: tuple[str, ...]
    products: bool = False

    def kind(self, t: Tensor) -> str | None:
        role, step = t.tags.get("role"), t.tags.get("t")
        if "segment" in t.tags:               # a checkpoint node (rnn.layers)
            return "segment"
        if "x" in t.tags or role == "x":      # one-hot input: U x(t) gathers a column of U
            return "x"
        if role in HEAD_KINDS or (role in self.states and step is not None):
            return role
        if t.op in GATES and step is not None and t.name == f"{role}({step})":
            return role                       # a gate or candidate: i(3), z(3), n(3)
        if self.products and role in PRODUCTS and step is not None:
            return role                       # W_hh h(t-1), feeding every gate
        return None

    def inner(self, kind: str | None) -> bool:
        """A gate or candidate, or a product: a node of the cell, not its state or head."""
        return kind not in (None, *self.states, *HEAD_KINDS, "x", "segment")

    def parameter(self, t: Tensor) -> str | None:
        """The parameter t is, or is a view of (batched biases are reshaped)."""
        role = t.tags.get("role")
        if role is None or "t" in t.tags or role in HEAD_KINDS:
            return None
        leaf = t
        while leaf.op is not None and len(leaf.inputs) == 1:
            leaf = leaf.inputs[0]
        return role if leaf.op is None and leaf.requires_grad else None

    def key(self, t: Tensor) -> Key:
        return self.kind(t), t.tags.get("t")


def _state_names(graph: Unrolled) -> tuple[str, ...]:
    """The cell's states, h first: the unrolled graph's ``states`` (h alone without them)."""
    return tuple(getattr(graph, "states", None) or ("h",))


def role_graph(graph: Unrolled, cell: str | None = None) -> RoleGraph:
    """Contract ``graph`` to its named variables, reading only tags, ops and inputs;
    ``cell`` (the model's kind, "lstm") names it in titles: by default "RNN" for a graph
    with one state and no gates (the vanilla cell's), else "recurrent network".

    >>> import numpy as np
    >>> from rnn import RNN
    >>> g = role_graph(RNN(4, 3, 4).unroll(np.array([1, 2]), np.array([0, 3])))
    >>> [(s, t, p) for s, t, p in g.edges if t == ("h", 2)]
    [(('x', 2), ('h', 2), ('U',)), (('h', 1), ('h', 2), ('W',))]
    >>> g.biases[("o", 2)], g.uses["W"]
    (('c',), [1, 2])
    """
    kept = graph.kept_steps()
    roots = [graph.loss] if graph.loss is not None else [*(graph.o[t] for t in kept),
                                                          graph.h[-1]]
    kinds = _Kinds(_state_names(graph))
    gated = any(kinds.inner(kinds.kind(n)) for n in graph.nodes[kept[0]].values())
    kinds = _Kinds(kinds.states, products=gated)
    rg, uses = RoleGraph(tau=graph.tau, states=kinds.states), defaultdict(set)
    edges, gates = {}, {}              # an input used twice (z in GRU's h(t)) is one edge
    for v in walk(roots):
        for m in v.inputs:
            name = kinds.parameter(m)
            if name is not None:
                leaf = m
                while leaf.op is not None:
                    leaf = leaf.inputs[0]
                rg.params.setdefault(name, leaf)
        kind = kinds.kind(v)
        if kind is None:
            continue
        key = kinds.key(v)
        rg.nodes[key] = v
        if kind == "segment":               # its steps use every parameter it takes
            rg.segments[key[1]] = v.tags["segment"]
            for m in v.inputs:
                if kinds.parameter(m) is not None:
                    uses[kinds.parameter(m)].update(range(v.tags["segment"][0], key[1] + 1))
        if kinds.inner(kind):
            gates.setdefault(kind, v.seq)
        if "y" in v.tags:
            rg.targets[key[1]] = np.asarray(v.tags["y"])
        if kind == "x":
            continue
        biases, stack, seen = [], [v], {v}
        while stack:                            # back through the unnamed ops to the sources
            n = stack.pop()
            names = [kinds.parameter(m) for m in n.inputs]
            params = tuple(dict.fromkeys(p for p in names if p is not None))
            for m, name in zip(n.inputs, names):
                kind = kinds.kind(m)
                if name is not None:
                    if n.op == "add":                      # added, not multiplying a source
                        biases.append(name)
                        uses[name].add(key[1])
                elif kind is not None:                     # a source: the edge m → v
                    gathered = (kinds.parameter(p) for p in m.inputs) if kind == "x" else ()
                    added = params if n.op not in ("add", "checkpoint") else ()
                    labels = tuple(dict.fromkeys((*added, *filter(None, gathered))))
                    edges.setdefault((kinds.key(m), key), []).extend(labels)
                    for p in labels:
                        uses[p].add(key[1])
                elif m not in seen:
                    seen.add(m)
                    stack.append(m)
        if biases:
            rg.biases[key] = tuple(dict.fromkeys(biases))
    order = sorted(rg.params, key=lambda n: (rg.params[n].ndim < 2, rg.params[n].seq))
    rg.params = {name: rg.params[name] for name in order}
    rg.edges = [(s, t, tuple(dict.fromkeys(ps))) for (s, t), ps in edges.items()]
    rg.biases = {key: tuple(sorted(ps, key=order.index)) for key, ps in rg.biases.items()}
    made = sorted(gates, key=gates.get)                   # in the order a step makes them
    rg.gates = tuple(k for k in made if k not in PRODUCTS)
    rg.products = tuple(k for k in made if k in PRODUCTS)
    rg.segments = dict(sorted(rg.segments.items()))
    vanilla = not rg.gates and rg.states == ("h",)
    rg.cell = cell.upper() if cell else "RNN" if vanilla else "recurrent network"
    rg.uses = {name: sorted(t for t in steps if t is not None) for name, steps in uses.items()}
    return rg


# -- shared pieces -------------------------------------------------------------------------

def _new_digraph(name: str, rankdir: str):
    import graphviz
    dot = graphviz.Digraph(name)
    dot.attr(rankdir=rankdir, nodesep="0.25", ranksep="0.35",
             fontname="Helvetica")
    dot.attr("node", style="filled", fillcolor="white", fontname="Helvetica", fontsize="12",
             margin="0.05,0.03", height="0.3")
    dot.attr("edge", fontname="Helvetica", fontsize="11", arrowsize="0.7")
    return dot


def _edge_attrs(rg: RoleGraph, params: tuple[str, ...]) -> dict:
    if not params:
        return {}
    colour = rg.colour(params[0])
    return dict(label=" ".join(params), fontcolor=colour, color=colour)


def _style(rg: RoleGraph, kind: str) -> dict:
    """The look of a kind of node: the seed's variables as they were, other states (an
    LSTM's c) grey, gates and candidates as small boxes."""
    if kind in STYLE:
        return STYLE[kind]
    if kind in rg.products:
        return STYLE["product"]
    return STYLE["gate" if kind in rg.gates else "state"]


def _text(value: np.ndarray) -> str:
    value = np.asarray(value)
    return str(value.item()) if value.size == 1 else str(value.tolist())


def _node_label(kind: str, t, tensor: Tensor, norm, show_grads: bool) -> str:
    if kind == "x":
        text = f"x({t}) = {_text(tensor.tags['x'])}" if "x" in tensor.tags else f"x({t})"
    else:
        text = tensor.name or {"L_t": f"L({t})"}.get(kind, kind)
    if nonfinite(norm):
        return f"{text}\ngrad {nonfinite(norm)}!"
    if show_grads and norm is not None and kind != "x":
        return f"{text}\n‖grad‖ {norm:.1e}"
    return text


def _params_table(rg: RoleGraph, scale: HeatScale | None, tau_text: str) -> str:
    """An HTML-like table: one row per parameter with its shape, where it is used
    and in how many steps (read from the graph), coloured by its gradient."""
    order = _step_kinds(rg, cells=False)
    sources, targets = {}, defaultdict(list)
    for source, target, params in rg.edges:
        for p in params:
            previous = source[1] is not None and target[1] is not None and source[1] < target[1]
            sources.setdefault(p, _pattern(source, previous))
            targets[p].extend(rg.fed(target[0]) if target[0] in rg.products else [target[0]])
    for key, params in rg.biases.items():
        for p in params:
            sources.setdefault(p, "added in")
            targets[p].append(key[0])
    where = {}
    for p, source in sources.items():          # x(t) → h(t); x(t) → i(t), f(t), g(t), q(t)
        kinds = sorted(set(targets[p]), key=lambda k: order.index(k) if k in order else len(order))
        into = ", ".join(_pattern((k, 1)) for k in kinds)
        where[p] = f"{source} {into}" if source == "added in" else f"{source} → {into}"
    rows = []
    for name, tensor in rg.params.items():
        steps = rg.uses.get(name, [])
        colour, bg, extra = rg.colour(name), "#cfe2f3", ""
        if scale is not None:
            bg = scale.style(grad_norm(tensor))["fillcolor"]
            colour = HeatScale.text_colour(bg)
            extra = f", ‖grad‖ {grad_norm(tensor):.1e}" if tensor.grad is not None else ""
        cell = f'<font color="{colour}"><b>{escape(name, html=True)}</b></font>'
        used = f"{len(steps)} steps" if len(steps) != 1 else "1 step"
        rows.append(f'<tr><td bgcolor="{bg}">{cell}</td><td align="left">'
                    f'{"×".join(map(str, tensor.shape))}</td><td align="left">'
                    f'{escape(where.get(name, ""), html=True)}</td>'
                    f'<td align="left">{used}{extra}</td></tr>')
    return (f'<table border="0" cellborder="1" cellspacing="0" cellpadding="3">'
            f'<tr><td colspan="4"><b>shared parameters: one tensor each, reused at every step '
            f'{tau_text}</b></td></tr>{"".join(rows)}</table>')


def _pattern(key: Key, previous: bool = False) -> str:
    kind, t = key
    name = {"L_t": "L"}.get(kind, kind)
    return name if t is None else f"{name}(t-1)" if previous else f"{name}(t)"


# -- the unrolled view ---------------------------------------------------------------------

def _same_rank_as_h(dot, node: str) -> None:
    """Put ``node`` on the rank of h(t) (one above x(t)) with an invisible stand-in
    for x, so that every spine edge is flat and dot keeps the steps in order."""
    dot.body.append(statement(f"{node}_below", {"label": "", "style": "invis", "shape": "point"}))
    dot.body.append(statement(f"{node}_below", {"style": "invis"}, head=node))


def _node_id(key: Key) -> str:
    kind, t = key
    return kind if t is None else f"{kind}_{t}".replace("L_t_", "Lt_")


@dataclass
class _Steps:
    """Which steps of ``1 … tau`` are drawn: ``shown``, and the ``middle`` ones that
    become one node (empty unless the sequence is collapsed)."""
    tau: int
    shown: list[int]
    middle: range

    @classmethod
    def of(cls, tau: int, collapse_above: int | None, keep: int,
           kept: Sequence[int] | None = None) -> "_Steps":
        """Steps 1..τ, or the ``kept`` ones (a checkpointed graph's stored steps); above
        ``collapse_above`` of them, the first and last ``keep`` and the middle."""
        kept = list(range(1, tau + 1) if kept is None else kept)
        n = len(kept)
        if collapse_above is not None and n > collapse_above and n > 2 * keep + 1:
            return cls(tau, [*kept[:keep], *kept[n - keep:]],
                       range(kept[keep - 1] + 1, kept[n - keep - 1] + 1))
        return cls(tau, kept, range(0))

    def visible(self, key: Key) -> bool:
        return key[1] is None or key[1] == 0 or key[1] not in self.middle


@dataclass
class _Ends:
    """Where an edge to or from a node of the role graph is drawn: at the node, at the
    collapsed middle ("middle"), or, with ``cells`` (gates collapsed), at the step's cell
    box ``cell_t`` for the gates and for whatever enters a state."""
    rg: RoleGraph
    steps: _Steps
    cells: bool

    def node(self, key: Key) -> str:
        if not self.steps.visible(key):
            return "middle"
        segment = self.rg.segment_of(key[1])   # a checkpoint node, or a state it hands on
        if segment is not None:
            return f"segment_{segment}"
        if self.cells and key[0] in (*self.rg.gates, *self.rg.products):
            return f"cell_{key[1]}"
        return _node_id(key)

    def edge(self, source: Key, target: Key) -> tuple[str, str] | None:
        """The drawn ends of source → target, or None if the edge is inside a cell box."""
        into_state = self.cells and target[0] in self.rg.states and target[1]
        if into_state and source[0] in self.rg.states and source[1] == target[1]:
            return None                                    # c(t) → h(t): inside the cell
        tail = self.node(source)
        head = self.node(target)
        if (into_state and head != "middle" and not head.startswith("segment_")
                and not tail.startswith("cell_")):
            head = f"cell_{target[1]}"                     # h(t-1), c(t-1), x(t) → the cell
        return None if tail == head else (tail, head)

    def spine(self, source: Key, target: Key) -> bool:
        """A state carried from step t-1 into step t (drawn thick and flat)."""
        return (source[0] in (*self.rg.states, "segment") and source[1] is not None
                and target[1] is not None and source[1] < target[1])


@dataclass
class _Paint:
    """How nodes look: gradient norms by key, the heat scale (None: no heat), whether
    labels show the norms."""
    rg: RoleGraph
    norms: dict
    scale: HeatScale | None
    show_grads: bool

    def attrs(self, kind: str, key: Key) -> dict:
        a = dict(_style(self.rg, kind))
        norm = self.norms.get(key)
        if self.scale is not None and kind not in ("x", "y"):
            a.update(self.scale.style(norm))
        elif nonfinite(norm):
            a.update(NONFINITE)
        return a

    def node(self, key: Key, **extra) -> str:
        kind, t = key
        label = _node_label(kind, t, self.rg.nodes[key], self.norms.get(key), self.show_grads)
        return statement(_node_id(key), {"label": label, **self.attrs(kind, key), **extra})


def _add_initial_states(dot, rg: RoleGraph, paint: _Paint) -> None:
    """h(0) (and c(0)), dashed when a constant (the default zeros); h(0) on the spine's rank."""
    for name in rg.states:
        if (name, 0) not in rg.nodes:
            continue
        s0 = rg.nodes[(name, 0)]
        constant = s0.op is None and not s0.requires_grad
        dot.body.append(paint.node((name, 0), **({"style": "filled,dashed"} if constant else {})))
        if name == "h":
            _same_rank_as_h(dot, "h_0")


def _add_middle(dot, steps: _Steps, paint: _Paint) -> None:
    """The collapsed steps as one node: their range, count, and the fading of ‖∂/∂h(t)‖."""
    lo, hi = steps.middle[0], steps.middle[-1]
    rows = [f"t = {lo} … {hi}", f"({len(steps.middle)} steps)"]
    hs = [paint.norms.get(("h", t)) for t in (lo, hi)]
    if paint.show_grads and None not in hs:
        rows.append(f"‖grad h‖ {hs[0]:.1e} … {hs[1]:.1e}")
    cells = "".join(f"<tr><td>{row}</td></tr>" for row in rows)
    if paint.scale is not None and None not in hs:  # a strip fading like the hidden h(t)
        first, last = (paint.scale.style(n)["fillcolor"] for n in hs)
        cells += f'<tr><td bgcolor="{first}:{last}" height="10"></td></tr>'
    label = Html(f'<<table border="0" cellspacing="0" cellpadding="2">{cells}</table>>')
    dot.body.append(statement("middle", {"label": label, **STYLE["middle"]}))
    _same_rank_as_h(dot, "middle")


def _add_segment(c, rg: RoleGraph, last: int) -> None:
    """The recomputed steps of one checkpointed segment as one dashed box, in the cluster
    of the stored step that ends the segment, on the spine's rank."""
    first, _ = rg.segments[last]
    steps = f"t = {first} … {last}" if last > first else f"t = {first}"
    label = f"{steps}\nrecomputed in backward\n(checkpoint)"
    c.body.append(statement(f"segment_{last}", {"label": label, **STYLE["segment"]}))
    _same_rank_as_h(c, f"segment_{last}")


def _param_id(rg: RoleGraph, p: str, t: int) -> str:
    """The node of parameter p's copy in step t (``c_3``, or ``c_param_3`` when the
    cell has a state c)."""
    return f"{p}_param_{t}" if p in rg.states or p in rg.gates else f"{p}_{t}"


def _step_parameters(rg: RoleGraph, ends: _Ends, t: int) -> list[tuple[str, str]]:
    """(drawn node, parameter) for each parameter that multiplies into or is added at a
    node of step t, once per drawn node."""
    used = [(target, ps) for _, target, ps in rg.edges] + list(rg.biases.items())
    pairs = [(ends.node(key), p) for key, ps in used if key[1] == t for p in ps]
    return list(dict.fromkeys(pairs))


def _step_kinds(rg: RoleGraph, cells: bool) -> list[str]:
    """The kinds drawn in a step's cluster, in order: x, the products and the gates (unless
    collapsed), the states (h last: it feeds the head), the head's o and L(t)."""
    inner = [] if cells else [*rg.products, *rg.gates]
    return ["x", *inner, *rg.states[1:], rg.states[0], "o", "L_t"]


def _add_step(dot, rg: RoleGraph, t: int, paint: _Paint, ends: _Ends, per_step: bool) -> None:
    """The cluster of step t: x(t), the cell's gates (or its box), states, o(t), L(t),
    y(t), and with ``per_step`` a copy of each parameter used there."""
    with dot.subgraph(name=f"cluster_{t}") as c:
        label = f"t = {t}"
        if t - 1 in rg.segments and ends.steps.visible(("segment", t - 1)):
            _add_segment(c, rg, t - 1)
            label = f"steps {rg.segments[t - 1][0]} … {t}: t = {t} stored"
        elif rg.segments:
            label += " (stored)"
        c.attr(label=label, style="rounded", color="#999999", fontsize="13")
        for kind in _step_kinds(rg, ends.cells):
            if (kind, t) in rg.nodes:
                c.body.append(paint.node((kind, t)))
            if kind == "x" and ends.cells:
                label = f"{rg.cell} cell({t})\n{' '.join(rg.gates)}"
                c.body.append(statement(f"cell_{t}", {"label": label, **STYLE["cell"]}))
        inputs = [f'"{_node_id((k, t))}"' for k in ("x", *rg.products) if (k, t) in rg.nodes]
        if not ends.cells and len(inputs) > 1:          # W_hh h(t-1) at the input rank
            c.body.append(f"\t{{rank=same; {'; '.join(inputs)}}}\n")
        if t in rg.targets:
            c.body.append(statement(f"y_{t}", {"label": f"y({t}) = {_text(rg.targets[t])}",
                                               **STYLE["y"]}))
        if per_step:
            for _, p in _step_parameters(rg, ends, t):
                c.body.append(statement(_param_id(rg, p, t), {"label": p, **STYLE["param"]}))


def _drawn_edges(rg: RoleGraph, ends: _Ends) -> dict[tuple[str, str], tuple[tuple[str, ...], bool]]:
    """The edges as drawn, by their ends: the parameters on them and whether they carry a
    state from step to step; with cell boxes, each box's edges out to its states."""
    drawn = {}
    for source, target, ps in rg.edges:
        if not (ends.steps.visible(source) or ends.steps.visible(target)):
            continue
        pair = ends.edge(source, target)
        if pair is None:
            continue
        labels, spine = drawn.get(pair, ((), False))
        drawn[pair] = (tuple(dict.fromkeys(labels + ps)), spine or ends.spine(source, target))
        if ends.cells and pair[1].startswith("cell_"):
            t = int(pair[1][len("cell_"):])
            for state in rg.states:
                if (state, t) in rg.nodes:
                    drawn.setdefault((pair[1], _node_id((state, t))), ((), True))
    return drawn


def _order_steps(dot, rg: RoleGraph, ends: _Ends) -> None:
    """Keep the steps left to right (and h(0), c(0) first) with a flat chain of invisible
    points under them. The vanilla picture keeps its order from its flat h spine; a cell
    with gates, whose recurrent edges go from h(t-1) down to the gates, needs this, and so
    does a checkpointed graph, whose spine goes through the segments' boxes."""
    firsts = ["h_0"] + [_node_id((s, 0)) for s in rg.states[1:] if (s, 0) in rg.nodes]
    columns = [("order_0", firsts if ("h", 0) in rg.nodes else [])]
    for t in ends.steps.shown:
        if ends.steps.middle and t == ends.steps.middle[-1] + 1:
            columns.append(("order_middle", ["middle"]))
        columns.append((f"order_{t}", [_node_id(("x", t))] if ("x", t) in rg.nodes else []))
    invisible = {"style": "invis"}
    for anchor, above in columns:
        dot.body.append(statement(anchor, {"label": "", "style": "invis", "shape": "point"}))
        for node in above:
            dot.body.append(statement(anchor, invisible, head=node))
    chain = " -> ".join(f'"{anchor}"' for anchor, _ in columns)
    dot.body.append(f"\t{{rank=same; {chain} [style=invis]}}\n")


def _add_edges(dot, rg: RoleGraph, ends: _Ends, per_step: bool) -> None:
    """The contracted edges; the spines (h(t-1) → h(t), c(t-1) → c(t), or through the cell
    boxes) thick and flat; edges into or out of the collapsed middle drawn once per pair
    of ends."""
    middle = ends.steps.middle
    for (tail, head), (ps, spine) in _drawn_edges(rg, ends).items():
        a = {} if per_step else _edge_attrs(rg, ps)
        if head == "L" and tail.startswith("segment_"):
            first, last = rg.segments[int(tail[len("segment_"):])]
            a.update(label=f"L({first}) … L({last})" if last > first else f"L({first})",
                     constraint="false")
        if spine:     # flat, not ranking; a cell box's edges out to its states do rank
            a.update(_edge_attrs(rg, ps), penwidth="2", weight="10",
                     **({} if tail.startswith(("cell_", "segment_")) else {"constraint": "false"}))
        if head == "L" and tail == "middle":  # not constraining: the middle stays on the spine
            a.update(label=f"L({middle[0]}) … L({middle[-1]})", constraint="false")
        dot.body.append(statement(tail, a, head=head))


def _add_step_inputs(dot, rg: RoleGraph, ends: _Ends, per_step: bool) -> None:
    """y(t) → L(t), and with ``per_step`` each parameter copy's dashed edge (drawn head to
    tail, dir=back, so each copy sits above its node)."""
    for t in ends.steps.shown:
        if t in rg.targets and ("L_t", t) in rg.nodes:
            dot.body.append(statement(f"y_{t}", {}, head=_node_id(("L_t", t))))
        if per_step:
            for node, p in _step_parameters(rg, ends, t):
                dot.body.append(statement(node, {
                    "dir": "back", "style": "dashed", "color": rg.colour(p)},
                    head=_param_id(rg, p, t)))


def _caption(rg: RoleGraph, steps: _Steps, scale: HeatScale | None, keep: int) -> str:
    """Below the picture: the title, the shared parameters and the heat legend."""
    tau = steps.tau
    middle = f" (steps {steps.middle[0]} … {steps.middle[-1]} collapsed)" if steps.middle else ""
    title = escape(f"unrolled {rg.cell}, τ = {tau}{middle}", html=True)
    if rg.segments:
        title += escape(f"; checkpointed in {len(rg.segments)} segment(s): dashed boxes are "
                        "recomputed in backward, the clusters are the stored steps", html=True)
    legend = (f'<td valign="top">{scale.legend("log10 ‖grad‖")[1:-1]}</td>'
              if scale is not None else "")
    table = _params_table(rg, scale, f"t = 1 … {tau}" if tau > 1 else "t = 1")
    return (f'<<table border="0" cellspacing="8"><tr><td colspan="2"><font point-size="15">'
            f'{title}</font></td></tr><tr><td valign="top">{table}</td>{legend}'
            f'</tr></table>>')


def draw_unrolled(graph: Unrolled, *, collapse_above: int | None = 12, keep: int = 3,
                  params: str = "once", heat: bool = False, show_grads: bool | None = None,
                  heat_limits: tuple[float, float] | None = None, collapse_cells: bool = False,
                  cell: str | None = None):
    """The seed's right-hand picture from the real graph: one cluster per step
    ``t = 1 … τ`` left to right, ``h(t-1) → h(t)`` along a straight spine (label
    W), x(t) → h(t) (U), h(t) → o(t) (V), o(t) → L(t) ← y(t), and the loss L
    collecting every L(t). For an LSTM or a GRU each step also holds the cell's gates
    and candidates (i f g q, r z n), fed by the step's one product W_hh h(t-1) (drawn beside
    x(t)), and its states, the spines carry h (and c) from step
    to step, and ``collapse_cells`` draws each step's cell as one box instead
    (h(t-1), c(t-1), x(t) → cell(t) → h(t), c(t)); the vanilla cell has no gates, so
    it is drawn the same either way. ``cell`` names the model in the title (see
    :func:`role_graph`).

    ``params="once"`` draws the shared parameters once, as a table saying where
    and at how many steps each is used (the step edges carry their names);
    ``params="per_step"`` also draws U, W, b and V, c inside every step.
    Above ``collapse_above`` steps (None: never) only the first and last
    ``keep`` steps are drawn and the middle becomes one ``t = 4 … τ-3`` node.
    ``heat`` (after a backward pass) colours nodes by log10 ‖∂/∂node‖ with a
    legend; ``show_grads`` (default: as ``heat``) writes the norms.

    >>> import numpy as np
    >>> from rnn import RNN
    >>> graph = RNN(4, 3, 4).unroll(np.arange(20) % 4, np.arange(20) % 4)
    >>> graph.L[20].backward()                   # ∂L(20)/∂h(t) fades as t goes back
    >>> dot = draw_unrolled(graph, heat=True)
    >>> dot.source.count("subgraph cluster_"), "t = 4 … 17" in dot.source
    (6, True)
    """
    if params not in ("once", "per_step"):
        raise ValueError(f"params must be 'once' or 'per_step', got {params!r}")
    per_step = params == "per_step"
    rg = role_graph(graph, cell)
    steps = _Steps.of(graph.tau, collapse_above, keep, graph.kept_steps())
    ends = _Ends(rg, steps, cells=collapse_cells and bool(rg.gates))
    norms = {key: grad_norm(t) for key, t in rg.nodes.items()
             if key[0] != "x" and rg.segment_of(key[1]) is None}
    scale = (HeatScale([*norms.values(), *(grad_norm(p) for p in rg.params.values())],
                       heat_limits) if heat else None)
    paint = _Paint(rg, norms, scale, heat if show_grads is None else show_grads)
    dot = _new_digraph("unrolled", "BT")
    _add_initial_states(dot, rg, paint)
    for t in steps.shown:
        if steps.middle and t == steps.middle[-1] + 1:   # declared in time order: dot keeps it
            _add_middle(dot, steps, paint)
        _add_step(dot, rg, t, paint, ends, per_step)
    if ("L", None) in rg.nodes:
        dot.body.append(paint.node(("L", None)))
    _add_edges(dot, rg, ends, per_step)
    _add_step_inputs(dot, rg, ends, per_step)
    if rg.gates or len(rg.states) > 1 or rg.segments:
        _order_steps(dot, rg, ends)
    dot.attr(labelloc="b", label=_caption(rg, steps, scale, keep))
    return dot


# -- the folded view -----------------------------------------------------------------------

def _folded(kind: str, rg: RoleGraph, cells: bool) -> str:
    """The node a kind folds into: L(t) and their sum L into L, gates into the cell box."""
    if kind in ("L_t", "L"):
        return "L"
    return "cell" if cells and kind in (*rg.gates, *rg.products) else kind


def _input_size(rg: RoleGraph) -> int | None:
    """D, from an input node: the gathered parameter's columns, or a dense x(t)'s rows."""
    for (kind, _), x in rg.nodes.items():
        if kind == "x":
            return x.inputs[0].shape[1] if "x" in x.tags else x.shape[0]
    return None


def draw_folded(graph: Unrolled, *, collapse_cells: bool = False, cell: str | None = None):
    """The seed's left-hand picture, folded from the real graph by role:
    x → h → o → L ← y, with the recurrent edge h → h labelled W (through a
    one-step delay), each edge labelled with the parameters it multiplies by
    and each node with its size and the biases added there. An LSTM's or GRU's
    gates fold into one node each (or, with ``collapse_cells``, into one cell box), and
    every edge from the previous step says so ("delay: c(t-1)"); ``cell`` names the model
    in the title (see :func:`role_graph`).

    >>> import numpy as np
    >>> from rnn import RNN
    >>> graph = RNN(4, 3, 4).unroll(np.array([0, 2, 1]), np.array([2, 1, 3]))
    >>> [line.split(" [")[0].strip() for line in draw_folded(graph).source.splitlines() if "->" in line]
    ['"x" -> "h"', '"h" -> "h"', '"h" -> "o"', '"o" -> "L"', '"y" -> "L"']
    """
    rg = role_graph(graph, cell)
    cells = collapse_cells and bool(rg.gates)
    edges: dict[tuple[str, str], tuple[tuple[str, ...], str | None]] = {}
    for source, target, params in rg.edges:
        if "segment" in (source[0], target[0]):
            continue          # a checkpoint node; the states it hands on fold as states
        pair = (_folded(source[0], rg, cells), _folded(target[0], rg, cells))
        delayed = source[1] is not None and target[1] is not None and source[1] < target[1]
        if cells and target[0] in rg.states:       # whatever enters a state enters the cell
            if source[0] in rg.states and not delayed:
                continue                                   # c(t) → h(t): inside the cell
            pair = (pair[0], "cell")
        if pair == ("L", "L") or (pair[0] == pair[1] and not delayed):
            continue             # L(t) → L is the sum over time; the gates inside the cell
        labels, delay = edges.get(pair, ((), None))
        edges[pair] = (tuple(dict.fromkeys(labels + params)), delay or (
            f"{source[0]}(t-1)" if delayed else None))
    D = _input_size(rg)
    H = graph.h[0].shape[0]
    K = graph.o[graph.kept_steps()[0]].shape[0]
    sizes = {"x": None if D is None else f"D = {D}", "o": f"K = {K}",
             "L": "= Σ L(t)" if ("L", None) in rg.nodes else None,
             **{state: f"H = {H}" for state in rg.states}}
    biases = defaultdict(list)
    for key, params in rg.biases.items():
        kind = _folded(key[0], rg, cells)
        biases[kind].extend(p for p in params if p not in biases[kind])
    kinds = list(dict.fromkeys(_folded(kind, rg, cells) for kind, _ in rg.nodes
                               if kind != "segment"))
    dot = _new_digraph("folded", "BT")
    title = f"folded {rg.cell}: the τ = {graph.tau} graph merged by role"
    dot.body.append(f'\tlabel="{escape(title)}" labelloc=t\n')     # the cell's name escaped
    for kind in kinds:
        size = sizes.get(kind)
        label = kind + (f" {size}" if kind == "L" else f"\n({size})" if size else "")
        if kind == "cell":
            label = f"{rg.cell} cell\n{' '.join(rg.gates)}"
        elif kind in rg.products:
            label = rg.product(kind)
        if biases.get(kind):
            label += " + " + " + ".join(biases[kind])
        style = STYLE["cell"] if kind == "cell" else _style(rg, kind)
        dot.body.append(statement(kind, {"label": label, **style}))
    if rg.targets:
        dot.body.append(statement("y", {"label": "y", **STYLE["y"]}))
    for (source, target), (params, delay) in edges.items():
        a = _edge_attrs(rg, params)
        if delay is not None:
            a.update(label=f"{a.get('label', '')}\n(delay: {delay})", penwidth="2")
        dot.body.append(statement(source, a, head=target))
    if cells:
        for state in rg.states:
            dot.body.append(statement("cell", {"penwidth": "2"}, head=state))
    if rg.targets and "L" in kinds:
        dot.body.append(statement("y", {}, head="L"))
    return dot
