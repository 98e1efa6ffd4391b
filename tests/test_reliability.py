"""Saved work is never destroyed: interrupts and kills injected at exact points (inside an
optimiser step, inside a save, inside batch drawing), divergence, an --out that holds another
run or cannot be written, stale temporary files; and evaluation in bounded memory."""
import dataclasses
import errno
import os
import re
import signal
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from rnn import checkpoint, optim
from rnn.checkpoint import CheckpointError
from rnn.data import Corpus, Vocab
from rnn.model import RNN
from rnn.train import (ConfigError, TrainConfig, Trainer, TrainingDiverged, ValidationSet,
                       evaluate)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = TrainConfig(grammar="reber", hidden_size=8, tau=8, batch=4, steps=40, lr=0.03,
                     train_strings=300, validation_strings=50, eval_every=10,
                     checkpoint_every=7, out=None, progress=False)


def _whole(tmp_path, batching="stream") -> Trainer:
    trainer = Trainer(dataclasses.replace(CONFIG, batching=batching, out=str(tmp_path / "whole")))
    trainer.run(log=None)
    return trainer


def _assert_same_run(a: Trainer, b: Trainer) -> None:
    for name, value in a.arrays().items():
        assert np.array_equal(b.arrays()[name], value), name
    assert a.state.keys() == b.state.keys()
    for name, value in a.state.items():
        assert np.array_equal(b.state[name], value), name
    for key, value in a.optimizer.state_dict().items():
        assert np.array_equal(b.optimizer.state_dict()[key], value), key
    assert a.rng.bit_generator.state == b.rng.bit_generator.state


def _resume_to_the_end(config: TrainConfig) -> Trainer:
    trainer = Trainer.resume(config.checkpoint_path, config)
    trainer.run(log=None)
    return trainer


def _counting(function, at: int, action):
    """``function`` wrapped so that its ``at``-th call (from 1) runs ``action`` instead."""
    calls = [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        return action(*args, **kwargs) if calls[0] == at else function(*args, **kwargs)
    return wrapper


def _checkpoint_npz_only(monkeypatch, wrapper):
    """np.savez that runs ``wrapper`` only while checkpoint.npz is written (the saves of
    best.npz go straight through, so counts are of checkpoint.npz alone)."""
    writing, write, savez = [None], checkpoint._write_atomically, checkpoint.np.savez

    def tracked(path, arrays):
        writing[0] = path.name
        return write(path, arrays)
    monkeypatch.setattr(checkpoint, "_write_atomically", tracked)
    return lambda f, **arrays: (wrapper if writing[0] == "checkpoint.npz" else savez)(f, **arrays)


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


PARAMS = 5  # U, W, V, b, c: Optimizer.update runs once per parameter per step


# -- interrupts inside a step and inside a save ------------------------------------------

def _interrupted_and_resumed(tmp_path, monkeypatch, batching, target, name, wrapper, step):
    """Run with ``target.name`` replaced by ``wrapper`` until it raises Ctrl-C, check that the
    checkpoint holds ``step``, resume without it and compare with an uninterrupted run."""
    whole = _whole(tmp_path, batching)
    config = dataclasses.replace(CONFIG, batching=batching, out=str(tmp_path / "parts"))
    monkeypatch.setattr(target, name, wrapper)
    with pytest.raises(KeyboardInterrupt):
        Trainer(config).run(log=None)
    monkeypatch.undo()
    assert checkpoint.load(config.checkpoint_path).meta["step"] == step
    _assert_same_run(whole, _resume_to_the_end(config))
    return config


@pytest.mark.parametrize("batching", ["stream", "random"])
def test_an_interrupt_inside_the_optimiser_step_saves_the_last_completed_step(
        tmp_path, monkeypatch, batching):
    # Ctrl-C lands in step 18 after U, W have moved and before V, b, c have.
    wrapper = _counting(optim.Adam.update, 17 * PARAMS + 3, _interrupt)
    _interrupted_and_resumed(tmp_path, monkeypatch, batching, optim.Adam, "update", wrapper, 17)


def test_an_interrupt_while_drawing_a_random_batch_keeps_the_rng_of_the_last_step(
        tmp_path, monkeypatch):
    real = Trainer.next_batch

    def draw_then_interrupt(self):
        real(self)                      # the RNG has moved on: the step must put it back
        raise KeyboardInterrupt
    wrapper = _counting(real, 23, draw_then_interrupt)
    _interrupted_and_resumed(tmp_path, monkeypatch, "random", Trainer, "next_batch", wrapper, 22)


def test_an_interrupt_inside_a_save_leaves_a_whole_checkpoint_and_no_temporary_file(
        tmp_path, monkeypatch):
    def half_a_file_then_interrupt(f, **arrays):
        f.write(b"PK\x03\x04" + bytes(3000))
        raise KeyboardInterrupt
    # Saves: step 0 (before training), 7, 14: Ctrl-C inside the third, half written; the
    # checkpoint of step 14 is then written again on the way out.
    wrapper = _checkpoint_npz_only(monkeypatch, _counting(checkpoint.np.savez, 3,
                                                          half_a_file_then_interrupt))
    config = _interrupted_and_resumed(tmp_path, monkeypatch, "stream", checkpoint.np, "savez",
                                      wrapper, 14)
    assert sorted(os.listdir(config.out)) == ["best.npz", "checkpoint.npz", "loss.png",
                                              "metrics.csv"]


# -- SIGKILL at exact points, in a child process -----------------------------------------

KILLED_RUN = """
import os, signal, sys
from rnn import checkpoint, optim
from rnn.train import TrainConfig, Trainer
mode, out = sys.argv[1], sys.argv[2]
config = TrainConfig(grammar="reber", hidden_size=8, tau=8, batch=4, steps=40, lr=0.03,
                     train_strings=300, validation_strings=50, eval_every=10,
                     checkpoint_every=7, out=out, progress=False)
calls = [0]
def die_at(function, at, before=lambda *a: None):
    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == at:
            before(*args)
            os.kill(os.getpid(), signal.SIGKILL)
        return function(*args, **kwargs)
    return wrapper
if mode == "save":   # the third save of checkpoint.npz (step 14) dies half written
    writing, write, savez = [None], checkpoint._write_atomically, checkpoint.np.savez
    def tracked(path, arrays):
        writing[0] = path.name
        return write(path, arrays)
    dying = die_at(savez, 3, lambda f: (f.write(b"PK" + bytes(3000)), f.flush()))
    checkpoint._write_atomically = tracked
    checkpoint.np.savez = lambda f, **a: (dying if writing[0] == "checkpoint.npz"
                                          else savez)(f, **a)
else:                # dies inside the optimiser update of step 18
    optim.Adam.update = die_at(optim.Adam.update, 17 * 5 + 3)
Trainer(config).run(log=None)
"""


@pytest.mark.parametrize("mode, last_saved", [("save", 7), ("step", 14)])
def test_a_sigkill_mid_save_or_mid_step_loses_nothing_saved(tmp_path, mode, last_saved):
    out = tmp_path / "parts"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", KILLED_RUN, mode, str(out)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr
    config = dataclasses.replace(CONFIG, out=str(out))
    assert checkpoint.load(config.checkpoint_path).meta["step"] == last_saved
    orphans = [p for p in os.listdir(out) if p.endswith(".tmp")]
    assert len(orphans) == (mode == "save")
    resumed = _resume_to_the_end(config)
    assert sorted(os.listdir(out)) == ["best.npz", "checkpoint.npz", "loss.png", "metrics.csv"]
    _assert_same_run(_whole(tmp_path), resumed)


def test_only_temporary_files_of_dead_processes_are_removed(tmp_path):
    path = tmp_path / "checkpoint.npz"
    dead = tmp_path / ".checkpoint.npz.999999999.k2j4h1.tmp"      # no such process
    old_style = tmp_path / ".checkpoint.npz.x8y2_q1z.tmp"           # written before PIDs
    live = tmp_path / f".checkpoint.npz.{os.getpid()}.abc123.tmp"   # a save in progress
    other = tmp_path / ".notes.txt.999999999.k2j4h1.tmp"
    for p in (dead, old_style, live, other):
        p.write_bytes(b"partial")
    assert sorted(checkpoint.remove_stale_temporaries(path)) == sorted([dead, old_style])
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in (live, other))


