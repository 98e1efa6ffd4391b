"""The unrolled RNN graph (rnn.model): its structure, names and tags, h(0), parameters,
and the errors it raises for bad inputs."""
import doctest

import numpy as np
import pytest
from hypothesis import example, given

import minigrad as mg
import rnn.model
from rnn import RNN, Unrolled
from rnn.oracles.vanilla import bptt
from minigrad.draw import walk
from minigrad.testing import assert_roundoff_equal
from minigrad.testing.rnn import PARAMETER_NAMES as NAMES, make_problem, rnn_problems


def all_nodes(graph: Unrolled):
    """Every node behind L and the ŷ(t)."""
    return walk([n for n in (graph.loss, *graph.y_hat[1:]) if n is not None])


# Names by role, as the seed writes the quantities (the model's documented contract).
STEP_NAMES = {"x": "x({t})", "Ux": "U x({t})", "Wh": "W h({s})", "a": "a({t})", "h": "h({t})",
              "Vh": "V h({t})", "o": "o({t})", "y_hat": "ŷ({t})", "L_t": "L({t})"}


@given(rnn_problems())
def test_every_node_is_named_and_tagged(p):
    model = RNN.from_arrays(**p.params)
    graph = model.unroll(p.x, p.y, p.h0)
    parameters = list(model.parameters().values())
    unnamed = []
    for node in all_nodes(graph):
        role, t = node.tags.get("role"), node.tags.get("t")
        if any(node is q for q in parameters):
            assert node.is_leaf and node.requires_grad and node.name == role
        elif node.op == "reshape":                       # b and c as columns, in a batch
            assert p.batch is not None and role == node.name in ("b", "c") and t is None
            assert node.inputs == (model.parameters()[role],)
        elif node is graph.loss:
            assert (node.name, node.tags) == ("L", {"role": "L"})
        elif role == "b+Wh":
            assert node.name is None and 1 <= t <= p.tau
            unnamed.append(node)
        elif t == 0:
            assert (node.name, node.tags) == ("h(0)", {"t": 0, "role": "h"})
        elif node.name is None:
            assert node.op == "stack" and node.tags == {}  # L(1), ..., L(τ) side by side
            unnamed.append(node)
        else:
            assert 1 <= t <= p.tau and node.name == STEP_NAMES[role].format(t=t, s=t - 1), node
    assert len(unnamed) == p.tau + 1


@given(rnn_problems())
def test_each_step_is_wired_as_the_seed_writes_it(p):
    """a(t) = (b + W h(t−1)) + U x(t), h(t) = tanh(a(t)), o(t) = c + V h(t),
    ŷ(t) = softmax(o(t)), L(t) from o(t), L = Σ_t L(t); the token gather carries the
    token ids and L(t) its targets as tags."""
    model = RNN.from_arrays(**p.params)
    graph = model.unroll(p.x, p.y, p.h0)
    assert (graph.tau, graph.batch) == (p.tau, p.batch)
    assert all(len(s) == p.tau + 1 for s in (graph.h, graph.a, graph.o, graph.y_hat, graph.L))
    assert graph.a[0] is graph.o[0] is graph.y_hat[0] is graph.L[0] is None
    for t in range(1, p.tau + 1):
        b_Wh, Ux = graph.a[t].inputs
        b, Wh = b_Wh.inputs
        assert (graph.a[t].op, b_Wh.op, b_Wh.tags["role"]) == ("add", "add", "b+Wh")
        assert b is model.b or b.inputs == (model.b,)
        assert Wh.op == "matmul" and Wh.inputs[0] is model.W and Wh.inputs[1] is graph.h[t - 1]
        if p.tokens:
            assert Ux.op == "getitem" and Ux.inputs == (model.U,)
            np.testing.assert_array_equal(Ux.tags["x"], p.x[t - 1])
        else:
            assert Ux.op == "matmul" and Ux.inputs[0] is model.U
            assert Ux.inputs[1].tags == {"t": t, "role": "x"}
        assert graph.h[t].op == "tanh" and graph.h[t].inputs == (graph.a[t],)
        c, Vh = graph.o[t].inputs
        assert c is model.c or c.inputs == (model.c,)
        assert Vh.inputs[0] is model.V and Vh.inputs[1] is graph.h[t]
        assert graph.y_hat[t].op == "softmax" and graph.y_hat[t].inputs == (graph.o[t],)
        assert graph.L[t].inputs == (graph.o[t],)
        np.testing.assert_array_equal(graph.L[t].tags["y"], p.y[t - 1])
        assert graph.step_nodes(t) == {"a": graph.a[t], "h": graph.h[t], "o": graph.o[t],
                                       "y_hat": graph.y_hat[t], "L": graph.L[t]}
    stacked, = graph.loss.inputs
    assert graph.loss.op == "sum" and stacked.op == "stack"
    assert list(stacked.inputs) == graph.L[1:]


