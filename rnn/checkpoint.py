"""Checkpoints: one ``.npz`` holding everything needed to continue training.

Layout (all plain numeric or unicode arrays, so ``np.load(...,
allow_pickle=False)`` reads it)::

    meta            0-d unicode array: JSON with format, step, vocab, config,
                    RNG state and the metrics history
    param/<name>    the RNN's U, W, V, b, c
    optim/<key>     the optimiser's state (see Optimizer.state_dict)
    carry/<name>    state carried between steps (the hidden state of TBPTT)

:func:`save` writes atomically: a temporary file in the same directory
(``.<name>.<pid>.<random>.tmp``) is written, flushed and fsynced, then renamed
over the target with ``os.replace``, so a crash mid-write leaves the previous
checkpoint intact; temporary files left by processes that no longer run are
removed on the next save. Non-finite parameters are never written.

:func:`load` never lets numpy read an entry unchecked: it reads the zip
directory and each entry's ``.npy`` header itself, refuses unknown,
duplicated, compressed, encrypted or overlapping entries and any dtype or
shape other than the one the metadata implies, and only then reads exactly
the declared bytes. So loading allocates at most about the file's own size
(plus the 64 MiB metadata bound), and every failure is a
:class:`CheckpointError` with a plain message, never a traceback or numpy's
pickle hint.

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

import glob
import json
import math
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Checkpoint", "CheckpointError", "save", "load", "remove_stale_temporaries",
           "FORMAT", "MAX_META_CHARS"]

FORMAT = "minigrad-rnn-checkpoint/1"
PARAMETER_NAMES = ("U", "W", "V", "b", "c")   # same order as rnn.model, without importing minigrad
MAX_META_CHARS = 2 ** 24                      # the JSON metadata: at most 16 Mi characters
FLOAT64 = np.dtype(np.float64)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, truncated, corrupt or mismatched."""


@dataclass
class Checkpoint:
    """The contents of one checkpoint file (see the module docstring)."""

    params: dict[str, np.ndarray]
    meta: dict
    optimizer: dict[str, np.ndarray] = field(default_factory=dict)
    carry: dict[str, np.ndarray] = field(default_factory=dict)


# -- saving ------------------------------------------------------------------------------

def save(path, params: dict[str, np.ndarray], meta: dict,
         optimizer: dict[str, np.ndarray] | None = None,
         carry: dict[str, np.ndarray] | None = None) -> None:
    """Write a checkpoint atomically. ``meta`` must be JSON-serialisable and
    hold at least ``step``, ``vocab`` and ``config`` (with ``hidden``).
    CheckpointError, naming the path, if a parameter is not finite, the
    metadata is too large, or the file cannot be written (the previous
    checkpoint at ``path`` is then untouched)."""
    path = Path(path)
    for name, value in params.items():
        if not np.all(np.isfinite(value)):
            raise CheckpointError(f"refusing to write {path}: parameter {name} is not finite")
    text = json.dumps({"format": FORMAT, **meta})
    if len(text) > MAX_META_CHARS:
        raise CheckpointError(f"refusing to write {path}: its metadata has {len(text)} "
                              f"characters, more than {MAX_META_CHARS} that load accepts")
    arrays = {"meta": np.array(text)}
    for prefix, group in (("param", params), ("optim", optimizer or {}), ("carry", carry or {})):
        arrays.update({f"{prefix}/{key}": np.asarray(value) for key, value in group.items()})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        _write_atomically(path, arrays)
    except OSError as error:
        raise CheckpointError(f"cannot write {path}: {error.strerror or error}") from None


def _write_atomically(path: Path, arrays: dict[str, np.ndarray]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                               dir=path.parent)
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


