"""Sequence-to-sequence tasks with known answers, for encoder-decoder models (numpy only).

Each task makes random source strings and knows the one right answer to each:

* :class:`Reverse`: the source read backwards ("abc" → "cba");
* :class:`DelayedCopy`: the source followed by ``delay`` filler symbols "_", answered by the
  source alone (the model must carry it across the delay: "ab__" → "ab");
* :class:`Addition`: two numbers written in decimal digits and their sum ("17+5" → "22").

Symbols become ids through a :class:`Vocabulary` that reserves 0, 1, 2 for the padding, start
and end symbols. :meth:`Task.batch` lays n examples out as the columns of id arrays (batch on
the trailing axis, as everywhere in rnn/) for an encoder and a teacher-forced decoder::

    source          a  b  c  ␣            the encoder reads source[:n_s, b]; ␣ is padding
    decoder_input   ⟨s⟩ c  b  a  ␣        the decoder reads ⟨s⟩ then the answer (teacher forcing)
    target          c  b  a  ⟨/s⟩ ␣      and predicts the answer, then the end symbol

:func:`exact_match` and :func:`symbol_accuracy` score predicted strings against the answers.

>>> task = Reverse(min_length=3, max_length=3)
>>> batch = task.batch(2, seed=0)
>>> batch.sources, batch.answers
(['gfe', 'cca'], ['efg', 'acc'])
>>> task.vocabulary.decode(batch.target[:, 0])
'efg'
>>> exact_match(["efg", "acx"], batch.answers), symbol_accuracy(["efg", "acx"], batch.answers)
(0.5, 0.875)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnn import inputs

__all__ = ["PAD", "START", "END", "Vocabulary", "Batch", "Task", "RandomStrings", "Reverse",
           "DelayedCopy", "Addition", "TASKS", "exact_match", "symbol_accuracy"]

PAD, START, END = 0, 1, 2          # the reserved ids; the task's symbols follow from 3 on
RESERVED = ("␣", "⟨s⟩", "⟨/s⟩")    # how decode-for-display writes them


@dataclass(frozen=True)
class Vocabulary:
    """The ids of a task's symbols: 0 padding, 1 start, 2 end, then ``symbols`` (distinct
    single characters) from 3 on.

    >>> v = Vocabulary("ab")
    >>> len(v), v.encode("ba").tolist(), v.decode([4, 3, END, 3]), v.show([START, 3, PAD])
    (5, [4, 3], 'ba', '⟨s⟩a␣')
    """

    symbols: str

    def __post_init__(self):
        if not self.symbols or len(set(self.symbols)) != len(self.symbols):
            raise ValueError(f"a vocabulary needs distinct symbols, got {self.symbols!r}")

    def __len__(self) -> int:
        return len(RESERVED) + len(self.symbols)

    def encode(self, text: str) -> np.ndarray:
        """The ids of ``text``'s symbols; ValueError names the first unknown one."""
        ids = [self.symbols.find(ch) for ch in text]
        if -1 in ids:
            raise ValueError(f"symbol {text[ids.index(-1)]!r} is not in the vocabulary "
                             f"{self.symbols!r}")
        return np.array(ids, dtype=np.int64) + len(RESERVED)

    def decode(self, ids) -> str:
        """The string that ``ids`` spell up to the first end symbol (padding and start
        symbols are dropped)."""
        out = []
        for i in np.asarray(ids).tolist():
            if i == END:
                break
            if not 0 <= i < len(self):
                raise ValueError(f"id {i} is not in [0, {len(self)}) (the vocabulary's size)")
            if i >= len(RESERVED):
                out.append(self.symbols[i - len(RESERVED)])
        return "".join(out)

    def show(self, ids) -> str:
        """Every id of ``ids`` as a symbol, the reserved ones written ␣, ⟨s⟩ and ⟨/s⟩."""
        names = RESERVED + tuple(self.symbols)
        return "".join(names[i] for i in np.asarray(ids).tolist())


@dataclass(frozen=True)
class Batch:
    """n examples as columns. ``source`` [S, n] holds each source's ids followed by padding
    (``source_lengths`` [n] real symbols each, S the longest); ``decoder_input`` [T+1, n] is
    the start symbol then the answer's ids, ``target`` [T+1, n] the answer's ids then the end
    symbol, both padded after that; ``target_mask`` [T+1, n] is True where ``target`` is not
    padding (T is the longest answer). ``sources`` and ``answers`` are the strings."""
    source: np.ndarray
    source_lengths: np.ndarray
    decoder_input: np.ndarray
    target: np.ndarray
    target_mask: np.ndarray
    sources: list[str]
    answers: list[str]


class Task:
    """A sequence-to-sequence task: random sources over ``vocabulary``'s symbols and the
    known answer to each. A task implements :meth:`source` and :meth:`answer`."""

    name: str
    vocabulary: Vocabulary

    def source(self, rng: np.random.Generator) -> str:
        """One random source string."""
        raise NotImplementedError

    def answer(self, source: str) -> str:
        """The right answer to ``source``."""
        raise NotImplementedError

    def examples(self, n: int, *, seed=None, rng: np.random.Generator | None = None
                 ) -> tuple[list[str], list[str]]:
        """``n`` random sources and their answers, drawn from ``rng`` or from a new generator
        seeded with ``seed`` (the same seed gives the same examples)."""
        n = inputs.size("n", n)
        rng = np.random.default_rng(seed) if rng is None else rng
        sources = [self.source(rng) for _ in range(n)]
        return sources, [self.answer(s) for s in sources]

    def batch(self, n: int, *, seed=None, rng: np.random.Generator | None = None) -> Batch:
        """``n`` random examples laid out as a :class:`Batch`."""
        return self.layout(*self.examples(n, seed=seed, rng=rng))

    def layout(self, sources: list[str], answers: list[str]) -> Batch:
        """Given sources and answers as a :class:`Batch` (padded columns)."""
        v = self.vocabulary
        src = [v.encode(s) for s in sources]
        ans = [v.encode(a) for a in answers]
        n, S, T = len(src), max(map(len, src)), max(map(len, ans))
        source = np.full((S, n), PAD, dtype=np.int64)
        decoder_input = np.full((T + 1, n), PAD, dtype=np.int64)
        target = np.full((T + 1, n), PAD, dtype=np.int64)
        for b, (s, a) in enumerate(zip(src, ans)):
            source[:len(s), b] = s
            decoder_input[:len(a) + 1, b] = [START, *a]
            target[:len(a) + 1, b] = [*a, END]
        return Batch(source, np.array([len(s) for s in src]), decoder_input, target,
                     target != PAD, list(sources), list(answers))


