"""Checkpoints: one ``.npz`` holding everything needed to continue training.

Layout (all plain numeric or unicode arrays, so ``np.load(...,
allow_pickle=False)`` reads it)::

    meta            0-d unicode array: JSON with format, step, vocab, config,
                    RNG state and the metrics history
    param/<name>    the RNN's U, W, V, b, c
    optim/<key>     the optimiser's state (see Optimizer.state_dict)
    carry/<name>    state carried between steps (the hidden state of TBPTT)

:func:`save` writes atomically: a temporary file in the same directory is
written, flushed and fsynced, then renamed over the target with
``os.replace``, so a crash mid-write leaves the previous checkpoint intact.
:func:`load` checks everything and raises :class:`CheckpointError` with a
plain message instead of a traceback from inside numpy.

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
>>> H, vocab = 2, "ab"
>>> params = {"U": np.zeros((H, 2)), "W": np.eye(H), "V": np.zeros((2, H)),
...           "b": np.zeros(H), "c": np.zeros(2)}
>>> save(path, params, meta={"step": 3, "vocab": vocab, "config": {"hidden": H}})
>>> load(path).meta["step"], load(path).params["W"].shape
(3, (2, 2))
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Checkpoint", "CheckpointError", "save", "load", "FORMAT"]

FORMAT = "minigrad-rnn-checkpoint/1"
PARAMETER_NAMES = ("U", "W", "V", "b", "c")   # same order as rnn.model, without importing minigrad


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, truncated, corrupt or mismatched."""


@dataclass
class Checkpoint:
    """The contents of one checkpoint file (see the module docstring)."""

    params: dict[str, np.ndarray]
    meta: dict
    optimizer: dict[str, np.ndarray] = field(default_factory=dict)
    carry: dict[str, np.ndarray] = field(default_factory=dict)


def save(path, params: dict[str, np.ndarray], meta: dict,
         optimizer: dict[str, np.ndarray] | None = None,
         carry: dict[str, np.ndarray] | None = None) -> None:
    """Write a checkpoint atomically. ``meta`` must be JSON-serialisable and
    hold at least ``step``, ``vocab`` and ``config`` (with ``hidden``)."""
    path = Path(path)
    arrays = {"meta": np.array(json.dumps({"format": FORMAT, **meta}))}
    for prefix, group in (("param", params), ("optim", optimizer or {}), ("carry", carry or {})):
        arrays.update({f"{prefix}/{key}": np.asarray(value) for key, value in group.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())          # mkstemp makes it private; use the usual mode
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (not possible on every platform)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path) -> Checkpoint:
    """Read and check a checkpoint written by :func:`save`.

    Raises CheckpointError if the file is missing, truncated or corrupt, is
    not a minigrad checkpoint, or holds parameters whose shapes do not fit
    its own vocabulary and hidden size, or that are not finite.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt?): "
                              f"{error}") from None
    if "meta" not in arrays:
        raise CheckpointError(f"{path} is an .npz file but not a minigrad checkpoint (no 'meta')")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except (json.JSONDecodeError, TypeError) as error:
        raise CheckpointError(f"{path}: its metadata is not valid JSON: {error}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise CheckpointError(f"{path}: unknown checkpoint format {found!r}, expected {FORMAT!r}")
    groups = {"param": {}, "optim": {}, "carry": {}}
    for key, value in arrays.items():
        prefix, _, name = key.partition("/")
        if prefix not in groups or not name:
            raise CheckpointError(f"{path}: unexpected entry {key!r}")
        groups[prefix][name] = value
    checkpoint = Checkpoint(groups["param"], meta, groups["optim"], groups["carry"])
    _check(path, checkpoint)
    return checkpoint


def _check(path: Path, checkpoint: Checkpoint) -> None:
    meta = checkpoint.meta
    for key in ("step", "vocab", "config"):
        if key not in meta:
            raise CheckpointError(f"{path}: metadata lacks {key!r}")
    try:
        K, H = len(meta["vocab"]), int(meta["config"]["hidden"])
    except (TypeError, KeyError, ValueError):
        raise CheckpointError(f"{path}: metadata needs a vocabulary string and config.hidden") from None
    expected = {"U": (H, K), "W": (H, H), "V": (K, H), "b": (H,), "c": (K,)}
    missing = [name for name in PARAMETER_NAMES if name not in checkpoint.params]
    if missing:
        raise CheckpointError(f"{path}: parameters {missing} are missing")
    for name, shape in expected.items():
        value = checkpoint.params[name]
        if value.shape != shape:
            raise CheckpointError(
                f"{path}: parameter {name} has shape {value.shape}, but a vocabulary of {K} "
                f"characters and hidden size {H} need {shape}")
        if not np.issubdtype(value.dtype, np.floating) or not np.all(np.isfinite(value)):
            raise CheckpointError(f"{path}: parameter {name} is not a finite float array")
