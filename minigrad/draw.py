"""Drawing computation graphs with Graphviz; the graph is read, never changed.

:func:`draw` turns one or more output tensors into a ``graphviz.Digraph``
(shown inline by Jupyter; its ``.source`` is plain DOT text). Node ids come
from traversal order, so the same graph always gives the same text.
:func:`render` writes SVG, PNG or PDF with Graphviz's ``dot`` program,
refusing graphs too large for it and stopping it after a timeout.

Every user string (tensor names, op names and parameters, tags) reaches DOT
through :func:`escape`, so no name ever becomes markup: :func:`statement`
escapes every attribute value it writes, and HTML-like labels are built
from escaped pieces and marked with :class:`Html`.

>>> import minigrad as mg
>>> from minigrad.draw import draw
>>> a = mg.tensor(2.0, requires_grad=True, name="a")
>>> print(draw([a * a]).source.count("->"))  # a used twice: two edges into "×"
3
"""
from __future__ import annotations

import math
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from minigrad.tensor import Tensor

__all__ = ["draw", "render", "escape", "Html", "statement", "DrawingError", "GraphvizNotFound",
           "viridis", "VIRIDIS",
           "DrawingTooLarge", "walk", "grad_norm", "nonfinite", "HeatScale", "NONFINITE",
           "FORMATS", "INSTALL_HELP", "MAX_NODES", "TIMEOUT", "is_dot_text", "count_nodes"]

FORMATS = ("svg", "png", "pdf")
INSTALL_HELP = ("Graphviz's `dot` program is needed to render a drawing (the DOT source is "
                "available without it: digraph.source). Install Graphviz with "
                "`sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` "
                "(macOS) or from https://graphviz.org/download/ (Windows and others), then "
                "make sure `dot -V` works in a new shell.")

# Operand order matters for these ops: their edges carry the operand's position.
ORDERED = frozenset({"sub", "div", "matmul", "pow", "where", "concat", "stack"})
SYMBOLS = {"add": "+", "sub": "−", "mul": "×", "div": "÷", "neg": "−x", "matmul": "@",
           "pow": "xʸ", "transpose": "ᵀ", "cross_entropy": "cross-entropy"}

PARAMETER = dict(fillcolor="#cfe2f3", penwidth="2")
CONSTANT = dict(fillcolor="#eeeeee", style="rounded,filled,dashed", fontcolor="#555555")
OUTPUT = dict(fillcolor="#fff2cc", peripheries="2")
NONFINITE = dict(fillcolor="#ff0000", fontcolor="white", penwidth="3", color="#990000")  # NaN/inf grads
NO_GRAD = "#f7f7f7"
OP_NODE = dict(shape="ellipse", style="filled", fillcolor="#f4f4f4", fontsize="11")
MAX_NODES = 1500  # render refuses more (see render); TIMEOUT: seconds before dot is stopped
TIMEOUT = 60.0
TOO_LARGE_ADVICE = ("collapse it (rnn.draw.draw_unrolled collapses the middle steps; "
                    "minigrad.draw.draw(..., collapse_ops=True, hide_constants=True) halves the "
                    "nodes), fold it (rnn.draw.draw_folded), draw fewer outputs, or browse it "
                    "interactively in an explorer; render(..., max_nodes=None, timeout=None) "
                    "tries anyway")


class DrawingError(RuntimeError):
    """A drawing that cannot be rendered (the message says why and what to do)."""


class GraphvizNotFound(DrawingError):
    """Rendering needs Graphviz's ``dot`` program and it is not installed."""


class DrawingTooLarge(DrawingError):
    """A graph with more nodes than ``dot`` lays out in reasonable time, or one
    that ``dot`` did not finish within the timeout."""


# -- escaping user text -----------------------------------------------------------------

class Html(str):
    """An HTML-like Graphviz label (written ``<...>``, unquoted) built by this
    project from pieces passed through :func:`escape`; any other string is quoted text."""


_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "\n": "<br/>"}
_DOT = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "&": "&amp;"}  # dot reads entities in any label


