"""Drawings of stacked, bidirectional and encoder–decoder graphs (rnn.draw_stack): clusters
per step, layer and direction holding the right nodes, the recurrences' edges in both
directions, and the folded view of the stack."""
import doctest
import re

import numpy as np
import pytest

import rnn.draw_stack
from rnn.deep import StackedModel
from rnn.draw_stack import draw_stack_folded, draw_stack_unrolled
from rnn.seq2seq import Seq2Seq
from rnn.tasks import Reverse


def test_the_examples_run_as_printed():
    failed, attempted = doctest.testmod(rnn.draw_stack)
    assert attempted > 0 and failed == 0


def parse(source: str):
    """(node label → innermost enclosing clusters, outermost first; set of (tail label, head
    label) edges) of a DOT text written as draw_stack writes it."""
    where, labels, edges, open_clusters = {}, {}, [], []
    for line in source.splitlines():
        line = line.strip()
        opened = re.match(r'subgraph "([^"]+)" \{', line)
        if opened:
            open_clusters.append(opened[1])
        elif line == "}":
            if open_clusters:
                open_clusters.pop()
        elif (edge := re.match(r'"(n\d+)" -> "(n\d+)"', line)):
            edges.append((edge[1], edge[2]))
        elif (node := re.match(r'"(n\d+)" \[label="([^"\\]*)', line)):
            labels[node[1]] = node[2]
            where[node[2]] = list(open_clusters)
    return where, {(labels[a], labels[b]) for a, b in edges}


@pytest.fixture(scope="module")
def bidirectional():
    model = StackedModel("lstm", 3, 2, 3, layers=2, bidirectional=True, seed=0)
    return model.unroll(np.array([0, 2, 1]), np.array([1, 1, 0]))


@pytest.mark.parametrize("cells", [True, False])
def test_every_state_sits_in_its_step_layer_and_direction(bidirectional, cells):
    where, _ = parse(draw_stack_unrolled(bidirectional, cells=cells).source)
    for layer in (1, 2):
        for t in (1, 2, 3):
            for arrow, direction in (("→", "forward"), ("←", "reverse")):
                for state in ("h", "c"):
                    assert where[f"{state}{'₁₂'[layer - 1]}{arrow}({t})"] == [
                        f"cluster_t{t}", f"cluster_t{t}_l{layer}",
                        f"cluster_t{t}_l{layer}_{direction}"]
            assert where[f"h{'₁₂'[layer - 1]}({t})"] == [f"cluster_t{t}", f"cluster_t{t}_l{layer}"]
        assert where[f"h{'₁₂'[layer - 1]}→(0)"][0] == "cluster_t0"
        assert where[f"h{'₁₂'[layer - 1]}←(4)"][0] == "cluster_t4"
    for t in (1, 2, 3):
        assert where[f"o({t})"] == where[f"L({t})"] == [f"cluster_t{t}"]


def test_the_cells_nodes_are_drawn_only_when_asked(bidirectional):
    full, _ = parse(draw_stack_unrolled(bidirectional).source)
    states, _ = parse(draw_stack_unrolled(bidirectional, cells=False).source)
    assert "f₂←(2)" in full and "q₁→(3)" in full and "f₂←(2)" not in states
    # states: 4 slots × (h, c) × (τ + 1) = 32, outputs 2 layers × 3, head o, L × 3
    assert len(states) == 32 + 6 + 6


def test_each_direction_recurs_its_own_way(bidirectional):
    _, edges = parse(draw_stack_unrolled(bidirectional, cells=False).source)
    assert ("h₁→(1)", "h₂→(2)") not in edges
    for sub in "₁₂":
        assert ("h" + sub + "→(1)", "c" + sub + "→(2)") in edges      # forward: from t−1
        assert ("h" + sub + "←(3)", "c" + sub + "←(2)") in edges      # backward: from t+1
        assert ("h" + sub + "←(1)", "c" + sub + "←(2)") not in edges
        assert {("h" + sub + "→(2)", "h" + sub + "(2)"),
                ("h" + sub + "←(2)", "h" + sub + "(2)")} <= edges
    assert ("h₁(2)", "c₂←(2)") in edges and ("h₂(2)", "o(2)") in edges


def test_the_folded_view_shows_the_stack(bidirectional):
    source = draw_stack_folded(bidirectional).source
    for layer in (1, 2):
        for direction, loop in (("forward", "t−1"), ("reverse", "t+1")):
            box = f"l{layer}{direction}"
            assert f'"{box}" -> "{box}" [label="loop {loop}"]' in source
        assert f'"l{layer}forward" -> "l{layer}both"' in source
    assert '"l1both" -> "l2forward"' in source and '"l2both" -> "o"' in source
    assert "c f g h i q" in source            # the LSTM's named roles, from the tags


def test_an_encoder_decoder_draws_in_two_parts():
    task = Reverse(max_length=3)
    model = Seq2Seq("gru", task.vocabulary, 3, layers=2)
    graph = model.unroll(task.layout(["abc", "a"], ["cba", "a"]))
    where, edges = parse(draw_stack_unrolled(graph, cells=False).source)
    assert where["enc h₂(3)"] == ["cluster_t3", "cluster_t3_enc", "cluster_t3_enc_l2",
                                  "cluster_t3_enc_l2_forward"]
    assert where["dec h₁(1)"][1] == "cluster_t1_dec"
    assert {("enc final h₂", "dec h₂(0)"), ("dec h₂(0)", "dec h₂(1)")} <= edges
    assert ("enc h₂(1)", "enc final h₂") in edges            # "a" ends at step 1
    folded = draw_stack_folded(graph).source
    assert '"encl2forward" -> "context"' in folded and '"context" -> "decl2forward"' in folded


def test_the_drawings_render(bidirectional):
    """Graphviz's dot reads both drawings (make test installs it; CI requires it)."""
    for dot, text in ((draw_stack_unrolled(bidirectional), "h₂←(2)"),
                      (draw_stack_folded(bidirectional), "layer 2 ←")):
        svg = dot.pipe(format="svg").decode()
        assert svg.lstrip().startswith("<?xml") and text in svg


def test_a_bidirectional_encoder_draws_every_pass_into_the_context():
    """Sources of lengths 2 and 1 are read in two passes; the context of each is fed by its
    forward state at its own last step and its backward state at step 1, never by a backward
    state that has not read the whole source."""
    task = Reverse(max_length=3)
    model = Seq2Seq("gru", task.vocabulary, 2, bidirectional=True)
    graph = model.unroll(task.layout(["ab", "c"], ["ba", "c"]))
    assert len(graph.encoders) == 2
    where, edges = parse(draw_stack_unrolled(graph, cells=False).source)
    into = {tail for tail, head in edges if head == "enc final h₁"}
    assert into == {"enc h₁→(1)", "enc h₁→(2)", "enc h₁←(1)"}
    assert ("enc final h₁", "dec h₁(0)") in edges
    assert where["enc h₁←(2)"][-1] == "cluster_t2_enc_l1_reverse"
    assert '"context" -> "decl1forward"' in draw_stack_folded(graph).source
