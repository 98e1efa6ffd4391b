"""Pictures of the unrolled RNN graph, as in the seed's figure (Deep Learning, Fig. 10.3).

Both views are derived from the real graph by its tags, never drawn by hand:
:func:`role_graph` contracts the op-level graph to the seed's variables
x(t), h(t), o(t), L(t), y(t), L, and labels each contracted edge with the
parameters it multiplies by (``W`` on h(t-1) → h(t)). :func:`draw_unrolled`
draws one cluster per time step; :func:`draw_folded` merges the steps by role
into the recurrent loop. The graph is only read. Every node and edge is
written with :func:`minigrad.draw.statement`, which escapes all text, so a
tensor name never becomes markup.

>>> import numpy as np
>>> from rnn import RNN
>>> graph = RNN(4, 3, 4, seed=0).unroll(np.array([0, 2, 1]), np.array([2, 1, 3]))
>>> draw_unrolled(graph).source.count("subgraph cluster_")
3
"""
from __future__ import annotations

import argparse
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minigrad import Tensor
from minigrad.draw import (FORMATS, NONFINITE, DrawingError, HeatScale, Html, escape, grad_norm,
                           nonfinite, render, statement, walk)
from rnn.model import PARAMETER_NAMES, RNN, Unrolled
from rnn.ranges import Range, text

__all__ = ["RoleGraph", "role_graph", "draw_unrolled", "draw_folded", "short_string",
           "trained_problem", "add_render_arguments", "render_path", "render_command"]

KINDS = ("x", "h", "o", "L_t", "L")          # the seed's variables; y(t) comes from L(t)'s tags
PARAMETER_COLOURS = {"U": "#1f6fb4", "W": "#c62828", "V": "#2e7d32", "b": "#6a3d9a", "c": "#8d5524"}
STYLE = {
    "x": dict(shape="ellipse", fillcolor="#d9ead3"),
    "y": dict(shape="ellipse", fillcolor="#fce5cd"),
    "h": dict(shape="ellipse"), "o": dict(shape="ellipse"), "L_t": dict(shape="ellipse"),
    "L": dict(shape="ellipse", fillcolor="#fff2cc", peripheries="2"),
    "param": dict(shape="box", style="rounded,filled,bold", fillcolor="#cfe2f3"),
    "middle": dict(shape="box", style="rounded,filled,dashed", fillcolor="#f3f3f3"),
}

Key = tuple  # (kind, t): ("h", 3), ("L", None)


@dataclass
class RoleGraph:
    """The unrolled graph contracted to the seed's variables.

    ``nodes`` maps ``(kind, t)`` (kind one of x, h, o, L_t, L) to the tensor;
    a token input x(t) is its gather node ``U x(t)`` (tag ``x`` = the token).
    ``edges`` are ``(source key, target key, parameters)``: h(t-1) → h(t)
    carries ``("W",)``. ``biases[key]`` names parameters added at a node
    (b at h(t), c at o(t)); ``uses[name]`` is the sorted steps using a
    parameter; ``params`` the parameter leaves; ``targets[t]`` is y(t).
    """
    nodes: dict[Key, Tensor] = field(default_factory=dict)
    edges: list[tuple[Key, Key, tuple[str, ...]]] = field(default_factory=list)
    biases: dict[Key, tuple[str, ...]] = field(default_factory=dict)
    uses: dict[str, list[int]] = field(default_factory=dict)
    params: dict[str, Tensor] = field(default_factory=dict)
    targets: dict[int, np.ndarray] = field(default_factory=dict)
    tau: int = 0


def _kind(t: Tensor) -> str | None:
    role = t.tags.get("role")
    if role == "Ux" and "x" in t.tags:      # one-hot input: U x(t) gathers a column of U
        return "x"
    return role if role in KINDS else None


def _parameter(t: Tensor) -> str | None:
    """The parameter t is, or is a view of (batched b and c are reshaped)."""
    role = t.tags.get("role")
    return role if role in PARAMETER_NAMES and "t" not in t.tags else None


def _key(t: Tensor) -> Key:
    return _kind(t), t.tags.get("t")


