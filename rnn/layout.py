"""Where each recurrent layer and direction of a stack sits, and what its parameters are
called: shared by the stacked models (rnn.stack) and their oracle (rnn.oracles.stack), so it
imports nothing.

A stack of L layers ℓ = 1..L runs each layer forward, or forward and backward when it is
bidirectional; each (layer, direction) is a :class:`Slot`. Slots are ordered as PyTorch orders
``h_n``: layer 1 forward, layer 1 reverse, layer 2 forward, …; a slot's parameters are the
cell's names with PyTorch's suffix ("_l0", "_l0_reverse", "_l1", …).

>>> [suffix(s) for s in slots(2, bidirectional=True)]
['_l0', '_l0_reverse', '_l1', '_l1_reverse']
"""
from __future__ import annotations

from typing import NamedTuple

__all__ = ["Slot", "slots", "suffix", "DIRECTIONS"]

DIRECTIONS = ("forward", "reverse")


class Slot(NamedTuple):
    """One recurrent layer ℓ (1..L) in one direction ("forward" or "reverse")."""
    layer: int
    direction: str


def slots(layers: int, bidirectional: bool) -> list[Slot]:
    """Every slot of a stack, in PyTorch's order."""
    directions = DIRECTIONS if bidirectional else DIRECTIONS[:1]
    return [Slot(layer, d) for layer in range(1, layers + 1) for d in directions]


def suffix(slot: Slot) -> str:
    """The parameter suffix of ``slot`` in PyTorch's layout.

    >>> suffix(Slot(2, "reverse"))
    '_l1_reverse'
    """
    return f"_l{slot.layer - 1}" + ("_reverse" if slot.direction == "reverse" else "")
