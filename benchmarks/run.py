"""``make bench``: how fast minigrad trains the seed's RNN, against a tight numpy BPTT.

Writes benchmarks/results.json and benchmarks/results.md. Rows (one training
step = forward + backward for L and ∂L/∂U, W, V, b, c; float64; one thread):

* time for hidden, batch, τ in (16, 1, 25), (64, 32, 100), (256, 32, 100),
  (128, 1, 1000): interleaved repeats in this process, medians, ratios to the
  numpy baseline (PyTorch rows when torch is installed), twice: first with
  everything imported (PyTorch too) and the garbage collector as a user's process
  has it, then after ``gc.freeze()`` (the objects the imports made are no longer
  scanned);
* the collector's cost: the τ = 1,000 step with the collector on and off;
* peak memory of one step at hidden 128, batch 1, τ = 10,000, each
  implementation in its own subprocess (peak RSS growth, and tracemalloc's peak
  for the minigrad rows), and the time of the checkpointed step there against the
  plain training step;
* τ = 100,000 at hidden 32 (and τ = 50,000, for MiB per step), and τ = 1,000,000
  checkpointed;
* engine overhead per op, graph drawing time at τ = 1,000 (when ``rnn.draw``
  exists) and the demo's training throughput;
* ``train --checkpoint-segments ⌈√τ⌉`` against plain training (steps/s, peak RSS,
  tracemalloc), each in a fresh process.

The τ = 1,000,000 row takes minutes (111 s of CPU, 345 s wall on the loaded 2-core
machine).

Before any timing every implementation's loss and gradients must agree with the
baseline to 1e-10 relative. Usage: ``python benchmarks/run.py [--quick]``;
``--floor`` measures only the floor of the row where the training mode trails
PyTorch eager (what the lowest a graph of minigrad's ops can reach there is) and
rewrites the results with it.
"""
from __future__ import annotations

import os

THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
os.environ.update(THREADS)  # before numpy loads its BLAS

import datetime  # noqa: E402
import gc  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402
from collector_cost import on_and_off  # noqa: E402
from impls import CHECKPOINTED, IMPLEMENTATIONS, problem, relative_error  # noqa: E402

BASELINE = "numpy BPTT (baseline)"
TIME_ROWS = [(16, 1, 25, 4.0), (64, 32, 100, 1.5), (256, 32, 100, 1.1), (128, 1, 1000, 4.0)]
MEMORY_ROW, MEMORY_GOAL = (128, 1, 10_000), 1.5
CHECKPOINT_MEMORY_GOAL, CHECKPOINT_TIME_GOAL = 0.5, 1.5  # × numpy's peak, × plain minigrad's time
TRAINING = "minigrad, keep_intermediate_grads=False"
COLLECTOR_ROW, COLLECTOR_GOAL = (128, 1, 1000), 1.1  # collector on / off
LONG_ROWS = [(32, 1, 50_000), (32, 1, 100_000)]
FLOOR_ROW = (256, 32, 100)  # the row where the training mode trails eager
MILLION, MILLION_GOAL_MIB = (32, 1, 1_000_000), 1024
TOLERANCE = 1e-10


def time_row(H, B, tau, repeats, min_seconds):
    """Median seconds per step of every implementation, timed in interleaved rounds."""
    params, x, y = problem(H, B, tau)
    steps = {name: make(params, x, y) for name, make in IMPLEMENTATIONS.items()}
    reference = steps[BASELINE]()
    errors = {name: relative_error(step(), reference) for name, step in steps.items()}
    bad = {name: e for name, e in errors.items() if not e <= TOLERANCE}
    if bad:
        raise SystemExit(f"H={H} B={B} τ={tau}: disagree with the baseline beyond {TOLERANCE}: {bad}")
    medians, samples, calls = interleaved(steps, repeats, min_seconds)
    return {"hidden": H, "batch": B, "tau": tau, "max_relative_error": errors,
            "median_seconds": medians, "samples": samples, "calls_per_sample": calls,
            "ratio": {name: m / medians[BASELINE] for name, m in medians.items()}}