class RandomStrings(Task):
    """The base of the string tasks: random strings of ``min_length``..``max_length`` symbols
    from ``alphabet``, over a vocabulary of the alphabet and ``extra`` symbols.

    >>> RandomStrings("ab", 3, 3).string(np.random.default_rng(0))
    'bbb'
    """

    def __init__(self, alphabet: str, min_length: int, max_length: int, extra: str = ""):
        low, high = inputs.size("min_length", min_length), inputs.size("max_length", max_length)
        if low > high:
            raise ValueError(f"min_length {low} exceeds max_length {high}")
        self.vocabulary = Vocabulary(alphabet + extra)
        self.alphabet, self.min_length, self.max_length = alphabet, low, high

    def string(self, rng: np.random.Generator) -> str:
        """A random string of the alphabet's symbols."""
        n = rng.integers(self.min_length, self.max_length + 1)
        return "".join(rng.choice(list(self.alphabet), n))


class Reverse(RandomStrings):
    """Sources of ``min_length``..``max_length`` symbols from ``alphabet``; the answer is the
    source reversed.

    >>> Reverse().answer("abcd")
    'dcba'
    """
    name = "reverse"

    def __init__(self, alphabet: str = "abcdefgh", min_length: int = 1, max_length: int = 8):
        super().__init__(alphabet, min_length, max_length)

    def source(self, rng):
        return self.string(rng)

    def answer(self, source):
        return source[::-1]


class DelayedCopy(RandomStrings):
    """Sources of ``min_length``..``max_length`` symbols from ``alphabet`` followed by
    ``delay`` filler symbols "_"; the answer is the source without the filler, so the encoder
    must carry it over ``delay`` more steps.

    >>> task = DelayedCopy(delay=3, min_length=2, max_length=2)
    >>> source = task.source(np.random.default_rng(0))
    >>> source, task.answer(source)
    ('gf___', 'gf')
    """
    name = "copy"
    FILLER = "_"

    def __init__(self, alphabet: str = "abcdefgh", min_length: int = 1, max_length: int = 8,
                 delay: int = 5):
        if self.FILLER in alphabet:
            raise ValueError(f"the alphabet must not contain the filler {self.FILLER!r}")
        if isinstance(delay, bool) or not isinstance(delay, (int, np.integer)) or delay < 0:
            raise ValueError(f"delay must be an integer ≥ 0, got {delay!r}")
        super().__init__(alphabet, min_length, max_length, extra=self.FILLER)
        self.delay = int(delay)

    def source(self, rng):
        return self.string(rng) + self.FILLER * self.delay

    def answer(self, source):
        return source.rstrip(self.FILLER)


class Addition(Task):
    """Two numbers of 1..``digits`` decimal digits (uniform in [0, 10^digits)) written
    "a+b"; the answer is their sum in decimal.

    >>> Addition().answer("17+5"), Addition(digits=2).source(np.random.default_rng(1))
    ('22', '47+51')
    """
    name = "add"

    def __init__(self, digits: int = 3):
        self.vocabulary = Vocabulary("0123456789+")
        self.digits = inputs.size("digits", digits)

    def source(self, rng):
        a, b = rng.integers(0, 10 ** self.digits, 2)
        return f"{a}+{b}"

    def answer(self, source):
        a, b = source.split("+")
        return str(int(a) + int(b))


TASKS: dict[str, type[Task]] = {"reverse": Reverse, "copy": DelayedCopy, "add": Addition}


def _check_pairs(predicted, answers) -> None:
    if len(predicted) != len(answers) or not answers:
        raise ValueError(f"need as many predictions as answers (at least one), got "
                         f"{len(predicted)} and {len(answers)}")


def exact_match(predicted: list[str], answers: list[str]) -> float:
    """The fraction of predictions equal to their answer.

    >>> exact_match(["ab", "ba"], ["ab", "ab"])
    0.5
    """
    _check_pairs(predicted, answers)
    return sum(p == a for p, a in zip(predicted, answers)) / len(answers)


def symbol_accuracy(predicted: list[str], answers: list[str]) -> float:
    """The fraction of answer positions, each answer's end counted as one more position,
    that the prediction gets right: position i of answer a is right when the prediction's
    i-th symbol is a[i], its end is right when the prediction has exactly len(a) symbols.
    So a prediction too long, too short or wrong at one symbol loses one position each.

    >>> symbol_accuracy(["abc", "a", "abx"], ["ab", "ab", "ab"])   # 2/3, 1/3, 2/3 of 3 each
    0.5555555555555556
    """
    _check_pairs(predicted, answers)
    right = sum(sum(i < len(p) and p[i] == ch for i, ch in enumerate(a)) + (len(p) == len(a))
                for p, a in zip(predicted, answers))
    return right / sum(len(a) + 1 for a in answers)
