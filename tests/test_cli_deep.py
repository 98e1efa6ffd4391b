"""The command line for stacks and encoder–decoders, end to end with tiny budgets: train
--layers, the refusal of --bidirectional for language models, python -m rnn seq2seq (its
report, --evaluate, decode), and checkpoints that hold the structure and refuse another one
naming both."""
import json
import zipfile

import numpy as np
import pytest

from rnn import checkpoint
from rnn.__main__ import main
from rnn.checkpoint import CheckpointError
from rnn.train import (ConfigError, TrainConfig, Trainer, ValidationSet, evaluate,
                       model_from_checkpoint, sample_strings)

TINY = ["--grammar", "reber", "--hidden-size", "6", "--tau", "6", "--batch", "3",
        "--train-strings", "200", "--validation-strings", "40", "--eval-every", "10",
        "--sample-every", "1000", "--quiet"]
COPY = ["--task", "copy", "--min-length", "2", "--max-length", "2", "--delay", "0",
        "--hidden-size", "16", "--test-examples", "200"]


def _train(out, *extra):
    return main(["train", *TINY, "--steps", "20", "--out", str(out), *extra])


@pytest.fixture(scope="module")
def stacked(tmp_path_factory):
    """A 2-layer LSTM language model trained for 20 steps: its checkpoint."""
    out = tmp_path_factory.mktemp("stacked")
    assert _train(out, "--layers", "2", "--cell", "lstm") == 0
    return out / "checkpoint.npz"


@pytest.fixture(scope="module")
def copier(tmp_path_factory):
    """An encoder–decoder trained on copying 2 letters (bidirectional LSTM encoder, 2 layers):
    its checkpoint and report."""
    out = tmp_path_factory.mktemp("copy") / "copy.npz"
    assert main(["seq2seq", *COPY, "--cell", "lstm", "--layers", "2", "--bidirectional",
                 "--steps", "200", "--out", str(out)]) == 0
    return out, json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))


# -- train --layers ----------------------------------------------------------------------------

def test_a_stacked_checkpoint_records_its_layers_and_every_layer_s_carried_state(stacked):
    saved = checkpoint.load(stacked)
    assert saved.model["layers"] == 2 and saved.model["bidirectional"] is False
    assert "W_hh_l1" in saved.arrays and "V" in saved.arrays
    assert {n: a.shape for n, a in saved.carry.items()} == {"h": (2, 6, 3), "c": (2, 6, 3)}


def test_the_loaded_stack_is_the_trained_one(stacked):
    """Its validation loss, recomputed from the checkpoint, is the one the run recorded."""
    model, vocab, meta = model_from_checkpoint(stacked)
    config = TrainConfig(**meta["config"])
    validation = ValidationSet.of(config.load_corpus())
    assert model.layers == 2 and model.kind == "lstm"
    assert evaluate(model, validation).loss == meta["history"][-1]["val_loss"]


def test_sampling_a_stack_from_primes_of_different_lengths_keeps_each_own_state(stacked):
    """Greedy strings after primes of different lengths, together, are those written after
    each prime alone (each column's state is its own prime's, for every layer)."""
    model, vocab, _ = model_from_checkpoint(stacked)
    primes = ["BT", "BPVV", "BTSSX"]
    together = sample_strings(model, vocab, primes, temperature=0, max_length=12)
    alone = [sample_strings(model, vocab, [p], temperature=0, max_length=12)[0] for p in primes]
    assert together == alone


def test_sample_and_render_read_a_stacked_checkpoint(stacked, tmp_path, capsys):
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(stacked), "--prime", "BT", "--length", "15",
                 "--random-seed", "1"]) == 0
    text = capsys.readouterr().out.strip()
    assert text.startswith("BT") and len(text) == 17 and set(text) <= set("BEPSTVX")
    assert main(["render", "--checkpoint", str(stacked), "--out", str(tmp_path / "g.dot")]) == 0
    dot = (tmp_path / "g.dot").read_text(encoding="utf-8")
    assert 'label="layer 2"' in dot and "h₂(1)" in dot


