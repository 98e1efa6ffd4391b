"""Checkpointed unrolls (rnn.schedule, rnn.layers.unroll(..., checkpoint=)) for every cell in
rnn.cells.CELLS: the schedules tile the steps and fit their budget; gradients equal the
plain graph's (parameters to round-off, the initial states and every stored step bit for
bit), to second order too; inside no_grad; what a checkpointed graph keeps and the errors
for what it does not; a recomputation that would differ is an error naming the segment;
truncated BPTT training with --checkpoint-segments; drawings that mark the stored steps and
the recomputed ones."""
import dataclasses
import doctest
import math
import os
import re
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from minigrad.draw import walk
from minigrad.testing import assert_roundoff_equal
from minigrad.testing.rnn import cell_problems, log_uniform, make_cell_problem
from rnn import RNN, LanguageModel, checkpoint
from rnn.cells import CELLS
from rnn.cli import main
from rnn.draw import draw_folded, draw_unrolled
from rnn.layers import NotKept
from rnn.schedule import Budget, for_budget, plan
from rnn.train import ConfigError, TrainConfig, Trainer

KINDS = sorted(CELLS)


def shapes_of(kind):
    return lambda D, H, K: LanguageModel(kind, D, H, K).parameter_shapes()


def problems(kind, tau=st.integers(1, 12)):
    return cell_problems(shapes_of(kind), len(CELLS[kind].state_names), H=st.integers(1, 4),
                         D=st.integers(1, 4), K=st.integers(1, 4), tau=tau,
                         batch=st.none() | st.integers(1, 3), scale=log_uniform(1e-2, 2.0))


def checkpoints(tau):
    """Every kind of checkpoint= for τ steps: a number of segments, "sqrt", a budget that
    fits (one level or nested)."""
    budgets = st.integers(1, tau).filter(lambda m: _fits(tau, m)).map(Budget)
    return st.integers(1, tau + 2) | st.just("sqrt") | budgets


def _fits(tau, m):
    try:
        for_budget(tau, Budget(m))
    except ValueError:
        return False
    return True


def run(model, p, checkpoint, **backward):
    """The graph of p with fresh leaves for the given initial states, after backward:
    (graph, loss, gradients of the parameters, of h0/c0 by name)."""
    mg.zero_grad(model.parameters())
    state0 = tuple(None if s is None else mg.tensor(s, requires_grad=True) for s in p.state0)
    graph = model.unroll(p.x, p.y, state0, checkpoint=checkpoint)
    graph.loss.backward(**backward)
    grads = {name: w.grad for name, w in model.parameters().items()}
    return graph, graph.loss.item(), grads, {
        f"{name}0": s.grad for name, s in zip(model.state_names, state0) if s is not None}


# -- schedules -------------------------------------------------------------------------------

@given(tau=st.integers(1, 3000), k=st.integers(1, 100))
def test_k_segments_tile_the_steps_in_equal_lengths(tau, k):
    s = plan(tau, k)
    lengths = [len(seg) for seg in s.segments]
    assert len(s.segments) == min(k, tau) and sum(lengths) == tau
    assert max(lengths) - min(lengths) <= 1
    assert [seg.start for seg in s.segments] == [1, *(seg.stop + 1 for seg in s.segments[:-1])]
    assert s.stored() == (0, *(seg.stop for seg in s.segments)) and s.stored()[-1] == tau
    assert s.levels == 1


@given(tau=st.integers(1, 10**6))
def test_sqrt_is_ceil_sqrt_tau_segments(tau):
    n = len(plan(tau, "sqrt").segments)
    assert (n - 1) ** 2 < tau <= n ** 2


def _tiles(segments, start, stop):
    assert segments[0].start == start and segments[-1].stop == stop
    for a, b in zip(segments, segments[1:]):
        assert b.start == a.stop + 1
    for seg in segments:
        if seg.parts:
            _tiles(seg.parts, seg.start, seg.stop - 1)


def _held(segments):
    """The steps' graphs held at once, counted from the tree, independently of peak()."""
    inside = [(_held(seg.parts) if seg.parts else seg.stop - seg.start) for seg in segments]
    return len(segments) + max(inside)


