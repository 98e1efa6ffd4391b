"""What second order costs: the seed's RNN at ``make bench``'s sizes, each higher-order
operation timed against one ordinary backward pass of the same loss.

Rows are run.py's (hidden, batch, τ; one-hot inputs over 65 symbols; float64; one
thread). On a graph built once (untimed) it times ``backward()`` (B) and
``backward(create_graph=True)``; then, each including its own forward pass,
``mg.vjp`` (a VJP for a random cotangent), ``mg.jvp`` (forward mode by the transpose
trick, along a random direction), and ``mg.hvp`` in both modes. Interleaved rounds,
medians; every time is also given as a multiple of B, with the forward pass F beside
it (so jvp / B − F / B is what forward mode adds to a forward pass). Before timing,
the two hvp modes must agree to 1e-10 relative.

Writes benchmarks/higher_order.json and benchmarks/higher_order.md.
Usage: ``python benchmarks/higher_order.py [--quick]``.
"""
from __future__ import annotations

import os

os.environ.update({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})

import datetime  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402
from impls import problem  # noqa: E402
from rnn.model import RNN  # noqa: E402
from run import TIME_ROWS, freeze_imports, interleaved, machine  # noqa: E402

TOLERANCE = 1e-10


def operations(H, B, tau):
    """``{name: () -> None}`` for one row, after checking that the hvp modes agree."""
    params, x, y = problem(H, B, tau)
    model = RNN.from_arrays(**params)
    names, arrays = tuple(params), tuple(params.values())
    rng = np.random.default_rng(1)
    v = tuple(rng.standard_normal(a.shape) for a in arrays)

    def loss(*tensors):
        for name, t in zip(names, tensors):
            setattr(model, name, t)
        return model.unroll(x, y).loss

    leaves = tuple(mg.tensor(a, requires_grad=True) for a in arrays)
    graph_loss = loss(*leaves)
    u = rng.standard_normal(np.shape(graph_loss.data))
    rev, fwd = (mg.hvp(loss, arrays, v, mode=mode) for mode in ("rev-rev", "fwd-rev"))
    error = max(float(np.abs(a.data - b.data).max() / np.abs(b.data).max())
                for a, b in zip(fwd, rev))
    if not error <= TOLERANCE:
        raise SystemExit(f"H={H} B={B} τ={tau}: hvp modes differ by {error:.2g} relative")

    def backward(create_graph):
        def run():
            mg.zero_grad(leaves)
            graph_loss.backward(create_graph=create_graph, keep_intermediate_grads=False)
        return run

    return error, {
        "forward": lambda: loss(*leaves),
        "backward": backward(False),
        "backward(create_graph=True)": backward(True),
        "vjp": lambda: mg.vjp(loss, *arrays)[1](u),
        "jvp": lambda: mg.jvp(loss, arrays, v),
        "hvp rev-rev": lambda: mg.hvp(loss, arrays, v, mode="rev-rev"),
        "hvp fwd-rev": lambda: mg.hvp(loss, arrays, v, mode="fwd-rev"),
    }


def time_row(H, B, tau, repeats, min_seconds):
    """Median seconds per call of each operation, in interleaved rounds."""
    error, ops = operations(H, B, tau)
    medians, samples, calls = interleaved(ops, repeats, min_seconds)
    return {"hidden": H, "batch": B, "tau": tau, "hvp_modes_relative_difference": error,
            "median_seconds": medians, "samples": samples, "calls_per_sample": calls,
            "per_backward": {n: m / medians["backward"] for n, m in medians.items()}}


def markdown(results) -> str:
    m = results["machine"]
    names = [n for n in results["rows"][0]["median_seconds"] if n != "backward"]
    lines = [f"# Higher-order costs ({m['date'][:10]})", "",
             f"{m['cpu']}, {m['cores']} cores, Python {m['python']}, numpy {m['numpy']}, one "
             f"thread; load average (1 min) at start {m['load_average_at_start'][0]:.2f}. "
             "The seed's RNN at `make bench`'s sizes (one-hot inputs over 65 symbols, float64). "
             "B is one ordinary `loss.backward(keep_intermediate_grads=False)` on a recorded "
             "graph (parameters' gradients only, as mg.grad and the functional API keep); the "
             "other columns are multiples of B (median of interleaved rounds). `backward(create_graph=True)` runs "
             "on the same recorded graph; vjp, jvp and hvp include their own forward pass "
             "(the forward column is that pass alone). The two hvp modes agree to "
             f"{max(r['hvp_modes_relative_difference'] for r in results['rows']):.1e} relative.",
             "", "| hidden, batch, τ | B | " + " | ".join(names) + " |",
             "|---" * (len(names) + 2) + "|"]
    for r in results["rows"]:
        cells = [f"{r['per_backward'][n]:.2f}×" for n in names]
        B = r["median_seconds"]["backward"]
        lines.append(f"| {r['hidden']}, {r['batch']}, {r['tau']} | {B * 1e3:.2f} ms | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(quick=False):
    repeats, min_seconds = (3, 0.02) if quick else (11, 0.1)
    freeze_imports()
    results = {"machine": machine(), "rows": []}
    for H, B, tau, _ in TIME_ROWS:
        row = time_row(H, B, tau, repeats, min_seconds)
        results["rows"].append(row)
        print(f"H={H} B={B} τ={tau}: B = {row['median_seconds']['backward'] * 1e3:.2f} ms; "
              + ", ".join(f"{n} {r:.2f}×" for n, r in row["per_backward"].items()), flush=True)
    results["machine"]["load_average_at_end"] = os.getloadavg()
    results["machine"]["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
    (HERE / "higher_order.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    (HERE / "higher_order.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
