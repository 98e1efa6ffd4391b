"""The README's code and the training example run as printed."""
import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_has_the_three_examples():
    assert len(README_BLOCKS) == 3


@pytest.mark.parametrize("code", README_BLOCKS, ids=["autodiff", "rnn", "higher order"])
def test_readme_python_block_runs(code, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the RNN block writes out/rnn.svg
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.split()
    if "create_graph" in code:  # d²tanh/dx² by mg.grad twice, then by hand
        assert float(printed[0]) == pytest.approx(float(printed[1]), rel=1e-14)
    if "gradcheck" in code:
        assert printed[-1] == "True"
    else:
        assert float(printed[-1]) < 1e-12  # largest |autodiff − BPTT| of ∂L/∂W
        svg = (tmp_path / "out" / "rnn.svg").read_text()
        assert all(f">{name}<" in svg for name in ["h(0)", "h(1)", "h(4)", "o(4)", "L(4)", "L"])
        assert svg.count("<title>cluster_") == 4  # one box per time step


def test_example_04_reaches_the_entropy_bound(capsys):
    runpy.run_path(str(ROOT / "examples" / "04_train_reber.py"))
    out = capsys.readouterr().out
    above = float(re.search(r"\(([+-][\d.]+)%\)", out).group(1))
    grammatical = float(re.search(r"([\d.]+)% of 1000 sampled strings", out).group(1))
    assert above < 1.0 and grammatical >= 99.0, out
