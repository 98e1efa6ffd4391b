"""Properties every cell in rnn.cells.CELLS has inside a LanguageModel (rnn.model), one
parametrised test each, so a cell registered in CELLS is checked as soon as it is there:
autodiff equals central differences, the loss and its gradients add up over time and over a
batch, the graph grows linearly in τ, the head's Σ_k ∂L/∂o_k(t) = 0, the step function agrees
with the unrolled graph, and bad inputs, states and parameters are refused by name."""
import doctest
import importlib
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from minigrad import Tensor
from minigrad.draw import walk
from minigrad.testing import assert_roundoff_equal
from minigrad.testing.rnn import (assert_matches_central_differences, cell_problems, log_uniform,
                                  make_cell_problem)
from rnn import LanguageModel
from rnn.cells import CELLS

KINDS = sorted(CELLS)


def shapes_of(kind):
    return lambda D, H, K: LanguageModel(kind, D, H, K).parameter_shapes()


def problems(kind, **strategies):
    """Small problems (central differences evaluate the loss 4× per parameter entry)."""
    sizes = dict(H=st.integers(1, 3), D=st.integers(1, 3), K=st.integers(1, 3),
                 tau=st.integers(1, 4), batch=st.none() | st.integers(1, 2))
    return cell_problems(shapes_of(kind), len(CELLS[kind].state_names),
                         **{**sizes, **strategies})


def problem(kind, **sizes):
    sizes = {**dict(H=3, D=4, K=3, tau=5, batch=None), **sizes}
    return make_cell_problem(LanguageModel(kind, sizes["D"], sizes["H"], sizes["K"])
                             .parameter_shapes(), states=len(CELLS[kind].state_names), **sizes)


def model_of(kind, p):
    return LanguageModel.from_arrays(p.params, kind)


def loss_value(model, x, y, state0):
    with mg.no_grad():
        return model.unroll(x, y, state0).loss.item()


FD_EXAMPLES = max(3, settings().max_examples // 3)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=FD_EXAMPLES, deadline=None)
@given(data=st.data())
def test_autodiff_gradients_equal_central_differences(kind, data):
    """Every parameter's ∂L and every given initial state's, float64, token and dense inputs,
    one sequence or a batch, scales from nearly linear to saturated."""
    p = data.draw(problems(kind, scale=log_uniform(1e-3, 2.0)))
    model = model_of(kind, p)
    graph = model.unroll(p.x, p.y, p.state0)
    graph.loss.backward()
    probe = model_of(kind, p)

    def loss_with(name):
        def f(value):
            probe.set_arrays(**{**p.params, name: value})
            return loss_value(probe, p.x, p.y, p.state0)
        return f
    for name, parameter in model.parameters().items():
        assert_matches_central_differences(parameter.grad, loss_with(name), p.params[name],
                                           f"{kind}: ∂L/∂{name}")
    probe.set_arrays(**p.params)
    for i, (name, s0) in enumerate(zip(model.state_names, p.state0)):
        if s0 is None:
            continue

        def f(value, i=i):
            return loss_value(probe, p.x, p.y, p.state0[:i] + (value,) + p.state0[i + 1:])
        assert_matches_central_differences(graph.states[name][0].grad, f, s0,
                                           f"{kind}: ∂L/∂{name}(0)")


def gradients(model, graph):
    graph.loss.backward()
    return {n: q.grad for n, q in model.parameters().items()}


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_loss_and_gradients_add_up_over_a_batch(kind, data):
    """A batch of B sequences is the sum of B one-sequence problems: L and every ∂L/∂θ are
    the sums over the columns run alone (to round-off: sums in another order)."""
    p = data.draw(problems(kind, batch=st.integers(2, 3)))
    batch_model = model_of(kind, p)
    batch_graph = batch_model.unroll(p.x, p.y, p.state0)
    total, grads = batch_graph.loss.item(), gradients(batch_model, batch_graph)
    alone_loss, alone_grads = 0.0, {n: 0.0 for n in grads}
    for b in range(p.batch):
        model = model_of(kind, p)
        state0 = tuple(None if s is None else s[:, b] for s in p.state0)
        graph = model.unroll(p.x[:, b], p.y[:, b], state0)
        alone_loss += graph.loss.item()
        for name, g in gradients(model, graph).items():
            alone_grads[name] = alone_grads[name] + g
    assert_roundoff_equal(total, alone_loss, f"{kind}: L")
    for name in grads:
        assert_roundoff_equal(grads[name], alone_grads[name], f"{kind}: ∂L/∂{name}")


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data(), split=st.integers(1, 5))
def test_loss_and_gradients_add_up_over_time(kind, data, split):
    """Steps 1..s then s+1..τ, the second unrolled from the first's last state (its tensors,
    so gradients flow back through them): L is the sum of the two losses and one backward
    pass from it gives every ∂L/∂θ and ∂L/∂state(0) of the whole sequence."""
    p = data.draw(problems(kind, tau=st.integers(2, 6), with_state0=st.just(True)))
    s = min(split, p.tau - 1)
    whole_model = model_of(kind, p)
    whole = whole_model.unroll(p.x, p.y, p.state0)
    expected = gradients(whole_model, whole)
    model = model_of(kind, p)
    first = model.unroll(p.x[:s], p.y[:s], p.state0)
    second = model.unroll(p.x[s:], p.y[s:], tuple(first.states[n][-1] for n in model.state_names))
    assert_roundoff_equal(first.loss.item() + second.loss.item(), whole.loss.item(), f"{kind}: L")
    (first.loss + second.loss).backward()
    for name, parameter in model.parameters().items():
        assert_roundoff_equal(parameter.grad, expected[name], f"{kind}: ∂L/∂{name}")
    for name in model.state_names:
        assert_roundoff_equal(first.states[name][0].grad, whole.states[name][0].grad,
                              f"{kind}: ∂L/∂{name}(0)")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("tokens, batch", [(True, None), (False, 2)])