def test_render_refuses_the_one_layer_options_for_a_stack(stacked, tmp_path, capsys):
    assert main(["render", "--checkpoint", str(stacked), "--heat",
                 "--out", str(tmp_path / "g.dot")]) == 2
    assert "holds a 2-layer stack" in capsys.readouterr().err and not (tmp_path / "g.dot").exists()


def test_a_stacked_run_resumes_and_another_structure_is_refused_naming_both(stacked, capsys):
    args = [*TINY, "--out", str(stacked.parent), "--resume", "--cell", "lstm"]
    assert main(["train", *args, "--layers", "1", "--steps", "30"]) == 2
    assert (f"error: {stacked} holds a 2-layer lstm with H = 6, D = 7; the model is a 1-layer "
            f"lstm with H = 6, D = 7") in capsys.readouterr().err
    assert main(["train", *args, "--layers", "3", "--steps", "30"]) == 2
    assert "the model is a 3-layer lstm" in capsys.readouterr().err
    assert main(["train", *args, "--layers", "2", "--steps", "30"]) == 0
    assert checkpoint.load(stacked).meta["step"] == 30


def test_a_one_layer_run_refuses_to_resume_as_a_stack(tmp_path, capsys):
    assert _train(tmp_path) == 0
    assert main(["train", *TINY, "--out", str(tmp_path), "--resume", "--layers", "2",
                 "--steps", "30"]) == 2
    assert ("holds a 1-layer rnn with H = 6, D = 7; the model is a 2-layer rnn with H = 6, "
            "D = 7") in capsys.readouterr().err


def _without_structure(path, target):
    """The checkpoint at ``path`` as a format-2 file written before stacks: its model record
    without layers and bidirectional (every entry stored, as save stores them)."""
    with zipfile.ZipFile(path) as z:
        entries = {info.filename[:-4]: np.lib.format.read_array(z.open(info))
                   for info in z.infolist()}
    meta = json.loads(str(entries["meta"][()]))
    del meta["model"]["layers"], meta["model"]["bidirectional"]
    entries["meta"] = np.array(json.dumps(meta))
    with open(target, "wb") as f:
        np.savez(f, **entries)
    return target


def test_a_format_2_file_without_structure_is_one_forward_layer(tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(run) == 0
    old = _without_structure(run / "checkpoint.npz", run / "old.npz")
    assert "layers" not in json.loads(str(np.load(old)["meta"][()]))["model"]
    saved = checkpoint.load(old)
    assert saved.model["layers"] == 1 and saved.model["bidirectional"] is False
    model, _, _ = model_from_checkpoint(old)
    assert model.arrays().keys() == checkpoint.load(run / "checkpoint.npz").arrays.keys()
    (run / "old.npz").replace(run / "checkpoint.npz")
    assert main(["train", *TINY, "--out", str(run), "--resume", "--steps", "25"]) == 0


def test_stacks_refuse_what_only_one_layer_has():
    with pytest.raises(ConfigError, match="with layers=2 use gradients='autodiff'"):
        TrainConfig(layers=2, gradients="bptt")
    with pytest.raises(ConfigError, match="a stack of layers=2 is unrolled whole"):
        TrainConfig(layers=2, checkpoint_segments=2)


def test_the_demo_sends_stacks_to_train(tmp_path, capsys):
    assert main(["demo", *TINY, "--layers", "2", "--out", str(tmp_path)]) == 2
    assert "python -m rnn train --layers 2" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "demo"])
def test_bidirectional_is_refused_for_a_language_model_with_the_reason(command, tmp_path,
                                                                       capsys):
    with pytest.raises(SystemExit) as exit:
        main([command, *TINY, "--out", str(tmp_path), "--bidirectional"])
    assert exit.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"python -m rnn {command}: error: argument --bidirectional: a "
                          f"next-symbol language model cannot be bidirectional")
    assert "already read x(t+1), the very symbol it must predict" in err
    assert "python -m rnn seq2seq --bidirectional" in err
    assert not list(tmp_path.iterdir())


# -- seq2seq ---------------------------------------------------------------------------------