def role_graph(graph: Unrolled) -> RoleGraph:
    """Contract ``graph`` to the seed's variables, reading only tags and inputs.

    >>> import numpy as np
    >>> from rnn import RNN
    >>> g = role_graph(RNN(4, 3, 4).unroll(np.array([1, 2]), np.array([0, 3])))
    >>> [(s, t, p) for s, t, p in g.edges if t == ("h", 2)]
    [(('x', 2), ('h', 2), ('U',)), (('h', 1), ('h', 2), ('W',))]
    >>> g.biases[("o", 2)], g.uses["W"]
    (('c',), [1, 2])
    """
    roots = [graph.loss] if graph.loss is not None else [*graph.o[1:], graph.h[-1]]
    rg, uses = RoleGraph(tau=graph.tau), defaultdict(set)
    for v in walk(roots):
        name = _parameter(v)
        if name is not None:
            leaf = v
            while leaf.op is not None:
                leaf = leaf.inputs[0]
            rg.params[name] = leaf
        kind = _kind(v)
        if kind is None:
            continue
        key = _key(v)
        rg.nodes[key] = v
        if "y" in v.tags:
            rg.targets[key[1]] = np.asarray(v.tags["y"])
        if kind == "x":
            continue
        biases, stack, seen = [], [v], {v}
        while stack:                            # back through the unnamed ops to the sources
            n = stack.pop()
            kinds = [_kind(m) for m in n.inputs]
            names = [_parameter(m) for m in n.inputs]
            params = tuple(dict.fromkeys(p for p in names if p is not None))
            for m, kind, name in zip(n.inputs, kinds, names):
                if name is not None:
                    if kinds.count(None) == len(kinds):   # added, not multiplying a source
                        biases.append(name)
                        uses[name].add(key[1])
                elif kind is not None:                     # a source: the edge m → v
                    gathered = (_parameter(p) for p in m.inputs) if kind == "x" else ()
                    labels = tuple(dict.fromkeys((*params, *filter(None, gathered))))
                    rg.edges.append((_key(m), key, labels))
                    for p in labels:
                        uses[p].add(key[1])
                elif m not in seen:
                    seen.add(m)
                    stack.append(m)
        if biases:
            rg.biases[key] = tuple(dict.fromkeys(biases))
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


