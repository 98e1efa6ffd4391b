"""Command line: ``python -m rnn demo|train|sample|render|explore|seq2seq|decode`` (also
``minigrad-rnn``).

Start with ``python -m rnn demo``: it trains the RNN on the embedded Reber grammar for
about a minute, then shows how close it came to the best possible loss and writes pictures
to ``out/``. ``python -m rnn COMMAND --help`` explains each command.

Every option that sets a field of :class:`rnn.train.TrainConfig` (train, demo), of
:class:`rnn.settings.Seq2SeqConfig` (seq2seq) or of :class:`Problem` (render, explore: the
random problem drawn) is made from that field's
:class:`rnn.settings.Setting` by :func:`add_settings`: named after the field
(``hidden_size`` → ``--hidden-size``), with its accepted values, default and help. Options
that were renamed (``--hidden``, ``--seed``, ``--lr-final``) are refused with their new name.

>>> args = build_parser().parse_args(["train", "--cell", "rnn", "--hidden-size", "8"])
>>> config_from(args, TrainConfig).hidden_size, args.random_seed
(8, 0)
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import minigrad as mg
import minigrad.draw as mgdraw
from rnn import checkpoint, grammar, seq2seq, settings
from rnn.data import DataError
from rnn.ranges import Range, text
from rnn.tasks import exact_match, symbol_accuracy
from rnn.settings import (CELL, CHECKPOINT_SEGMENTS, COUNT, FORGET_BIAS, HIDDEN_SIZE, LAYERS,
                          RANDOM_SEED, TAU, TEMPERATURE, Seq2SeqConfig, Setting)
from rnn.train import (LN2, ConfigError, TrainConfig, Trainer, TrainingDiverged, build_model,
                       default_prime, grammatical_fraction, model_from_checkpoint, oracle_of,
                       sample, sample_strings)

__all__ = ["main", "build_parser", "add_settings", "add_option", "config_from", "Problem",
           "explore_rnn", "explore_trained", "short_string", "trained_problem",
           "add_render_arguments", "render_path", "render_command", "flag_of",
           "seq2seq_command", "evaluate_command", "decode_command", "held_out_seed",
           "report_path_of"]

OPTIONAL = {"tqdm": "progress", "matplotlib": "plot", "graphviz": "draw"}  # package: extra
RENAMED = {"--hidden": "--hidden-size", "--seed": "--random-seed",
           "--lr-final": "--lr-final-fraction"}
NOT_BIDIRECTIONAL = (
    "a next-symbol language model cannot be bidirectional: at step t its backward direction "
    "has already read x(t+1), the very symbol it must predict, so its loss and samples would "
    "mean nothing; a bidirectional encoder, which reads a whole source before answering, is "
    "`python -m rnn seq2seq --bidirectional`")


# -- options from settings ------------------------------------------------------------------

class _Given(argparse.Action):
    """Stores the value and lists the flag in ``namespace.given`` (so ``render
    --checkpoint`` can refuse the options of a random problem, even at their defaults)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.given = [*getattr(namespace, "given", []), option_string]


