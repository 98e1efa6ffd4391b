"""Checkpoint fuzzing with a fixed seed: truncations, byte flips, edited .npy headers and zip
records, crafted metadata and decompression bombs. Every case must end in CheckpointError
(with a message of our own, never numpy's pickle hint) or in a load that returns exactly what
the file holds; never another exception, and never an allocation beyond a bound."""
import dataclasses
import io
import json
import struct
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

from rnn import checkpoint
from rnn.checkpoint import CheckpointError
from rnn.train import TrainConfig, Trainer

SEED = 20261201
CONFIG = TrainConfig(grammar="reber", hidden_size=4, tau=4, batch=2, steps=3, train_strings=40,
                     validation_strings=10, eval_every=3, out=None, progress=False)
BOUND = 2 * 2 ** 20           # bytes a load may allocate beyond 4 × the file's size


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """The bytes of a real checkpoint (Adam state, carried h, metrics history)."""
    path = tmp_path_factory.mktemp("good") / "checkpoint.npz"
    trainer = Trainer(dataclasses.replace(CONFIG, out=str(path.parent)))
    trainer.run(log=None)
    return path.read_bytes()


def _entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


def _zip(entries: dict[str, bytes], method=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as z:
        for name, content in entries.items():
            z.writestr(name, content)
    return buffer.getvalue()


def _npy(header: str, body: bytes = b"") -> bytes:
    """A version 1.0 .npy file with the given header dict text, unchecked."""
    text = header + " " * (-(len(header) + 11) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1") + body


def _meta(data: bytes) -> dict:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return json.loads(str(z["meta"]))


def _with_meta(data: bytes, meta) -> bytes:
    entries = _entries(data)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array(json.dumps(meta)))
    entries["meta.npy"] = buffer.getvalue()
    return _zip(entries)


def _check(path, data: bytes) -> str:
    """Load ``data`` from ``path``: 'refused' or 'loaded' (checked against numpy's own
    reading of the same bytes); anything else fails the test."""
    path.write_bytes(data)
    tracemalloc.start()
    try:
        loaded = checkpoint.load(path)
    except CheckpointError as error:
        message = str(error)
        assert message.startswith(str(path)) or message.startswith(f"no checkpoint at {path}")
        assert "allow_pickle" not in message and "Traceback" not in message
        return "refused"
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak <= 4 * len(data) + BOUND, f"{peak} bytes allocated for {len(data)}"
    with np.load(path, allow_pickle=False) as z:           # what the file really holds
        assert json.loads(str(z["meta"])) == {"format": checkpoint.FORMAT, **loaded.meta} \
            or json.loads(str(z["meta"])) == loaded.meta
        for group, arrays in (("param", loaded.arrays), ("optim", loaded.optimizer),
                              ("carry", loaded.carry)):
            for key, value in arrays.items():
                assert np.array_equal(z[f"{group}/{key}"], value, equal_nan=True)
    return "loaded"


def test_the_unchanged_checkpoint_loads(tmp_path, good):
    assert _check(tmp_path / "c.npz", good) == "loaded"


def test_every_truncation_is_refused(tmp_path, good):
    lengths = sorted({*range(0, 200), *range(len(good) - 200, len(good)),
                      *np.random.default_rng(SEED).integers(0, len(good), 200).tolist()})
    outcomes = [_check(tmp_path / "c.npz", good[:n]) for n in lengths]
    assert outcomes == ["refused"] * len(lengths)        # 600 cases


def test_byte_flips_are_refused_or_load_what_the_file_holds(tmp_path, good):
    rng = np.random.default_rng(SEED)
    outcomes = []
    for _ in range(600):
        data = bytearray(good)
        at = int(rng.integers(0, len(data)))
        run = int(rng.choice([1, 1, 1, 4, 16]))
        for k in range(at, min(at + run, len(data))):
            data[k] ^= int(rng.integers(1, 256))
        outcomes.append(_check(tmp_path / "c.npz", bytes(data)))
    assert outcomes.count("refused") > 500               # a few land where nothing is read


def _header_edits(good):
    """(what, bytes) for edited .npy headers of the parameter W and of the metadata."""
    entries = _entries(good)
    w = entries["param/W.npy"]
    H = CONFIG.hidden_size
    body = w[-8 * H * H:]
    headers = {
        "shape 10^12": "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }",
        "shape 10^6 x 10^6":
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }",
        "shape (H, H+1)": f"{{'descr': '<f8', 'fortran_order': False, 'shape': ({H}, {H + 1}), }}",
        "negative shape": f"{{'descr': '<f8', 'fortran_order': False, 'shape': ({H}, -{H}), }}",
        "object dtype": f"{{'descr': '|O', 'fortran_order': False, 'shape': ({H}, {H}), }}",
        "float32": f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({H}, {H}), }}",
        "huge unicode": "{'descr': '<U1000000000', 'fortran_order': False, 'shape': (), }",
        "structured": f"{{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': ({H}, {H}), }}",
        "big-endian": f"{{'descr': '>f8', 'fortran_order': False, 'shape': ({H}, {H}), }}",
        "fortran": f"{{'descr': '<f8', 'fortran_order': True, 'shape': ({H}, {H}), }}",
        "not a dict": "[1, 2, 3]",
        "a call": "__import__('os').system('echo pwned')",
        "missing keys": "{'descr': '<f8'}",
        "garbage": "{{{{",
    }
    for what, header in headers.items():
        yield what, _zip({**entries, "param/W.npy": _npy(header, body)})
    yield "bad magic", _zip({**entries, "param/W.npy": b"\x93NUMPZ" + w[6:]})
    yield "version 9", _zip({**entries, "param/W.npy": w[:6] + b"\x09\x00" + w[8:]})
    yield "header length 65535", _zip({**entries, "param/W.npy": w[:8] + b"\xff\xff" + w[10:]})
    yield "meta as float", _zip({**entries, "meta.npy": w})
    yield "meta huge", _zip({**entries, "meta.npy": _npy(
        "{'descr': '<U100000000', 'fortran_order': False, 'shape': (), }")})


