"""Check the mutants of import-time code in fresh processes, after ``mutmut run``.

mutmut's workers are forked from a process that imported the targets before the mutant under
test was chosen, so a mutant of code that runs only at import (the module-level statements and
the module's own decorators, listed by stage.py) never runs there and would survive by
construction. Here each such mutant gets its own ``python -m pytest`` over the whole fast
suite with ``MUTANT_UNDER_TEST`` set from the start, so the import runs the mutant (fastest
tests first, by mutmut's timings, stopping at the first failure). The verdict replaces mutmut's
in its ``.meta`` file, in mutmut's codes: a failing test or a failing import (pytest's
collection error) kills the mutant.

A fresh process costs the suite's imports and collection, about as much as the tests that kill
a mutant, so a module-level block (assignments to attributes, stage.py's ``_module_level_<n>``)
is tried first the cheap way: in a process forked from one that has collected the suite once,
the block runs again with the mutant active, and its assignments replace the originals before
the tests run. A mutant killed so is killed (a test fails with the mutant in place); one that
survives, and every mutant of a decorator, still gets its fresh process.

Usage: ``python tools/mutation/fresh.py STAGING_DIR [JOBS]``
"""
from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from forks import KILLED, SURVIVED, TIMEOUT, verdicts


def _run(mutants: Path, name: str, args: list[str], timeout: float) -> int:
    env = dict(os.environ, MUTANT_UNDER_TEST=name)
    command = [sys.executable, "-m", "pytest", "-x", "-q", "--rootdir=.", *args]
    try:
        code = subprocess.run(command, cwd=mutants, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        return TIMEOUT
    return SURVIVED if code == 0 else KILLED


def _forked(mutants: Path, module: str, function: str, names: list[str], args: list[str],
            jobs: int, timeout: float) -> dict[str, int]:
    """Verdicts of the mutants of ``module.function`` (a module-level block) from forks of this
    process, each running the block again with its mutant active before the tests."""
    os.chdir(mutants)
    sys.path.insert(0, str(mutants))
    import pytest
    os.environ["MUTANT_UNDER_TEST"] = ""
    if pytest.main(["--collect-only", "-q", "--rootdir=.", *args]) != 0:
        sys.exit("fresh.py: the fast suite does not collect without a mutant")
    block = getattr(importlib.import_module(module), function)  # mutmut's trampoline

    def child() -> int:
        try:
            block()
        except Exception:  # the block fails with this mutant: so would the import
            return KILLED
        return SURVIVED if pytest.main(["-x", "-q", "--rootdir=.", *args]) == 0 else KILLED
    return verdicts(names, jobs, timeout, child)


def check(staging: Path, jobs: int) -> dict[str, int]:
    stage = json.loads((staging / "mutation_stage.json").read_text())
    config = tomllib.loads((staging / "pyproject.toml").read_text())["tool"]["mutmut"]
    args = config["pytest_add_cli_args_test_selection"] + config["pytest_add_cli_args"]
    mutants = staging / "mutants"
    # mutmut has just run the suite clean and timed every test: ten times that is a loop
    durations = json.loads((mutants / "mutmut-stats.json").read_text())["duration_by_test"]
    timeout = 10 * sum(durations.values()) + 60
    results = {}
    for path, info in stage.items():
        if not info["import_time"]:
            continue
        meta_path = mutants / f"{path}.meta"
        meta = json.loads(meta_path.read_text())
        pattern = re.compile(rf"^{re.escape(info['module'])}\.x_"
                             rf"({'|'.join(map(re.escape, info['import_time']))})__mutmut_\d+$")
        names = [name for name in meta["exit_code_by_key"] if pattern.match(name)]
        codes = {}
        for level in info["module_level"]:
            block = [n for n in names if n.startswith(f"{info['module']}.x_{level['function']}__")]
            codes |= _forked(mutants, info["module"], level["function"], block, args, jobs,
                             timeout)
        again = [name for name in names if codes.get(name, SURVIVED) == SURVIVED]
        with ThreadPoolExecutor(jobs) as pool:
            codes |= zip(again, pool.map(lambda name: _run(mutants, name, args, timeout), again))
        for name in names:
            meta["exit_code_by_key"][name] = results[name] = codes[name]
        meta_path.write_text(json.dumps(meta, indent=4))
    return results


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.rsplit("Usage: ", 1)[1].strip())
    results = check(Path(sys.argv[1]).resolve(), int(sys.argv[2]) if len(sys.argv) == 3 else 2)
    survived = sorted(name for name, code in results.items() if code == SURVIVED)
    print(f"fresh processes: {len(results)} import-time mutants, {len(survived)} survived")
