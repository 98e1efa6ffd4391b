"""Recording a backward pass for the explorer: each observed event becomes compact data.

A :class:`Recording` is a backward-pass observer (``mg.observe_backward(recording)``).
It copies what it needs at once, so nothing the engine or the user does later changes
the record: every gradient becomes an *entry* of one table (small arrays in full,
large ones as a summary), and every gradient sent to a node is added to that node's
running sum, whose entry after each contribution is kept too. Equal arrays share an
entry where that is known without searching: a first contribution is its own running
sum, and a visited gradient usually equals the last running sum.
"""
from __future__ import annotations

import math

import numpy as np

from minigrad.tensor import BackwardEvent, Tensor

__all__ = ["Recording", "FULL", "entry"]

FULL = 64  # arrays with at most this many elements are kept in full
KINDS = {"visit": 0, "send": 1, "hook": 2}


def _number(v: float):
    """A float for JSON: NaN and ±inf as the strings JavaScript's Number() reads."""
    return v if math.isfinite(v) else ("NaN" if v != v else "Infinity" if v > 0 else "-Infinity")


def entry(array) -> list:
    """``[‖a‖, [values…]]`` for a small array, ``[‖a‖, min, max, NaN count, inf count]``
    (over the finite entries for min and max) for a large one. Values are exact floats."""
    a = np.asarray(array)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"explore: cannot show a {a.dtype} array")
    if a.size <= FULL:
        values = a.astype(np.float64, copy=False).ravel().tolist()
        norm = math.hypot(*values) if values else 0.0
        if not math.isfinite(norm):
            values = [_number(v) for v in values]
        return [_number(norm), values]
    a = a.astype(np.float64, copy=False)
    finite = np.isfinite(a)
    norm = float(np.linalg.norm(a)) if finite.all() else (
        math.nan if np.isnan(a).any() else math.inf)
    ok = a[finite] if not finite.all() else a
    low, high = (float(ok.min()), float(ok.max())) if ok.size else (math.nan, math.nan)
    return [_number(norm), _number(low), _number(high), int(np.isnan(a).sum()),
            int(np.isinf(a).sum())]


class Recording:
    """A backward-pass observer that records every event for :func:`minigrad.explore`.

    ``events`` holds ``[kind, node, grad entry, input, operand index, partial-sum
    entry, contributions so far]`` for a send, ``[kind, node, grad entry]`` for a
    visit and ``[kind, node, grad entry, before entry]`` for a hook replacement
    (kind 0, 1, 2; nodes and entries by number). ``prior[node]`` is the ``.grad`` a
    node had when the pass reached it (entry, array); ``final[node]`` the gradient the engine
    stored from this pass (after hooks).

    >>> import minigrad as mg
    >>> from minigrad.explore import Recording
    >>> x = mg.tensor(3.0, requires_grad=True, name="x")
    >>> y = (x * x).named("y")
    >>> recording = Recording()
    >>> with mg.observe_backward(recording):
    ...     y.backward()
    >>> [recording.entries[e[2]][1] for e in recording.events]
    [[1.0], [3.0], [3.0], [6.0]]
    """

    def __init__(self):
        self.events: list[list] = []
        self.entries: list[list] = []
        self.nodes: list[Tensor] = []   # in order of first appearance
        self.number: dict[Tensor, int] = {}
        self.prior: dict[int, tuple[int, np.ndarray]] = {}
        self.final: dict[int, np.ndarray] = {}
        self._sums: dict[int, tuple[np.ndarray, int, int]] = {}  # node: running sum, count, entry

    def _id(self, t: Tensor) -> int:
        i = self.number.get(t)
        if i is None:
            i = self.number[t] = len(self.nodes)
            self.nodes.append(t)
        return i

    def _entry(self, array) -> int:
        self.entries.append(entry(array))
        return len(self.entries) - 1

    def __call__(self, event: BackwardEvent) -> None:
        node = self._id(event.node)
        g = np.array(event.grad)  # a copy: the engine may reuse or the user change the array
        if event.kind == "send":
            receiver = self._id(event.input)
            total, count, _ = self._sums.get(receiver, (None, 0, None))
            sent = self._entry(g)
            total, summed = (g, sent) if total is None else (total + g, None)
            summed = self._entry(total) if summed is None else summed
            self._sums[receiver] = (total, count + 1, summed)
            self.events.append([1, node, sent, receiver, event.index, summed, count + 1])
        elif event.kind == "visit":
            total, _, summed = self._sums.pop(node, (None, 0, None))
            prior = event.node.grad  # not yet stored: the .grad of earlier passes
            if prior is not None:
                prior = np.array(prior.data if isinstance(prior, Tensor) else prior)
                self.prior[node] = (self._entry(prior), prior)
            self.final[node] = g
            same = total is not None and total.shape == g.shape and np.array_equal(total, g)
            self.events.append([0, node, summed if same else self._entry(g)])
        elif event.kind == "hook":
            self.final[node] = g
            self.events.append([2, node, self._entry(g), self._entry(event.before)])
        else:
            raise ValueError(f"explore: unknown backward event kind {event.kind!r}")
