"""Before and after: ``make bench``'s training-step rows for several commits, interleaved.

    python benchmarks/compare.py 827f49c HEAD          # or any revisions; WORKTREE = files as they are

Each revision is exported (``git archive``) to a temporary folder and timed by its own
``benchmarks/run.py`` (so a renamed API times as that revision calls it). Rounds
alternate between the revisions, each sample a fresh interpreter that times every row
with all implementations, the numpy baseline among them; medians over rounds of the
ratios to that baseline are compared, so a machine that slows down mid-run slows
both sides alike. Prints a markdown table (ratio per revision, and the change).
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
import json, sys
sys.path[:0] = [{tree!r}, {tree!r} + "/benchmarks"]
import run
run.freeze_imports()
rows = [run.time_row(H, B, tau, {repeats}, {min_seconds}) for H, B, tau, _ in run.TIME_ROWS]
print(json.dumps([{{"row": [r["hidden"], r["batch"], r["tau"]], "ratio": r["ratio"]}} for r in rows]))
"""


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


def sample(tree: Path, repeats: int, min_seconds: float) -> list[dict]:
    code = CHILD.format(tree=str(tree), repeats=repeats, min_seconds=min_seconds)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         cwd=tree)
    return json.loads(out.stdout.strip().splitlines()[-1])


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
    first = args.revisions[0]
    names = {rev: [n for n in runs[rev][0][0]["ratio"] if n.startswith("minigrad")] for rev in trees}
    # matched by position: a renamed implementation ("retain_graph_grads=False" became
    # "keep_intermediate_grads=False") is still the same row
    print("| hidden, batch, τ | implementation | " + " | ".join(args.revisions)
          + " | change (last vs first) |")
    print("|---|---|" + "---|" * len(args.revisions) + "---|")
    for i, row in enumerate(runs[first][0]):
        for k, name in enumerate(names[args.revisions[-1]]):
            medians = [statistics.median(run[i]["ratio"][names[rev][k]] for run in runs[rev])
                       for rev in trees]
            print(f"| {', '.join(map(str, row['row']))} | {name} | "
                  + " | ".join(f"{m:.2f}×" for m in medians)
                  + f" | {100 * (medians[-1] / medians[0] - 1):+.1f}% |")


if __name__ == "__main__":
    main()
