"""Stacked and bidirectional layers (rnn.stack) in models (rnn.deep): against the vanilla
oracle composed layer by layer and direction by direction (rnn.oracles.stack), against
central differences for every cell, against PyTorch's multi-layer bidirectional nn.RNN,
nn.LSTM and nn.GRU imported from their state_dict, and the final states of both directions."""
import doctest
import importlib
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from minigrad.draw import walk
from minigrad.testing import assert_roundoff_equal
from minigrad.testing.rnn import assert_matches_central_differences, log_uniform
from rnn.cells import CELLS
from rnn.deep import StackedModel
from rnn.layout import Slot
from rnn.oracles import stack as oracle
from rnn.stack import Stack

KINDS = sorted(CELLS)


@pytest.mark.parametrize("module", ["rnn.stack", "rnn.deep", "rnn.layout", "rnn.oracles.stack"])
def test_the_examples_run_as_printed(module):
    failed, attempted = doctest.testmod(importlib.import_module(module))
    assert attempted > 0 and failed == 0


@st.composite
def problems(draw, kind="rnn", H=st.integers(1, 3), D=st.integers(1, 3), K=st.integers(1, 3),
             tau=st.integers(1, 4), layers=st.integers(1, 3), scale=log_uniform(1e-2, 2.0)):
    """A stacked model's sizes, random parameters, inputs (tokens or dense, one sequence or
    a batch), targets and initial states (given or zeros)."""
    sizes = dict(H=draw(H), D=draw(D), K=draw(K), layers=draw(layers),
                 bidirectional=draw(st.booleans()))
    tau, batch, tokens = draw(tau), draw(st.none() | st.integers(1, 2)), draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    model = StackedModel(kind, sizes["D"], sizes["H"], sizes["K"], layers=sizes["layers"],
                         bidirectional=sizes["bidirectional"])
    params = {n: draw(scale) * rng.normal(size=s) for n, s in model.parameter_shapes().items()}
    steps = (tau,) if batch is None else (tau, batch)
    x = rng.integers(0, sizes["D"], steps) if tokens else rng.normal(size=(*steps, sizes["D"]))
    y = rng.integers(0, sizes["K"], steps)
    shape = (len(model.stack.slots), sizes["H"]) + (() if batch is None else (batch,))
    state0 = tuple(rng.uniform(-1, 1, shape) if draw(st.booleans()) else None
                   for _ in model.state_names)
    return kind, sizes, params, x, y, state0


def model_of(kind, sizes, params):
    return StackedModel.from_arrays(params, kind, layers=sizes["layers"],
                                    bidirectional=sizes["bidirectional"])


@given(problems())
def test_a_vanilla_stack_is_the_vanilla_oracle_composed(problem):
    """Loss, every parameter's gradient, ∂L/∂h0, each slot's h(t) and total ∂L/∂h(t), every
    layer's output and the final states h_n: the graph equals rnn.oracles.stack (the vanilla
    oracle layer by layer, direction by direction) to round-off."""
    kind, sizes, params, x, y, (h0,) = problem
    model = model_of(kind, sizes, params)
    graph = model.unroll(x, y, (h0,))
    graph.loss.backward()
    ref = oracle.bptt(params, x, y, layers=sizes["layers"],
                      bidirectional=sizes["bidirectional"], h0=h0)
    assert_roundoff_equal(graph.loss.item(), ref.loss, "L")
    for name, p in model.parameters().items():
        assert_roundoff_equal(p.grad, ref.grads[name], f"∂L/∂{name}")
    trace, tau = graph.stack, graph.tau
    if h0 is not None:
        leaf = trace.states[trace.slots[0]]["h"][0 if trace.slots[0].direction == "forward"
                                                  else tau + 1].inputs[0].inputs[0]
        assert leaf.name == "h0"
        assert_roundoff_equal(leaf.grad, ref.grads["h0"], "∂L/∂h0")
    for s in trace.slots:
        hs = trace.states[s]["h"][1:tau + 1]
        assert_roundoff_equal(np.stack([h.data for h in hs]), ref.forward.h[s], f"h {s}")
        assert_roundoff_equal(np.stack([h.grad for h in hs]), ref.dL_dh[s], f"∂L/∂h {s}")
    for layer, out in enumerate(ref.forward.outputs, start=1):
        got = np.stack([node.data for node in trace.outputs[layer][1:]])
        assert_roundoff_equal(got, out, f"output of layer {layer}")
    got_h_n = np.stack([h.data for h in trace.final_states("h")])
    assert_roundoff_equal(got_h_n, ref.forward.h_n, "h_n")


