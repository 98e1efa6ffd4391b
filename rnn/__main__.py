"""Command line: ``python -m rnn demo|train|sample|render|explore`` (also ``minigrad-rnn``).

Start with ``python -m rnn demo``: it trains the RNN on the embedded Reber
grammar for about a minute, then shows how close it came to the best possible
loss and writes pictures to ``out/``. ``python -m rnn COMMAND --help`` explains
each command.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import shutil
import sys
import time
from pathlib import Path

import numpy as np

import minigrad as mg
import minigrad.draw as mgdraw
from rnn import checkpoint, explore_cli, grammar
from rnn.data import DataError
from rnn.ranges import Range, text
from rnn.train import (LN2, RANGES, ConfigError, TrainConfig, Trainer, TrainingDiverged,
                       default_prime, grammatical_fraction, model_from_checkpoint, sample,
                       sample_strings)

DEFAULTS = TrainConfig()
OPTIONAL = {"tqdm": "progress", "matplotlib": "plot", "graphviz": "draw"}  # package: extra
CLIP_NORM = Range(float, 0, note="0 turns clipping off")


def _number(name: str):
    return RANGES[name].parse


def _count(group, flag: str, metavar: str, what: str) -> None:
    """An integer option of TrainConfig's field named like the flag, at least 1."""
    name = flag.lstrip("-").replace("-", "_")
    group.add_argument(flag, type=_number(name), metavar=metavar, default=getattr(DEFAULTS, name),
                       help=f"{what}, at least 1 (default: %(default)s)")


def _add_training_arguments(p: argparse.ArgumentParser) -> None:
    data = p.add_argument_group("data")
    data.add_argument("--grammar", choices=["reber", "embedded"], default=DEFAULTS.grammar,
                      help="train on strings of this grammar, generated on the fly (default: %(default)s)")
    data.add_argument("--text", metavar="FILE", type=text,
                      help="train on a UTF-8 text file instead (last 10%% held out for validation)")
    _count(data, "--train-strings", "N", "grammar strings to train on")
    _count(data, "--validation-strings", "N", "held-out grammar strings to validate on")
    model = p.add_argument_group("model and batches")
    _count(model, "--hidden", "H", "hidden units H")
    _count(model, "--tau", "T", "steps τ per chunk of truncated BPTT")
    _count(model, "--batch", "B", "sequences per batch B")
    model.add_argument("--batching", choices=["stream", "random"], default=DEFAULTS.batching,
                       help="stream: B parallel streams read chunk after chunk, hidden state "
                            "carried over (detached); random: windows at random places from a "
                            "zero state (default: %(default)s)")
    opt = p.add_argument_group("optimisation")
    _count(opt, "--steps", "N", "training steps in all (with --resume: the step to continue up to)")
    opt.add_argument("--optimizer", choices=["adam", "adagrad", "sgd"], default=DEFAULTS.optimizer,
                     help="the update rule (default: %(default)s)")
    opt.add_argument("--lr", type=_number("lr"), default=DEFAULTS.lr,
                     help="learning rate, > 0, decayed linearly to lr × --lr-final over the run "
                          "(default: %(default)s, for adam; min-char-rnn uses 0.1 with adagrad)")
    opt.add_argument("--lr-final", type=_number("lr_final"), metavar="FRACTION",
                     default=DEFAULTS.lr_final,
                     help="the last step's learning rate as a fraction of --lr, in (0, 1]; "
                          "1 keeps it constant (default: %(default)s)")
    opt.add_argument("--clip-norm", type=CLIP_NORM.parse, metavar="NORM",
                     default=DEFAULTS.clip_norm,
                     help="rescale gradients whose global norm exceeds this, ≥ 0; 0 turns it "
                          "off (default: %(default)s)")
    opt.add_argument("--clip-value", type=_number("clip_value"), metavar="V", default=None,
                     help="clip every gradient entry to [-v, v], v > 0 (min-char-rnn uses 5; "
                          "default: off)")
    opt.add_argument("--weight-decay", type=_number("weight_decay"), metavar="λ",
                     default=DEFAULTS.weight_decay,
                     help="add λ·θ to the gradient of the weight matrices U, W, V (L2 "
                          "regularisation against overfitting; biases are not decayed), ≥ 0; 0 "
                          "turns it off (default: %(default)s)")
    opt.add_argument("--gradients", choices=["autodiff", "bptt"], default=DEFAULTS.gradients,
                     help="autodiff: minigrad through the unrolled graph; bptt: the analytic "
                          "back-propagation through time of rnn/oracles/vanilla.py "
                          "(default: %(default)s)")
    opt.add_argument("--seed", type=_number("seed"), metavar="N", default=DEFAULTS.seed,
                     help="seed of the initial parameters, the data and the batches, ≥ 0 "
                          "(default: %(default)s)")
    opt.add_argument("--early-stopping", type=_number("early_stopping"), metavar="N",
                     default=None,
                     help="stop after N evaluations (one every --eval-every steps) without a new "
                          "best validation loss, at least 1 (default: off; --out/best.npz keeps "
                          "the best step either way)")
    out = p.add_argument_group("output")
    out.add_argument("--out", metavar="DIR", type=text, default=DEFAULTS.out,
                     help="directory for checkpoint.npz (the last step), best.npz (the lowest "
                          "validation loss), metrics.csv, loss.png (default: %(default)s)")
    out.add_argument("--overwrite", action="store_true",
                     help="start afresh even if --out holds a checkpoint, replacing it "
                          "(without it, a new run refuses to)")
    _count(out, "--eval-every", "N", "steps between validation losses")
    _count(out, "--sample-every", "N", "steps between printed samples")
    _count(out, "--checkpoint-every", "N", "steps between checkpoints")
    out.add_argument("--temperature", type=_number("temperature"), metavar="T",
                     default=DEFAULTS.temperature,
                     help="temperature of the printed samples, ≥ 0; 0 writes the most likely "
                          "character (default: %(default)s)")
    out.add_argument("--quiet", action="store_true", help="no progress bar")