# -- divergence -------------------------------------------------------------------------

DIVERGING = dataclasses.replace(CONFIG, optimizer="sgd", lr=1e308, clip_norm=None,
                                checkpoint_every=2)


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_a_diverging_run_stops_before_saving_and_keeps_the_last_good_checkpoint(tmp_path):
    config = dataclasses.replace(DIVERGING, out=str(tmp_path))
    trainer = Trainer(config)
    with pytest.raises(TrainingDiverged) as error:
        trainer.run(log=None)
    step = int(re.match(r"training diverged at step (\d+): ", str(error.value)).group(1))
    kept = 2 * ((step - 1) // 2)                  # the last checkpoint before it
    assert f"checkpoint.npz keeps step {kept}" in str(error.value)
    assert trainer.step == step - 1 and all(np.isfinite(a).all() for a in trainer.arrays().values())
    assert checkpoint.load(config.checkpoint_path).meta["step"] == kept     # still loads


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_an_update_that_overflows_the_parameters_is_undone(tmp_path, monkeypatch):
    config = dataclasses.replace(DIVERGING, out=str(tmp_path))
    real = Trainer.gradients
    monkeypatch.setattr(Trainer, "gradients", lambda self, x, y, h0: (
        lambda loss, grads, h: (loss, {k: 1e10 * g for k, g in grads.items()}, h))(
            *real(self, x, y, h0)))
    trainer = Trainer(config)
    before = {k: a.copy() for k, a in trainer.arrays().items()}
    with pytest.raises(TrainingDiverged, match=r"at step 1: the update made parameters "
                                               r"\[.*\] non-finite.*keeps step 0"):
        trainer.run(log=None)
    for name, value in before.items():                     # the step was undone
        assert np.array_equal(trainer.arrays()[name], value)
        assert np.array_equal(checkpoint.load(config.checkpoint_path).arrays[name], value)


def test_a_non_finite_loss_or_gradient_stops_the_run_naming_the_step(tmp_path, monkeypatch):
    config = dataclasses.replace(CONFIG, out=str(tmp_path), checkpoint_every=5)
    real = Trainer.gradients

    def nan_gradient(self, x, y, h0):
        loss, grads, h = real(self, x, y, h0)
        return loss, {**grads, "W": grads["W"] * np.nan}, h
    monkeypatch.setattr(Trainer, "gradients", _counting(real, 12, nan_gradient))
    with pytest.raises(TrainingDiverged, match=r"at step 12: .*gradients of \['W'\] are not "
                                               r"finite.*keeps step 10"):
        Trainer(config).run(log=None)
    assert checkpoint.load(config.checkpoint_path).meta["step"] == 10


# -- the output directory ----------------------------------------------------------------

def test_a_new_run_never_replaces_a_checkpoint_without_overwrite(tmp_path):
    config = dataclasses.replace(CONFIG, steps=10, out=str(tmp_path))
    Trainer(config).run(log=None)
    before = config.checkpoint_path.read_bytes()
    with pytest.raises(ConfigError, match="already holds a checkpoint.*--resume.*--overwrite"):
        Trainer(dataclasses.replace(config, steps=5)).run(log=None)
    assert config.checkpoint_path.read_bytes() == before
    Trainer(dataclasses.replace(config, steps=5, overwrite=True)).run(log=None)
    assert checkpoint.load(config.checkpoint_path).meta["step"] == 5


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_out_that_is_not_a_directory_is_refused_before_training(tmp_path, where):
    (tmp_path / "f").write_text("x")
    out = tmp_path / "f" if where == "a file" else tmp_path / "f" / "sub"
    trainer = Trainer(dataclasses.replace(CONFIG, out=str(out)))
    with pytest.raises(ConfigError, match=f"cannot write to the output directory {out}"):
        trainer.run(log=None)
    assert trainer.step == 0 and trainer.history == []


def test_an_unwritable_out_is_refused_before_training(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr("rnn.train.tempfile.TemporaryFile", denied)  # root ignores chmod
    trainer = Trainer(dataclasses.replace(CONFIG, out=str(tmp_path)))
    with pytest.raises(ConfigError, match="cannot write to .*Permission denied"):
        trainer.run(log=None)
    assert trainer.step == 0


def test_a_full_disk_fails_at_the_first_checkpoint_before_any_step(tmp_path, monkeypatch):
    def full(f, **arrays):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(checkpoint.np, "savez", full)
    trainer = Trainer(dataclasses.replace(CONFIG, out=str(tmp_path)))
    with pytest.raises(CheckpointError, match=f"cannot write {tmp_path}.*No space left"):
        trainer.run(log=None)
    assert trainer.step == 0 and os.listdir(tmp_path) == []


def test_resuming_a_finished_run_says_there_is_nothing_to_do(tmp_path):
    config = dataclasses.replace(CONFIG, steps=5, out=str(tmp_path))
    Trainer(config).run(log=None)
    with pytest.raises(ConfigError, match="already at step 5, and steps is 5"):
        Trainer.resume(config.checkpoint_path, config).run(log=None)


# -- evaluation in bounded memory ----------------------------------------------------------

def _wide_validation(characters: int, K: int = 400):
    rng = np.random.default_rng(0)
    vocab = Vocab("".join(chr(0x4E00 + i) for i in range(K)))
    ids = rng.integers(0, K, characters)
    return ValidationSet.of(Corpus(vocab, ids[:100], ids)), K


def _params(K, H=8):
    rng = np.random.default_rng(1)
    return {"U": rng.normal(size=(H, K)), "W": 0.5 * rng.normal(size=(H, H)) / np.sqrt(H),
            "V": rng.normal(size=(K, H)), "b": np.zeros(H), "c": np.zeros(K)}


def _peak_mib(function) -> float:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 2 ** 20
    finally:
        tracemalloc.stop()


def test_evaluation_memory_does_not_grow_with_the_validation_length():
    # Whole-at-once, 60,000 characters over K = 400 hold 60000 x 400 logits (183 MiB) and
    # copies of them; in blocks, a few 8 MiB blocks whatever the length.
    peaks = []
    for n in (15_000, 60_000):
        validation, K = _wide_validation(n)
        peaks.append(_peak_mib(lambda: evaluate(RNN.from_arrays(**_params(K)), validation)))
    assert peaks[1] < 48 and peaks[1] < 1.3 * peaks[0] + 4, peaks


def test_evaluation_in_blocks_gives_the_same_numbers_as_one_block():
    trainer = Trainer(dataclasses.replace(CONFIG, grammar="embedded", steps=5))
    trainer.run(log=None)
    one = evaluate(trainer.model, trainer.validation, block=10 ** 12)
    for block in (1, 1000):
        many = evaluate(trainer.model, trainer.validation, block=block)
        assert abs(many.loss - one.loss) <= 1e-12 * one.loss
        assert many.closing_accuracy == one.closing_accuracy and many.ideal == one.ideal
