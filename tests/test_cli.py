"""The command line, end to end with tiny budgets."""
import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnn import grammar
from rnn.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--hidden-size", "8", "--tau", "8", "--batch", "4", "--train-strings", "300",
        "--validation-strings", "100", "--quiet"]


def _train(out, *extra):
    return main(["train", "--grammar", "reber", "--steps", "30", "--eval-every", "10",
                 "--sample-every", "1000", "--out", str(out), *TINY, *extra])


def test_train_writes_checkpoint_metrics_and_plot(tmp_path, capsys):
    assert _train(tmp_path) == 0
    assert (tmp_path / "checkpoint.npz").is_file()
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [0, 10, 20, 30]
    assert float(rows[-1]["val_loss"]) < float(rows[0]["val_loss"])
    assert "validation loss" in capsys.readouterr().out


def test_train_resumes_to_more_steps(tmp_path, capsys):
    assert _train(tmp_path) == 0
    assert _train(tmp_path, "--resume", "--steps", "40") == 0
    assert "at step 30 of 40" in capsys.readouterr().out
    with open(tmp_path / "metrics.csv") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [0, 10, 20, 30, 40]


def test_sample_writes_from_the_vocabulary(tmp_path, capsys):
    assert _train(tmp_path) == 0
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(tmp_path / "checkpoint.npz"), "--prime", "BT",
                 "--length", "25", "--random-seed", "1"]) == 0
    text = capsys.readouterr().out.strip()
    assert text.startswith("BT") and len(text) == 27 and set(text) <= set("BEPSTVX")


def test_sample_strings_marks_each_one(tmp_path, capsys):
    assert _train(tmp_path) == 0
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(tmp_path / "checkpoint.npz"), "--strings", "6",
                 "--random-seed", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6
    for line in lines:
        mark, string = line.split()
        assert (mark == "ok") == grammar.is_grammatical(string)


