"""Check the mutants of import-time code in fresh processes, after ``mutmut run``.

mutmut's workers are forked from a process that imported the targets before the mutant under
test was chosen, so a mutant of code that runs only at import (the module-level statements and
the module's own decorators, listed by stage.py) never runs there and would survive by
construction. Here each such mutant gets its own ``python -m pytest`` over the whole fast
suite with ``MUTANT_UNDER_TEST`` set from the start, so the import runs the mutant (fastest
tests first, by mutmut's timings, stopping at the first failure). The verdict replaces mutmut's
in its ``.meta`` file, in mutmut's codes: a failing test or a failing import (pytest's
collection error) kills the mutant.

Usage: ``python tools/mutation/fresh.py STAGING_DIR [JOBS]``
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

KILLED, SURVIVED, TIMEOUT = 1, 0, 36  # mutmut's codes


def _run(mutants: Path, name: str, args: list[str], timeout: float) -> int:
    env = dict(os.environ, MUTANT_UNDER_TEST=name)
    command = [sys.executable, "-m", "pytest", "-x", "-q", "--rootdir=.", *args]
    try:
        code = subprocess.run(command, cwd=mutants, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        return TIMEOUT
    return SURVIVED if code == 0 else KILLED


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
        with ThreadPoolExecutor(jobs) as pool:
            codes = list(pool.map(lambda name: _run(mutants, name, args, timeout), names))
        for name, code in zip(names, codes):
            meta["exit_code_by_key"][name] = code
            results[name] = code
        meta_path.write_text(json.dumps(meta, indent=4))
    return results


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.rsplit("Usage: ", 1)[1].strip())
    results = check(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) == 3 else 2)
    survived = sorted(name for name, code in results.items() if code == SURVIVED)
    print(f"fresh processes: {len(results)} import-time mutants, {len(survived)} survived")
