"""Checkpoints: one ``.npz`` holding everything needed to continue training.

Layout (all plain numeric or unicode arrays, so ``np.load(...,
allow_pickle=False)`` reads it)::

    meta            0-d unicode array: JSON with format, step, vocab, config,
                    RNG state, the metrics history and the model record (below)
    param/<name>    the model's parameter arrays, named as the model names them
    optim/<key>     the optimiser's state (see Optimizer.state_dict)
    carry/<name>    state carried between steps (h, and c for an LSTM: TBPTT)

The model record, ``meta["model"]``, says what the arrays are: ``cell`` (its kind:
"rnn", "lstm", "gru"), ``input_size`` D, ``hidden_size`` H, ``output_size`` K, the
structure (``layers`` L and ``bidirectional``), the cell's ``options`` (e.g.
``{"forget_bias": 1.0}``), the ``parameters`` (name → shape, in the model's order) and the
carried ``state`` names (each (H, B) for one layer, (L·directions, H, B) for a stack). Every
entry's dtype and shape is checked against it, and :func:`describe` writes it in messages
("a 1-layer lstm with H = 64, D = 9"), so a mismatch names both sides. A format-2 record
without ``layers`` (written before stacks) is one forward layer.

An encoder–decoder (:mod:`rnn.seq2seq`) has ``architecture`` "seq2seq" and one such record
(without parameters and state) for its ``encoder`` and its ``decoder``; its sizes count the
task's vocabulary (``meta["vocab"]``, the task's symbols) and the 3 reserved ids
(rnn.tasks: padding, start, end).

Files of format 1 (written before there were cells) hold a vanilla RNN; they are read by
one rule: their model is cell "rnn" with D = K = the vocabulary's size and H = the
config's ``hidden``, and the config's old names are read as the new ones (``hidden`` →
``hidden_size``, ``seed`` → ``random_seed``, ``lr_final`` → ``lr_final_fraction``;
a file with both an old and a new name is refused). :func:`save` always writes format 2.

:func:`save` writes atomically: a temporary file in the same directory
(``.<name>.<pid>.<random>.tmp``) is written, flushed and fsynced, then renamed
over the target with ``os.replace``, so a crash mid-write leaves the previous
checkpoint intact; temporary files left by processes that no longer run are
removed on the next save. Non-finite parameters, and parameters that are not what
the model record says, are never written.

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
>>> arrays = {"U": np.zeros((2, 2)), "W": np.eye(2), "b": np.zeros(2), "V": np.zeros((2, 2)),
...           "c": np.zeros(2)}
>>> model = record("rnn", input_size=2, hidden_size=2, output_size=2, state=("h",),
...                parameters={name: a.shape for name, a in arrays.items()})
>>> save(path, arrays, meta={"step": 3, "vocab": "ab", "config": {}, "model": model})
>>> saved = load(path)
>>> saved.meta["step"], saved.arrays["W"].shape, describe(saved.model)
(3, (2, 2), 'a 1-layer rnn with H = 2, D = 2')
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

__all__ = ["Checkpoint", "CheckpointError", "save", "load", "record", "describe",
           "write_text", "remove_stale_temporaries", "FORMAT", "MAX_META_CHARS"]

FORMAT = "minigrad-rnn-checkpoint/2"
FORMAT_1 = "minigrad-rnn-checkpoint/1"      # vanilla only, the config's old names (see above)
RENAMED = {"hidden": "hidden_size", "seed": "random_seed", "lr_final": "lr_final_fraction"}
MAX_META_CHARS = 2 ** 24                      # the JSON metadata: at most 16 Mi characters
FLOAT64 = np.dtype(np.float64)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, truncated, corrupt or mismatched."""


@dataclass
class Checkpoint:
    """The contents of one checkpoint file (see the module docstring): the parameter
    ``arrays`` by name, the metadata, the optimiser's state and the carried state."""

    arrays: dict[str, np.ndarray]
    meta: dict
    optimizer: dict[str, np.ndarray] = field(default_factory=dict)
    carry: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def model(self) -> dict:
        """The model record: cell, sizes, options, parameter shapes, state names."""
        return self.meta["model"]