FD_EXAMPLES = max(3, settings().max_examples // 3)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=FD_EXAMPLES, deadline=None)
@given(data=st.data())
def test_stacked_and_bidirectional_gradients_equal_central_differences(kind, data):
    """float64, every parameter and every given initial state, L ≤ 2 layers."""
    kind, sizes, params, x, y, state0 = data.draw(problems(kind, H=st.integers(1, 2),
                                                           layers=st.integers(1, 2)))
    model = model_of(kind, sizes, params)
    leaves = tuple(None if s is None else mg.tensor(s, requires_grad=True) for s in state0)
    model.unroll(x, y, leaves).loss.backward()
    probe = model_of(kind, sizes, params)

    def loss(arrays, state):
        probe.set_arrays(**arrays)
        with mg.no_grad():
            return probe.unroll(x, y, state).loss.item()
    for name, p in model.parameters().items():
        assert_matches_central_differences(
            p.grad, lambda v: loss({**params, name: v}, state0), params[name],
            f"{kind} {sizes}: ∂L/∂{name}")
    for i, s0 in enumerate(state0):
        if s0 is not None:
            assert_matches_central_differences(
                leaves[i].grad, lambda v: loss(params, state0[:i] + (v,) + state0[i + 1:]),
                s0, f"{kind} {sizes}: ∂L/∂{model.state_names[i]}0")


def test_a_central_difference_check_catches_a_wrong_direction():
    """The oracle comparison is not blind to directions: reading the backward direction's
    states in processing order instead of the sequence's order differs from the graph."""
    model = StackedModel("rnn", 3, 2, 2, layers=1, bidirectional=True, seed=1)
    x = np.array([0, 1, 2, 1])
    ref = oracle.forward(model.arrays(), x, bidirectional=True)
    trace = model.unroll(x).stack
    reverse = np.stack([h.data for h in trace.states[Slot(1, "reverse")]["h"][1:5]])
    assert_roundoff_equal(reverse, ref.h[Slot(1, "reverse")], "h←")
    assert np.abs(reverse[::-1] - ref.h[Slot(1, "reverse")]).max() > 1e-3


@pytest.mark.parametrize("kind", KINDS)
def test_the_backward_final_state_is_its_state_after_reading_x1(kind):
    """h_n of the backward direction is h←(1): what a one-layer forward model with the same
    weights computes on the reversed sequence after its last step, and not the backward half
    of the output at τ (which has read x(τ) only)."""
    model = StackedModel(kind, 3, 4, 2, layers=2, bidirectional=True, seed=2)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 2, 3))
    trace = model.unroll(x).stack
    final = trace.final_states("h")
    assert [h.name for h in final] == ["h₁→(5)", "h₁←(1)", "h₂→(5)", "h₂←(1)"]
    arrays = model.arrays()
    alone = StackedModel(kind, 3, 4, 2, layers=1)
    alone.set_arrays(**{n.removesuffix("_reverse"): a for n, a in arrays.items()
                        if n.endswith("_l0_reverse")})
    backward_alone = alone.unroll(x[::-1]).stack.states[Slot(1, "forward")]["h"]
    assert_roundoff_equal(final[1].data, backward_alone[5].data, "h←(1) = reversed run's h(τ)")
    assert_roundoff_equal(trace.outputs[1][5].data[4:], backward_alone[1].data, "out(τ)'s h←")
    assert np.abs(final[1].data - trace.outputs[1][5].data[4:]).max() > 1e-3


