"""minigrad.draw: structure read from the DOT text, determinism, no mutation, heat
colours, NaN/inf, deep graphs, and real rendering with Graphviz's `dot`."""
import copy
import doctest
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import minigrad as mg
import minigrad.draw
from minigrad.draw import GraphvizNotFound, draw, render, walk

EDGE = re.compile(r'^\t+"?(\w+)"? -> "?(\w+)"?(?: \[(.*)\])?$', re.M)
NODE = re.compile(r'^\t+"?(\w+)"? \[(.*)\]$', re.M)


def edges(source):
    """(tail, head, label or None) for every edge statement."""
    return [(a, b, attr(attrs or "", "label")) for a, b, attrs in EDGE.findall(source)]


def nodes(source):
    """{id: attribute text} for every node statement."""
    return {name: attrs for name, attrs in NODE.findall(source)
            if name not in ("node", "edge", "graph")}


def attr(attrs, key):
    """The value of attribute `key` in a statement's attribute text, unquoted (None if absent)."""
    m = re.search(rf'(?:^| ){key}=("(?:[^"\\]|\\.)*"|<.*>|\S+)', attrs)
    return None if m is None else m.group(1).strip('"')


def label(source, node_id):
    return attr(nodes(source)[node_id], "label")


def micrograd_example():
    """A small expression with a parameter, a constant, a reused operand and a name."""
    a = mg.tensor(2.0, requires_grad=True, name="a")
    b = mg.tensor(-3.0, requires_grad=True, name="b")
    e = (a * b).named("e")
    d = (e + 10.0).named("d")
    L = (d * d - a).named("L")
    return a, b, e, d, L


def snapshot(tensors):
    """Every field of every node, deep-copied (arrays included)."""
    return [(t.data.copy(), None if t.grad is None else np.array(t.grad), t.requires_grad,
             t.name, copy.deepcopy(t.tags), t.op, tuple(map(id, t.inputs)),
             copy.deepcopy(t.params), t.vjp, t.hooks) for t in tensors]


def assert_same(before, after):
    assert len(before) == len(after)
    for x, y in zip(before, after):
        for u, v in zip(x, y):
            if isinstance(u, np.ndarray):
                np.testing.assert_array_equal(u, v)
                assert u.dtype == v.dtype
            elif isinstance(u, dict):
                assert u.keys() == v.keys() and all(np.array_equal(u[k], v[k]) for k in u)
            else:
                assert u is v or u == v


# -- structure -------------------------------------------------------------------------

def test_one_node_per_tensor_and_op_and_one_edge_per_operand():
    *_, L = micrograd_example()
    src = draw(L).source
    ids = nodes(src)
    # tensors a, b, e, 10, d, L and the unnamed d*d; ops ×, +, ×, − on the four results
    assert sum(not k.endswith("op") for k in ids) == 7
    assert sum(k.endswith("op") for k in ids) == 4
    # operands: a,b → ×; e,10 → +; d,d → ×; d*d, a → −; plus one op → result edge per op
    assert len(edges(src)) == 8 + 4


def test_operand_used_twice_draws_two_edges():
    x = mg.tensor(3.0, requires_grad=True, name="x")
    src = draw(x * x).source
    assert edges(src).count(("n0", "n1op", None)) == 2


@pytest.mark.parametrize("op, symbol", [(lambda x, y: x - y, "−"), (lambda x, y: x / y, "÷"),
                                        (lambda x, y: x @ y, "@")])
def test_order_sensitive_operands_are_numbered(op, symbol):
    x = mg.tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True, name="x")
    y = mg.tensor(np.ones((2, 2)), requires_grad=True, name="y")
    src = draw(op(y, x)).source
    assert label(src, "n2op") == symbol
    assert ("n0", "n2op", "1") in edges(src) and ("n1", "n2op", "2") in edges(src)  # y first


def test_commutative_operands_are_not_numbered():
    x, y = mg.tensor(1.0, name="x"), mg.tensor(2.0, name="y")
    assert [lab for *_, lab in edges(draw(x + y).source)] == [None, None, None]