def interleaved(steps: dict, repeats: int, min_seconds: float):
    """Median seconds per call of each ``steps[name]()``, timed in ``repeats`` interleaved
    rounds (each sample at least ``min_seconds`` of calls); also the samples and the calls
    per sample."""
    calls = {}
    for name, step in steps.items():  # calls per sample: at least min_seconds of work
        start = time.perf_counter()
        step()
        calls[name] = max(1, round(min_seconds / (time.perf_counter() - start)))
    samples = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(calls[name]):
                step()
            samples[name].append((time.perf_counter() - start) / calls[name])
    return {name: statistics.median(s) for name, s in samples.items()}, samples, calls


def collector_row(repeats, min_seconds):
    """The τ = 1,000 step of the minigrad rows with the collector as it is (on, nothing
    frozen) and off, interleaved: seconds and the ratio on / off."""
    H, B, tau = COLLECTOR_ROW
    params, x, y = problem(H, B, tau)
    result = {"hidden": H, "batch": B, "tau": tau, "objects_in_process": len(gc.get_objects()),
              "goal": COLLECTOR_GOAL, "ratio": {}}
    for name in ("minigrad", TRAINING):
        medians = on_and_off(IMPLEMENTATIONS[name](params, x, y), interleaved, repeats,
                             min_seconds)
        result["ratio"][name] = medians["on"] / medians["off"]
        result[name] = medians
    return result


def checkpoint_time(repeats):
    """Seconds per step at the memory row's size, the checkpointed step against the plain
    training step, interleaved; and their ratio (goal ≤ CHECKPOINT_TIME_GOAL)."""
    H, B, tau = MEMORY_ROW
    params, x, y = problem(H, B, tau)
    steps = {name: IMPLEMENTATIONS[name](params, x, y) for name in (TRAINING, CHECKPOINTED)}
    medians, _, _ = interleaved(steps, repeats, 0.0)
    return {"median_seconds": medians, "ratio": medians[CHECKPOINTED] / medians[TRAINING]}


def floor_row(repeats, min_seconds):
    """The behind row's floor: numpy BPTT, PyTorch eager and the training mode at the row's
    size, and numpy and minigrad on the same graph with tiny arrays (hidden 2, batch 1, 2
    symbols: what remains is their fixed cost), interleaved; minigrad's floor is numpy's
    time less numpy's fixed cost plus minigrad's. Also one W h(t−1) product in each BLAS."""
    import torch
    H, B, tau = FLOOR_ROW
    names = {"numpy": BASELINE, "eager": "PyTorch eager, unrolled", "minigrad": TRAINING}
    big, tiny = problem(H, B, tau), problem(2, 1, tau, D=2)
    steps = {label: IMPLEMENTATIONS[name](*big) for label, name in names.items()}
    steps.update({f"{label}, tiny": IMPLEMENTATIONS[names[label]](*tiny)
                  for label in ("numpy", "minigrad")})
    t, _, _ = interleaved(steps, repeats, min_seconds)
    rng = np.random.default_rng(0)
    W, h = rng.normal(size=(H, H)), rng.normal(size=(H, B))
    products = {"numpy": lambda: W @ h, "torch": lambda W=torch.tensor(W), h=torch.tensor(h): W @ h}
    gemm = interleaved({k: (lambda f=f: [f() for _ in range(100)]) for k, f in products.items()},
                       repeats, min_seconds)[0]
    return {"hidden": H, "batch": B, "tau": tau, "median_seconds": t,
            "date": datetime.date.today().isoformat(), "load": os.getloadavg()[0],
            "eager_ratio": t["eager"] / t["numpy"], "minigrad_ratio": t["minigrad"] / t["numpy"],
            "floor_ratio": (t["numpy"] - t["numpy, tiny"] + t["minigrad, tiny"]) / t["numpy"],
            "gemm_us": {k: v / 100 * 1e6 for k, v in gemm.items()}}


# -- memory, each implementation in a fresh interpreter ------------------------------