def _visible(ch: str) -> str:
    """Control, format, surrogate and unassigned characters as ``\\xNN`` / ``\\uNNNN`` text."""
    if ch == "\n" or unicodedata.category(ch)[0] != "C":
        return ch
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def escape(text, html: bool = False) -> str:
    r"""User text as it must appear inside a quoted DOT string (``html=False``:
    backslashes, quotes and ``&`` escaped, line breaks ``\n``) or in an HTML-like label
    (``html=True``: ``& < > " '`` as entities, line breaks ``<br/>``). Control
    characters such as NUL, which no DOT or SVG file may hold, become visible
    ``\x00`` text in both. Used for every user string the drawings write.

    >>> print(escape('a "b" \\ <i>'), escape("<<b>x</b>>\x00", html=True))
    a \"b\" \\ <i> &lt;&lt;b&gt;x&lt;/b&gt;&gt;\x00
    """
    table = _HTML if html else _DOT
    return "".join(table.get(c, c) for c in "".join(map(_visible, str(text))))


# -- reading the graph ---------------------------------------------------------------

def walk(outputs: Iterable[Tensor]) -> list[Tensor]:
    """Every tensor the outputs depend on (constants too), each after its inputs,
    in a deterministic order (iterative depth-first search, inputs in order).

    >>> import minigrad as mg
    >>> x = mg.tensor(1.0, name="x")
    >>> [t.name or t.op for t in walk([mg.exp(x)])]
    ['x', 'exp']
    """
    order, seen = [], set()
    for root in outputs:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif node not in seen:
                seen.add(node)
                stack.append((node, True))
                stack.extend((x, False) for x in reversed(node.inputs) if x not in seen)
    return order


def grad_norm(t: Tensor) -> float | None:
    """‖t.grad‖ (Frobenius norm; NaN or inf when the gradient has them), or
    None when there is no gradient."""
    if t.grad is None:
        return None
    g = np.asarray(t.grad, dtype=np.float64).ravel()
    norm = float(np.linalg.norm(g))
    if not math.isfinite(norm):  # NaN or inf entries, or finite ones whose squares overflow
        if np.isnan(g).any():
            return math.nan
        norm = math.inf if np.isinf(g).any() else float(np.linalg.norm(g / np.abs(g).max())
                                                       ) * float(np.abs(g).max())
    return norm


def nonfinite(norm: float | None) -> str | None:
    """"NaN" or "inf" for a gradient norm (from :func:`grad_norm`) that is not
    finite, else None (also for no gradient): what a drawing flags loudly.

    >>> nonfinite(float("nan")), nonfinite(float("inf")), nonfinite(2.0), nonfinite(None)
    ('NaN', 'inf', None, None)
    """
    return None if norm is None or math.isfinite(norm) else ("NaN" if math.isnan(norm) else "inf")


def _number(v) -> str:
    return f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)


def _summary(array: np.ndarray) -> str:
    if array.size == 1:
        return "= " + _number(array.item())
    if array.size == 0:
        return "empty"
    if not np.isfinite(array).all():
        return f"{np.isnan(array).sum()} NaN, {np.isinf(array).sum()} inf"
    return f"∈ [{_number(array.min())}, {_number(array.max())}]"


def _shape(t: Tensor) -> str:
    return "scalar" if t.data.ndim == 0 else "×".join(map(str, t.data.shape))


# -- colour ---------------------------------------------------------------------------

# viridis, matplotlib's default colour map (Stéfan van der Walt and Nathaniel Smith, CC0),
# sampled once by hand at 32 evenly spaced points (to_hex(colormaps["viridis"](i / 31))):
VIRIDIS = (
    '#440154', '#470d60', '#48186a', '#482374', '#472e7c', '#453882', '#424186', '#3e4a89',
    '#3a548c', '#365d8d', '#32658e', '#2e6d8e', '#2b758e', '#287d8e', '#25848e', '#228c8d',
    '#1f948c', '#1e9c89', '#20a386', '#25ab82', '#2eb37c', '#3aba76', '#48c16e', '#58c765',
    '#6ccd5a', '#7fd34e', '#93d741', '#a8db34', '#c0df25', '#d5e21a', '#eae51a', '#fde725',
)


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def viridis(fraction: float) -> str:
    """The hex colour at ``fraction`` of viridis (clamped to [0, 1]): linear
    between the two nearest of the 32 :data:`VIRIDIS` anchors (at most 2/255 per
    channel from matplotlib's 256-colour table), so heat needs no matplotlib.

    >>> viridis(0.0), viridis(1.0), viridis(2.0)
    ('#440154', '#fde725', '#fde725')
    """
    x = min(max(fraction, 0.0), 1.0) * (len(VIRIDIS) - 1)
    i = min(int(x), len(VIRIDIS) - 2)
    low, high = _rgb(VIRIDIS[i]), _rgb(VIRIDIS[i + 1])
    return "#" + "".join(f"{round(a + (b - a) * (x - i)):02x}" for a, b in zip(low, high))


