"""Checkpoints: round trip, atomic writes that survive a crash, and clear refusals
of truncated, corrupt or mismatched files."""
import os
import zipfile

import numpy as np
import pytest

from rnn import checkpoint
from rnn.checkpoint import CheckpointError

H, VOCAB = 3, "abcd"


K = len(VOCAB)
SHAPES = {"U": (H, K), "W": (H, H), "V": (K, H), "b": (H,), "c": (K,)}


def _params(fill: float) -> dict[str, np.ndarray]:
    return {name: np.full(shape, fill) for name, shape in SHAPES.items()}


def _meta(step: int) -> dict:
    model = checkpoint.record("rnn", input_size=K, hidden_size=H, output_size=K,
                              parameters=SHAPES, state=("h",))
    return {"step": step, "vocab": VOCAB, "config": {"hidden_size": H, "batch": 2,
                                                     "optimizer": "adam"}, "model": model,
            "rng": {"bit_generator": "PCG64", "state": {"state": 2 ** 100 + 7, "inc": 3}}}


def _save(path, fill=1.0, step=5, **groups):
    checkpoint.save(path, _params(fill), _meta(step), **groups)


def test_round_trip_keeps_every_array_and_the_metadata(tmp_path):
    path = tmp_path / "ckpt.npz"
    optimizer = {"steps": np.array(5), "m/W": np.arange(9.0).reshape(3, 3), "v/c": np.ones(4)}
    _save(path, fill=0.25, optimizer=optimizer, carry={"h": np.ones((H, 2))})
    loaded = checkpoint.load(path)
    assert loaded.meta["step"] == 5 and loaded.meta["rng"]["state"]["state"] == 2 ** 100 + 7
    assert all(np.array_equal(loaded.arrays[k], v) for k, v in _params(0.25).items())
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
    assert loaded.meta["step"] == 5 and np.all(loaded.arrays["W"] == 1.0)
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


def _by_hand(path, params, meta) -> None:
    """The checkpoint layout written without save's checks."""
    import json
    np.savez(path, meta=np.array(json.dumps({"format": checkpoint.FORMAT, **meta})),
             **{f"param/{k}": v for k, v in params.items()})


@pytest.mark.parametrize("spoil, written, read", [
    (_wrong_W_shape, r"parameter W has shape \(3, 4\), and the model record says \(3, 3\)",
     r"'param/W' declares dtype float64 and shape \(3, 4\).*shape 3×3"),
    (_no_V, r"parameters \['V'\] are missing", r"\['V'\] are missing"),
])
def test_unusable_parameters_are_neither_written_nor_read(tmp_path, spoil, written, read):
    path = tmp_path / "ckpt.npz"
    params = _params(1.0)
    spoil(params)
    with pytest.raises(CheckpointError, match=written):
        checkpoint.save(path, params, _meta(1))
    assert not path.exists()
    _by_hand(path, params, _meta(1))
    with pytest.raises(CheckpointError, match=read):
        checkpoint.load(path)


def test_non_finite_parameters_are_neither_written_nor_read(tmp_path):
    path = tmp_path / "ckpt.npz"
    params = _params(1.0)
    params["b"][1] = np.nan
    with pytest.raises(CheckpointError, match="refusing to write .*parameter b is not finite"):
        checkpoint.save(path, params, _meta(1))
    assert not path.exists()
    _by_hand(path, params, _meta(1))
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


# -- the model record and files of format 1 ------------------------------------------------------

def _format_1(path, config: dict) -> None:
    """A checkpoint as format 1 wrote it: no model record, the config's old names."""
    import json
    meta = {"format": checkpoint.FORMAT_1, "step": 4, "vocab": VOCAB, "config": config}
    np.savez(path, meta=np.array(json.dumps(meta)),
             **{f"param/{k}": v for k, v in _params(0.5).items()}, **{"carry/h": np.ones((H, 2))})


def test_a_format_1_file_is_read_as_a_vanilla_rnn_with_the_new_names(tmp_path):
    path = tmp_path / "old.npz"
    _format_1(path, {"hidden": H, "batch": 2, "seed": 7, "lr_final": 0.5, "tau": 8})
    loaded = checkpoint.load(path)
    assert loaded.model == checkpoint.record("rnn", input_size=K, hidden_size=H, output_size=K,
                                             parameters=SHAPES, state=("h",))
    assert loaded.meta["config"] == {"cell": "rnn", "hidden_size": H, "batch": 2,
                                     "random_seed": 7, "lr_final_fraction": 0.5, "tau": 8}
    assert np.all(loaded.arrays["W"] == 0.5) and np.all(loaded.carry["h"] == 1.0)


