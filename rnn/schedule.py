"""Checkpoint schedules: which steps of a long unroll keep their state, which are recomputed.

A checkpointed unroll (``rnn.layers.unroll(..., checkpoint=...)``, ``model.unroll(...,
checkpoint=...)``) cuts the steps 1..τ into segments. In a segment ``start..stop`` the
steps start..stop−1 are one :func:`minigrad.checkpoint` node, which keeps only the state
it starts from and is recomputed when backward reaches it; its last step, ``stop``, is an
ordinary step of the graph, *stored*: its nodes are kept and get their gradients, as in
the plain graph. The memory held is then about (number of segments) stored steps + one
segment's graph, for one more forward pass of time. A segment's recomputed steps may be
cut into parts again (``Segment.parts``), checkpointed in their turn while the segment is
recomputed: each such level saves memory again and costs one more forward pass (Chen et
al. 2016, "Training deep nets with sublinear memory cost", §4).

``checkpoint=`` takes one of:

* ``None`` (the default, at any τ): no checkpointing, the inspection graph in which
  every node of every step is kept and keeps its gradient;
* an int k: k segments of equal length (lengths differ by at most one), one level;
* ``"sqrt"``: k = ⌈√τ⌉ segments, the k that minimises k + τ/k, the memory of one level;
* :class:`Budget` ``(steps=m)``: at most m steps' graphs held at once (stored or
  being recomputed): the fewest levels of recomputation that fit, each level cut into
  equal parts (:func:`for_budget`).

>>> plan(10, 3).segments
(Segment(start=1, stop=3), Segment(start=4, stop=6), Segment(start=7, stop=10))
>>> plan(10_000, "sqrt").stored()[:3], plan(10_000, "sqrt").peak()
((0, 100, 200), 199)
>>> s = plan(1_000_000, Budget(steps=300))
>>> s.levels, s.peak(), len(s.segments)
(2, 299, 100)
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

__all__ = ["Segment", "Schedule", "Budget", "plan", "split", "for_budget"]


@dataclass(frozen=True)
class Segment:
    """Steps ``start``..``stop`` (inclusive, 1-based): start..stop−1 recomputed together
    in backward (none when start = stop), ``stop`` stored. ``parts``: segments tiling
    start..stop−1, checkpointed again while this one is recomputed (none: those steps'
    graph is built whole).

    >>> s = Segment(4, 6)
    >>> s.name, len(s), s.peak()           # steps 4, 5 recomputed, 6 stored
    ('steps 4..5', 3, 2)
    """
    start: int
    stop: int
    parts: tuple[Segment, ...] = field(default=(), repr=False)

    @property
    def name(self) -> str:
        """"steps 1..99", the recomputed steps, as the checkpoint node is named."""
        return f"steps {self.start}..{self.stop - 1}"

    def __len__(self) -> int:
        return self.stop - self.start + 1

    def peak(self) -> int:
        """Steps' graphs held while this segment is recomputed: its parts' stored steps and
        the largest part's peak, or all its recomputed steps when it has no parts."""
        if not self.parts:
            return len(self) - 1
        return len(self.parts) + max(part.peak() for part in self.parts)


@dataclass(frozen=True)
class Budget:
    """A memory budget for :func:`plan`: at most ``steps`` steps' graphs held at once, the
    stored steps' and those of the steps being recomputed (:meth:`Schedule.peak`).

    >>> plan(100, Budget(steps=20)).peak() <= 20
    True
    """
    steps: int

    def __post_init__(self):
        if (isinstance(self.steps, bool) or not isinstance(self.steps, numbers.Integral)
                or self.steps < 1):
            raise ValueError(f"Budget(steps=...) must be a positive int, got {self.steps!r}")