def remove_stale_temporaries(path) -> list[Path]:
    """Delete the temporary files of :func:`save` next to ``path`` whose
    writing process no longer runs (left by a crash or SIGKILL); returns them."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(?:(\d+)\.)?\w+\.tmp")
    removed = []
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        match = pattern.fullmatch(candidate.name)
        if match and not (match.group(1) and _running(int(match.group(1)))):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True          # someone else's process (or unknowable): leave its file alone
    return True


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


# -- loading -----------------------------------------------------------------------------

def load(path) -> Checkpoint:
    """Read and check a checkpoint written by :func:`save`.

    Raises CheckpointError if the file is missing, truncated or corrupt, is
    not a minigrad checkpoint, holds entries other than those its metadata
    implies (each with its dtype and shape, checked from the ``.npy`` header
    before any data is read), or parameters that are not finite.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        size = path.stat().st_size
        with zipfile.ZipFile(path) as z:
            entries = _entries(path, z, size)
            if "meta" not in entries:
                raise CheckpointError(f"{path} is an .npz file but not a minigrad checkpoint "
                                      f"(no 'meta')")
            meta = _read_meta(path, z, entries.pop("meta"))
            expected = _expected_entries(meta)
            unknown = sorted(entries.keys() - expected.keys())
            if unknown:
                raise CheckpointError(f"{path}: unexpected entries {unknown}")
            arrays = {key: _read_entry(path, z, info, *expected[key])
                      for key, info in entries.items()}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            NotImplementedError, RuntimeError, OverflowError, KeyError) as error:
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt?): "
                              f"{type(error).__name__}: {error}") from None
    groups = {"param": {}, "optim": {}, "carry": {}}
    for key, value in arrays.items():
        prefix, _, name = key.partition("/")
        groups[prefix][name] = value
    checkpoint = Checkpoint(groups["param"], meta, groups["optim"], groups["carry"])
    _check_params(path, checkpoint)
    return checkpoint


def _entries(path: Path, z: zipfile.ZipFile, size: int) -> dict[str, zipfile.ZipInfo]:
    """The zip's entries by name without ``.npy``, each stored plainly and
    within the file; the entries together cannot claim more than the file holds."""
    entries, claimed = {}, 0
    for info in z.infolist():
        key = info.filename[:-4] if info.filename.endswith(".npy") else None
        if key is None or key in entries:
            what = "a second" if key in entries else "an unexpected"
            raise CheckpointError(f"{path}: {what} entry {info.filename!r}")
        if info.flag_bits & 0x1:
            raise CheckpointError(f"{path}: entry {key!r} is encrypted")
        if info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(f"{path}: entry {key!r} is compressed (zip method "
                                  f"{info.compress_type}); checkpoints are stored uncompressed")
        claimed += info.file_size
        if info.compress_size != info.file_size or claimed > size:
            raise CheckpointError(f"{path}: entry {key!r} claims more bytes than the file "
                                  f"holds ({size} bytes)")
        entries[key] = info
    return entries


def _read_header(f, key: str):
    """(shape, fortran_order, dtype) from an entry's ``.npy`` header. numpy parses
    the header text with Python's tokenizer, which fails in many ways on
    corrupt bytes; every one of them means the same thing here."""
    version = np.lib.format.read_magic(f)
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise ValueError(f"entry {key!r} has .npy format version {version}")
    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
            else np.lib.format.read_array_header_2_0)
    try:
        return read(f)
    except Exception as error:           # TokenError, SyntaxError, TypeError, ValueError, …
        raise ValueError(f"entry {key!r} has an unreadable .npy header "
                         f"({type(error).__name__}: {error})") from None


DTYPES = {"float64": lambda d: d.kind == "f" and d.itemsize == 8,
          "integer": lambda d: d.kind in "iu" and d.itemsize <= 8,
          "text": lambda d: d.kind == "U"}


