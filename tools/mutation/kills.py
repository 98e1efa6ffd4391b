"""Which tests kill which mutants: the bugs listed in tools/mutation/kills.toml, each run
against the whole fast suite without stopping at the first failure.

A bug is either one of mutmut's mutants, found by its function and changed lines, or
*hand-made*: a replacement of one exact piece of a staged source that mutmut's operators
cannot write (a transposed matrix, swapped operands), applied to a scratch copy of the
staged tree. Either way the failing tests are collected (parametrizations merged) into
KILLS_JSON for report.py. A listed bug that no longer matches the code stops the run with a
message naming it.

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
from report import load_mutants  # noqa: E402  (a sibling script, not a package)

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
        text = source.read_text()
        if text.count(bug["original"]) != 1:
            sys.exit(f"kills.py: {bug['bug']!r}: {bug['original']!r} is not exactly once in "
                     f"{bug['path']}; update tools/mutation/kills.toml")
        source.write_text(text.replace(bug["original"], bug["mutated"]))
        return _failing(copy, args)


def run(staging: Path, jobs: int) -> list[dict]:
    bugs = tomllib.loads(Path(__file__).with_name("kills.toml").read_text())["bug"]
    config = tomllib.loads((staging / "pyproject.toml").read_text())["tool"]["mutmut"]
    args = config["pytest_add_cli_args_test_selection"] + config["pytest_add_cli_args"]
    mutants = {(m.function, m.original, m.mutated): m for m in load_mutants(staging, [])}

    def failing(bug: dict) -> list[str]:
        if bug.get("hand_made"):
            return _hand_made(staging, bug, args)
        mutant = mutants.get((bug["function"], bug["original"], bug["mutated"]))
        if mutant is None:
            sys.exit(f"kills.py: {bug['bug']!r}: no mutant of {bug['function']} changes "
                     f"{bug['original']!r} to {bug['mutated']!r}; update kills.toml")
        return _failing(staging / "mutants", args, mutant.name)

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