@dataclass(frozen=True)
class Schedule:
    """The segments of steps 1..τ, in order, and what they store."""
    tau: int
    segments: tuple[Segment, ...]

    @property
    def levels(self) -> int:
        """How many times the deepest step is recomputed (1: segments without parts)."""
        def depth(s: Segment) -> int:
            return 1 + max((depth(p) for p in s.parts), default=0)
        return max(depth(s) for s in self.segments)

    def stored(self) -> tuple[int, ...]:
        """The steps the forward graph keeps whole: 0 (the initial state) and each
        segment's last step."""
        return (0, *(s.stop for s in self.segments))

    def segment_of(self, t: int) -> Segment:
        """The (top-level) segment holding step t ≥ 1."""
        for s in self.segments:
            if s.start <= t <= s.stop:
                return s
        raise IndexError(f"step {t} is not in 1..{self.tau}")

    def peak(self) -> int:
        """Steps' graphs held at once in backward: the stored steps and the largest
        segment's peak (:meth:`Segment.peak`); the memory model :class:`Budget` counts in."""
        return len(self.segments) + max(s.peak() for s in self.segments)


def split(start: int, stop: int, k: int) -> tuple[Segment, ...]:
    """Steps start..stop in min(k, their number) segments of equal length (± 1)."""
    n = stop - start + 1
    k = min(k, n)
    bounds = [start + (n * i) // k for i in range(k + 1)]
    return tuple(Segment(a, b - 1) for a, b in zip(bounds[:-1], bounds[1:]))


def _nested(start: int, stop: int, factors: tuple[int, ...]) -> tuple[Segment, ...]:
    """Segments split by ``factors[0]``, the recomputed steps of each cut again by the
    rest of the factors."""
    top = split(start, stop, factors[0])
    if len(factors) == 1:
        return top
    return tuple(Segment(s.start, s.stop, _nested(s.start, s.stop - 1, factors[1:]))
                 if len(s) > 2 else s for s in top)


def for_budget(tau: int, budget: Budget) -> Schedule | None:
    """The schedule with the fewest levels of recomputation whose :meth:`Schedule.peak`
    fits ``budget``, None when the plain graph fits (τ ≤ budget.steps).

    Every level costs one more forward pass whatever its cut, so fewer levels is faster;
    with d levels the peak is smallest when each level is cut into b ≈ τ^(1/(d+1)) equal
    parts (peak ≈ (d+1)·b; d = 1 is Chen et al.'s √τ). Gruslys et al. 2016 find the
    optimal unequal cuts by dynamic programming (O(τ²·m) to plan, fine at τ = 1,000,
    not at 10⁶); for a budget between 2√τ and τ it recomputes less than a whole forward
    pass, this policy a whole one.

    >>> for_budget(1000, Budget(steps=64)).levels, for_budget(1000, Budget(steps=40)).levels
    (1, 2)
    """
    if tau <= budget.steps:
        return None
    smallest = tau
    for levels in range(1, tau.bit_length() + 1):
        b = math.ceil(tau ** (1 / (levels + 1)))
        while (b - 1) ** (levels + 1) >= tau:  # the float root may be one too large
            b -= 1
        b += b ** (levels + 1) < tau
        schedule = Schedule(tau, _nested(1, tau, (b,) * levels))
        if schedule.peak() <= budget.steps:
            return schedule
        smallest = min(smallest, schedule.peak())
    raise ValueError(f"Budget(steps={budget.steps}) cannot hold τ = {tau} steps: the "
                     f"smallest schedule of this policy holds {smallest} steps' graphs")


def plan(tau: int, checkpoint) -> Schedule | None:
    """The schedule ``checkpoint`` asks for over τ steps (see the module), None for none.

    >>> plan(5, 0)
    Traceback (most recent call last):
    ValueError: checkpoint= must be None, a number of segments ≥ 1, "sqrt" or a Budget, got 0
    """
    if checkpoint is None:
        return None
    if isinstance(checkpoint, Budget):
        return for_budget(tau, checkpoint)
    if checkpoint == "sqrt":
        checkpoint = math.isqrt(tau - 1) + 1 if tau > 1 else 1   # ⌈√τ⌉
    if (isinstance(checkpoint, bool) or not isinstance(checkpoint, numbers.Integral)
            or checkpoint < 1):
        raise ValueError("checkpoint= must be None, a number of segments ≥ 1, \"sqrt\" or a "
                         f"Budget, got {checkpoint!r}")
    return Schedule(tau, split(1, tau, int(checkpoint)))
