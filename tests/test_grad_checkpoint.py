"""mg.checkpoint: segments recomputed in backward give the plain graph's gradients (to
round-off, bitwise where the order of sums is the same), nested, under no_grad and with
create_graph; a recomputation that would differ is an error naming the segment."""
import weakref

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad.testing.graphs import call_minigrad, programs


def close(actual, expected):
    """Equal to round-off: relative to the largest entry of the expected array."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max())) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12 * scale)


# -- generated programs, cut into segments -------------------------------------------

def run_segmented(program, cuts, nested=False):
    """The program built with its steps grouped into checkpointed segments at ``cuts``
    (step numbers); each segment takes every earlier node it reads (and its own leaves)
    as inputs and returns every node read later or in the loss. ``nested``: each
    segment checkpoints its second half again inside."""
    leaves = [mg.tensor(program.steps[k].params["value"], requires_grad=True)
              for k in program.leaves]
    given_leaves = dict(zip(program.leaves, leaves))
    n = len(program.steps)
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < n)), n]
    nodes: dict[int, mg.Tensor] = {}
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        inside = range(lo, hi)
        reads = sorted({a for k in inside for a in program.steps[k].args if a < lo}
                       | {k for k in inside if k in given_leaves})
        later = {a for step in program.steps[hi:] for a in step.args} | set(program.outputs)
        outs = [k for k in inside if k in later]
        if not outs:
            continue

        def segment(*xs, lo=lo, hi=hi, reads=reads, outs=outs, depth=0):
            local = dict(zip(reads, xs))
            if nested and depth == 0 and hi - lo > 1:
                mid = (lo + hi) // 2
                first = run_range(program, local, lo, mid)
                inner_reads = sorted({a for k in range(mid, hi)
                                      for a in program.steps[k].args if a < mid}
                                     | {k for k in range(mid, hi) if k in local})
                inner_outs = [k for k in range(mid, hi)]
                got = mg.checkpoint(lambda *ys: tuple(run_range(
                    program, dict(zip(inner_reads, ys)), mid, hi)[k] for k in inner_outs),
                    *[first.get(a, local.get(a)) for a in inner_reads], name="inner")
                first.update(zip(inner_outs, got))
                return tuple(first[k] for k in outs)
            done = run_range(program, local, lo, hi)
            return tuple(done[k] for k in outs)
        got = mg.checkpoint(segment, *[nodes.get(k, given_leaves.get(k)) for k in reads],
                            name=f"steps {lo}..{hi - 1}")
        nodes.update(zip(outs, got))
    outputs = [nodes[k] for k in program.outputs]
    return leaves, outputs


def run_range(program, local, lo, hi):
    """Steps lo..hi-1, reading earlier nodes (and this range's leaves) from ``local``."""
    done = dict(local)
    for k in range(lo, hi):
        step = program.steps[k]
        if step.op != "leaf":
            done[k] = call_minigrad(step, done)
    return done


def full_gradients(program):
    leaves = [mg.tensor(program.steps[k].params["value"], requires_grad=True)
              for k in program.leaves]
    given_leaves, nodes = dict(zip(program.leaves, leaves)), {}
    for k, step in enumerate(program.steps):
        nodes[k] = given_leaves[k] if step.op == "leaf" else call_minigrad(step, nodes)
    return leaves, [nodes[k] for k in program.outputs]


def gradients(leaves, outputs, weights):
    live = [(o, w) for o, w in zip(outputs, weights) if o.requires_grad]
    if live:
        mg.backward([o for o, _ in live], [w for _, w in live])
    return [np.zeros_like(x.data) if x.grad is None else x.grad for x in leaves]


@given(programs(min_steps=2, max_steps=12), st.lists(st.integers(1, 11), max_size=4),
       st.booleans())
def test_checkpointed_programs_have_the_full_gradients(program, cuts, nested):
    expected = gradients(*full_gradients(program), program.weights)
    leaves, outputs = run_segmented(program, cuts, nested)
    full_leaves, full_outputs = full_gradients(program)
    for out, plain in zip(outputs, full_outputs):
        np.testing.assert_array_equal(out.data, plain.data)  # the same forward values
    for got, want in zip(gradients(leaves, outputs, program.weights), expected):
        close(got, want)


# -- a chain: every gradient has one path, so the sums are the same and so are the bits --

UNARY = {"tanh": mg.tanh, "sigmoid": mg.sigmoid, "halve": lambda x: 0.5 * x,
         "square": mg.square, "sum of W": lambda x: x}


def chain(W, h, ops):
    for op in ops:
        h = UNARY[op](W @ h)
    return h


@given(st.lists(st.sampled_from(sorted(UNARY)), min_size=1, max_size=12),
       st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_checkpointing_a_chain_changes_no_bit_of_the_input_gradient(ops, segments, seed):
    rng = np.random.default_rng(seed)
    W0, h0 = rng.normal(0, 0.5, (3, 3)), rng.normal(size=3)
    full_h = mg.tensor(h0, requires_grad=True)
    (chain(mg.tensor(W0), full_h, ops) ** 2).sum().backward()
    h = start = mg.tensor(h0, requires_grad=True)
    W = mg.tensor(W0)  # a constant: the only gradient path runs along the chain
    for part in np.array_split(np.array(ops, dtype=object), segments):
        if len(part):
            h = mg.checkpoint(chain, W, h, ops=list(part))
    (h ** 2).sum().backward()
    np.testing.assert_array_equal(start.grad, full_h.grad)


# -- the RNN recurrence, first and second order ---------------------------------------

def rnn_loss(W, U, h0, xs, segments=None, nested=False):
    """Σ_t ‖h(t)‖² with h(t) = tanh(W h(t-1) + U x(t)), steps grouped into segments."""
    def steps(h, W, U, lo, hi, inner=False):
        total = None
        if inner and hi - lo > 1:
            mid = (lo + hi) // 2
            h, first = mg.checkpoint(steps, h, W, U, lo=lo, hi=mid, name=f"{lo}..{mid}")
            h, second = steps(h, W, U, mid, hi)
            return h, first + second
        for t in range(lo, hi):
            h = mg.tanh(W @ h + U @ mg.tensor(xs[t]))
            total = (h * h).sum() if total is None else total + (h * h).sum()
        return h, total
    if segments is None:
        return steps(h0, W, U, 0, len(xs))[1]
    bounds = np.linspace(0, len(xs), segments + 1).astype(int)
    h, loss = h0, 0.0
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if hi > lo:
            h, part = mg.checkpoint(steps, h, W, U, lo=int(lo), hi=int(hi), inner=nested,
                                    name=f"steps {lo}..{hi}")
            loss = loss + part
    return loss


def rnn_problem(seed, H=3, D=2, tau=7):
    rng = np.random.default_rng(seed)
    leaves = [mg.tensor(rng.normal(0, 0.6, shape), requires_grad=True, name=name)
              for name, shape in (("W", (H, H)), ("U", (H, D)), ("h0", (H,)))]
    return leaves, rng.normal(size=(tau, D))


@given(st.integers(0, 2**31 - 1), st.integers(1, 9), st.integers(1, 5), st.booleans())
def test_checkpointed_recurrence_has_the_full_gradients(seed, tau, segments, nested):
    (W, U, h0), xs = rnn_problem(seed, tau=tau)
    expected = mg.grad(rnn_loss(W, U, h0, xs), [W, U, h0])
    got = mg.grad(rnn_loss(W, U, h0, xs, segments, nested), [W, U, h0])
    for a, b in zip(got, expected):
        close(a.data, b.data)


@given(st.integers(0, 2**31 - 1), st.integers(1, 6), st.integers(1, 4), st.booleans())
def test_second_order_through_checkpoints_equals_second_order_of_the_full_graph(
        seed, tau, segments, nested):
    (W, U, h0), xs = rnn_problem(seed, tau=tau)
    v = [np.random.default_rng(seed + 1).normal(size=x.shape) for x in (W, U, h0)]

    def hvp(loss):
        gs = mg.grad(loss, [W, U, h0], create_graph=True)
        dot = sum((g * vi).sum() for g, vi in zip(gs, v))
        return [g.data for g in gs], [h.data for h in mg.grad(dot, [W, U, h0])]
    (g_full, hv_full), (g_ck, hv_ck) = hvp(rnn_loss(W, U, h0, xs)), hvp(
        rnn_loss(W, U, h0, xs, segments, nested))
    for a, b in zip(g_ck + hv_ck, g_full + hv_full):
        close(a, b)


# -- what the graph holds and shows ----------------------------------------------------

def test_the_forward_keeps_no_intermediate_of_the_segment():
    made = []

    def segment(h, W):
        for _ in range(5):
            h = mg.tanh(W @ h)
            made.append(weakref.ref(h))
        return h
    W = mg.tensor(np.eye(2) * 0.5, requires_grad=True)
    out = mg.checkpoint(segment, mg.tensor([1.0, 2.0], requires_grad=True), W, name="seg")
    assert out.op == "checkpoint" and out.name == "seg" and out.inputs[1] is W
    assert all(ref() is None for ref in made), "the segment's intermediates are still alive"


def test_one_node_per_segment_for_observers_and_drawings():
    (W, U, h0), xs = rnn_problem(0, tau=6)
    loss = rnn_loss(W, U, h0, xs, segments=3)
    events = []
    with mg.observe_backward(events.append):
        loss.backward()
    visited = [e.node for e in events if e.kind == "visit"]
    assert [n.name for n in visited if n.op == "checkpoint"] == [
        "steps 4..6", "steps 2..4", "steps 0..2"]
    assert not any(n.op == "tanh" for n in visited), "the observer saw a recomputed node"
    from minigrad.draw import draw
    source = draw(loss).source
    assert source.count("steps 0..2") == 1 and "tanh" not in source
    assert source.count("checkpoint") == 3


def test_several_outputs_keep_their_names_and_tags():
    def pair(x):
        return (2 * x).named("double", role="d"), (x * x).sum().named("energy")
    x = mg.tensor([1.0, 3.0], requires_grad=True)
    double, energy = mg.checkpoint(pair, x, name="pair")
    assert (double.name, double.tags, energy.name, energy.shape) == (
        "double", {"role": "d"}, "energy", ())
    assert double.inputs[0].inputs[0].op == "checkpoint"
    mg.backward([double, energy], [np.array([1.0, 10.0]), np.array(1.0)])
    np.testing.assert_array_equal(x.grad, [2.0 + 2.0, 20.0 + 6.0])


def test_static_arguments_reach_fn_in_the_forward_and_in_the_recomputation():
    calls = []

    def scaled(x, *, k):
        calls.append(k)
        return x * k
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    mg.checkpoint(scaled, x, k=3.0).sum().backward()
    assert calls == [3.0, 3.0]
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_an_input_given_twice_gets_both_contributions_once():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    mg.checkpoint(lambda a, b: a * b, x, x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    x.grad = None
    g, = [mg.grad(mg.checkpoint(lambda a, b: a * b, x, x).sum(), x, create_graph=True)]
    np.testing.assert_array_equal(g.data, [2.0, 4.0])
    np.testing.assert_array_equal(mg.grad(g.sum(), x).data, [2.0, 2.0])


def test_hooks_on_inputs_run_once_per_pass():
    seen = []
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: seen.append(np.array(np.asarray(g))))
    for create_graph in (False, True):
        seen.clear()
        mg.checkpoint(lambda a: (a * a).sum(), x).backward(create_graph=create_graph)
        assert len(seen) == 1


def test_inside_no_grad_it_is_just_fn():
    calls = []

    def f(x):
        calls.append(1)
        return mg.tanh(x)
    x = mg.tensor([0.5], requires_grad=True)
    with mg.no_grad():
        y = mg.checkpoint(f, x)
    assert y.op is None and not y.requires_grad and calls == [1]
    z = mg.checkpoint(f, mg.tensor([0.5]))  # no input needs a gradient: recorded as fn
    assert z.op == "tanh" and calls == [1, 1]


# -- a recomputation that would differ ------------------------------------------------

def test_random_numbers_drawn_inside_a_segment_are_detected_and_the_segment_named():
    rng = np.random.default_rng(0)
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.checkpoint(lambda a: a * mg.tensor(rng.normal(size=2)), x, name="dropout 3")
    with pytest.raises(mg.CheckpointError, match=r"checkpoint 'dropout 3': recomputing the "
                       r"segment gave another output 0 \(largest difference"):
        y.sum().backward()


def test_outside_state_that_changed_is_detected():
    state = {"k": 1.0}
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.checkpoint(lambda a: a * state["k"], x, name="scaled")
    state["k"] = 2.0
    with pytest.raises(mg.CheckpointError, match="'scaled'.*another output"):
        y.sum().backward()


def test_a_tensor_needing_a_gradient_that_is_not_an_input_is_named():
    W = mg.tensor([[1.0, 0.0], [0.0, 2.0]], requires_grad=True, name="W")
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    y = mg.checkpoint(lambda h: W @ h, x, name="uses W")
    with pytest.raises(mg.CheckpointError, match=r"checkpoint 'uses W': fn uses 'W' \(2, 2\) "
                       r"float64, which needs a gradient but is not one of the segment's"):
        y.sum().backward()


def test_an_input_reassigned_after_the_forward_is_recomputed_from_its_old_values():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    y = mg.checkpoint(lambda a: (a * a * a).sum(), x, name="cube")
    x.data = np.array([10.0, 20.0])
    y.backward()
    np.testing.assert_array_equal(x.grad, [3.0, 12.0])   # 3x² at the values y was made from


def test_an_input_reassigned_before_a_create_graph_pass_is_named_with_the_segment():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    y = mg.checkpoint(lambda a: (a * a).sum(), x, name="square")
    x.data = np.array([10.0, 20.0])
    with pytest.raises(mg.OpError, match=r"'x' \(2,\) float64 was assigned new data after op "
                       r"'checkpoint' recorded it \(in node 'square'"):
        y.backward(create_graph=True)


def test_an_input_cannot_be_changed_in_place_after_the_forward():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    mg.checkpoint(mg.tanh, x)
    with pytest.raises(ValueError, match="read-only"):
        x.data[0] = 5.0


@pytest.mark.parametrize("fn, inputs, message", [
    (42, (mg.tensor(1.0, requires_grad=True),), "42 is not callable"),
    (mg.tanh, (np.ones(2),), "checkpoint 'tanh': input 0 is ndarray, not a Tensor"),
    (lambda x: x.data, (mg.tensor(1.0, requires_grad=True),),
     "checkpoint '<lambda>': fn must return a Tensor or a tuple of Tensors, got ndarray"),
    (lambda x: (x, mg.tensor(1, dtype=np.int64)), (mg.tensor(1.0, requires_grad=True),),
     "outputs must share one floating dtype, got float64, int64"),
])
def test_what_checkpoint_refuses_is_named(fn, inputs, message):
    with pytest.raises(TypeError, match=message):
        mg.checkpoint(fn, *inputs)


def test_the_segments_name_must_be_a_string():
    with pytest.raises(TypeError, match="name must be a string, got 3"):
        mg.checkpoint(mg.tanh, mg.tensor(1.0, requires_grad=True), name=3)


def test_an_output_that_needs_no_gradient_is_left_out_of_the_inner_pass():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y, ones = mg.checkpoint(lambda a: (a * a, mg.ones(2)), x)
    mg.backward([y, ones], [np.array([1.0, 1.0]), np.array([5.0, 5.0])])
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
