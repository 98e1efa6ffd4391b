"""The vanilla RNN, the GRU and the LSTM on long dependencies (rnn.long_range).

    python examples/07_long_range.py run memory     # the sweeps (resumable: runs already in
    python examples/07_long_range.py run reber      #   docs/results/ are skipped)
    python examples/07_long_range.py plot --out docs/img   # the pictures and the table

``run`` trains every configuration (vanilla RNN, GRU, LSTM, LSTM with forget bias 3) at
every gap over ten seeds, seed by seed, appending each run to
docs/results/long_range_<task>.jsonl; ``plot`` draws the success rates with 95% Wilson
intervals and the gradient-norm profiles from those files (and from fresh, untrained models),
and prints the table the README shows. ``make pictures`` runs ``plot``; ``make long-range``
runs the sweeps.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from rnn.analysis import SUCCESS, memory_task
from rnn.long_range import CONFIGS, profile, read_results, sweep, wilson
from rnn.model import LanguageModel

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
GAPS = [5, 10, 20, 50, 100, 200]
SEEDS = range(10)
SETTINGS = {"memory": dict(steps=300, batch=32, hidden=16, lr=0.01, test_size=500),
            "reber": dict(steps=1000, batch=32, hidden=16, lr=0.01, test_size=500)}
LABELS = {"rnn": "vanilla RNN", "gru": "GRU", "lstm": "LSTM",
          "lstm-fb3": "LSTM, forget bias 3"}
TITLES = {"memory": "remember the first of 2 symbols across d distractors",
          "reber": "embedded Reber grammar, inner string of d symbols"}


def table(task, records):
    """Rows (config, d, successes, runs, mean accuracy) of the recorded runs."""
    rows = []
    for config in CONFIGS:
        for d in GAPS:
            acc = [r["accuracy"] for r in records if r["config"] == config and r["d"] == d]
            if acc:
                rows.append((config, d, sum(a >= SUCCESS for a in acc), len(acc), np.mean(acc)))
    return rows


def plot(out: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    for task in SETTINGS:
        records = [r for r in read_results(RESULTS / f"long_range_{task}.jsonl")
                   if r["task"] == task]
        rows = table(task, records)
        s = SETTINGS[task]
        print(f"\n{task}: {TITLES[task]}; H = {s['hidden']}, {s['steps']} Adam steps of "
              f"{s['batch']}, lr {s['lr']}, success = held-out accuracy ≥ {SUCCESS}")
        print("successes / runs (95% Wilson interval), mean held-out accuracy below\n")
        print("| cell | " + " | ".join(f"d = {d}" for d in GAPS) + " |")
        print("|---" * (len(GAPS) + 1) + "|")
        for config in CONFIGS:
            cells = {d: (k, n, mean) for c, d, k, n, mean in rows if c == config}
            print(f"| {LABELS[config]} | " + " | ".join(
                f"{cells[d][0]}/{cells[d][1]} ({wilson(*cells[d][:2])[0]:.2f}–"
                f"{wilson(*cells[d][:2])[1]:.2f})<br>{cells[d][2]:.3f}" if d in cells else "–"
                for d in GAPS) + " |")
        fig, ax = plt.subplots(figsize=(6.8, 4.2))
        for i, config in enumerate(CONFIGS):
            mine = [r for r in rows if r[0] == config]
            if not mine:
                continue
            d = np.array([r[1] for r in mine]) * (1 + 0.03 * (i - 1.5))   # side by side
            rate = np.array([r[2] / r[3] for r in mine])
            low, high = np.array([wilson(r[2], r[3]) for r in mine]).T
            ax.errorbar(d, rate, yerr=[rate - low, high - rate], fmt="o-", capsize=3,
                        label=f"{LABELS[config]} ({min(r[3] for r in mine)}–"
                              f"{max(r[3] for r in mine)} seeds)")
        ax.set_xscale("log")
        ax.set_xticks(GAPS, [str(g) for g in GAPS])
        ax.set(xlabel="dependency length d (steps)", ylabel=f"success rate (accuracy ≥ {SUCCESS})",
               ylim=(-0.05, 1.05), title=TITLES[task])
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / f"long_range_{task}.png", dpi=120)
        plt.close(fig)
    profiles(out, plt)


def profiles(out: Path, plt):
    """‖∂L(τ)/∂h(τ−k)‖ / ‖∂L(τ)/∂h(τ)‖ on the memory task at d = 200: the median over 10
    fresh models per configuration, and over the trained models of the sweep."""
    d = max(GAPS)
    trained = [r for r in read_results(RESULTS / "long_range_memory.jsonl") if r["d"] == d]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for i, config in enumerate(CONFIGS):
        kind, options = CONFIGS[config]
        fresh = []
        for seed in SEEDS:
            model = LanguageModel(kind, 6, SETTINGS["memory"]["hidden"], 2, seed=seed, **options)
            norms = profile(model, *memory_task(d, 32, rng=np.random.default_rng(seed)))
            fresh.append(norms / norms[0])
        axes[0].semilogy(np.median(fresh, axis=0), color=f"C{i}", label=LABELS[config])
        mine = [np.array(r["profile"]) / r["profile"][0] for r in trained
                if r["config"] == config]
        if mine:
            axes[1].semilogy(np.median(mine, axis=0), color=f"C{i}",
                             label=f"{LABELS[config]} ({len(mine)} runs)")
    for ax, title in zip(axes, ["at initialisation (10 seeds, median)",
                                "after training on d = 200 (median)"]):
        ax.set(xlabel="k (steps back from τ)", title=title)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("‖∂L(τ)/∂h(τ−k)‖ / ‖∂L(τ)/∂h(τ)‖")
    fig.tight_layout()
    fig.savefig(out / "long_range_profiles.png", dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run (or continue) a sweep")
    run.add_argument("task", choices=sorted(SETTINGS))
    run.add_argument("--workers", type=int, default=1)
    draw = sub.add_parser("plot", help="draw the pictures and print the table")
    draw.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args(argv)
    if args.command == "run":
        sweep(args.task, list(CONFIGS), GAPS, SEEDS, RESULTS / f"long_range_{args.task}.jsonl",
              workers=args.workers, **SETTINGS[args.task])
    else:
        plot(args.out)


if __name__ == "__main__":
    sys.exit(main())