def record(cell: str, *, input_size: int, hidden_size: int, output_size: int,
           parameters: dict, state, options: dict | None = None, layers: int = 1,
           bidirectional: bool = False) -> dict:
    """The model record of ``meta["model"]`` (plain JSON values): the cell's kind, the
    sizes, the structure, the cell's options, each parameter's shape by name and the state
    names."""
    return {"cell": cell, "input_size": int(input_size), "hidden_size": int(hidden_size),
            "output_size": int(output_size), "layers": int(layers),
            "bidirectional": bool(bidirectional), "options": dict(options or {}),
            "parameters": {name: [int(n) for n in shape] for name, shape in parameters.items()},
            "state": list(state)}


def describe(model: dict) -> str:
    """A model record as messages write it: "a 2-layer bidirectional lstm with H = 64, D = 9
    (forget_bias = 1.0)"; an encoder–decoder's names its encoder and its decoder.

    >>> describe({"cell": "gru", "hidden_size": 32, "input_size": 9, "output_size": 9})
    'a 1-layer gru with H = 32, D = 9'
    """
    if model.get("architecture") == "seq2seq":
        return (f"an encoder–decoder of {_stack(model['encoder'])} encoder and "
                f"{_stack(model['decoder'])} decoder, K = {model.get('output_size')}")
    sizes = ""
    if model.get("output_size") != model["input_size"]:
        sizes = f", K = {model.get('output_size')}"
    return _stack(model, sizes)


def _stack(model: dict, more: str = "") -> str:
    """"a 2-layer bidirectional gru with H = 8, D = 5 (options)" (no K)."""
    layers = model.get("layers", 1)
    article = "an" if str(layers).startswith("8") or layers in (11, 18) else "a"
    kind = f"{layers}-layer {'bidirectional ' if model.get('bidirectional') else ''}"
    sizes = f"H = {model['hidden_size']}, D = {model['input_size']}{more}"
    options = ", ".join(f"{k} = {v!r}" for k, v in sorted(model.get("options", {}).items()))
    return (f"{article} {kind}{model['cell']} with {sizes}"
            + (f" ({options})" if options else ""))


# -- saving ------------------------------------------------------------------------------

def save(path, arrays: dict[str, np.ndarray], meta: dict,
         optimizer: dict[str, np.ndarray] | None = None,
         carry: dict[str, np.ndarray] | None = None) -> None:
    """Write a checkpoint of the parameter ``arrays`` atomically. ``meta`` must be
    JSON-serialisable and hold at least ``step``, ``vocab``, ``config`` and ``model``
    (a :func:`record` naming exactly the arrays, with their shapes). CheckpointError,
    naming the path, if the metadata is not what :func:`load` accepts or is too large, a
    parameter is not finite or not as the record says, or the file cannot be written (the
    previous checkpoint at ``path`` is then untouched)."""
    path = Path(path)
    meta = {"format": FORMAT, **meta}
    try:
        _check_meta(path, meta)
    except CheckpointError as error:
        raise CheckpointError(f"refusing to write {error}") from None
    shapes = {name: tuple(shape) for name, shape in meta["model"]["parameters"].items()}
    for name, value in arrays.items():
        if name not in shapes or np.shape(value) != shapes[name]:
            raise CheckpointError(f"refusing to write {path}: parameter {name} has shape "
                                  f"{np.shape(value)}, and the model record says "
                                  f"{shapes.get(name, 'there is no such parameter')}")
        if not np.all(np.isfinite(value)):
            raise CheckpointError(f"refusing to write {path}: parameter {name} is not finite")
    missing = [name for name in shapes if name not in arrays]
    if missing:
        raise CheckpointError(f"refusing to write {path}: parameters {missing} are missing")
    text = json.dumps(meta)
    if len(text) > MAX_META_CHARS:
        raise CheckpointError(f"refusing to write {path}: its metadata has {len(text)} "
                              f"characters, more than {MAX_META_CHARS} that load accepts")
    entries = {"meta": np.array(text)}
    for prefix, group in (("param", arrays), ("optim", optimizer or {}), ("carry", carry or {})):
        entries.update({f"{prefix}/{key}": np.asarray(value) for key, value in group.items()})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        _write_atomically(path, lambda f: np.savez(f, **entries))
    except OSError as error:
        raise CheckpointError(f"cannot write {path}: {error.strerror or error}") from None


