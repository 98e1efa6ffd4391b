"""Before and after: ``make bench``'s training-step rows for several commits, interleaved.

    python benchmarks/compare.py 827f49c HEAD          # or any revisions; WORKTREE = files as they are

Each revision is exported (``git archive``) to a temporary folder and timed by its own
``benchmarks/run.py`` (so a renamed API times as that revision calls it). Rounds
alternate between the revisions, each sample a fresh interpreter that imports what
``run.py`` imports (PyTorch too) and times every row with all implementations, the
numpy baseline among them, first with the collector as a user's process has it, then
after ``gc.freeze()``; and the τ = 1,000 step with the collector on and off. Medians
over rounds of the ratios to the baseline are compared, so a machine that slows down
mid-run slows both sides alike. Prints markdown tables (ratio per revision).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import gc, json, sys
sys.path[:0] = [{tree!r}, {tree!r} + "/benchmarks"]
sys.path.append({here!r})  # collector_cost, when the revision has none
import run
from collector_cost import on_and_off
for module in ("rnn.train", "torch", "minigrad.draw"):  # what run.py imports (torch if installed)
    try:
        __import__(module)
    except ImportError:
        pass
gc.collect()

def rows():
    return [{{"row": [r["hidden"], r["batch"], r["tau"]], "ratio": r["ratio"]}}
            for r in (run.time_row(H, B, tau, {repeats}, {min_seconds})
                      for H, B, tau, _ in run.TIME_ROWS)]

def collector():  # each minigrad row at hidden 128, τ = 1,000: collector on / off
    params, x, y = run.problem(128, 1, 1000)
    ratios = {{}}
    for name in [n for n in run.IMPLEMENTATIONS if n.startswith("minigrad")]:
        medians = on_and_off(run.IMPLEMENTATIONS[name](params, x, y), run.interleaved,
                             {repeats}, {min_seconds})
        ratios[name] = medians["on"] / medians["off"]
    return ratios

result = {{"live": rows(), "collector": collector()}}
gc.freeze()
result["frozen"] = rows()
print(json.dumps(result))
"""
MODES = {"live": "collector live (nothing frozen)", "frozen": "after gc.freeze()"}


def export(revision: str, into: Path) -> Path:
    """The files of ``revision`` (or of the work tree for WORKTREE) in a folder of their own."""
    if revision == "WORKTREE":
        return ROOT
    tree = into / revision.replace("/", "_")
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def sample(tree: Path, repeats: int, min_seconds: float) -> dict:
    code = CHILD.format(tree=str(tree), here=str(ROOT / "benchmarks"), repeats=repeats,
                        min_seconds=min_seconds)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         cwd=tree)
    return json.loads(out.stdout.strip().splitlines()[-1])


def same(names: list[str], name: str, k: int) -> str | None:
    """The implementation of one revision that is ``name`` of another: by name, else by
    position among the minigrad rows ("retain_graph_grads=False" became
    "keep_intermediate_grads=False"), else None (not in that revision)."""
    if name in names:
        return name
    mine = [n for n in names if n.startswith("minigrad")]
    return mine[k] if name.startswith("minigrad") and k < len(mine) else None


def median_of(runs, pick) -> str:
    values = [v for v in map(pick, runs) if v is not None]
    return f"{statistics.median(values):.2f}×" if values else "—"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revisions", nargs="+", help="git revisions, or WORKTREE")
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes per revision")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved samples per process")
    parser.add_argument("--min-seconds", type=float, default=0.05, help="work per sample")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        trees = {rev: export(rev, Path(folder)) for rev in args.revisions}
        runs = {rev: [] for rev in trees}
        for r in range(args.rounds):
            for rev, tree in trees.items():
                runs[rev].append(sample(tree, args.repeats, args.min_seconds))
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    revs, last = args.revisions, args.revisions[-1]
    names = {rev: list(runs[rev][0]["live"][0]["ratio"]) for rev in revs}
    shown = [n for n in names[last] if n.startswith("minigrad") or n == "PyTorch eager, unrolled"]
    print("| collector | hidden, batch, τ | implementation | " + " | ".join(revs) + " |")
    print("|---|---|---|" + "---|" * len(revs))
    for mode, label in MODES.items():
        for i, row in enumerate(runs[last][0][mode]):
            for k, name in enumerate(shown):
                cells = []
                for rev in revs:
                    own = same(names[rev], name, k)
                    cells.append(median_of(runs[rev], lambda run: None if own is None
                                           else run[mode][i]["ratio"].get(own)))
                print(f"| {label} | {', '.join(map(str, row['row']))} | {name} | "
                      + " | ".join(cells) + " |")
    print()
    print("Collector on / off at hidden 128, τ = 1,000 (nothing frozen):")
    print()
    print("| implementation | " + " | ".join(revs) + " |")
    print("|---|" + "---|" * len(revs))
    for k, name in enumerate(runs[last][0]["collector"]):
        cells = []
        for rev in revs:
            own = same(list(runs[rev][0]["collector"]), name, k)
            cells.append(median_of(runs[rev], lambda run: run["collector"].get(own)))
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
