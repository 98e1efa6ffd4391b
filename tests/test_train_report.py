"""What a training run shows and keeps: the progress bar and the log lines, the training
curve in loss.png, the best checkpoint, the overfitting notice and early stopping."""
import io
import sys

import numpy as np
import pytest

import rnn.train
from rnn.train import CURVE_EVERY, TrainConfig, Trainer

TINY = dict(grammar="reber", hidden=6, tau=6, batch=3, train_strings=200, validation_strings=30,
            lr=0.03, progress=False, out=None)


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
