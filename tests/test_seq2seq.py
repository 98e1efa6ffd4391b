"""The encoder–decoder (rnn.seq2seq): its gradients against central differences for every
cell, padding that never reaches the context or the loss, teacher forcing and greedy decoding
that agree with each other, and training that learns a task with a known answer."""
import doctest

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
import rnn.seq2seq
from minigrad.testing import assert_roundoff_equal
from minigrad.testing.rnn import assert_matches_central_differences
from rnn.cells import CELLS
from rnn.seq2seq import Seq2Seq, evaluate, train
from rnn.tasks import END, PAD, START, Addition, DelayedCopy, Reverse

KINDS = sorted(CELLS)


def test_the_examples_run_as_printed():
    failed, attempted = doctest.testmod(rnn.seq2seq)
    assert attempted > 0 and failed == 0


FD_EXAMPLES = max(2, settings().max_examples // 7)     # each example: ~200 entries × 4 losses


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=FD_EXAMPLES, deadline=None)
@given(H=st.integers(1, 2), layers=st.integers(1, 2), n=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1), scale=st.floats(0.1, 1.5), bidirectional=st.booleans())
def test_seq2seq_gradients_equal_central_differences(kind, H, layers, n, seed, scale,
                                                     bidirectional):
    """Every parameter, float64, sources of different lengths (so the context is picked per
    column, or read per length by a bidirectional encoder, and the loss is masked)."""
    task = Reverse("a", min_length=1, max_length=3)
    rng = np.random.default_rng(seed)
    model = Seq2Seq(kind, task.vocabulary, H, layers=layers, bidirectional=bidirectional,
                    seed=seed)
    arrays = {k: scale * rng.normal(size=v.shape) for k, v in model.arrays().items()}
    model.set_arrays(**arrays)
    batch = task.batch(n, rng=rng)
    model.unroll(batch).loss.backward()
    probe = Seq2Seq(kind, task.vocabulary, H, layers=layers, bidirectional=bidirectional)

    def loss(name):
        def f(value):
            probe.set_arrays(**{**arrays, name: value})
            with mg.no_grad():
                return probe.unroll(batch).loss.item()
        return f
    for name, p in model.parameters().items():
        assert_matches_central_differences(p.grad, loss(name), arrays[name],
                                           f"{kind} H={H} L={layers} bidirectional="
                                           f"{bidirectional}: ∂L/∂{name}")


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_padding_never_reaches_the_context_or_the_loss(kind, bidirectional):
    """Each column's context (the encoder's final states; both directions' with a
    bidirectional encoder, whose backward pass would otherwise read the padding first) is
    that sequence's own, and the batch loss is the sum of the examples' losses run alone."""
    task = Reverse(min_length=1, max_length=6)
    model = Seq2Seq(kind, task.vocabulary, 5, layers=2, bidirectional=bidirectional, seed=1)
    batch = task.batch(6, seed=4)
    assert len(set(batch.source_lengths)) > 1
    graph = model.unroll(batch)
    total = 0.0
    for b in range(6):
        alone = model.unroll(task.layout([batch.sources[b]], [batch.answers[b]]))
        for slot, states in enumerate(graph.context):
            for state, own in zip(states, alone.context[slot]):
                assert_roundoff_equal(state.data[:, b], own.data[:, 0], f"context {b}")
        total += alone.loss.item()
    assert_roundoff_equal(graph.loss.item(), total, "L = Σ examples")


def test_the_loss_is_the_masked_cross_entropy_of_the_targets():
    task = Addition(digits=2)
    model = Seq2Seq("lstm", task.vocabulary, 4, seed=2)
    batch = task.batch(5, seed=0)
    graph = model.unroll(batch)
    expected = 0.0
    for t in range(1, len(graph.o)):
        o = graph.o[t].data
        log_p = o - np.log(np.exp(o - o.max(0)).sum(0)) - o.max(0)
        for b in range(5):
            if batch.target_mask[t - 1, b]:
                expected -= log_p[batch.target[t - 1, b], b]
    assert_roundoff_equal(graph.loss.item(), expected, "L")


def output_argmax(o):
    """The most likely output symbol: padding and ⟨s⟩ excluded."""
    scores = o.copy()
    scores[[PAD, START]] = -np.inf
    return scores.argmax()