def test_node_count_is_linear_in_tau(kind, tokens, batch):
    """Each step adds the same number of nodes (no step rebuilds earlier ones): n(τ) is
    exactly a + b·τ for τ = 1..6 with b > 0."""
    counts = []
    for tau in range(1, 7):
        p = problem(kind, tau=tau, batch=batch, tokens=tokens)
        graph = model_of(kind, p).unroll(p.x, p.y, p.state0)
        counts.append(len(walk([graph.loss])))
    steps = np.diff(counts)
    assert steps[0] > 0 and np.all(steps == steps[0]), counts


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_output_gradients_sum_to_zero_over_classes(kind, data):
    """The head's ∂L/∂o(t) = ŷ(t) − onehot(y(t)) sums to 0 over the K classes whatever the
    cell, and so does ∂L/∂c = Σ_t ∂L/∂o(t); each entry is at most 1, so round-off stays
    below 1e-12·τ·B (a wrong head, e.g. ŷ − y, misses by ≥ 1)."""
    p = data.draw(problems(kind))
    model = model_of(kind, p)
    graph = model.unroll(p.x, p.y, p.state0)
    graph.loss.backward()
    bound = 1e-12 * p.tau * p.sequences
    for t in range(1, p.tau + 1):
        assert np.all(np.abs(graph.nodes[t]["o"].grad.sum(axis=0)) <= bound), t
        assert graph.nodes[t]["o"] is graph.o[t]
    assert abs(model.c.grad.sum()) <= bound


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("tokens, batch", [(True, None), (True, 2), (False, None), (False, 3)])
def test_states_and_step_nodes_are_named_and_tagged(kind, tokens, batch):
    p = problem(kind, tau=3, batch=batch, tokens=tokens)
    graph = model_of(kind, p).unroll(p.x, p.y, p.state0)
    for name in CELLS[kind].state_names:
        states = getattr(graph, name)
        assert states is graph.states[name] and len(states) == p.tau + 1
        for t, s in enumerate(states):
            assert (s.name, s.tags) == (f"{name}({t})", {"t": t, "role": name})
    for t in range(1, p.tau + 1):
        assert graph.nodes[t]["h"] is graph.h[t] and graph.step_nodes(t)["h"] is graph.h[t]
        for role, node in graph.nodes[t].items():
            assert node.tags["t"] == t and node.tags["role"] == role
        assert ("x" in graph.nodes[t]) is not tokens
        assert {"o", "y_hat", "L"} <= set(graph.step_nodes(t))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("tokens, batch", [(True, None), (True, 2), (False, None), (False, 3)])
