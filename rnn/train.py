"""Training a recurrent language model on characters: truncated BPTT, evaluation,
sampling, metrics, the loss plot and resumable checkpoints, for any cell of
:data:`rnn.cells.CELLS` (``TrainConfig.cell``: "rnn", "lstm", "gru").

The gradient of each batch comes from minigrad's autodiff through the unrolled
graph (``gradients="autodiff"``, the default) or from the cell's analytic BPTT oracle
(``gradients="bptt"``, for cells that have one in :mod:`rnn.oracles`); both give the
same training run to round-off. Evaluation and sampling run the model's own steps
without a graph (:func:`run`); the oracles are for checking only.

>>> config = TrainConfig(grammar="reber", hidden_size=8, tau=8, batch=4, steps=20, out=None,
...                      train_strings=50, validation_strings=20, progress=False)
>>> trainer = Trainer(config)
>>> before = trainer.evaluate().loss
>>> trainer.run(log=None)                 # the files written: none without out
[]
>>> trainer.step, trainer.evaluate().loss < before
(20, True)
"""
from __future__ import annotations

import csv
import dataclasses
import importlib
import importlib.util
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

import minigrad as mg
from rnn import checkpoint, grammar, settings
from rnn.cells import CELLS
from rnn.data import Corpus, Vocab, load_text, random_windows, stream_chunks
from rnn.model import PARAMETER_NAMES, LanguageModel
from rnn.optim import OPTIMIZERS, clip_grad_norm, clip_grad_value, make_optimizer
from rnn.ranges import Range
from rnn.settings import (CELL, CHECKPOINT_SEGMENTS, COUNT, FORGET_BIAS, HIDDEN_SIZE, LAYERS,
                          RANDOM_SEED, TAU, TEMPERATURE, Setting)

__all__ = ["TrainConfig", "ConfigError", "TrainingDiverged", "Trainer", "Evaluation",
           "ValidationSet", "evaluate", "since_best", "run", "sample", "sample_strings",
           "grammatical_fraction", "default_prime", "plot_losses", "write_metrics",
           "model_from_checkpoint", "build_model", "record_of", "oracle_of",
           "CURVE_EVERY", "OVERFITTING"]

LN2 = math.log(2.0)
CURVE_EVERY = 10   # steps per point of the training curve (the bar and loss.png show it)


class ConfigError(ValueError):
    """Training settings that do not make sense together."""


class TrainingDiverged(RuntimeError):
    """The loss, a gradient or the updated parameters stopped being finite."""


