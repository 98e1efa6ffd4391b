"""Training: data batching, optimisers, clipping, evaluation, sampling, and the
training runs themselves (autodiff = analytic BPTT); interrupted and resumed runs are in
test_reliability."""
import dataclasses
import doctest

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import rnn.checkpoint
import rnn.data
import rnn.optim
import rnn.train
from rnn import grammar
from rnn.data import Corpus, DataError, Vocab, load_text, random_windows, stream_chunks
from rnn.model import RNN
from rnn.optim import SGD, Adagrad, Adam, clip_grad_norm, clip_grad_value, global_norm
from rnn.train import (TrainConfig, Trainer, ValidationSet, evaluate, grammatical_fraction,
                       sample, sample_strings)
from minigrad.testing.rnn import rnn_problems

TINY = TrainConfig(grammar="reber", hidden_size=8, tau=8, batch=4, steps=30, lr=0.03,
                   train_strings=300, validation_strings=50, out=None, progress=False)


# -- data ------------------------------------------------------------------------

@given(n=st.integers(40, 200), tau=st.integers(1, 7), batch=st.integers(1, 4))
def test_stream_chunks_read_each_column_as_one_contiguous_stream(n, tau, batch):
    ids = np.arange(n)
    length = n // batch
    per_pass = (length - 1) // tau               # ≥ 1 here: n ≥ 40 gives length ≥ 10
    chunks = stream_chunks(ids, tau, batch)
    xs, ys = zip(*[next(chunks)[1:] for _ in range(per_pass)])
    x, y = np.concatenate(xs), np.concatenate(ys)
    for j in range(batch):                       # column j is ids[j·length ...] read in order
        assert np.array_equal(x[:, j], ids[j * length: j * length + per_pass * tau])
        assert np.array_equal(y[:, j], x[:, j] + 1)
    assert next(chunks)[0] == 0                  # then a new pass begins


def test_too_little_text_for_one_chunk_is_refused():
    with pytest.raises(DataError, match="cannot fill 4 streams"):
        next(stream_chunks(np.arange(20), tau=5, batch=4))


def test_stream_chunks_resume_at_a_position():
    chunks = stream_chunks(np.arange(40), tau=3, batch=2)
    for _ in range(4):
        expected = next(chunks)
    position, x, y = next(stream_chunks(np.arange(40), tau=3, batch=2, start=3))
    assert position == 3 and np.array_equal(x, expected[1]) and np.array_equal(y, expected[2])


def test_random_windows_are_shifted_slices_of_the_text():
    ids = np.arange(50) * 7
    x, y = random_windows(ids, 5, 8, np.random.default_rng(1))
    starts = x[0] // 7
    for j, s in enumerate(starts):
        assert np.array_equal(x[:, j], ids[s:s + 5]) and np.array_equal(y[:, j], ids[s + 1:s + 6])