def memory_child(name, H, B, tau, traced=False):
    """Run in a subprocess: how far one step raises the resident set above where it
    stood just before the step (MiB), and the step's seconds. Linux: writing 5 to
    /proc/self/clear_refs resets the peak (VmHWM), so imports and set-up do not count.
    ``traced``: instead, tracemalloc's peak during the step (Python objects and numpy's
    arrays, which numpy reports to it), in MiB above what was allocated before it."""
    params, x, y = problem(H, B, tau)
    step = IMPLEMENTATIONS[name](params, x, y)
    gc.collect()
    if traced:
        import tracemalloc
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        step()
        print(json.dumps({"tracemalloc_peak_mib": (tracemalloc.get_traced_memory()[1] - before)
                          / 2**20}))
        return
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS")
    start = time.perf_counter()
    step()
    seconds = time.perf_counter() - start
    print(json.dumps({"peak_rss_growth_mib": (_status_kib("VmHWM") - before) / 1024, "seconds": seconds}))


def _status_kib(field):
    line = next(line for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith(field + ":"))
    return int(line.split()[1])


def measure_memory(name, H, B, tau, traced=False):
    """One step of ``name`` in a fresh interpreter: see :func:`memory_child`."""
    command = [sys.executable, __file__, "--traced" if traced else "--memory", name, str(H),
               str(B), str(tau)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **THREADS})
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- engine overhead, drawing, demo -------------------------------------------------

def engine_overhead(n=10_000, repeats=7):
    """µs per op, forward and backward (medians of ``repeats`` chains after a warm-up),
    on a long scalar chain and on 4×4 matrices."""
    def chain(make_leaf, op):
        forward, backward = [], []
        for _ in range(repeats + 1):
            y = make_leaf()
            start = time.perf_counter()
            for _ in range(n):
                y = op(y)
            built = time.perf_counter()
            y.sum().backward(keep_intermediate_grads=False)
            forward.append((built - start) / n * 1e6)
            backward.append((time.perf_counter() - built) / n * 1e6)
        return {"forward_us_per_op": statistics.median(forward[1:]),
                "backward_us_per_op": statistics.median(backward[1:])}
    rng = np.random.default_rng(0)
    k = mg.tensor(0.999, name="k")
    A = mg.tensor(rng.normal(0, 0.5, (4, 4)), requires_grad=True, name="A")
    return {
        "ops": n,
        "scalar chain (y = k * y)": chain(lambda: mg.tensor(1.0, requires_grad=True), lambda y: k * y),
        "4x4 matrices (y = A @ y)": chain(lambda: mg.tensor(rng.normal(size=(4, 4)), requires_grad=True),
                                          lambda y: A @ y),
    }


def drawing_time(tau=1000):
    """Seconds to build the drawing (the DOT text, with gradient heat) of a τ = 1,000
    graph. Laying it out with Graphviz's ``dot`` is not timed: on this 8,000-node
    chain ``dot`` was killed (SIGKILL, by all signs out of memory), and even the
    τ = 100 graph took over two minutes."""
    if importlib.util.find_spec("minigrad.draw") is None:
        return {"status": "minigrad.draw is not available in this checkout"}
    from minigrad.draw import draw
    from rnn.model import RNN
    params, x, y = problem(16, 1, tau)
    graph = RNN.from_arrays(**params).unroll(x, y)
    graph.loss.backward()
    start = time.perf_counter()
    digraph = draw(graph.loss, heat=True)
    return {"tau": tau, "draw_seconds": time.perf_counter() - start,
            "dot_lines": digraph.source.count("\n")}


def demo_throughput(steps=40):
    from rnn.train import TrainConfig, Trainer
    result = {}
    for gradients in ("autodiff", "bptt"):
        config = TrainConfig(out=None, progress=False, steps=steps + 2, gradients=gradients,
                             train_strings=2000, validation_strings=200)
        trainer = Trainer(config)
        for _ in range(2):
            trainer.train_step(*trainer.next_batch())
        start = time.perf_counter()
        for _ in range(steps):
            trainer.train_step(*trainer.next_batch())
        result[gradients] = steps / (time.perf_counter() - start)
    return {"config": {"hidden": config.hidden_size, "tau": config.tau, "batch": config.batch},
            "steps_per_second": result}