def test_the_step_function_agrees_with_the_unrolled_graph(kind, tokens, batch):
    """model.step, for evaluation and sampling, makes no graph and computes the same state
    and o(t) as the unrolled graph, step after step."""
    p = problem(kind, tau=4, batch=batch, tokens=tokens, with_state0=False)
    model = model_of(kind, p)
    graph = model.unroll(p.x, p.y)
    state = model.initial_state(batch)
    for t in range(1, p.tau + 1):
        state, o = model.step(state, p.x[t - 1])
        assert isinstance(o, np.ndarray) and all(isinstance(s, np.ndarray) for s in state)
        assert_roundoff_equal(o, graph.o[t].data, f"{kind}: o({t})")
        for name, s in zip(model.state_names, state):
            assert_roundoff_equal(s, graph.states[name][t].data, f"{kind}: {name}({t})")


@pytest.mark.parametrize("kind", KINDS)
def test_replacing_a_parameter_tensor_changes_the_graph(kind):
    """gradcheck passes copies by assigning model.<name>; the graph must then use them
    (else it would check a loss that does not depend on its inputs)."""
    p = problem(kind)
    model = model_of(kind, p)
    for name, parameter in model.parameters().items():
        copy = mg.tensor(parameter.data * 2.0 + 0.1, requires_grad=True)
        setattr(model, name, copy)
        assert model.parameters()[name] is copy and getattr(model, name) is copy
        model.unroll(p.x, p.y, p.state0).loss.backward()
        assert copy.grad is not None and np.any(copy.grad), name
    with pytest.raises(TypeError, match=r"parameter V can only be replaced by a Tensor of "
                                        r"shape \(3, 3\), got ndarray"):
        model.V = np.zeros((3, 3))


@pytest.mark.parametrize("kind", KINDS)
def test_parameters_are_named_leaves_and_arrays_are_copies(kind):
    model = LanguageModel(kind, input_size=4, hidden_size=3, output_size=2, seed=1)
    params, arrays = model.parameters(), model.arrays()
    assert list(params) == list(arrays) == list(model.parameter_shapes())
    assert list(params)[-2:] == ["V", "c"]
    for name, q in params.items():
        assert isinstance(q, Tensor) and q.is_leaf and q.requires_grad and q.name == name
        assert q.tags == {"role": model.cell.role(name)} or name in ("V", "c")
        assert isinstance(arrays[name], np.ndarray) and arrays[name] is not q.data
        np.testing.assert_array_equal(arrays[name], q.data)
    again = LanguageModel(kind, 4, 3, 2, seed=1).arrays()
    other = LanguageModel(kind, 4, 3, 2, seed=2).arrays()
    assert all(np.array_equal(again[n], arrays[n]) for n in arrays)
    assert any(not np.array_equal(other[n], arrays[n]) for n in arrays)
    copy = LanguageModel.from_arrays(arrays, kind)
    assert all(np.array_equal(copy.arrays()[n], arrays[n]) for n in arrays)


