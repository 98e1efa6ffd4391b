"""The sdist carries what its own test suite needs; the wheel holds every module and installs.

Both are built once from this tree with ``python -m build --no-isolation``: the sdist first,
then the wheel from the unpacked sdist, so a source file missing from the sdist breaks the wheel.
"""
import email.parser
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import minigrad

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTION = "minigrad-rnn"  # `minigrad` on the package index is another project
PACKAGES = ["minigrad", "rnn"]
# What the suite reads besides the packages: its own modules (conftest, strategies), the
# examples and notebooks it runs, the documents it reads, and the build files.
SUITE_DIRS = ["tests", "examples", "docs"]
SUITE_FILES = ["README.md", "LICENSE", "pyproject.toml", "MANIFEST.in", "Makefile"]
JUNK = {"__pycache__", ".hypothesis", ".pytest_cache", ".ipynb_checkpoints", ".venv", "out"}


def run(*command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, **kwargs)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def tree_files(*dirs):
    """Files under `dirs` of this tree, relative, without caches and hidden folders."""
    return {str(p.relative_to(ROOT)) for d in dirs for p in (ROOT / d).rglob("*")
            if p.is_file() and p.suffix != ".pyc"
            and not any(part.startswith(".") or part == "__pycache__"
                        for part in p.relative_to(ROOT).parts)}


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT))
    sdist, = out.glob("*.tar.gz")
    wheel, = out.glob("*.whl")
    return sdist, wheel


@pytest.fixture(scope="module")
def sdist_files(dist):
    with tarfile.open(dist[0]) as archive:
        top, *_ = archive.getnames()
        return {name.removeprefix(top + "/") for name in archive.getnames()
                if archive.getmember(name).isfile()}


def test_sdist_holds_the_suite_and_what_it_reads(sdist_files):
    needed = tree_files(*SUITE_DIRS, *PACKAGES) | set(SUITE_FILES)
    assert {"tests/conftest.py", "minigrad/testing/rnn.py", "docs/seed_errata.md"} <= needed
    assert not needed - sdist_files, f"missing from the sdist: {sorted(needed - sdist_files)}"


def test_sdist_holds_no_caches_or_outputs(sdist_files):
    junk = {name for name in sdist_files if JUNK & set(Path(name).parts) or name.endswith(".pyc")}
    assert not junk, f"in the sdist: {sorted(junk)}"


def test_unpacked_sdist_collects_its_whole_suite(dist, tmp_path):
    """Collection from the unpacked sdist (not this tree) finds every test module without error."""
    with tarfile.open(dist[0]) as archive:
        # extraction filters exist from 3.10.12 and 3.11.4 on; the archive is our own
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(tmp_path, **safe)
    unpacked, = tmp_path.iterdir()
    # `python -m pytest` puts the unpacked sdist first on sys.path, ahead of this tree
    listing = run(sys.executable, "-m", "pytest", "--collect-only", "-q", "-o", "addopts=",
                  "-p", "no:cacheprovider", cwd=unpacked)
    collected = {line.split("::")[0] for line in listing.splitlines() if "::" in line}
    assert collected == {f for f in tree_files("tests") if Path(f).name.startswith("test_")}


@pytest.fixture(scope="module")
def wheel_files(dist):
    with zipfile.ZipFile(dist[1]) as archive:
        return set(archive.namelist())


def test_wheel_holds_every_module_and_no_tests(wheel_files):
    modules = {f for f in tree_files(*PACKAGES) if f.endswith(".py")}
    assert not modules - wheel_files, f"missing from the wheel: {sorted(modules - wheel_files)}"
    tops = {name.split("/")[0] for name in wheel_files}
    assert tops == {*PACKAGES, f"minigrad_rnn-{minigrad.__version__}.dist-info"}


def test_wheel_metadata(dist, wheel_files):
    info = f"minigrad_rnn-{minigrad.__version__}.dist-info"
    with zipfile.ZipFile(dist[1]) as archive:
        metadata = email.parser.Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
        licence = archive.read(f"{info}/licenses/LICENSE").decode()
    assert metadata["Name"] == DISTRIBUTION
    assert metadata["Version"] == minigrad.__version__
    assert metadata["License-Expression"] == "MIT" and metadata["License-File"] == "LICENSE"
    assert licence.startswith("MIT License") and "2026 the minigrad authors" in licence
    assert metadata["Author"] == "the minigrad authors"
    assert "Programming Language :: Python :: 3.13" in metadata.get_all("Classifier")
    assert "minigrad-rnn = rnn.__main__:main" in entry_points


SMOKE = """
import importlib.metadata, sys
import numpy as np
import minigrad, rnn
from rnn.oracles.vanilla import bptt
assert minigrad.__file__.startswith(sys.argv[1]), minigrad.__file__
assert importlib.metadata.version("minigrad-rnn") == minigrad.__version__
x, y = np.array([0, 2, 1, 3]), np.array([2, 1, 3, 0])
model = rnn.RNN(input_size=4, hidden_size=3, output_size=4, seed=0)
model.unroll(x, y).loss.backward()
oracle = bptt(*(p.data for p in model.parameters().values()), x, y)
print(np.abs(model.W.grad - oracle.grads["W"]).max())
"""


def test_wheel_installed_elsewhere_works(dist, tmp_path):
    """Installed non-editable into a folder outside the tree and run from there."""
    target = tmp_path / "site"
    run(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
        "--target", str(target), str(dist[1]))
    env = {**os.environ, "PYTHONPATH": str(target)}
    worst = float(run(sys.executable, "-c", SMOKE, str(target), cwd=tmp_path, env=env))
    assert worst < 1e-12  # autodiff = analytic BPTT, from the installed files
    assert "demo" in run(str(target / "bin" / "minigrad-rnn"), "--help", cwd=tmp_path, env=env)
