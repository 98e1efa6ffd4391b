"""Which tests kill which mutants: the bugs listed in tools/mutation/kills.toml, each run
against the whole fast suite without stopping at the first failure.

A bug is either one of mutmut's mutants, found by its function and changed lines, or
*hand-made*: a replacement of one exact piece of a staged source that mutmut's operators
cannot write (a transposed matrix, swapped operands), applied to a scratch copy of the
staged tree. Either way the failing tests are collected (parametrizations merged) into
KILLS_JSON for report.py. A listed bug that no longer matches the code stops the run with a
message naming it, before any test runs.

Only the tests that call the bug's function run (from mutmut's ``mutmut-stats.json``, which
records them per function): a test that never calls it cannot fail, so the list is the same
as the whole fast suite's, at about half the cost. A hand-made bug names its function for
this; code that runs at import (no test calls it) gets the whole fast suite.

Usage: ``python tools/mutation/kills.py STAGING_DIR KILLS_JSON [JOBS]``
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report import load_mutants, refuse_unknown  # noqa: E402  (a sibling script)

FAILED = re.compile(r"^FAILED (\S+?)(\[.*\])?(?: - .*)?$", re.M)


def _failing(cwd: Path, args: list[str], mutant: str = "") -> list[str]:
    env = dict(os.environ, MUTANT_UNDER_TEST=mutant)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rf", "--rootdir=.", *args],
                         cwd=cwd, env=env, capture_output=True, text=True)
    return sorted(set(m.group(1) for m in FAILED.finditer(run.stdout)))


def _hand_made(staging: Path, bug: dict, args: list[str]) -> list[str]:
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "staged"
        shutil.copytree(staging, copy, ignore=shutil.ignore_patterns("mutants", "__pycache__"))
        source = copy / bug["path"]
        source.write_text(source.read_text().replace(bug["original"], bug["mutated"]))
        return _failing(copy, args)


def _mangled(module: str, function: str) -> str:
    """mutmut's name for a function: minigrad.ops.x_add, minigrad.tensor.xǁ_Sumǁ__init__."""
    owner, _, name = function.rpartition(".")
    return f"{module}.x" + (f"ǁ{owner}ǁ{name}" if owner else f"_{name}")


def run(staging: Path, jobs: int) -> list[dict]:
    bugs = tomllib.loads(Path(__file__).with_name("kills.toml").read_text())["bug"]
    config = tomllib.loads((staging / "pyproject.toml").read_text())["tool"]["mutmut"]
    plugins = config["pytest_add_cli_args"]
    stage = json.loads((staging / "mutation_stage.json").read_text())
    callers = json.loads((staging / "mutants" / "mutmut-stats.json").read_text())[
        "tests_by_mangled_function_name"]

    def args(bug: dict) -> list[str]:
        tests = callers.get(_mangled(stage[bug["path"]]["module"], bug["function"]))
        return plugins + (sorted(tests) if tests else
                          config["pytest_add_cli_args_test_selection"])
    found = load_mutants(staging, [])
    refuse_unknown("tools/mutation/kills.toml", bugs, found)  # before any slow run
    for bug in bugs:
        if bug.get("hand_made") and (staging / bug["path"]).read_text().count(
                bug["original"]) != 1:
            sys.exit(f"kills.py: {bug['bug']!r}: {bug['original']!r} is not exactly once in "
                     f"{bug['path']}; update tools/mutation/kills.toml")
    mutants = {(m.function, m.original, m.mutated): m for m in found}

    def failing(bug: dict) -> list[str]:
        if bug.get("hand_made"):
            return _hand_made(staging, bug, args(bug))
        return _failing(staging / "mutants", args(bug),
                        mutants[bug["function"], bug["original"], bug["mutated"]].name)

    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(failing, bugs))
    return [dict(bug, hand_made=bool(bug.get("hand_made")), failing=tests)
            for bug, tests in zip(bugs, results)]


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__.rsplit("Usage: ", 1)[1].strip())
    kills = run(Path(sys.argv[1]), int(sys.argv[3]) if len(sys.argv) == 4 else 2)
    Path(sys.argv[2]).write_text(json.dumps(kills, indent=1) + "\n")
    print(f"kills: {len(kills)} bugs, {sum(not k['failing'] for k in kills)} survive the suite")