class HeatScale:
    """Maps log10 ‖grad‖ to a colour of :func:`viridis`; the range is that of
    the finite, non-zero norms (or ``limits``).

    >>> scale = HeatScale([1e-6, 1e-3, 1.0])
    >>> scale.low, scale.high, scale.colour(1.0)
    (-6.0, 0.0, '#fde725')
    """

    def __init__(self, norms: Iterable[float | None],
                 limits: tuple[float, float] | None = None):
        logs = [math.log10(n) for n in norms if n is not None and math.isfinite(n) and n > 0]
        low, high = limits or ((min(logs), max(logs)) if logs else (0.0, 0.0))
        if high - low < 1e-9:
            low, high = low - 0.5, high + 0.5
        self.low, self.high = float(low), float(high)

    def colour(self, norm: float) -> str:
        """Hex colour of a finite gradient norm (zero: the bottom of the scale)."""
        value = math.log10(norm) if norm > 0 else self.low
        return self._at((value - self.low) / (self.high - self.low))

    def _at(self, fraction: float) -> str:
        return viridis(fraction)

    @staticmethod
    def text_colour(fill: str) -> str:
        """Black or white, whichever reads better on ``fill``."""
        r, g, b = _rgb(fill)
        return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "white"

    def style(self, norm: float | None) -> dict:
        """Node attributes for a tensor whose gradient has this norm."""
        if norm is None:
            return dict(fillcolor=NO_GRAD)
        if nonfinite(norm):
            return dict(NONFINITE)
        fill = self.colour(norm)
        return dict(fillcolor=fill, fontcolor=self.text_colour(fill))

    def legend(self, title: str = "log10 ‖grad‖", steps: int = 6) -> Html:
        """An HTML-like Graphviz label: the scale with log10 values, NaN/inf and no grad."""
        cells = []
        for i in range(steps):
            value = self.low + (self.high - self.low) * i / (steps - 1)
            fill = self._at(i / (steps - 1))
            cells.append(f'<td bgcolor="{fill}"><font color="{self.text_colour(fill)}">'
                         f'{value:.1f}</font></td>'.replace(">-0.0<", ">0.0<"))
        return Html(f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">'
                    f'<tr><td colspan="{steps}"><b>{escape(title, html=True)}</b></td></tr>'
                    f'<tr>{"".join(cells)}</tr>'
                    f'<tr><td colspan="{steps // 2}" bgcolor="{NONFINITE["fillcolor"]}"><font '
                    f'color="white"><b>NaN / inf</b></font></td><td colspan="{steps - steps // 2}" '
                    f'bgcolor="{NO_GRAD}">no grad</td></tr></table>>')


# -- labels ---------------------------------------------------------------------------

def _param_text(value) -> str | None:
    if isinstance(value, np.ndarray):
        return np.array2string(value, threshold=4, edgeitems=1) if value.size <= 4 else None
    if isinstance(value, tuple):
        return "[" + ", ".join(_param_text(v) or "…" for v in value) + "]"
    if isinstance(value, slice):  # as written: ":", "1:", "::-1"
        ends = [value.start, value.stop] + ([value.step] if value.step is not None else [])
        return ":".join("" if v is None else str(v) for v in ends)
    return None if value is None else str(value)


def op_label(node: Tensor) -> str:
    """The op's symbol (``@``, ``×``, ``tanh``) and its short static parameters.

    >>> import minigrad as mg
    >>> op_label(mg.tensor([[1.0]]).sum(axis=0))
    'sum axis=0'
    """
    params = node.params or {}
    if node.op == "getitem":
        return _param_text(params["index"] if isinstance(params["index"], tuple)
                           else (params["index"],))
    if node.op == "power":
        return f"x^{_number(params['exponent'])}"
    text = SYMBOLS.get(node.op, node.op)
    shown = [f"{k}={v}" for k in params if k != "targets" and params[k] is not False
             and (v := _param_text(params[k])) is not None]
    return " ".join([text, *shown])


