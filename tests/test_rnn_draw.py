"""rnn.draw: the unrolled and folded views read from the DOT text (clusters, nodes and
edges per step, parameter fan-out, collapsing, determinism, no mutation, the seed's
names), rendering with `dot`, gradient heat of a vanishing gradient, and the CLI."""
import argparse
import doctest
import re
import runpy
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from minigrad.draw import GraphvizNotFound, draw, walk
import rnn.draw
from rnn import RNN
from rnn.cli import add_render_arguments, render_command
from rnn.draw import draw_folded, draw_unrolled, role_graph
from test_draw import attr, assert_same, edges, label, nodes, snapshot, svg_titles

D, H, K = 5, 3, 4


def problem(tau, *, batch=None, targets=True, dense=False, seed=0, w_scale=1.0):
    """A random token (or dense) problem of τ steps; returns (graph, x, y)."""
    rng = np.random.default_rng(seed)
    model = RNN(D, H, K, seed=seed)
    model.set_params(W=model.W.data * w_scale)
    shape = (tau,) if batch is None else (tau, batch)
    x = rng.normal(size=shape + (D,)) if dense else rng.integers(0, D, shape)
    y = rng.integers(0, K, shape) if targets else None
    return model.unroll(x, y), x, y


def clusters(source):
    """{t: the statements inside cluster t}."""
    found = re.findall(r"subgraph cluster_(\d+) \{\n(.*?)\n\t\}", source, re.S)
    return {int(t): body for t, body in found}


def graph_label(source):
    """The HTML-like label under the picture: title, parameter table, heat legend."""
    return re.search(r"^\tlabel=<(.*)> labelloc=b$", source, re.M).group(1)


def step_nodes(source, t):
    return set(re.findall(r'^\t\t"?(\w+)"? \[', clusters(source)[t], re.M))


# -- the unrolled view --------------------------------------------------------------------

@pytest.mark.parametrize("tau", [1, 4, 12])
def test_one_cluster_per_step_labelled_t(tau):
    src = draw_unrolled(problem(tau)[0]).source
    assert sorted(clusters(src)) == list(range(1, tau + 1))
    for t, body in clusters(src).items():
        assert f'label="t = {t}"' in body


def test_nodes_and_edges_of_every_step():
    tau = 5
    src = draw_unrolled(problem(tau)[0]).source
    all_edges = {(a, b) for a, b, _ in edges(src)}
    for t in range(1, tau + 1):
        assert step_nodes(src, t) == {f"x_{t}", f"h_{t}", f"o_{t}", f"Lt_{t}", f"y_{t}"}
        into_step = {(a, b) for a, b in all_edges if b.endswith(f"_{t}")}
        assert into_step == {(f"x_{t}", f"h_{t}"), (f"h_{t - 1}", f"h_{t}"),
                             (f"h_{t}", f"o_{t}"), (f"o_{t}", f"Lt_{t}"), (f"y_{t}", f"Lt_{t}")}
        assert (f"Lt_{t}", "L") in all_edges
    assert len(all_edges) == 6 * tau + 1       # + the invisible anchor under h(0)
    assert len(edges(src)) == len(all_edges)   # no edge drawn twice


def test_without_targets_there_is_no_loss_or_y():
    src = draw_unrolled(problem(3, targets=False)[0]).source
    for t in (1, 2, 3):
        assert step_nodes(src, t) == {f"x_{t}", f"h_{t}", f"o_{t}"}
    assert "L" not in nodes(src) and "y_1" not in src


