"""Checkpoints: round trip, atomic writes that survive a crash, and clear refusals
of truncated, corrupt or mismatched files."""
import os
import zipfile

import numpy as np
import pytest

from rnn import checkpoint
from rnn.checkpoint import CheckpointError

H, VOCAB = 3, "abcd"


def _params(fill: float) -> dict[str, np.ndarray]:
    K = len(VOCAB)
    shapes = {"U": (H, K), "W": (H, H), "V": (K, H), "b": (H,), "c": (K,)}
    return {name: np.full(shape, fill) for name, shape in shapes.items()}


def _meta(step: int) -> dict:
    return {"step": step, "vocab": VOCAB, "config": {"hidden": H, "batch": 2, "optimizer": "adam"},
            "rng": {"bit_generator": "PCG64", "state": {"state": 2 ** 100 + 7, "inc": 3}}}


def _save(path, fill=1.0, step=5, **groups):
    checkpoint.save(path, _params(fill), _meta(step), **groups)


def test_round_trip_keeps_every_array_and_the_metadata(tmp_path):
    path = tmp_path / "ckpt.npz"
    optimizer = {"steps": np.array(5), "m/W": np.arange(9.0).reshape(3, 3), "v/c": np.ones(4)}
    _save(path, fill=0.25, optimizer=optimizer, carry={"h": np.ones((H, 2))})
    loaded = checkpoint.load(path)
    assert loaded.meta["step"] == 5 and loaded.meta["rng"]["state"]["state"] == 2 ** 100 + 7
    assert all(np.array_equal(loaded.params[k], v) for k, v in _params(0.25).items())
    assert np.array_equal(loaded.optimizer["m/W"], optimizer["m/W"])
    assert np.array_equal(loaded.carry["h"], np.ones((H, 2)))


def test_the_file_needs_no_pickle(tmp_path):
    path = tmp_path / "ckpt.npz"
    _save(path)
    with np.load(path, allow_pickle=False) as npz:
        assert all(npz[key].dtype != object for key in npz.files)


def test_no_temporary_files_are_left_behind(tmp_path):
    _save(tmp_path / "ckpt.npz")
    _save(tmp_path / "ckpt.npz", fill=2.0)
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_a_crash_during_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    _save(path, fill=1.0, step=5)

    def crash_half_way(f, **arrays):              # write part of a file, then die
        f.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk pulled out mid-write")

    monkeypatch.setattr(checkpoint.np, "savez", crash_half_way)
    with pytest.raises(CheckpointError, match=f"cannot write {path}: disk pulled out mid-write"):
        _save(path, fill=2.0, step=9)
    monkeypatch.undo()
    loaded = checkpoint.load(path)
    assert loaded.meta["step"] == 5 and np.all(loaded.params["W"] == 1.0)
    assert os.listdir(tmp_path) == ["ckpt.npz"]


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_a_truncated_file_is_refused_with_a_clear_message(tmp_path, keep):
    path = tmp_path / "ckpt.npz"
    _save(path)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        checkpoint.load(path)


def test_flipped_bytes_are_refused(tmp_path):
    path = tmp_path / "ckpt.npz"
    _save(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 3: len(data) // 3 + 64] = bytes(64)
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError):
        checkpoint.load(path)


def _wrong_W_shape(params):
    params["W"] = np.ones((H, H + 1))


def _no_V(params):
    del params["V"]


@pytest.mark.parametrize("spoil, message", [
    (_wrong_W_shape, r"'param/W' declares dtype float64 and shape \(3, 4\).*shape 3×3"),
    (_no_V, r"\['V'\] are missing"),
])
def test_unusable_parameters_are_refused_naming_the_parameter(tmp_path, spoil, message):
    path = tmp_path / "ckpt.npz"
    params = _params(1.0)
    spoil(params)
    checkpoint.save(path, params, _meta(1))
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(path)


def test_non_finite_parameters_are_neither_written_nor_read(tmp_path):
    path = tmp_path / "ckpt.npz"
    params = _params(1.0)
    params["b"][1] = np.nan
    with pytest.raises(CheckpointError, match="refusing to write .*parameter b is not finite"):
        checkpoint.save(path, params, _meta(1))
    assert not path.exists()
    import json                                     # the same layout written by hand
    np.savez(path, meta=np.array(json.dumps({"format": checkpoint.FORMAT, **_meta(1)})),
             **{f"param/{k}": v for k, v in params.items()})
    with pytest.raises(CheckpointError, match="parameter b is not a finite"):
        checkpoint.load(path)


def test_other_npz_files_and_missing_files_are_refused(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.ones(3))
    with pytest.raises(CheckpointError, match="not a minigrad checkpoint"):
        checkpoint.load(other)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        checkpoint.load(tmp_path / "absent.npz")
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        checkpoint.load(text)


@pytest.mark.parametrize("name, message", [
    ("carry/evil", r"unexpected entries \['carry/evil'\]"),
    ("carry/h", "'carry/h' declares dtype object"),       # a known name: refused from its header
])
def test_a_pickled_entry_is_refused_not_unpickled(tmp_path, name, message):
    path = tmp_path / "ckpt.npz"
    _save(path)
    with zipfile.ZipFile(path, "a") as z:
        with z.open(f"{name}.npy", "w") as f:
            np.lib.format.write_array(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CheckpointError, match=message) as error:
        checkpoint.load(path)
    assert "allow_pickle" not in str(error.value)
