"""Turn a finished mutation run (mutmut's .meta files in STAGING/mutants) into docs/mutation.md.

Each mutant is identified by its function and the source lines it changes (not by mutmut's
number, which shifts when a function changes), so tools/mutation/equivalent.toml can say
which survivors are equivalent, and why, across edits. The score of a target is
killed / (mutants − equivalent − not checked); a timeout counts as killed, a mutant that no
test reaches as not killed, and one a stopped run never reached is left out (and counted
apart). The kills table comes from tools/mutation/kills.py's JSON (``make mutation-kills``,
after ``make mutation``), when it is given.

Usage: ``python tools/mutation/report.py STAGING_DIR OUT.md --seconds S --jobs N
[--kills KILLS_JSON --kills-seconds S]``
"""
from __future__ import annotations

import argparse
import ast
import difflib
import json
import sys
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"engine": ("minigrad/tensor.py",),  # path prefixes
           "op table": ("minigrad/ops.py", "minigrad/lazy.py"),
           "testing": ("minigrad/testing/",), "oracle": ("rnn/oracles/",),
           "input checks": ("rnn/inputs.py",)}
GOALS = {"engine": 0.90, "op table": 0.95, "oracle": 0.95}
STATUS = {1: "killed", 3: "killed", 0: "survived", 33: "no tests", 5: "no tests",
          36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout",
          None: "not checked"}
SHOWN = 5  # failing tests named per row of the kills table


@dataclass
class Mutant:
    name: str           # mutmut's, e.g. minigrad.ops.x_add__mutmut_2
    path: str           # minigrad/ops.py
    function: str       # add, Tensor.backward
    original: str       # the changed lines, as in the source
    mutated: str        # the same lines in the mutant
    status: str
    reason: str = ""    # why it is equivalent, if it is

    @property
    def counted(self) -> bool:
        return not self.reason

    @property
    def killed(self) -> bool:
        return self.status in ("killed", "timeout")


def _function_sources(code: str) -> dict[str, list[str]]:
    """Source lines of every function and method of a mutmut-generated file, by def name (the
    name in the def line put back to the original's, so that only the mutation differs)."""
    lines, sources = code.splitlines(), {}
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            source = lines[node.lineno - 1:node.end_lineno]
            original = _display(node.name.rpartition("__mutmut_")[0]).rpartition(".")[2]
            sources[node.name] = [source[0].replace(node.name, original, 1)] + source[1:]
    return sources


def _display(mangled: str) -> str:
    """x_add -> add; xǁTensorǁbackward -> Tensor.backward."""
    return ".".join(mangled.split("ǁ")[1:]) if mangled.startswith("xǁ") else mangled[2:]


def load_mutants(staging: Path, equivalents: list[dict]) -> list[Mutant]:
    stage = json.loads((staging / "mutation_stage.json").read_text())
    mutants = []
    for path, info in stage.items():
        if not (staging / "mutants" / f"{path}.meta").exists():
            continue  # staged but outside pyproject's only_mutate: mutmut made no mutant
        meta = json.loads((staging / "mutants" / f"{path}.meta").read_text())
        sources = _function_sources((staging / "mutants" / path).read_text())
        for name, code in meta["exit_code_by_key"].items():
            definition = name.removeprefix(info["module"] + ".")
            mangled = definition.rpartition("__mutmut_")[0]
            before, after = sources[mangled + "__mutmut_orig"], sources[definition]
            diff = list(difflib.ndiff(before, after))
            removed = [line[2:].strip() for line in diff if line.startswith("- ")]
            added = [line[2:].strip() for line in diff if line.startswith("+ ")]
            mutants.append(Mutant(name, path, _display(mangled), " / ".join(removed),
                                  " / ".join(added), STATUS.get(code, f"exit {code}")))
    by_key = {(e["function"], e["original"], e["mutated"]): e["reason"] for e in equivalents}
    for mutant in mutants:
        if mutant.status == "survived":
            mutant.reason = by_key.get((mutant.function, mutant.original, mutant.mutated), "")
    return mutants


def unknown(entries: list[dict], mutants: list[Mutant]) -> list[dict]:
    """The entries of equivalent.toml or kills.toml (hand-made bugs aside) that name no mutant
    of this run: the code changed under them, and they must be updated or removed."""
    names = {(m.function, m.original, m.mutated) for m in mutants}
    return [e for e in entries if not e.get("hand_made")
            and (e["function"], e["original"], e["mutated"]) not in names]


def refuse_unknown(table: str, entries: list[dict], mutants: list[Mutant]) -> None:
    """Stop, naming every entry of ``table`` that names no mutant."""
    missing = unknown(entries, mutants)
    if missing:
        sys.exit(f"{table} names {len(missing)} mutants that do not exist; update or remove:\n"
                 + "\n".join(f"  {e['function']}: {e['original']!r} -> {e['mutated']!r}"
                              for e in missing))


def _target(path: str) -> str:
    return next(t for t, prefixes in TARGETS.items() if path.startswith(prefixes))


