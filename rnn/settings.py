"""The settings of a run, each stated once for the library and the command line.

A :class:`Setting` says what a value means (its help), what it accepts (a
:class:`~rnn.ranges.Range`, a tuple of choices, or any non-empty string) and how the
command line writes it. Dataclass fields made with :meth:`Setting.field` carry their
setting: :func:`check` validates an instance field by field (``TrainConfig``, the drawing
:class:`rnn.cli.Problem`), and :mod:`rnn.cli` makes one option per field, named after it
(``hidden_size`` → ``--hidden-size``), with the same range, default and help. The settings
that training, drawing and exploring share (the cell, its size and options, τ, the random
seed) are the module constants below, so each is written once.

>>> from dataclasses import dataclass
>>> @dataclass
... class Run:
...     hidden_size: int = HIDDEN_SIZE.field(3)
>>> check(Run(hidden_size=0))
Traceback (most recent call last):
...
ValueError: hidden_size: expected an integer ≥ 1, got 0
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from rnn.cells import CELLS
from rnn.ranges import Range

__all__ = ["Setting", "settings", "check", "cell_options", "COUNT", "CELL", "HIDDEN_SIZE",
           "TAU", "RANDOM_SEED", "FORGET_BIAS", "TEMPERATURE", "CHECKPOINT_SEGMENTS",
           "CELL_OPTIONS"]

CELL_OPTIONS = "cell options"   # the group of the settings that are passed to the cell


@dataclass(frozen=True)
class Setting:
    """One setting. ``accepted``: a Range, a tuple of choices, ``bool``, or None for any
    non-empty string (a path); ``optional``: None is accepted too (it turns the setting off or
    leaves it to a default); ``off``: the command-line value that means None (e.g. 0 for
    a clipping norm on by default); ``flag``: the option's name when it is not the field's
    (a True default: ``--quiet`` sets ``progress`` to False)."""

    help: str
    accepted: Range | tuple | type | None = None
    metavar: str | None = None
    group: str = "options"
    optional: bool = False
    off: float | None = None
    flag: str | None = None

    def field(self, default):
        """A dataclass field with this setting and ``default``."""
        return dataclasses.field(default=default, metadata={"setting": self})

    def check(self, name: str, value):
        """``value`` as accepted (a Range converts it to its kind); ValueError naming
        ``name`` and what is accepted otherwise."""
        if value is None and self.optional:
            return None
        if isinstance(self.accepted, Range):
            return self.accepted.check(value, name)
        if isinstance(self.accepted, tuple):
            if value not in self.accepted:
                raise ValueError(f"{name}: expected one of {self.accepted}, got {value!r}")
            return value
        if isinstance(self.accepted, type):       # bool
            if not isinstance(value, self.accepted):
                raise ValueError(f"{name}: expected True or False, got {value!r}")
            return value
        if not (isinstance(value, str) and value):
            raise ValueError(f"{name}: expected a path (a non-empty string), got {value!r}")
        return value


def settings(cls_or_instance) -> dict[str, tuple[dataclasses.Field, Setting]]:
    """The fields of a dataclass that carry a setting, in order, by name."""
    return {f.name: (f, f.metadata["setting"]) for f in dataclasses.fields(cls_or_instance)
            if "setting" in f.metadata}


def check(instance) -> None:
    """Check (and convert, e.g. an integral float to int) every setting field of
    ``instance`` in order; ValueError naming the first bad one, and which cell takes a
    cell option set for a cell that does not (the instance needs a ``cell`` field)."""
    for name, (_, setting) in settings(instance).items():
        object.__setattr__(instance, name, setting.check(name, getattr(instance, name)))
    cell_options(instance)


def cell_options(instance) -> dict:
    """The cell options of ``instance`` that are set (not None), for its ``cell``;
    ValueError if one is set that this cell does not take."""
    names = [name for name, (_, s) in settings(instance).items() if s.group == CELL_OPTIONS]
    chosen = {name: getattr(instance, name) for name in names
              if getattr(instance, name) is not None}
    for name in chosen:
        if name not in _options_of(instance.cell):
            takers = [kind for kind in CELLS if name in _options_of(kind)]
            taken = [n for n in names if n in _options_of(instance.cell)]
            whose = (f"an option of the {' and '.join(takers)} cell" if takers
                     else "an option of no cell here")
            raise ValueError(f"{name} is {whose}; the {instance.cell} cell takes "
                             f"{', '.join(taken) or 'no options'}")
    return chosen


def _options_of(kind: str) -> tuple[str, ...]:
    """The options of a cell class: what its ``__init__`` takes besides the sizes."""
    import inspect
    parameters = inspect.signature(CELLS[kind].__init__).parameters.values()
    return tuple(p.name for p in parameters if p.name not in ("self", "input_size", "hidden_size")
                 and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))


COUNT = Range(int, 1)
CELL = Setting("the recurrent cell: rnn (the seed's tanh cell), lstm or gru",
               tuple(CELLS), group="model")
HIDDEN_SIZE = Setting("hidden units H", COUNT, "H", "model")
TAU = Setting("time steps τ (training: the steps of one chunk of truncated BPTT)",
              COUNT, "T", "model")
RANDOM_SEED = Setting("the random seed of the initial parameters and of the data: grammar "
                      "strings and batches, or a drawing's random tokens",
                      Range(int, 0), "N", "randomness")
FORGET_BIAS = Setting("lstm: the initial bias of the forget gate (b_ih + b_hh of its block; "
                      "1 or more keeps c(t) longer from the start) (default: PyTorch's "
                      "uniform initialisation, as every other parameter)",
                      Range(float), "B", CELL_OPTIONS, optional=True)
CHECKPOINT_SEGMENTS = Setting(
    "gradient checkpointing (not the saved checkpoints): cut the τ steps into N segments "
    "(rnn.schedule) whose steps but the last are recomputed in backward, so memory holds "
    "about N + τ/N steps' graphs instead of τ, for one more forward pass; the same "
    "gradients to round-off (default: off, every step kept)", COUNT, "N", "model",
    optional=True)
TEMPERATURE = Setting("the temperature of samples, ≥ 0; below 1: more conservative, above "
                      "1: more random, 0: always the most likely character",
                      Range(float, 0, note="0 samples the most likely character"), "T",
                      "output")
