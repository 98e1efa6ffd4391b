"""Accepted values of the numeric settings, stated once for the library and the CLI.

A :class:`Range` checks a value (``TrainConfig`` and the render options) and
parses a command-line string (``type=`` of an argparse option); both refuse
with the same sentence, which names the accepted range.

>>> Range(int, 1).check(3), str(Range(float, 0, 1, low_open=True))
(3, 'a finite number in (0, 1]')
>>> Range(float, 0, note="0 turns it off").parse("nan")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: expected a finite number ≥ 0 (0 turns it off), got 'nan'
"""
from __future__ import annotations

import argparse
import math
import numbers
from dataclasses import dataclass

__all__ = ["Range", "text"]


@dataclass(frozen=True)
class Range:
    """Numbers of ``kind`` (int or float; floats must be finite) between ``low``
    and ``high`` (None: unbounded), ends included unless ``low_open`` /
    ``high_open``; ``note`` says what special values mean."""

    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    note: str = ""

    def __str__(self) -> str:
        what = "an integer" if self.kind is int else "a finite number"
        if self.low is not None and self.high is not None:
            return (f"{what} in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}"
                    f"{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{what} {'>' if self.low_open else '≥'} {self.low:g}"
        if self.high is not None:
            return f"{what} {'<' if self.high_open else '≤'} {self.high:g}"
        return what

    def _message(self, value) -> str:
        note = f" ({self.note})" if self.note else ""
        return f"expected {self}{note}, got {value!r}"

    def accepts(self, value) -> bool:
        """Whether ``value`` (already a number) lies in the range."""
        if isinstance(value, bool) or not isinstance(
                value, numbers.Integral if self.kind is int else numbers.Real):
            return False
        if not math.isfinite(value):
            return False
        low_ok = (self.low is None or value > self.low or (value == self.low and not self.low_open))
        high_ok = (self.high is None or value < self.high
                   or (value == self.high and not self.high_open))
        return low_ok and high_ok

    def check(self, value, name: str = "value"):
        """``value`` as ``kind``; ValueError naming ``name`` and the range otherwise."""
        if not self.accepts(value):
            raise ValueError(f"{name}: {self._message(value)}")
        return self.kind(value)

    def parse(self, string: str):
        """An argparse ``type``: the string as ``kind`` if it lies in the range."""
        try:
            value = self.kind(string)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(self._message(string)) from None
        if not self.accepts(value):
            raise argparse.ArgumentTypeError(self._message(string))
        return value


def text(string: str) -> str:
    """An argparse ``type`` for a string that must not be empty."""
    if not string:
        raise argparse.ArgumentTypeError("expected at least one character, got ''")
    return string