def write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, as :func:`save` writes a checkpoint
    (e.g. a report next to it); CheckpointError naming the path if it cannot be written."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        _write_atomically(path, lambda f: f.write(text.encode("utf-8")))
    except OSError as error:
        raise CheckpointError(f"cannot write {path}: {error.strerror or error}") from None


def _write_atomically(path: Path, write) -> None:
    """``write(f)`` into a temporary file next to ``path``, fsynced, renamed over it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp",
                               dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())          # mkstemp makes it private; use the usual mode
        with os.fdopen(fd, "wb") as f:
            write(f)
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
    if not isinstance(meta, dict) or meta.get("format") not in (FORMAT, FORMAT_1):
        found = meta.get("format") if isinstance(meta, dict) else None
        raise CheckpointError(f"{path}: unknown checkpoint format {found!r}, expected {FORMAT!r} "
                              f"(or {FORMAT_1!r})")
    if meta["format"] == FORMAT_1:
        meta = _from_format_1(path, meta)
    model = meta.get("model")
    if isinstance(model, dict) and model.get("architecture") is None:
        meta["model"] = {"layers": 1, "bidirectional": False, **model}   # before stacks
    _check_meta(path, meta)
    return meta


def _from_format_1(path: Path, meta: dict) -> dict:
    """A format-1 file's metadata read by the rule of the module docstring: a vanilla RNN,
    the config's old names read as the new ones."""
    config, vocab = meta.get("config"), meta.get("vocab")
    if not isinstance(config, dict) or not isinstance(vocab, str) or "model" in meta:
        return meta                                  # _check_meta names what is wrong
    both = [f"{old!r} and {new!r}" for old, new in RENAMED.items()
            if old in config and new in config]
    if both:
        raise CheckpointError(f"{path}: a format-1 config with both {'; '.join(both)}")
    config = {"cell": "rnn", **{RENAMED.get(k, k): v for k, v in config.items()}}
    H, K = config.get("hidden_size"), len(vocab)
    if not _is_int(H, 1):
        raise CheckpointError(f"{path}: metadata: config must be a dict whose hidden is an "
                              f"integer ≥ 1")
    shapes = {"U": (H, K), "W": (H, H), "V": (K, H), "b": (H,), "c": (K,)}
    model = record("rnn", input_size=K, hidden_size=H, output_size=K, parameters=shapes,
                   state=("h",))
    return {**meta, "config": config, "model": model}