def _zip_edits(good):
    entries = _entries(good)
    yield "deflated", _zip(entries, zipfile.ZIP_DEFLATED)
    yield "unknown entry", _zip({**entries, "param/X.npy": entries["param/W.npy"]})
    yield "entry outside the layout", _zip({**entries, "../../evil.npy": entries["param/W.npy"]})
    yield "not .npy", _zip({**entries, "notes.txt": b"hello"})
    yield "no meta", _zip({k: v for k, v in entries.items() if k != "meta.npy"})
    yield "no W", _zip({k: v for k, v in entries.items() if k != "param/W.npy"})
    duplicate = io.BytesIO()
    with zipfile.ZipFile(duplicate, "w") as z, pytest.warns(UserWarning, match="Duplicate"):
        for name, content in [*entries.items(), ("param/W.npy", entries["param/W.npy"])]:
            z.writestr(name, content)
    yield "duplicate entry", duplicate.getvalue()
    # Central-directory records edited in place: method, flags, sizes.
    for what, offset, fmt, value in [("method 99", 10, "<H", 99), ("method 8", 10, "<H", 8),
                                     ("encrypted", 8, "<H", 1),
                                     ("claims 4 GB", 24, "<I", 0xFFFFFFF0),
                                     ("claims 0 bytes", 24, "<I", 0)]:
        data = bytearray(good)
        at = data.find(b"PK\x01\x02")             # the first central-directory record
        while at >= 0:
            struct.pack_into(fmt, data, at + offset, value)
            at = data.find(b"PK\x01\x02", at + 4)
        yield what, bytes(data)