TRAIN_ROWS = [(32, 32, 32), (128, 1000, 8)]   # hidden, τ, batch of `train --checkpoint-segments`


def train_child(H, tau, B, segments, steps=5):
    """Run in a subprocess: ``steps`` training steps of the embedded Reber grammar (streams,
    truncated BPTT) with ``segments`` checkpoint segments (0: off): the first step's growth
    of peak RSS (MiB, the process fresh), steps per second of the next ``steps``, and
    tracemalloc's peak during one more step (MiB above what was allocated before it)."""
    import tracemalloc
    from rnn.train import TrainConfig, Trainer
    config = TrainConfig(out=None, progress=False, steps=steps + 2, hidden_size=H, tau=tau,
                         batch=B, checkpoint_segments=segments or None, train_strings=2000,
                         validation_strings=200)
    trainer = Trainer(config)
    trainer.next_batch()       # the streams' first batch made, as every later step finds them
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS")
    trainer.advance()
    rss = (_status_kib("VmHWM") - before) / 1024
    start = time.perf_counter()
    for _ in range(steps):
        trainer.advance()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    trainer.advance()
    traced = (tracemalloc.get_traced_memory()[1] - before) / 2**20
    print(json.dumps({"steps_per_second": steps / seconds, "peak_rss_growth_mib": rss,
                      "tracemalloc_peak_mib": traced}))


def train_rows():
    """`train` with and without ``--checkpoint-segments ⌈√τ⌉``, each in a fresh process."""
    rows = []
    for H, tau, B in TRAIN_ROWS:
        for segments in (0, math.isqrt(tau - 1) + 1):
            command = [sys.executable, __file__, "--train", *map(str, (H, tau, B, segments))]
            done = subprocess.run(command, capture_output=True, text=True,
                                  env={**os.environ, **THREADS})
            result = (json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0
                      else {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]})
            rows.append({"hidden": H, "tau": tau, "batch": B, "segments": segments, **result})
            print("train:", json.dumps(rows[-1]), flush=True)
    return rows


# -- the machine --------------------------------------------------------------------

