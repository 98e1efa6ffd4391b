"""Command line: ``python -m rnn demo|train|sample|render`` (also ``minigrad-rnn``).

Start with ``python -m rnn demo``: it trains the RNN on the embedded Reber
grammar for about a minute, then shows how close it came to the best possible
loss and writes pictures to ``out/``. ``python -m rnn COMMAND --help`` explains
each command.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

import minigrad as mg
import minigrad.draw as mgdraw
from rnn import checkpoint, grammar
from rnn.data import DataError
from rnn.train import (LN2, ConfigError, TrainConfig, Trainer, default_prime,
                       grammatical_fraction, model_from_checkpoint, sample, sample_strings)

DEFAULTS = TrainConfig()
OPTIONAL = {"tqdm": "progress", "matplotlib": "plot", "graphviz": "draw"}  # package: extra


def _add_training_arguments(p: argparse.ArgumentParser) -> None:
    data = p.add_argument_group("data")
    data.add_argument("--grammar", choices=["reber", "embedded"], default=DEFAULTS.grammar,
                      help="train on strings of this grammar, generated on the fly (default: %(default)s)")
    data.add_argument("--text", metavar="FILE",
                      help="train on a UTF-8 text file instead (last 10%% held out for validation)")
    data.add_argument("--train-strings", type=int, default=DEFAULTS.train_strings,
                      help="grammar strings to train on (default: %(default)s)")
    data.add_argument("--validation-strings", type=int, default=DEFAULTS.validation_strings,
                      help="held-out grammar strings to validate on (default: %(default)s)")
    model = p.add_argument_group("model and batches")
    model.add_argument("--hidden", type=int, default=DEFAULTS.hidden,
                       help="hidden units H (default: %(default)s)")
    model.add_argument("--tau", type=int, default=DEFAULTS.tau,
                       help="steps τ per chunk of truncated BPTT (default: %(default)s)")
    model.add_argument("--batch", type=int, default=DEFAULTS.batch,
                       help="sequences per batch B (default: %(default)s)")
    model.add_argument("--batching", choices=["stream", "random"], default=DEFAULTS.batching,
                       help="stream: B parallel streams read chunk after chunk, hidden state "
                            "carried over (detached); random: windows at random places from a "
                            "zero state (default: %(default)s)")
    opt = p.add_argument_group("optimisation")
    opt.add_argument("--steps", type=int, default=DEFAULTS.steps, help="training steps (default: %(default)s)")
    opt.add_argument("--optimizer", choices=["adam", "adagrad", "sgd"], default=DEFAULTS.optimizer,
                     help="(default: %(default)s)")
    opt.add_argument("--lr", type=float, default=DEFAULTS.lr,
                     help="learning rate, decayed linearly to lr × --lr-final (default: %(default)s, "
                          "for adam; min-char-rnn uses 0.1 with adagrad)")
    opt.add_argument("--lr-final", type=float, default=DEFAULTS.lr_final, help="(default: %(default)s)")
    opt.add_argument("--clip-norm", type=float, default=DEFAULTS.clip_norm,
                     help="rescale gradients whose global norm exceeds this; 0 turns it off "
                          "(default: %(default)s)")
    opt.add_argument("--clip-value", type=float, default=None,
                     help="clip every gradient entry to [-v, v] (min-char-rnn uses 5; default: off)")
    opt.add_argument("--gradients", choices=["autodiff", "bptt"], default=DEFAULTS.gradients,
                     help="autodiff: minigrad through the unrolled graph; bptt: the analytic "
                          "back-propagation through time of rnn/bptt.py (default: %(default)s)")
    opt.add_argument("--seed", type=int, default=DEFAULTS.seed, help="(default: %(default)s)")
    out = p.add_argument_group("output")
    out.add_argument("--out", default=DEFAULTS.out,
                     help="directory for checkpoint.npz, metrics.csv, loss.png (default: %(default)s)")
    out.add_argument("--eval-every", type=int, default=DEFAULTS.eval_every,
                     help="steps between validation losses (default: %(default)s)")
    out.add_argument("--sample-every", type=int, default=DEFAULTS.sample_every,
                     help="steps between printed samples (default: %(default)s)")
    out.add_argument("--checkpoint-every", type=int, default=DEFAULTS.checkpoint_every,
                     help="steps between checkpoints (default: %(default)s)")
    out.add_argument("--temperature", type=float, default=DEFAULTS.temperature,
                     help="temperature of the printed samples (default: %(default)s)")
    out.add_argument("--quiet", action="store_true", help="no progress bar")


def _config(args) -> TrainConfig:
    return TrainConfig(
        grammar=args.grammar, text=args.text, hidden=args.hidden, tau=args.tau, batch=args.batch,
        batching=args.batching, steps=args.steps, optimizer=args.optimizer, lr=args.lr,
        lr_final=args.lr_final, clip_norm=args.clip_norm or None, clip_value=args.clip_value,
        gradients=args.gradients, seed=args.seed, train_strings=args.train_strings,
        validation_strings=args.validation_strings,
        eval_every=args.eval_every, sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every, temperature=args.temperature, out=args.out,
        progress=not args.quiet)


def train_command(args) -> None:
    config = _config(args)
    if args.resume:
        trainer = Trainer.resume(config.checkpoint_path, config)
        print(f"resuming {config.checkpoint_path} at step {trainer.step} of {config.steps}")
    else:
        trainer = Trainer(config)
    trainer.run()
    ev = trainer.evaluate()
    print(f"validation loss {ev.bits:.4f} bits/char; wrote {config.checkpoint_path}, "
          f"{Path(config.out) / 'metrics.csv'}, {Path(config.out) / 'loss.png'}")


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
    trainer.run(log=None if args.quiet else print)
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
    written = [config.checkpoint_path, out / "metrics.csv", out / "loss.png", *pictures]
    print(f"\nwrote {', '.join(str(p) for p in written)}")


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
    embedded = trainer.corpus.grammar == "embedded"
    string = next(s for s in grammar.generate(100, seed=1, embedded=embedded) if len(s) <= 12)
    ids = trainer.corpus.vocab.encode(string)
    graph = trainer.model.unroll(ids[:-1], ids[1:])
    graph.loss.backward()
    pictures = [mgdraw.render(draw.draw_unrolled(graph, heat=True), out / "rnn_unrolled.svg"),
                mgdraw.render(draw.draw_folded(graph), out / "rnn_folded.svg")]
    mg.zero_grad(trainer.params.values())
    return pictures


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rnn",
        description="The vanilla RNN of Deep Learning §10.2 on minigrad. New here? Run "
                    "`python -m rnn demo` (about a minute), then look at out/.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
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
                    "--checkpoint-every steps (and on Ctrl-C), --out/metrics.csv and "
                    "--out/loss.png at the end. Examples:\n"
                    "  python -m rnn train --grammar reber --steps 3000\n"
                    "  python -m rnn train --text book.txt --hidden 100 --tau 25 --steps 20000\n"
                    "  python -m rnn train --resume --steps 12000   # continue a run",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_training_arguments(train)
    train.add_argument("--resume", action="store_true",
                       help="continue from --out/checkpoint.npz up to --steps")
    train.set_defaults(run=train_command)

    smp = commands.add_parser(
        "sample", help="generate text from a checkpoint",
        description="Generate characters from a trained model.")
    smp.add_argument("--checkpoint", default="out/checkpoint.npz", help="(default: %(default)s)")
    smp.add_argument("--prime", help="text the model reads before it writes (default: one "
                                     "string of the grammar, or a line break for text)")
    smp.add_argument("--length", type=int, default=200, help="characters to write (default: %(default)s)")
    smp.add_argument("--temperature", type=float, default=1.0,
                     help="below 1: more conservative, above 1: more random (default: %(default)s)")
    smp.add_argument("--strings", type=int, default=0,
                     help="grammar checkpoints: write this many whole strings after the prime "
                          "and mark each ok or BAD")
    smp.add_argument("--seed", type=int, default=None, help="random seed (default: fresh)")
    smp.set_defaults(run=sample_command)

    from rnn import draw
    render = commands.add_parser(
        "render", help="draw the unrolled or folded graph of a small RNN",
        description="Draw the RNN's computation graph for a random token problem "
                    "(needs Graphviz's `dot`). Example:\n"
                    "  python -m rnn render --view unrolled --tau 6 --heat --out out/unrolled.svg",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    draw.add_render_arguments(render)
    render.set_defaults(run=draw.render_command)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (checkpoint.CheckpointError, DataError, ConfigError, mgdraw.GraphvizNotFound) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        if error.name not in OPTIONAL:
            raise
        print(f"error: this command needs the {error.name} package: pip install "
              f"'minigrad-rnn[{OPTIONAL[error.name]}]' (or 'minigrad-rnn[dev]' for all)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
