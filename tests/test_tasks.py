"""The sequence-to-sequence tasks (rnn.tasks): known answers, the batch layout an encoder and
a teacher-forced decoder read, and the two accuracy scores."""
import doctest

import numpy as np
import pytest
from hypothesis import given, strategies as st

import rnn.tasks
from rnn.tasks import (END, PAD, START, Addition, DelayedCopy, Reverse, TASKS, Vocabulary,
                       exact_match, symbol_accuracy)

seeds = st.integers(0, 2**32 - 1)


def test_the_examples_run_as_printed():
    failed, attempted = doctest.testmod(rnn.tasks)
    assert attempted > 0 and failed == 0


def test_known_answers_written_by_hand():
    assert Reverse().answer("abcd") == "dcba" and Reverse().answer("a") == "a"
    assert DelayedCopy(delay=3).answer("hag___") == "hag"
    assert DelayedCopy(delay=0).answer("hag") == "hag"
    assert [Addition().answer(s) for s in ("0+0", "999+1", "17+5", "450+550")] == \
        ["0", "1000", "22", "1000"]


@given(seeds, st.integers(1, 6), st.integers(0, 4))
def test_reverse_sources_and_answers(seed, max_length, extra):
    task = Reverse("xyz", min_length=max_length, max_length=max_length + extra)
    sources, answers = task.examples(20, seed=seed)
    for s, a in zip(sources, answers):
        assert set(s) <= set("xyz") and max_length <= len(s) <= max_length + extra
        assert len(a) == len(s) and all(a[i] == s[-1 - i] for i in range(len(s)))


@given(seeds, st.integers(0, 7))
def test_delayed_copy_sources_end_in_the_delay_and_answers_are_the_rest(seed, delay):
    task = DelayedCopy("ab", min_length=1, max_length=4, delay=delay)
    for s, a in zip(*task.examples(20, seed=seed)):
        assert s == a + "_" * delay and 1 <= len(a) <= 4 and set(a) <= {"a", "b"}


@given(seeds, st.integers(1, 4))
def test_addition_answers_are_the_sums(seed, digits):
    task = Addition(digits=digits)
    for s, a in zip(*task.examples(20, seed=seed)):
        left, right = s.split("+")
        assert 0 <= int(left) < 10 ** digits and 0 <= int(right) < 10 ** digits
        assert str(int(left)) == left and str(int(right)) == right      # no leading zeros
        assert int(a) == int(left) + int(right) and str(int(a)) == a


def test_addition_draws_numbers_of_every_length():
    sources, _ = Addition(digits=3).examples(2000, seed=0)
    numbers = np.array([int(n) for s in sources for n in s.split("+")])
    assert numbers.max() >= 990 and numbers.min() <= 10
    assert {len(str(n)) for n in numbers} == {1, 2, 3}
    assert abs(numbers.mean() - 499.5) < 20          # uniform on 0..999: mean 499.5, sd 6.5


def test_lengths_cover_the_range():
    sources, _ = Reverse(min_length=2, max_length=5).examples(400, seed=3)
    assert {len(s) for s in sources} == {2, 3, 4, 5}


@pytest.mark.parametrize("task", [Reverse(), DelayedCopy(delay=2), Addition(digits=2)],
                         ids=lambda t: t.name)
@given(seed=seeds)
def test_a_batch_lays_examples_out_for_encoder_and_teacher_forced_decoder(task, seed):
    batch = task.batch(7, seed=seed)
    v = task.vocabulary
    assert batch.source.shape == (max(batch.source_lengths), 7)
    assert batch.target.shape == batch.decoder_input.shape == batch.target_mask.shape
    assert batch.target.shape[0] == max(map(len, batch.answers)) + 1
    for b, (s, a) in enumerate(zip(batch.sources, batch.answers)):
        n, m = batch.source_lengths[b], len(a)
        assert n == len(s) and v.decode(batch.source[:, b]) == s
        assert (batch.source[n:, b] == PAD).all() and (batch.source[:n, b] > END).all()
        assert v.decode(batch.target[:, b]) == a and batch.target[m, b] == END
        assert batch.decoder_input[0, b] == START
        np.testing.assert_array_equal(batch.decoder_input[1:m + 1, b], batch.target[:m, b])
        assert (batch.target[m + 1:, b] == PAD).all()
        assert (batch.decoder_input[m + 1:, b] == PAD).all()
        assert batch.target_mask[:, b].tolist() == [True] * (m + 1) + [False] * (
            len(batch.target) - m - 1)