def _bombs(good):
    """Entries that inflate to 64 MiB (and claim 1 TiB) from a few kilobytes."""
    entries = _entries(good)
    zeros = _npy("{'descr': '<f8', 'fortran_order': False, 'shape': (8388608,), }",
                 bytes(64 * 2 ** 20))
    for name in ("param/W.npy", "bomb.npy"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            for key, content in entries.items():
                if key != name:
                    z.writestr(key, content, compress_type=zipfile.ZIP_STORED)
            z.writestr(name, zeros)
        yield f"64 MiB deflated as {name}", buffer.getvalue()
    # Overlapping entries: every record points at the same stored data (a zip "quine").
    data = bytearray(_zip({**entries}))
    first = data.find(b"PK\x01\x02")
    offset = struct.unpack_from("<I", data, first + 42)[0]
    at = first
    while at >= 0:
        struct.pack_into("<I", data, at + 42, offset)
        at = data.find(b"PK\x01\x02", at + 4)
    yield "overlapping entries", bytes(data)


def _meta_edits(good):
    meta = _meta(good)
    config, model = meta["config"], meta["model"]
    edits = {
        "step as text": {**meta, "step": "5"}, "negative step": {**meta, "step": -1},
        "step true": {**meta, "step": True}, "vocab a number": {**meta, "vocab": 5},
        "vocab empty": {**meta, "vocab": ""}, "vocab repeats": {**meta, "vocab": "BBEPSTVX"},
        "vocab longer": {**meta, "vocab": meta["vocab"] + "Z"},
        "config a list": {**meta, "config": [1]},
        "hidden_size as text": {**meta, "config": {**config, "hidden_size": "4"}},
        "model's H as text": {**meta, "model": {**model, "hidden_size": "4"}},
        "model's H 0": {**meta, "model": {**model, "hidden_size": 0}},
        "model's H 10^9": {**meta, "model": {**model, "hidden_size": 10 ** 9}},
        "model's W 10^6 x 10^6": {**meta, "model": {**model, "parameters": {
            **model["parameters"], "W": [10 ** 6, 10 ** 6]}}},
        "model of an unknown cell": {**meta, "model": {**model, "cell": "transformer"}},
        "model a list": {**meta, "model": [model]},
        "model without c": {**meta, "model": {**model, "parameters": {
            k: v for k, v in model["parameters"].items() if k != "c"}}},
        "model with a second state": {**meta, "model": {**model, "state": ["h", "c"]}},
        "lstm record on vanilla arrays": {**meta, "model": {**model, "cell": "lstm"}},
        "model's options a list": {**meta, "model": {**model, "options": [1]}},
        "batch as text": {**meta, "config": {**config, "batch": "2"}},
        "tau as text": {**meta, "config": {**config, "tau": "x"}},
        "lr nan": {**meta, "config": {**config, "lr": float("nan")}},
        "clip_norm negative": {**meta, "config": {**config, "clip_norm": -5}},
        "text a number": {**meta, "config": {**config, "text": 7, "grammar": None}},
        "unknown optimizer": {**meta, "config": {**config, "optimizer": "lbfgs"}},
        "history a string": {**meta, "history": "x"},
        "history of numbers": {**meta, "history": [1, 2]},
        "rng a string": {**meta, "rng": "x"},
        "rng of another generator": {**meta, "rng": {"bit_generator": "MT19937", "state": 1}},
        "wrong format": {**meta, "format": "other/2"},
        "a list": [meta],
        "no config": {k: v for k, v in meta.items() if k != "config"},
    }
    for what, edited in edits.items():
        yield what, _with_meta(good, edited)
    entries = _entries(good)
    for what, text in [("deep JSON", "[" * 100000), ("not JSON", "{'a': 1}"), ("empty", "")]:
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.array(text))
        yield what, _zip({**entries, "meta.npy": buffer.getvalue()})


EDITS = {"header": _header_edits, "zip": _zip_edits, "bomb": _bombs, "meta": _meta_edits}


@pytest.mark.parametrize("kind", EDITS)
def test_edited_files_are_refused_or_load_faithfully(tmp_path, good, kind):
    outcomes = {what: _check(tmp_path / "c.npz", data) for what, data in EDITS[kind](good)}
    loaded = {what for what, outcome in outcomes.items() if outcome == "loaded"}
    # Only edits that keep a valid checkpoint may load: the values of a big-endian or
    # Fortran-ordered W are still W's, and settings that only resuming reads are checked there
    # (as are the cell a record names and the carried states it lists).
    assert loaded <= {"big-endian", "fortran", "tau as text", "lr nan", "clip_norm negative",
                      "text a number", "rng of another generator", "unknown optimizer",
                      "hidden_size as text", "model of an unknown cell",
                      "lstm record on vanilla arrays", "model with a second state"}, loaded


def test_resuming_from_crafted_metadata_is_an_error_not_a_traceback(tmp_path, good):
    resumed = []
    for what, data in _meta_edits(good):
        path = tmp_path / "c.npz"
        path.write_bytes(data)
        try:
            Trainer.resume(path)
            resumed.append(what)
        except CheckpointError as error:
            assert str(error).startswith(str(path)) and "allow_pickle" not in str(error)
    assert resumed == [], resumed