def test_the_seed_names_and_the_tokens_are_on_the_nodes():
    graph, x, y = problem(4)
    src = draw_unrolled(graph).source
    for t in range(1, 5):
        assert label(src, f"x_{t}") == f"x({t}) = {x[t - 1]}"
        assert label(src, f"y_{t}") == f"y({t}) = {y[t - 1]}"
        assert (label(src, f"h_{t}"), label(src, f"o_{t}"), label(src, f"Lt_{t}")) == (
            f"h({t})", f"o({t})", f"L({t})")
    assert label(src, "h_0") == "h(0)" and label(src, "L") == "L"
    table = graph_label(src)
    for name, shape in [("U", f"{H}×{D}"), ("W", f"{H}×{H}"), ("V", f"{K}×{H}"),
                        ("b", f"{H}"), ("c", f"{K}")]:
        assert re.search(rf"<b>{name}</b></font></td><td[^>]*>{shape}</td>", table)


def test_the_spine_and_the_parameter_edges_are_labelled_at_every_step():
    tau = 6
    src = draw_unrolled(problem(tau)[0]).source
    labelled = [(a, b, lab) for a, b, lab in edges(src) if lab]
    assert sorted(b for a, b, lab in labelled if lab == "W") == sorted(f"h_{t}" for t in range(1, tau + 1))
    assert [a for a, b, lab in labelled if lab == "W"] == [f"h_{t}" for t in range(tau)]
    assert sum(lab == "U" for *_, lab in labelled) == tau
    assert sum(lab == "V" for *_, lab in labelled) == tau
    spine = re.findall(r'^\t"?h_\d+"? -> "?h_\d+"? \[(.*)\]$', src, re.M)
    assert len(spine) == tau    # and it does not rank: the h(t) stay on one line
    assert all('constraint="false"' in attrs for attrs in spine)


def test_parameter_fan_out_is_read_from_the_graph():
    tau = 7
    graph = problem(tau)[0]
    rg = role_graph(graph)
    assert {name: rg.uses[name] for name in "UWVbc"} == {n: list(range(1, tau + 1)) for n in "UWVbc"}
    assert rg.biases[("h", 3)] == ("b",) and rg.biases[("o", 3)] == ("c",)
    table = graph_label(draw_unrolled(graph).source)
    assert table.count(f"{tau} steps") == 5


def test_parameters_per_step():
    tau = 4
    src = draw_unrolled(problem(tau)[0], params="per_step").source
    for t in range(1, tau + 1):
        assert step_nodes(src, t) >= {f"{p}_{t}" for p in "UWVbc"}
    feeds = {(a, b) for a, b, _ in edges(src) if b[0] in "UWVbc"}  # drawn head to tail
    assert feeds == {(f"{n}_{t}", f"{p}_{t}") for t in range(1, tau + 1)
                     for n, p in [("h", "U"), ("h", "W"), ("h", "b"), ("o", "V"), ("o", "c")]}


def test_long_sequences_collapse_the_middle():
    tau = 40
    src = draw_unrolled(problem(tau)[0]).source
    assert sorted(clusters(src)) == [1, 2, 3, 38, 39, 40]
    assert "t = 4 … 37" in label(src, "middle") and "(34 steps)" in label(src, "middle")
    spine = [(a, b) for a, b, lab in edges(src) if lab == "W"]
    assert spine == [("h_0", "h_1"), ("h_1", "h_2"), ("h_2", "h_3"), ("h_3", "middle"),
                     ("middle", "h_38"), ("h_38", "h_39"), ("h_39", "h_40")]
    assert ("middle", "L", "L(4) … L(37)") in edges(src)
    assert not re.search(r"\bh_(?:[4-9]|[12]\d|3[0-7])\b", src)
    # the threshold: 12 steps are all drawn, 13 are not; collapse_above=None draws all
    assert len(clusters(draw_unrolled(problem(12)[0]).source)) == 12
    assert len(clusters(draw_unrolled(problem(13)[0]).source)) == 6
    assert len(clusters(draw_unrolled(problem(tau)[0], collapse_above=None).source)) == tau
    assert sorted(clusters(draw_unrolled(problem(tau)[0], keep=2).source)) == [1, 2, 39, 40]