def test_the_same_seed_gives_the_same_examples_and_another_seed_others():
    task = Reverse()
    assert task.examples(50, seed=1) == task.examples(50, seed=1)
    assert task.examples(50, seed=1) != task.examples(50, seed=2)
    rng = np.random.default_rng(1)
    assert task.examples(50, rng=rng) == task.examples(50, seed=1)
    assert task.examples(50, rng=rng) != task.examples(50, seed=1)     # rng moved on


def test_the_registry_names_each_task_by_its_name():
    assert {name: cls.name for name, cls in TASKS.items()} == {
        "reverse": "reverse", "copy": "copy", "add": "add"}


def test_vocabulary_reserves_pad_start_end():
    v = Vocabulary("ab")
    assert (PAD, START, END) == (0, 1, 2) and len(v) == 5
    assert v.encode("ab").tolist() == [3, 4] and v.decode([1, 3, 4, 2, 3]) == "ab"
    assert v.decode([3, 0, 4]) == "ab" and v.show([1, 3, 2, 0]) == "⟨s⟩a⟨/s⟩␣"


def test_bad_vocabularies_symbols_and_sizes_are_named():
    with pytest.raises(ValueError, match="distinct symbols"):
        Vocabulary("aba")
    with pytest.raises(ValueError, match="distinct symbols"):
        Vocabulary("")
    with pytest.raises(ValueError, match="symbol 'c' is not in the vocabulary 'ab'"):
        Vocabulary("ab").encode("abc")
    with pytest.raises(ValueError, match=r"id 5 is not in \[0, 5\)"):
        Vocabulary("ab").decode([3, 5])
    with pytest.raises(ValueError, match="min_length 4 exceeds max_length 3"):
        Reverse(min_length=4, max_length=3)
    with pytest.raises(ValueError, match="filler '_'"):
        DelayedCopy("ab_")
    with pytest.raises(ValueError, match="delay must be an integer ≥ 0, got -1"):
        DelayedCopy(delay=-1)
    with pytest.raises(ValueError, match="digits must be at least 1, got 0"):
        Addition(digits=0)
    with pytest.raises(ValueError, match="n must be at least 1, got 0"):
        Reverse().batch(0, seed=0)


def test_exact_match_and_symbol_accuracy_by_hand():
    answers = ["abc", "ab", "ab"]
    assert exact_match(["abc", "ab", "ab"], answers) == 1.0
    assert symbol_accuracy(["abc", "ab", "ab"], answers) == 1.0
    # 4 + 3 + 3 = 10 positions (each answer's end is one): "abd" 3 of 4 (c wrong), "abx" 2 of 3
    # (too long: its end is wrong), "" 0 of 3 (a, b and the end wrong)
    assert exact_match(["abd", "abx", ""], answers) == 0.0
    assert symbol_accuracy(["abd", "abx", ""], answers) == pytest.approx(5 / 10)
    # 3 + 2 + 2 positions: "ba" only its end (1), "a" both (2), "b" only its end (1)
    assert symbol_accuracy(["ba", "a", "b"], ["ab", "a", "a"]) == pytest.approx(4 / 7)


@given(st.lists(st.text("ab", max_size=4), min_size=1, max_size=5), st.data())
def test_scores_are_one_exactly_when_every_prediction_is_right(answers, data):
    predicted = data.draw(st.lists(st.text("ab", max_size=4), min_size=len(answers),
                                   max_size=len(answers)))
    all_right = predicted == answers
    assert (exact_match(predicted, answers) == 1.0) == all_right
    assert (symbol_accuracy(predicted, answers) == 1.0) == all_right
    assert 0.0 <= symbol_accuracy(predicted, answers) <= 1.0


def test_scores_need_matching_lists():
    with pytest.raises(ValueError, match="as many predictions as answers"):
        exact_match(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="as many predictions as answers"):
        symbol_accuracy([], [])
