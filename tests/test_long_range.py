"""The long-dependency experiment's harness (rnn.long_range): Reber strings of a given length
drawn with the grammar's conditional distribution, the embedded task's long dependency where
it says, the oracle gradients it trains with equal to the graph's, the gradient profile, the
Wilson interval, and a sweep that resumes without repeating a run."""
import doctest
import json
from collections import Counter

import numpy as np
import pytest

import rnn.long_range
from minigrad.testing import assert_roundoff_equal
from rnn import LanguageModel, grammar
from rnn.analysis import last_step_profile, memory_task
from rnn.long_range import (REBER_SYMBOLS, _oracle, profile, read_results, reber_strings,
                            reber_task, strings, sweep, train_memory, train_reber, wilson)


def test_the_examples_run_as_printed():
    failed, attempted = doctest.testmod(rnn.long_range)
    assert attempted > 0 and failed == 0


def spelled(ids):
    return ["".join(REBER_SYMBOLS[i] for i in column) for column in ids.T]


def test_the_two_shortest_reber_strings_come_half_and_half():
    """Length 5 has exactly BTXSE and BPVVE, each of probability 1/8: 1/2 each given n = 5."""
    counts = Counter(spelled(reber_strings(5, 4000, np.random.default_rng(0))))
    assert set(counts) == {"BTXSE", "BPVVE"}
    assert abs(counts["BTXSE"] / 4000 - 0.5) < 0.03          # 4 standard deviations


@pytest.mark.parametrize("n", [6, 8])
def test_reber_strings_follow_the_grammar_given_their_length(n):
    """Frequencies of every string of n symbols ≈ its probability under the grammar
    (grammar.string_probability) divided by the total probability of length n."""
    draws = 20000
    counts = Counter(spelled(reber_strings(n, draws, np.random.default_rng(n))))
    assert all(len(s) == n and grammar.is_grammatical(s) for s in counts)
    p = {s: grammar.string_probability(s) for s in counts}
    total = sum(p.values())
    for s, k in counts.items():
        expected = p[s] / total
        assert abs(k / draws - expected) < 5 * np.sqrt(expected * (1 - expected) / draws) + 1e-3
    assert sum(counts.values()) == draws


def test_no_reber_string_is_shorter_than_five():
    with pytest.raises(ValueError, match="no string of 4 symbols"):
        reber_strings(4, 1, np.random.default_rng(0))


@pytest.mark.parametrize("d", [5, 9, 30])
def test_the_embedded_task_puts_its_long_dependency_at_where(d):
    x, y, where = reber_task(d, 50, rng=np.random.default_rng(d))
    assert x.shape == y.shape == (d + 3, 50) and where == d + 1
    texts = strings(x, y)
    assert all(len(s) == d + 4 and grammar.is_grammatical(s, embedded=True) for s in texts)
    np.testing.assert_array_equal(y[where], x[1])            # the closing letter is the opening
    assert set(np.unique(x[1])) <= {REBER_SYMBOLS.index("T"), REBER_SYMBOLS.index("P")}
    found = grammar.closing_letters("".join(texts))
    assert (np.diff(np.concatenate([[0], found.positions + 2])) == d + 4).all()
    assert ((found.positions - found.opening_positions) == d + 1).all()   # gap d after x row 1


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_the_oracle_gradients_it_trains_with_are_the_graphs(kind):
    model = LanguageModel(kind, 7, 4, 7, seed=1)
    x, y, _ = reber_task(6, 3, rng=np.random.default_rng(2))
    graph = model.unroll(x, y)
    graph.loss.backward()
    result = _oracle(kind, model.arrays(), x, y)
    assert_roundoff_equal(result.loss, graph.loss.item(), "L")
    for name, p in model.parameters().items():
        assert_roundoff_equal(result.grads[name], p.grad, f"{kind}: ∂L/∂{name}")
    assert_roundoff_equal(_oracle(kind, model.arrays(), x).o,
                          np.stack([o.data for o in graph.o[1:]]), "o")


def test_the_profile_is_the_analysis_one_for_the_vanilla_rnn():
    """Normalised by k = 0, rnn.long_range.profile (mean loss over a batch) equals
    rnn.analysis.last_step_profile (L(τ) summed) for the vanilla RNN."""
    from rnn import RNN
    model = RNN(6, 5, 2, seed=3)
    x, y = memory_task(12, 4, rng=np.random.default_rng(0))
    mine = profile(model, x, y)
    theirs = last_step_profile(model, x, np.tile(y, (13, 1)))
    assert mine.shape == (14,)
    assert_roundoff_equal(mine / mine[0], theirs / theirs[0], "profile")


def test_wilson_intervals():
    """Known values of the 95% Wilson score interval."""
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    for n in range(1, 40):                       # never past [0, 1], even by a rounding
        assert wilson(0, n)[0] == 0.0 and wilson(n, n)[1] == 1.0


def test_training_runs_report_an_accuracy():
    memory = train_memory("gru", 5, 0, hidden=4, steps=3, test_size=20)
    assert 0 <= memory["accuracy"] <= 1 and len(memory["profile"]) == 7
    reber = train_reber("lstm", 5, 0, hidden=4, steps=3, test_size=20, forget_bias=3.0)
    assert 0 <= reber["accuracy"] <= 1 and reber["seconds"] > 0


def without_time(record):
    return {k: v for k, v in record.items() if k != "seconds"}


def test_a_sweep_resumes_without_repeating_a_run(tmp_path):
    path = tmp_path / "runs.jsonl"
    settings = dict(steps=2, hidden=3, batch=4, test_size=10)
    sweep("reber", ["rnn", "lstm-fb3"], [5], [0, 1], path, **settings)
    first = read_results(path)
    assert sorted((r["config"], r["seed"]) for r in first) == [
        ("lstm-fb3", 0), ("lstm-fb3", 1), ("rnn", 0), ("rnn", 1)]
    sweep("reber", ["rnn", "lstm-fb3"], [5], [0, 1], path, **settings)
    assert read_results(path) == first
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:10])   # a torn last line
    assert len(read_results(path)) == 3
    sweep("reber", ["rnn", "lstm-fb3"], [5], [0, 1], path, **settings)
    again = read_results(path)
    assert len(again) == 4 and without_time(again[-1]) == without_time(first[-1])
    assert json.loads(path.read_text().splitlines()[0])["steps"] == 2
    assert read_results(tmp_path / "none.jsonl") == []