OVERFITTING = 3   # evaluations without a new best validation loss before the log says so
DATA, MODEL, OPTIMISATION, OUTPUT = "data", "model", "optimisation", "output"


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in every checkpoint).

    Each field is a :class:`rnn.settings.Setting`, which says what it means and what it
    accepts (``python -m rnn train --help`` prints them all, each option named after its
    field). In short: the data is a ``grammar`` ("reber" or "embedded") or a UTF-8
    ``text`` file; the model ``layers`` layers of a ``cell`` of ``hidden_size`` units (and the
    cell's options, e.g. ``forget_bias``; more than one layer is a
    :class:`rnn.deep.StackedModel`); batches are ``batch`` sequences of ``tau`` steps; the learning
    rate decays linearly from ``lr`` to ``lr × lr_final_fraction``; ``random_seed`` seeds
    the parameters, the data and the batches; ``out`` is the directory of the checkpoints
    (None: nothing is written). Every field is checked on construction; ConfigError names
    the first bad one.
    """

    grammar: str | None = Setting(
        "train on strings of this grammar, generated on the fly", ("reber", "embedded"),
        group=DATA, optional=True).field("embedded")
    text: str | None = Setting(
        "train on a UTF-8 text file instead (its last --validation-fraction held out for "
        "validation)", metavar="FILE", group=DATA, optional=True).field(None)
    train_strings: int = Setting("grammar strings to train on", COUNT, "N", DATA).field(50000)
    validation_strings: int = Setting("held-out grammar strings to validate on", COUNT, "N",
                                      DATA).field(20000)
    validation_fraction: float = Setting(
        "text files: the fraction held out at the end for validation",
        Range(float, 0, 1, low_open=True, high_open=True), "F", DATA).field(0.1)
    cell: str = CELL.field("rnn")
    hidden_size: int = HIDDEN_SIZE.field(32)
    layers: int = LAYERS.field(1)
    forget_bias: float | None = FORGET_BIAS.field(None)
    tau: int = TAU.field(32)
    batch: int = Setting("sequences per batch B", COUNT, "B", MODEL).field(32)
    batching: str = Setting(
        "stream: B parallel streams read chunk after chunk, the state carried over "
        "(detached); random: windows at random places from a zero state",
        ("stream", "random"), group=MODEL).field("stream")
    steps: int = Setting("training steps in all (with --resume: the step to continue up to)",
                         COUNT, "N", OPTIMISATION).field(6000)
    optimizer: str = Setting("the update rule", tuple(OPTIMIZERS), group=OPTIMISATION
                             ).field("adam")
    lr: float = Setting(
        "learning rate, > 0, decayed linearly to lr × --lr-final-fraction over the run "
        "(default: %(default)s, for adam; min-char-rnn uses 0.1 with adagrad)",
        Range(float, 0, low_open=True), "LR", OPTIMISATION).field(0.01)
    lr_final_fraction: float = Setting(
        "the last step's learning rate as a fraction of --lr, in (0, 1]; 1 keeps it constant",
        Range(float, 0, 1, low_open=True, note="a fraction of lr"), "F", OPTIMISATION
    ).field(0.01)
    clip_norm: float | None = Setting(
        "rescale gradients whose global norm exceeds this, ≥ 0; 0 turns it off",
        Range(float, 0, low_open=True), "NORM", OPTIMISATION, optional=True, off=0.0
    ).field(5.0)
    clip_value: float | None = Setting(
        "clip every gradient entry to [-v, v], v > 0 (min-char-rnn uses 5; default: off)",
        Range(float, 0, low_open=True), "V", OPTIMISATION, optional=True).field(None)
    weight_decay: float = Setting(
        "add λ·θ to the gradient of every weight matrix θ (L2 regularisation against "
        "overfitting; biases are not decayed), ≥ 0; 0 turns it off",
        Range(float, 0, note="0 turns it off"), "λ", OPTIMISATION).field(0.0)
    gradients: str = Setting(
        "autodiff: minigrad through the unrolled graph; bptt: the cell's analytic "
        "back-propagation through time (its oracle in rnn.oracles, for cells that have one)",
        ("autodiff", "bptt"), group=OPTIMISATION).field("autodiff")
    checkpoint_segments: int | None = CHECKPOINT_SEGMENTS.field(None)
    random_seed: int = RANDOM_SEED.field(0)
    early_stopping: int | None = Setting(
        "stop after N evaluations (one every --eval-every steps) without a new best "
        "validation loss, at least 1 (default: off; --out/best.npz keeps the best step "
        "either way)", COUNT, "N", OPTIMISATION, optional=True).field(None)
    out: str | None = Setting(
        "directory for checkpoint.npz (the last step), best.npz (the lowest validation "
        "loss), metrics.csv, loss.png", metavar="DIR", group=OUTPUT, optional=True
    ).field("out")
    overwrite: bool = Setting(
        "start afresh even if --out holds a checkpoint, replacing it (without it, a new run "
        "refuses to)", bool, group=OUTPUT).field(False)
    eval_every: int = Setting("steps between validation losses", COUNT, "N", OUTPUT).field(500)
    sample_every: int = Setting("steps between printed samples", COUNT, "N", OUTPUT).field(1000)
    checkpoint_every: int = Setting("steps between checkpoints", COUNT, "N", OUTPUT).field(500)
    temperature: float = TEMPERATURE.field(1.0)
    progress: bool = Setting("no progress bar", bool, group=OUTPUT, flag="--quiet").field(True)

    def __post_init__(self):
        try:
            settings.check(self)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        if self.text is None and self.grammar is None:
            raise ConfigError("give a grammar ('reber' or 'embedded') or a text file")
        if self.text is not None:
            self.grammar = None
        if self.gradients == "bptt" and oracle_of(self.cell) is None:
            raise ConfigError(f"gradients='bptt' needs the analytic oracle of the "
                              f"{self.cell} cell, and it has none (cells with one: "
                              f"{', '.join(k for k in CELLS if oracle_of(k))}): use "
                              f"gradients='autodiff'")
        if self.layers > 1 and self.gradients == "bptt":
            raise ConfigError(f"gradients='bptt' runs the one-layer cell's analytic oracle; "
                              f"with layers={self.layers} use gradients='autodiff'")
        if self.layers > 1 and self.checkpoint_segments is not None:
            raise ConfigError(f"checkpoint_segments checkpoints the one-layer unroll; a stack "
                              f"of layers={self.layers} is unrolled whole: leave it off")
        if self.gradients == "bptt" and self.checkpoint_segments is not None:
            raise ConfigError("checkpoint_segments checkpoints minigrad's graph, which "
                              "gradients='bptt' does not build: use gradients='autodiff'")

    def cell_options(self) -> dict:
        """The options given to the cell (those set, not None): ``{"forget_bias": 1.0}``."""
        return settings.cell_options(self)

    def load_corpus(self) -> Corpus:
        """The training and validation data this configuration names."""
        if self.text is not None:
            return load_text(self.text, self.validation_fraction)
        return Corpus.from_grammar(self.grammar, self.train_strings, self.validation_strings,
                                   self.random_seed)

    @property
    def checkpoint_path(self) -> Path | None:
        return None if self.out is None else Path(self.out) / "checkpoint.npz"

    @property
    def best_path(self) -> Path | None:
        """Where the step with the lowest validation loss so far is kept."""
        return None if self.out is None else Path(self.out) / "best.npz"


class Evaluation(NamedTuple):
    """Held-out results. ``loss``: mean nats per predicted character; ``ideal``:
    the true grammar's mean loss on exactly those characters (grammars only);
    ``closing_accuracy``: fraction of embedded strings whose closing letter is
    the model's most likely next character (embedded grammar only)."""

    loss: float
    ideal: float | None
    closing_accuracy: float | None

    @property
    def bits(self) -> float:
        return self.loss / LN2


# -- the trainer ---------------------------------------------------------------