def _config(args) -> TrainConfig:
    return TrainConfig(
        grammar=args.grammar, text=args.text, hidden=args.hidden, tau=args.tau, batch=args.batch,
        batching=args.batching, steps=args.steps, optimizer=args.optimizer, lr=args.lr,
        lr_final=args.lr_final, clip_norm=args.clip_norm or None, clip_value=args.clip_value,
        weight_decay=args.weight_decay,
        gradients=args.gradients, seed=args.seed, train_strings=args.train_strings,
        validation_strings=args.validation_strings,
        eval_every=args.eval_every, sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every, temperature=args.temperature,
        early_stopping=args.early_stopping, out=args.out,
        progress=not args.quiet, overwrite=args.overwrite)


def train_command(args) -> None:
    if args.resume and args.overwrite:
        raise ConfigError("--resume continues the checkpoint in --out and --overwrite replaces "
                          "it: give one of them")
    config = _config(args)
    if args.resume:
        trainer = Trainer.resume(config.checkpoint_path, config)
        print(f"resuming {config.checkpoint_path} at step {trainer.step} of {config.steps}")
    else:
        trainer = Trainer(config)
    written = trainer.run()
    print(f"validation loss {trainer.evaluate().bits:.4f} bits/char; wrote "
          f"{', '.join(map(str, written))}")
    if args.explore:  # the explorer of the trained model (rnn/explore_cli.py)
        explore_cli.explore_trained(trainer, args.explore)


def sample_command(args) -> None:
    params, vocab, meta = model_from_checkpoint(args.checkpoint)
    rng = np.random.default_rng(args.seed)
    name = meta["config"].get("grammar")
    prime = default_prime(name, vocab) if args.prime is None else args.prime
    if args.strings:
        if name is None:
            raise ConfigError("--strings needs a checkpoint trained on a grammar")
        embedded = name == "embedded"
        for s in sample_strings(params, vocab, [prime] * args.strings,
                                temperature=args.temperature, rng=rng):
            print(f"{'ok' if grammar.is_grammatical(s, embedded) else 'BAD':<3} {s}")
        return
    print(prime + sample(params, vocab, prime, args.length, args.temperature, rng))