def test_labels_name_shape_auto_name_and_op_parameters():
    W = mg.tensor(np.zeros((2, 3)), requires_grad=True, name="W")
    s = mg.tanh(W).sum(axis=0)
    src = draw(s).source
    assert label(src, "n0") == r"W\n2×3"
    assert label(src, "n1") == r"#1\n2×3" and label(src, "n1op") == "tanh"
    assert label(src, "n2op") == "sum axis=0" and label(src, "n2") == r"#2\n3"


def test_index_labels_show_slices_and_small_index_arrays():
    """Slices as written; a gather by an array of ids (the batched RNN's U[:, x(t)])
    shows the ids."""
    U = mg.tensor(np.zeros((2, 5)), requires_grad=True, name="U")
    src = draw([U[:, np.array([0, 3])], U[1:, 2], U[::-1, :4]]).source
    assert label(src, "n1op") == "[:, [0 3]]"
    assert label(src, "n2op") == "[1:, 2]" and label(src, "n3op") == "[::-1, :4]"


def test_values_and_grads_summaries():
    x = mg.tensor([1.0, -2.0], requires_grad=True, name="x")
    y = (x * x).sum().named("y")
    y.backward()
    src = draw(y, show_values=True, show_grads=True).source
    assert label(src, "n0") == r"x\n2\n∈ [-2, 1]\n‖grad‖ = 4.5"  # grad 2x = [2, -4]
    assert label(src, "n2") == r"y\nscalar\n= 5\ngrad = 1"
    z = mg.tensor(2.0, requires_grad=True, name="z")
    (-z).backward()
    assert label(draw(z, show_grads=True).source, "n0") == r"z\nscalar\ngrad = -1"  # signed


def test_parameters_constants_and_outputs_look_different():
    a, b, e, d, L = micrograd_example()
    src = draw(L).source
    n = nodes(src)
    assert 'penwidth="2"' in n["n0"] and 'fillcolor="#cfe2f3"' in n["n0"]     # parameter a
    assert "dashed" in n["n3"] and label(src, "n3") == r"10\nscalar"         # the constant 10
    assert 'peripheries="2"' in n["n6"]                                       # the output L
    assert all("peripheries" not in n[k] for k in n if k != "n6")


def test_several_outputs_each_marked():
    x = mg.tensor(1.0, requires_grad=True, name="x")
    src = draw([mg.exp(x).named("p"), mg.log(x).named("q")]).source
    marked = [attr(a, "label") for a in nodes(src).values() if "peripheries" in a]
    assert marked == [r"p\nscalar", r"q\nscalar"]


def test_token_gather_shows_the_token():
    U = mg.tensor(np.zeros((3, 6)), requires_grad=True, name="U")
    g = U[:, 5].named("U x(3)", t=3, role="Ux", x=5)
    src = draw(g).source
    assert label(src, "n1") == r"U x(3)\n3\nx(3) = 5" and label(src, "n1op") == "[:, 5]"


def test_hide_constants_moves_scalars_into_the_op_label():
    x = mg.tensor(1.0, requires_grad=True, name="x")
    src = draw([(x - 3.0).named("p"), (3.0 - x).named("q")], hide_constants=True).source
    labels = {attr(a, "label") for a in nodes(src).values()}
    assert "− 3" in labels and "3 −" in labels
    assert not any("dashed" in a for a in nodes(src).values())
    assert [lab for *_, lab in edges(src)] == [None] * 4  # one visible operand: no numbers


def test_collapse_ops_draws_ops_as_edges():
    a, b, e, d, L = micrograd_example()
    src = draw(L, collapse_ops=True).source
    assert not any(k.endswith("op") for k in nodes(src))
    labels = sorted(lab for *_, lab in edges(src))
    assert labels == sorted(["×", "×", "+", "+", "×", "×", "− 1", "− 2"])


def test_same_graph_gives_the_same_text():
    sources = []
    for _ in range(2):  # two separately built but equal graphs, and one drawn twice
        *_, L = micrograd_example()
        L.backward()
        sources += [draw(L, heat=True, show_values=True).source,
                    draw(L, heat=True, show_values=True).source]
    assert len(set(sources)) == 1
    assert "0x" not in sources[0]  # no id() or memory address leaks in


def test_drawing_never_mutates_the_graph():
    *_, L = micrograd_example()
    L.backward()
    graph = walk([L])
    before = snapshot(graph)
    for options in [{}, dict(heat=True, show_values=True, show_grads=True),
                    dict(hide_constants=True, collapse_ops=True)]:
        draw(L, **options)
    assert_same(before, snapshot(graph))


