"""Re-check the survivors of a finished mutation run against some test files, without a new
run: for tests written to kill survivors. Each surviving mutant (import-time ones excepted:
fresh.py checks those) runs the given files, stopping at the first failure, in a process
forked from one that has collected them once, as mutmut does; a failure turns its verdict
into killed in mutmut's ``.meta`` file (a timeout too, as mutmut counts it). The test
files are copied into the staged tree and mutmut's working copy first. ``make mutation``
does not need this: its run includes them.

Usage: ``python tools/mutation/recheck.py STAGING_DIR JOBS TEST_FILE...``
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tomllib
from pathlib import Path

from forks import KILLED, SURVIVED, verdicts

TIMEOUT = 300  # seconds for one mutant: a mutant that loops is killed by the alarm


def _survivors(staging: Path) -> dict[str, list[str]]:
    stage = json.loads((staging / "mutation_stage.json").read_text())
    names = {}
    for path, info in stage.items():
        if not (staging / "mutants" / f"{path}.meta").exists():
            continue  # staged but outside pyproject's only_mutate
        meta = json.loads((staging / "mutants" / f"{path}.meta").read_text())
        import_time = tuple(f"{info['module']}.x_{f}__mutmut_" for f in info["import_time"])
        names[path] = [name for name, code in meta["exit_code_by_key"].items()
                       if code == SURVIVED and not name.startswith(import_time)]
    return names


def recheck(staging: Path, jobs: int, files: list[Path]) -> dict[str, int]:
    for file in files:
        for tree in (staging, staging / "mutants"):
            shutil.copy2(file, tree / "tests" / file.name)
    mutants = staging / "mutants"
    config = tomllib.loads((staging / "pyproject.toml").read_text())["tool"]["mutmut"]
    args = ["-x", "-q", "--rootdir=.", *config["pytest_add_cli_args"],
            *(f"tests/{file.name}" for file in files)]
    os.chdir(mutants)
    sys.path.insert(0, str(mutants))
    import pytest
    os.environ["MUTANT_UNDER_TEST"] = ""
    if pytest.main(args) != 0:
        sys.exit("recheck.py: the test files fail without a mutant")
    survivors = _survivors(staging)
    queue = [name for names in survivors.values() for name in names]
    results = verdicts(queue, jobs, TIMEOUT,
                       lambda: SURVIVED if pytest.main(args) == 0 else KILLED)
    for path, names in survivors.items():
        meta_path = mutants / f"{path}.meta"
        meta = json.loads(meta_path.read_text())
        for name in names:
            meta["exit_code_by_key"][name] = results[name]
        meta_path.write_text(json.dumps(meta, indent=4))
    return results


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__.rsplit("Usage: ", 1)[1].strip())
    staging = Path(sys.argv[1]).resolve()
    results = recheck(staging, int(sys.argv[2]), [Path(f).resolve() for f in sys.argv[3:]])
    killed = sum(code == KILLED for code in results.values())
    print(f"recheck: {len(results)} survivors, {killed} now killed")