def _edge_attrs(params: tuple[str, ...]) -> dict:
    if not params:
        return {}
    colour = PARAMETER_COLOURS.get(params[0], "black")
    return dict(label=" ".join(params), fontcolor=colour, color=colour)


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
    where = {}
    for source, target, params in rg.edges:
        for p in params:
            previous = source[0] == target[0]
            where.setdefault(p, f"{_pattern(source, previous)} → {_pattern(target)}")
    for key, params in rg.biases.items():
        for p in params:
            where.setdefault(p, f"added in {_pattern(key)}")
    rows = []
    for name in PARAMETER_NAMES:
        if name not in rg.params:
            continue
        tensor, steps = rg.params[name], rg.uses.get(name, [])
        colour, bg, extra = PARAMETER_COLOURS[name], "#cfe2f3", ""
        if scale is not None:
            bg = scale.style(grad_norm(tensor))["fillcolor"]
            colour = HeatScale.text_colour(bg)
            extra = f", ‖grad‖ {grad_norm(tensor):.1e}" if tensor.grad is not None else ""
        cell = f'<font color="{colour}"><b>{escape(name, html=True)}</b></font>'
        used = f"{len(steps)} steps" if len(steps) != 1 else "1 step"
        rows.append(f'<tr><td bgcolor="{bg}">{cell}</td><td align="left">{"×".join(map(str, tensor.shape))}'
                    f'</td><td align="left">{escape(where.get(name, ""), html=True)}</td>'
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
    def of(cls, tau: int, collapse_above: int | None, keep: int) -> "_Steps":
        if collapse_above is not None and tau > collapse_above and tau > 2 * keep + 1:
            return cls(tau, [*range(1, keep + 1), *range(tau - keep + 1, tau + 1)],
                       range(keep + 1, tau - keep + 1))
        return cls(tau, list(range(1, tau + 1)), range(0))

    def visible(self, key: Key) -> bool:
        return key[1] is None or key[1] == 0 or key[1] not in self.middle

    def end(self, key: Key) -> str:
        """The node an edge to or from ``key`` ends at: collapsed steps are all "middle"."""
        return _node_id(key) if self.visible(key) else "middle"


@dataclass
class _Paint:
    """How nodes look: gradient norms by key, the heat scale (None: no heat), whether
    labels show the norms."""
    norms: dict
    scale: HeatScale | None
    show_grads: bool

    def attrs(self, kind: str, key: Key) -> dict:
        a = dict(STYLE[kind])
        norm = self.norms.get(key)
        if self.scale is not None and kind not in ("x", "y"):
            a.update(self.scale.style(norm))
        elif nonfinite(norm):
            a.update(NONFINITE)
        return a

    def node(self, rg: RoleGraph, key: Key, **extra) -> str:
        kind, t = key
        label = _node_label(kind, t, rg.nodes[key], self.norms.get(key), self.show_grads)
        return statement(_node_id(key), {"label": label, **self.attrs(kind, key), **extra})


def _add_h0(dot, rg: RoleGraph, paint: _Paint) -> None:
    """h(0), dashed when it is a constant (the default zeros), on the spine's rank."""
    h0 = rg.nodes[("h", 0)]
    constant = h0.op is None and not h0.requires_grad
    dot.body.append(paint.node(rg, ("h", 0), **({"style": "filled,dashed"} if constant else {})))
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


def _step_parameters(rg: RoleGraph, t: int) -> list[tuple[Key, str]]:
    """(node, parameter) for each parameter that multiplies into or is added at a node of step t."""
    used = [(target, ps) for _, target, ps in rg.edges] + list(rg.biases.items())
    return [(key, p) for key, ps in used if key[1] == t for p in ps]


def _add_step(dot, rg: RoleGraph, t: int, paint: _Paint, per_step: bool) -> None:
    """The cluster of step t: x(t), h(t), o(t), L(t), y(t), and with ``per_step`` a
    copy of each parameter used there."""
    with dot.subgraph(name=f"cluster_{t}") as c:
        c.attr(label=f"t = {t}", style="rounded", color="#999999", fontsize="13")
        for kind in KINDS[:4]:
            if (kind, t) in rg.nodes:
                c.body.append(paint.node(rg, (kind, t)))
        if t in rg.targets:
            c.body.append(statement(f"y_{t}", {"label": f"y({t}) = {_text(rg.targets[t])}",
                                               **STYLE["y"]}))
        if per_step:
            for _, p in _step_parameters(rg, t):
                c.body.append(statement(f"{p}_{t}", {"label": p, **STYLE["param"]}))


def _add_edges(dot, rg: RoleGraph, steps: _Steps, per_step: bool) -> None:
    """The contracted edges; the spine h(t-1) → h(t) thick and flat; edges into or out
    of the collapsed middle drawn once per pair of ends."""
    drawn_middle = set()
    for source, target, ps in rg.edges:
        if not (steps.visible(source) or steps.visible(target)):
            continue
        a = {} if per_step else _edge_attrs(ps)
        if source[0] == "h" and target[0] == "h":             # the spine h(t-1) → h(t)
            a.update(_edge_attrs(ps), penwidth="2", weight="10", constraint="false")
        if not (steps.visible(source) and steps.visible(target)):
            pair = (steps.end(source), steps.end(target))
            if pair in drawn_middle:
                continue
            drawn_middle.add(pair)
            if target[0] == "L":  # not constraining: the middle stays on the spine
                a.update(label=f"L({steps.middle[0]}) … L({steps.middle[-1]})",
                         constraint="false")
        dot.body.append(statement(steps.end(source), a, head=steps.end(target)))


def _add_step_inputs(dot, rg: RoleGraph, steps: _Steps, per_step: bool) -> None:
    """y(t) → L(t), and with ``per_step`` each parameter copy's dashed edge (drawn head to
    tail, dir=back, so each copy sits above its node)."""
    for t in steps.shown:
        if t in rg.targets and ("L_t", t) in rg.nodes:
            dot.body.append(statement(f"y_{t}", {}, head=_node_id(("L_t", t))))
        if per_step:
            for key, p in _step_parameters(rg, t):
                dot.body.append(statement(_node_id(key), {
                    "dir": "back", "style": "dashed", "color": PARAMETER_COLOURS[p]},
                    head=f"{p}_{t}"))


def _caption(rg: RoleGraph, steps: _Steps, scale: HeatScale | None, keep: int) -> str:
    """Below the picture: the title, the shared parameters and the heat legend."""
    tau = steps.tau
    title = f"unrolled RNN, τ = {tau}" + (f" (steps {keep + 1} … {tau - keep} collapsed)"
                                           if steps.middle else "")
    legend = (f'<td valign="top">{scale.legend("log10 ‖grad‖")[1:-1]}</td>'
              if scale is not None else "")
    table = _params_table(rg, scale, f"t = 1 … {tau}" if tau > 1 else "t = 1")
    return (f'<<table border="0" cellspacing="8"><tr><td colspan="2"><font point-size="15">'
            f'{title}</font></td></tr><tr><td valign="top">{table}</td>{legend}'
            f'</tr></table>>')


def draw_unrolled(graph: Unrolled, *, collapse_above: int | None = 12, keep: int = 3,
                  params: str = "once", heat: bool = False, show_grads: bool | None = None,
                  heat_limits: tuple[float, float] | None = None):
    """The seed's right-hand picture from the real graph: one cluster per step
    ``t = 1 … τ`` left to right, ``h(t-1) → h(t)`` along a straight spine (label
    W), x(t) → h(t) (U), h(t) → o(t) (V), o(t) → L(t) ← y(t), and the loss L
    collecting every L(t).

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
    rg = role_graph(graph)
    steps = _Steps.of(graph.tau, collapse_above, keep)
    norms = {key: grad_norm(t) for key, t in rg.nodes.items() if key[0] != "x"}
    scale = (HeatScale([*norms.values(), *(grad_norm(p) for p in rg.params.values())],
                       heat_limits) if heat else None)
    paint = _Paint(norms, scale, heat if show_grads is None else show_grads)
    dot = _new_digraph("unrolled", "BT")
    if ("h", 0) in rg.nodes:
        _add_h0(dot, rg, paint)
    for t in steps.shown:
        if steps.middle and t == steps.middle[-1] + 1:   # declared in time order: dot keeps it
            _add_middle(dot, steps, paint)
        _add_step(dot, rg, t, paint, per_step)
    if ("L", None) in rg.nodes:
        dot.body.append(paint.node(rg, ("L", None)))
    _add_edges(dot, rg, steps, per_step)
    _add_step_inputs(dot, rg, steps, per_step)
    dot.attr(labelloc="b", label=_caption(rg, steps, scale, keep))
    return dot


# -- the folded view -----------------------------------------------------------------------

FOLDED = {"x": "x", "h": "h", "o": "o", "L_t": "L", "L": "L"}  # L(t) and their sum L fold into L


def draw_folded(graph: Unrolled):
    """The seed's left-hand picture, folded from the real graph by role:
    x → h → o → L ← y, with the recurrent edge h → h labelled W (through a
    one-step delay), each edge labelled with the parameters it multiplies by
    and each node with its size and the biases added there.

    >>> import numpy as np
    >>> from rnn import RNN
    >>> graph = RNN(4, 3, 4).unroll(np.array([0, 2, 1]), np.array([2, 1, 3]))
    >>> [line.split(" [")[0].strip() for line in draw_folded(graph).source.splitlines() if "->" in line]
    ['"x" -> "h"', '"h" -> "h"', '"h" -> "o"', '"o" -> "L"', '"y" -> "L"']
    """
    rg = role_graph(graph)
    edges: dict[tuple[str, str], tuple[str, ...]] = {}
    for source, target, params in rg.edges:
        pair = (FOLDED[source[0]], FOLDED[target[0]])
        if pair == ("L", "L"):   # L(t) → L is the sum over time, not an edge of the loop
            continue
        edges[pair] = tuple(dict.fromkeys(edges.get(pair, ()) + params))
    sizes = {"x": f"D = {rg.params['U'].shape[1]}" if "U" in rg.params else None,
             "h": f"H = {graph.h[0].shape[0]}", "o": f"K = {graph.o[1].shape[0]}",
             "L": "= Σ L(t)" if ("L", None) in rg.nodes else None}
    biases = defaultdict(list)
    for key, params in rg.biases.items():
        biases[FOLDED[key[0]]].extend(p for p in params if p not in biases[FOLDED[key[0]]])
    kinds = list(dict.fromkeys(FOLDED[kind] for kind, _ in rg.nodes))
    dot = _new_digraph("folded", "BT")
    dot.attr(label=f"folded RNN: the τ = {graph.tau} graph merged by role", labelloc="t")
    for kind in kinds:
        size = sizes.get(kind)
        label = kind + (f" {size}" if kind == "L" else f"\n({size})" if size else "")
        if biases.get(kind):
            label += " + " + " + ".join(biases[kind])
        dot.body.append(statement(kind, {"label": label, **STYLE["L" if kind == "L" else kind]}))
    if rg.targets:
        dot.body.append(statement("y", {"label": "y", **STYLE["y"]}))
    for (source, target), params in edges.items():
        a = _edge_attrs(params)
        if source == target:
            a.update(label=f"{a.get('label', '')}\n(delay: {source}(t-1))", penwidth="2")
        dot.body.append(statement(source, a, head=target))
    if rg.targets and "L" in kinds:
        dot.body.append(statement("y", {}, head="L"))
    return dot


# -- command line ---------------------------------------------------------------------------

def _drawing_path(string: str) -> str:
    """An argparse ``type``: a file name whose suffix :func:`minigrad.draw.render` writes."""
    suffixes = [f".{f}" for f in (*FORMATS, "dot", "gv")]
    if Path(string).suffix.lower() not in suffixes:
        raise argparse.ArgumentTypeError(f"expected a file name ending in {', '.join(suffixes)}, "
                                         f"got {string!r}")
    return string


class _Given(argparse.Action):
    """Stores the value and lists the flag in ``namespace.given`` (so ``render
    --checkpoint`` can refuse the options of a random problem, even at their defaults)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.given = [*getattr(namespace, "given", []), option_string]


def add_problem_arguments(parser: argparse.ArgumentParser, tau: int = 4) -> None:
    """The sizes, τ, seed and W scale of a random token problem, and which loss to
    differentiate (``render`` and ``explore``; see :func:`random_problem`)."""
    size, count = Range(int, 1).parse, Range(int, 0).parse
    parser.set_defaults(given=[])
    parser.add_argument("--input-size", type=size, metavar="D", default=4, action=_Given,
                        help="token types D, at least 1 (default: %(default)s)")
    parser.add_argument("--hidden", type=size, metavar="H", default=3, action=_Given,
                        help="hidden units H, at least 1 (default: %(default)s)")
    parser.add_argument("--output-size", type=size, metavar="K", default=None, action=_Given,
                        help="classes K, at least 1 (default: D)")
    parser.add_argument("--tau", type=size, metavar="T", default=tau, action=_Given,
                        help="time steps τ, at least 1 (default: %(default)s)")
    parser.add_argument("--seed", type=count, default=0, action=_Given,
                        help="seed of the parameters and the random tokens, ≥ 0 "
                             "(default: %(default)s)")
    parser.add_argument("--w-scale", type=Range(float).parse, metavar="S", default=1.0,
                        action=_Given,
                        help="multiply W by this finite number; below ~0.5 gradients vanish "
                             "visibly (default: %(default)s)")
    parser.add_argument("--loss", choices=["total", "last"], default="total",
                        help="backward from L = Σ L(t), or from L(τ) alone, which shows how "
                             "the gradient fades going back in time (default: %(default)s)")


def random_problem(args: argparse.Namespace):
    """The model, tokens x and targets y that :func:`add_problem_arguments` describe,
    and the loss to differentiate."""
    D, H = args.input_size, args.hidden
    K = args.output_size or D
    model = RNN(D, H, K, seed=args.seed)
    model.set_params(W=model.W.data * args.w_scale)
    rng = np.random.default_rng(args.seed)
    return model, rng.integers(0, D, args.tau), rng.integers(0, K, args.tau)


def short_string(grammar_name: str | None, vocab, text: str | None, length: int = 12) -> str:
    """A short piece of a trained model's data to draw it on: the first string of
    its grammar with at most ``length`` characters, else the first ``length``
    characters of its text file (DataError if that file cannot be read now, or
    holds characters outside ``vocab``)."""
    from rnn import grammar
    from rnn.data import DataError
    if grammar_name is not None:
        strings = grammar.generate(100, seed=1, embedded=grammar_name == "embedded")
        return next(s for s in strings if len(s) <= length)
    try:
        with open(text, encoding="utf-8") as f:
            piece = f.read(length)
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"the checkpoint was trained on {text}, which cannot be read now "
                        f"({getattr(error, 'strerror', None) or error}); the drawing needs "
                        f"a short piece of it") from None
    vocab.encode(piece)
    if len(piece) < 2:
        raise DataError(f"{text} holds fewer than 2 characters now: nothing to draw")
    return piece


