"""Tests for rnn.grammar: generation, validation, next-symbol prediction and
the exact entropy rate, each against an oracle that does not share the code's
method (a hand-written regular expression, hand-derived values, Monte Carlo,
and a series over enumerated strings)."""
import math
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

from rnn.grammar import (EMBEDDED_REBER, REBER, Arc, Automaton, closing_letters, corpus,
                         entropy_rate, expected_length, generate, grammar, ideal_losses,
                         is_grammatical, next_symbols, split_strings, string_probability)

# -- independent oracles -------------------------------------------------------

# The Reber graph read off by hand as a regular expression. From node 2 the
# walk is T*V, then V to the exit, or P to node 3, which exits by S or returns
# to node 2 by X: (T*VPX)* T*V (V|PS). From node 0: T S* X then S (exit) or
# X (node 2), or P (node 2).
_FROM_NODE_2 = "(T*VPX)*T*V(V|PS)"
_REBER_BODY = f"(TS*X(S|X{_FROM_NODE_2})|P{_FROM_NODE_2})"
REBER_REGEX = re.compile(f"B{_REBER_BODY}E")
EMBEDDED_REGEX = re.compile(f"B(TB{_REBER_BODY}ET|PB{_REBER_BODY}EP)E")

# Hand derivation of the exact statistics. Let v_k be the expected visits to
# Reber node k per string: v0 = 1; v1 = v0/2 + v1/2, so v1 = 1; v2 = v0/2 + v3/2
# + v2/2; v4 = v2/2; v3 = v1/2 + v4/2. Solving: v3 = 1, v2 = 2, v4 = 1. Nodes
# 0..4 each emit one symbol per visit and cost ln 2 (a fair choice); B and E
# are forced. Reber: 6 choices over 6 + 2 = 8 characters -> 6/8 bits/char.
# Embedded: adds a fair opening letter and four forced characters (B, inner B
# and E are inside the 8, so: outer B, opening, closing, outer E) -> 7 choices
# over 12 characters -> 7/12 bits/char.
HAND_EXPECTED_LENGTH = {False: 8.0, True: 12.0}
HAND_BITS_PER_CHAR = {False: 6 / 8, True: 7 / 12}


def regex_accepts(s, embedded):
    return (EMBEDDED_REGEX if embedded else REBER_REGEX).fullmatch(s) is not None


def enumerate_strings(automaton, max_length):
    """Every string of at most ``max_length`` characters, with its probability."""
    found, stack = [], [(automaton.start, "", 1.0)]
    while stack:
        state, prefix, probability = stack.pop()
        if state == automaton.final:
            found.append((prefix, probability))
        elif len(prefix) < max_length:
            stack.extend((arc.target, prefix + arc.symbol, probability * arc.probability)
                         for arc in automaton.arcs[state])
    return found


# -- strategies ----------------------------------------------------------------

seeds = st.integers(0, 2**32 - 1)
grammars = st.booleans()  # embedded or not


@st.composite
def mutations(draw):
    """A generated string, its grammar flag and a single-character mutation of it."""
    embedded = draw(grammars)
    s = generate(1, draw(seeds), embedded)[0]
    alphabet = grammar(embedded).alphabet
    kind = draw(st.sampled_from(["substitute", "insert", "delete"]))
    if kind == "insert":
        i = draw(st.integers(0, len(s)))
        mutated = s[:i] + draw(st.sampled_from(alphabet)) + s[i:]
    elif kind == "delete":
        i = draw(st.integers(0, len(s) - 1))
        mutated = s[:i] + s[i + 1:]
    else:
        i = draw(st.integers(0, len(s) - 1))
        mutated = s[:i] + draw(st.sampled_from(alphabet.replace(s[i], ""))) + s[i + 1:]
    return embedded, s, mutated


# -- the automata --------------------------------------------------------------