@pytest.mark.parametrize("kind", KINDS)
def test_pytorch_layout_round_trip(kind):
    """from_torch(to_torch(θ)) computes the same function (the vanilla cell's two torch
    biases add up to b, so arrays may differ but the loss may not)."""
    p = problem(kind, batch=2)
    model = model_of(kind, p)
    cell_arrays = {n: p.params[n] for n in model.cell.parameter_shapes()}
    state_dict = model.cell.to_torch(cell_arrays)
    assert {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"} <= set(state_dict)
    back = model.cell.from_torch(state_dict)
    again = LanguageModel.from_arrays({**p.params, **back}, kind)
    assert_roundoff_equal(loss_value(again, p.x, p.y, p.state0),
                          loss_value(model, p.x, p.y, p.state0), f"{kind}: L")


def test_the_vanilla_cell_is_pytorch_nn_rnn():
    import torch   # a dev dependency (pyproject), installed by make test: never skipped
    p = problem("rnn", D=3, H=4, batch=2, tokens=False, with_state0=False)
    model = model_of("rnn", p)
    rnn = torch.nn.RNN(3, 4, nonlinearity="tanh", dtype=torch.float64)
    state_dict = model.cell.to_torch({n: p.params[n] for n in ("U", "W", "b")})
    rnn.load_state_dict({k: torch.from_numpy(v) for k, v in state_dict.items()})
    with torch.no_grad():
        h = rnn(torch.from_numpy(p.x))[0].numpy()          # (τ, B, H)
    graph = model.unroll(p.x)
    for t in range(1, p.tau + 1):
        assert_roundoff_equal(graph.h[t].data, h[t - 1].T, f"h({t})")


# -- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("x, y, error, message", [
    (np.zeros((3, 1, 1), dtype=int), None, ValueError,
     r"token inputs x must have shape \[τ\] or \[τ, B\], got \(3, 1, 1\)"),
    (np.array([True, False]), None, TypeError,
     r"inputs x must be integer token ids or floats, got dtype bool"),
    (np.array([0, 4]), None, ValueError, r"token ids in x must lie in \[0, 4\)"),
    (np.zeros((3, 5)), None, ValueError,
     r"dense inputs x must have shape \[τ, 4\] or \[τ, B, 4\] \(input_size 4\), got \(3, 5\)"),
    (np.array([], dtype=int), None, ValueError, r"inputs x must have at least one time step"),
    (np.array([0, 1]), np.array([0, 2]), ValueError, r"target ids in y must lie in \[0, 2\)"),
    (np.array([0, 1]), np.array([0.0, 1.0]), TypeError, r"targets y must be integer class ids"),
])
def test_bad_inputs_are_refused_naming_the_problem(kind, x, y, error, message):
    model = LanguageModel(kind, input_size=4, hidden_size=3, output_size=2)
    with pytest.raises(error, match=message):
        model.unroll(x, y)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("x, error, message", [
    (4, ValueError, r"token ids in x must lie in \[0, 4\)"),
    (np.zeros(5), ValueError, r"dense inputs x must have shape \[τ, 4\] or \[τ, B, 4\]"),
    (np.zeros((2, 2), dtype=int), ValueError, r"token inputs x must have shape"),
    ("a", TypeError, r"inputs x must be integer token ids or floats"),
])
def test_the_step_function_refuses_bad_inputs(kind, x, error, message):
    model = LanguageModel(kind, input_size=4, hidden_size=3, output_size=2)
    with pytest.raises(error, match=message):
        model.step(model.initial_state(), x)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_initial_states_are_refused_naming_the_state(kind):
    model = LanguageModel(kind, input_size=4, hidden_size=3, output_size=2)
    names = model.state_names
    x, batch_x = np.array([0, 1]), np.array([[0, 1], [2, 3]])
    good = tuple(np.zeros(3) for _ in names)
    for i, name in enumerate(names):
        wrong = good[:i] + (np.zeros(4),) + good[i + 1:]
        with pytest.raises(ValueError, match=rf"^{name}0 must have shape \(3,\) "
                                             rf"\(hidden\[, batch\]\), got \(4,\)"):
            model.unroll(x, state0=wrong)
        batch_good = tuple(np.zeros((3, 2)) for _ in names)
        one_column = batch_good[:i] + (np.zeros(3),) + batch_good[i + 1:]
        with pytest.raises(ValueError, match=rf"^{name}0 must have shape \(3, 2\)"):
            model.unroll(batch_x, state0=one_column)
        nan = good[:i] + (np.array([0.0, np.nan, 0.0]),) + good[i + 1:]
        with pytest.raises(ValueError, match=rf"^{name}0 contains non-finite values"):
            model.unroll(x, state0=nan)
        complex_ = good[:i] + (np.zeros(3, dtype=complex),) + good[i + 1:]
        with pytest.raises(TypeError, match=rf"^{name}0 must be a real \(integer or float\)"):
            model.unroll(x, state0=complex_)
        with pytest.raises(ValueError, match=rf"^{name} must have shape \(3,\)"):
            model.step(good[:i] + (np.zeros(2),) + good[i + 1:], 0)
    with pytest.raises(ValueError, match=rf"the initial state of the {kind} cell is "
                                         rf"{len(names)} array\(s\)"):
        model.unroll(x, state0=good + (np.zeros(3),))
    with pytest.raises(ValueError, match=rf"the state of the {kind} cell is {len(names)}"):
        model.step(good + (np.zeros(3),), 0)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_parameter_arrays_are_refused_naming_parameter_and_shapes(kind):
    model = LanguageModel(kind, input_size=4, hidden_size=3, output_size=2)
    arrays = model.arrays()
    symbols = model.symbols()
    for name, shape in model.parameter_shapes().items():
        wrong = np.zeros(shape + (1,))
        message = (rf"^parameter {name} must have shape {re_shape(shape)} "
                   rf"\({re.escape(symbols[name])}; H = 3, D = 4, K = 2\), got "
                   rf"{re_shape(wrong.shape)}$")
        with pytest.raises(ValueError, match=message):
            model.set_arrays(**{name: wrong})
        with pytest.raises(ValueError, match=rf"^parameter {name} contains non-finite"):
            model.set_arrays(**{name: np.full(shape, np.inf)})
        with pytest.raises(TypeError, match=rf"^parameter {name} must be a real"):
            model.set_arrays(**{name: np.zeros(shape, dtype=complex)})
        incomplete = {n: a for n, a in arrays.items() if n != name}
        with pytest.raises(KeyError, match=rf"missing parameter\(s\) \['{name}'\]"):
            LanguageModel.from_arrays(incomplete, kind)
    with pytest.raises(KeyError, match=r"unknown parameter 'Q'"):
        model.set_arrays(Q=np.zeros(3))
    assert all(np.array_equal(model.arrays()[n], arrays[n]) for n in arrays)  # all refused