def trained_problem(path):
    """The model saved in the checkpoint ``path``, the ids x and targets y of a
    :func:`short_string` of its data: what ``render --checkpoint`` draws."""
    from rnn.train import model_from_checkpoint
    params, vocab, meta = model_from_checkpoint(path)
    model = RNN(len(vocab), params["W"].shape[0], len(vocab))
    model.set_params(**params)
    config = meta["config"]
    ids = vocab.encode(short_string(config.get("grammar"), vocab, config.get("text")))
    return model, ids[:-1], ids[1:]


def add_render_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m rnn render``: which view, the random problem or a
    trained checkpoint, the optional backward pass for gradient heat, the file."""
    count = Range(int, 0).parse
    parser.add_argument("--view", choices=["unrolled", "folded"], default="unrolled",
                        help="unrolled in time, or folded into the recurrent loop (default: %(default)s)")
    add_problem_arguments(parser)
    parser.add_argument("--checkpoint", metavar="FILE", type=text,
                        help="draw this trained model on a short string of its grammar or text "
                             "instead of a random problem (then --input-size, --hidden, "
                             "--output-size, --tau, --seed and --w-scale are refused)")
    parser.add_argument("--heat", action="store_true",
                        help="run backward first and colour nodes by log10 ‖grad‖ (unrolled "
                             "view only: the folded view merges the steps)")
    parser.add_argument("--params", choices=["once", "per-step"], default="once",
                        help="shared parameters drawn once, or also inside every step (default: %(default)s)")
    parser.add_argument("--all-steps", action="store_true",
                        help="draw every step (default: collapse the middle above --collapse-above)")
    parser.add_argument("--collapse-above", type=count, metavar="N", default=12,
                        help="draw at most this many steps, ≥ 0; longer sequences show the first "
                             "and last three and one node for the middle (default: %(default)s)")
    parser.add_argument("--out", type=_drawing_path, metavar="FILE", default=None,
                        help="file to write; .svg, .png, .pdf, or .dot/.gv for the DOT text "
                             "(default: out/rnn_unrolled.svg or out/rnn_folded.svg, by --view)")


def render_path(args: argparse.Namespace) -> str:
    """The file ``render`` writes: --out, else out/rnn_unrolled.svg or out/rnn_folded.svg."""
    return args.out or f"out/rnn_{args.view}.svg"


def render_command(args: argparse.Namespace) -> Path:
    """Draw the random problem described by ``args`` (or the model of
    ``args.checkpoint``) and write ``args.out``; DrawingError for --heat with
    the folded view or --checkpoint with the options of a random problem."""
    if args.heat and args.view == "folded":
        raise DrawingError("--heat colours each node of the unrolled graph by its gradient; "
                           "the folded view merges the steps into one node per role, so it "
                           "has no such colour: use --view unrolled with --heat")
    if args.checkpoint is not None:
        if args.given:
            raise DrawingError(f"--checkpoint draws the trained model, whose sizes are its own; "
                               f"{', '.join(dict.fromkeys(args.given))} describe a random "
                               f"problem: give one or the other")
        model, x, y = trained_problem(args.checkpoint)
    else:
        model, x, y = random_problem(args)
    graph = model.unroll(x, y)
    if args.heat:
        (graph.loss if args.loss == "total" else graph.L[graph.tau]).backward()
    if args.view == "folded":
        dot = draw_folded(graph)
    else:
        dot = draw_unrolled(graph, heat=args.heat, params=args.params.replace("-", "_"),
                            collapse_above=None if args.all_steps else args.collapse_above)
    path = render(dot, render_path(args))
    print(f"wrote {path}")
    return path