def test_a_thousand_steps_collapsed_draw_well_under_a_second():
    graph = problem(1000)[0]
    graph.loss.backward()
    draw_unrolled(graph, heat=True)  # imports matplotlib once
    seconds = []
    for heat in (False, True):
        start = time.perf_counter()
        src = draw_unrolled(graph, heat=heat).source
        seconds.append(time.perf_counter() - start)
        assert len(clusters(src)) == 6
    assert max(seconds) < 0.5, seconds


def test_same_graph_same_text():
    texts = set()
    for _ in range(2):
        graph = problem(20)[0]
        graph.loss.backward()
        texts |= {draw_unrolled(graph, heat=True).source, draw_unrolled(graph, heat=True).source}
    assert len(texts) == 1
    assert draw_folded(problem(5)[0]).source == draw_folded(problem(5)[0]).source


def test_drawing_never_mutates_the_graph():
    graph = problem(15, w_scale=0.5)[0]
    graph.L[15].backward()
    everything = walk([graph.loss])
    before = snapshot(everything)
    draw_unrolled(graph, heat=True, params="per_step")
    draw_unrolled(graph, collapse_above=None)
    draw_folded(graph)
    assert_same(before, snapshot(everything))
    assert walk([graph.loss]) == everything


def test_batched_and_dense_graphs_draw_the_same_structure():
    token = draw_unrolled(problem(3)[0]).source
    for graph in (problem(3, batch=2)[0], problem(3, dense=True)[0]):
        src = draw_unrolled(graph).source
        assert {(a, b, lab) for a, b, lab in edges(src)} == {(a, b, lab) for a, b, lab in edges(token)}
        assert role_graph(graph).params["b"].shape == (H,)  # b's reshape view is b
    assert label(draw_unrolled(problem(3, batch=2)[0]).source, "x_1").startswith("x(1) = [")


def test_the_op_level_drawing_of_a_batch_shows_each_steps_token_ids():
    """minigrad.draw of the batched graph: U x(t) is U[:, x(t)] with x(t) the B token ids."""
    graph, x, _ = problem(3, batch=2)
    src = draw(graph.loss).source
    gathers = [label(src, i + "op") for i, a in nodes(src).items()
               if (attr(a, "label") or "").startswith("U x(")]
    assert gathers == [f"[:, {np.array2string(x_t)}]" for x_t in x]


# -- gradient heat ---------------------------------------------------------------------------

def fill(src, node_id):
    return attr(nodes(src)[node_id], "fillcolor")


def test_heat_shows_the_gradient_vanishing_back_in_time():
    tau = 30
    graph = problem(tau, w_scale=0.2)[0]
    graph.L[tau].backward()   # only the last loss: ∂L(τ)/∂h(t) shrinks like W^(τ-t)
    norms = [np.linalg.norm(graph.h[t].grad) for t in range(1, tau + 1)]
    assert norms[0] < 1e-10 * norms[-1]   # the premise: the gradient really vanishes
    src = draw_unrolled(graph, heat=True, collapse_above=None).source
    assert fill(src, "h_1") == "#440154"  # viridis' darkest: the smallest gradient drawn
    for t in (1, tau):
        assert f"‖grad‖ {norms[t - 1]:.1e}" in label(src, f"h_{t}")
    assert fill(src, "Lt_1") == "#f7f7f7"  # L(1) is not on the path: no gradient
    legend = graph_label(src)
    assert f">{np.log10(norms[0]):.1f}<" in legend   # the scale starts at h(1)'s log10 norm
    collapsed = draw_unrolled(graph, heat=True).source  # the middle's strip fades too
    assert re.search(r'bgcolor="#[0-9a-f]{6}:#[0-9a-f]{6}"', nodes(collapsed)["middle"])


def test_non_finite_gradient_is_red_in_the_unrolled_view():
    graph = problem(3)[0]
    graph.loss.backward()
    graph.h[2].grad = np.full(H, np.nan)   # as a broken VJP would leave it
    for heat in (False, True):
        src = draw_unrolled(graph, heat=heat).source
        assert fill(src, "h_2") == "#ff0000" and "grad NaN!" in label(src, "h_2")