def tensor_label(t: Tensor, number: int, norm: float | None, *, show_values=False,
                 show_grads=False, heat=False) -> str:
    """Name (or ``#number``), shape, the token ids of a gather node, and optional
    value and gradient summaries (``norm`` is ‖t.grad‖); NaN/inf gradients are
    always named."""
    if t.name is not None:
        name = t.name
    elif t.op is None and not t.requires_grad and t.data.size == 1:
        name = _number(t.data.item())
    else:
        name = f"#{number}"
    lines = [name, _shape(t)]
    if "x" in t.tags:  # a token gather: U x(t) with x(t) one-hot
        tokens = np.asarray(t.tags["x"])
        time = f"({t.tags['t']})" if "t" in t.tags else ""
        lines.append(f"x{time} = {tokens.item() if tokens.size == 1 else tokens.tolist()}")
    if show_values:
        lines.append(_summary(t.data))
    if nonfinite(norm):
        lines.append(f"grad {nonfinite(norm)}!")
    elif (show_grads or heat) and norm is not None:
        lines.append(f"grad = {_number(t.grad.item())}" if t.grad.size == 1 else f"‖grad‖ = {norm:.2g}")
    elif show_grads and t.requires_grad:
        lines.append("no grad")
    return "\n".join(lines)


# -- drawing -----------------------------------------------------------------------------

def statement(name: str, attrs: dict, head: str | None = None) -> str:
    r"""One DOT node (or, with ``head``, edge) statement. Every value is text,
    escaped and quoted, unless it is :class:`Html`. (graphviz's
    ``Digraph.node`` does the same but is ~10× slower, which matters for
    100,000 nodes.)

    >>> print(statement("n1", {"label": 'say "hi"\nx'}, head="n2").strip())
    "n1" -> "n2" [label="say \"hi\"\nx"]
    """
    ends = f'"{escape(name)}"' + (f' -> "{escape(head)}"' if head is not None else "")
    listed = " ".join(f"{k}={v}" if isinstance(v, Html) else f'{k}="{escape(v)}"'
                      for k, v in attrs.items() if v is not None)
    return f"\t{ends} [{listed}]\n" if listed else f"\t{ends}\n"


def draw(outputs: Tensor | Sequence[Tensor], *, show_values: bool = False,
         show_grads: bool = False, heat: bool = False, hide_constants: bool = False,
         collapse_ops: bool = False, rankdir: str = "LR",
         heat_limits: tuple[float, float] | None = None, name: str = "minigrad"):
    """A ``graphviz.Digraph`` of everything ``outputs`` depend on.

    Tensors are boxes with their name (or ``#n``) and shape; parameters are
    blue and bold, constants grey and dashed, outputs yellow with a double
    border; op nodes are ellipses (``@``, ``×``, ``tanh``). An operand used twice
    draws two edges, numbered where order matters (``@``, ``−``, ``÷``).

    ``show_values`` / ``show_grads`` add value and ``‖grad‖`` lines.
    ``heat`` fills tensors by log10 ‖grad‖ (viridis) with a legend (call
    ``backward()`` first): vanishing gradients show as the dark end. NaN/inf
    gradients are red and bold in any mode. ``hide_constants`` leaves out
    constant leaves (a scalar's value moves into its op's label);
    ``collapse_ops`` draws each op as a labelled edge instead of a node.

    >>> import minigrad as mg
    >>> x = mg.tensor([1.0, -2.0], requires_grad=True, name="x")
    >>> w = mg.tensor([0.5, 0.5], requires_grad=True, name="w")
    >>> L = mg.tanh(x * w).sum().named("L")
    >>> L.backward()
    >>> dot = draw(L, heat=True)
    >>> [line.strip() for line in dot.source.splitlines() if "->" in line]
    ['"n2op" -> "n2"', '"n0" -> "n2op"', '"n1" -> "n2op"', '"n3op" -> "n3"', '"n2" -> "n3op"', '"n4op" -> "n4"', '"n3" -> "n4op"']
    """
    import graphviz

    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    nodes = walk(outputs)
    number = {t: i for i, t in enumerate(nodes)}
    is_output = set(outputs)
    hidden = {t for t in nodes if hide_constants and t.op is None and not t.requires_grad}
    norms = {t: grad_norm(t) for t in nodes}
    scale = HeatScale(norms.values(), heat_limits) if heat else None

    dot = graphviz.Digraph(graphviz.nohtml(escape(name)))
    dot.attr(rankdir=rankdir)
    dot.attr("node", shape="box", style="rounded,filled", fillcolor="white", fontname="Helvetica")
    dot.attr("edge", fontname="Helvetica", fontsize="10", arrowsize="0.7")
    body = dot.body
    for t in nodes:
        if t in hidden:
            continue
        i = number[t]
        attrs = (dict(PARAMETER) if t.op is None and t.requires_grad else
                 dict(CONSTANT) if t.op is None else {})
        if t in is_output:
            attrs.update(OUTPUT)
        if scale is not None:
            attrs.update(scale.style(norms[t]))
        elif nonfinite(norms[t]):
            attrs.update(NONFINITE)
        label = tensor_label(t, i, norms[t], show_values=show_values, show_grads=show_grads,
                             heat=heat)
        body.append(statement(f"n{i}", {"label": label, **attrs}))
        if t.op is None:
            continue
        label = op_label(t)
        for k, x in enumerate(t.inputs):  # a hidden constant: "− 2" is x − 2, "2 −" is 2 − x
            if x in hidden:
                value = _number(x.data.item()) if x.data.size == 1 else f"const {_shape(x)}"
                label = f"{value} {label}" if k == 0 and len(t.inputs) > 1 else f"{label} {value}"
        ordered = t.op in ORDERED and sum(x not in hidden for x in t.inputs) > 1
        target = f"n{i}"
        if not collapse_ops:
            target = f"n{i}op"
            body.append(statement(target, {"label": label, **OP_NODE}))
            body.append(statement(target, {}, head=f"n{i}"))
        for k, x in enumerate(t.inputs, start=1):
            if x in hidden:
                continue
            text = " ".join(filter(None, [label if collapse_ops else "", str(k) if ordered else ""]))
            body.append(statement(f"n{number[x]}", {"label": text or None}, head=target))
    if scale is not None:
        body.append(statement("legend", {"label": scale.legend(), "shape": "plaintext", "style": ""}))
    return dot