def test_h3_is_named_and_tagged_for_step_3():
    graph = RNN(4, 3, 2).unroll(np.array([0, 1, 2, 3]), np.array([1, 0, 1, 1]))
    assert (graph.h[3].name, graph.h[3].tags) == ("h(3)", {"t": 3, "role": "h"})
    assert (graph.o[3].name, graph.o[3].tags) == ("o(3)", {"t": 3, "role": "o"})
    assert graph.a[3].name == "a(3)" and graph.y_hat[3].name == "ŷ(3)"
    assert graph.L[3].name == "L(3)" and graph.L[3].tags["y"] == 1


def test_without_targets_there_is_no_loss_but_the_same_forward():
    p = make_problem(batch=2)
    model = RNN.from_arrays(**p.params)
    graph, with_loss = model.unroll(p.x, h0=p.h0), model.unroll(p.x, p.y, p.h0)
    assert graph.loss is None and graph.L == [None]
    assert "L" not in graph.step_nodes(2)
    for t in range(1, p.tau + 1):
        np.testing.assert_array_equal(graph.y_hat[t].data, with_loss.y_hat[t].data)


# -- h(0) --------------------------------------------------------------------------------

@pytest.mark.parametrize("batch", [None, 3])
def test_default_h0_is_a_zeros_constant(batch):
    p = make_problem(batch=batch, with_h0=False)
    graph = RNN.from_arrays(**p.params).unroll(p.x, p.y)
    h0 = graph.h[0]
    assert h0.is_leaf and not h0.requires_grad
    np.testing.assert_array_equal(h0.data, np.zeros((p.H,) if batch is None else (p.H, batch)))
    graph.loss.backward()
    assert h0.grad is None


@pytest.mark.parametrize("batch", [None, 3])
def test_h0_given_as_an_array_is_a_differentiable_copy(batch):
    p = make_problem(batch=batch)
    given_h0 = p.h0.copy()
    graph = RNN.from_arrays(**p.params).unroll(p.x, p.y, given_h0)
    assert graph.h[0].is_leaf and graph.h[0].requires_grad and graph.h[0].name == "h(0)"
    graph.loss.backward()
    assert graph.h[0].grad.shape == p.h0.shape and np.any(graph.h[0].grad)
    given_h0[:] = 7.0
    np.testing.assert_array_equal(graph.h[0].data, p.h0)


def test_h0_given_as_a_tensor_is_used_as_it_is():
    p = make_problem()
    model = RNN.from_arrays(**p.params)
    state = mg.tensor(p.h0)                                 # a constant: stays one
    graph = model.unroll(p.x, p.y, state)
    assert graph.h[0] is state and not state.requires_grad
    graph.loss.backward()
    assert state.grad is None


# -- parameters ----------------------------------------------------------------------------

def test_parameters_are_named_leaves_with_the_seed_shapes():
    model = RNN(input_size=5, hidden_size=3, output_size=2, seed=1)
    assert list(model.parameters()) == list(NAMES)
    shapes = {"U": (3, 5), "W": (3, 3), "V": (2, 3), "b": (3,), "c": (2,)}
    for name, parameter in model.parameters().items():
        assert parameter.shape == shapes[name] and parameter.dtype == np.float64
        assert parameter.is_leaf and parameter.requires_grad
        assert parameter.name == name and parameter.tags == {"role": name}
    assert not np.any(model.b.data) and not np.any(model.c.data)
    np.testing.assert_array_equal(RNN(5, 3, 2, seed=1).W.data, model.W.data)
    assert not np.array_equal(RNN(5, 3, 2, seed=2).W.data, model.W.data)


def test_from_arrays_copies_as_float64():
    U = np.arange(6).reshape(3, 2)
    model = RNN.from_arrays(U, np.eye(3), np.ones((4, 3)), np.zeros(3), np.zeros(4))
    assert (model.input_size, model.hidden_size, model.output_size) == (2, 3, 4)
    assert model.U.dtype == np.float64
    U[0, 0] = 100
    assert model.U.data[0, 0] == 0.0