@pytest.mark.parametrize("kind", KINDS)
def test_each_direction_reads_only_its_side_of_the_sequence(kind):
    """In layer 1, h→(t) has read x(1..t) and h←(t) x(t..τ): changing x(τ) leaves h→(1..τ−1)
    bit for bit, changing x(1) leaves h←(2..τ); both change the state at the step changed.
    In layer 2 every state has read the whole sequence (through layer 1's other half)."""
    model = StackedModel(kind, 3, 2, 2, layers=2, bidirectional=True, seed=3)
    x = np.random.default_rng(1).normal(size=(4, 3))
    base = model.unroll(x).stack
    for changed, direction, unchanged in ((4, "forward", (1, 2, 3)), (1, "reverse", (2, 3, 4))):
        x2 = x.copy()
        x2[changed - 1] += 1.0
        other = model.unroll(x2).stack
        s, above = Slot(1, direction), Slot(2, direction)
        for t in unchanged:
            np.testing.assert_array_equal(other.states[s]["h"][t].data,
                                          base.states[s]["h"][t].data)
        for slot, t in ((s, changed), (above, unchanged[0])):
            assert np.abs(other.states[slot]["h"][t].data
                          - base.states[slot]["h"][t].data).max() > 0


@pytest.mark.parametrize("kind", KINDS)
def test_nodes_carry_layer_direction_and_the_sequences_step(kind):
    model = StackedModel(kind, 3, 2, 2, layers=2, bidirectional=True, seed=0)
    graph = model.unroll(np.array([[0, 1], [2, 2], [1, 0]]), np.array([[0, 1], [1, 1], [0, 0]]))
    trace = graph.stack
    for s in trace.slots:
        arrow = "→" if s.direction == "forward" else "←"
        sub = "₁₂"[s.layer - 1]
        for t in range(1, 4):
            for role, node in trace.nodes[s][t].items():
                assert node.tags["t"] == t and node.tags["layer"] == s.layer
                assert node.tags["direction"] == s.direction, (role, node.name)
                if node.name is not None:
                    steps = re.findall(r"(.)\((\d+)\)", node.name)
                    assert steps and all(a == arrow for a, _ in steps), node.name
            h = trace.states[s]["h"][t]
            assert h.name == f"h{sub}{arrow}({t})" and h.tags["role"] == "h"
        previous = "W_hh" if kind != "rnn" else "W"
        t = 2
        Wh = next(n for n in trace.nodes[s][t].values() if n.tags["role"] == "Wh")
        neighbour = t - 1 if s.direction == "forward" else t + 1
        assert Wh.name == f"{previous} h{sub}{arrow}({neighbour})"
    for layer in (1, 2):
        out = trace.outputs[layer][2]
        assert out.name == f"h{'₁₂'[layer - 1]}(2)" and out.tags == {
            "t": 2, "role": "h", "layer": layer, "direction": "both"}
    names = [n.name for n in walk([graph.loss]) if n.name and "(" in n.name]
    assert len(names) == len(set(names)), "two nodes of the graph share a name"


@pytest.mark.parametrize("kind", KINDS)
def test_a_one_layer_forward_stack_is_the_language_model(kind):
    """L = 1 forward: the same loss and gradients as rnn.model.LanguageModel with the same
    (unsuffixed) arrays (to round-off: the head's nodes are made after the whole layer, so
    the backward pass adds the same terms in another order)."""
    model = StackedModel(kind, 3, 2, 4, seed=5)
    from rnn import LanguageModel
    plain = LanguageModel.from_arrays({n.removesuffix("_l0"): a
                                       for n, a in model.arrays().items()}, kind)
    x, y = np.array([0, 2, 1, 1]), np.array([3, 0, 1, 2])
    g1, g2 = model.unroll(x, y), plain.unroll(x, y)
    g1.loss.backward()
    g2.loss.backward()
    assert g1.loss.item() == g2.loss.item()
    for name, p in model.parameters().items():
        assert_roundoff_equal(p.grad, plain.parameters()[name.removesuffix("_l0")].grad, name)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layers, bidirectional", [(2, True), (3, False)])