def test_the_automaton_rejects_malformed_tables():
    with pytest.raises(ValueError, match="sum to 1"):
        Automaton("s", {"s": (Arc("a", 0.5, "f"),), "f": ()})
    with pytest.raises(ValueError, match="repeated symbols"):
        Automaton("s", {"s": (Arc("a", 0.5, "f"), Arc("a", 0.5, "f")), "f": ()})
    with pytest.raises(ValueError, match="unknown states"):
        Automaton("s", {"s": (Arc("a", 1.0, "g"),), "f": ()})


def test_the_embedded_automaton_holds_one_reber_copy_per_opening_letter():
    for letter in "TP":
        for state, arcs in REBER.arcs.items():
            if state == REBER.final:
                continue
            copied = EMBEDDED_REBER.arcs[f"{letter}:{state}"]
            assert [(a.symbol, a.probability, a.target) for a in copied] == \
                   [(a.symbol, a.probability, f"{letter}:{a.target}") for a in arcs]
        assert EMBEDDED_REBER.arcs[f"{letter}:{REBER.final}"] == (Arc(letter, 1.0, "close"),)


# -- generation and validation -------------------------------------------------

@given(seeds, grammars)
def test_generated_strings_are_grammatical(seed, embedded):
    for s in generate(20, seed, embedded):
        assert is_grammatical(s, embedded)
        assert regex_accepts(s, embedded)


@given(mutations())
def test_a_mutated_string_is_accepted_exactly_when_the_regex_accepts_it(case):
    embedded, _, mutated = case
    assert is_grammatical(mutated, embedded) == regex_accepts(mutated, embedded)


@given(mutations())
def test_a_mutation_that_changes_the_count_of_b_or_e_is_rejected(case):
    # Every Reber string has exactly one B and one E, every embedded string two
    # of each, so such a mutation provably breaks the string.
    embedded, s, mutated = case
    if any(mutated.count(symbol) != s.count(symbol) for symbol in "BE"):
        assert not is_grammatical(mutated, embedded)


@given(seeds)
def test_swapping_the_closing_letter_is_rejected(seed):
    s = generate(1, seed, embedded=True)[0]
    swapped = s[:-2] + {"T": "P", "P": "T"}[s[-2]] + s[-1]
    assert not is_grammatical(swapped, embedded=True)


@given(seeds, grammars)
def test_the_same_seed_gives_the_same_strings(seed, embedded):
    assert generate(30, seed, embedded) == generate(30, seed, embedded)
    assert corpus(30, seed, embedded) == corpus(30, seed, embedded)


def test_different_seeds_give_different_strings():
    assert generate(30, 0) != generate(30, 1)


@given(seeds, grammars)
def test_a_corpus_is_the_strings_concatenated_and_splits_back(seed, embedded):
    strings = generate(25, seed, embedded)
    text, vocabulary = corpus(25, seed, embedded)
    assert text == "".join(strings)
    assert split_strings(text, embedded) == strings
    assert vocabulary == "BEPSTVX" and set(text) <= set(vocabulary)


def test_split_strings_refuses_an_unfinished_text():
    with pytest.raises(ValueError):
        split_strings("BTXSEBTX")


# -- probabilities and prediction ----------------------------------------------

def test_hand_computed_string_probabilities():
    # BTXSE: B forced, T at node 0 (1/2), X at node 1 (1/2), S at node 3 (1/2),
    # E forced: 1/8. BPVVE likewise: P, V, V are three fair choices: 1/8.
    assert string_probability("BTXSE") == 1 / 8
    assert string_probability("BPVVE") == 1 / 8
    # BTSSXXTVVE: T S S X X T V V are eight fair choices: 1/256.
    assert string_probability("BTSSXXTVVE") == 1 / 256
    # Embedded BTBTXSETE: the opening T (1/2) times the inner BTXSE (1/8).
    assert string_probability("BTBTXSETE", embedded=True) == 1 / 16
    assert string_probability("BTXSSE") == 0.0


@given(seeds, grammars)
def test_ideal_losses_are_the_next_symbol_probabilities(seed, embedded):
    text, _ = corpus(4, seed, embedded)
    losses = ideal_losses(text, embedded)
    assert len(losses) == len(text) - 1
    for i in range(1, len(text)):
        choices = next_symbols(text[:i], embedded)
        assert text[i] in choices
        assert math.isclose(losses[i - 1], -math.log(choices[text[i]]))