class Trainer:
    """A training run: the model, its optimiser, the data stream and the history.

    :meth:`run` trains until ``config.steps``; :meth:`save` / :meth:`resume`
    round-trip everything through a checkpoint, so an interrupted run that is
    resumed ends with exactly the parameters of an uninterrupted one. Each
    step is a transaction (:meth:`advance`): whatever interrupts it, the
    trainer is left at the last completed step, and a step whose loss,
    gradients or updated parameters are not finite is undone and stops the
    run with :class:`TrainingDiverged` before anything is saved.
    """

    def __init__(self, config: TrainConfig, corpus: Corpus | None = None):
        self.config = config
        self.corpus = corpus or config.load_corpus()
        K = len(self.corpus.vocab)
        self.model = build_model(config.cell, K, config.hidden_size, K, layers=config.layers,
                                 random_seed=config.random_seed, options=config.cell_options())
        self.parameters = self.model.parameters()
        self.optimizer = make_optimizer(config.optimizer, self.parameters, config.lr)
        self.rng = np.random.default_rng(config.random_seed)
        self.step = 0
        self.state = self.zero_state()        # carried state (stream batching): {"h": (H, B), ...}
        self.history: list[dict] = []
        self.curve: list[list] = []     # [step, mean training loss of the steps since the last]
        self.validation = ValidationSet.of(self.corpus)
        self.resumed, self.saved_step, self.written = False, None, []

    # -- one step ------------------------------------------------------------
    def zero_state(self) -> dict[str, np.ndarray]:
        """The initial state of every batch column, zeros: ``{"h": (H, B)}``, and c for an LSTM
        ((L, H, B) each for a stack of L layers)."""
        return dict(zip(self.model.state_names, self.model.initial_state(self.config.batch)))

    def gradients(self, x, y, state0: dict[str, np.ndarray]
                  ) -> tuple[float, dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Summed loss, its gradients by parameter name and the last state, for one batch
        from the state ``state0`` (constants: no gradient flows into the previous chunk)."""
        if self.config.gradients == "bptt":
            return oracle_gradients(self.model.kind, self.arrays(), x, y, state0)
        mg.zero_grad(self.parameters)
        loss, state = unroll_loss(self.model, x, y, state0, self.config.checkpoint_segments)
        loss.backward(keep_intermediate_grads=False)
        grads = {name: p.grad for name, p in self.parameters.items()}
        return loss.item(), grads, state

    def train_step(self, x, y, state0) -> float:
        """One optimiser step on the mean per-character loss; returns that loss
        (nats). TrainingDiverged if the loss, a gradient or an updated
        parameter is not finite (call it through :meth:`advance`, which then
        undoes the step)."""
        config = self.config
        loss, grads, state = self.gradients(x, y, state0)
        n = x.size
        grads = {name: g / n for name, g in grads.items()}
        if config.weight_decay:
            grads = {name: g + config.weight_decay * self.parameters[name].data
                     if self.parameters[name].ndim == 2 else g for name, g in grads.items()}
        bad = [name for name, g in grads.items() if not np.all(np.isfinite(g))]
        if not math.isfinite(loss) or bad:
            raise TrainingDiverged(f"training diverged at step {self.step + 1}: the loss is "
                                   f"{loss / n:.4g}" + (f", the gradients of {bad} are not finite"
                                                        if bad else ""))
        if config.clip_value is not None:
            grads = clip_grad_value(grads, config.clip_value)
        if config.clip_norm is not None:
            grads, _ = clip_grad_norm(grads, config.clip_norm)
        self.optimizer.lr = config.lr * (1 - (1 - config.lr_final_fraction) * self.step
                                         / max(config.steps, 1))
        self.optimizer.step(grads)
        bad = [name for name, p in self.parameters.items() if not np.all(np.isfinite(p.data))]
        if bad:
            raise TrainingDiverged(f"training diverged at step {self.step + 1}: the update made "
                                   f"parameters {bad} non-finite (loss {loss / n:.4g}, learning "
                                   f"rate {self.optimizer.lr:.3g})")
        self.state = state
        self.step += 1
        return loss / n

    def advance(self) -> float:
        """The next batch and one :meth:`train_step`, as a transaction: if
        anything interrupts it (Ctrl-C, TrainingDiverged, an error), the
        parameters, optimiser state, RNG, carried state and step are put back
        as they were, so a checkpoint saved afterwards holds the last
        completed step."""
        arrays = self.arrays()                      # rebound by the optimiser, never mutated
        slots = {key: np.array(a) for key, a in self.optimizer.state_dict().items()}
        lr, rng = self.optimizer.lr, self.rng.bit_generator.state
        state, step = self.state, self.step
        try:
            return self.train_step(*self.next_batch())
        except BaseException:
            for name, p in self.parameters.items():
                p.data = arrays[name]
            self.optimizer.load_state_dict(slots)
            self.optimizer.lr, self.rng.bit_generator.state = lr, rng
            self.state, self.step = state, step
            raise

    def next_batch(self):
        """``(x, y, state0)`` for the current step."""
        config = self.config
        if config.batching == "random":
            x, y = random_windows(self.corpus.train, config.tau, config.batch, self.rng)
            return x, y, self.zero_state()
        position, x, y = next(stream_chunks(self.corpus.train, config.tau, config.batch,
                                            start=self.step))
        return x, y, (self.zero_state() if position == 0 else self.state)

    # -- the loop ------------------------------------------------------------
    def run(self, log=print) -> list[Path]:
        """Train to ``config.steps``, evaluating, sampling and checkpointing at
        the configured intervals; returns the files written (also in
        ``self.written``).

        Before training, ``config.out`` is checked: a new run refuses to
        replace a checkpoint there unless ``config.overwrite``, and the first
        checkpoint is written at once, so an unwritable or full directory
        fails before any work. Ctrl-C saves the last completed step and
        re-raises; TrainingDiverged leaves the last good checkpoint as it was.
        """
        config, start = self.config, self.step
        if self.step >= config.steps:
            raise ConfigError(f"the run is already at step {self.step}, and steps is "
                              f"{config.steps}: nothing to train (give more steps)")
        self.written = []
        if config.out is not None:
            self._check_out()
        if not self.history:
            self._record(None, None, log, None)
        if config.out is not None:
            self.save()
        bar = _progress(config, start)
        losses, window, tick = [], [], time.perf_counter()
        try:
            while self.step < config.steps:
                losses.append(self.advance())
                window.append(losses[-1])
                if bar is not None:
                    bar.update(1)
                done, stop = self.step == config.steps, False
                if self.step % config.eval_every == 0 or done:
                    now = time.perf_counter()
                    self._record(float(np.mean(losses)), len(losses) / (now - tick), log, bar)
                    losses, tick = [], time.perf_counter()
                    stop = not done and self._early_stop(log, bar)
                if self.step % CURVE_EVERY == 0 or done or stop:
                    self.curve.append([self.step, float(np.mean(window))])
                    window = []
                    if bar is not None:
                        bar.set_postfix_str(f"loss {self.curve[-1][1]:.3f} nats, "
                                            f"{self.curve[-1][1] / LN2:.3f} bits/char",
                                            refresh=False)
                if self.step % config.sample_every == 0 and log is not None:
                    _write(bar, log, f"sample at step {self.step}: {self.sample_text(200)!r}")
                if config.out is not None and (self.step % config.checkpoint_every == 0 or done
                                               or stop):
                    self.save()
                if stop:
                    break
        except KeyboardInterrupt:
            if config.out is not None:
                self.save()
                _write(bar, log, f"interrupted at step {self.step}; checkpoint written to "
                                 f"{config.checkpoint_path}; continue with --resume")
            raise
        except TrainingDiverged as error:
            kept = ("nothing was saved" if self.saved_step is None else
                    f"{config.checkpoint_path} keeps step {self.saved_step}")
            raise TrainingDiverged(f"{error}; {kept}. Try a smaller --lr or gradient "
                                   f"clipping (--clip-norm)") from None
        finally:
            if bar is not None:
                bar.close()
        if config.out is not None:
            out = Path(config.out)
            write_metrics(self.history, out / "metrics.csv")
            plot_losses(self.history, out / "loss.png", bound=self.bound, title=self.title,
                        curve=self.curve, train_size=len(self.corpus.train))
            self.written += [out / "metrics.csv", out / "loss.png"]
        return self.written

    def _check_out(self) -> None:
        """Refuse to replace another run's checkpoint; make sure ``out`` is a
        writable directory (ConfigError naming it otherwise)."""
        out, path = Path(self.config.out), self.config.checkpoint_path
        if path.exists() and not self.resumed and not self.config.overwrite:
            raise ConfigError(f"{path} already holds a checkpoint: continue that run with "
                              f"--resume, replace it with --overwrite, or choose another --out")
        try:
            out.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=out):
                pass
        except OSError as error:
            raise ConfigError(f"cannot write to the output directory {out}: "
                              f"{error.strerror or error}") from None

    def _record(self, train_loss: float | None, steps_per_s: float | None, log, bar) -> None:
        ev = self.evaluate()
        row = {"step": self.step, "train_loss": train_loss, "val_loss": ev.loss,
               "val_bits_per_char": ev.bits, "val_perplexity": math.exp(ev.loss),
               "ideal_loss": ev.ideal, "closing_accuracy": ev.closing_accuracy,
               "steps_per_s": steps_per_s}
        self.history.append(row)
        if log is not None:
            extra = "" if ev.ideal is None else f" (ideal predictor {ev.ideal / LN2:.4f})"
            extra += "" if ev.closing_accuracy is None else f", closing letter {ev.closing_accuracy:.1%}"
            train = "" if train_loss is None else f"train {train_loss / LN2:.4f}, "
            speed = "" if steps_per_s is None else f", {steps_per_s:.0f} steps/s"
            _write(bar, log, f"step {self.step}: {train}validation {ev.bits:.4f} bits/char"
                              f"{extra}{speed}")
        best, stale = since_best(self.history)
        if stale == 0 and self.config.out is not None:
            self.save(self.config.best_path)
        if stale == OVERFITTING:
            path = self.config.best_path
            kept = "" if path is None else f"; {path} keeps step {best['step']}"
            _write(bar, log, f"validation has not improved for {stale} evaluations (best "
                             f"{best['val_bits_per_char']:.4f} bits/char at step {best['step']}, "
                             f"now {ev.bits:.4f}): the model is probably overfitting its "
                             f"{len(self.corpus.train):,} training characters (more text, a "
                             f"smaller --hidden-size or --early-stopping help){kept}")

    def _early_stop(self, log, bar) -> bool:
        """Whether ``early_stopping`` evaluations have passed without a new best
        validation loss (then it says so in the log)."""
        patience = self.config.early_stopping
        best, stale = since_best(self.history)
        if patience is None or stale < patience:
            return False
        kept = f"; {self.config.best_path} keeps it" if self.config.out is not None else ""
        _write(bar, log, f"early stopping at step {self.step}: no new best validation loss in "
                         f"{stale} evaluations (best {best['val_bits_per_char']:.4f} bits/char at "
                         f"step {best['step']}{kept})")
        return True

    # -- evaluation and sampling ---------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        """The parameter arrays by name, ``{"U": ..., "c": ...}`` (not copies)."""
        return {name: p.data for name, p in self.parameters.items()}

    def evaluate(self) -> Evaluation:
        """Loss on the held-out validation text (see :func:`evaluate`)."""
        return evaluate(self.model, self.validation)

    def sample_text(self, length: int) -> str:
        """``length`` characters sampled after :func:`default_prime`."""
        vocab, rng = self.corpus.vocab, np.random.default_rng([self.config.random_seed, self.step])
        prime = default_prime(self.corpus.grammar, vocab)
        return prime + sample(self.model, vocab, prime, length, self.config.temperature, rng)

    @property
    def bound(self) -> float | None:
        """The grammar's entropy rate in nats per character (None for text)."""
        g = self.corpus.grammar
        return None if g is None else grammar.entropy_rate(embedded=g == "embedded")

    @property
    def title(self) -> str:
        """What is trained on what: "LSTM on embedded Reber grammar"."""
        g = self.corpus.grammar
        data = (f"{'embedded ' if g == 'embedded' else ''}Reber grammar" if g
                else Path(self.config.text).name)
        layers = "" if self.config.layers == 1 else f"{self.config.layers}-layer "
        return f"{layers}{self.config.cell.upper()} on {data}"

    # -- checkpoints -----------------------------------------------------------
    def model_record(self) -> dict:
        """What the checkpoint says about the model: cell, sizes, options, parameter shapes."""
        return record_of(self.model, self.config.cell_options())

    def save(self, path=None) -> None:
        """Write the whole training state to ``path`` (default: the config's)."""
        meta = {"step": self.step, "vocab": self.corpus.vocab.chars,
                "config": dataclasses.asdict(self.config), "model": self.model_record(),
                "rng": self.rng.bit_generator.state, "history": self.history,
                "curve": self.curve}
        path = Path(path or self.config.checkpoint_path)
        checkpoint.save(path, self.arrays(), meta, optimizer=self.optimizer.state_dict(),
                        carry=self.state)
        if path == self.config.checkpoint_path:
            self.saved_step = self.step
        if path not in self.written:
            self.written.append(path)

    @classmethod
    def resume(cls, path, config: TrainConfig | None = None) -> "Trainer":
        """Continue the run saved at ``path``. With ``config``, its training
        settings may differ (e.g. more ``steps``) but the data, model and batch
        shape must match the checkpoint's, else CheckpointError says which (for the
        model: what the checkpoint holds and what the settings make)."""
        saved = checkpoint.load(path)
        names = {f.name for f in dataclasses.fields(TrainConfig)}
        try:
            stored = TrainConfig(**{k: v for k, v in saved.meta["config"].items() if k in names})
        except ConfigError as error:
            raise checkpoint.CheckpointError(f"{path}: its stored settings: {error}") from None
        config = config or stored
        _check_model_settings(path, saved.model, config)
        fixed = ("grammar", "text", "tau", "batch", "batching", "optimizer", "random_seed",
                 "train_strings", "validation_strings", "validation_fraction")
        clashes = [f"{k}: checkpoint {getattr(stored, k)!r}, now {getattr(config, k)!r}"
                   for k in fixed if getattr(stored, k) != getattr(config, k)]
        if clashes:
            raise checkpoint.CheckpointError(f"{path} was made with other settings, so the "
                                             f"run cannot continue: {'; '.join(clashes)}")
        trainer = cls(config)
        if trainer.corpus.vocab.chars != saved.meta["vocab"]:
            raise checkpoint.CheckpointError(f"{path}: its vocabulary {saved.meta['vocab']!r} "
                                             f"differs from the data's {trainer.corpus.vocab.chars!r}")
        _check_record(path, saved.model, trainer.model_record())
        for name, zeros in trainer.state.items():
            carried = saved.carry.get(name)
            if carried is None or carried.shape != zeros.shape:
                raise checkpoint.CheckpointError(
                    f"{path}: carried state {name} missing or of shape "
                    f"{None if carried is None else carried.shape}, expected {zeros.shape}")
        try:
            trainer.optimizer.load_state_dict(saved.optimizer)
            trainer.rng.bit_generator.state = saved.meta["rng"]
        except (ValueError, TypeError, KeyError) as error:
            raise checkpoint.CheckpointError(f"{path}: {error}") from None
        trainer.model.set_arrays(**saved.arrays)
        trainer.step = saved.meta["step"]
        trainer.state = {name: saved.carry[name] for name in trainer.state}
        trainer.history = list(saved.meta.get("history", []))
        trainer.curve = list(saved.meta.get("curve", []))
        trainer.resumed, trainer.saved_step = True, trainer.step
        return trainer


def _check_model_settings(path, saved: dict, config: TrainConfig) -> None:
    """The cell, H and cell options of ``config`` must be the checkpoint's; CheckpointError
    saying what each is otherwise (before any data is loaded)."""
    wanted = {**saved, "cell": config.cell, "hidden_size": config.hidden_size,
              "layers": config.layers, "bidirectional": False, "options": config.cell_options()}
    keys = ("cell", "hidden_size", "layers", "bidirectional", "options")
    if any(saved.get(k, {} if k == "options" else None) != wanted[k] for k in keys):
        raise checkpoint.CheckpointError(f"{path} holds {checkpoint.describe(saved)}; the "
                                         f"model is {checkpoint.describe(wanted)}")


def _check_record(path, saved: dict, model: dict) -> None:
    """The checkpoint's model record must be the model's, parameter shapes included."""
    if saved != model:
        differs = [f"{name} {tuple(shape)}, expected "
                   f"{tuple(model['parameters'][name]) if name in model['parameters'] else 'none'}"
                   for name, shape in saved["parameters"].items()
                   if model["parameters"].get(name) != shape]
        differs += [f"{name} missing" for name in model["parameters"]
                    if name not in saved["parameters"]]
        raise checkpoint.CheckpointError(
            f"{path} holds {checkpoint.describe(saved)}, but its record does not fit the "
            f"model that makes ({checkpoint.describe(model)}): "
            f"{'; '.join(differs) or 'sizes or state differ'}")


def _progress(config: TrainConfig, start: int):
    """A tqdm bar (a widget in a notebook). On a terminal or in a notebook it redraws at
    tqdm's usual pace; when stderr is a file or a pipe it redraws once a minute
    (``QUIET_REDRAW`` seconds), so a log file gets a line now and then, not every redraw."""
    if not config.progress:
        return None
    import sys

    from tqdm.auto import tqdm
    widget = any(c.__module__ == "tqdm.notebook" for c in tqdm.__mro__)
    live = widget or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
    return tqdm(total=config.steps, initial=start, unit="step", dynamic_ncols=True,
                mininterval=0.1 if live else QUIET_REDRAW, maxinterval=QUIET_REDRAW)


QUIET_REDRAW = 60.0


def _write(bar, log, message: str) -> None:
    """``log(message)`` with the bar lifted off the line first, so the two never glue."""
    if log is None:
        return
    if bar is None:
        log(message)
        return
    with bar.external_write_mode():
        log(message)


def since_best(history: list[dict]) -> tuple[dict, int]:
    """The history row with the lowest validation loss (the earliest of equals)
    and how many evaluations came after it.

    >>> since_best([{"val_loss": 2.0}, {"val_loss": 1.0}, {"val_loss": 1.5}, {"val_loss": 1.0}])
    ({'val_loss': 1.0}, 2)
    """
    i = min(range(len(history)), key=lambda k: history[k]["val_loss"])
    return history[i], len(history) - 1 - i


# -- evaluation ------------------------------------------------------------------

class ValidationSet(NamedTuple):
    """The validation text laid out for evaluation: piece j is column j of
    ``x`` / ``y`` [T, B] (``mask`` marks real characters); for a grammar,
    ``ideal`` is the ideal predictor's total loss on the masked characters,
    and for the embedded grammar ``closing`` = (rows, columns) of ``y`` that
    hold closing letters."""

    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    ideal: float | None
    closing: tuple[np.ndarray, np.ndarray] | None

    @classmethod
    def of(cls, corpus: Corpus, columns: int | None = None) -> "ValidationSet":
        """Cut the validation text into up to ``columns`` pieces (by default one
        per 1000 characters, at most 256), each read from h(0) = 0 with every
        character but its first predicted; a grammar's text is cut between
        strings only. The pieces are evaluated side by side as one batch."""
        ids, vocab = corpus.validation, corpus.vocab
        columns = columns or max(1, min(256, len(ids) // 1000))
        if corpus.grammar is None:
            pieces = [p for p in np.array_split(ids, columns) if len(p) >= 2]
        else:
            strings = grammar.split_strings(vocab.decode(ids), corpus.grammar == "embedded")
            groups = np.array_split(np.arange(len(strings)), min(columns, len(strings)))
            pieces = [vocab.encode("".join(strings[i] for i in g)) for g in groups]
        lengths = np.array([len(p) - 1 for p in pieces])
        x = np.zeros((lengths.max(), len(pieces)), dtype=np.int64)
        y = np.zeros_like(x)
        for j, p in enumerate(pieces):
            x[:lengths[j], j], y[:lengths[j], j] = p[:-1], p[1:]
        mask = np.arange(len(x))[:, None] < lengths[None, :]
        if corpus.grammar is None:
            return cls(x, y, mask, None, None)
        embedded = corpus.grammar == "embedded"
        texts = [vocab.decode(p) for p in pieces]
        ideal = float(sum(grammar.ideal_losses(t, embedded).sum() for t in texts))
        if not embedded:
            return cls(x, y, mask, ideal, None)
        rows = [grammar.closing_letters(t).positions - 1 for t in texts]   # y[r] = text[r + 1]
        cols = [np.full(len(r), j) for j, r in enumerate(rows)]
        return cls(x, y, mask, ideal, (np.concatenate(rows), np.concatenate(cols)))


EVAL_BLOCK = 2 ** 20   # logits per block of evaluation: 8 MB, whatever the validation length


def evaluate(model, validation: ValidationSet, block: int = EVAL_BLOCK) -> Evaluation:
    """Held-out loss per predicted character (see :class:`ValidationSet`), the
    ideal predictor's on the same characters, and the closing-letter accuracy.

    The model runs its own steps without a graph (:func:`run`). The pieces are read in
    blocks of time steps holding about ``block`` logits (at least one step), the state
    carried from block to block, so the memory used does not grow with the validation
    length."""
    T, B = validation.x.shape
    rows = max(1, block // (model.output_size * B))
    closing_rows, closing_cols = validation.closing or (np.zeros(0, int), np.zeros(0, int))
    total, right, state = 0.0, 0, None
    for start in range(0, T, rows):
        stop = min(T, start + rows)
        o, state = run(model, validation.x[start:stop], state)            # o: [rows, K, B]
        y, mask = validation.y[start:stop], validation.mask[start:stop]
        log_p = (np.take_along_axis(o, y[:, None, :], axis=1) - _logsumexp(o, axis=1))[:, 0, :]
        total -= float(log_p[mask].sum())
        here = (closing_rows >= start) & (closing_rows < stop)
        r, c = closing_rows[here] - start, closing_cols[here]
        right += int((o[r, :, c].argmax(axis=1) == y[r, c]).sum())
    count = int(validation.mask.sum())
    ideal = None if validation.ideal is None else validation.ideal / count
    accuracy = None if validation.closing is None else right / len(closing_rows)
    return Evaluation(total / count, ideal, accuracy)


def _logsumexp(o, axis):
    o_max = o.max(axis=axis, keepdims=True)
    return o_max + np.log(np.exp(o - o_max).sum(axis=axis, keepdims=True))


# -- sampling ----------------------------------------------------------------------

def _draw(o: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """One character id per column of the logits ``o`` [K, B] from softmax(o / T);
    T = 0 takes the most likely character (greedy; no randomness used)."""
    if temperature == 0:
        return o.argmax(axis=0)
    z = (o - o.max(axis=0)) / temperature          # ≤ 0, so even a tiny T cannot overflow
    p = np.exp(z - _logsumexp(z, axis=0))
    cumulative = np.cumsum(p, axis=0)
    u = rng.random(o.shape[1]) * cumulative[-1]
    return np.minimum((u[None, :] >= cumulative).sum(axis=0), len(o) - 1)


def _run_primes(model, primes: list[np.ndarray]):
    """The state after all but the last character of each prime (one column per
    prime), and those last characters: the point to sample from."""
    lengths = np.array([len(p) for p in primes])
    if lengths.min() < 1:
        raise ValueError("every prime needs at least one character")
    x = np.zeros((lengths.max() - 1, len(primes)), dtype=np.int64)   # padded at the end
    for j, p in enumerate(primes):
        x[:len(p) - 1, j] = p[:-1]
    s = model.initial_state(len(primes))
    kept = [np.array(a) for a in s]                 # each column's state after its own prime
    for t, x_t in enumerate(x, 1):
        s, _ = model.step(s, x_t)
        done = lengths - 1 == t
        for k, a in zip(kept, s):
            k[..., done] = a[..., done]
    return dict(zip(model.state_names, kept)), np.array([p[-1] for p in primes])


def _sample_ids(model, primes, steps: int, temperature: float, rng, stop=None):
    """[steps, n] ids sampled after each prime. With ``stop = (i, j)`` a column
    stops once it has written id i followed by id j (later entries are -1)."""
    state, x = _run_primes(model, primes)
    out = np.full((steps, len(primes)), -1, dtype=np.int64)
    live = np.ones(len(primes), dtype=bool)
    for t in range(steps):
        o, state = run(model, x[None, :], state)
        previous, x = x, _draw(o[-1], temperature, rng)
        out[t, live] = x[live]
        if stop is not None:
            live &= ~((previous == stop[0]) & (x == stop[1])) | (t == 0)
            if not live.any():
                return out[:t + 1]
    return out


def default_prime(grammar_name: str | None, vocab: Vocab) -> str:
    """What the model reads before it writes, by default: one whole string of
    the grammar (so it writes from a string boundary), else a line break if
    the text has one, else its first vocabulary character."""
    if grammar_name is not None:
        return grammar.generate(1, seed=0, embedded=grammar_name == "embedded")[0]
    return "\n" if "\n" in vocab.chars else vocab.chars[0]


def sample(model, vocab: Vocab, prime: str, length: int,
           temperature: float = 1.0, rng: np.random.Generator | None = None) -> str:
    """``length`` characters that the model writes after reading ``prime``.
    Lower temperatures (< 1) make it more conservative, higher more random;
    0 always writes the most likely character (greedy decoding).

    >>> import numpy as np
    >>> model = build_model("rnn", 3, 4, 3)
    >>> len(sample(model, Vocab("abc"), "ab", 10, rng=np.random.default_rng(0)))
    10
    """
    rng = np.random.default_rng() if rng is None else rng
    ids = _sample_ids(model, [vocab.encode(prime)], length, temperature, rng)
    return vocab.decode(ids[:, 0])


def sample_strings(model, vocab: Vocab, primes: list[str], *,
                   boundary: str = "EB", max_length: int = 100, temperature: float = 1.0,
                   rng: np.random.Generator | None = None) -> list[str]:
    """One string per prime, sampled in parallel (one column each).

    The model writes on after its prime until it writes the two characters
    of ``boundary`` in a row (the end of one string and the start of the
    next: ``"EB"`` occurs in a Reber or embedded Reber stream only between
    strings); the string is what it wrote before the boundary's second
    character. A column that finds no boundary within ``max_length``
    characters returns all it wrote.
    """
    rng = np.random.default_rng() if rng is None else rng
    ids = _sample_ids(model, [vocab.encode(p) for p in primes], max_length + 1, temperature, rng,
                      stop=tuple(vocab.encode(boundary)))
    texts = [vocab.decode(column[column >= 0]) for column in ids.T]
    return [t[:-1] if t.endswith(boundary) else t for t in texts]


def grammatical_fraction(model, corpus: Corpus, n: int = 1000,
                         seed: int = 0, temperature: float = 1.0) -> tuple[float, list[str]]:
    """Fraction of ``n`` sampled strings that the grammar accepts, and the strings.

    Sampling starts at a string boundary, where a perfect model is certain
    what comes: column k first reads held-out validation string k (cycling
    through them) and then writes the next string by itself, from its ``B``
    to its ``E``, and the ``B`` after it (see :func:`sample_strings`). A
    perfect model scores 1.0.
    """
    embedded = corpus.grammar == "embedded"
    strings = grammar.split_strings(corpus.vocab.decode(corpus.validation), embedded)
    primes = [strings[k % len(strings)] for k in range(n)]
    written = sample_strings(model, corpus.vocab, primes, temperature=temperature,
                             rng=np.random.default_rng(seed))
    return float(np.mean([grammar.is_grammatical(s, embedded) for s in written])), written


# -- metrics and the plot ------------------------------------------------------------

def write_metrics(history: list[dict], path) -> None:
    """The history rows as CSV (one row per evaluation; empty cells for None)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in history)


def plot_losses(history: list[dict], path, bound: float | None = None, title: str = "",
                curve: list | None = None, train_size: int | None = None) -> None:
    """Training and validation loss in bits per character against the step,
    with the grammar's entropy rate ``bound`` (nats) drawn as a line; for a
    grammar a second panel zooms in on the last stretch to the bound, with a
    band of ±1% around it. The training line is ``curve`` ([step, loss in nats]
    every :data:`CURVE_EVERY` steps) if given, else the history's mean between
    validation points. When validation has not improved for :data:`OVERFITTING`
    evaluations, the stretch since the best step is shaded as overfitting (with
    ``train_size``, the training characters) and the best point is starred."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 1 if bound is None else 2
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 4.2), dpi=110, squeeze=False)
    train = curve or [[r["step"], r["train_loss"]] for r in history if r["train_loss"] is not None]
    label = (f"training (mean of each {CURVE_EVERY} steps)" if curve
             else "training (mean since last point)")
    best, stale = since_best(history)
    for k, ax in enumerate(axes[0]):
        ax.plot([step for step, _ in train], [loss / LN2 for _, loss in train], lw=0.8,
                label=label)
        ax.plot([r["step"] for r in history], [r["val_bits_per_char"] for r in history], "o-",
                ms=2.5, label="validation")
        if stale >= OVERFITTING:
            ax.axvspan(best["step"], history[-1]["step"], color="tab:red", alpha=0.08,
                       label=f"overfitting: validation rising since step {best['step']}" +
                             ("" if train_size is None else f" ({train_size:,} training chars)"))
            ax.plot([best["step"]], [best["val_bits_per_char"]], "*", color="tab:red", ms=9,
                    label=f"best validation, step {best['step']} (best.npz)")
        if bound is not None:
            ax.axhline(bound / LN2, color="black", ls="--", lw=1,
                       label=f"entropy rate of the grammar ({bound / LN2:.4f})")
        ax.set(xlabel="step", ylabel="bits per character")
        ax.grid(alpha=0.3)
        if k == 1:
            ax.axhspan(0.99 * bound / LN2, 1.01 * bound / LN2, color="black", alpha=0.08,
                       label="±1% of the entropy rate")
            ax.set(ylim=(0.97 * bound / LN2, 1.08 * bound / LN2), title="close to the bound")
        else:
            ax.set(ylim=(0, None), title=title)
        ax.legend(fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def model_from_checkpoint(path) -> tuple:
    """The model saved at ``path`` (any cell, built from the checkpoint's model record),
    its vocabulary and the metadata (for sampling and drawing). CheckpointError if the
    record names a cell this version does not know or does not fit its own arrays."""
    saved = checkpoint.load(path)
    record = saved.model
    if record.get("architecture") == "seq2seq" or record["bidirectional"]:
        raise checkpoint.CheckpointError(
            f"{path} holds {checkpoint.describe(record)}, which reads whole sequences: it is "
            f"no next-symbol language model to sample or draw here (use `python -m rnn "
            f"seq2seq --evaluate` or `decode` for an encoder–decoder)")
    if record["cell"] not in CELLS:
        raise checkpoint.CheckpointError(f"{path} holds {checkpoint.describe(record)}, and the "
                                         f"cells known here are {', '.join(CELLS)}")
    try:
        model = build_model(record["cell"], record["input_size"], record["hidden_size"],
                            record["output_size"], layers=record["layers"],
                            options=record["options"])
    except (TypeError, ValueError) as error:
        raise checkpoint.CheckpointError(f"{path} holds {checkpoint.describe(record)}, which "
                                         f"cannot be built: {error}") from None
    _check_record(path, record, record_of(model, record["options"]))
    model.set_arrays(**saved.arrays)
    return model, Vocab(saved.meta["vocab"]), saved.meta


# -- the model, for any cell ------------------------------------------------------------------

def build_model(cell: str, input_size: int, hidden_size: int, output_size: int, *,
                layers: int = 1, random_seed: int = 0, options: dict | None = None
                ) -> LanguageModel:
    """A language model of the cell named ``cell`` (a key of rnn.cells.CELLS) with the
    given sizes, its parameters drawn from ``random_seed``, the cell built with ``options``:
    one layer (:class:`rnn.model.LanguageModel`), or a :class:`rnn.deep.StackedModel` of
    ``layers`` > 1 forward layers.

    >>> build_model("rnn", 4, 3, 4).cell.state_names
    ('h',)
    >>> list(build_model("gru", 4, 3, 4, layers=2).parameters())[4:6]
    ['W_ih_l1', 'W_hh_l1']
    """
    if layers == 1:
        return LanguageModel(cell, input_size, hidden_size, output_size, seed=random_seed,
                             **(options or {}))
    from rnn.deep import StackedModel
    return StackedModel(cell, input_size, hidden_size, output_size, layers=layers,
                        seed=random_seed, **(options or {}))


def run(model: LanguageModel, x: np.ndarray, state: dict[str, np.ndarray] | None = None
        ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The logits o [τ, K, B] of the token ids ``x`` [τ, B] and the last state, by the
    model's own steps without a graph (:meth:`rnn.model.LanguageModel.step`), from
    ``state`` (by name, each (H, B); None: zeros).

    >>> model = build_model("rnn", 3, 2, 3)
    >>> o, state = run(model, np.array([[0, 1], [2, 2]]))
    >>> o.shape, state["h"].shape
    ((2, 3, 2), (2, 2))
    """
    names = model.state_names
    s = model.initial_state(x.shape[1]) if state is None else tuple(state[n] for n in names)
    o = []
    for x_t in x:
        s, o_t = model.step(s, x_t)
        o.append(o_t)
    return np.stack(o), dict(zip(names, s))


def unroll_loss(model: LanguageModel, x, y, state0: dict[str, np.ndarray], checkpoint=None):
    """The summed loss L of one batch as a graph node, from the constant state ``state0``
    (no gradient flows into it), and the last state as arrays; ``checkpoint`` as for
    :meth:`rnn.model.LanguageModel.unroll` (the carried state is the last step's, always
    stored). The head runs over the whole batch at once (``head="sequence"``; checkpointed,
    once per segment): training reads no per-step o(t) or L(t)."""
    names = model.state_names
    s0 = tuple(mg.tensor(state0[n]) for n in names)
    if getattr(model, "layers", 1) > 1:                # a StackedModel: every layer's state
        graph = model.unroll(x, y, s0)
        trace = graph.stack
        return graph.loss, {n: np.stack([trace.states[s][n][-1].data for s in trace.slots])
                            for n in names}
    graph = model.unroll(x, y, s0[0] if len(s0) == 1 else s0, checkpoint=checkpoint,
                         head="sequence")
    return graph.loss, {n: graph.states[n][-1].data for n in names}


ORACLES = {"rnn": "vanilla"}   # a cell's oracle module in rnn.oracles, when not named as the cell


def oracle_of(cell: str):
    """The analytic BPTT oracle module of a cell (rnn.oracles.vanilla for "rnn",
    rnn.oracles.<cell> otherwise), or None if it has none."""
    name = f"rnn.oracles.{ORACLES.get(cell, cell)}"
    return importlib.import_module(name) if importlib.util.find_spec(name) else None


def oracle_gradients(cell: str, arrays: dict[str, np.ndarray], x, y,
                     state0: dict[str, np.ndarray]):
    """What :meth:`Trainer.gradients` returns, from the cell's oracle instead of autodiff:
    the summed loss, the parameter gradients and the last state."""
    oracle = oracle_of(cell)
    if cell == "rnn":             # the vanilla oracle takes the seed's five arrays in order
        result = oracle.bptt(*(arrays[n] for n in PARAMETER_NAMES), x, y, h0=state0["h"])
    else:
        result = oracle.bptt(arrays, x, y, state0=tuple(state0.values()))
    state = {name: getattr(result, name)[-1] for name in state0}
    return result.loss, {name: result.grads[name] for name in arrays}, state


def record_of(model, options: dict) -> dict:
    """The checkpoint's model record of ``model``, one layer or a stack (see
    :func:`rnn.checkpoint.record`)."""
    return checkpoint.record(model.kind, input_size=model.input_size,
                             hidden_size=model.hidden_size, output_size=model.output_size,
                             layers=getattr(model, "layers", 1),
                             bidirectional=getattr(model, "bidirectional", False),
                             parameters={n: p.shape for n, p in model.parameters().items()},
                             state=model.state_names, options=options)