def test_set_params_checks_shapes_and_names():
    model = RNN(4, 3, 2)
    with pytest.raises(ValueError, match=r"parameter W must have shape \(3, 3\) \(H×H; "
                                         r"H = 3, D = 4, K = 2\), got \(3, 4\)"):
        model.set_params(W=np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"parameter b must have shape \(3,\) \(\(H,\); "
                                         r"H = 3, D = 4, K = 2\), got \(3, 1\)"):
        model.set_params(b=np.zeros((3, 1)))
    with pytest.raises(KeyError, match=r"unknown parameter 'Q'"):
        model.set_params(Q=np.zeros(3))
    V = np.ones((2, 3))
    model.set_params(V=V)
    V[:] = 5.0
    np.testing.assert_array_equal(model.V.data, np.ones((2, 3)))


VALID_PARAMS = dict(U=np.ones((3, 4)), W=np.eye(3), V=np.ones((2, 3)), b=np.zeros(3),
                    c=np.zeros(2))       # H = 3, D = 4, K = 2


@pytest.mark.parametrize("changes, error, message", [
    (dict(U=np.ones(4)), ValueError,
     r"parameter U must be a matrix H×D with H, D ≥ 1, got shape \(4,\)"),
    (dict(U=np.ones((3, 4, 1))), ValueError, r"parameter U must be a matrix H×D .* \(3, 4, 1\)"),
    (dict(U=np.ones((3, 0))), ValueError, r"parameter U must be a matrix H×D with H, D ≥ 1, "
                                          r"got shape \(3, 0\)"),
    (dict(V=np.ones(3)), ValueError,
     r"parameter V must be a matrix K×H with K, H ≥ 1, got shape \(3,\)"),
    (dict(W=np.eye(4)), ValueError,
     r"parameter W must have shape \(3, 3\) \(H×H; H = 3, D = 4, K = 2\), got \(4, 4\)"),
    (dict(V=np.ones((2, 4))), ValueError,
     r"parameter V must have shape \(2, 3\) \(K×H; H = 3, D = 4, K = 2\), got \(2, 4\)"),
    (dict(b=np.zeros(2)), ValueError, r"parameter b must have shape \(3,\) \(\(H,\); .*got \(2,\)"),
    (dict(c=np.zeros(3)), ValueError, r"parameter c must have shape \(2,\) \(\(K,\); .*got \(3,\)"),
    (dict(U=np.ones((3, 4), dtype=complex)), TypeError,
     r"parameter U must be a real \(integer or float\) array, got dtype complex128"),
    (dict(b=np.array(["0", "0", "0"])), TypeError, r"parameter b must be a real .* got dtype <U1"),
    (dict(W=np.eye(3, dtype=bool)), TypeError, r"parameter W must be a real .* got dtype bool"),
    (dict(W=np.full((3, 3), np.nan)), ValueError,
     r"parameter W contains non-finite values \(NaN or inf\)"),
    (dict(c=np.array([0.0, -np.inf])), ValueError, r"parameter c contains non-finite values"),
])
def test_bad_parameter_arrays_are_refused_naming_parameter_and_shapes(changes, error, message):
    with pytest.raises(error, match=message):
        RNN.from_arrays(**{**VALID_PARAMS, **changes})
    if "must be a matrix" not in message:   # from_arrays reads H, D, K off U and V first;
        model = RNN.from_arrays(**VALID_PARAMS)  # otherwise set_params says the same
        with pytest.raises(error, match=message):
            model.set_params(**changes)


def test_set_params_changes_nothing_when_one_array_is_refused():
    model = RNN.from_arrays(**VALID_PARAMS)
    with pytest.raises(ValueError, match=r"parameter b contains non-finite"):
        model.set_params(W=np.zeros((3, 3)), b=np.array([0.0, np.nan, 0.0]))
    np.testing.assert_array_equal(model.W.data, np.eye(3))


@pytest.mark.parametrize("sizes, error, message", [
    ((0, 3, 2), ValueError, r"input_size must be at least 1, got 0"),
    ((4, -1, 2), ValueError, r"hidden_size must be at least 1, got -1"),
    ((4, 3, 2.0), TypeError, r"output_size must be an integer, got 2.0"),
])
def test_bad_sizes_are_refused_by_name(sizes, error, message):
    with pytest.raises(error, match=message):
        RNN(*sizes)


# -- inputs ----------------------------------------------------------------------------------

# Found by Hypothesis: with one token id repeated across a batch, U's gradient columns
# are summed in another order by the gather and by the matmul (1 ulp apart).
REPEATED_TOKEN = make_problem(H=2, D=1, K=3, tau=3, batch=4, with_h0=False, seed=1)