def test_next_symbols_by_hand():
    assert next_symbols("") == {"B": 1.0}
    assert next_symbols("BTSS") == {"S": 0.5, "X": 0.5}
    assert next_symbols("BTXSE") == {"B": 1.0}
    assert next_symbols("BTXX") == {"T": 0.5, "V": 0.5}
    assert next_symbols("BTXT") == {}
    assert next_symbols("B", embedded=True) == {"T": 0.5, "P": 0.5}
    assert next_symbols("BTBPVVE", embedded=True) == {"T": 1.0}


@given(seeds)
def test_closing_letters_are_forced_copies_of_the_opening_letters(seed):
    strings = generate(10, seed, embedded=True)
    text = "".join(strings)
    found = closing_letters(text)
    assert len(found.positions) == len(strings)
    assert "".join(text[p] for p in found.positions) == found.letters
    assert "".join(text[p] for p in found.opening_positions) == found.letters
    assert (found.positions - found.opening_positions).tolist() == [len(s) - 3 for s in strings]
    for p, o, letter in zip(found.positions, found.opening_positions, found.letters):
        assert next_symbols(text[:p], embedded=True) == {letter: 1.0}
        assert next_symbols(text[:o], embedded=True) == {"T": 0.5, "P": 0.5}


# -- exact statistics ----------------------------------------------------------

@pytest.mark.parametrize("embedded", [False, True])
def test_exact_values_match_the_hand_derivation(embedded):
    assert math.isclose(expected_length(embedded), HAND_EXPECTED_LENGTH[embedded])
    assert math.isclose(entropy_rate(embedded, bits=True), HAND_BITS_PER_CHAR[embedded])
    assert math.isclose(entropy_rate(embedded), HAND_BITS_PER_CHAR[embedded] * math.log(2))


# Monte Carlo on fixed seeds, so the tests are deterministic; 4 standard errors
# leave a false alarm probability below 1e-4 for any seed.
MONTE_CARLO_STRINGS = 20_000


@pytest.mark.parametrize("embedded", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_entropy_rate_matches_monte_carlo(embedded, seed):
    strings = generate(MONTE_CARLO_STRINGS, seed, embedded)
    # Per string: the summed loss of its characters (its B costs 0 after the
    # previous E) and its length. The rate is a ratio of means; its standard
    # error comes from the delta method.
    loss = np.array([ideal_losses(s, embedded).sum() for s in strings])
    length = np.array([len(s) for s in strings], dtype=float)
    estimate = loss.sum() / length.sum()
    standard_error = np.std(loss - estimate * length, ddof=1) / (
        length.mean() * np.sqrt(len(strings)))
    assert abs(estimate - entropy_rate(embedded)) < 4 * standard_error


@pytest.mark.parametrize("embedded", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_expected_length_matches_the_mean_length(embedded, seed):
    length = np.array([len(s) for s in generate(MONTE_CARLO_STRINGS, seed, embedded)])
    standard_error = np.std(length, ddof=1) / np.sqrt(len(length))
    assert abs(length.mean() - expected_length(embedded)) < 4 * standard_error


@pytest.mark.parametrize("embedded", [False, True])
def test_entropy_rate_matches_the_series_over_enumerated_strings(embedded):
    strings = enumerate_strings(grammar(embedded), max_length=28)
    mass = sum(p for _, p in strings)
    entropy = sum(-p * math.log(p) for _, p in strings)
    length = sum(p * len(s) for s, p in strings)
    assert 0.99 < mass < 1.0
    # The strings left out carry expected length L_tail = L - length (L by
    # hand) and entropy between 0 and ln 2 · L_tail (no arc costs more than
    # ln 2), so the truncated ratio is off by at most ln 2 · L_tail / length.
    tail_length = HAND_EXPECTED_LENGTH[embedded] - length
    bound = math.log(2) * tail_length / length
    assert abs(entropy / length - entropy_rate(embedded)) <= bound < 0.005
