"""Training the RNN on characters: truncated BPTT, evaluation, sampling, metrics,
the loss plot and resumable checkpoints.

The gradient of each batch comes from minigrad's autodiff through the unrolled
graph (``gradients="autodiff"``, the default) or from the analytic BPTT oracle
(``gradients="bptt"``); both give the same training run to round-off.

>>> config = TrainConfig(grammar="reber", hidden=8, tau=8, batch=4, steps=20, out=None,
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
import json
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

import minigrad as mg
from rnn.oracles import vanilla as oracle
from rnn import checkpoint, grammar
from rnn.data import Corpus, Vocab, load_text, random_windows, stream_chunks
from rnn.model import PARAMETER_NAMES, RNN
from rnn.optim import OPTIMIZERS, clip_grad_norm, clip_grad_value, make_optimizer
from rnn.ranges import Range

__all__ = ["TrainConfig", "ConfigError", "TrainingDiverged", "RANGES", "CHOICES", "Trainer",
           "Evaluation", "ValidationSet", "evaluate", "since_best",
           "sample", "sample_strings", "grammatical_fraction", "default_prime", "plot_losses",
           "write_metrics", "model_from_checkpoint", "CURVE_EVERY", "OVERFITTING",
           "DECAYED"]

LN2 = math.log(2.0)
CURVE_EVERY = 10   # steps per point of the training curve (the bar and loss.png show it)


class ConfigError(ValueError):
    """Training settings that do not make sense together."""


class TrainingDiverged(RuntimeError):
    """The loss, a gradient or the updated parameters stopped being finite."""


COUNT = Range(int, 1)
RANGES = {  # the accepted values of TrainConfig's numeric fields (the CLI parses with them too)
    "hidden": COUNT, "tau": COUNT, "batch": COUNT, "steps": COUNT,
    "lr": Range(float, 0, low_open=True),
    "lr_final": Range(float, 0, 1, low_open=True, note="a fraction of lr"),
    "clip_norm": Range(float, 0, low_open=True),
    "clip_value": Range(float, 0, low_open=True),
    "seed": Range(int, 0),
    "train_strings": COUNT, "validation_strings": COUNT,
    "validation_fraction": Range(float, 0, 1, low_open=True, high_open=True),
    "eval_every": COUNT, "sample_every": COUNT, "checkpoint_every": COUNT,
    "temperature": Range(float, 0, note="0 samples the most likely character"),
    "early_stopping": COUNT,
    "weight_decay": Range(float, 0, note="0 turns it off"),
}
OPTIONAL_FIELDS = ("clip_norm", "clip_value", "early_stopping")   # None turns them off
DECAYED = ("U", "W", "V")   # the weight matrices that weight_decay shrinks (not the biases)
OVERFITTING = 3   # evaluations without a new best validation loss before the log says so
CHOICES = {"grammar": (None, "reber", "embedded"), "batching": ("stream", "random"),
           "gradients": ("autodiff", "bptt"), "optimizer": tuple(OPTIMIZERS)}


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in every checkpoint).

    Data: ``grammar`` ("reber" or "embedded") or a UTF-8 ``text`` file.
    Model: ``hidden`` units. Batches: ``batch`` sequences of ``tau`` steps,
    ``batching="stream"`` (truncated BPTT, hidden state carried across chunks)
    or ``"random"`` (random windows from a zero state). Optimiser: ``optimizer``
    ("adam", "adagrad", "sgd") with learning rate ``lr`` decayed linearly to
    ``lr * lr_final`` over the run; ``clip_norm`` / ``clip_value`` clip the
    gradient of the mean per-character loss (None: off), after ``weight_decay``
    λ has added λθ for each weight matrix θ of :data:`DECAYED` (the gradient of
    λ/2 ‖θ‖²; biases are not decayed). Output: ``out``, a
    directory (None: nothing is written) for checkpoint.npz (the last step)
    and best.npz (the lowest validation loss); a new run refuses to replace a
    checkpoint there unless ``overwrite``. ``early_stopping``: stop after this
    many evaluations without a new best validation loss (None: off). Every field is checked on
    construction (:data:`RANGES`, :data:`CHOICES`); ConfigError names the first bad one.
    """

    grammar: str | None = "embedded"
    text: str | None = None
    hidden: int = 32
    tau: int = 32
    batch: int = 32
    batching: str = "stream"
    steps: int = 6000
    optimizer: str = "adam"
    lr: float = 0.01
    lr_final: float = 0.01
    clip_norm: float | None = 5.0
    clip_value: float | None = None
    weight_decay: float = 0.0
    gradients: str = "autodiff"
    seed: int = 0
    train_strings: int = 50000
    validation_strings: int = 20000
    validation_fraction: float = 0.1
    eval_every: int = 500
    sample_every: int = 1000
    checkpoint_every: int = 500
    temperature: float = 1.0
    early_stopping: int | None = None
    out: str | None = "out"
    progress: bool = True
    overwrite: bool = False

    def __post_init__(self):
        for name, accepted in RANGES.items():
            value = getattr(self, name)
            if value is None and name in OPTIONAL_FIELDS:
                continue
            try:
                setattr(self, name, accepted.check(value, name))
            except ValueError as error:
                raise ConfigError(str(error)) from None
        for name, choices in CHOICES.items():
            if getattr(self, name) not in choices:
                raise ConfigError(f"{name}: expected one of {choices}, got {getattr(self, name)!r}")
        for name in ("text", "out"):
            if not isinstance(getattr(self, name), (str, type(None))):
                raise ConfigError(f"{name}: expected a path or None, got {getattr(self, name)!r}")
        if not (isinstance(self.progress, bool) and isinstance(self.overwrite, bool)):
            raise ConfigError("progress and overwrite must be True or False")
        if self.text is None and self.grammar is None:
            raise ConfigError("give a grammar ('reber' or 'embedded') or a text file")
        if self.text is not None:
            self.grammar = None

    def load_corpus(self) -> Corpus:
        """The training and validation data this configuration names."""
        if self.text is not None:
            return load_text(self.text, self.validation_fraction)
        return Corpus.from_grammar(self.grammar, self.train_strings, self.validation_strings,
                                   self.seed)

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
        self.model = RNN(K, config.hidden, K, seed=config.seed)
        self.params = self.model.parameters()
        self.optimizer = make_optimizer(config.optimizer, self.params, config.lr)
        self.rng = np.random.default_rng(config.seed)
        self.step = 0
        self.h = np.zeros((config.hidden, config.batch))     # carried hidden state (stream batching)
        self.history: list[dict] = []
        self.curve: list[list] = []     # [step, mean training loss of the steps since the last]
        self.validation = ValidationSet.of(self.corpus)
        self.resumed, self.saved_step, self.written = False, None, []

    # -- one step ------------------------------------------------------------
    def gradients(self, x, y, h0) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
        """Summed loss, its gradients by parameter name and the last hidden
        state, for one batch from ``h(0) = h0`` (a constant: no gradient flows
        into the previous chunk)."""
        if self.config.gradients == "bptt":
            result = oracle.bptt(*(p.data for p in self.params.values()), x, y, h0=h0)
            grads = {name: result.grads[name] for name in PARAMETER_NAMES}
            return result.loss, grads, result.h[-1]
        mg.zero_grad(self.params.values())
        graph = self.model.unroll(x, y, h0=mg.tensor(h0))
        graph.loss.backward(keep_intermediate_grads=False)
        grads = {name: p.grad for name, p in self.params.items()}
        return graph.loss.item(), grads, graph.h[-1].data

    def train_step(self, x, y, h0) -> float:
        """One optimiser step on the mean per-character loss; returns that loss
        (nats). TrainingDiverged if the loss, a gradient or an updated
        parameter is not finite (call it through :meth:`advance`, which then
        undoes the step)."""
        config = self.config
        loss, grads, h_last = self.gradients(x, y, h0)
        n = x.size
        grads = {name: g / n for name, g in grads.items()}
        if config.weight_decay:
            grads = {name: g + config.weight_decay * self.params[name].data if name in DECAYED
                     else g for name, g in grads.items()}
        bad = [name for name, g in grads.items() if not np.all(np.isfinite(g))]
        if not math.isfinite(loss) or bad:
            raise TrainingDiverged(f"training diverged at step {self.step + 1}: the loss is "
                                   f"{loss / n:.4g}" + (f", the gradients of {bad} are not finite"
                                                        if bad else ""))
        if config.clip_value is not None:
            grads = clip_grad_value(grads, config.clip_value)
        if config.clip_norm is not None:
            grads, _ = clip_grad_norm(grads, config.clip_norm)
        self.optimizer.lr = config.lr * (1 - (1 - config.lr_final) * self.step / max(config.steps, 1))
        self.optimizer.step(grads)
        bad = [name for name, p in self.params.items() if not np.all(np.isfinite(p.data))]
        if bad:
            raise TrainingDiverged(f"training diverged at step {self.step + 1}: the update made "
                                   f"parameters {bad} non-finite (loss {loss / n:.4g}, learning "
                                   f"rate {self.optimizer.lr:.3g})")
        self.h = h_last
        self.step += 1
        return loss / n

    def advance(self) -> float:
        """The next batch and one :meth:`train_step`, as a transaction: if
        anything interrupts it (Ctrl-C, TrainingDiverged, an error), the
        parameters, optimiser state, RNG, carried state and step are put back
        as they were, so a checkpoint saved afterwards holds the last
        completed step."""
        params = {name: p.data for name, p in self.params.items()}   # rebound, never mutated
        state = {key: np.array(a) for key, a in self.optimizer.state_dict().items()}
        lr, rng, h, step = self.optimizer.lr, self.rng.bit_generator.state, self.h, self.step
        try:
            return self.train_step(*self.next_batch())
        except BaseException:
            for name, p in self.params.items():
                p.data = params[name]
            self.optimizer.load_state_dict(state)
            self.optimizer.lr, self.rng.bit_generator.state = lr, rng
            self.h, self.step = h, step
            raise

    def next_batch(self):
        """``(x, y, h0)`` for the current step."""
        config = self.config
        if config.batching == "random":
            x, y = random_windows(self.corpus.train, config.tau, config.batch, self.rng)
            return x, y, np.zeros((config.hidden, config.batch))
        position, x, y = next(stream_chunks(self.corpus.train, config.tau, config.batch,
                                            start=self.step))
        return x, y, (np.zeros_like(self.h) if position == 0 else self.h)

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
                             f"smaller --hidden or --early-stopping help){kept}")

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
        """The parameter arrays ``{"U": ..., "c": ...}`` (not copies)."""
        return {name: p.data for name, p in self.params.items()}

    def evaluate(self) -> Evaluation:
        """Loss on the held-out validation text (see :func:`evaluate`)."""
        return evaluate(self.arrays(), self.validation)

    def sample_text(self, length: int) -> str:
        """``length`` characters sampled after :func:`default_prime`."""
        vocab, rng = self.corpus.vocab, np.random.default_rng([self.config.seed, self.step])
        prime = default_prime(self.corpus.grammar, vocab)
        return prime + sample(self.arrays(), vocab, prime, length, self.config.temperature, rng)

    @property
    def bound(self) -> float | None:
        """The grammar's entropy rate in nats per character (None for text)."""
        g = self.corpus.grammar
        return None if g is None else grammar.entropy_rate(embedded=g == "embedded")

    @property
    def title(self) -> str:
        g = self.corpus.grammar
        return (f"{'embedded ' if g == 'embedded' else ''}Reber grammar" if g
                else Path(self.config.text).name)

    # -- checkpoints -----------------------------------------------------------
    def save(self, path=None) -> None:
        """Write the whole training state to ``path`` (default: the config's)."""
        meta = {"step": self.step, "vocab": self.corpus.vocab.chars,
                "config": dataclasses.asdict(self.config),
                "rng": self.rng.bit_generator.state, "history": self.history,
                "curve": self.curve}
        path = Path(path or self.config.checkpoint_path)
        checkpoint.save(path, self.arrays(), meta, optimizer=self.optimizer.state_dict(),
                        carry={"h": self.h})
        if path == self.config.checkpoint_path:
            self.saved_step = self.step
        if path not in self.written:
            self.written.append(path)

    @classmethod
    def resume(cls, path, config: TrainConfig | None = None) -> "Trainer":
        """Continue the run saved at ``path``. With ``config``, its training
        settings may differ (e.g. more ``steps``) but the data, model and batch
        shape must match the checkpoint's, else CheckpointError says which."""
        saved = checkpoint.load(path)
        try:
            stored = TrainConfig(**{k: v for k, v in saved.meta["config"].items()
                                    if k in {f.name for f in dataclasses.fields(TrainConfig)}})
        except ConfigError as error:
            raise checkpoint.CheckpointError(f"{path}: its stored settings: {error}") from None
        if config is not None:
            fixed = ("grammar", "text", "hidden", "tau", "batch", "batching", "optimizer",
                     "seed", "train_strings", "validation_strings", "validation_fraction")
            clashes = [f"{k}: checkpoint {getattr(stored, k)!r}, now {getattr(config, k)!r}"
                       for k in fixed if getattr(stored, k) != getattr(config, k)]
            if clashes:
                raise checkpoint.CheckpointError(f"{path} was made with other settings, so the "
                                                 f"run cannot continue: {'; '.join(clashes)}")
            stored = config
        trainer = cls(stored)
        if trainer.corpus.vocab.chars != saved.meta["vocab"]:
            raise checkpoint.CheckpointError(f"{path}: its vocabulary {saved.meta['vocab']!r} "
                                             f"differs from the data's {trainer.corpus.vocab.chars!r}")
        h = saved.carry.get("h")
        if h is None or h.shape != trainer.h.shape:
            raise checkpoint.CheckpointError(f"{path}: carried hidden state missing or of shape "
                                             f"{None if h is None else h.shape}, expected {trainer.h.shape}")
        try:
            trainer.optimizer.load_state_dict(saved.optimizer)
            trainer.rng.bit_generator.state = saved.meta["rng"]
        except (ValueError, TypeError, KeyError) as error:
            raise checkpoint.CheckpointError(f"{path}: {error}") from None
        trainer.model.set_params(**saved.params)
        trainer.step, trainer.h = saved.meta["step"], h
        trainer.history = list(saved.meta.get("history", []))
        trainer.curve = list(saved.meta.get("curve", []))
        trainer.resumed, trainer.saved_step = True, trainer.step
        return trainer


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