# -- the folded view ---------------------------------------------------------------------------

def test_folded_view_is_the_seed_loop():
    graph = problem(4)[0]
    src = draw_folded(graph).source
    assert set(nodes(src)) == {"x", "h", "o", "L", "y"}
    assert sorted(edges(src)) == sorted([("x", "h", "U"), ("h", "h", r"W\n(delay: h(t-1))"),
                                         ("h", "o", "V"), ("o", "L", None), ("y", "L", None)])
    assert label(src, "h") == rf"h\n(H = {H}) + b" and label(src, "o") == rf"o\n(K = {K}) + c"
    assert label(src, "x") == rf"x\n(D = {D})"


def test_folded_view_follows_the_graph_not_a_template():
    no_loss = draw_folded(problem(3, targets=False)[0]).source
    assert set(nodes(no_loss)) == {"x", "h", "o"}
    one_step = draw_folded(problem(1)[0]).source   # τ = 1: h(0) → h(1) is still W
    assert ("h", "h") in {(a, b) for a, b, _ in edges(one_step)}
    batched = draw_folded(problem(3, batch=2, dense=True)[0]).source
    assert sorted(edges(batched)) == sorted(edges(draw_folded(problem(3)[0]).source))


# -- rendering and the command line --------------------------------------------------------

def test_render_both_views_with_dot(tmp_path):
    graph = problem(4)[0]
    graph.loss.backward()
    from minigrad.draw import render
    titles, text = svg_titles(render(draw_unrolled(graph, heat=True), tmp_path / "u.svg"))
    assert {f"{k}_{t}" for k in ("x", "h", "o", "Lt", "y") for t in range(1, 5)} <= titles
    assert {"cluster_1", "cluster_4", "h_0", "L", "h_3->h_4"} <= titles
    for word in ("h(1)", "o(4)", "L(2)", "y(3)", "x(1)", "t = 3"):
        assert word in text
    titles, _ = svg_titles(render(draw_folded(graph), tmp_path / "f.svg"))
    assert {"x", "h", "o", "L", "y", "h->h", "x->h"} <= titles
    png = render(draw_unrolled(problem(40)[0]), tmp_path / "u.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def parse(*argv):
    parser = argparse.ArgumentParser()
    add_render_arguments(parser)
    return parser.parse_args(list(argv))


def test_cli_draws_the_unrolled_rnn_with_heat(tmp_path, capsys):
    out = tmp_path / "heat.svg"
    path = render_command(parse("--tau", "20", "--hidden-size", "4", "--w-scale", "0.3", "--heat",
                                "--loss", "last", "--out", str(out)))
    assert path == out and f"wrote {out}" in capsys.readouterr().out
    titles, text = svg_titles(out)
    assert {"cluster_1", "cluster_20", "middle"} <= titles
    assert "‖grad‖" in text and "log10 ‖grad‖" in text   # the legend


def test_cli_folded_and_dot_text(tmp_path):
    render_command(parse("--view", "folded", "--out", str(tmp_path / "f.dot")))
    assert ("h", "h", "W\\n(delay: h(t-1))") in edges((tmp_path / "f.dot").read_text())
    render_command(parse("--tau", "15", "--all-steps", "--params", "per-step",
                         "--out", str(tmp_path / "u.dot")))
    assert len(clusters((tmp_path / "u.dot").read_text())) == 15


def test_cli_without_dot_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GraphvizNotFound, match="sudo apt-get install graphviz"):
        render_command(parse("--out", str(tmp_path / "u.png")))