def test_the_pytorch_layout_round_trips(kind, layers, bidirectional):
    model = StackedModel(kind, 3, 2, 2, layers=layers, bidirectional=bidirectional, seed=4)
    state_dict = model.to_torch()
    expected = {f"{w}_{a}_l{l}{r}" for w in ("weight", "bias") for a in ("ih", "hh")
                for l in range(layers) for r in ([""] + ["_reverse"] * bidirectional)}
    assert set(state_dict) == expected
    back = model.stack.from_torch(state_dict)
    again = StackedModel(kind, 3, 2, 2, layers=layers, bidirectional=bidirectional)
    again.set_arrays(**back, V=model.V.data, c=model.c.data)
    x = np.array([0, 1, 2])
    np.testing.assert_allclose(again.unroll(x).o[3].data, model.unroll(x).o[3].data,
                               rtol=0, atol=1e-15)


def test_bad_state_dicts_and_states_are_named():
    stack = Stack("lstm", 3, 2, layers=2, bidirectional=True)
    good = stack.to_torch(stack.init_parameters(np.random.default_rng(0), None))
    with pytest.raises(KeyError, match="'weight_ih_l2' belongs to no layer"):
        stack.from_torch({**good, "weight_ih_l2": good["weight_ih_l1"]})
    with pytest.raises(KeyError, match="layer 2 \\(reverse\\)"):
        stack.from_torch({k: v for k, v in good.items() if k != "bias_hh_l1_reverse"})
    with pytest.raises(ValueError, match="layer 1 \\(forward\\).*weight_hh_l0"):
        stack.from_torch({**good, "weight_hh_l0": np.zeros((8, 3))})
    model = StackedModel("lstm", 3, 2, 2, layers=2, bidirectional=True)
    with pytest.raises(ValueError, match=r"h0 must have shape \(4, 2\)"):
        model.unroll(np.array([0, 1]), state0=(np.zeros((2, 2)), None))
    with pytest.raises(ValueError, match="is 2 array\\(s\\) \\(h0, c0\\)"):
        model.unroll(np.array([0, 1]), state0=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="no step"):
        model.step(model.initial_state(), 1)
    arrays = model.arrays()
    del arrays["W_hh_l1_reverse"]
    with pytest.raises(KeyError, match=r"missing parameter\(s\) \['W_hh_l1_reverse'\]"):
        StackedModel.from_arrays(arrays, "lstm", layers=2, bidirectional=True)
    with pytest.raises(KeyError, match=r"unknown parameter 'W_ih_l0_reverse'"):
        StackedModel.from_arrays(model.arrays(), "lstm", layers=2)
    with pytest.raises(KeyError, match="unknown cell 'lstn'"):
        Stack("lstn", 3, 2)
    with pytest.raises(ValueError, match="layers must be at least 1"):
        Stack("rnn", 3, 2, layers=0)
    with pytest.raises(TypeError, match="bidirectional must be True or False"):
        Stack("rnn", 3, 2, bidirectional="yes")


@pytest.mark.parametrize("kind", KINDS)
def test_the_step_function_is_the_unrolled_stack(kind):
    model = StackedModel(kind, 4, 3, 2, layers=3, seed=6)
    x = np.array([[1, 2], [0, 3], [2, 2]])
    graph = model.unroll(x)
    state = model.initial_state(batch=2)
    for t in range(1, 4):
        state, o = model.step(state, x[t - 1])
        np.testing.assert_allclose(o, graph.o[t].data, rtol=0, atol=1e-14)
    h_n = np.stack([h.data for h in graph.stack.final_states("h")])
    np.testing.assert_allclose(state[0], h_n, rtol=0, atol=1e-14)