@given(rnn_problems())
@example(REPEATED_TOKEN)
def test_dense_one_hot_inputs_equal_token_inputs(p):
    """U·onehot(k) is column k of U exactly (products by 0 and 1 and sums with 0 are exact
    in floating point), so the forward passes agree bit for bit; the gradients of U are
    summed in a different order (per step, by column), so they agree to round-off."""
    tokens = p.x if p.tokens else p.x.argmax(axis=-1)
    runs = []
    for x in (tokens, np.eye(p.D)[tokens]):
        model = RNN.from_arrays(**p.params)
        graph = model.unroll(x, p.y, p.h0)
        graph.loss.backward()
        runs.append((model, graph))
    (token_model, token_graph), (dense_model, dense_graph) = runs
    assert token_graph.loss.item() == dense_graph.loss.item()
    for name in NAMES:
        assert_roundoff_equal(dense_model.parameters()[name].grad,
                              token_model.parameters()[name].grad, f"∂L/∂{name}")
    for t in range(p.tau + 1):
        np.testing.assert_array_equal(token_graph.h[t].data, dense_graph.h[t].data)
        if t or p.h0 is not None:
            assert_roundoff_equal(dense_graph.h[t].grad, token_graph.h[t].grad, f"∂L/∂h({t})")


TOKENS, TARGETS = np.array([0, 3, 1]), np.array([1, 0, 1])
BATCH_TOKENS, BATCH_TARGETS = np.array([[0, 1], [3, 2], [1, 1]]), np.array([[1, 0], [0, 0], [1, 1]])


@pytest.mark.parametrize("x, y, h0, error, message", [
    (TOKENS, np.array([1, 0]), None, ValueError, r"targets y must have shape \(3,\) to match x"),
    (TOKENS, np.array([1, 0, 1, 1]), None, ValueError, r"targets y must have shape \(3,\)"),
    (TOKENS, np.array([1.0, 0.0, 1.0]), None, TypeError, r"targets y must be integer class ids"),
    (TOKENS, np.array([True, False, True]), None, TypeError, r"targets y must be integer"),
    (TOKENS, np.array([1, 2, 1]), None, ValueError, r"target ids in y must lie in \[0, 2\)"),
    (TOKENS, np.array([1, -1, 1]), None, ValueError, r"target ids in y must lie in \[0, 2\)"),
    (np.array([0, 4, 1]), TARGETS, None, ValueError, r"token ids in x must lie in \[0, 4\)"),
    (np.array([0, -1, 1]), TARGETS, None, ValueError, r"token ids in x must lie in \[0, 4\)"),
    (np.array([True, False, True]), TARGETS, None, TypeError,
     r"inputs x must be integer token ids or floats, got dtype bool"),
    (np.array(["a", "b", "c"]), TARGETS, None, TypeError, r"inputs x must be integer token ids"),
    (np.zeros((3, 5)), TARGETS, None, ValueError,
     r"dense inputs x must have shape \[τ, 4\] or \[τ, B, 4\] \(input_size 4\), got \(3, 5\)"),
    (np.zeros(3), TARGETS, None, ValueError, r"dense inputs x must have shape \[τ, 4\]"),
    (np.array([[0.0, np.nan, 0, 0]] * 3), TARGETS, None, ValueError,
     r"dense inputs x contain non-finite values \(NaN or inf\)"),
    (np.full((3, 2, 4), np.inf), BATCH_TARGETS, None, ValueError,
     r"dense inputs x contain non-finite"),
    (np.zeros((3, 1, 1), dtype=int), TARGETS, None, ValueError,
     r"token inputs x must have shape \[τ\] or \[τ, B\]"),
    (np.array([], dtype=int), np.array([], dtype=int), None, ValueError,
     r"inputs x must have at least one time step, got shape \(0,\)"),
    ([], [], None, ValueError, r"inputs x must have at least one time step, got shape \(0,\)"),
    (np.zeros((0, 4)), None, None, ValueError, r"at least one time step, got shape \(0, 4\)"),
    (np.zeros((3, 0), dtype=int), None, None, ValueError,
     r"a batch of inputs x must hold at least one sequence, got shape \(3, 0\)"),
    (BATCH_TOKENS, TARGETS, None, ValueError, r"targets y must have shape \(3, 2\) to match"),
    (BATCH_TOKENS, np.zeros((3, 3), dtype=int), None, ValueError,
     r"targets y must have shape \(3, 2\)"),
    (TOKENS, BATCH_TARGETS, None, ValueError, r"targets y must have shape \(3,\)"),
    (BATCH_TOKENS, BATCH_TARGETS, np.zeros(3), ValueError, r"h0 must have shape \(3, 2\)"),
    (BATCH_TOKENS, BATCH_TARGETS, np.zeros((3, 3)), ValueError, r"h0 must have shape \(3, 2\)"),
    (TOKENS, TARGETS, np.zeros((3, 1)), ValueError, r"h0 must have shape \(3,\)"),
    (TOKENS, TARGETS, np.zeros(4), ValueError, r"h0 must have shape \(3,\)"),
    (TOKENS, TARGETS, np.array([0.0, np.nan, 0.0]), ValueError,
     r"h0 contains non-finite values \(NaN or inf\)"),
    (TOKENS, TARGETS, mg.tensor([0.0, np.inf, 0.0]), ValueError, r"h0 contains non-finite"),
    (TOKENS, TARGETS, np.zeros(3, dtype=complex), TypeError,
     r"h0 must be a real \(integer or float\) array, got dtype complex128"),
])
def test_bad_inputs_are_refused_naming_the_problem(x, y, h0, error, message):
    model = RNN(input_size=4, hidden_size=3, output_size=2)
    with pytest.raises(error, match=message):
        model.unroll(x, y, h0)