def re_shape(shape):
    return re.escape(str(tuple(shape)))


@pytest.mark.parametrize("kind", KINDS)
def test_bad_sizes_and_options_are_refused_by_name(kind):
    with pytest.raises(ValueError, match=r"hidden_size must be at least 1, got 0"):
        LanguageModel(kind, input_size=4, hidden_size=0, output_size=2)
    with pytest.raises(TypeError, match=r"input_size must be an integer, got 4.0"):
        LanguageModel(kind, input_size=4.0, hidden_size=3, output_size=2)
    with pytest.raises(ValueError, match=r"output_size must be at least 1, got -1"):
        LanguageModel(kind, input_size=4, hidden_size=3, output_size=-1)
    with pytest.raises(TypeError, match=r"no_such_option"):
        LanguageModel(kind, 4, 3, 2, no_such_option=1)
    with pytest.raises(KeyError, match=r"unknown cell 'tanh'; the cells are"):
        LanguageModel("tanh", 4, 3, 2)


def test_every_cell_is_registered_under_its_kind():
    for kind, cell in CELLS.items():
        assert cell.kind == kind and cell.state_names[0] == "h"


@pytest.mark.parametrize("module", ["rnn.inputs", "rnn.cells", "rnn.cells.base",
                                    *(f"rnn.cells.{c.__module__.rsplit('.', 1)[-1]}"
                                      for c in CELLS.values()),
                                    "rnn.layers", "rnn.heads", "rnn.oracles.head"])
def test_docstring_examples_run(module):
    failed, attempted = doctest.testmod(importlib.import_module(module))
    assert attempted > 0 and failed == 0


def test_two_nodes_of_one_step_with_one_role_are_refused_naming_both():
    """A cell that tags two of its step's nodes with one role: reading the step's nodes (they
    are found when first read) raises, naming the step, the role and both nodes."""
    from rnn import inputs, layers
    from rnn.cells import VanillaCell
    from rnn.cells.base import tag

    class Twice(VanillaCell):
        def step(self, p, state, x, t):
            (h,) = super().step(p, state, x, t)
            return (tag(h * 1.0, f"second h({t})", t, "h"),)   # another node with role "h"

    cell = Twice(input_size=3, hidden_size=2)
    p = {n: mg.tensor(a, name=n) for n, a in
         cell.init_parameters(np.random.default_rng(0), None).items()}
    trace = layers.unroll(cell, cell.bind(p, batched=False), inputs.inputs(np.array([0, 2]), 3),
                          layers.initial_state(cell, None, None))
    with pytest.raises(ValueError, match=r"two nodes of step 2 have the role 'h': "
                                         r"'second h\(2\)' and 'h\(2\)'"):
        dict(trace.nodes[2])