def _code(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`" if text else "(nothing)"


def _rules() -> list[str]:
    """The @primitive rules of the op table, from the source."""
    tree = ast.parse((ROOT / "minigrad/ops.py").read_text())
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef)
            and any(isinstance(d, ast.Name) and d.id == "primitive" for d in node.decorator_list)]


def render(mutants: list[Mutant], kills: list[dict] | None, stale: list[dict], seconds: float,
           jobs: int, selection: list[str], note: str, commit: str,
           kills_seconds: float | None = None) -> str:
    out = ["# Mutation score", "",
           f"Measured {date.today().isoformat()} on commit {commit} with `make mutation` "
           f"(mutmut 3.8.1, {jobs} workers, {seconds / 60:.0f} min wall time on a 2-core "
           "machine). How it works and how to read this page: "
           "[the last section](#how-the-run-works)." + (f" {note}" if note else ""), "",
           "| target | file | mutants | killed | timeout | survived | no test | equivalent "
           "| not checked | score | goal |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for target, prefixes in TARGETS.items():
        group = [m for m in mutants if _target(m.path) == target]
        status = Counter(m.status for m in group)
        equivalent = sum(not m.counted for m in group)
        counted = len(group) - equivalent - status["not checked"]
        killed = sum(m.killed for m in group)
        goal = f"{GOALS[target]:.0%}" if target in GOALS else "—"
        score = f"**{killed / counted:.1%}**" if counted else "— (no mutant to count)"
        out.append(f"| {target} | {', '.join(f'`{p}`' for p in prefixes)} | {len(group)} | "
                   f"{status['killed']} | "
                   f"{status['timeout']} | {status['survived'] - equivalent} | "
                   f"{status['no tests']} | {equivalent} | {status['not checked']} | "
                   f"{score} | {goal} |")
    unchecked = sum(m.status == "not checked" for m in mutants)
    if unchecked:
        out += ["", f"{unchecked} mutants were not checked (the run was stopped before it "
                "reached them); a score counts only the mutants checked."]
    out += ["", "## Mutants per op-table rule", "",
            "Every function of `minigrad/ops.py` and, named `lazy.…`, of `minigrad/lazy.py` "
            "(the lazy gradients); **bold** names are `@primitive` rules (forward and VJP in "
            "one function). `_module_level_1` is the block of operator and method assignments "
            "on Tensor at the end of ops.py.", "",
            "| function | mutants | killed | survived | equivalent |", "|---|---:|---:|---:|---:|"]
    rules = _rules()
    per = defaultdict(list)
    for m in mutants:
        if m.path in TARGETS["op table"]:
            per[m.function if m.path == "minigrad/ops.py" else
                f"{Path(m.path).stem}.{m.function}"].append(m)
    for function in rules + sorted(set(per) - set(rules)):
        group = per.get(function, [])
        out.append(f"| {'**' + function + '**' if function in rules else function} | "
                   f"{len(group)} | {sum(m.killed for m in group)} | "
                   f"{sum(m.status == 'survived' and m.counted for m in group)} | "
                   f"{sum(not m.counted for m in group)} |")
    unmutated = [rule for rule in rules if not per.get(rule)]
    out += ["", "Rules without a mutant of their own (mutmut has no operator for what they do; "
            f"a VJP written as a separate function appears above): "
            f"{', '.join(unmutated) if unmutated else 'none'}."]

    out += ["", "## Which properties kill which mutants", ""]
    if kills is None:
        out += ["Not run with this score: `make mutation-kills`, after `make mutation`, runs "
                "the bugs of tools/mutation/kills.toml and adds the table here."]
    else:
        out += [
            "Each row is one mutant, run against every test of the fast suite that calls its "
            "function, without stopping at the first failure (tools/mutation/kills.py, "
            f"`make mutation-kills`: {kills_seconds / 60:.0f} min after the score's run); "
            "the tests that fail name the property that catches that kind of bug. Rows "
            "marked *hand-made* are bugs that mutmut's operators cannot write (a transposed "
            "matrix, a dropped term).", "",
            "| bug | file | mutant | tests that fail |", "|---|---|---|---|"]
    for kill in kills or ():
        failing = kill["failing"]
        tests = "<br>".join(f"`{t.removeprefix('tests/')}`" for t in failing[:SHOWN]) + (
            f"<br>and {len(failing) - SHOWN} more" if len(failing) > SHOWN else "")
        tests = tests or "**none: survives**"
        out.append(f"| {kill['bug']}{' (*hand-made*)' if kill['hand_made'] else ''} | "
                   f"`{kill['path']}` | {_code(kill['original'])} → {_code(kill['mutated'])} | "
                   f"{tests} |")

    out += ["", "## Equivalent mutants", "",
            "Survivors that no test can kill because they compute the same thing "
            "(from tools/mutation/equivalent.toml, matched by function and changed lines).", "",
            "| file | function | original | mutant | why it is equivalent |",
            "|---|---|---|---|---|"]
    for m in sorted((m for m in mutants if not m.counted), key=lambda m: (m.path, m.function)):
        out.append(f"| `{m.path}` | {m.function} | {_code(m.original)} | {_code(m.mutated)} | "
                   f"{m.reason} |")
    survivors = [m for m in mutants if m.counted and not m.killed and m.status != "not checked"]
    out += ["", "## Surviving mutants", "",
            f"{len(survivors)} non-equivalent mutants are not killed "
            "(no test reaches the ones marked *no test*).", "",
            "| file | function | original | mutant | status |", "|---|---|---|---|---|"]
    for m in sorted(survivors, key=lambda m: (m.path, m.function, m.name)):
        out.append(f"| `{m.path}` | {m.function} | {_code(m.original)} | {_code(m.mutated)} | "
                   f"{m.status} |")
    if stale:
        out += ["", "Entries of equivalent.toml that matched no survivor this time (a test "
                "now kills them, or the run did not reach them): " +
                "; ".join(f"{e['function']}: {_code(e['original'])} → {_code(e['mutated'])}"
                          for e in stale) + "."]
    out += ["", "## How the run works", "", HOW.format(selection=" ".join(selection)), ""]
    return "\n".join(out)


HOW = """\
`make mutation` installs the `mutation` extra (mutmut 3.8.1), stages a rewritten copy of the
project in `build/mutation` (tools/mutation/stage.py), runs `mutmut run` there, re-checks the
import-time mutants in fresh processes (tools/mutation/fresh.py) and writes this page
(tools/mutation/report.py). `make mutation-kills` then runs the kills table in the same
tree (tools/mutation/kills.py) and writes the page again with it.

* **Every rule is mutated.** mutmut skips decorated functions and module-level code. The staged
  copy (never the source tree) turns `@primitive def add` into `def add` followed by
  `add = primitive(add)`, and the assignments on Tensor at the end of `minigrad/ops.py` into
  the body of a function `_module_level_1()` called in their place; behaviour is unchanged.
  Code that runs only at import (that function and `primitive` itself) runs before mutmut's
  forked workers choose their mutant, so those mutants are run again (tools/mutation/fresh.py):
  a mutant of `_module_level_1` first in a fork of a process that has collected the suite,
  running the block again with the mutant active; a survivor of that, and every mutant of
  `primitive`, in a fresh `pytest` process with the mutant active from the first import.
* **One thread per worker:** torch's thread pool does not survive mutmut's fork (a worker
  hangs in its first parallel op until the CPU limit, which mutmut would count as a kill), so
  the plugin sets OpenMP, MKL and BLAS to one thread.
* **Hypothesis is deterministic and does not shrink:** the `mutation` profile
  (tools/mutation/pytest_plugin.py) is the `dev` profile's examples with `derandomize=True`,
  no example database and no shrink phase, so every mutant meets the same examples.
  `hypothesis.find` still shrinks (its result is the minimal example by definition), from a
  fixed seed.
* **Test selection:** mutmut runs, for each mutant, only the tests that call the mutated
  function, fastest mutants first, stopping at the first failure. The suite it draws from is
  `{selection}` (pyproject's `[tool.mutmut]`, which says why each part is left out), the
  fast part of the suite; a mutant of `minigrad/` also leaves out the seq2seq, stacked-layer
  and cell-training tests (the plugin's `MODEL_TESTS`, 44 of the suite's 118 s), which can
  only lower its score.
* **Tool choice:** cosmic-ray 8.7.0 mutates decorated and module-level code as it is, but runs
  a fresh test process per mutant with no test selection: 1,314 mutants in `ops.py` alone at
  3.75 s each (measured) is 82 minutes on one worker before the other targets, over the
  one-hour budget. mutmut forks per mutant from a process that has imported everything and
  runs only the tests that reach the mutated function.
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("staging", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--kills", type=Path, help="kills.py's JSON, for the kills table")
    parser.add_argument("--kills-seconds", type=float, help="how long kills.py ran")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--note", default="", help="a sentence about this run, for the header")
    args = parser.parse_args()
    if (args.kills is None) != (args.kills_seconds is None):
        parser.error("--kills and --kills-seconds go together")
    equivalents = tomllib.loads(Path(__file__).with_name("equivalent.toml").read_text())["mutant"]
    mutants = load_mutants(args.staging, equivalents)
    refuse_unknown("tools/mutation/equivalent.toml", equivalents, mutants)
    used = {(m.function, m.original, m.mutated) for m in mutants if not m.counted}
    stale = [e for e in equivalents if (e["function"], e["original"], e["mutated"]) not in used]
    kills = json.loads(args.kills.read_text()) if args.kills else None
    selection = tomllib.loads((ROOT / "pyproject.toml").read_text())[
        "tool"]["mutmut"]["pytest_add_cli_args_test_selection"]
    commit = (args.staging / "commit.txt").read_text().strip()
    args.out.write_text(render(mutants, kills, stale, args.seconds, args.jobs, selection,
                               args.note, commit, args.kills_seconds))
    survivors = sum(m.counted and not m.killed and m.status != "not checked" for m in mutants)
    print(f"{args.out}: {len(mutants)} mutants, {survivors} not killed and not equivalent")


if __name__ == "__main__":
    main()