# One fault each (two where the order of the checks matters), fed to the model and to the
# oracle: both must raise the same error type.
ORACLE_AGREEMENT = [
    (dict(U=np.ones(4)), ValueError, "U"),
    (dict(U=np.ones((3, 0))), ValueError, "U"),
    (dict(W=np.eye(4)), ValueError, "W"),
    (dict(b=np.zeros(2)), ValueError, "b"),
    (dict(V=np.ones((3, 3, 1))), ValueError, "V"),
    (dict(U=np.ones((3, 4), dtype=complex)), TypeError, "U"),
    (dict(c=np.array(["0", "0"])), TypeError, "c"),
    (dict(W=np.full((3, 3), np.inf)), ValueError, "W"),
    (dict(x=np.array([True, False, True])), TypeError, "x"),
    (dict(x=np.array(["a", "b", "c"])), TypeError, "x"),
    (dict(x=np.array([0, 4, 1])), ValueError, "x"),
    (dict(x=np.zeros((3, 5))), ValueError, "x"),
    (dict(x=np.array([[0.0, np.nan, 0, 0]] * 3)), ValueError, "x"),
    (dict(x=np.zeros((3, 1, 1), dtype=int)), ValueError, "x"),
    (dict(x=np.array([], dtype=int), y=np.array([], dtype=int)), ValueError, "x"),
    (dict(x=np.zeros((3, 0), dtype=int), y=np.zeros((3, 0), dtype=int)), ValueError, "x"),
    (dict(y=np.array([1.0, 0.0, 1.0])), TypeError, "y"),
    (dict(y=np.array([1, 0])), ValueError, "y"),
    (dict(y=np.array([1, 2, 1])), ValueError, "y"),
    (dict(h0=np.zeros(4)), ValueError, "h0"),
    (dict(h0=np.array([0.0, np.nan, 0.0])), ValueError, "h0"),
    (dict(h0=np.zeros(3, dtype=complex)), TypeError, "h0"),
    (dict(h0=np.zeros(4, dtype=complex)), ValueError, "h0"),      # the shape is checked first
]


@pytest.mark.parametrize("changes, error, argument", ORACLE_AGREEMENT)
def test_model_and_oracle_refuse_bad_input_with_the_same_error_type(changes, error, argument):
    """TypeError for a wrong dtype kind, ValueError for a wrong shape or value, in both
    rnn.model and rnn.oracles.vanilla, each message naming the argument."""
    args = {**VALID_PARAMS, "x": TOKENS, "y": TARGETS, "h0": None, **changes}
    named = rf"\b{argument}\b"
    with pytest.raises(error, match=named):
        RNN.from_arrays(*(args[n] for n in NAMES)).unroll(args["x"], args["y"], args["h0"])
    with pytest.raises(error, match=named):
        bptt(**args)


def test_the_docstring_example_runs():
    failed, attempted = doctest.testmod(rnn.model)
    assert attempted > 0 and failed == 0


def test_the_valid_reference_call_works():
    """The calls above differ from these valid ones only in the part under test."""
    model = RNN(input_size=4, hidden_size=3, output_size=2)
    assert model.unroll(TOKENS, TARGETS, np.zeros(3)).loss is not None
    assert model.unroll(BATCH_TOKENS, BATCH_TARGETS, np.zeros((3, 2))).batch == 2
    assert model.unroll(np.zeros((3, 4)), TARGETS).tau == 3