def test_seq2seq_reports_every_field_and_learns_to_copy(copier):
    """A known answer: copying 2 of 8 letters is solved (measured: exact match 1.0 on 200
    held-out examples after 200 steps, ~3 s)."""
    path, report = copier
    for key in ("task", "task_options", "model", "exact_match", "symbol_accuracy",
                "test_examples", "test_seed", "examples", "steps", "train_loss",
                "train_seconds", "checkpoint"):
        assert key in report
    assert report["task"] == "copy" and report["steps"] == 200 and report["test_examples"] == 200
    assert report["task_options"] == {"alphabet": "abcdefgh", "min_length": 2, "max_length": 2,
                                      "delay": 0}
    assert report["model"].startswith("an encoder–decoder of a 2-layer bidirectional lstm "
                                      "with H = 16")
    assert 0 <= report["symbol_accuracy"] <= 1 and report["exact_match"] >= 0.95
    assert report["checkpoint"] == str(path)
    assert all(e["answer"] == e["source"] for e in report["examples"])


def test_evaluating_the_checkpoint_reproduces_the_report_exactly(copier, capsys):
    path, report = copier
    capsys.readouterr()
    assert main(["seq2seq", "--evaluate", str(path)]) == 0
    out = capsys.readouterr().out
    assert (f"exact match {report['exact_match']:.4f}, per-symbol accuracy "
            f"{report['symbol_accuracy']:.4f}") in out
    from rnn.cli import evaluate_command, build_parser
    again = evaluate_command(build_parser().parse_args(["seq2seq", "--evaluate", str(path)]))
    assert again["exact_match"] == report["exact_match"]
    assert again["symbol_accuracy"] == report["symbol_accuracy"]
    assert again["examples"] == report["examples"]


def test_decode_answers_each_source_as_the_report_did(copier, capsys, monkeypatch):
    path, report = copier
    sources = [e["source"] for e in report["examples"]]
    capsys.readouterr()
    assert main(["decode", "--checkpoint", str(path), *sources]) == 0
    assert capsys.readouterr().out.split() == [e["decoded"] for e in report["examples"]]
    import io
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(sources) + "\n"))
    assert main(["decode", "--checkpoint", str(path)]) == 0
    assert capsys.readouterr().out.split() == [e["decoded"] for e in report["examples"]]
    assert main(["decode", "--checkpoint", str(path), "ax"]) == 2
    assert "symbol 'x' is not in the vocabulary 'abcdefgh_'" in capsys.readouterr().err


def test_evaluate_with_another_structure_is_refused_naming_both(copier, capsys):
    path, _ = copier
    assert main(["seq2seq", "--evaluate", str(path), "--layers", "1", "--cell", "gru"]) == 2
    err = capsys.readouterr().err
    assert (f"{path} holds an encoder–decoder of a 2-layer bidirectional lstm with H = 16, "
            f"D = 12 encoder and a 2-layer lstm with H = 32, D = 12 decoder") in err
    assert ("the options given ask for an encoder–decoder of a 1-layer bidirectional gru with "
            "H = 16, D = 12 encoder") in err
    assert main(["seq2seq", "--evaluate", str(path), "--task", "reverse"]) == 2
    assert "task = 'copy'" in capsys.readouterr().err
    assert main(["seq2seq", "--evaluate", str(path), "--layers", "2"]) == 0   # the same: fine


def test_language_model_and_seq2seq_checkpoints_refuse_each_other(copier, stacked, tmp_path,
                                                                 capsys):
    path, _ = copier
    assert main(["sample", "--checkpoint", str(path)]) == 2
    assert main(["render", "--checkpoint", str(path), "--out", str(tmp_path / "g.dot")]) == 2
    err = capsys.readouterr().err
    assert err.count(f"error: {path} holds an encoder–decoder of a 2-layer bidirectional") == 2
    assert "no next-symbol language model" in err
    assert main(["seq2seq", "--evaluate", str(stacked)]) == 2
    assert main(["decode", "--checkpoint", str(stacked), "ab"]) == 2
    err = capsys.readouterr().err
    assert err.count(f"error: {stacked} holds a 2-layer lstm with H = 6, D = 7, a language "
                     f"model; this needs an encoder–decoder's checkpoint") == 2