def _is_int(value, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _check_meta(path: Path, meta: dict) -> None:
    for key in ("step", "vocab", "config", "model"):
        if key not in meta:
            raise CheckpointError(f"{path}: metadata lacks {key!r}")
    vocab, config = meta["vocab"], meta["config"]
    problems = [
        (_is_int(meta["step"], 0), f"step must be an integer ≥ 0, got {meta['step']!r}"),
        (isinstance(vocab, str) and vocab and len(set(vocab)) == len(vocab),
         f"vocab must be a string of distinct characters, got {vocab!r:.80}"),
        (isinstance(config, dict), "config must be a dict"),
        (isinstance(config, dict) and (config.get("batch") is None or _is_int(config["batch"], 1)),
         "config.batch must be an integer ≥ 1"),
        (isinstance(meta.get("history", []), list)
         and all(isinstance(row, dict) for row in meta.get("history", [])),
         "history must be a list of rows"),
        (isinstance(meta.get("rng", {}), dict), "rng must be a dict"),
        *_model_problems(meta["model"], _symbols(meta["model"], vocab)),
    ]
    for ok, message in problems:
        if not ok:
            raise CheckpointError(f"{path}: metadata: {message}")


def _symbols(model, vocab) -> int | None:
    """The ids the model reads and writes: the vocabulary's characters, and for an
    encoder–decoder the reserved ids too."""
    if not isinstance(vocab, str):
        return None
    if isinstance(model, dict) and model.get("architecture") == "seq2seq":
        from rnn.tasks import RESERVED
        return len(vocab) + len(RESERVED)
    return len(vocab)


def _model_problems(model, K: int | None) -> list[tuple[bool, str]]:
    """(ok, message) for each requirement of the model record."""
    if not isinstance(model, dict):
        return [(False, f"model must be a dict, got {model!r:.80}")]
    parameters, state = model.get("parameters"), model.get("state")
    if model.get("architecture") is not None:
        if model["architecture"] != "seq2seq":
            return [(False, f"model.architecture must be 'seq2seq' or absent, got "
                            f"{model['architecture']!r:.80}")]
        parts = [model.get("encoder"), model.get("decoder")]
        return [
            *(problem for part in parts
              for problem in _stack_problems(part, K)),
            (_is_int(model.get("output_size"), 1) and model["output_size"] == K,
             f"model.output_size must be the vocabulary's {K} ids, got "
             f"{model.get('output_size')!r}"),
            _parameters_problem(parameters),
            (isinstance(state, list), "model.state must be a list"),
        ]
    return [*_stack_problems(model, K), _parameters_problem(parameters),
            (isinstance(state, list) and state and state[0] == "h"
             and all(isinstance(n, str) and n.isidentifier() for n in state)
             and len(set(state)) == len(state),
             f"model.state must list distinct state names, h first, got {state!r:.80}"),
            (model.get("output_size") == K,
             f"model's output_size must be the vocabulary's size {K}, got "
             f"{model.get('output_size')!r}")]


def _parameters_problem(parameters) -> tuple[bool, str]:
    return (isinstance(parameters, dict) and parameters
            and all(isinstance(n, str) and all(part.isidentifier() for part in n.split("."))
                    and isinstance(shape, list) and 1 <= len(shape) <= 2
                    and all(_is_int(d, 1) for d in shape) for n, shape in parameters.items()),
            "model.parameters must map names to shapes of 1 or 2 sizes ≥ 1")


def _stack_problems(model, K: int | None) -> list[tuple[bool, str]]:
    """(ok, message) for each requirement of a stack's record: cell, sizes (it reads the
    vocabulary's K ids), structure, options."""
    if not isinstance(model, dict):
        return [(False, f"a model record must be a dict, got {model!r:.80}")]
    sizes = [model.get(k) for k in ("input_size", "hidden_size")]
    return [
        (isinstance(model.get("cell"), str) and model["cell"].isidentifier(),
         f"model.cell must be a cell's name, got {model.get('cell')!r:.80}"),
        (all(_is_int(n, 1) for n in sizes),
         f"model's input_size and hidden_size must be integers ≥ 1, got {sizes}"),
        (model.get("input_size") == K,
         f"model's input_size must be the vocabulary's size {K}, got {sizes[0]!r}"),
        (_is_int(model.get("layers"), 1) and isinstance(model.get("bidirectional"), bool),
         f"model.layers must be an integer ≥ 1 and model.bidirectional true or false, got "
         f"{model.get('layers')!r:.20} and {model.get('bidirectional')!r:.20}"),
        (isinstance(model.get("options", {}), dict)
         and all(isinstance(v, (int, float, str, bool, type(None)))
                 for v in model.get("options", {}).values()),
         "model.options must be a dict of numbers, strings or null"),
    ]


def _expected_entries(meta: dict) -> dict[str, tuple]:
    """What each entry must be, from the model record (parameter shapes, state names, H),
    the batch B and the optimiser named in the metadata: key → (dtype name, shape)."""
    from rnn.optim import OPTIMIZERS

    model, config = meta["model"], meta["config"]
    shapes = {name: tuple(shape) for name, shape in model["parameters"].items()}
    expected = {f"param/{name}": ("float64", shape) for name, shape in shapes.items()}
    stacked = model.get("layers", 1) * (1 + model.get("bidirectional", False))
    carried = (model.get("hidden_size"), config.get("batch"))
    expected.update({f"carry/{name}": ("float64", carried if stacked == 1 else (stacked, *carried))
                     for name in model["state"]})
    optimizer = OPTIMIZERS.get(config.get("optimizer"))
    if optimizer is not None:
        expected["optim/steps"] = ("integer", ())
        expected.update({f"optim/{slot}/{name}": ("float64", shape)
                         for slot in optimizer.slots for name, shape in shapes.items()})
    return expected


def _check_params(path: Path, checkpoint: Checkpoint) -> None:
    names = checkpoint.model["parameters"]
    missing = [name for name in names if name not in checkpoint.arrays]
    if missing:
        raise CheckpointError(f"{path}: parameters {missing} are missing")
    for name in names:
        if not np.all(np.isfinite(checkpoint.arrays[name])):
            raise CheckpointError(f"{path}: parameter {name} is not a finite float array")
