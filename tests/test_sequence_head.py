"""The sequence head (``unroll(..., head="sequence")``, rnn.heads.SoftmaxHead.sequence), which
training uses: for every cell in rnn.cells.CELLS, one sequence or a batch, token or dense
inputs, it gives the per-step head's loss and gradients to round-off, and it refuses to
pretend it has per-step nodes."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from minigrad.testing import assert_roundoff_equal
from minigrad.testing.rnn import cell_problems
from rnn import LanguageModel
from rnn.cells import CELLS
from rnn.schedule import Budget

KINDS = sorted(CELLS)


def problems(kind, batch):
    shapes = lambda D, H, K: LanguageModel(kind, D, H, K).parameter_shapes()
    return cell_problems(shapes, len(CELLS[kind].state_names), H=st.integers(1, 5),
                         D=st.integers(1, 5), K=st.integers(1, 5), tau=st.integers(1, 8),
                         batch=batch)


def loss_and_gradients(kind, p, head, checkpoint=None):
    """L, and ∂L for every parameter and every initial state given as an array."""
    model = LanguageModel.from_arrays(p.params, kind)
    graph = model.unroll(p.x, p.y, p.state0, head=head, checkpoint=checkpoint)
    graph.loss.backward(keep_intermediate_grads=head == "steps")
    grads = {name: t.grad for name, t in model.parameters().items()}
    for name, states in graph.states.items():
        if states[0].requires_grad:
            grads[f"{name}0"] = states[0].grad
    return graph.loss.item(), grads


@pytest.mark.parametrize("batched", [False, True], ids=["one sequence", "batch"])
@pytest.mark.parametrize("kind", KINDS)
@settings(deadline=None)
@given(data=st.data())
def test_sequence_head_gives_the_per_step_loss_and_gradients(kind, batched, data):
    """Would catch columns of H or O out of step with the targets, a missing bias column,
    or a gradient lost or doubled on its way back to h(t) through the concatenation."""
    p = data.draw(problems(kind, st.integers(1, 4) if batched else st.none()))
    loss, grads = loss_and_gradients(kind, p, "sequence")
    loss0, grads0 = loss_and_gradients(kind, p, "steps")
    assert_roundoff_equal(loss, loss0, "L")
    assert sorted(grads) == sorted(grads0)
    for name, g0 in grads0.items():
        assert_roundoff_equal(grads[name], g0, f"∂L/∂{name}")


@pytest.mark.parametrize("kind", KINDS)
@settings(deadline=None)
@given(data=st.data())
def test_checkpointed_sequence_head_gives_the_per_step_loss_and_gradients(kind, data):
    """Checkpointed, each segment's node sums its steps' loss by one head and one head sums
    the stored steps': would catch a step counted twice or not at all (a segment's last
    step, a stored step), targets of the wrong steps, or a head parameter's gradient lost
    inside a recomputed segment. Segment counts and budgets as rnn.schedule plans them."""
    p = data.draw(problems(kind, st.one_of(st.none(), st.integers(1, 3))))
    tau = len(p.x)
    checkpoint = data.draw(st.one_of(st.integers(1, tau), st.just("sqrt"),
                                     st.builds(Budget, st.integers(2 * tau, 3 * tau + 2))))
    loss, grads = loss_and_gradients(kind, p, "sequence", checkpoint)
    loss0, grads0 = loss_and_gradients(kind, p, "steps")
    assert_roundoff_equal(loss, loss0, "L")
    assert sorted(grads) == sorted(grads0)
    for name, g0 in grads0.items():
        assert_roundoff_equal(grads[name], g0, f"∂L/∂{name}")


def test_checkpointed_sequence_head_keeps_the_schedule_and_no_per_step_head():
    model = LanguageModel("lstm", 3, 2, 3, seed=0)
    x = np.random.default_rng(1).integers(0, 3, (9, 2))
    graph = model.unroll(x, x, head="sequence", checkpoint=3)
    assert graph.schedule.stored() == (0, 3, 6, 9)
    assert [t.name for t in graph.loss.inputs[0].inputs] == ["L(1..2)", "L(4..5)", "L(7..8)", "L"]
    assert graph.h[6].name == "h(6)"
    with pytest.raises(LookupError, match=r"h\(5\) is not kept"):
        graph.h[5]
    with pytest.raises(LookupError):
        graph.o[3]
    assert model.unroll(x, head="sequence", checkpoint=3).loss is None


@pytest.mark.parametrize("kind", KINDS)
def test_sequence_head_outputs_are_the_per_step_outputs_side_by_side(kind):
    """O's columns for step t are o(t) of the per-step head: would catch a step-major /
    sequence-major mix-up that the summed loss cannot see."""
    model = LanguageModel(kind, 4, 3, 5, seed=1)
    x = np.random.default_rng(0).integers(0, 4, (6, 2))
    with mg.no_grad():
        O = model.unroll(x, head="sequence").O.data
        steps = model.unroll(x)
    assert O.shape == (5, 12)
    for t in range(1, 7):
        assert_roundoff_equal(O[:, 2 * (t - 1):2 * t], steps.o[t].data, f"o({t})")


def test_sequence_head_has_no_per_step_nodes_and_says_so():
    graph = LanguageModel("rnn", 3, 2, 3).unroll(np.array([0, 1, 2]), np.array([1, 2, 0]),
                                                 head="sequence")
    for per_step in (graph.o, graph.y_hat, graph.L):
        assert len(per_step) == 4
        with pytest.raises(LookupError, match=r'head="sequence".*graph\.O'):
            per_step[2]
    assert graph.h[3].name == "h(3)" and graph.loss.name == "L"


def test_an_unknown_head_is_refused():
    with pytest.raises(ValueError, match="head must be 'steps' or 'sequence', got 'fused'"):
        LanguageModel("gru", 3, 2, 3).unroll(np.array([0, 1]), head="fused")
