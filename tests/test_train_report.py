"""What a training run shows and keeps: the progress bar and the log lines, the training
curve in loss.png, the best checkpoint, the overfitting notice and early stopping."""
import io
import sys

import numpy as np
import pytest

import rnn.train
from rnn.train import CURVE_EVERY, TrainConfig, Trainer

TINY = dict(grammar="reber", hidden_size=6, tau=6, batch=3, train_strings=200,
            validation_strings=30, lr=0.03, progress=False, out=None)


class Terminal(io.StringIO):
    def isatty(self):
        return True


# -- progress ---------------------------------------------------------------------------------

def test_log_lines_never_share_a_line_with_the_bar(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stderr", Terminal())          # bar and log in one stream, as on a tty
    lines = []
    Trainer(TrainConfig(**{**TINY, "steps": 60, "eval_every": 20, "progress": True})).run(
        log=lambda message: (sys.stderr.write(message + "\n"), lines.append(message)))
    pieces = sys.stderr.getvalue().replace("\r", "\n").split("\n")
    for message in lines:
        assert message in pieces, f"{message!r} glued to the bar"
    assert any("60/60" in piece for piece in pieces)          # the bar was drawn


def test_the_bar_redraws_rarely_when_stderr_is_not_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    config = TrainConfig(**{**TINY, "steps": 300, "eval_every": 300, "progress": True})
    Trainer(config).run(log=None)
    written = sys.stderr.getvalue()
    assert written.count("\r") <= 3 and len(written) < 400, written    # first, last, close


def test_the_bar_redraws_at_the_usual_pace_on_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    bar = rnn.train._progress(TrainConfig(**{**TINY, "steps": 5, "progress": True}), 0)
    assert bar.mininterval == 0.1
    bar.close()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    bar = rnn.train._progress(TrainConfig(**{**TINY, "steps": 5, "progress": True}), 0)
    assert bar.mininterval == rnn.train.QUIET_REDRAW
    bar.close()


# -- the training curve -------------------------------------------------------------------------

def test_the_curve_is_the_mean_training_loss_of_every_ten_steps(tmp_path):
    config = TrainConfig(**{**TINY, "steps": 35, "eval_every": 15})
    losses = []
    by_hand = Trainer(config)
    while by_hand.step < 35:
        losses.append(by_hand.advance())
    trainer = Trainer(config)
    trainer.run(log=None)
    ends = [10, 20, 30, 35]
    assert [step for step, _ in trainer.curve] == ends
    expected = [np.mean(losses[a:b]) for a, b in zip([0, *ends], ends)]
    assert np.allclose([loss for _, loss in trainer.curve], expected, rtol=1e-12, atol=0)


def test_a_resumed_run_keeps_its_curve(tmp_path):
    config = TrainConfig(**{**TINY, "steps": 25, "eval_every": 25, "out": str(tmp_path)})
    Trainer(config).run(log=None)
    trainer = Trainer.resume(tmp_path / "checkpoint.npz", TrainConfig(**{**config.__dict__,
                                                                         "steps": 32}))
    trainer.run(log=None)
    assert [step for step, _ in trainer.curve] == [10, 20, 25, 30, 32]


def test_loss_png_draws_the_training_curve_at_every_logged_step(tmp_path, monkeypatch):
    import matplotlib.figure
    figures = []
    save = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda self, *a, **k: (figures.append(self), save(self, *a, **k))[1])
    trainer = Trainer(TrainConfig(**{**TINY, "steps": 40, "eval_every": 40, "out": str(tmp_path)}))
    trainer.run(log=None)
    (axes, zoom), = [figure.axes for figure in figures]
    training, validation = axes.lines[:2]
    assert list(training.get_xdata()) == [10, 20, 30, 40]
    assert np.allclose(training.get_ydata(), [loss / np.log(2) for _, loss in trainer.curve])
    assert list(validation.get_xdata()) == [0, 40]
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"


# -- the best checkpoint, the overfitting notice, early stopping ----------------------------------