def evaluate(params: dict[str, np.ndarray], validation: ValidationSet,
             block: int = EVAL_BLOCK) -> Evaluation:
    """Held-out loss per predicted character (see :class:`ValidationSet`), the
    ideal predictor's on the same characters, and the closing-letter accuracy.

    The pieces are read in blocks of time steps holding about ``block``
    logits (at least one step), the hidden state carried from block to
    block, so the memory used does not grow with the validation length."""
    args = [params[n] for n in PARAMETER_NAMES]
    T, B = validation.x.shape
    rows = max(1, block // (len(params["c"]) * B))
    closing_rows, closing_cols = validation.closing or (np.zeros(0, int), np.zeros(0, int))
    total, right, h = 0.0, 0, None
    for start in range(0, T, rows):
        stop = min(T, start + rows)
        fwd = oracle.forward(*args, validation.x[start:stop], h0=h)
        o, h = fwd.o, fwd.h[-1]                                           # o: [rows, K, B]
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


def _run_primes(params, primes: list[np.ndarray]):
    """The hidden state after all but the last character of each prime (one
    column per prime), and those last characters: the point to sample from."""
    H, n = params["W"].shape[0], len(primes)
    lengths = np.array([len(p) for p in primes])
    if lengths.min() < 1:
        raise ValueError("every prime needs at least one character")
    if lengths.max() == 1:
        return np.zeros((H, n)), np.array([p[0] for p in primes])
    x = np.zeros((lengths.max() - 1, n), dtype=np.int64)
    for j, p in enumerate(primes):
        x[:len(p) - 1, j] = p[:-1]
    h = oracle.forward(*(params[k] for k in PARAMETER_NAMES), x).h          # [τ+1, H, n]
    return h[lengths - 1, :, np.arange(n)].T, np.array([p[-1] for p in primes])


def _sample_ids(params, primes, steps: int, temperature: float, rng, stop=None):
    """[steps, n] ids sampled after each prime. With ``stop = (i, j)`` a column
    stops once it has written id i followed by id j (later entries are -1)."""
    h, x = _run_primes(params, primes)
    out = np.full((steps, len(primes)), -1, dtype=np.int64)
    live = np.ones(len(primes), dtype=bool)
    args = [params[k] for k in PARAMETER_NAMES]
    for t in range(steps):
        fwd = oracle.forward(*args, x[None, :], h0=h)
        previous, (h, x) = x, (fwd.h[-1], _draw(fwd.o[-1], temperature, rng))
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


def sample(params: dict[str, np.ndarray], vocab: Vocab, prime: str, length: int,
           temperature: float = 1.0, rng: np.random.Generator | None = None) -> str:
    """``length`` characters that the model writes after reading ``prime``.
    Lower temperatures (< 1) make it more conservative, higher more random;
    0 always writes the most likely character (greedy decoding).

    >>> import numpy as np
    >>> model = RNN(3, 4, 3, seed=0)
    >>> params = {n: p.data for n, p in model.parameters().items()}
    >>> len(sample(params, Vocab("abc"), "ab", 10, rng=np.random.default_rng(0)))
    10
    """
    rng = np.random.default_rng() if rng is None else rng
    ids = _sample_ids(params, [vocab.encode(prime)], length, temperature, rng)
    return vocab.decode(ids[:, 0])


def sample_strings(params: dict[str, np.ndarray], vocab: Vocab, primes: list[str], *,
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
    ids = _sample_ids(params, [vocab.encode(p) for p in primes], max_length + 1, temperature, rng,
                      stop=tuple(vocab.encode(boundary)))
    texts = [vocab.decode(column[column >= 0]) for column in ids.T]
    return [t[:-1] if t.endswith(boundary) else t for t in texts]


def grammatical_fraction(params: dict[str, np.ndarray], corpus: Corpus, n: int = 1000,
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
    written = sample_strings(params, corpus.vocab, primes, temperature=temperature,
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
            ax.set(ylim=(0, None), title=f"RNN on {title}".strip())
        ax.legend(fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def model_from_checkpoint(path) -> tuple[dict[str, np.ndarray], Vocab, dict]:
    """Parameter arrays, vocabulary and metadata of a saved run (for sampling)."""
    saved = checkpoint.load(path)
    return saved.params, Vocab(saved.meta["vocab"]), saved.meta