@pytest.mark.parametrize("config, message", [
    ({"hidden": H, "hidden_size": H}, "both 'hidden' and 'hidden_size'"),
    ({"batch": 2}, "config must be a dict whose hidden is an integer ≥ 1"),
    ({"hidden": H + 1, "batch": 2}, r"'param/U' declares .*shape \(3, 4\).*shape 4×4"),
])
def test_a_format_1_file_that_does_not_fit_the_rule_is_refused(tmp_path, config, message):
    path = tmp_path / "old.npz"
    _format_1(path, config)
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(path)


def _lstm_record(**changes):
    shapes = {"W_ih": (4 * H, K), "W_hh": (4 * H, H), "b_ih": (4 * H,), "b_hh": (4 * H,),
              "V": (K, H), "c": (K,)}
    return {**checkpoint.record("lstm", input_size=K, hidden_size=H, output_size=K,
                                parameters=shapes, state=("h", "c"),
                                options={"forget_bias": 1.0}), **changes}


def test_an_lstm_record_round_trips_with_both_carried_states(tmp_path):
    path, model = tmp_path / "lstm.npz", _lstm_record()
    arrays = {name: np.full(shape, 0.25) for name, shape in model["parameters"].items()}
    carry = {"h": np.ones((H, 2)), "c": np.full((H, 2), 2.0)}
    checkpoint.save(path, arrays, {**_meta(3), "model": model}, carry=carry)
    loaded = checkpoint.load(path)
    assert loaded.model == model and list(loaded.arrays) == list(model["parameters"])
    assert np.all(loaded.carry["c"] == 2.0) and np.all(loaded.arrays["W_hh"] == 0.25)
    assert checkpoint.describe(loaded.model) == ("a 1-layer lstm with H = 3, D = 4 "
                                                 "(forget_bias = 1.0)")


def test_describe_names_the_structure_with_its_article_the_cell_and_sizes():
    record = {"input_size": 9, "output_size": 9, "hidden_size": 64}
    assert checkpoint.describe({**record, "cell": "rnn"}) == "a 1-layer rnn with H = 64, D = 9"
    assert checkpoint.describe({**record, "cell": "gru", "layers": 2, "bidirectional": True}
                               ) == "a 2-layer bidirectional gru with H = 64, D = 9"
    assert checkpoint.describe({**record, "cell": "gru", "layers": 8}) == (
        "an 8-layer gru with H = 64, D = 9")
    assert checkpoint.describe({**record, "cell": "gru", "output_size": 5}) == (
        "a 1-layer gru with H = 64, D = 9, K = 5")


@pytest.mark.parametrize("model, message", [
    ({"cell": 3}, "model.cell must be a cell's name"),
    ({"hidden_size": 0}, "must be integers ≥ 1"),
    ({"input_size": K + 1}, "must be the vocabulary's size 4"),
    ({"options": {"forget_bias": [1]}}, "model.options must be a dict of numbers"),
    ({"parameters": {"W_ih": [12, -4]}}, "model.parameters must map names to shapes"),
    ({"parameters": {"../W": [3, 3]}}, "model.parameters must map names to shapes"),
    ({"state": ["c", "h"]}, "model.state must list distinct state names, h first"),
])
def test_a_model_record_that_cannot_be_right_is_refused_on_save_and_on_load(tmp_path, model,
                                                                            message):
    path, record = tmp_path / "bad.npz", _lstm_record(**model)
    arrays = {name: np.zeros(2) for name in record["parameters"]}
    with pytest.raises(CheckpointError, match=f"refusing to write .*{message}"):
        checkpoint.save(path, arrays, {**_meta(1), "model": record})
    _by_hand(path, arrays, {**_meta(1), "model": record})
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(path)


def test_a_checkpoint_without_a_model_record_is_refused(tmp_path):
    meta = {k: v for k, v in _meta(1).items() if k != "model"}
    with pytest.raises(CheckpointError, match="metadata lacks 'model'"):
        checkpoint.save(tmp_path / "c.npz", _params(1.0), meta)