def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    info = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "cpu": cpu,
            "cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__, "load_average_at_start": os.getloadavg(),
            "environment": {k: os.environ.get(k) for k in
                            (*THREADS, "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}}
    try:
        import threadpoolctl
        info["blas"] = [{k: p.get(k) for k in ("internal_api", "version", "num_threads", "architecture",
                                               "threading_layer")} for p in threadpoolctl.threadpool_info()]
    except ImportError:
        info["blas"] = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas")
    if "PyTorch eager, unrolled" in IMPLEMENTATIONS:
        import torch
        info["torch"] = torch.__version__
    return info


# -- report -------------------------------------------------------------------------

def markdown(results):
    m = results["machine"]
    names = [n for n in IMPLEMENTATIONS if n != BASELINE]
    largest = max(e for rows in (results["time"], results["time_live"]) for row in rows
                  for e in row["max_relative_error"].values())
    lines = [f"# minigrad benchmark ({m['date'][:10]})", "",
             f"{m['cpu']}, {m['cores']} cores, Python {m['python']}, numpy {m['numpy']}"
             f"{', torch ' + m['torch'] if 'torch' in m else ''}; one thread "
             f"({', '.join(f'{k}={v}' for k, v in m['environment'].items() if v is not None)}); "
             f"load average (1 min) at start {m['load_average_at_start'][0]:.2f}, at end "
             f"{m['load_average_at_end'][0]:.2f}.", "",
             "One training step (forward + backward of L, gradients of U, W, V, b, c), float64, "
             "one-hot inputs over 65 symbols. Median time, and in brackets the ratio to the tight "
             "hand-written numpy BPTT (`benchmarks/numpy_bptt.py`). Every implementation's loss and "
             f"gradients agree with the baseline to {TOLERANCE:g} relative before timing (largest "
             f"difference seen: {largest:.1e}). "
             "\"minigrad\" is the default `loss.backward()`, in which every intermediate keeps its "
             "gradient for inspection; `keep_intermediate_grads=False` keeps only the parameters' "
             "(training). The RNN's unroll (`rnn.layers.unroll`) builds the graph inside "
             "`mg.collection_paused()` (`minigrad.collector` says why); the checkpointed row is "
             "`model.unroll(x, y, checkpoint=\"sqrt\")`: ⌈√τ⌉ segments, each one "
             "`mg.checkpoint` node recomputed in backward (`rnn/schedule.py`).", "",
             f"Everything imported (PyTorch too: {results['live_objects_after_imports']:,} objects "
             "in the process), the garbage collector as in a user's process (nothing frozen):", ""]
    lines += _time_table(results["time_live"], names)
    lines += ["", BEHIND_NOTE] + (["", floor_note(results["floor"])] if "floor" in results else [])
    c = results["collector"]
    lines += ["", f"The collector's cost at hidden {c['hidden']}, batch {c['batch']}, τ = {c['tau']:,} "
              f"({c['objects_in_process']:,} objects in the process), one step with the collector "
              f"on over the same step with it off (goal ≤ {c['goal']}×): "
              + ", ".join(f"{n} {r:.2f}× ({c[n]['on'] * 1e3:.1f} ms vs {c[n]['off'] * 1e3:.1f} ms)"
                          for n, r in c["ratio"].items()) + ".", "",
              COLLECTOR_NOTE, "",
              f"The same rows after `gc.freeze()` ({results['gc_frozen_objects_after_imports']:,} "
              "objects frozen), so that full collections do not re-scan what the imports made:", ""]
    lines += _time_table(results["time"], names)
    mem = results["memory"]
    base = mem["results"][BASELINE].get("peak_rss_growth_mib")
    traced = mem["tracemalloc"]
    lines += ["", f"Peak memory of one step at hidden {mem['hidden']}, batch {mem['batch']}, "
              f"τ = {mem['tau']:,} (growth of peak RSS during the step, and tracemalloc's peak, "
              f"each in a fresh process; goals: minigrad ≤ {MEMORY_GOAL}× numpy, checkpointed ≤ "
              f"{CHECKPOINT_MEMORY_GOAL}× numpy):", "",
              "| implementation | MiB (RSS) | × numpy | MiB (tracemalloc) |", "|---|---|---|---|"]
    for name, r in mem["results"].items():
        t = traced.get(name, {}).get("tracemalloc_peak_mib")
        t = "" if t is None else f"{t:.1f}"
        if "error" in r:
            lines.append(f"| {name} | failed: {r['error']} | | {t} |")
        else:
            ratio = f"{r['peak_rss_growth_mib'] / base:.2f}×" if base else "n/a"
            lines.append(f"| {name} | {r['peak_rss_growth_mib']:.1f} | {ratio} | {t} |")
    ct = mem["checkpoint_time"]
    lines += ["", f"Time at that size: checkpointed {ct['median_seconds'][CHECKPOINTED]:.2f} s, "
              f"plain training step {ct['median_seconds'][TRAINING]:.2f} s: {ct['ratio']:.2f}× "
              f"(goal ≤ {CHECKPOINT_TIME_GOAL}×).", "", CHECKPOINT_NOTE]
    lines += ["", "Long sequences, hidden 32, batch 1 (fresh process each; goal for τ = "
              f"{MILLION[2]:,} checkpointed: under {MILLION_GOAL_MIB:,} MiB):", "",
              "| implementation | τ | seconds | MiB | MiB per 1,000 steps |", "|---|---|---|---|---|"]
    for name, rows in results["long"].items():
        for r in rows:
            if "error" in r:
                lines.append(f"| {name} | {r['tau']:,} | failed: {r['error']} | | |")
            else:
                slope = f"{r['mib_per_1000_steps']:.2f}" if "mib_per_1000_steps" in r else ""
                lines.append(f"| {name} | {r['tau']:,} | {r['seconds']:.2f} | {r['peak_rss_growth_mib']:.1f} | "
                             f"{slope} |")
    e = results["engine_overhead"]
    lines += ["", f"Engine overhead ({e['ops']:,} ops in a chain, µs per op):", "",
              "| chain | forward | backward |", "|---|---|---|"]
    for name, r in e.items():
        if name != "ops":
            lines.append(f"| {name} | {r['forward_us_per_op']:.2f} | {r['backward_us_per_op']:.2f} |")
    d, demo = results["drawing"], results["demo"]
    if "draw_seconds" in d:
        drawing = (f"`minigrad.draw.draw(loss, heat=True)` builds the DOT text ({d['dot_lines']:,} lines) "
                   f"in {d['draw_seconds']:.2f} s (Graphviz's layout is not timed: `dot` was killed on "
                   f"this graph, by all signs out of memory, and took over two minutes at τ = 100)")
    else:
        drawing = d["status"]
    lines += ["", f"Graph drawing at τ = {d.get('tau', 1000):,}: {drawing}.",
              f"Demo training throughput (hidden {demo['config']['hidden']}, τ {demo['config']['tau']}, "
              f"batch {demo['config']['batch']}): "
              + ", ".join(f"{v:.1f} steps/s with {k} gradients" for k, v in demo["steps_per_second"].items())
              + ".", ""]
    lines += ["`python -m rnn train --checkpoint-segments N` (truncated BPTT on the embedded "
              "Reber grammar, B streams of τ steps, state carried; N = ⌈√τ⌉; each row in a "
              "fresh process: the first step's growth of peak RSS, steps/s over the next 5, "
              "tracemalloc's peak during one more):", "",
              "| hidden, τ, batch | segments | steps/s | MiB (RSS) | MiB (tracemalloc) |",
              "|---|---|---|---|---|"]
    for r in results["train_checkpointed"]:
        segments = r["segments"] or "off"
        if "error" in r:
            lines.append(f"| {r['hidden']}, {r['tau']}, {r['batch']} | {segments} | failed: "
                         f"{r['error']} | | |")
        else:
            lines.append(f"| {r['hidden']}, {r['tau']}, {r['batch']} | {segments} | "
                         f"{r['steps_per_second']:.2f} | {r['peak_rss_growth_mib']:.1f} | "
                         f"{r['tracemalloc_peak_mib']:.1f} |")
    lines.append("")
    return "\n".join(lines)


COLLECTOR_NOTE = (
    "Why the collector is paused rather than fed fewer objects: a τ = 1,000 graph holds "
    "34,017 objects the collector tracks (per step 8 Tensors, 11 tuples, 7 closure cells, "
    "6 VJP functions, a dict and a slice). Each Tensor and its `inputs` tuple must stay "
    "(any container holding Tensors is tracked), so at best the count halves, and every "
    "graph still reaches the oldest generation, whose passes re-scan the whole heap "
    "(PyTorch's ~170k objects): with the collector live a step ran 1.7–1.9× its time with "
    "the collector off. `mg.collection_paused()` (inside the RNN's unroll and every "
    "backward pass) defers the automatic passes while the library builds or walks a "
    "graph: the graph is then scanned once, young, and freed by reference counting. It "
    "hides no leak: deferred passes run at the first allocation after the pause (the "
    "allocation count is not reset), the engine makes no reference cycles, and the state "
    "the user had (on or off) comes back exactly, also across threads and exceptions "
    "(`minigrad/collector.py`, `tests/test_collector.py`).")


BEHIND_NOTE = (
    "Where the training mode trails PyTorch eager (hidden 256, batch 32), the step is BLAS-bound "
    "and the difference is the BLAS library: minigrad makes the hand-written numpy BPTT's "
    "products (W h(t-1) and Wᵀ g(t) each step; Σ g hᵀ stacked into one product per 8 steps; "
    "V [h(1) … h(τ)] once) in numpy's OpenBLAS, and PyTorch eager runs its larger set of "
    "products (also V h(t), Vᵀ g(t), g h(t)ᵀ every step) in MKL. A graph of minigrad's ops "
    "cannot run faster than that numpy code, which does the same array work with the same "
    "library in place, and it adds the engine's fixed cost per node; the measurement below "
    "puts that floor above eager's ratio. A numpy linked against MKL, or a fused cell with a "
    "hand-written VJP (what nn.RNN is, and what the explicit graph exists not to be), would "
    "close it; neither is what this engine is for. The other rows, where the engine's per-op "
    "cost matters more than the BLAS, are ahead.")


def floor_note(floor) -> str:
    """The measured floor of the behind row, in words."""
    t, gemm = floor["median_seconds"], floor["gemm_us"]
    return (f"The floor, measured {floor['date']} (load {floor['load']:.2f}), interleaved in one "
            f"process at hidden {floor['hidden']}, batch {floor['batch']}, τ = {floor['tau']}: "
            f"numpy {t['numpy'] * 1e3:.2f} ms, eager {t['eager'] * 1e3:.2f} ms "
            f"({floor['eager_ratio']:.2f}×), minigrad {t['minigrad'] * 1e3:.2f} ms "
            f"({floor['minigrad_ratio']:.2f}×). The same graphs at hidden 2, batch 1, 2 symbols "
            f"(array work ~0, what is left is fixed cost): numpy {t['numpy, tiny'] * 1e3:.2f} ms, "
            f"minigrad {t['minigrad, tiny'] * 1e3:.2f} ms. So minigrad's floor, numpy's array "
            f"work plus minigrad's fixed cost, is {floor['floor_ratio']:.2f}× numpy, against "
            f"eager's {floor['eager_ratio']:.2f}×. One W h(t−1) product (256×256 by 256×32): "
            f"{gemm['numpy']:.0f} µs in numpy, {gemm['torch']:.0f} µs in PyTorch.")


CHECKPOINT_NOTE = (
    "The checkpointed rows run `model.unroll(x, y, checkpoint=\"sqrt\", head=\"sequence\")`, "
    "as training does (`rnn/schedule.py`): ⌈√τ⌉ segments; in each, every step but the last is "
    "one `mg.checkpoint` node recomputed in backward, its steps' loss summed by one head "
    "inside it; the last step is stored whole, and one head sums the stored steps' loss. At "
    "τ = 10,000 that holds 100 stored steps and, in backward, one segment's 99 recomputed "
    "steps: 199 steps' graphs instead of 10,000, which is why the peak is a few MiB while "
    "numpy's BPTT keeps every h(t) (64 MiB). The time is one more forward pass of the "
    "recurrence, which at batch 1 is Python's cost per op. `rnn.schedule.Budget(steps=m)` "
    "trades more time for less: at τ = 10,000, `Budget(steps=60)` plans three levels of "
    "nested checkpoints (39 steps' graphs at the peak) and measured 3.4 MiB in 3.1 s against "
    "√τ's 5.6 MiB in 1.75 s (per-step head; fresh processes, two runs each, 2026-12-01).")


def _time_table(rows, names) -> list[str]:
    """One line per row: each implementation's time and ratio, and whether the training
    mode beats PyTorch eager and meets its goal."""
    eager = "PyTorch eager, unrolled"
    lines = ["| hidden, batch, τ | numpy | " + " | ".join(names) + " | goal for minigrad |"
             + (" training mode vs eager |" if eager in names else ""),
             "|---" * (len(names) + 3 + (eager in names)) + "|"]
    for row in rows:
        t, ratio = row["median_seconds"], row["ratio"]
        cells = [f"{t[n] * 1e3:.2f} ms ({ratio[n]:.2f}×)" for n in names]
        met = "met" if ratio["minigrad"] <= row["goal"] else "missed"
        versus = (f" {'ahead' if ratio[TRAINING] < ratio[eager] else 'behind'} "
                  f"({ratio[TRAINING] / ratio[eager]:.2f}×) |" if eager in names else "")
        lines.append(f"| {row['hidden']}, {row['batch']}, {row['tau']} | {t[BASELINE] * 1e3:.2f} ms | "
                     + " | ".join(cells) + f" | ≤ {row['goal']}× ({met}) |" + versus)
    return lines


def import_all():
    """Import everything the benchmark uses (PyTorch too, when installed), so that every
    row runs in a process holding what a user's process holds."""
    import rnn.train  # noqa: F401
    if importlib.util.find_spec("torch") is not None:
        import torch  # noqa: F401
    if importlib.util.find_spec("minigrad.draw") is not None:
        import minigrad.draw  # noqa: F401
    gc.collect()


def freeze_imports():
    """Import everything first, then ``gc.freeze()``: the cyclic collector's full passes
    then skip the objects that imports made. Without this, having imported PyTorch
    (hundreds of thousands of objects) slows every full pass and charges the
    Python-heavy implementations for PyTorch's presence (the rows timed before the
    freeze show it as users see it)."""
    import_all()
    gc.freeze()
    return gc.get_freeze_count()


def time_rows(repeats, min_seconds, label):
    rows = []
    for H, B, tau, goal in TIME_ROWS:
        row = time_row(H, B, tau, repeats, min_seconds)
        row["goal"] = goal
        rows.append(row)
        print(f"{label} H={H} B={B} τ={tau}: "
              + ", ".join(f"{n} {r:.2f}×" for n, r in row["ratio"].items()), flush=True)
    return rows


def main(quick=False):
    repeats, min_seconds = (3, 0.02) if quick else (15, 0.1)
    import_all()
    results = {"machine": machine(), "implementations": list(IMPLEMENTATIONS),
               "live_objects_after_imports": len(gc.get_objects())}
    results["time_live"] = time_rows(repeats, min_seconds, "collector live:")
    results["collector"] = collector_row(repeats, min_seconds)
    print("collector on/off:", json.dumps(results["collector"]["ratio"]), flush=True)
    results["gc_frozen_objects_after_imports"] = freeze_imports()
    results["time"] = time_rows(repeats, min_seconds, "collector frozen:")
    if "PyTorch eager, unrolled" in IMPLEMENTATIONS:
        results["floor"] = floor_row(repeats, min_seconds)
        print("floor:", json.dumps(results["floor"]), flush=True)
    H, B, tau = MEMORY_ROW
    results["memory"] = {"hidden": H, "batch": B, "tau": tau, "method": "peak RSS growth during one step",
                         "results": {n: measure_memory(n, H, B, tau) for n in IMPLEMENTATIONS},
                         "tracemalloc": {n: measure_memory(n, H, B, tau, traced=True)
                                         for n in (BASELINE, TRAINING, CHECKPOINTED)},
                         "checkpoint_time": checkpoint_time(3 if quick else 5)}
    print("memory:", json.dumps(results["memory"]), flush=True)
    results["long"] = {}
    for name in (BASELINE, "minigrad", TRAINING, CHECKPOINTED):
        rows = [{"tau": tau, **measure_memory(name, H, B, tau)} for H, B, tau in LONG_ROWS]
        if all("error" not in r for r in rows):
            (a, b) = rows
            rows[1]["mib_per_1000_steps"] = 1000 * (b["peak_rss_growth_mib"] - a["peak_rss_growth_mib"]) / (
                b["tau"] - a["tau"])
        results["long"][name] = rows
    H, B, tau = MILLION
    results["long"][CHECKPOINTED].append({"tau": tau, **measure_memory(CHECKPOINTED, H, B, tau)})
    print("long:", json.dumps(results["long"]), flush=True)
    results["engine_overhead"] = engine_overhead()
    results["drawing"] = drawing_time()
    results["demo"] = demo_throughput()
    results["train_checkpointed"] = train_rows()
    results["machine"]["load_average_at_end"] = os.getloadavg()
    (HERE / "results.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    (HERE / "results.md").write_text(markdown(results))
    print(markdown(results))


def update_floor():
    """``run.py --floor``: measure only the floor row and rewrite results.json and
    results.md with it (the other rows as the last full run left them)."""
    results = json.loads((HERE / "results.json").read_text())
    import_all()
    freeze_imports()
    results["floor"] = floor_row(15, 0.1)
    (HERE / "results.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    (HERE / "results.md").write_text(markdown(results))
    print(floor_note(results["floor"]))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--train"]:
        train_child(*map(int, sys.argv[2:6]))
    elif sys.argv[1:2] in (["--memory"], ["--traced"]):
        name, H, B, tau = sys.argv[2], *map(int, sys.argv[3:6])
        memory_child(name, H, B, tau, traced=sys.argv[1] == "--traced")
    elif sys.argv[1:2] == ["--floor"]:
        update_floor()
    else:
        main(quick="--quick" in sys.argv)