@pytest.mark.parametrize("kind", KINDS)
def test_greedy_decoding_is_what_teacher_forcing_on_its_own_output_predicts(kind):
    """Feeding the decoded answers back as teacher-forced inputs, every o(t)'s most likely
    output (a symbol or ⟨/s⟩) is the decoded one, and ⟨/s⟩ after a finished answer: the two
    decoders agree. (An untrained model, so padding or ⟨s⟩ are often most likely overall.)"""
    task = DelayedCopy(min_length=1, max_length=4, delay=2)
    model = Seq2Seq(kind, task.vocabulary, 6, layers=2, seed=3, scale=1.0)
    c = model.parameters()["c"].data.copy()
    c[END] += {"rnn": 0.5, "gru": 1.5, "lstm": 0.9}[kind]   # some answers end, some do not
    model.set_arrays(c=c)
    sources, _ = task.examples(8, seed=5)
    decoded = model.decode(sources, max_length=7)
    graph = model.unroll(task.layout(sources, decoded))
    ended = 0
    for b, answer in enumerate(decoded):
        steps = range(1, len(answer) + 1 + (len(answer) < 7))
        predicted = [int(output_argmax(graph.o[t].data[:, b])) for t in steps]
        ended += len(answer) < 7
        assert predicted == [*task.vocabulary.encode(answer), END][:len(predicted)]
    assert 0 < ended < 8


def test_training_learns_to_reverse_short_strings():
    """A known answer end to end: 3 symbols, lengths 1..3, a GRU of 16 units, 300 Adam steps
    of 32 examples: the reversal is exact on held-out examples (measured 1.0 on 500)."""
    task = Reverse("abc", min_length=1, max_length=3)
    model = Seq2Seq("gru", task.vocabulary, 16, seed=0)
    history = train(model, task, steps=300, batch=32, lr=0.02, seed=0)
    assert history[-1] < 0.2 * history[0]
    scores = evaluate(model, task, 200, seed=99)
    assert scores["exact_match"] >= 0.95 and scores["symbol_accuracy"] >= 0.98


def test_decoding_starts_from_start_and_stops_at_end():
    task = Reverse("ab", max_length=2)
    model = Seq2Seq("rnn", task.vocabulary, 3, seed=0)
    c = model.parameters()["c"]
    big = np.zeros(len(task.vocabulary))
    big[END] = 100.0                                  # o(t) is dominated by ⟨/s⟩
    model.set_arrays(c=big, V=np.zeros_like(model.parameters()["V"].data))
    assert model.decode(["ab", "b"]) == ["", ""]
    big[END], big[START + 2] = 0.0, 100.0             # now by "a" (id 3), never ⟨/s⟩
    model.set_arrays(c=big)
    assert model.decode(["ab"], max_length=4) == ["aaaa"]
    assert model.decode(["ab", "b"]) == ["a" * 6, "a" * 4]   # 2n + 2 each, whatever the batch
    assert c is model.parameters()["c"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_bidirectional_context_is_both_directions_final_states(kind):
    """Decoder layer ℓ starts from [forward state after x(n); backward state after x(1)] of
    encoder layer ℓ, as a bidirectional Stack run on the source alone gives them."""
    task = Reverse(min_length=2, max_length=5)
    model = Seq2Seq(kind, task.vocabulary, 3, layers=2, bidirectional=True, seed=2)
    batch = task.batch(4, seed=1)
    assert model.decoder.hidden_size == 6
    graph = model.unroll(batch)
    params = {n.removeprefix("enc."): p for n, p in model.parameters().items()
              if n.startswith("enc.")}
    for b, source in enumerate(batch.sources):
        alone = model.encoder.unroll(params, task.vocabulary.encode(source))
        for layer in (1, 2):
            for k, name in enumerate(model.encoder.state_names):
                forward, backward = (alone.final_states(name)[2 * (layer - 1) + d].data
                                     for d in (0, 1))
                assert_roundoff_equal(graph.context[layer - 1][k].data[:, b],
                                      np.concatenate([forward, backward]),
                                      f"{kind} layer {layer} {name} column {b}")


def test_bad_sources_are_named():
    task = Reverse()
    model = Seq2Seq("gru", task.vocabulary, 3)
    with pytest.raises(ValueError, match="one length per column"):
        model.encode(np.array([3, 4]), np.array([2]))
    with pytest.raises(ValueError, match=r"source lengths must lie in 1\.\.2"):
        model.encode(np.array([[3], [4]]), np.array([3]))
    with pytest.raises(ValueError, match="symbol 'z' is not in the vocabulary"):
        model.decode(["az"])
    with pytest.raises(ValueError, match="at least one symbol"):
        model.decode([""])


def test_set_arrays_refuses_a_wrong_shape_by_name_and_changes_nothing():
    model = Seq2Seq("rnn", Reverse("a", min_length=1, max_length=3).vocabulary, 2)
    before = model.arrays()
    with pytest.raises(ValueError, match=r"^parameter c must have shape \(4,\), got \(7,\)$"):
        model.set_arrays(V=np.ones((4, 2)), c=np.zeros(7))
    assert all(np.array_equal(a, before[n]) for n, a in model.arrays().items())