_NODE = re.compile(r'^\s*(?!(?:graph|node|edge|subgraph|digraph)\b)(?:"(?:[^"\\]|\\.)*"|[\w.]+)'
                   r'\s*(?:\[|$)', re.MULTILINE)


def count_nodes(source: str) -> int:
    """The node statements in DOT text (one per node, as written by the drawings)."""
    return len(_NODE.findall(source))


def is_dot_text(path) -> bool:
    """Whether ``path`` names a DOT text file (``.dot``, ``.gv``) rather than a picture."""
    return Path(path).suffix.lower() in (".dot", ".gv")


def render(digraph_or_outputs, path: str | Path, format: str | None = None, *,
           max_nodes: int | None = MAX_NODES, timeout: float | None = TIMEOUT,
           **draw_options) -> Path:
    """Write a drawing to ``path`` and return the path. The format (svg, png,
    pdf; ``dot``/``gv`` for the DOT text) comes from ``format`` or the suffix.
    Tensors are drawn first with ``draw(..., **draw_options)``.

    ``dot``'s layout time grows steeply with the graph (the op-level graph of a
    20-step RNN takes it minutes), so a graph of more than ``max_nodes``
    nodes is refused and ``dot`` is stopped after ``timeout`` seconds, both
    with :class:`DrawingTooLarge` saying how to draw less (None: no limit).
    Raises :class:`GraphvizNotFound`, saying how to install Graphviz, when the
    ``dot`` program is missing.

    >>> import minigrad as mg, tempfile, os
    >>> y = mg.tanh(mg.tensor(0.5, requires_grad=True, name="x")).named("y")
    >>> path = render(y, os.path.join(tempfile.mkdtemp(), "y.svg"))
    >>> path.read_text().count("<svg") == 1
    True
    """
    import graphviz

    path = Path(path)
    format = (format or path.suffix.lstrip(".")).lower()
    dot = (digraph_or_outputs if isinstance(digraph_or_outputs, graphviz.Digraph)
           else draw(digraph_or_outputs, **draw_options))
    source = dot.source
    if format in ("dot", "gv"):
        path.write_text(source, encoding="utf-8")
        return path
    if format not in FORMATS:
        raise ValueError(f"cannot render {str(path)!r}: format {format!r} is not one of "
                         f"{', '.join(FORMATS + ('dot', 'gv'))}")
    nodes = count_nodes(source)
    if max_nodes is not None and nodes > max_nodes:
        raise DrawingTooLarge(f"not rendering {path}: the graph has {nodes} nodes, more than "
                              f"the {max_nodes} that dot lays out in reasonable time; "
                              f"{TOO_LARGE_ADVICE}")
    program = shutil.which("dot")
    if program is None:
        raise GraphvizNotFound(INSTALL_HELP)
    try:
        result = subprocess.run([program, f"-T{format}"], input=source.encode("utf-8"),
                                capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DrawingTooLarge(f"dot was stopped after {timeout:g} s without finishing {path} "
                              f"({nodes} nodes); {TOO_LARGE_ADVICE}") from None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise DrawingError(f"dot could not render {path}: {message[:500]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(result.stdout)
    return path
