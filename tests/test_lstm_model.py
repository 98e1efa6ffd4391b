"""The LSTM language model on minigrad (rnn.model.LanguageModel with rnn.cells.lstm): every
gradient autodiff puts on the unrolled graph equals the analytic oracle (rnn.oracles.lstm) to
round-off, the known answer holds on the graph, PyTorch's nn.LSTM computes the same, and bad
states or another cell's parameters are refused by name."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from minigrad.testing import assert_roundoff_equal
from minigrad.testing.rnn import CellProblem, log_uniform
from rnn.model import LanguageModel
from rnn.oracles.lstm import PARAMETER_NAMES as NAMES, bptt
from test_lstm import (HIDDEN_1, SATURATED, STATE, TAU_1, carrying, lstm_problem, lstm_problems,
                       torch_loss_and_gradients)


def unrolled(p: CellProblem):
    """The model holding p's parameters, unrolled on p from p's initial state given as arrays
    (so h(0) and c(0) are differentiable leaves; zeros when p has none), after L.backward()."""
    model = LanguageModel.from_arrays(p.params, cell="lstm")
    graph = model.unroll(p.x, p.y, p.state0_or_zeros())
    graph.loss.backward()
    return model, graph


@given(lstm_problems())
@example(TAU_1)
@example(HIDDEN_1)
@example(SATURATED)
def test_every_autodiff_gradient_equals_the_oracle(p):
    """∂L/∂(each parameter), ∂L/∂h(0), ∂L/∂c(0), and ∂L/∂h(t), ∂L/∂c(t) read from the graph's
    nodes h(t), c(t) (total gradients: every path from the node to L), for t = 1..τ; and the
    forward values of h(t), c(t) and the gates."""
    model, graph = unrolled(p)
    result = bptt(p.params, p.x, p.y, p.state0)
    assert_roundoff_equal(graph.loss.data, result.loss, "L")
    for name, tensor in model.parameters().items():
        assert_roundoff_equal(tensor.grad, result.grads[name], f"∂L/∂{name}")
    for name, state in zip(STATE, ("h", "c")):
        assert_roundoff_equal(graph.states[state][0].grad, result.grads[name], f"∂L/∂{name}")
    for t in range(1, p.tau + 1):
        assert_roundoff_equal(graph.h[t].grad, result.dL_dh[t - 1], f"∂L/∂h({t})")
        assert_roundoff_equal(graph.c[t].grad, result.dL_dc[t - 1], f"∂L/∂c({t})")
        assert_roundoff_equal(graph.o[t].grad, result.dL_do[t - 1], f"∂L/∂o({t})")
        for name in ("h", "c"):
            assert_roundoff_equal(getattr(graph, name)[t].data, getattr(result, name)[t],
                                  f"{name}({t})")
        for gate in ("i", "f", "g", "q"):
            assert_roundoff_equal(getattr(graph, gate)[t].data, getattr(result, gate)[t - 1],
                                  f"{gate}({t})")


@given(lstm_problems(scale=log_uniform(1e-3, 1.0), with_state0=st.just(True)))
def test_the_graph_carries_c0_unchanged_through_an_open_forget_gate(p):
    """The oracle's known answer (tests/test_lstm.py) on the graph: with i = 0 and f = 1
    exactly, every node c(t) holds c(0) bit for bit."""
    model, graph = unrolled(carrying(p))
    c0 = p.state0[1]
    for t in range(p.tau + 1):
        np.testing.assert_array_equal(graph.c[t].data, c0)
    for t in range(1, p.tau + 1):
        np.testing.assert_array_equal(graph.i[t].data, 0.0)
        np.testing.assert_array_equal(graph.f[t].data, 1.0)


@given(lstm_problems())
@example(SATURATED)
def test_the_graph_equals_torch_nn_lstm(p):
    """h(1..τ), c(τ), the loss and every parameter and initial-state gradient as nn.LSTM
    computes them in float64 on the same weights."""
    loss, grads, h, c_tau, _ = torch_loss_and_gradients(p)
    model, graph = unrolled(p)
    assert_roundoff_equal(graph.loss.data, loss, "L")
    ours = (lambda nodes: np.stack([n.data for n in nodes]))
    assert_roundoff_equal(ours(graph.h[1:]), h, "h(1..τ)")
    assert_roundoff_equal(graph.c[-1].data, c_tau, "c(τ)")
    for name, tensor in model.parameters().items():
        assert_roundoff_equal(tensor.grad, grads[name], f"∂L/∂{name}")
    for name, state in zip(STATE, ("h", "c")):
        assert_roundoff_equal(graph.states[state][0].grad, grads[name], f"∂L/∂{name}")


def test_nodes_of_a_step_are_named_and_tagged():
    p = lstm_problem(tau=3, batch=2)
    model, graph = unrolled(p)
    nodes = graph.step_nodes(2)
    for role in ("a", "a_i", "a_f", "a_g", "a_q", "i", "f", "g", "q", "c", "h"):
        assert nodes[role].name == f"{role}(2)" and nodes[role].tags == {"t": 2, "role": role}
    h, c = nodes["h"], nodes["c"]
    assert [n.name for n in h.inputs] == ["q(2)", "tanh c(2)"]
    assert [n.name for n in c.inputs] == ["f(2) c(1)", "i(2) g(2)"]
    assert graph.nodes[2]["fc"].inputs[1] is graph.c[1]
    assert graph.nodes[2]["Wh"].name == "W_hh h(1)" and graph.nodes[2]["Wh"].inputs[1] is graph.h[1]
    assert graph.nodes[2]["Wx"].name == "W_ih x(2)"
    assert (graph.h[0].name, graph.c[0].name) == ("h(0)", "c(0)")


def test_forget_bias_reaches_the_model():
    model = LanguageModel("lstm", 3, 2, 4, seed=0, forget_bias=1.5)
    np.testing.assert_array_equal(model.b_ih.data[2:4], 1.5)
    np.testing.assert_array_equal(model.b_hh.data[2:4], 0.0)


# -- bad input ----------------------------------------------------------------------------

H, D, K = 3, 2, 4
MODEL_ARRAYS = LanguageModel("lstm", D, H, K, seed=0).arrays()


@pytest.mark.parametrize("state0, error, message", [
    ((np.zeros(H),), ValueError, r"the initial state of the lstm cell is 2 array\(s\) \(h0, c0\)"),
    (np.zeros(H), ValueError, r"the initial state of the lstm cell is 2 array\(s\) \(h0, c0\)"),
    ((np.zeros(H), np.zeros(H + 1)), ValueError,
     r"c0 must have shape \(3,\) \(hidden\[, batch\]\), got \(4,\)"),
    ((np.zeros((H, 2)), np.zeros(H)), ValueError, r"h0 must have shape \(3,\) .*got \(3, 2\)"),
    ((np.zeros(H), np.full(H, np.nan)), ValueError, r"c0 contains non-finite values"),
])
def test_a_bad_initial_state_is_named(state0, error, message):
    model = LanguageModel.from_arrays(MODEL_ARRAYS, cell="lstm")
    with pytest.raises(error, match=message):
        model.unroll(np.array([0, 1]), np.array([1, 2]), state0)


def test_a_step_from_a_one_array_state_is_refused():
    model = LanguageModel.from_arrays(MODEL_ARRAYS, cell="lstm")
    with pytest.raises(ValueError, match=r"the state of the lstm cell is 2 array\(s\) "
                                         r"\('h', 'c'\), got 1"):
        model.step((np.zeros(H),), 1)


def test_another_cells_parameters_are_refused_by_name():
    """A GRU's arrays (3H rows) or the vanilla cell's (U, W, b) into an LSTM model."""
    gru = {**MODEL_ARRAYS, **{n: a[:3 * H] for n, a in MODEL_ARRAYS.items() if n in NAMES[:4]}}
    with pytest.raises(ValueError, match=r"parameter W_ih must have shape \(12, 2\) \(4H×D; "
                                         r"H = 3, D = 2, K = 4\), got \(9, 2\)"):
        LanguageModel.from_arrays(gru, cell="lstm")
    vanilla = LanguageModel("rnn", D, H, K).arrays()
    with pytest.raises(KeyError, match=r"missing parameter\(s\) \['W_ih', 'W_hh'"):
        LanguageModel.from_arrays(vanilla, cell="lstm")
    model = LanguageModel.from_arrays(MODEL_ARRAYS, cell="lstm")
    with pytest.raises(KeyError, match=r"unknown parameter 'U'"):
        model.set_arrays(U=vanilla["U"])
    with pytest.raises(ValueError, match=r"parameter W_hh must have shape \(12, 3\)"):
        model.set_arrays(W_hh=gru["W_hh"])