def test_the_example_writes_the_readme_pictures(tmp_path, monkeypatch, capsys):
    script = Path(__file__).parent.parent / "examples" / "03_draw_graphs.py"
    monkeypatch.setattr(sys, "argv", [str(script), str(tmp_path)])
    runpy.run_path(str(script), run_name="__main__")
    for name in ("neuron", "rnn_unrolled", "rnn_folded", "rnn_heat"):
        picture = (tmp_path / f"{name}.png").read_bytes()
        assert picture[:8] == b"\x89PNG\r\n\x1a\n" and len(picture) < 300_000
    assert "‖∂L(36)/∂h(1)‖ = " in capsys.readouterr().out


def test_docstring_examples_run():
    failed, attempted = doctest.testmod(rnn.draw)
    assert failed == 0 and attempted >= 8


# -- render: trained checkpoints, default names, heat on the folded view -----------------------

def _trained(tmp_path, **config):
    from rnn.train import TrainConfig, Trainer
    settings = dict(grammar="reber", hidden_size=5, tau=4, batch=2, steps=3, train_strings=30,
                    validation_strings=5, out=str(tmp_path / "run"), progress=False)
    Trainer(TrainConfig(**{**settings, **config})).run(log=None)
    return tmp_path / "run" / "checkpoint.npz"


def test_render_draws_a_trained_checkpoint_on_a_short_string_of_its_grammar(tmp_path, capsys):
    from rnn import checkpoint, grammar
    path = _trained(tmp_path)
    out = tmp_path / "trained.dot"
    render_command(parse("--checkpoint", str(path), "--heat", "--out", str(out)))
    string = next(s for s in grammar.generate(100, seed=1) if len(s) <= 12)
    source = out.read_text()
    assert len(clusters(source)) == len(string) - 1          # one step per predicted character
    hidden = checkpoint.load(path).arrays["W"].shape[0]
    assert hidden == 5 and "5×5" in source                      # W of the trained model
    assert "log10 ‖grad‖" in source


def test_render_draws_a_text_checkpoint_on_the_start_of_its_text(tmp_path):
    book = tmp_path / "book.txt"
    book.write_text("the cat sat on the mat. " * 20, encoding="utf-8")
    path = _trained(tmp_path, grammar=None, text=str(book))
    render_command(parse("--checkpoint", str(path), "--all-steps",
                         "--out", str(tmp_path / "t.dot")))
    assert len(clusters((tmp_path / "t.dot").read_text())) == 11   # 12 characters, 11 predicted
    book.unlink()
    from rnn.data import DataError
    with pytest.raises(DataError, match="book.txt, which cannot be read now"):
        render_command(parse("--checkpoint", str(path), "--out", str(tmp_path / "t.dot")))


@pytest.mark.parametrize("flag, value", [("--hidden-size", "7"), ("--tau", "9"),
                                         ("--random-seed", "3"), ("--w-scale", "0.5"),
                                         ("--input-size", "2"), ("--hidden-size", "3"),
                                         ("--output-size", "4")])  # the last two: defaults
def test_render_refuses_a_checkpoint_with_the_sizes_of_a_random_problem(tmp_path, flag, value):
    from minigrad.draw import DrawingError
    path = _trained(tmp_path)
    with pytest.raises(DrawingError, match=f"{flag} describe a random problem"):
        render_command(parse("--checkpoint", str(path), flag, value,
                             "--out", str(tmp_path / "g.dot")))


def test_each_view_has_its_own_default_file():
    from rnn.cli import render_path
    assert render_path(parse()) == "out/rnn_unrolled.svg"
    assert render_path(parse("--view", "folded")) == "out/rnn_folded.svg"
    assert render_path(parse("--view", "folded", "--out", "f.dot")) == "f.dot"


def test_heat_on_the_folded_view_is_refused_with_an_error_line(tmp_path, capsys):
    from rnn.__main__ import main
    out = tmp_path / "f.dot"
    assert main(["render", "--view", "folded", "--heat", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --heat colours each node of the unrolled graph") and \
        "--view unrolled" in err and not out.exists()