# -- gradient heat -----------------------------------------------------------------------

def test_heat_colours_span_the_scale_and_legend_shows_log10_values():
    x = mg.tensor(1.0, requires_grad=True, name="x")
    w = mg.tensor(1e-4, requires_grad=True, name="w")
    y = (x * w).named("y")   # ∂y/∂x = 1e-4, ∂y/∂w = 1, ∂y/∂y = 1
    y.backward()
    src = draw(y, heat=True).source
    n = nodes(src)
    assert 'fillcolor="#440154"' in n["n0"]   # viridis' darkest: the smallest gradient
    assert 'fillcolor="#fde725"' in n["n1"]   # viridis' brightest: the largest
    legend = n["legend"]
    assert "log10 ‖grad‖" in legend and ">-4.0<" in legend and ">0.0<" in legend
    assert "NaN / inf" in legend


def test_nan_and_inf_gradients_are_loud():
    x = mg.tensor(0.0, requires_grad=True, name="x")
    z = mg.tensor(1.0, requires_grad=True, name="z")
    with np.errstate(all="ignore"):
        out = (mg.log(x) + z).named("out")  # ∂/∂x = 1/0 = inf
        out.backward()
        w = mg.tensor(0.0, requires_grad=True, name="w")
        nan = (w * mg.log(w)).named("nan")  # 0·(-inf) = NaN forward; ∂/∂w = -inf + 0/0 = NaN
        nan.backward()
    for heat in (False, True):
        src = draw([out, nan], heat=heat).source
        by_name = {attr(a, "label").split("\\n")[0]: a for a in nodes(src).values()}
        assert "grad inf!" in by_name["x"] and "grad NaN!" in by_name["w"]
        for a in (by_name["x"], by_name["w"]):
            assert 'fillcolor="#ff0000"' in a and 'penwidth="3"' in a


# -- deep graphs -------------------------------------------------------------------------

def test_a_100000_node_chain_draws_without_recursion():
    x = mg.tensor(0.5, requires_grad=True, name="x")
    y = x
    for _ in range(100_000):
        y = mg.tanh(y)
    src = draw(y, collapse_ops=True).source
    assert src.count(" -> ") == 100_000
    assert f'"n100000" [label="#100000' in src


# -- rendering -------------------------------------------------------------------------------

def svg_titles(path):
    tree = ET.parse(path)
    ns = "{http://www.w3.org/2000/svg}"
    return {t.text for t in tree.iter(f"{ns}title")}, " ".join(
        t.text or "" for t in tree.iter(f"{ns}text"))


def test_render_svg_with_dot(tmp_path):
    *_, L = micrograd_example()
    path = render(L, tmp_path / "graph.svg", show_values=True)
    titles, text = svg_titles(path)
    assert {"n0", "n1", "n2op", "n6", "n0->n2op", "n5->n6op"} <= titles
    for name in ("a", "b", "e", "d", "L", "×", "+", "−"):
        assert name in text.split()


