"""The settings of a run, each stated once for the library and the command line.

A :class:`Setting` says what a value means (its help), what it accepts (a
:class:`~rnn.ranges.Range`, a tuple of choices, or any non-empty string) and how the
command line writes it. Dataclass fields made with :meth:`Setting.field` carry their
setting: :func:`check` validates an instance field by field (``TrainConfig``, the drawing
:class:`rnn.cli.Problem`, the encoder–decoder run :class:`Seq2SeqConfig`), and
:mod:`rnn.cli` makes one option per field, named after it (``hidden_size`` →
``--hidden-size``), with the same range, default and help. The settings that training,
drawing and exploring share (the cell, its size, layers and options, τ, the random seed)
are the module constants below, so each is written once. A task's options (the group
``TASK_OPTIONS``) are refused for a task that does not take them, as a cell's options are.

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
from rnn.tasks import TASKS

__all__ = ["Setting", "settings", "check", "cell_options", "task_options", "COUNT", "CELL",
           "HIDDEN_SIZE", "LAYERS", "BIDIRECTIONAL", "TAU", "RANDOM_SEED", "FORGET_BIAS",
           "TEMPERATURE", "CHECKPOINT_SEGMENTS", "CELL_OPTIONS", "TASK_OPTIONS", "Seq2SeqConfig"]

CELL_OPTIONS = "cell options"   # the group of the settings that are passed to the cell
TASK_OPTIONS = "task options"   # the group of the settings that are passed to the task


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
    return _chosen(instance, CELL_OPTIONS, CELLS, instance.cell, "cell")


def task_options(instance) -> dict:
    """The task options of ``instance`` that are set (not None), for its ``task``;
    ValueError if one is set that this task does not take.

    >>> task_options(Seq2SeqConfig(task="copy", delay=3))
    {'delay': 3}
    >>> Seq2SeqConfig(task="add", delay=3)
    Traceback (most recent call last):
    ...
    ValueError: delay is an option of the copy task; the add task takes digits
    """
    return _chosen(instance, TASK_OPTIONS, TASKS, instance.task, "task")


def _chosen(instance, group: str, registry: dict, kind: str, what: str) -> dict:
    """The settings of ``group`` set in ``instance`` (not None), each one that the class
    ``registry[kind]`` takes; ValueError naming which ``what`` takes it otherwise."""
    names = [name for name, (_, s) in settings(instance).items() if s.group == group]
    chosen = {name: getattr(instance, name) for name in names
              if getattr(instance, name) is not None}
    for name in chosen:
        if name not in _options_of(registry[kind]):
            takers = [k for k in registry if name in _options_of(registry[k])]
            taken = [n for n in names if n in _options_of(registry[kind])]
            whose = (f"an option of the {' and '.join(takers)} {what}" if takers
                     else f"an option of no {what} here")
            raise ValueError(f"{name} is {whose}; the {kind} {what} takes "
                             f"{', '.join(taken) or 'no options'}")
    return chosen


def _options_of(kind) -> tuple[str, ...]:
    """The options of a class (a cell's kind, or the class): what its ``__init__`` takes
    besides the sizes."""
    import inspect
    cls = CELLS[kind] if isinstance(kind, str) else kind
    parameters = inspect.signature(cls.__init__).parameters.values()
    return tuple(p.name for p in parameters if p.name not in ("self", "input_size", "hidden_size")
                 and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))


COUNT = Range(int, 1)
CELL = Setting("the recurrent cell: rnn (the seed's tanh cell), lstm or gru",
               tuple(CELLS), group="model")
HIDDEN_SIZE = Setting("hidden units H", COUNT, "H", "model")
LAYERS = Setting("recurrent layers L, each reading the h(t) of the one below (PyTorch's "
                 "num_layers)", COUNT, "L", "model")
BIDIRECTIONAL = Setting("every layer also reads the sequence backwards, its h(t) the "
                        "concatenation of both directions' (2H)", bool, group="model")
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


@dataclass
class Seq2SeqConfig:
    """Everything that defines an encoder–decoder run on a task of :mod:`rnn.tasks`
    (``python -m rnn seq2seq``; stored in its checkpoint): the ``task`` and its options
    (None: the task's default), the model (:class:`rnn.seq2seq.Seq2Seq`), Adam's ``steps`` on
    fresh batches with teacher forcing, and the held-out set of ``test_examples`` on which
    greedy decoding is scored. ``out``: the checkpoint (.npz); the report is written next
    to it (.json). Every field is checked on construction; ValueError names the first bad one.

    >>> Seq2SeqConfig(task="reverse", max_length=3).build_task().answer("abc")
    'cba'
    """

    task: str = Setting("the task: reverse a string, copy it after a delay, or add two "
                        "numbers written in digits", tuple(TASKS), group="task").field("reverse")
    min_length: int | None = Setting("reverse, copy: the shortest source (default: 1)", COUNT,
                                     "N", TASK_OPTIONS, optional=True).field(None)
    max_length: int | None = Setting("reverse, copy: the longest source (default: 8)", COUNT,
                                     "N", TASK_OPTIONS, optional=True).field(None)
    delay: int | None = Setting("copy: filler symbols after the source (default: 5)",
                                Range(int, 0), "N", TASK_OPTIONS, optional=True).field(None)
    digits: int | None = Setting("add: the most digits of each number (default: 3)", COUNT,
                                 "N", TASK_OPTIONS, optional=True).field(None)
    cell: str = CELL.field("gru")
    hidden_size: int = HIDDEN_SIZE.field(32)
    layers: int = LAYERS.field(1)
    bidirectional: bool = Setting(
        "the encoder reads the source both ways; the decoder then has 2H units per layer, "
        "started from both directions' final states side by side", bool, group="model"
    ).field(False)
    forget_bias: float | None = FORGET_BIAS.field(None)
    steps: int = Setting("training steps (Adam updates, one batch each)", COUNT, "N",
                         "optimisation").field(1000)
    batch: int = Setting("examples per batch B", COUNT, "B", "optimisation").field(32)
    lr: float = Setting("Adam's learning rate, > 0", Range(float, 0, low_open=True), "LR",
                        "optimisation").field(0.01)
    clip_norm: float = Setting("rescale gradients whose global norm exceeds this, > 0",
                               Range(float, 0, low_open=True), "NORM", "optimisation"
                               ).field(1.0)
    random_seed: int = RANDOM_SEED.field(0)
    test_examples: int = Setting("held-out examples that greedy decoding is scored on (drawn "
                                 "with their own seed)", COUNT, "N", "output").field(500)
    out: str = Setting("the checkpoint to write (.npz); the report goes next to it (.json)",
                       metavar="FILE", group="output").field("out/seq2seq.npz")

    def __post_init__(self):
        check(self)
        task_options(self)

    def build_task(self):
        """The task with the options set here (the task's defaults for the others)."""
        return TASKS[self.task](**task_options(self))