def _read_entry(path: Path, z: zipfile.ZipFile, info: zipfile.ZipInfo, dtype_name: str,
                shape: tuple, max_bytes: int | None = None) -> np.ndarray:
    """One ``.npy`` entry whose header must declare a dtype of ``DTYPES[dtype_name]``
    and ``shape`` (None: any length on that axis), and at most ``max_bytes`` of
    data, before its data is read."""
    key = info.filename[:-4]
    with z.open(info) as f:
        declared, fortran, dtype = _read_header(f, key)
        fits = len(declared) == len(shape) and all(e in (None, d) for e, d in zip(shape, declared))
        if dtype.hasobject or not DTYPES[dtype_name](dtype) or not fits:
            wanted = "×".join("n" if e is None else str(e) for e in shape) or "0-d"
            raise CheckpointError(f"{path}: entry {key!r} declares dtype {dtype} and shape "
                                  f"{declared}; this checkpoint's {key} must be {dtype_name} "
                                  f"of shape {wanted}")
        nbytes = dtype.itemsize * math.prod(declared)
        if max_bytes is not None and nbytes > max_bytes:
            raise CheckpointError(f"{path}: entry {key!r} declares {nbytes} bytes, more than "
                                  f"the {max_bytes} a checkpoint's {key} may hold")
        if info.file_size != f.tell() + nbytes:
            raise CheckpointError(f"{path}: entry {key!r} declares {nbytes} bytes of data but "
                                  f"holds {info.file_size - f.tell()}")
        data = f.read(nbytes)
    if len(data) != nbytes:
        raise CheckpointError(f"{path}: entry {key!r} is truncated")
    array = np.frombuffer(data, dtype=dtype).reshape(declared, order="F" if fortran else "C")
    return np.array(array, dtype=dtype.newbyteorder("="))


def _read_meta(path: Path, z: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict:
    text = _read_entry(path, z, info, "text", (), max_bytes=4 * MAX_META_CHARS)
    try:
        meta = json.loads(str(text[()]))
    except (json.JSONDecodeError, RecursionError) as error:
        raise CheckpointError(f"{path}: its metadata is not valid JSON: {error}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise CheckpointError(f"{path}: unknown checkpoint format {found!r}, expected {FORMAT!r}")
    _check_meta(path, meta)
    return meta


def _is_int(value, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _check_meta(path: Path, meta: dict) -> None:
    for key in ("step", "vocab", "config"):
        if key not in meta:
            raise CheckpointError(f"{path}: metadata lacks {key!r}")
    vocab, config = meta["vocab"], meta["config"]
    problems = [
        (_is_int(meta["step"], 0), f"step must be an integer ≥ 0, got {meta['step']!r}"),
        (isinstance(vocab, str) and vocab and len(set(vocab)) == len(vocab),
         f"vocab must be a string of distinct characters, got {vocab!r:.80}"),
        (isinstance(config, dict) and _is_int(config.get("hidden"), 1),
         "config must be a dict whose hidden is an integer ≥ 1"),
        (isinstance(config, dict) and (config.get("batch") is None or _is_int(config["batch"], 1)),
         "config.batch must be an integer ≥ 1"),
        (isinstance(meta.get("history", []), list)
         and all(isinstance(row, dict) for row in meta.get("history", [])),
         "history must be a list of rows"),
        (isinstance(meta.get("rng", {}), dict), "rng must be a dict"),
    ]
    for ok, message in problems:
        if not ok:
            raise CheckpointError(f"{path}: metadata: {message}")


def _expected_entries(meta: dict) -> dict[str, tuple]:
    """What each entry must be, from the vocabulary size K, the hidden size H,
    the batch B and the optimiser named in the metadata: key → (dtype name, shape)."""
    from rnn.optim import OPTIMIZERS

    config = meta["config"]
    K, H, B = len(meta["vocab"]), config["hidden"], config.get("batch")
    shapes = {"U": (H, K), "W": (H, H), "V": (K, H), "b": (H,), "c": (K,)}
    expected = {f"param/{name}": ("float64", shape) for name, shape in shapes.items()}
    expected["carry/h"] = ("float64", (H, B))
    optimizer = OPTIMIZERS.get(config.get("optimizer"))
    if optimizer is not None:
        expected["optim/steps"] = ("integer", ())
        expected.update({f"optim/{slot}/{name}": ("float64", shape)
                         for slot in optimizer.slots for name, shape in shapes.items()})
    return expected


def _check_params(path: Path, checkpoint: Checkpoint) -> None:
    missing = [name for name in PARAMETER_NAMES if name not in checkpoint.params]
    if missing:
        raise CheckpointError(f"{path}: parameters {missing} are missing")
    for name in PARAMETER_NAMES:
        if not np.all(np.isfinite(checkpoint.params[name])):
            raise CheckpointError(f"{path}: parameter {name} is not a finite float array")