def _edited(path, tmp_path, edit):
    """The seq2seq checkpoint at ``path`` with its metadata edited, written as save would."""
    saved = checkpoint.load(path)
    meta = {k: v for k, v in saved.meta.items() if k != "format"}
    edit(meta)
    target = tmp_path / "edited.npz"
    checkpoint.save(target, saved.arrays, meta)
    return target


def test_a_seq2seq_record_its_settings_do_not_make_is_refused_naming_both(copier, tmp_path):
    from rnn import seq2seq
    path, _ = copier
    edited = _edited(path, tmp_path, lambda m: m["config"].update(bidirectional=False))
    with pytest.raises(CheckpointError, match=r"holds an encoder–decoder of a 2-layer "
                                              r"bidirectional lstm .*; its settings make an "
                                              r"encoder–decoder of a 2-layer lstm with H = 16"):
        seq2seq.load(edited)
    edited = _edited(path, tmp_path, lambda m: m.update(vocab="abcdefgh-"))
    with pytest.raises(CheckpointError, match=r"its vocabulary 'abcdefgh-' is not the copy "
                                              r"task's 'abcdefgh_'"):
        seq2seq.load(edited)


def test_seq2seq_record_must_fit_the_vocabulary(copier, tmp_path):
    path, _ = copier
    with pytest.raises(CheckpointError, match="model's input_size must be the vocabulary's "
                                              "size 13"):
        _edited(path, tmp_path, lambda m: m.update(vocab="abcdefgh_z"))


def test_seq2seq_refuses_to_replace_a_checkpoint_and_task_options_of_another_task(
        copier, capsys, tmp_path):
    path, report = copier
    before = path.read_bytes()
    assert main(["seq2seq", *COPY, "--steps", "1", "--out", str(path)]) == 2
    assert f"{path} already exists: replace it with --overwrite" in capsys.readouterr().err
    assert path.read_bytes() == before
    assert main(["seq2seq", "--task", "add", "--delay", "2", "--out",
                 str(tmp_path / "a.npz")]) == 2
    assert ("delay is an option of the copy task; the add task takes digits"
            in capsys.readouterr().err)
    assert not (tmp_path / "a.npz").exists()


def test_a_tiny_seq2seq_run_of_every_task_writes_scores_in_0_1(tmp_path):
    for task, options in (("reverse", ["--max-length", "3"]), ("add", ["--digits", "1"])):
        out = tmp_path / f"{task}.npz"
        assert main(["seq2seq", "--task", task, *options, "--steps", "3", "--hidden-size", "4",
                     "--test-examples", "20", "--cell", "rnn", "--out", str(out)]) == 0
        report = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
        assert 0 <= report["exact_match"] <= 1 and 0 <= report["symbol_accuracy"] <= 1
        assert report["task"] == task and checkpoint.load(out).meta["step"] == 3


def test_evaluate_refuses_a_structure_flag_the_checkpoint_does_not_have(tmp_path, capsys):
    """--bidirectional (a flag without a value) given to --evaluate of a one-direction model."""
    out = tmp_path / "one.npz"
    assert main(["seq2seq", *COPY, "--steps", "2", "--hidden-size", "3", "--out", str(out)]) == 0
    assert main(["seq2seq", "--evaluate", str(out), "--bidirectional"]) == 2
    err = capsys.readouterr().err
    assert "trained with bidirectional = False" in err and "with bidirectional = True" in err


def test_the_report_is_written_atomically(tmp_path, monkeypatch):
    """A write that fails half way leaves the previous report whole and no temporary file."""
    path = tmp_path / "r.json"
    checkpoint.write_text(path, "old\n")

    def dying(f):
        f.write(b'{"exact_')
        raise OSError(28, "No space left on device")
    real = checkpoint._write_atomically
    monkeypatch.setattr(checkpoint, "_write_atomically", lambda p, write: real(p, dying))
    with pytest.raises(CheckpointError, match=f"cannot write {path}: No space left on device"):
        checkpoint.write_text(path, "new\n")
    assert path.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
