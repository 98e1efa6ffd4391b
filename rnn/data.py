"""Training data for the character RNN: a vocabulary, a train/validation split,
and the two ways of cutting a text into batches.

* :func:`stream_chunks` — truncated BPTT: the text is laid out as ``B``
  parallel streams (one per column) and read in consecutive chunks of τ
  characters, so the hidden state at the end of one chunk is the right
  initial state for the next.
* :func:`random_windows` — ``B`` windows of τ+1 characters at random
  positions, each read from a zero state.

>>> corpus = Corpus.from_text("hello world", validation_fraction=0.2)
>>> corpus.vocab.chars, corpus.vocab.decode(corpus.train[:5])
(' dehlorw', 'hello')
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from rnn import grammar

__all__ = ["Vocab", "Corpus", "DataError", "load_text", "stream_chunks", "random_windows"]


BYTE_ORDER_MARKS = [(b"\xff\xfe\x00\x00", "UTF-32LE"), (b"\x00\x00\xfe\xff", "UTF-32BE"),
                    (b"\xff\xfe", "UTF-16LE"), (b"\xfe\xff", "UTF-16BE")]  # longest first


class DataError(ValueError):
    """A text that cannot be trained on (missing, empty, not UTF-8, too short)."""


@dataclass(frozen=True)
class Vocab:
    """The characters of a text, sorted; a character's id is its position.

    >>> v = Vocab("abc")
    >>> v.encode("cab").tolist(), v.decode([0, 2])
    ([2, 0, 1], 'ac')
    """

    chars: str

    def __post_init__(self):
        if not self.chars or len(set(self.chars)) != len(self.chars):
            raise DataError(f"a vocabulary needs distinct characters, got {self.chars!r}")

    @classmethod
    def of(cls, text: str) -> "Vocab":
        """The vocabulary of every character that occurs in ``text``."""
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """Character ids of ``text``; DataError names the first unknown character."""
        index = {ch: i for i, ch in enumerate(self.chars)}
        try:
            return np.array([index[ch] for ch in text], dtype=np.int64)
        except KeyError as error:
            raise DataError(f"character {error.args[0]!r} is not in the vocabulary "
                            f"{self.chars!r}") from None

    def decode(self, ids) -> str:
        """The text of a sequence of ids."""
        return "".join(self.chars[i] for i in np.asarray(ids).ravel())


@dataclass(frozen=True)
class Corpus:
    """Encoded training and validation text with their shared vocabulary.
    ``grammar`` is ``"reber"`` or ``"embedded"`` for a grammar corpus, else None."""

    vocab: Vocab
    train: np.ndarray
    validation: np.ndarray
    grammar: str | None = None

    @classmethod
    def from_text(cls, text: str, validation_fraction: float = 0.1) -> "Corpus":
        """Split ``text`` into its first and last part (no shuffling: neighbouring
        characters belong together). The vocabulary comes from the whole text."""
        if not 0.0 < validation_fraction < 1.0:
            raise DataError(f"validation_fraction must lie in (0, 1), got {validation_fraction}")
        cut = len(text) - int(round(len(text) * validation_fraction))
        if cut < 2 or len(text) - cut < 2:
            raise DataError(f"the text has {len(text)} characters: too short to split into "
                            f"training and validation parts of at least 2 characters each")
        vocab = Vocab.of(text)
        return cls(vocab, vocab.encode(text[:cut]), vocab.encode(text[cut:]))

    @classmethod
    def from_grammar(cls, name: str = "embedded", train_strings: int = 4000,
                     validation_strings: int = 2000, seed: int = 0) -> "Corpus":
        """Independent training and validation streams of Reber strings
        (``name`` is ``"reber"`` or ``"embedded"``); seeds ``seed`` and ``seed + 1``.

        >>> Corpus.from_grammar("reber", 2, 1).vocab.chars
        'BEPSTVX'
        """
        if name not in ("reber", "embedded"):
            raise DataError(f"unknown grammar {name!r}; choose 'reber' or 'embedded'")
        embedded = name == "embedded"
        train, chars = grammar.corpus(train_strings, seed, embedded)
        validation, _ = grammar.corpus(validation_strings, seed + 1, embedded)
        vocab = Vocab(chars)
        return cls(vocab, vocab.encode(train), vocab.encode(validation), name)


def load_text(path, validation_fraction: float = 0.1) -> Corpus:
    """Read a UTF-8 text file and split it; DataError with the reason if it
    cannot be used."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        found = next((name for mark, name in BYTE_ORDER_MARKS if raw.startswith(mark)), None)
        if found is not None:
            raise DataError(f"{path} is not UTF-8 but {found} text (it starts with a {found} "
                            f"byte-order mark); convert it first: `iconv -f {found} -t UTF-8 "
                            f"{path} > converted.txt`") from None
        raise DataError(f"{path} is not UTF-8 text: byte {raw[error.start]:#04x} at offset "
                        f"{error.start} cannot be decoded; convert it from its encoding "
                        f"first, e.g. `iconv -f CP1252 -t UTF-8` (or ISO-8859-1, "
                        f"SHIFT_JIS, …)") from None
    if not text:
        raise DataError(f"{path} is empty: there is nothing to learn from")
    if "\x00" in text:
        raise DataError(f"{path} holds NUL characters (the first at offset {raw.index(0)}): it is "
                        f"binary, or UTF-16/UTF-32 text without a byte-order mark; convert it "
                        f"to UTF-8 first, e.g. `iconv -f UTF-16LE -t UTF-8`")
    return Corpus.from_text(text, validation_fraction)