def test_render_png_and_pdf_with_dot(tmp_path):
    *_, L = micrograd_example()
    png = render(draw(L), tmp_path / "graph.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = render(L, tmp_path / "out" / "graph.pdf")   # missing folders are made
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert render(L, tmp_path / "graph", format="svg").read_text().lstrip().startswith("<?xml")


def test_render_dot_text_needs_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    *_, L = micrograd_example()
    assert render(L, tmp_path / "g.dot").read_text() == draw(L).source


def test_missing_dot_says_how_to_install(tmp_path, monkeypatch):
    *_, L = micrograd_example()
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` on it
    digraph = draw(L)                          # the source is still produced
    assert "->" in digraph.source
    with pytest.raises(GraphvizNotFound) as error:
        render(digraph, tmp_path / "g.png")
    message = str(error.value)
    for hint in ("sudo apt-get install graphviz", "brew install graphviz",
                 "https://graphviz.org/download/"):
        assert hint in message
    assert not (tmp_path / "g.png").exists()


def test_unknown_format_is_refused(tmp_path):
    *_, L = micrograd_example()
    with pytest.raises(ValueError, match="'jpeg2000'"):
        render(L, tmp_path / "g.jpeg2000")


def test_docstring_examples_run():
    failed, attempted = doctest.testmod(minigrad.draw)
    assert failed == 0 and attempted >= 8


# -- graphs too large for dot ---------------------------------------------------------------

def _op_level_rnn(tau):
    from rnn import RNN
    return RNN(4, 3, 4, seed=0).unroll(np.arange(tau) % 4, np.arange(tau) % 4).loss


def test_dot_is_stopped_after_the_timeout_with_advice(tmp_path):
    import time
    from minigrad.draw import DrawingTooLarge
    loss = _op_level_rnn(14)              # 350 nodes: dot needs ~40 s on a 2-core Xeon
    start = time.perf_counter()
    with pytest.raises(DrawingTooLarge, match=r"dot was stopped after 1 s .*collapse.*fold"):
        render(loss, tmp_path / "g.svg", timeout=1, max_nodes=None)
    assert time.perf_counter() - start < 10 and not (tmp_path / "g.svg").exists()


def test_a_graph_with_too_many_nodes_is_refused_before_dot_runs(tmp_path, monkeypatch):
    from minigrad.draw import MAX_NODES, DrawingTooLarge, count_nodes
    loss = _op_level_rnn(150)
    assert count_nodes(draw(loss).source) == len(walk([loss])) + sum(
        t.op is not None for t in walk([loss])) > MAX_NODES
    monkeypatch.setenv("PATH", str(tmp_path))          # dot must not even be looked for
    with pytest.raises(DrawingTooLarge, match=rf"has \d+ nodes, more than the {MAX_NODES}"):
        render(loss, tmp_path / "g.svg")
    assert render(loss, tmp_path / "g.dot").exists()   # the DOT text is always available


# -- the bundled viridis table ------------------------------------------------------------------

def _lightness(colour):
    """CIE L* of an sRGB hex colour (D65), written from the sRGB and CIELAB definitions."""
    linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4
              for c in (int(colour[i:i + 2], 16) for i in (1, 3, 5))]
    y = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return 116 * y ** (1 / 3) - 16 if y > (6 / 29) ** 3 else y * (29 / 3) ** 3


def test_viridis_runs_from_dark_purple_to_yellow_and_clamps():
    from minigrad.draw import viridis
    assert viridis(0.0) == viridis(-3.0) == "#440154"   # viridis's published end points
    assert viridis(1.0) == viridis(7.0) == "#fde725"


def test_viridis_lightness_rises_monotonically():
    from minigrad.draw import VIRIDIS, viridis
    lightness = [_lightness(viridis(i / 128)) for i in range(129)]   # steps of ~0.6 L*, far
    assert all(b > a for a, b in zip(lightness, lightness[1:]))       # above 8-bit rounding
    anchors = [_lightness(c) for c in VIRIDIS]
    assert all(b > a + 1 for a, b in zip(anchors, anchors[1:]))
    assert len(VIRIDIS) <= 32 and lightness[0] < 20 < 90 < lightness[-1]


def test_viridis_is_within_two_levels_of_matplotlibs_table():
    import matplotlib
    from matplotlib.colors import to_hex
    from minigrad.draw import viridis
    table = matplotlib.colormaps["viridis"].resampled(256)
    for i in range(256):
        ours, theirs = viridis(i / 255), to_hex(table(i))
        assert max(abs(int(ours[k:k + 2], 16) - int(theirs[k:k + 2], 16))
                   for k in (1, 3, 5)) <= 2, (i, ours, theirs)


def test_heat_drawings_and_render_need_no_matplotlib(tmp_path):
    import subprocess
    import sys
    script = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "matplotlib":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
import numpy as np
import minigrad as mg
from minigrad.draw import draw
from rnn import RNN
from rnn.draw import draw_unrolled
from rnn.__main__ import main
x = mg.tensor([1.0, -2.0], requires_grad=True, name="x")
L = mg.tanh(x * 3.0).sum().named("L")
L.backward()
assert "#fde725" in draw(L, heat=True).source
graph = RNN(4, 3, 4).unroll(np.arange(6) % 4, np.arange(6) % 4)
graph.loss.backward()
assert "log10" in draw_unrolled(graph, heat=True).source
assert main(["render", "--heat", "--out", sys.argv[1]]) == 0
assert not [m for m in sys.modules if m.startswith("matplotlib")]
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "g.dot")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.endswith("ok\n"), result.stderr