def test_text_corpus_vocabulary_and_split(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("abcabcabcä\n", encoding="utf-8")
    corpus = load_text(path, validation_fraction=0.3)
    assert corpus.vocab.chars == "\nabcä"
    assert corpus.vocab.decode(np.concatenate([corpus.train, corpus.validation])) == "abcabcabcä\n"
    assert len(corpus.validation) == 3


@pytest.mark.parametrize("content, message", [
    (b"", "empty"), (b"abc\xff\xfeabc", "not UTF-8 text: byte 0xff at offset 3"),
    ("a text\n".encode("utf-16"), "not UTF-8 but UTF-16LE text .*iconv -f UTF-16LE"),
    ("a text\n".encode("utf-32-be"), "holds NUL characters .*UTF-16/UTF-32"),  # no mark
    (b"\xfe\xff\x00a\x00b", "not UTF-8 but UTF-16BE"),
    (b"a", "too short")])
def test_unusable_text_files_are_refused_with_the_reason(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_text(path)


def test_unknown_characters_are_named():
    with pytest.raises(DataError, match="'z' is not in the vocabulary"):
        Vocab("ab").encode("abz")


# -- optimisers and clipping --------------------------------------------------------

def _one_param(value):
    return {"w": mg.tensor(value, requires_grad=True)}


def test_adam_first_step_moves_each_coordinate_by_lr():
    params, g = _one_param([1.0, 1.0, 1.0]), np.array([3.0, -0.02, 500.0])
    Adam(params, lr=0.1, eps=1e-8).step({"w": g})
    # m̂ = g and v̂ = g² after bias correction, so the step is lr·g/(|g| + ε) ≈ lr·sign(g)
    np.testing.assert_allclose(params["w"].data, 1 - 0.1 * g / (np.abs(g) + 1e-8), rtol=1e-14)


def test_adagrad_divides_by_the_root_of_the_summed_squares():
    params = _one_param([0.0])
    opt = Adagrad(params, lr=1.0, eps=0.0)
    opt.step({"w": np.array([3.0])})             # -3/3
    opt.step({"w": np.array([4.0])})             # -4/5
    assert params["w"].data[0] == pytest.approx(-1.8, abs=1e-15)


def test_sgd_with_momentum_accumulates_velocity():
    params = _one_param([0.0])
    opt = SGD(params, lr=0.5, momentum=0.9)
    opt.step({"w": np.array([1.0])})             # v = 1
    opt.step({"w": np.array([2.0])})             # v = 0.9 + 2
    assert params["w"].data[0] == pytest.approx(-0.5 * (1 + 2.9), abs=1e-15)


@pytest.mark.parametrize("opt_class", [SGD, Adagrad, Adam])
def test_optimizer_state_round_trips(opt_class):
    a, b = _one_param([1.0, 2.0]), _one_param([1.0, 2.0])
    first, second = opt_class(a, lr=0.1), opt_class(b, lr=0.1)
    for g in ([0.5, -1.0], [2.0, 0.1]):
        first.step({"w": np.array(g)})
    second.load_state_dict(first.state_dict())
    b["w"].data = a["w"].data.copy()
    first.step({"w": np.array([0.3, 0.3])})
    second.step({"w": np.array([0.3, 0.3])})
    assert np.array_equal(a["w"].data, b["w"].data)


def test_optimizer_needs_a_gradient_for_every_parameter():
    with pytest.raises(KeyError, match="no gradient"):
        Adam(_one_param([1.0]), lr=0.1).step({})


@given(rnn_problems(), st.floats(1e-3, 10.0))
def test_clip_grad_norm_bounds_the_norm_and_keeps_the_direction(problem, max_norm):
    grads = problem.params
    clipped, norm = clip_grad_norm(grads, max_norm)
    assert norm == pytest.approx(np.sqrt(sum((g ** 2).sum() for g in grads.values())), rel=1e-12)
    assert global_norm(clipped) <= max_norm * (1 + 1e-12)
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    for name, g in grads.items():
        assert np.allclose(clipped[name], g * scale, rtol=1e-12, atol=0)


@given(rnn_problems(), st.floats(1e-3, 2.0))
def test_clip_grad_value_bounds_every_entry_and_keeps_small_ones(problem, max_value):
    for name, g in clip_grad_value(problem.params, max_value).items():
        original = problem.params[name]
        assert np.all(np.abs(g) <= max_value)
        small = np.abs(original) <= max_value
        assert np.array_equal(g[small], original[small])


# -- evaluation and sampling ------------------------------------------------------------

def test_evaluation_matches_the_minigrad_graph_loss():
    corpus = Corpus.from_text("the cat sat on the mat, the rat sat on the cat. " * 8, 0.5)
    model = RNN(len(corpus.vocab), 6, len(corpus.vocab), seed=3)
    validation = ValidationSet.of(corpus, columns=4)    # 4 equal pieces: no padding
    assert validation.mask.all()
    with mg.no_grad():
        graph = model.unroll(validation.x, validation.y)
    assert evaluate(model, validation).loss == pytest.approx(
        graph.loss.item() / validation.x.size, rel=1e-12)


def test_embedded_validation_marks_exactly_the_closing_letters():
    corpus = Corpus.from_grammar("embedded", 10, 40, seed=5)
    validation = ValidationSet.of(corpus, columns=3)
    rows, cols = validation.closing
    strings = grammar.split_strings(corpus.vocab.decode(corpus.validation), embedded=True)
    assert len(rows) == len(strings) == 40
    marked = sorted(zip(cols, rows))              # in text order: column by column
    assert corpus.vocab.decode([validation.y[r, c] for c, r in marked]) == "".join(
        s[1] for s in strings)                   # each closing letter repeats the opening one


def _cycle_model(vocab: Vocab, cycle: str, sharpness: float = 40.0) -> RNN:
    """An RNN that, after reading c, writes the character after c in ``cycle`` with
    probability ≈ 1 (W = 0; h = tanh(3) · one-hot of the input)."""
    K = len(vocab)
    V = np.zeros((K, K))
    for now, then in zip(cycle, cycle[1:] + cycle[0]):
        V[vocab.chars.index(then), vocab.chars.index(now)] = sharpness
    return RNN.from_arrays(U=3 * np.eye(K), W=np.zeros((K, K)), V=V, b=np.zeros(K), c=np.zeros(K))


def test_a_model_that_knows_the_string_writes_it_and_scores_one():
    corpus = Corpus.from_grammar("reber", 10, 20, seed=0)
    model = _cycle_model(corpus.vocab, "BTXSE")
    assert sample(model, corpus.vocab, "B", 12) == "TXSEBTXSEBTX"
    fraction, written = grammatical_fraction(model, corpus, n=50)
    assert fraction == 1.0 and set(written) == {"BTXSE"}


def test_sampled_strings_end_only_at_the_boundary_pair():
    vocab = Vocab("BEPTX")
    model = _cycle_model(vocab, "BETPX")          # E inside the string, X then B at its end
    written = sample_strings(model, vocab, ["BETPX"] * 3, boundary="XB")
    assert written == ["BETPX"] * 3


def test_a_random_model_writes_mostly_ungrammatical_strings():
    corpus = Corpus.from_grammar("embedded", 10, 20, seed=0)
    model = RNN(len(corpus.vocab), 8, len(corpus.vocab), seed=0)
    fraction, _ = grammatical_fraction(model, corpus, n=200)
    assert fraction < 0.05


# -- training runs -----------------------------------------------------------------------

def test_a_short_run_gets_within_five_percent_of_the_ideal_predictor():
    config = dataclasses.replace(TINY, hidden_size=16, tau=16, batch=16, steps=200,
                                 train_strings=2000, validation_strings=300)
    trainer = Trainer(config)
    start = trainer.evaluate()
    assert start.loss > 3 * start.ideal          # an untrained model is far from the limit
    trainer.run(log=None)
    end = trainer.evaluate()
    assert end.loss < 1.05 * end.ideal
    assert [row["step"] for row in trainer.history] == [0, 200]


@pytest.mark.parametrize("optimizer, batching", [("adam", "stream"), ("adagrad", "random"),
                                                 ("sgd", "stream")])
def test_autodiff_and_analytic_bptt_give_the_same_training_run(optimizer, batching):
    runs = {}
    for source in ("autodiff", "bptt"):
        trainer = Trainer(dataclasses.replace(TINY, gradients=source, optimizer=optimizer,
                                              batching=batching, clip_norm=1.0))
        losses = [trainer.train_step(*trainer.next_batch()) for _ in range(25)]
        runs[source] = losses, trainer.arrays()
    (losses_a, params_a), (losses_b, params_b) = runs["autodiff"], runs["bptt"]
    assert losses_a[-1] < losses_a[0]
    np.testing.assert_allclose(losses_a, losses_b, rtol=1e-10, atol=0)
    for name in params_a:
        np.testing.assert_allclose(params_a[name], params_b[name], rtol=1e-9, atol=1e-12)


def test_resuming_with_a_different_model_is_refused(tmp_path):
    from rnn.checkpoint import CheckpointError
    config = dataclasses.replace(TINY, steps=5, out=str(tmp_path))
    Trainer(config).run(log=None)
    with pytest.raises(CheckpointError, match="holds a 1-layer rnn with H = 8, D = 7; the model is "
                                              "a 1-layer rnn with H = 12, D = 7"):
        Trainer.resume(config.checkpoint_path, dataclasses.replace(config, hidden_size=12))


@pytest.mark.parametrize("module", [rnn.data, rnn.optim, rnn.checkpoint, rnn.train])
def test_docstring_examples_run(module):
    failed, attempted = doctest.testmod(module)
    assert attempted > 0 and failed == 0