def _overfitting(tmp_path, **settings):
    """A run that overfits quickly: 300 random characters of 4 kinds (225 to train on, a
    pattern-free text), a model of 48 units, validation every 20 steps."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    text = tmp_path / "random.txt"
    text.write_text("".join(np.random.default_rng(0).choice(list("abcd"), 300)), encoding="utf-8")
    config = TrainConfig(text=str(text), hidden_size=48, tau=16, batch=2, lr=0.02,
                         lr_final_fraction=1.0,
                         eval_every=20, validation_fraction=0.25, sample_every=10_000,
                         progress=False, **{"steps": 300, "out": str(tmp_path / "run"),
                                            **settings})
    log = []
    trainer = Trainer(config)
    trainer.run(log=log.append)
    return trainer, log


def _first_stale(losses, n):
    """The first evaluation index after which n evaluations have brought no new minimum."""
    for i in range(len(losses)):
        if i - int(np.argmin(losses[:i + 1])) == n:
            return i
    return None


def test_best_npz_keeps_the_step_with_the_lowest_validation_loss(tmp_path, capsys):
    from rnn import checkpoint
    from rnn.__main__ import main
    from rnn.train import evaluate, model_from_checkpoint
    trainer, _ = _overfitting(tmp_path)
    losses = [row["val_loss"] for row in trainer.history]
    best = checkpoint.load(tmp_path / "run" / "best.npz")
    assert best.meta["step"] == trainer.history[int(np.argmin(losses))]["step"] < trainer.step
    best_model = model_from_checkpoint(tmp_path / "run" / "best.npz")[0]
    assert evaluate(best_model, trainer.validation).loss == pytest.approx(min(losses), rel=1e-12)
    assert evaluate(trainer.model, trainer.validation).loss > min(losses)   # the last is worse
    assert main(["sample", "--checkpoint", str(tmp_path / "run" / "best.npz"), "--length", "8",
                 "--random-seed", "0"]) == 0
    assert len(capsys.readouterr().out.strip()) >= 8
    assert tmp_path / "run" / "best.npz" in trainer.written


def test_the_log_says_when_validation_has_not_improved_for_a_while(tmp_path):
    trainer, log = _overfitting(tmp_path)
    losses = [row["val_loss"] for row in trainer.history]
    i = _first_stale(losses, rnn.train.OVERFITTING)
    assert i is not None                                  # the run does overfit
    notices = [line for line in log if line.startswith("validation has not improved")]
    assert len(notices) == 1
    step, best = trainer.history[i]["step"], trainer.history[int(np.argmin(losses[:i + 1]))]
    assert log[log.index(notices[0]) - 1].startswith(f"step {step}: ")   # right after step i
    assert f"at step {best['step']}," in notices[0] and "225 training characters" in notices[0]


def test_loss_png_shades_the_overfitting_stretch(tmp_path, monkeypatch):
    import matplotlib.figure
    figures = []
    save = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda self, *a, **k: (figures.append(self), save(self, *a, **k))[1])
    trainer, _ = _overfitting(tmp_path)
    (axes,), = [figure.axes for figure in figures]
    labels = axes.get_legend_handles_labels()[1]
    best = min(trainer.history, key=lambda row: row["val_loss"])["step"]
    assert f"overfitting: validation rising since step {best} (225 training chars)" in labels
    assert f"best validation, step {best} (best.npz)" in labels


@pytest.mark.parametrize("patience", [1, 2, 4])
def test_early_stopping_stops_after_n_evaluations_without_improvement(tmp_path, patience):
    whole, _ = _overfitting(tmp_path / "whole")
    losses = [row["val_loss"] for row in whole.history]
    i = _first_stale(losses, patience)
    stopped, log = _overfitting(tmp_path / "stopped", early_stopping=patience)
    assert stopped.step == whole.history[i]["step"] < 300
    assert [row["val_loss"] for row in stopped.history] == losses[:i + 1]
    assert log[-1].startswith(f"early stopping at step {stopped.step}: no new best validation "
                              f"loss in {patience} evaluations")
    from rnn import checkpoint
    assert checkpoint.load(tmp_path / "stopped" / "run" / "checkpoint.npz").meta["step"] == \
        stopped.step


def test_without_early_stopping_the_run_goes_to_the_end(tmp_path):
    trainer, log = _overfitting(tmp_path, steps=120)
    assert trainer.step == 120 and not [line for line in log if line.startswith("early")]


# -- weight decay ------------------------------------------------------------------------------

def test_weight_decay_adds_lambda_theta_to_the_gradient_of_the_weight_matrices_only():
    config = dict(TINY, steps=1, optimizer="sgd", lr=0.1, lr_final_fraction=1.0, clip_norm=None)
    plain = Trainer(TrainConfig(**config))
    decayed = Trainer(TrainConfig(**config, weight_decay=0.5))
    start = {name: array.copy() for name, array in plain.arrays().items()}
    plain.advance(), decayed.advance()
    for name in ("U", "W", "V"):        # θ1 = θ0 - lr (g + λ θ0): the difference is -lr λ θ0
        assert np.allclose(decayed.arrays()[name] - plain.arrays()[name],
                           -0.1 * 0.5 * start[name], rtol=1e-12, atol=1e-15), name
    for name in ("b", "c"):
        assert np.array_equal(decayed.arrays()[name], plain.arrays()[name]), name


def test_weight_decay_keeps_the_weights_smaller_on_an_overfitting_run(tmp_path):
    plain, _ = _overfitting(tmp_path / "plain", steps=100)
    decayed, _ = _overfitting(tmp_path / "decayed", steps=100, weight_decay=0.05)
    for name in ("U", "W", "V"):
        assert np.linalg.norm(decayed.arrays()[name]) < 0.9 * np.linalg.norm(plain.arrays()[name])