class _GivenFlag(_Given):
    """A flag (no value) that stores ``const`` and is listed in ``namespace.given``."""

    def __init__(self, option_strings, dest, const, **kwargs):
        super().__init__(option_strings, dest, nargs=0, const=const, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        super().__call__(parser, namespace, self.const, option_string)


class _Refused(argparse.Action):
    """An option refused with ``why``: an old name (and its new one), or one that makes no
    sense for the command. ``shown``: listed in --help (with ``why`` as its help)."""

    def __init__(self, option_strings, dest, why: str, shown: bool = False, **kwargs):
        super().__init__(option_strings, argparse.SUPPRESS, nargs=0 if shown else "?",
                         help=f"refused: {why}" if shown else argparse.SUPPRESS, **kwargs)
        self.why = why

    def __call__(self, parser, namespace, values, option_string=None):
        raise argparse.ArgumentError(self, self.why)


def _parser_type(setting: Setting):
    """The argparse ``type`` of a setting: its Range's parse (``off`` accepted too), or a
    non-empty string."""
    accepted = setting.accepted
    if not isinstance(accepted, Range):
        return text
    if setting.off is None:
        return accepted.parse
    return dataclasses.replace(accepted, low=setting.off, low_open=False,
                               note=f"{setting.off:g} turns it off").parse


def add_option(group, name: str, setting: Setting, default, *, given: bool = False) -> None:
    """One option for the setting ``name`` with ``default``."""
    flag = flag_of(name, setting)
    if setting.accepted is bool:
        if given:
            group.add_argument(flag, dest=name, action=_GivenFlag, const=not default,
                               default=default, help=setting.help)
        else:
            group.add_argument(flag, dest=name, action="store_false" if default else
                               "store_true", help=setting.help)
        return
    kwargs = dict(dest=name, default=default, metavar=setting.metavar,
                  help=setting.help + ("" if "default" in setting.help else
                                       " (default: %(default)s)"))
    if isinstance(setting.accepted, tuple):
        kwargs.update(choices=setting.accepted, metavar=None)
    else:
        kwargs.update(type=_parser_type(setting))
    if given:
        kwargs.update(action=_Given)
    group.add_argument(flag, **kwargs)


def flag_of(name: str, setting: Setting) -> str:
    """The option of the setting ``name``: its own flag, else ``--name-with-dashes``."""
    return setting.flag or "--" + name.replace("_", "-")


def add_settings(parser: argparse.ArgumentParser, cls, *, defaults: dict | None = None,
                 given: bool = False) -> None:
    """One option per setting field of the dataclass ``cls``, in groups by the settings'
    ``group``, defaults from the fields unless ``defaults`` overrides them; with ``given``
    each option given is listed in ``args.given``. Renamed options are refused."""
    groups = {}
    if given:
        parser.set_defaults(given=[])
    for name, (f, setting) in settings.settings(cls).items():
        if setting.group not in groups:
            groups[setting.group] = parser.add_argument_group(setting.group)
        default = (defaults or {}).get(name, f.default)
        add_option(groups[setting.group], name, setting, default, given=given)
    _refuse_renamed(parser)


def _refuse_renamed(parser: argparse.ArgumentParser) -> None:
    flags = {s for action in parser._actions for s in action.option_strings}
    for old, new in RENAMED.items():
        if new in flags and old not in flags:
            parser.add_argument(old, action=_Refused, why=f"renamed: use {new}")


def config_from(args: argparse.Namespace, cls):
    """An instance of ``cls`` from the options :func:`add_settings` made (a setting's
    ``off`` value, e.g. ``--clip-norm 0``, becomes None)."""
    values = {}
    for name, (_, setting) in settings.settings(cls).items():
        value = getattr(args, name)
        values[name] = None if setting.off is not None and value == setting.off else value
    return cls(**values)


# -- train, demo, sample ----------------------------------------------------------------------

def train_command(args) -> None:
    if args.resume and args.overwrite:
        raise ConfigError("--resume continues the checkpoint in --out and --overwrite replaces "
                          "it: give one of them")
    config = config_from(args, TrainConfig)
    if args.resume:
        trainer = Trainer.resume(config.checkpoint_path, config)
        print(f"resuming {config.checkpoint_path} at step {trainer.step} of {config.steps}")
    else:
        trainer = Trainer(config)
    written = trainer.run()
    print(f"validation loss {trainer.evaluate().bits:.4f} bits/char; wrote "
          f"{', '.join(map(str, written))}")
    if args.explore:
        explore_trained(trainer, args.explore)


def sample_command(args) -> None:
    model, vocab, meta = model_from_checkpoint(args.checkpoint)
    rng = np.random.default_rng(args.random_seed)
    name = meta["config"].get("grammar")
    prime = default_prime(name, vocab) if args.prime is None else args.prime
    if args.strings:
        if name is None:
            raise ConfigError("--strings needs a checkpoint trained on a grammar")
        embedded = name == "embedded"
        for s in sample_strings(model, vocab, [prime] * args.strings,
                                temperature=args.temperature, rng=rng):
            print(f"{'ok' if grammar.is_grammatical(s, embedded) else 'BAD':<3} {s}")
        return
    print(prime + sample(model, vocab, prime, args.length, args.temperature, rng))


def _cell_name(kind: str) -> str:
    """The cell's name with its article: "a vanilla RNN", "an LSTM", "a GRU"."""
    return {"rnn": "a vanilla RNN", "lstm": "an LSTM"}.get(kind, f"a {kind.upper()}")


def demo_command(args) -> None:
    if args.text is not None:
        raise ConfigError("the demo trains on a grammar; use `train --text` for text files")
    config = config_from(args, TrainConfig)
    if config.layers > 1:
        raise ConfigError(f"the demo checks autodiff against the one-layer analytic BPTT and "
                          f"draws the one-layer graph; train {config.layers} layers with "
                          f"`python -m rnn train --layers {config.layers}`")
    out = Path(config.out)
    embedded = config.grammar == "embedded"
    print(f"Training {_cell_name(config.cell)} (H = {config.hidden_size}) on the "
          f"{'embedded ' if embedded else ''}Reber grammar: {config.steps} steps of truncated "
          f"BPTT, τ = {config.tau}, B = {config.batch}, {config.optimizer}, gradients by "
          f"{'minigrad autodiff' if config.gradients == 'autodiff' else 'analytic BPTT'}.")
    start = time.perf_counter()
    trainer = Trainer(config)
    written = trainer.run(log=print if args.progress else None)
    ev, bound = trainer.evaluate(), trainer.bound
    fraction, _ = grammatical_fraction(trainer.model, trainer.corpus, n=1000,
                                       seed=config.random_seed)
    pictures = draw_pictures(trainer, out)
    seconds = time.perf_counter() - start
    rows = [
        ("validation loss", f"{ev.bits:.4f} bits/char ({ev.loss:.4f} nats)"),
        ("entropy rate (the bound)", f"{bound / LN2:.4f} bits/char: loss is "
                                     f"{100 * (ev.loss / bound - 1):+.2f}% from it"),
        ("ideal loss, same text", f"{ev.ideal / LN2:.4f} bits/char: loss is "
                                  f"{100 * (ev.loss / ev.ideal - 1):+.2f}% from it"),
        ("grammatical samples", f"{fraction:.1%} of 1000 sampled strings"),
    ]
    targets = [("loss within 1% of the bound", ev.loss <= 1.01 * bound),
               ("at least 99.5% grammatical", fraction >= 0.995)]
    if embedded:
        rows.append(("closing letter predicted", f"{ev.closing_accuracy:.1%} of "
                                                 f"{config.validation_strings} validation strings"))
        targets.append(("closing letter at least 99%", ev.closing_accuracy >= 0.99))
    if oracle_of(config.cell) is not None:
        difference, largest = gradient_agreement(trainer)
        rows.append(("autodiff vs analytic BPTT", f"largest |difference| {difference:.1e} "
                                                  f"(largest gradient entry {largest:.2f})"))
    rows += [
        ("time", f"{seconds:.0f} s in all; training at "
                 f"{training_speed(trainer.history):.0f} steps/s"),
        ("targets", "; ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in targets)),
    ]
    print()
    for label, value in rows:
        print(f"  {label:<28}{value}")
    print(f"\nwrote {', '.join(str(p) for p in [*written, *pictures])}")
    if args.explore:
        explore_trained(trainer, args.explore)


def training_speed(history: list[dict]) -> float:
    """Steps per second while training (validation and sampling excluded)."""
    pairs = list(zip(history, history[1:]))
    seconds = sum((b["step"] - a["step"]) / b["steps_per_s"] for a, b in pairs)
    return sum(b["step"] - a["step"] for a, b in pairs) / seconds if seconds else float("nan")


def gradient_agreement(trainer: Trainer) -> tuple[float, float]:
    """Largest |autodiff − analytic| gradient entry on one batch, and the
    largest |gradient| entry for scale."""
    x, y, state0 = trainer.next_batch()
    config = trainer.config
    grads = {}
    for source in ("autodiff", "bptt"):
        trainer.config = dataclasses.replace(config, gradients=source)
        grads[source] = {k: np.array(g) for k, g in trainer.gradients(x, y, state0)[1].items()}
    trainer.config = config
    difference = max(float(np.abs(grads["autodiff"][k] - grads["bptt"][k]).max())
                     for k in grads["bptt"])
    largest = max(float(np.abs(g).max()) for g in grads["bptt"].values())
    return difference, largest


def _trained_string(trainer: Trainer) -> tuple[str, np.ndarray]:
    """A short piece of the trained model's data (see :func:`short_string`) and its ids."""
    corpus, config = trainer.corpus, trainer.config
    string = short_string(corpus.grammar, corpus.vocab, config.text)
    return string, corpus.vocab.encode(string)


def draw_pictures(trainer: Trainer, out: Path) -> list[Path]:
    """The trained model's graph on one short string of its grammar, unrolled
    (nodes coloured by log10 ‖∂L/∂node‖) and folded, as SVG files in ``out``."""
    from rnn import draw
    _, ids = _trained_string(trainer)
    graph = trainer.model.unroll(ids[:-1], ids[1:])
    graph.loss.backward()
    kind = trainer.model.kind
    pictures = [mgdraw.render(draw.draw_unrolled(graph, heat=True, cell=kind),
                              out / "rnn_unrolled.svg"),
                mgdraw.render(draw.draw_folded(graph, cell=kind), out / "rnn_folded.svg")]
    mg.zero_grad(trainer.parameters)
    return pictures


# -- render and explore: a random problem or a trained model ------------------------------------

@dataclass
class Problem:
    """A random token problem to draw or explore: a model of ``layers`` layers of ``cell``
    with D token types, H hidden units and K classes (default D), its recurrent weights (the
    cell's ``recurrent``, every layer's) scaled by ``w_scale``, and τ random tokens and
    targets, all from ``random_seed``.

    >>> model, x, y = Problem(tau=3, hidden_size=2).build()
    >>> x.shape, model.cell.hidden_size
    ((3,), 2)
    >>> Problem(cell="gru", layers=2).build()[0].recurrent()
    ('W_hh_l0', 'W_hh_l1')
    """

    cell: str = CELL.field("rnn")
    input_size: int = Setting("token types D", COUNT, "D", "model").field(4)
    hidden_size: int = HIDDEN_SIZE.field(3)
    layers: int = LAYERS.field(1)
    output_size: int | None = Setting("classes K, at least 1 (default: D)", COUNT, "K",
                                      "model", optional=True).field(None)
    forget_bias: float | None = FORGET_BIAS.field(None)
    tau: int = TAU.field(4)
    random_seed: int = RANDOM_SEED.field(0)
    w_scale: float = Setting("multiply the recurrent weights (the cell's W or W_hh, every "
                             "layer's) by this finite number; below ~0.5 gradients vanish "
                             "visibly",
                             Range(float), "S", "model").field(1.0)

    def __post_init__(self):
        try:
            settings.check(self)
        except ValueError as error:
            raise ConfigError(str(error)) from None

    def build(self):
        """The model, the token ids x [τ] and the targets y [τ]."""
        D, K = self.input_size, self.output_size or self.input_size
        model = build_model(self.cell, D, self.hidden_size, K, layers=self.layers,
                            random_seed=self.random_seed, options=settings.cell_options(self))
        if self.w_scale != 1.0:
            try:
                model.scale_recurrent(self.w_scale)
            except ValueError as error:
                raise ConfigError(f"--w-scale {self.w_scale}: {error}") from None
        rng = np.random.default_rng(self.random_seed)
        return model, rng.integers(0, D, self.tau), rng.integers(0, K, self.tau)


LOSS = Setting("backward from L = Σ L(t), or from L(τ) alone, which shows how the gradient "
               "fades going back in time", ("total", "last"))


def short_string(grammar_name: str | None, vocab, text: str | None, length: int = 12) -> str:
    """A short piece of a trained model's data to draw it on: the first string of
    its grammar with at most ``length`` characters, else the first ``length``
    characters of its text file (DataError if that file cannot be read now, or
    holds characters outside ``vocab``)."""
    if grammar_name is not None:
        strings = grammar.generate(100, seed=1, embedded=grammar_name == "embedded")
        return next(s for s in strings if len(s) <= length)
    try:
        with open(text, encoding="utf-8") as f:
            piece = f.read(length)
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"the checkpoint was trained on {text}, which cannot be read now "
                        f"({getattr(error, 'strerror', None) or error}); the drawing needs "
                        f"a short piece of it") from None
    vocab.encode(piece)
    if len(piece) < 2:
        raise DataError(f"{text} holds fewer than 2 characters now: nothing to draw")
    return piece


def trained_problem(path):
    """The model saved in the checkpoint ``path``, the ids x and targets y of a
    :func:`short_string` of its data: what ``render --checkpoint`` draws."""
    model, vocab, meta = model_from_checkpoint(path)
    config = meta["config"]
    ids = vocab.encode(short_string(config.get("grammar"), vocab, config.get("text")))
    return model, ids[:-1], ids[1:]


def _drawing_path(string: str) -> str:
    """An argparse ``type``: a file name whose suffix :func:`minigrad.draw.render` writes."""
    suffixes = [f".{f}" for f in (*mgdraw.FORMATS, "dot", "gv")]
    if Path(string).suffix.lower() not in suffixes:
        raise argparse.ArgumentTypeError(f"expected a file name ending in {', '.join(suffixes)}, "
                                         f"got {string!r}")
    return string


def _page_path(string: str) -> str:
    """An argparse ``type``: a file name ending in .html or .htm."""
    if Path(string).suffix.lower() not in (".html", ".htm"):
        raise argparse.ArgumentTypeError(f"expected a file name ending in .html, got {string!r}")
    return string


def add_render_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m rnn render``: which view, the random problem or a
    trained checkpoint, the optional backward pass for gradient heat, the file."""
    parser.add_argument("--view", choices=["unrolled", "folded"], default="unrolled",
                        help="unrolled in time, or folded into the recurrent loop "
                             "(default: %(default)s)")
    add_settings(parser, Problem, given=True)
    add_option(parser, "loss", LOSS, "total")
    add_option(parser, "checkpoint_segments", CHECKPOINT_SEGMENTS, None)
    parser.add_argument("--checkpoint", metavar="FILE", type=text,
                        help="draw this trained model on a short string of its grammar or text "
                             "instead of a random problem (then the options of a random "
                             "problem, --cell … --w-scale, are refused)")
    parser.add_argument("--heat", action="store_true",
                        help="run backward first and colour nodes by log10 ‖grad‖ (unrolled "
                             "view only: the folded view merges the steps)")
    parser.add_argument("--params", choices=["once", "per-step"], default="once",
                        help="shared parameters drawn once, or also inside every step "
                             "(default: %(default)s)")
    parser.add_argument("--collapse-cells", action="store_true",
                        help="draw each step's cell (an LSTM's or GRU's gates) as one box")
    parser.add_argument("--all-steps", action="store_true",
                        help="draw every step (default: collapse the middle above "
                             "--collapse-above)")
    parser.add_argument("--collapse-above", type=Range(int, 0).parse, metavar="N", default=12,
                        help="draw at most this many steps, ≥ 0; longer sequences show the first "
                             "and last three and one node for the middle (default: %(default)s)")
    parser.add_argument("--out", type=_drawing_path, metavar="FILE", default=None,
                        help="file to write; .svg, .png, .pdf, or .dot/.gv for the DOT text "
                             "(default: out/rnn_unrolled.svg or out/rnn_folded.svg, by --view)")


def render_path(args: argparse.Namespace) -> str:
    """The file ``render`` writes: --out, else out/rnn_unrolled.svg or out/rnn_folded.svg."""
    return args.out or f"out/rnn_{args.view}.svg"


def render_command(args: argparse.Namespace) -> Path:
    """Draw the random problem described by ``args`` (or the model of
    ``args.checkpoint``) and write ``args.out``; DrawingError for --heat with
    the folded view or --checkpoint with the options of a random problem."""
    from rnn import draw
    if args.heat and args.view == "folded":
        raise mgdraw.DrawingError("--heat colours each node of the unrolled graph by its "
                                  "gradient; the folded view merges the steps into one node per "
                                  "role, so it has no such colour: use --view unrolled with "
                                  "--heat")
    if args.checkpoint is not None:
        if args.given:
            raise mgdraw.DrawingError(f"--checkpoint draws the trained model, whose sizes are "
                                      f"its own; {', '.join(dict.fromkeys(args.given))} describe "
                                      f"a random problem: give one or the other")
        model, x, y = trained_problem(args.checkpoint)
    else:
        model, x, y = config_from(args, Problem).build()
    if getattr(model, "layers", 1) > 1:
        return _render_stack(args, model, x, y)
    graph = model.unroll(x, y, checkpoint=args.checkpoint_segments)   # drawn as it is kept
    if args.heat:
        (graph.loss if args.loss == "total" else graph.L[graph.tau]).backward()
    if args.view == "folded":
        dot = draw.draw_folded(graph, collapse_cells=args.collapse_cells, cell=model.kind)
    else:
        dot = draw.draw_unrolled(graph, heat=args.heat, params=args.params.replace("-", "_"),
                                 collapse_above=None if args.all_steps else args.collapse_above,
                                 collapse_cells=args.collapse_cells, cell=model.kind)
    path = mgdraw.render(dot, render_path(args))
    print(f"wrote {path}")
    return path


def _render_stack(args: argparse.Namespace, model, x, y) -> Path:
    """Draw a stack, trained or random (rnn.draw_stack: clusters per step and layer);
    DrawingError for the options of the one-layer drawing, which it does not have."""
    from rnn import draw_stack
    one_layer = [flag for flag, used in (("--heat", args.heat),
                                         ("--checkpoint-segments", args.checkpoint_segments),
                                         ("--params per-step", args.params != "once"))
                 if used]
    if one_layer:
        what = f"{args.checkpoint} holds" if args.checkpoint else f"--layers {model.layers} is"
        raise mgdraw.DrawingError(f"{what} a {model.layers}-layer stack, "
                                  f"drawn per step and layer without {', '.join(one_layer)} "
                                  f"(options of the one-layer drawing): leave them out")
    graph = model.unroll(x, y)
    dot = (draw_stack.draw_stack_folded(graph) if args.view == "folded" else
           draw_stack.draw_stack_unrolled(graph, cells=not args.collapse_cells))
    path = mgdraw.render(dot, render_path(args))
    print(f"wrote {path}")
    return path


def explore_rnn(model, x, y, path, *, loss: str = "total", title: str | None = None) -> Path:
    """Unroll ``model`` on tokens ``x`` with targets ``y``, run the backward pass from
    L = Σ L(t) (or L(τ) alone with ``loss="last"``) under the explorer, write ``path``.
    The model's parameter gradients are left as they were.

    >>> import numpy as np, tempfile, os
    >>> from rnn import RNN
    >>> path = explore_rnn(RNN(4, 3, 4), np.array([0, 2, 1]), np.array([2, 1, 3]),
    ...                    os.path.join(tempfile.mkdtemp(), "rnn.html"))
    >>> path.read_text(encoding="utf-8").count('type="application/json"')
    1
    """
    params = list(model.parameters().values())
    before = [p.grad for p in params]
    graph = model.unroll(x, y)
    out = graph.loss if loss == "total" else graph.L[graph.tau]
    try:
        page = mg.explore(out, title=title or f"unrolled {_model_name(model)}, τ = "
                          f"{graph.tau}, H = {model.hidden_size}, backward from {out.name}")
    finally:
        for p, g in zip(params, before):
            p.grad = g
    return page.save(path)


def _model_name(model) -> str:
    return model.kind.upper()


def explore_command(args: argparse.Namespace) -> Path:
    """A random token problem of the given sizes (as ``render``) in the explorer."""
    model, x, y = config_from(args, Problem).build()
    path = explore_rnn(model, x, y, args.out, loss=args.loss)
    print(f"wrote {path} (open it in a browser; it needs no server or network)")
    return path


def explore_trained(trainer: Trainer, path) -> Path:
    """The trained model on one short string of its grammar (as the demo's pictures), or
    on the first 12 characters of its validation text, in the explorer."""
    corpus = trainer.corpus
    if corpus.grammar is None:
        ids = np.asarray(corpus.validation[:13])
        string = corpus.vocab.decode(ids)
    else:
        string, ids = _trained_string(trainer)
    path = explore_rnn(trainer.model, ids[:-1], ids[1:], path,
                       title=f"trained {_model_name(trainer.model)} on {string!r}: "
                             f"backward from L")
    print(f"wrote {path}")
    return path


# -- seq2seq and decode: an encoder–decoder on a task with known answers ---------------------

def held_out_seed(config: Seq2SeqConfig) -> list[int]:
    """The seed of the held-out examples: not the training batches' (``random_seed``)."""
    return [config.random_seed, 1]


def seq2seq_command(args: argparse.Namespace) -> dict:
    """Train an encoder–decoder as the options say, score greedy decoding on held-out
    examples, write the checkpoint and the report next to it (or, with ``--evaluate``,
    score a saved one); returns the report."""
    if args.evaluate is not None:
        return evaluate_command(args)
    try:
        config = config_from(args, Seq2SeqConfig)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    out, report_path = Path(config.out), report_path_of(config.out)
    if not args.overwrite and (out.exists() or report_path.exists()):
        raise ConfigError(f"{out if out.exists() else report_path} already exists: replace it "
                          f"with --overwrite, or choose another --out")
    _check_writable(out.parent)
    model, task = seq2seq.from_config(config)
    print(f"Training {checkpoint.describe(seq2seq.record(model))} on the {config.task} task: "
          f"{config.steps} Adam steps of {config.batch} examples, teacher forcing.")
    start = time.perf_counter()
    losses = seq2seq.train(model, task, steps=config.steps, batch=config.batch, lr=config.lr,
                           seed=config.random_seed, clip=config.clip_norm,
                           log=lambda step, loss: print(f"step {step}: {loss:.4f} nats per "
                                                        f"target symbol"))
    seconds = time.perf_counter() - start
    report = _score(model, task, config)
    report.update(steps=config.steps, train_loss=float(np.mean(losses[-50:])),
                  train_seconds=round(seconds, 3), checkpoint=str(out))
    seq2seq.save(out, model, config, losses)
    checkpoint.write_text(report_path, json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {out}, {report_path}")
    return report


def report_path_of(out) -> Path:
    """Where the report of the checkpoint ``out`` goes: beside it, ending in .json."""
    return Path(out).with_suffix(".json")


def _check_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise ConfigError(f"cannot write to {directory}: {error.strerror or error}") from None


def _score(model: seq2seq.Seq2Seq, task, config: Seq2SeqConfig) -> dict:
    """The held-out scores of greedy decoding, printed, and the report's fields."""
    sources, answers = task.examples(config.test_examples, seed=held_out_seed(config))
    predicted = model.decode(sources)
    exact, symbols = exact_match(predicted, answers), symbol_accuracy(predicted, answers)
    print(f"greedy decoding on {len(sources)} held-out examples: exact match {exact:.4f}, "
          f"per-symbol accuracy {symbols:.4f}")
    return {"task": config.task,
            "task_options": {k: v for k, v in vars(task).items() if k != "vocabulary"},
            "model": checkpoint.describe(seq2seq.record(model)),
            "exact_match": exact, "symbol_accuracy": symbols,
            "test_examples": len(sources), "test_seed": held_out_seed(config),
            "examples": [{"source": s, "answer": a, "decoded": p}
                         for s, a, p in list(zip(sources, answers, predicted))[:5]]}


def evaluate_command(args: argparse.Namespace) -> dict:
    """``seq2seq --evaluate FILE``: the saved model scored on its own held-out set (the
    report's numbers again); an option given that is not the checkpoint's is refused,
    naming both."""
    model, config, _ = seq2seq.load(args.evaluate)
    given = {name: getattr(args, name)
             for name, (_, setting) in settings.settings(Seq2SeqConfig).items()
             if flag_of(name, setting) in args.given}
    differ = {k: v for k, v in given.items() if getattr(config, k) != v}
    if differ:
        try:
            asked = checkpoint.describe(seq2seq.record(seq2seq.from_config(
                dataclasses.replace(config, **differ))[0]))
        except ValueError as error:
            asked = f"settings that are refused ({error})"
        raise ConfigError(
            f"{args.evaluate} holds {checkpoint.describe(seq2seq.record(model))}, trained with "
            f"{', '.join(f'{k} = {getattr(config, k)!r}' for k in differ)}; the options given "
            f"ask for {asked} with {', '.join(f'{k} = {v!r}' for k, v in differ.items())}: "
            f"--evaluate scores the saved model as it was trained (leave those options out)")
    return _score(model, config.build_task(), config)


def decode_command(args: argparse.Namespace) -> list[str]:
    """The answers of a saved encoder–decoder to the sources given (or to each line of
    standard input), one line each."""
    model, config, _ = seq2seq.load(args.checkpoint)
    sources = args.sources or [line.rstrip("\n") for line in sys.stdin]
    if not sources or not all(sources):
        raise ConfigError("decode needs sources of at least one symbol each (as arguments, or "
                          "one per line on standard input)")
    try:
        answers = model.decode(sources)
    except ValueError as error:
        raise ConfigError(f"{error} (the {config.task} task's symbols)") from None
    for answer in answers:
        print(answer)
    return answers


# -- the parser and main ------------------------------------------------------------------------

def _prog() -> str:
    """``python -m rnn`` when run as a module, else the script's name (``minigrad-rnn``)."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return "python -m rnn" if name in ("", "__main__.py", "-c") else name


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, packages_distributions, version
    try:
        return getattr(mg, "__version__", None) or version(packages_distributions()["rnn"][0])
    except (KeyError, IndexError, PackageNotFoundError):
        return "unknown (not installed)"


def _add_explore_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--explore", metavar="FILE", default=None,
                        help="after training, write the explorer page of the trained model's "
                             "backward pass on one short string of its grammar")


def _command(commands, name: str, run, summary: str, description: str
             ) -> argparse.ArgumentParser:
    """A subcommand that runs ``run(args)``; its description keeps its line breaks."""
    p = commands.add_parser(name, help=summary, description=description,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(run=run)
    return p


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or _prog(),
        description="Recurrent networks on minigrad: the vanilla RNN of Deep Learning §10.2, "
                    "the LSTM and the GRU. New here? Run `python -m rnn demo` (about a "
                    "minute), then look at out/.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = _command(
        commands, "demo", demo_command,
        "train on the embedded Reber grammar, check it, draw pictures (~1 min)",
        "Train on the embedded Reber grammar, then print the final loss beside the entropy "
        "bound, the fraction of 1000 sampled strings that are grammatical, the closing-letter "
        "accuracy and how far autodiff gradients are from analytic BPTT; write the loss plot, "
        "graph pictures and a checkpoint to --out.")
    train = _command(
        commands, "train", train_command, "train on a grammar or a text file",
        "Train a recurrent network with truncated BPTT. Writes --out/checkpoint.npz every "
        "--checkpoint-every steps (and on Ctrl-C), --out/best.npz whenever the validation "
        "loss reaches a new low, --out/metrics.csv and --out/loss.png at the end. Examples:\n"
        "  python -m rnn train --grammar reber --steps 3000\n"
        "  python -m rnn train --cell lstm --forget-bias 1 --steps 3000\n"
        "  python -m rnn train --cell gru --layers 2 --steps 3000\n"
        "  python -m rnn train --text book.txt --hidden-size 100 --tau 25 --steps 20000\n"
        "  python -m rnn train --resume --steps 12000   # continue a run")
    for p in (demo, train):
        add_settings(p, TrainConfig)
        p.add_argument("--bidirectional", action=_Refused, why=NOT_BIDIRECTIONAL, shown=True)
        _add_explore_option(p)
    train.add_argument("--resume", action="store_true",
                       help="continue from --out/checkpoint.npz up to --steps (the data, model "
                            "and batch settings must be the checkpoint's)")

    smp = _command(commands, "sample", sample_command, "generate text from a checkpoint",
                   "Generate characters from a trained model.")
    smp.add_argument("--checkpoint", metavar="FILE", type=text, default="out/checkpoint.npz",
                     help="the checkpoint of a training run (default: %(default)s)")
    smp.add_argument("--prime", type=text,
                     help="text the model reads before it writes, at least one character of its "
                          "vocabulary (default: one string of the grammar, or a line break for "
                          "text)")
    smp.add_argument("--length", type=Range(int, 0).parse, metavar="N", default=200,
                     help="characters to write, ≥ 0 (default: %(default)s)")
    add_option(smp, "temperature", TEMPERATURE, 1.0)
    smp.add_argument("--strings", type=Range(int, 0).parse, metavar="N", default=0,
                     help="grammar checkpoints: write this many whole strings after the prime "
                          "and mark each ok or BAD, ≥ 0 (default: 0, write --length characters)")
    smp.add_argument("--random-seed", type=RANDOM_SEED.accepted.parse, metavar="N",
                     default=None, help="the random seed of the samples, ≥ 0 (default: fresh)")
    _refuse_renamed(smp)

    render = _command(
        commands, "render", render_command, "draw the unrolled or folded graph of a small model",
        "Draw a model's computation graph for a random token problem, or a trained model's on "
        "a short string of its data (needs Graphviz's `dot`). Examples:\n"
        "  python -m rnn render --view unrolled --tau 6 --heat --out out/unrolled.svg\n"
        "  python -m rnn render --cell lstm --collapse-cells --out out/lstm.svg\n"
        "  python -m rnn render --checkpoint out/checkpoint.npz --heat")
    add_render_arguments(render)

    explore = _command(
        commands, "explore", explore_command,
        "an interactive page that steps through the backward pass",
        "Write one self-contained HTML page that steps through the backward pass of a small "
        "model on random tokens, in the engine's order. Example:\n"
        "  python -m rnn explore --tau 12 --out out/explore.html")
    add_settings(explore, Problem, defaults={"tau": 8})
    add_option(explore, "loss", LOSS, "total")
    explore.add_argument("--out", type=_page_path, metavar="FILE", default="out/explore.html",
                         help="the page to write, ending in .html (default: %(default)s)")

    s2s = _command(
        commands, "seq2seq", seq2seq_command,
        "train an encoder–decoder on reverse, copy or add; report its held-out accuracy",
        "Train an encoder–decoder (rnn.seq2seq) with teacher forcing on a task with known "
        "answers, then print the exact-match and per-symbol accuracy of greedy decoding on "
        "held-out examples, and write the checkpoint --out and the report beside it (.json). "
        "Examples:\n"
        "  python -m rnn seq2seq --task reverse --max-length 5 --cell lstm --steps 1500\n"
        "  python -m rnn seq2seq --task copy --delay 3 --bidirectional --out out/copy.npz\n"
        "  python -m rnn seq2seq --task add --digits 2 --layers 2 --hidden-size 64\n"
        "  python -m rnn seq2seq --evaluate out/seq2seq.npz   # score the saved model again")
    add_settings(s2s, Seq2SeqConfig, given=True)
    s2s.add_argument("--overwrite", action="store_true",
                     help="replace --out and its report if they exist (without it, refused)")
    s2s.add_argument("--evaluate", metavar="FILE", type=text, default=None,
                     help="train nothing: score the encoder–decoder saved in FILE on its "
                          "held-out examples (the numbers of its report)")

    dec = _command(commands, "decode", decode_command,
                   "answer sources with a saved encoder–decoder (greedy decoding)",
                   "Print the answer of a saved encoder–decoder to each source, one per line. "
                   "Example:\n"
                   "  python -m rnn decode --checkpoint out/seq2seq.npz abc hgfe")
    dec.add_argument("--checkpoint", metavar="FILE", type=text, default="out/seq2seq.npz",
                     help="a checkpoint written by `seq2seq` (default: %(default)s)")
    dec.add_argument("sources", nargs="*", metavar="SOURCE",
                     help="the sources (default: each line of standard input)")
    return parser


def requirements(args) -> tuple[list[str], bool]:
    """The optional packages a command needs, and whether it needs Graphviz's ``dot``."""
    if args.command in ("sample", "explore", "seq2seq", "decode"):
        return [], False
    if args.command == "render":
        return ["graphviz"], not mgdraw.is_dot_text(render_path(args))
    packages = ["tqdm"] * args.progress + ["matplotlib"]
    return (packages + ["graphviz"], True) if args.command == "demo" else (packages, False)


def check_requirements(args) -> None:
    """Fail before any work if an optional package or ``dot`` is missing."""
    packages, dot = requirements(args)
    for name in packages:
        if importlib.util.find_spec(name) is None:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    if dot and shutil.which("dot") is None:
        raise mgdraw.GraphvizNotFound(mgdraw.INSTALL_HELP)


def _fail(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def main(argv=None) -> int:
    """Run one command; a problem is one ``error:`` line on stderr and exit
    code 2 (bad input: flags, files, checkpoints) or 1 (the run failed:
    divergence, a file system error), never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        check_requirements(args)
        args.run(args)
    except TrainingDiverged as error:
        return _fail(str(error), 1)
    except (checkpoint.CheckpointError, DataError, ConfigError, mgdraw.DrawingError) as error:
        return _fail(str(error), 2)
    except ModuleNotFoundError as error:
        if error.name not in OPTIONAL:
            raise
        return _fail(f"this command needs the {error.name} package: pip install "
                     f"'minigrad-rnn[{OPTIONAL[error.name]}]' (or 'minigrad-rnn[dev]' for all)", 2)
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        return _fail(f"{where}{error.strerror or error}", 1)
    except KeyboardInterrupt:
        return 130
    return 0