def test_demo_reports_every_number(tmp_path, capsys):
    assert main(["demo", "--grammar", "embedded", "--steps", "20", "--hidden-size", "8",
                 "--train-strings", "300", "--validation-strings", "100", "--out", str(tmp_path),
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    for label in ("validation loss", "entropy rate (the bound)", "grammatical samples",
                  "closing letter predicted", "autodiff vs analytic BPTT"):
        assert label in out
    assert "0.5833 bits/char" in out                      # the embedded grammar's entropy rate
    difference = float(re.search(r"largest \|difference\| (\S+)", out).group(1))
    assert difference < 1e-10
    for name in ("checkpoint.npz", "metrics.csv", "loss.png"):
        assert (tmp_path / name).is_file()
    for name in ("rnn_unrolled.svg", "rnn_folded.svg"):
        assert "<svg" in (tmp_path / name).read_text()
    again = ["demo", "--steps", "2", "--hidden-size", "8", "--train-strings", "300",     # make demo
             "--validation-strings", "100", "--out", str(tmp_path), "--quiet"]
    assert main(again) == 2 and "--overwrite" in capsys.readouterr().err
    assert main([*again, "--overwrite"]) == 0


@pytest.mark.parametrize("content, message", [(b"", "is empty"), (b"\xff\xfe\x00abc", "not UTF-8")])
def test_bad_text_files_give_a_message_not_a_traceback(tmp_path, capsys, content, message):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    assert main(["train", "--text", str(path), "--out", str(tmp_path), *TINY]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_corrupt_checkpoint_gives_a_message_not_a_traceback(tmp_path, capsys):
    assert _train(tmp_path) == 0
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(path.read_bytes()[:500])
    assert main(["sample", "--checkpoint", str(path)]) == 2
    assert _train(tmp_path, "--resume", "--steps", "40") == 2
    err = capsys.readouterr().err
    assert err.count("not a readable checkpoint") == 2 and "Traceback" not in err


def test_resume_with_other_settings_is_refused(tmp_path, capsys):
    assert _train(tmp_path) == 0
    assert _train(tmp_path, "--resume", "--steps", "40", "--tau", "9") == 2
    assert "tau: checkpoint 8, now 9" in capsys.readouterr().err


def test_training_on_a_text_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("to be or not to be, that is the question. " * 20, encoding="utf-8")
    assert main(["train", "--text", str(path), "--steps", "10", "--eval-every", "5",
                 "--out", str(tmp_path / "out"), *TINY]) == 0
    assert (tmp_path / "out" / "loss.png").is_file()


def test_render_is_wired_in(tmp_path):
    assert main(["render", "--view", "folded", "--out", str(tmp_path / "folded.svg")]) == 0
    assert "<svg" in (tmp_path / "folded.svg").read_text()


def test_python_dash_m_rnn_runs_as_a_program(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "rnn", "train", "--help"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--resume" in result.stdout
    result = subprocess.run([sys.executable, "-m", "rnn", "sample", "--checkpoint", "nowhere.npz"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no checkpoint at nowhere.npz" in result.stderr


@pytest.mark.parametrize("module, extra, command", [
    ("tqdm", "progress", ["train", "--steps", "2"]),
    ("matplotlib", "plot", ["train", "--steps", "2", "--quiet"]),
    ("graphviz", "draw", ["render"]),
])
def test_a_missing_optional_package_names_the_extra(module, extra, command, tmp_path,
                                                     monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    out = ["--out", str(tmp_path / "g.svg")] if command == ["render"] else [
        "--grammar", "reber", "--out", str(tmp_path), *TINY[:-1]]
    assert main([*command, *out]) == 2
    err = capsys.readouterr().err
    assert f"needs the {module} package: pip install 'minigrad-rnn[{extra}]'" in err


# -- reliability: refusals before any work, error lines instead of tracebacks ----------------

def test_version_and_the_program_name(capsys, monkeypatch):
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0 and re.fullmatch(r".+ \d+\.\d+\S*\n", capsys.readouterr().out)
    from rnn.__main__ import build_parser
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/minigrad-rnn"])
    assert build_parser().format_usage().startswith("usage: minigrad-rnn ")
    monkeypatch.setattr(sys, "argv", [str(ROOT / "rnn" / "__main__.py")])
    assert build_parser().format_usage().startswith("usage: python -m rnn ")


def test_the_installed_script_names_itself(tmp_path):
    script = Path(sys.executable).parent / "minigrad-rnn"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("usage: minigrad-rnn ")


def test_a_second_run_into_the_same_out_is_refused_unless_overwrite(tmp_path, capsys):
    assert _train(tmp_path) == 0
    before = (tmp_path / "checkpoint.npz").read_bytes()
    assert _train(tmp_path, "--steps", "10") == 2
    err = capsys.readouterr().err
    assert "already holds a checkpoint" in err and "--overwrite" in err and "--resume" in err
    assert (tmp_path / "checkpoint.npz").read_bytes() == before
    assert _train(tmp_path, "--resume", "--overwrite") == 2
    assert "give one of them" in capsys.readouterr().err
    assert _train(tmp_path, "--steps", "10", "--overwrite") == 0


def test_nothing_to_train_is_an_error_not_a_false_wrote(tmp_path, capsys):
    assert _train(tmp_path) == 0
    capsys.readouterr()
    assert _train(tmp_path, "--resume") == 2          # already at --steps 30
    captured = capsys.readouterr()
    assert "nothing to train" in captured.err and "wrote" not in captured.out


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_a_diverging_run_is_an_error_line_and_keeps_the_checkpoint(tmp_path, capsys):
    code = _train(tmp_path, "--optimizer", "sgd", "--lr", "1e308", "--clip-norm", "0",
                  "--checkpoint-every", "2")
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: training diverged at step ")
    assert "Traceback" not in err and "h0" not in err
    from rnn import checkpoint
    assert checkpoint.load(tmp_path / "checkpoint.npz").meta["step"] >= 0


@pytest.mark.parametrize("where", ["file", "under a file"])
def test_an_unusable_out_is_an_error_line_before_training(tmp_path, capsys, where):
    (tmp_path / "f").write_text("x")
    out = tmp_path / "f" if where == "file" else tmp_path / "f" / "sub"
    assert _train(out) == 2
    assert f"error: cannot write to the output directory {out}" in capsys.readouterr().err


def test_missing_dot_stops_the_demo_before_it_trains(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "out"
    assert main(["demo", "--out", str(out), "--quiet"]) == 2   # 6,000 steps if it started
    assert "sudo apt-get install graphviz" in capsys.readouterr().err and not out.exists()


def test_a_missing_plotting_package_stops_training_before_it_starts(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert _train(tmp_path / "out") == 2
    assert "needs the matplotlib package" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_greedy_sampling_at_temperature_zero_follows_the_most_likely_character(tmp_path, capsys):
    assert _train(tmp_path) == 0
    from rnn import checkpoint
    saved = checkpoint.load(tmp_path / "checkpoint.npz")
    p, vocab = saved.arrays, saved.meta["vocab"]
    h, ids = np.zeros(len(p["W"])), [vocab.index(ch) for ch in "BT"]
    for i in ids[:-1]:                                       # numpy only: read the prime
        h = np.tanh(p["b"] + p["W"] @ h + p["U"][:, i])
    text, x = "", ids[-1]
    for _ in range(15):                                      # then always the argmax
        h = np.tanh(p["b"] + p["W"] @ h + p["U"][:, x])
        x = int(np.argmax(p["c"] + p["V"] @ h))
        text += vocab[x]
    capsys.readouterr()
    for seed in ("1", "2"):
        assert main(["sample", "--checkpoint", str(tmp_path / "checkpoint.npz"), "--prime", "BT",
                     "--length", "15", "--temperature", "0", "--random-seed", seed]) == 0
        assert capsys.readouterr().out.strip() == "BT" + text


@pytest.mark.parametrize("content", [          # an object .npy renamed, and random bytes
    b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
    b"random bytes" * 50])
def test_a_renamed_or_random_file_is_refused_without_numpys_pickle_hint(tmp_path, capsys, content):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    assert main(["sample", "--checkpoint", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path} is not a readable checkpoint")
    assert "pickle" not in err.replace(str(path), "")


def test_a_graph_too_large_for_dot_is_an_error_line_with_advice(tmp_path, capsys):
    assert main(["render", "--tau", "2000", "--all-steps", "--out", str(tmp_path / "g.svg")]) == 2
    err = capsys.readouterr().err
    assert re.search(r"the graph has \d+ nodes, more than the 1500", err)
    assert "collapse" in err and "fold" in err and "explorer" in err
    assert not (tmp_path / "g.svg").exists()


def test_an_unwritable_drawing_path_is_an_error_line_with_the_path(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    target = tmp_path / "f" / "g.svg"                   # under a file: no directory can be made
    assert main(["render", "--out", str(target)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'f'}") and "Traceback" not in err