@given(tau=st.integers(2, 20_000), m=st.integers(1, 400))
def test_a_budget_gets_the_fewest_levels_that_fit(tau, m):
    """The schedule fits m, tiles the steps at every level, and one level fewer would not
    fit: one level's best is min over k of k + ⌈τ/k⌉ − 1 (k stored steps, one segment's
    recomputed steps); the plain graph holds τ."""
    try:
        s = for_budget(tau, Budget(m))
    except ValueError as error:
        assert f"Budget(steps={m}) cannot hold τ = {tau}" in str(error)
        assert m < min(k + math.ceil(tau / k) - 1 for k in range(1, tau + 1))
        return
    if s is None:
        assert tau <= m
        return
    _tiles(s.segments, 1, tau)
    assert _held(s.segments) == s.peak() <= m < tau
    if s.levels >= 2:
        assert m < min(k + math.ceil(tau / k) - 1 for k in range(1, tau + 1))


def test_the_issue_sizes_plan_as_the_policy_says():
    assert plan(10_000, "sqrt").peak() == 199               # 100 stored + 99 recomputed
    million = plan(10**6, Budget(steps=2000))
    assert million.levels == 1 and len(million.segments) == 1000
    assert plan(10**6, Budget(steps=300)).levels == 2


def test_the_schedule_examples_run_as_printed():
    import rnn.schedule
    failed, attempted = doctest.testmod(rnn.schedule)
    assert attempted > 0 and failed == 0


@pytest.mark.parametrize("bad", [0, -3, 1.5, True, "all", [4]])
def test_a_bad_checkpoint_is_named(bad):
    with pytest.raises(ValueError, match=r"checkpoint= must be None, a number of segments"):
        plan(10, bad)
    model = RNN(3, 2, 3)
    with pytest.raises(ValueError, match=r"checkpoint= must be None"):
        model.unroll(np.array([0, 1, 2]), np.array([1, 1, 1]), checkpoint=bad)


@pytest.mark.parametrize("bad", [0, -1, 2.0, None])
def test_a_bad_budget_is_named(bad):
    with pytest.raises(ValueError, match=r"Budget\(steps=...\) must be a positive int"):
        Budget(bad)


# -- gradients --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@settings(deadline=None)
@given(data=st.data())
def test_checkpointed_gradients_equal_the_full_graphs(kind, data):
    """Parameters (cell and head) to round-off: the segments sum their steps' contributions
    first, another order of sums (measured: ~3e-16 relative). The initial states, and every
    stored step's states and o(t), bit for bit: each of them gets its gradient from the same
    terms added in the same order (the stored step is an ordinary step of the graph)."""
    p = data.draw(problems(kind))
    checkpoint = data.draw(checkpoints(p.tau))
    model = LanguageModel.from_arrays(p.params, kind)
    full, loss, grads, grads0 = run(model, p, None)
    graph, loss_ck, grads_ck, grads0_ck = run(model, p, checkpoint)
    schedule = plan(p.tau, checkpoint)
    assert (graph.schedule is None) == (schedule is None)
    assert_roundoff_equal(loss_ck, loss, f"{kind}: L")
    for name in grads:
        assert_roundoff_equal(grads_ck[name], grads[name], f"{kind} {checkpoint}: ∂L/∂{name}")
    for name in grads0:
        np.testing.assert_array_equal(grads0_ck[name], grads0[name], f"{kind}: ∂L/∂{name}")
    for t in schedule.stored()[1:] if schedule else ():
        for name in model.state_names:
            np.testing.assert_array_equal(graph.states[name][t].data, full.states[name][t].data)
            np.testing.assert_array_equal(graph.states[name][t].grad, full.states[name][t].grad,
                                          f"{kind}: ∂L/∂{name}({t})")
        np.testing.assert_array_equal(graph.o[t].grad, full.o[t].grad, f"{kind}: ∂L/∂o({t})")


