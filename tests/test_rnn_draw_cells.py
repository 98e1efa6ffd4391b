"""rnn.draw for every registered cell, read from the DOT text: one cluster per step, the cell's
gates and states in it (or one box per step with collapse_cells), a gated cell's one W_hh h(t-1)
product per step feeding its gates, the h and c spines from step to step, the folded loop with
its delays, parameters read from the graph, and escaped labels."""
import re

import numpy as np
import pytest

from minigrad.draw import walk
from rnn.cells import CELLS
from rnn.draw import draw_folded, draw_unrolled, role_graph
from rnn.model import LanguageModel
from test_draw import assert_same, edges, label, nodes, snapshot
from test_rnn_draw import clusters, graph_label, step_nodes

D, H, K = 5, 3, 4
KINDS = list(CELLS)


def problem(kind, tau, *, batch=None, seed=0, **options):
    rng = np.random.default_rng(seed)
    model = LanguageModel(kind, D, H, K, seed=seed, **options)
    shape = (tau,) if batch is None else (tau, batch)
    return model, model.unroll(rng.integers(0, D, shape), rng.integers(0, K, shape))


def gates_of(model, graph) -> list[str]:
    """The roles of the named σ and tanh nodes the cell makes in step 1 (its gates and
    candidates), read from the graph, in the order made."""
    step = graph.nodes[1]
    made = sorted((n for role, n in step.items() if n.op in ("sigmoid", "tanh")
                   and n.name == f"{role}(1)" and role not in model.state_names),
                  key=lambda n: n.seq)
    return [n.tags["role"] for n in made]


@pytest.mark.parametrize("kind", KINDS)
def test_each_step_is_a_cluster_holding_the_cells_gates_and_states(kind):
    model, graph = problem(kind, 4)
    gates = gates_of(model, graph)
    src = draw_unrolled(graph, cell=kind).source
    assert sorted(clusters(src)) == [1, 2, 3, 4]
    for t in range(1, 5):
        expected = {f"x_{t}", f"o_{t}", f"Lt_{t}", f"y_{t}", *([f"Wh_{t}"] if gates else []),
                    *(f"{s}_{t}" for s in model.state_names), *(f"{g}_{t}" for g in gates)}
        assert step_nodes(src, t) == expected
        for g in gates:
            assert label(src, f"{g}_{t}") == f"{g}({t})"
        if gates:
            assert label(src, f"Wh_{t}") == f"W_hh h({t - 1})"
    assert f"unrolled {kind.upper()}, τ = 4" in graph_label(src)


@pytest.mark.parametrize("kind", KINDS)
def test_the_states_run_along_spines_from_step_to_step(kind):
    model, graph = problem(kind, 5)
    src = draw_unrolled(graph, cell=kind).source
    thick = {(a, b) for a, b, attrs in re.findall(r'^\t"?(\w+)"? -> "?(\w+)"? \[(.*)\]$', src,
                                                   re.M) if 'penwidth="2"' in attrs}
    for t in range(1, 6):
        entering = {a for a, b in thick if b.endswith(f"_{t}") and not a.endswith(f"_{t}")}
        assert f"h_{t - 1}" in entering, (t, entering)          # h(t-1) feeds step t
        if "c" in model.state_names:
            assert (f"c_{t - 1}", f"c_{t}") in thick            # c(t-1) → c(t): the c spine


@pytest.mark.parametrize("kind", KINDS)
def test_a_gated_cell_draws_one_W_hh_product_per_step_at_the_input_rank(kind):
    """The graph records one W_hh h(t-1) per step (sliced into the gate blocks after the
    bias): it is drawn as that node, h(t-1) → W_hh h(t-1) the only edge labelled W_hh into the
    step, and it feeds every gate; the vanilla cell keeps the seed's h(t-1) → h(t) labelled W."""
    model, graph = problem(kind, 4)
    gates = gates_of(model, graph)
    src = draw_unrolled(graph, cell=kind).source
    rg = role_graph(graph, kind)
    for t in range(1, 5):
        labelled = {(a, b) for a, b, lab in edges(src) if lab == ("W_hh" if gates else "W")
                    and b.endswith(f"_{t}")}
        if not gates:
            assert labelled == {(f"h_{t - 1}", f"h_{t}")} and "Wh" not in rg.products
            continue
        assert rg.nodes[("Wh", t)] is graph.nodes[t]["Wh"]          # the graph's own product
        assert graph.nodes[t]["Wh"].inputs[1] is graph.h[t - 1]
        assert labelled == {(f"h_{t - 1}", f"Wh_{t}")}
        assert {b for a, b, _ in edges(src) if a == f"Wh_{t}"} == {f"{g}_{t}" for g in gates}
        assert re.search(rf'\{{rank=same; "x_{t}"; "Wh_{t}"\}}', src)
    table = graph_label(src)                    # the table still says where W_hh acts
    if gates:
        assert f"h(t-1) → {', '.join(f'{g}(t)' for g in gates)}" in table


@pytest.mark.parametrize("kind", KINDS)
def test_collapsed_cells_are_one_box_per_step_between_the_states(kind):
    model, graph = problem(kind, 4)
    gates = gates_of(model, graph)
    src = draw_unrolled(graph, cell=kind, collapse_cells=True).source
    drawn = {(a, b) for a, b, _ in edges(src)}
    for t in range(1, 5):
        if not gates:                        # the vanilla cell has no gates: drawn as it is
            assert src == draw_unrolled(graph, cell=kind).source
            return
        assert step_nodes(src, t) == {f"x_{t}", f"cell_{t}", f"o_{t}", f"Lt_{t}", f"y_{t}",
                                      *(f"{s}_{t}" for s in model.state_names)}
        assert label(src, f"cell_{t}") == rf"{kind.upper()} cell({t})\n{' '.join(gates)}"
        into = {a for a, b in drawn if b == f"cell_{t}"}
        assert into == {f"x_{t}", *(f"{s}_{t - 1}" for s in model.state_names)}
        assert {b for a, b in drawn if a == f"cell_{t}"} == {f"{s}_{t}" for s in
                                                             model.state_names}
    assert not any(re.search(rf"\b{g}_\d", src) for g in gates)