TORCH = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch", [None, 3])
def test_a_stacked_bidirectional_net_imported_from_pytorch_is_pytorchs(kind, batch):
    """nn.RNN/nn.LSTM/nn.GRU(num_layers=2, bidirectional=True) in float64 with random
    weights and initial states: its state_dict imported (Stack.from_torch) gives the same
    output at every step, h_n (and c_n), and the same gradients of a loss on all of them with
    respect to every weight, the inputs and the initial states."""
    import torch   # a dev dependency (pyproject), installed by make test: never skipped
    D, H, tau, L, B = 3, 4, 5, 2, batch or 1
    torch.manual_seed(0)
    net = getattr(torch.nn, TORCH[kind])(D, H, num_layers=L, bidirectional=True,
                                         dtype=torch.float64)
    for p in net.parameters():
        torch.nn.init.uniform_(p, -0.8, 0.8)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(tau, B, D))
    states0 = [rng.normal(size=(2 * L, B, H)) for _ in CELLS[kind].state_names]
    R_out, R_final = rng.normal(size=(tau, B, 2 * H)), rng.normal(size=(2 * L, B, H))

    x_t = torch.tensor(x, requires_grad=True)
    s0_t = [torch.tensor(s, requires_grad=True) for s in states0]
    out, final = net(x_t, tuple(s0_t) if kind == "lstm" else s0_t[0])
    finals = final if kind == "lstm" else (final,)
    loss = (out * torch.tensor(R_out)).sum() + sum((f * torch.tensor(R_final)).sum()
                                                   for f in finals)
    loss.backward()

    def ours(a):
        """PyTorch's (…, B, n) as this project's columns (…, n, B), or (…, n) for B = None."""
        a = np.swapaxes(np.asarray(a), -1, -2)
        return a[..., 0] if batch is None else a

    stack = Stack(kind, D, H, layers=L, bidirectional=True)
    arrays = stack.from_torch({k: v.detach().numpy() for k, v in net.state_dict().items()})
    params = {n: mg.tensor(a, requires_grad=True, name=n) for n, a in arrays.items()}
    xs = [mg.tensor(ours(x[t]), requires_grad=True) for t in range(tau)]
    s0 = [mg.tensor(ours(s), requires_grad=True) for s in states0]
    trace = stack.unroll(params, xs, [tuple(s[i] for s in s0) for i in range(2 * L)])
    output = mg.stack(trace.outputs[L][1:])                              # (τ, 2H[, B])
    np.testing.assert_allclose(output.data, ours(out.detach()), rtol=0, atol=1e-12)
    total = (output * ours(R_out)).sum()
    for k, name in enumerate(stack.state_names):
        mine = mg.stack(trace.final_states(name))
        np.testing.assert_allclose(mine.data, ours(finals[k].detach()), rtol=0, atol=1e-12,
                                   err_msg=f"{name}_n")
        total = total + (mine * ours(R_final)).sum()
    total.backward()
    assert abs(total.item() - loss.item()) < 1e-11
    torch_grads = dict(net.named_parameters())
    for name, p in params.items():
        if kind == "rnn" and name.startswith("b_"):         # b = bias_ih + bias_hh
            expected = torch_grads["bias_ih" + name.removeprefix("b")].grad
        else:
            expected = stack.from_torch({k: v.grad.numpy() for k, v in torch_grads.items()}
                                        )[name]
        np.testing.assert_allclose(p.grad, expected, rtol=0, atol=1e-11, err_msg=name)
    np.testing.assert_allclose(np.stack([v.grad for v in xs]),
                               ours(x_t.grad), rtol=0, atol=1e-11, err_msg="∂/∂x")
    for k, s in enumerate(s0):
        np.testing.assert_allclose(s.grad, ours(s0_t[k].grad), rtol=0, atol=1e-11,
                                   err_msg=f"∂/∂{stack.state_names[k]}0")