def checkpoint_nodes(graph):
    return [n for n in walk([graph.loss]) if n.op == "checkpoint"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_checkpointed_graph_keeps_only_the_stored_steps(kind):
    """At τ = 100 with ⌈√τ⌉ = 10 segments the forward graph holds 10 stored steps and 10
    checkpoint nodes, not 100 steps: the node count is about a tenth of the plain graph's."""
    p = make_cell_problem(shapes_of(kind)(4, 3, 4), H=3, D=4, K=4, tau=100, batch=2,
                          states=len(CELLS[kind].state_names))
    model = LanguageModel.from_arrays(p.params, kind)
    plain = len(walk([model.unroll(p.x, p.y, p.state0).loss]))
    graph = model.unroll(p.x, p.y, p.state0, checkpoint="sqrt")
    assert len(checkpoint_nodes(graph)) == 10
    assert len(walk([graph.loss])) < plain / 5


def test_k_at_least_tau_is_the_plain_graph_node_for_node():
    """Every segment one step: nothing to recompute, the vanilla graph as without checkpoint=
    (the same nodes in the same order), bit for bit gradients, and no checkpoint node."""
    p = make_cell_problem(shapes_of("rnn")(3, 2, 3), H=2, D=3, K=3, tau=6, batch=2)
    model = LanguageModel.from_arrays(p.params, "rnn")
    describe = (lambda g: [(n.name, n.op, n.shape, [i.name for i in n.inputs])
                           for n in walk([g.loss])])
    plain, graph = run(model, p, None), run(model, p, 6)
    assert describe(graph[0]) == describe(plain[0])
    assert not checkpoint_nodes(graph[0])
    for name in plain[2]:
        np.testing.assert_array_equal(graph[2][name], plain[2][name])


@pytest.mark.parametrize("kind", KINDS)
def test_nested_levels_equal_the_full_graph(kind):
    """A budget of 9 at τ = 30 needs two levels: checkpoint nodes inside checkpoint nodes."""
    p = make_cell_problem(shapes_of(kind)(3, 3, 3), H=3, D=3, K=3, tau=30, batch=2,
                          states=len(CELLS[kind].state_names), tokens=False, scale=0.5)
    model = LanguageModel.from_arrays(p.params, kind)
    budget = Budget(steps=9)
    assert plan(30, budget).levels == 2
    _, loss, grads, grads0 = run(model, p, None)
    graph, loss_ck, grads_ck, grads0_ck = run(model, p, budget)
    assert_roundoff_equal(loss_ck, loss, "L")
    for name in grads:
        assert_roundoff_equal(grads_ck[name], grads[name], f"{kind}: ∂L/∂{name}")
    for name in grads0:
        np.testing.assert_array_equal(grads0_ck[name], grads0[name])


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=max(3, settings().max_examples // 3), deadline=None)
@given(data=st.data())
def test_second_order_through_a_checkpointed_unroll_equals_the_full_graphs(kind, data):
    """create_graph=True: the gradient g(θ) and the Hessian-vector product ∂⟨g, v⟩/∂θ."""
    p = data.draw(problems(kind, tau=st.integers(2, 8)))
    checkpoint = data.draw(checkpoints(p.tau))
    model = LanguageModel.from_arrays(p.params, kind)
    params = list(model.parameters().values())
    v = [np.random.default_rng(1).normal(size=w.shape) for w in params]

    def hvp(checkpoint):
        loss = model.unroll(p.x, p.y, p.state0, checkpoint=checkpoint).loss
        g = mg.grad(loss, params, create_graph=True)
        dot = mg.stack([(gi * vi).sum() for gi, vi in zip(g, v)]).sum()
        return [gi.data for gi in g], [h.data for h in mg.grad(dot, params, allow_unused=True)]
    (g, hv), (g_ck, hv_ck) = hvp(None), hvp(checkpoint)
    for name, a, b, c, d in zip(model.parameters(), g_ck, g, hv_ck, hv):
        assert_roundoff_equal(a, b, f"{kind}: ∂L/∂{name}")
        assert_roundoff_equal(c, d, f"{kind}: (H v) for {name}")


@pytest.mark.parametrize("kind", KINDS)
def test_a_checkpointed_unroll_inside_no_grad_computes_the_same_values(kind):
    """Inside no_grad the segments just run: no node needs a gradient, the stored states
    are the plain unroll's bit for bit, L equal up to the order of its sum."""
    p = make_cell_problem(shapes_of(kind)(3, 2, 3), H=2, D=3, K=3, tau=20, batch=2,
                          states=len(CELLS[kind].state_names))
    model = LanguageModel.from_arrays(p.params, kind)
    with mg.no_grad():
        plain = model.unroll(p.x, p.y, p.state0)
        graph = model.unroll(p.x, p.y, p.state0, checkpoint=4)
    assert not any(n.requires_grad for n in walk([graph.loss]))
    assert not checkpoint_nodes(graph)
    assert_roundoff_equal(graph.loss.item(), plain.loss.item(), "L")
    for t in graph.schedule.stored():
        for name in model.state_names:
            np.testing.assert_array_equal(graph.states[name][t].data, plain.states[name][t].data)


# -- what a checkpointed graph keeps ----------------------------------------------------------

def test_reading_a_step_that_was_not_kept_names_the_step_and_its_segment():
    model = RNN(3, 2, 3, seed=0)
    x, y = np.arange(10) % 3, np.arange(10) % 3
    graph = model.unroll(x, y, checkpoint=3)               # segments 1..3, 4..6, 7..10
    assert graph.schedule.stored() == (0, 3, 6, 10)
    segment = r"step 8 is inside the checkpointed segment 'steps 7\.\.9'"
    for read, what in [(lambda: graph.h[8], "h"), (lambda: graph.o[8], "o"),
                       (lambda: graph.y_hat[8], "o"), (lambda: graph.L[8], "L_t"),
                       (lambda: graph.a[8], "a")]:
        with pytest.raises(NotKept, match=rf"^{what}\(8\) is not kept: {segment}.*steps 0, "
                                          r"3, 6, 10 \(unroll without checkpoint="):
            read()
    with pytest.raises(NotKept, match=rf"the nodes of step 8 is not kept: {segment}"):
        graph.step_nodes(8)
    with pytest.raises(NotKept, match=r"h\(1\) is not kept"):
        list(graph.h)
    assert graph.h[-1] is graph.h[10] and graph.h[10].name == "h(10)"
    assert [h.name for h in graph.h[3:7:3]] == ["h(3)", "h(6)"]
    assert {"a", "h", "o", "y_hat", "L"} <= set(graph.step_nodes(6))
    assert graph.a[6].name == "a(6)" and graph.y_hat[6].inputs == (graph.o[6],)


def test_the_stored_steps_keep_their_gradients_as_the_plain_graph_does():
    """After backward (intermediate gradients kept, the default) every node of a stored step
    on the loss's path has its gradient (ŷ(t) is not: the loss reads o(t));
    keep_intermediate_grads=False keeps only the parameters'."""
    model = RNN(3, 4, 3, seed=1)
    x, y = np.arange(12) % 3, (np.arange(12) + 1) % 3
    graph = model.unroll(x, y, checkpoint="sqrt")
    graph.loss.backward()
    for t in graph.schedule.stored()[1:]:
        nodes = graph.step_nodes(t)
        assert nodes.pop("y_hat").grad is None
        assert all(node.grad is not None for node in nodes.values()), t
    graph = model.unroll(x, y, checkpoint="sqrt")
    graph.loss.backward(keep_intermediate_grads=False)
    assert graph.h[12].grad is None and model.W.grad is not None


def test_long_messages_list_the_first_and_last_stored_steps():
    graph = RNN(3, 2, 3).unroll(np.zeros(100, int), np.zeros(100, int), checkpoint=10)
    with pytest.raises(NotKept, match=r"keeps the steps 0, 10, 20, …, 100 \(11 steps\)"):
        graph.h[55]


def test_a_step_that_would_recompute_differently_is_named_by_its_segment():
    """An activation drawing random numbers makes each recomputation differ from the forward
    pass: backward stops with CheckpointError naming the segment, not a wrong gradient."""
    rng = np.random.default_rng(0)
    noisy = lambda a: mg.tanh(a + mg.tensor(rng.normal(size=a.shape)))   # noqa: E731
    model = RNN(3, 2, 3)
    graph = model.unroll(np.arange(9) % 3, np.arange(9) % 3, activation=noisy, checkpoint=3)
    with pytest.raises(mg.CheckpointError, match=r"checkpoint 'steps 7\.\.8'"):
        graph.loss.backward()


# -- training ---------------------------------------------------------------------------------

TINY = TrainConfig(grammar="reber", hidden_size=5, tau=9, batch=3, steps=6, lr=0.03,
                   train_strings=80, validation_strings=20, out=None, progress=False)


@pytest.mark.parametrize("kind", KINDS)
def test_truncated_bptt_with_checkpoint_segments_is_the_same_training_run(kind):
    """Streams carry the state from chunk to chunk (truncated BPTT); checkpointing each
    chunk's graph changes the losses, parameters and carried states by round-off only."""
    runs = []
    for segments in (None, 3):
        trainer = Trainer(dataclasses.replace(TINY, cell=kind, checkpoint_segments=segments))
        losses = [trainer.advance() for _ in range(6)]
        runs.append((losses, trainer.arrays(), trainer.state))
    (la, pa, sa), (lb, pb, sb) = runs
    np.testing.assert_allclose(lb, la, rtol=1e-12)
    for name in pa:
        assert_roundoff_equal(pb[name], pa[name], f"{kind}: {name} after 6 steps")
    for name in sa:
        assert_roundoff_equal(sb[name], sa[name], f"{kind}: carried {name}")


def test_checkpoint_segments_needs_autodiff_and_a_count():
    with pytest.raises(ConfigError, match=r"checkpoint_segments .* gradients='autodiff'"):
        dataclasses.replace(TINY, gradients="bptt", checkpoint_segments=2)
    with pytest.raises(ConfigError, match=r"checkpoint_segments: expected an integer ≥ 1"):
        dataclasses.replace(TINY, checkpoint_segments=0)


def test_the_command_line_trains_with_checkpoint_segments(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--grammar", "reber", "--steps", "3", "--hidden-size", "4",
                 "--tau", "12", "--batch", "2", "--train-strings", "40",
                 "--validation-strings", "10", "--quiet", "--checkpoint-segments", "4",
                 "--out", str(out)]) == 0
    assert checkpoint.load(out / "checkpoint.npz").meta["config"]["checkpoint_segments"] == 4


# -- drawings ---------------------------------------------------------------------------------

def _edges(dot):
    return [line.split(" [")[0].strip() for line in dot.source.splitlines() if "->" in line]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("targets", [True, False])
def test_the_unrolled_drawing_marks_stored_and_recomputed_steps(kind, targets):
    """Segments 1..3, 4..6, 7..10: one cluster per stored step (3, 6, 10) holding the dashed
    box of the steps recomputed before it; no node for a step that was not kept."""
    model = LanguageModel(kind, 3, 2, 3, seed=0)
    x = np.arange(10) % 3
    graph = model.unroll(x, x if targets else None, checkpoint=3)
    for collapse_cells in (False, True):
        source = draw_unrolled(graph, collapse_cells=collapse_cells).source
        assert source.count("subgraph cluster_") == 3
        for first, stored in [(1, 3), (4, 6), (7, 10)]:
            assert f"steps {first} … {stored}: t = {stored} stored" in source
            assert f"t = {first} … {stored - 1}\\nrecomputed in backward" in source
        assert "checkpointed in 3 segment(s)" in source
        assert not re.search(r'"h_(1|2|4|5|7|8|9)"', source)       # not kept, not drawn
        subprocess.run(["dot", "-Tsvg", "-o", os.devnull], input=source, text=True,
                       check=True, capture_output=True)


@pytest.mark.parametrize("kind", KINDS)
def test_the_folded_drawing_of_a_checkpointed_graph_is_the_plain_graphs(kind):
    model = LanguageModel(kind, 3, 2, 3, seed=0)
    x = np.arange(10) % 3
    assert _edges(draw_folded(model.unroll(x, x, checkpoint=3))) == _edges(
        draw_folded(model.unroll(x, x)))


def test_collapsed_drawings_keep_the_first_and_last_stored_steps():
    graph = RNN(3, 2, 3).unroll(np.arange(100) % 3, np.arange(100) % 3, checkpoint=10)
    source = draw_unrolled(graph, collapse_above=4, keep=2).source
    assert source.count("subgraph cluster_") == 4           # steps 10, 20 and 90, 100
    assert "steps 21 … 80 collapsed" in source and "t = 81 … 89\\nrecomputed" in source


@pytest.mark.parametrize("heat", [[], ["--heat", "--loss", "last"]])
def test_render_draws_a_checkpointed_unroll(tmp_path, heat, capsys):
    out = tmp_path / "r.dot"
    assert main(["render", "--cell", "lstm", "--tau", "20", "--checkpoint-segments", "4",
                 *heat, "--out", str(out)]) == 0
    source = out.read_text()
    assert source.count("subgraph cluster_") == 4 and source.count(": t = ") == 4
    assert "t = 16 … 19\\nrecomputed in backward" in source
    assert ("‖grad‖" in source) == bool(heat)