@pytest.mark.parametrize("kind", KINDS)
def test_the_parameter_table_and_edge_labels_come_from_the_model(kind):
    model, graph = problem(kind, 3)
    src = draw_unrolled(graph, cell=kind).source
    table = graph_label(src)
    for name, p in model.parameters().items():
        shape = "×".join(map(str, p.shape))
        assert re.search(rf"<b>{name}</b></font></td><td[^>]*>{shape}</td>", table), name
    assert table.count("3 steps") == len(model.parameters())
    labelled = {lab for *_, lab in edges(src) if lab}
    matrices = {name for name, p in model.parameters().items() if p.ndim == 2}
    assert {part for lab in labelled for part in lab.split()} == matrices
    biases = role_graph(graph).biases
    assert {p for ps in biases.values() for p in ps} == {
        name for name, p in model.parameters().items() if p.ndim == 1}


@pytest.mark.parametrize("kind", KINDS)
def test_the_folded_view_merges_the_steps_with_delays_from_the_previous_step(kind):
    model, graph = problem(kind, 4)
    gates = gates_of(model, graph)
    src = draw_folded(graph, cell=kind).source
    product = ["Wh"] if gates else []                    # W_hh h(t-1), feeding the gates
    assert set(nodes(src)) == {"x", "o", "L", "y", *model.state_names, *gates, *product}
    delayed = {(a, b) for a, b, lab in edges(src) if lab and "(delay: " in lab}
    assert delayed and all(a in model.state_names for a, _ in delayed)
    assert {b for a, b in delayed if a == "h"} == set(product or ["h"]) | (
        {"h"} if kind == "gru" else set())               # GRU: h(t) = … + z ⊙ h(t-1)
    if gates:
        assert label(src, "Wh") == "W_hh h(t-1)"
        assert {b for a, b, _ in edges(src) if a == "Wh"} == set(gates)
    if "c" in model.state_names:
        assert ("c", "c") in delayed
    collapsed = draw_folded(graph, cell=kind, collapse_cells=True).source
    if gates:
        assert set(nodes(collapsed)) == {"x", "cell", "o", "L", "y", *model.state_names}
        cell_edges = {(a, b) for a, b, _ in edges(collapsed) if "cell" in (a, b)}
        assert cell_edges == {("x", "cell"), *((s, "cell") for s in model.state_names),
                              *(("cell", s) for s in model.state_names)}
    assert f"folded {kind.upper()}" in src


@pytest.mark.parametrize("kind", KINDS)
def test_batches_long_sequences_and_per_step_parameters_draw_for_every_cell(kind):
    model, graph = problem(kind, 30, batch=2)
    graph.loss.backward()
    src = draw_unrolled(graph, heat=True, cell=kind).source
    assert sorted(clusters(src)) == [1, 2, 3, 28, 29, 30] and "middle" in nodes(src)
    per_step = draw_unrolled(graph, params="per_step", collapse_above=None, cell=kind).source
    assert len(set(nodes(per_step))) == len(nodes(per_step))       # no node id used twice
    for t in (1, 30):
        copies = {n for n in step_nodes(per_step, t) if "param" in (attr_shape(per_step, n))}
        assert {label(per_step, n) for n in copies} == set(model.parameters())
    model, graph = problem(kind, 20)            # one sequence: its index params compare
    graph.L[20].backward()
    everything = walk([graph.loss])
    before = snapshot(everything)
    for cells in (False, True):
        draw_unrolled(graph, heat=True, params="per_step", collapse_cells=cells, cell=kind)
        draw_folded(graph, collapse_cells=cells, cell=kind)
    assert_same(before, snapshot(everything))                     # drawing never mutates
    assert walk([graph.loss]) == everything


def attr_shape(src, node_id) -> str:
    """'param' if the node is drawn as a parameter copy (bold rounded box)."""
    return "param" if "rounded,filled,bold" in nodes(src)[node_id] and node_id.count("_") >= 1 \
        and not node_id.startswith("cell_") else ""


@pytest.mark.parametrize("kind", KINDS)
def test_hostile_names_render_as_text_and_inject_nothing(kind, tmp_path):
    from test_hostile_names import HOSTILE, _structure

    def drawings(name):
        model, graph = problem(kind, 3)
        for t, step in enumerate(graph.nodes[1:], 1):
            for role, node in step.items():
                node.name = name
        graph.loss.backward()
        return [draw_unrolled(graph, heat=True, cell=name, params="per_step"),
                draw_unrolled(graph, collapse_cells=True, cell=name),
                draw_folded(graph, cell=name), draw_folded(graph, collapse_cells=True)]

    from minigrad.draw import render
    harmless = [_structure(render(d, tmp_path / f"harmless{i}.svg"))
                for i, d in enumerate(drawings("name"))]
    for k, name in enumerate(HOSTILE):
        for i, dot in enumerate(drawings(name)):
            tags, attrs, sizes, texts = _structure(render(dot, tmp_path / f"h{k}_{i}.svg"))
            assert tags <= harmless[i][0] and attrs <= harmless[i][1], (name, i)
            assert sizes <= harmless[i][2], (name, i)
            joined = "\n".join(texts)
            assert "HACKED" not in joined or "<font" in joined.lower(), (name, i)  # as text
