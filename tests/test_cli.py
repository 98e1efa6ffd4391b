"""The command line, end to end with tiny budgets."""
import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rnn import grammar
from rnn.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--hidden", "8", "--tau", "8", "--batch", "4", "--train-strings", "300",
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
                 "--length", "25", "--seed", "1"]) == 0
    text = capsys.readouterr().out.strip()
    assert text.startswith("BT") and len(text) == 27 and set(text) <= set("BEPSTVX")


def test_sample_strings_marks_each_one(tmp_path, capsys):
    assert _train(tmp_path) == 0
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(tmp_path / "checkpoint.npz"), "--strings", "6",
                 "--seed", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6
    for line in lines:
        mark, string = line.split()
        assert (mark == "ok") == grammar.is_grammatical(string)


def test_demo_reports_every_number(tmp_path, capsys):
    assert main(["demo", "--grammar", "embedded", "--steps", "20", "--hidden", "8",
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
