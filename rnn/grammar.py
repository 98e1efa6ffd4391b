"""The Reber grammar and the embedded Reber grammar as probabilistic automata.

Each grammar is one explicit deterministic finite-state automaton: states, and
from each state a few arcs, each carrying a symbol, a probability and a target
state. Generation, validation, next-symbol prediction and the exact entropy
rate all read that one table; the embedded grammar is built from the Reber
table by composition.

Reber grammar (Reber 1967), with the classic node numbering 0..5::

    start -B-> 0     0 -T-> 1   0 -P-> 2     1 -S-> 1   1 -X-> 3
                     2 -T-> 2   2 -V-> 4     3 -X-> 2   3 -S-> 5
                     4 -P-> 3   4 -V-> 5     5 -E-> end

Nodes 0..4 each choose between two arcs with probability 1/2; B, E are forced.
Embedded Reber grammar: ``B``, then ``T`` or ``P`` (1/2 each), then a Reber
string, then the same ``T`` or ``P`` again, then ``E``. Its states carry the
opening letter, so the closing letter is forced (probability 1).

A text (a corpus, a model's sample) is a *stream*: strings concatenated with no
separator. Every string begins with ``B`` and ends with ``E`` and never
contains ``E`` before its end at nesting depth zero, so the automaton finds
every boundary without help; after the final state the stream restarts at the
start state, where ``B`` is forced.

>>> generate(3, seed=0)
['BPTTTVVE', 'BPVVE', 'BPVPSE']
>>> is_grammatical("BTXSE"), is_grammatical("BTXSSE")
(True, False)
>>> round(entropy_rate(bits=True), 4), expected_length()
(0.75, 8.0)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = [
    "Arc", "Automaton", "REBER", "EMBEDDED_REBER", "grammar",
    "generate", "corpus", "is_grammatical", "string_probability", "split_strings",
    "next_symbols", "ideal_losses", "ClosingLetters", "closing_letters",
    "expected_visits", "expected_length", "entropy_rate",
]


@dataclass(frozen=True)
class Arc:
    """One transition: emit ``symbol`` with ``probability`` and move to ``target``."""

    symbol: str
    probability: float
    target: str


@dataclass(frozen=True)
class Automaton:
    """A deterministic probabilistic automaton: ``arcs[state]`` lists the arcs
    leaving ``state``. The one state without arcs is the final state. Checked
    on construction: arc symbols out of a state are distinct (so a text fixes
    its path), probabilities out of a state sum to 1, every target is a state.

    >>> tiny = Automaton("s", {"s": (Arc("a", 1.0, "f"),), "f": ()})
    >>> tiny.final, tiny.step("s", "a"), tiny.step("s", "b")
    ('f', Arc(symbol='a', probability=1.0, target='f'), None)
    """

    start: str
    arcs: dict[str, tuple[Arc, ...]]

    def __post_init__(self):
        finals = [state for state, arcs in self.arcs.items() if not arcs]
        if len(finals) != 1:
            raise ValueError(f"an automaton needs exactly one state without arcs, got {finals}")
        for state, arcs in self.arcs.items():
            symbols = [arc.symbol for arc in arcs]
            if len(set(symbols)) != len(symbols):
                raise ValueError(f"state {state!r} has repeated symbols {symbols}")
            if arcs and not math.isclose(sum(arc.probability for arc in arcs), 1.0):
                raise ValueError(f"probabilities out of state {state!r} do not sum to 1")
            unknown = [arc.target for arc in arcs if arc.target not in self.arcs]
            if unknown:
                raise ValueError(f"state {state!r} has arcs to unknown states {unknown}")

    @property
    def final(self) -> str:
        """The state without arcs, reached after the last symbol of a string."""
        return next(state for state, arcs in self.arcs.items() if not arcs)

    @property
    def alphabet(self) -> str:
        """All symbols on the arcs, sorted: the character vocabulary."""
        return "".join(sorted({arc.symbol for arcs in self.arcs.values() for arc in arcs}))

    def step(self, state: str, symbol: str) -> Arc | None:
        """The arc out of ``state`` that emits ``symbol``, or None if there is none."""
        return next((arc for arc in self.arcs[state] if arc.symbol == symbol), None)


def _half_half(first: str, first_target: str, second: str, second_target: str):
    return (Arc(first, 0.5, first_target), Arc(second, 0.5, second_target))


REBER = Automaton(start="start", arcs={
    "start": (Arc("B", 1.0, "0"),),
    "0": _half_half("T", "1", "P", "2"),
    "1": _half_half("S", "1", "X", "3"),
    "2": _half_half("T", "2", "V", "4"),
    "3": _half_half("X", "2", "S", "5"),
    "4": _half_half("P", "3", "V", "5"),
    "5": (Arc("E", 1.0, "end"),),
    "end": (),
})


def _embed(inner: Automaton, brackets: str = "TP") -> Automaton:
    """``B``, one bracket letter, an ``inner`` string, the same letter, ``E``.

    One renamed copy of ``inner`` per bracket letter (states ``"T:0"``,
    ``"P:0"``, ...), so the state remembers which letter must close.
    """
    arcs = {"start": (Arc("B", 1.0, "open"),),
            "open": tuple(Arc(letter, 1.0 / len(brackets), f"{letter}:{inner.start}")
                          for letter in brackets),
            "close": (Arc("E", 1.0, "end"),),
            "end": ()}
    for letter in brackets:
        for state, inner_arcs in inner.arcs.items():
            arcs[f"{letter}:{state}"] = tuple(
                Arc(arc.symbol, arc.probability, f"{letter}:{arc.target}") for arc in inner_arcs)
        arcs[f"{letter}:{inner.final}"] = (Arc(letter, 1.0, "close"),)
    return Automaton(start="start", arcs=arcs)


EMBEDDED_REBER = _embed(REBER)


def grammar(embedded: bool = False) -> Automaton:
    """The automaton of the Reber grammar, or of the embedded one.

    >>> grammar().arcs["0"]
    (Arc(symbol='T', probability=0.5, target='1'), Arc(symbol='P', probability=0.5, target='2'))
    >>> grammar(embedded=True).arcs["T:end"]
    (Arc(symbol='T', probability=1.0, target='close'),)
    """
    return EMBEDDED_REBER if embedded else REBER


# -- generation ----------------------------------------------------------------

def generate(n: int, seed: int, embedded: bool = False) -> list[str]:
    """``n`` independent strings of the grammar; the same seed gives the same strings.

    A numpy Generator draws one uniform number per state that has a choice;
    forced symbols (B, E, the closing letter) draw nothing.

    >>> generate(2, seed=1, embedded=True)
    ['BPBPTVPXVPSEPE', 'BTBPVPSETE']
    """
    automaton = grammar(embedded)
    rng = np.random.default_rng(seed)
    return [_sample_string(automaton, rng) for _ in range(n)]


def _sample_string(automaton: Automaton, rng: np.random.Generator) -> str:
    symbols, state = [], automaton.start
    while automaton.arcs[state]:
        arc = _choose(automaton.arcs[state], rng)
        symbols.append(arc.symbol)
        state = arc.target
    return "".join(symbols)


def _choose(arcs: tuple[Arc, ...], rng: np.random.Generator) -> Arc:
    if len(arcs) == 1:
        return arcs[0]
    u, cumulative = rng.random(), 0.0
    for arc in arcs:
        cumulative += arc.probability
        if u < cumulative:
            return arc
    return arcs[-1]                                   # u just below 1 after rounding


def corpus(n: int, seed: int, embedded: bool = False) -> tuple[str, str]:
    """A training text of ``n`` strings and its character vocabulary.

    The strings are concatenated with no separator: each string starts with
    ``B`` and ends with ``E``, and the automaton tells where each one ends, so
    a separator would add a character carrying no information.
    ``split_strings`` recovers the strings.

    >>> corpus(2, seed=0)
    ('BPTTTVVEBPVVE', 'BEPSTVX')
    """
    return "".join(generate(n, seed, embedded)), grammar(embedded).alphabet


# -- reading texts -------------------------------------------------------------

def _path(automaton: Automaton, text: str, stream: bool) -> list[Arc] | None:
    """The arcs that ``text`` follows from the start state, or None where it
    leaves the grammar. In a stream the final state restarts at the start."""
    path, state = [], automaton.start
    for symbol in text:
        if stream and state == automaton.final:
            state = automaton.start
        arc = automaton.step(state, symbol)
        if arc is None:
            return None
        path.append(arc)
        state = arc.target
    return path


def is_grammatical(s: str, embedded: bool = False) -> bool:
    """Whether ``s`` is exactly one string of the grammar.

    >>> is_grammatical("BPVVE"), is_grammatical("BPVVEBPVVE"), is_grammatical("BPVV")
    (True, False, False)
    >>> is_grammatical("BTBPVVETE", embedded=True), is_grammatical("BTBPVVEPE", embedded=True)
    (True, False)
    """
    automaton = grammar(embedded)
    path = _path(automaton, s, stream=False)
    return bool(path) and path[-1].target == automaton.final


def string_probability(s: str, embedded: bool = False) -> float:
    """The probability that the grammar generates ``s``; 0.0 if ``s`` is not
    grammatical.

    >>> string_probability("BTXSE")       # T, X, S: three fair choices
    0.125
    """
    if not is_grammatical(s, embedded):
        return 0.0
    return math.prod(arc.probability for arc in _path(grammar(embedded), s, stream=False))


def split_strings(text: str, embedded: bool = False) -> list[str]:
    """The strings a stream is made of; ValueError unless ``text`` is a
    concatenation of whole grammatical strings.

    >>> split_strings("BTXSEBPVVE")
    ['BTXSE', 'BPVVE']
    """
    automaton = grammar(embedded)
    path = _path(automaton, text, stream=True)
    if path is None or (path and path[-1].target != automaton.final):
        raise ValueError(f"text is not a concatenation of whole strings of the "
                         f"{'embedded ' if embedded else ''}Reber grammar")
    ends = [i + 1 for i, arc in enumerate(path) if arc.target == automaton.final]
    return [text[begin:end] for begin, end in zip([0] + ends[:-1], ends)]


def next_symbols(prefix: str, embedded: bool = False) -> dict[str, float]:
    """The legal next characters after ``prefix`` in a stream, with their
    probabilities. After a whole string the next string's ``B`` is forced.
    An empty dict means ``prefix`` has already left the grammar.

    >>> next_symbols("BT")
    {'S': 0.5, 'X': 0.5}
    >>> next_symbols("BTXSE"), next_symbols("BTT")
    ({'B': 1.0}, {})
    >>> next_symbols("BPBTXSE", embedded=True)
    {'P': 1.0}
    """
    automaton = grammar(embedded)
    path = _path(automaton, prefix, stream=True)
    if path is None:
        return {}
    state = path[-1].target if path else automaton.start
    if state == automaton.final:
        state = automaton.start
    return {arc.symbol: arc.probability for arc in automaton.arcs[state]}


def ideal_losses(text: str, embedded: bool = False) -> np.ndarray:
    """The ideal predictor's loss ``-ln P(text[i] | text[:i])`` in nats for
    every character but the first (i = 1 .. len-1), reading ``text`` as a
    stream. Their mean is the best cross-entropy any model can reach on
    ``text``. ValueError if ``text`` leaves the grammar.

    >>> ideal_losses("BTXSEB").round(3).tolist()
    [0.693, 0.693, 0.693, 0.0, 0.0]
    """
    path = _path(grammar(embedded), text, stream=True)
    if path is None:
        raise ValueError("text leaves the grammar; its ideal loss is infinite")
    return np.log(1.0 / np.array([arc.probability for arc in path[1:]]))


class ClosingLetters(NamedTuple):
    """Where each embedded string's long-range dependency sits in a text.

    ``positions[k]`` indexes the closing ``T``/``P`` of string k (its
    second-to-last character), ``opening_positions[k]`` the opening one (its
    second character), and ``letters[k]`` is the letter both must be. A
    next-character model predicts ``text[positions[k]]`` from
    ``text[:positions[k]]``; the ideal predictor is certain of it.
    """

    positions: np.ndarray
    opening_positions: np.ndarray
    letters: str


def closing_letters(text: str) -> ClosingLetters:
    """The closing letters of an embedded-Reber stream (see ``ClosingLetters``).

    >>> found = closing_letters("BTBTXSETEBPBPVVEPE")
    >>> found.positions.tolist(), found.opening_positions.tolist(), found.letters
    ([7, 16], [1, 10], 'TP')
    """
    strings = split_strings(text, embedded=True)
    lengths = np.array([len(s) for s in strings], dtype=int)
    ends = np.cumsum(lengths)
    return ClosingLetters(positions=ends - 2, opening_positions=ends - lengths + 1,
                          letters="".join(s[1] for s in strings))


# -- exact statistics from the automaton ---------------------------------------

def expected_visits(embedded: bool = False) -> dict[str, float]:
    """Expected visits to each non-final state while generating one string.

    With Q the transition matrix among non-final states, the visit counts
    from the start state are the start row of the fundamental matrix
    (I - Q)^-1. Each visit emits one symbol. Normalized, they are the
    stationary distribution of the stream's chain (final state merged into
    the start state). Values are rounded to 12 decimals, so exact counts
    print exactly.

    >>> expected_visits()
    {'start': 1.0, '0': 1.0, '1': 1.0, '2': 2.0, '3': 1.0, '4': 1.0, '5': 1.0}
    """
    automaton = grammar(embedded)
    states = [state for state in automaton.arcs if state != automaton.final]
    index = {state: i for i, state in enumerate(states)}
    Q = np.zeros((len(states), len(states)))
    for state in states:
        for arc in automaton.arcs[state]:
            if arc.target != automaton.final:
                Q[index[state], index[arc.target]] += arc.probability
    start_row = np.eye(len(states))[index[automaton.start]]
    visits = np.linalg.solve((np.eye(len(states)) - Q).T, start_row)
    return {state: float(v) for state, v in zip(states, visits.round(12))}


def expected_length(embedded: bool = False) -> float:
    """Expected number of characters in one string, B and E included.

    >>> expected_length(), expected_length(embedded=True)
    (8.0, 12.0)
    """
    return sum(expected_visits(embedded).values())


def entropy_rate(embedded: bool = False, bits: bool = False) -> float:
    """The best achievable per-character cross-entropy on a stream of strings,
    in nats per character (bits per character with ``bits=True``).

    What is counted: the text is an endless concatenation of independent
    strings; a predictor sees every earlier character and is scored on each
    character but the very first with ``-ln P(char | all earlier chars)``;
    the rate is the long-run mean of that score. The automaton is
    deterministic, so the earlier characters fix the state and the ideal
    predictor's P is the arc probability. Forced characters cost 0 and still
    count as characters: every ``B`` (after an ``E`` the next string's ``B``
    is certain), every ``E``, and in the embedded grammar the inner ``B``
    and the closing ``T``/``P``, which the state remembers from the opening
    one. So the rate is Σ_q π(q) H(q), with π the stationary distribution
    over states and H(q) the entropy of the arcs out of q; equivalently, the
    expected entropy of one string over its expected length.

    >>> round(entropy_rate(), 6), round(entropy_rate(embedded=True, bits=True), 6)
    (0.51986, 0.583333)
    """
    automaton = grammar(embedded)
    visits = expected_visits(embedded)
    entropy_per_string = sum(
        -count * sum(arc.probability * math.log(arc.probability) for arc in automaton.arcs[state])
        for state, count in visits.items())
    rate = entropy_per_string / sum(visits.values())
    return rate / math.log(2) if bits else rate