def stream_chunks(ids: np.ndarray, tau: int, batch: int,
                  start: int = 0) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Endless ``(position, x, y)`` chunks for truncated BPTT.

    ``ids`` is cut into ``batch`` equal contiguous streams, one per column;
    chunk k holds characters ``k·τ .. k·τ+τ-1`` of every stream as ``x`` [τ, B]
    and the next character of each as ``y``. ``position`` is the chunk's
    index within the pass; it is 0 when a new pass over the text begins (the
    carried hidden state must then be reset). ``start`` resumes at a position.

    >>> chunks = stream_chunks(np.arange(10), tau=2, batch=2)
    >>> [(p, x.T.tolist()) for p, x, y in (next(chunks), next(chunks), next(chunks))]
    [(0, [[0, 1], [5, 6]]), (1, [[2, 3], [7, 8]]), (0, [[0, 1], [5, 6]])]
    """
    length = len(ids) // batch
    per_pass = (length - 1) // tau
    if per_pass < 1:
        raise DataError(f"{len(ids)} characters cannot fill {batch} streams with one chunk of "
                        f"τ = {tau} (+1 target) each; use a smaller batch or τ")
    streams = ids[:length * batch].reshape(batch, length).T         # [length, B]
    position = start % per_pass
    while True:
        s = position * tau
        yield position, streams[s:s + tau], streams[s + 1:s + tau + 1]
        position = (position + 1) % per_pass


def random_windows(ids: np.ndarray, tau: int, batch: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``batch`` windows at uniformly random offsets: inputs ``x`` [τ, B] and
    targets ``y`` [τ, B] (the inputs shifted by one).

    >>> x, y = random_windows(np.arange(100), 3, 2, np.random.default_rng(0))
    >>> bool((y == x + 1).all()), x.shape
    (True, (3, 2))
    """
    if len(ids) < tau + 1:
        raise DataError(f"{len(ids)} characters are fewer than one window of τ + 1 = {tau + 1}")
    offsets = rng.integers(0, len(ids) - tau, size=batch)
    rows = offsets[None, :] + np.arange(tau + 1)[:, None]
    window = ids[rows]
    return window[:-1], window[1:]
