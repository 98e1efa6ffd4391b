"""The README's code and the training example run as printed."""
import re
import runpy
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def python_blocks(markdown: str) -> dict[str, str]:
    """Each ```python block of ``markdown`` by the heading it stands under."""
    blocks, heading, code = {}, None, None
    for line in markdown.splitlines(keepends=True):
        if code is not None:
            if line.startswith("```"):
                blocks[heading], code = "".join(code), None
            else:
                code.append(line)
        elif line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("```python"):
            code = []
    return blocks


README_BLOCKS = python_blocks(README)


def test_the_readme_blocks_are_found_under_their_headings():
    assert README.count("```python") == len(README_BLOCKS)
    assert {"Ten lines of autodiff", "The RNN as an unrolled graph", "Adding your own op"} <= set(
        README_BLOCKS)


def run_block(heading, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the RNN block writes out/rnn.svg
    exec(compile(README_BLOCKS[heading], "README.md", "exec"), {})
    return capsys.readouterr().out


def test_the_ten_lines_of_autodiff_run_and_gradcheck_agrees(tmp_path, monkeypatch, capsys):
    assert run_block("Ten lines of autodiff", tmp_path, monkeypatch, capsys).split()[-1] == "True"


def test_the_rnn_block_matches_bptt_and_draws_four_steps(tmp_path, monkeypatch, capsys):
    printed = run_block("The RNN as an unrolled graph", tmp_path, monkeypatch, capsys).split()
    assert float(printed[-1]) < 1e-12  # largest |autodiff − BPTT| of ∂L/∂W
    svg = (tmp_path / "out" / "rnn.svg").read_text()
    assert all(f">{name}<" in svg for name in ["h(0)", "h(1)", "h(4)", "o(4)", "L(4)", "L"])
    assert svg.count("<title>cluster_") == 4  # one box per time step


def test_the_checkpointed_block_keeps_steps_0_2_4_and_names_the_segment_of_h3(
        tmp_path, monkeypatch, capsys):
    from rnn import RNN
    lines = run_block("Long sequences: checkpointed unrolls", tmp_path, monkeypatch,
                      capsys).splitlines()
    assert lines[0] == "(0, 2, 4)"
    plain = RNN(4, 3, 4, seed=0).unroll(np.array([0, 2, 1, 3]), np.array([2, 1, 3, 0]))
    plain.loss.backward()
    np.testing.assert_allclose(np.array(lines[1].strip("[]").split(), float),
                               plain.h[4].grad, rtol=1e-7)   # as printed, 8 digits
    assert lines[2].startswith("h(3) is not kept: step 3 is inside the checkpointed segment "
                               "'steps 3..3'")


def test_adding_your_own_op_gives_its_first_and_second_derivatives(tmp_path, monkeypatch, capsys):
    lines = run_block("Adding your own op", tmp_path, monkeypatch, capsys).splitlines()
    x = np.array([-2.0, 0.0, 3.0])
    f = np.sqrt(x * x + 1)
    np.testing.assert_allclose(np.array(lines[0].strip("[]").split(), float), x / f, atol=1e-3)
    assert lines[1] == "True"
    np.testing.assert_allclose(np.array(lines[2].strip("[]").split(), float), 1 / f ** 3,
                               rtol=1e-6)


def test_the_higher_order_block_differentiates_twice_and_gradchecks_at_order_2(
        tmp_path, monkeypatch, capsys):
    printed = run_block("Higher order", tmp_path, monkeypatch, capsys).split()
    assert float(printed[0]) == pytest.approx(float(printed[1]), rel=1e-14)  # d²tanh/dx², by hand
    assert printed[-1] == "True"


def test_example_04_reaches_the_entropy_bound(capsys):
    runpy.run_path(str(ROOT / "examples" / "04_train_reber.py"))
    out = capsys.readouterr().out
    above = float(re.search(r"\(([+-][\d.]+)%\)", out).group(1))
    grammatical = float(re.search(r"([\d.]+)% of 1000 sampled strings", out).group(1))
    assert above < 1.0 and grammatical >= 99.0, out