def demo_command(args) -> None:
    if args.text is not None:
        raise ConfigError("the demo trains on a grammar; use `train --text` for text files")
    config = _config(args)
    out = Path(config.out)
    embedded = config.grammar == "embedded"
    print(f"Training a vanilla RNN (H = {config.hidden}) on the {'embedded ' if embedded else ''}"
          f"Reber grammar: {config.steps} steps of truncated BPTT, τ = {config.tau}, "
          f"B = {config.batch}, {config.optimizer}, gradients by "
          f"{'minigrad autodiff' if config.gradients == 'autodiff' else 'analytic BPTT'}.")
    start = time.perf_counter()
    trainer = Trainer(config)
    written = trainer.run(log=None if args.quiet else print)
    ev, bound = trainer.evaluate(), trainer.bound
    fraction, _ = grammatical_fraction(trainer.arrays(), trainer.corpus, n=1000, seed=config.seed)
    difference, largest = gradient_agreement(trainer)
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
    rows += [
        ("autodiff vs analytic BPTT", f"largest |difference| {difference:.1e} "
                                      f"(largest gradient entry {largest:.2f})"),
        ("time", f"{seconds:.0f} s in all; training at "
                 f"{_training_speed(trainer.history):.0f} steps/s"),
        ("targets", "; ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in targets)),
    ]
    print()
    for label, value in rows:
        print(f"  {label:<28}{value}")
    print(f"\nwrote {', '.join(str(p) for p in [*written, *pictures])}")
    if args.explore:  # the explorer of the trained model (rnn/explore_cli.py)
        explore_cli.explore_trained(trainer, args.explore)


def _training_speed(history: list[dict]) -> float:
    """Steps per second while training (validation and sampling excluded)."""
    pairs = list(zip(history, history[1:]))
    seconds = sum((b["step"] - a["step"]) / b["steps_per_s"] for a, b in pairs)
    return sum(b["step"] - a["step"] for a, b in pairs) / seconds if seconds else float("nan")


def gradient_agreement(trainer: Trainer) -> tuple[float, float]:
    """Largest |autodiff − analytic| gradient entry on one batch, and the
    largest |gradient| entry for scale."""
    x, y, h0 = trainer.next_batch()
    config = trainer.config
    grads = {}
    for source in ("autodiff", "bptt"):
        trainer.config = dataclasses.replace(config, gradients=source)
        grads[source] = {k: np.array(g) for k, g in trainer.gradients(x, y, h0)[1].items()}
    trainer.config = config
    difference = max(float(np.abs(grads["autodiff"][k] - grads["bptt"][k]).max()) for k in grads["bptt"])
    largest = max(float(np.abs(g).max()) for g in grads["bptt"].values())
    return difference, largest


def draw_pictures(trainer: Trainer, out: Path) -> list[Path]:
    """The trained model's graph on one short string of its grammar, unrolled
    (nodes coloured by log10 ‖∂L/∂node‖) and folded, as SVG files in ``out``."""
    from rnn import draw
    vocab = trainer.corpus.vocab
    ids = vocab.encode(draw.short_string(trainer.corpus.grammar, vocab, trainer.config.text))
    graph = trainer.model.unroll(ids[:-1], ids[1:])
    graph.loss.backward()
    pictures = [mgdraw.render(draw.draw_unrolled(graph, heat=True), out / "rnn_unrolled.svg"),
                mgdraw.render(draw.draw_folded(graph), out / "rnn_folded.svg")]
    mg.zero_grad(trainer.params.values())
    return pictures


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


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or _prog(),
        description="The vanilla RNN of Deep Learning §10.2 on minigrad. New here? Run "
                    "`python -m rnn demo` (about a minute), then look at out/.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo", help="train on the embedded Reber grammar, check it, draw pictures (~1 min)",
        description="Train on the embedded Reber grammar, then print the final loss beside "
                    "the entropy bound, the fraction of 1000 sampled strings that are "
                    "grammatical, the closing-letter accuracy and how far autodiff gradients "
                    "are from analytic BPTT; write the loss plot, graph pictures and a "
                    "checkpoint to --out.")
    _add_training_arguments(demo)
    demo.set_defaults(run=demo_command)

    train = commands.add_parser(
        "train", help="train on a grammar or a text file",
        description="Train the RNN with truncated BPTT. Writes --out/checkpoint.npz every "
                    "--checkpoint-every steps (and on Ctrl-C), --out/best.npz whenever the "
                    "validation loss reaches a new low, --out/metrics.csv and "
                    "--out/loss.png at the end. Examples:\n"
                    "  python -m rnn train --grammar reber --steps 3000\n"
                    "  python -m rnn train --text book.txt --hidden 100 --tau 25 --steps 20000\n"
                    "  python -m rnn train --resume --steps 12000   # continue a run",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_training_arguments(train)
    train.add_argument("--resume", action="store_true",
                       help="continue from --out/checkpoint.npz up to --steps (the data, model "
                            "and batch settings must be the checkpoint's)")
    train.set_defaults(run=train_command)

    smp = commands.add_parser(
        "sample", help="generate text from a checkpoint",
        description="Generate characters from a trained model.")
    smp.add_argument("--checkpoint", metavar="FILE", type=text, default="out/checkpoint.npz",
                     help="the checkpoint of a training run (default: %(default)s)")
    smp.add_argument("--prime", type=text,
                     help="text the model reads before it writes, at least one character of its "
                          "vocabulary (default: one string of the grammar, or a line break for "
                          "text)")
    smp.add_argument("--length", type=Range(int, 0).parse, metavar="N", default=200,
                     help="characters to write, ≥ 0 (default: %(default)s)")
    smp.add_argument("--temperature", type=_number("temperature"), metavar="T", default=1.0,
                     help="≥ 0; below 1: more conservative, above 1: more random, 0: always the "
                          "most likely character (greedy) (default: %(default)s)")
    smp.add_argument("--strings", type=Range(int, 0).parse, metavar="N", default=0,
                     help="grammar checkpoints: write this many whole strings after the prime "
                          "and mark each ok or BAD, ≥ 0 (default: 0, write --length characters)")
    smp.add_argument("--seed", type=_number("seed"), default=None,
                     help="random seed, ≥ 0 (default: fresh)")
    smp.set_defaults(run=sample_command)

    from rnn import draw
    render = commands.add_parser(
        "render", help="draw the unrolled or folded graph of a small RNN",
        description="Draw the RNN's computation graph for a random token problem, or a "
                    "trained model's on a short string of its data (needs Graphviz's `dot`). "
                    "Examples:\n"
                    "  python -m rnn render --view unrolled --tau 6 --heat --out out/unrolled.svg\n"
                    "  python -m rnn render --checkpoint out/checkpoint.npz --heat",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    draw.add_render_arguments(render)
    render.set_defaults(run=draw.render_command)
    explore_cli.add_explore_command(commands)  # explorer hook (rnn/explore_cli.py)
    for p in (demo, train):
        explore_cli.add_explore_option(p)
    return parser


def requirements(args) -> tuple[list[str], bool]:
    """The optional packages a command needs, and whether it needs Graphviz's ``dot``."""
    if args.command in ("sample", "explore"):
        return [], False
    if args.command == "render":
        from rnn import draw
        return ["graphviz"], not mgdraw.is_dot_text(draw.render_path(args))
    packages = ["tqdm"] * (not args.quiet) + ["matplotlib"]
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


if __name__ == "__main__":
    sys.exit(main())
