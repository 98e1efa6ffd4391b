"""The vanilla RNN, the GRU and the LSTM on long dependencies: the experiment behind the
claim that the vanilla RNN's gradient vanishes over long spans while gated cells carry it.

Two tasks, each with a dependency of d steps:

* the long-memory task of :mod:`rnn.analysis` (:func:`rnn.analysis.memory_task`): remember
  the first of 2 symbols across d distractors, a loss at the last step only. Trained on
  minigrad graphs (the oracles' loss is summed over every step, so it does not fit);
* the embedded Reber grammar with an inner Reber string of exactly d symbols
  (:func:`reber_task`): the closing T/P, predicted d steps after the opening one was read, is
  the only long dependency among the next-symbol predictions. A next-symbol loss at every
  step, which is what the numpy oracles (rnn.oracles) compute, so training uses them (about
  10× faster than a graph; they equal the graphs to round-off, tests/test_lstm_model.py etc.).

A run succeeds when its held-out accuracy on the long dependency reaches
:data:`rnn.analysis.SUCCESS` (0.99): the remembered symbol, or the closing letter (chance is
1/2 for both). :func:`wilson` gives the 95% interval of a success rate; :func:`profile` the
per-step gradient norms ‖∂L(τ)/∂h(τ−k)‖ of any cell.

>>> x, y, where = reber_task(6, 2, rng=np.random.default_rng(0))
>>> x.shape, where, [grammar.is_grammatical(s, embedded=True) for s in strings(x, y)]
((9, 2), 7, [True, True])
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np

import minigrad as mg
from rnn import grammar
from rnn.analysis import SUCCESS, grad_norms, memory_task
from rnn.model import LanguageModel
from rnn.optim import Adam, clip_grad_norm
from rnn.oracles import gru, lstm, vanilla

__all__ = ["REBER_SYMBOLS", "reber_strings", "reber_task", "strings", "train_memory",
           "train_reber", "profile", "wilson", "SUCCESS", "CONFIGS", "sweep", "read_results"]

REBER_SYMBOLS = "BEPSTVX"          # token ids of the grammar's symbols, in this order


@lru_cache(maxsize=None)
def _completions(state: str, r: int) -> float:
    """P(the Reber automaton, in ``state``, reaches its final state in exactly r symbols)."""
    automaton = grammar.grammar(embedded=False)
    if r == 0:
        return 1.0 if state == automaton.final else 0.0
    return sum(arc.probability * _completions(arc.target, r - 1)
               for arc in automaton.arcs[state])


@lru_cache(maxsize=None)
def _choices(state: str, left: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """From ``state`` with ``left`` symbols to go: each arc's cumulative probability given
    the length, its symbol's id and its target."""
    arcs = grammar.grammar(embedded=False).arcs[state]
    weights = np.array([a.probability * _completions(a.target, left - 1) for a in arcs])
    return (np.cumsum(weights / weights.sum()),
            np.array([REBER_SYMBOLS.index(a.symbol) for a in arcs]),
            tuple(a.target for a in arcs))


def reber_strings(n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` Reber strings of exactly ``n`` ≥ 5 symbols as ids [n, count], drawn from the
    grammar's distribution conditioned on the length (each arc chosen with probability ∝ its
    own times that of finishing in the symbols left).

    >>> ids = reber_strings(12, 3, np.random.default_rng(1))
    >>> [grammar.is_grammatical("".join(REBER_SYMBOLS[i] for i in s)) for s in ids.T]
    [True, True, True]
    """
    automaton = grammar.grammar(embedded=False)
    if n < 5 or _completions(automaton.start, n) == 0.0:
        raise ValueError(f"the Reber grammar has no string of {n} symbols (the shortest has 5)")
    states = np.array([automaton.start] * count, dtype=object)
    ids = np.empty((n, count), dtype=np.int64)
    for row, left in enumerate(range(n, 0, -1)):
        u, after = rng.random(count), states.copy()
        for state in sorted(set(states)):   # each string moves once per row: read states,
            here = states == state          # write after
            cumulative, symbols, targets = _choices(state, left)
            k = np.minimum(np.searchsorted(cumulative, u[here]), len(symbols) - 1)
            ids[row, here] = symbols[k]
            after[here] = np.array(targets, dtype=object)[k]
        states = after
    return ids


def reber_task(d: int, n: int, *, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """``n`` embedded Reber strings B·L·(a Reber string of d symbols)·L·E, L = T or P (1/2
    each), as next-symbol inputs ``x`` and targets ``y`` [d+3, n] (ids in
    :data:`REBER_SYMBOLS`), and the row ``where`` of y holding the closing L: it is predicted
    d steps after the opening L was read (x row 1)."""
    letters = rng.choice([REBER_SYMBOLS.index("T"), REBER_SYMBOLS.index("P")], n)
    ends = [np.full((1, n), REBER_SYMBOLS.index(ch)) for ch in "BE"]
    ids = np.concatenate([ends[0], letters[None], reber_strings(d, n, rng), letters[None],
                          ends[1]])                           # [d+4, n]
    return ids[:-1], ids[1:], d + 1


def strings(x: np.ndarray, y: np.ndarray) -> list[str]:
    """The strings that next-symbol inputs and targets [τ, n] spell (x's first row, then y)."""
    ids = np.concatenate([x[:1], y])
    return ["".join(REBER_SYMBOLS[i] for i in ids[:, b]) for b in range(ids.shape[1])]


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a success rate ``successes``/``n`` (95% for z = 1.96).

    >>> [round(v, 3) for v in wilson(10, 10)], wilson(0, 3)[0]
    ([0.722, 1.0], 0.0)
    """
    half = z * np.sqrt(successes * (n - successes) / n + z * z / 4) / n
    centre, scale = (successes + z * z / 2) / n, 1 / (1 + z * z / n)
    low, high = float(scale * (centre - half)), float(scale * (centre + half))
    return (0.0 if successes == 0 else low), (1.0 if successes == n else high)  # exact ends


def _train(model: LanguageModel, batches, gradient, steps: int, lr: float) -> None:
    """``steps`` Adam updates, gradient norm clipped at 1; ``gradient(batch)`` returns the
    gradients by parameter name."""
    optimizer = Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.step(clip_grad_norm(gradient(next(batches)), 1.0)[0])


def train_memory(kind: str, d: int, seed: int, *, hidden: int = 16, steps: int = 300,
                 batch: int = 32, lr: float = 0.01, test_size: int = 500, **options) -> dict:
    """Train a fresh ``kind`` language model (PyTorch's default initialisation for the gated
    cells, rnn.cells) on the memory task with gap d, loss at the last step (graphs); return
    its held-out accuracy, the seconds it took and ‖∂L(τ)/∂h(τ−k)‖ of the trained model."""
    start, rng = time.process_time(), np.random.default_rng(seed)
    model = LanguageModel(kind, 6, hidden, 2, seed=seed, **options)
    params = model.parameters()

    def gradient(task):
        x, y = task
        graph = model.unroll(x)
        loss = mg.cross_entropy(graph.o[graph.tau], y, reduction="mean", axis=0)
        mg.zero_grad(params)
        loss.backward(keep_intermediate_grads=False)
        return {name: p.grad for name, p in params.items()}
    _train(model, iter(lambda: memory_task(d, batch, rng=rng), None), gradient, steps, lr)
    x, y = memory_task(d, test_size, rng=rng)
    with mg.no_grad():
        graph = model.unroll(x)
    accuracy = float((graph.o[graph.tau].data.argmax(axis=0) == y).mean())
    return {"accuracy": accuracy, "seconds": time.process_time() - start,
            "profile": profile(model, *memory_task(d, 32, rng=rng)).tolist()}


def _oracle(kind: str, arrays: dict, x, y=None):
    """The oracle's forward stacks (y None) or its BPTT result for ``kind``'s arrays."""
    if kind == "rnn":
        args = [arrays[n] for n in ("U", "W", "V", "b", "c")]
        return vanilla.forward(*args, x) if y is None else vanilla.bptt(*args, x, y)
    module = {"lstm": lstm, "gru": gru}[kind]
    return module.forward(arrays, x) if y is None else module.bptt(arrays, x, y)


def train_reber(kind: str, d: int, seed: int, *, hidden: int = 16, steps: int = 300,
                batch: int = 32, lr: float = 0.01, test_size: int = 500, **options) -> dict:
    """Train a fresh ``kind`` language model on embedded Reber strings with inner length d
    (next-symbol loss at every step, gradients from the numpy oracle); return the held-out
    accuracy of the closing letter and the seconds it took."""
    start, rng = time.process_time(), np.random.default_rng(seed)
    K = len(REBER_SYMBOLS)
    model = LanguageModel(kind, K, hidden, K, seed=seed, **options)

    def gradient(task):
        x, y, _ = task
        result = _oracle(kind, model.arrays(), x, y)
        return {name: result.grads[name] / batch for name in model.parameters()}
    _train(model, iter(lambda: reber_task(d, batch, rng=rng), None), gradient, steps, lr)
    x, y, where = reber_task(d, test_size, rng=rng)
    o = _oracle(kind, model.arrays(), x).o                   # (τ, K, n)
    accuracy = float((o[where].argmax(axis=0) == y[where]).mean())
    return {"accuracy": accuracy, "seconds": time.process_time() - start}


def profile(model: LanguageModel, x, y) -> np.ndarray:
    """‖∂L(τ)/∂h(τ−k)‖ for k = 0..τ (index k) of ``model`` on inputs ``x`` [τ, B] with the
    loss at the last step against ``y`` [B] (mean over the batch); h(0) is a zero leaf."""
    h0 = np.zeros((model.hidden_size, x.shape[1]))
    state0 = tuple(h0 for _ in model.state_names)
    graph = model.unroll(x, None, state0 if len(state0) > 1 else h0)   # RNN calls it h0
    mg.zero_grad(model.parameters())
    mg.cross_entropy(graph.o[graph.tau], y, reduction="mean", axis=0).backward()
    return grad_norms(graph)[::-1]


# -- the sweep -------------------------------------------------------------------------------

CONFIGS: dict[str, tuple[str, dict]] = {
    "rnn": ("rnn", {}), "gru": ("gru", {}), "lstm": ("lstm", {}),
    "lstm-fb3": ("lstm", {"forget_bias": 3.0}),   # f(t) starts near σ(3) = 0.95
}
TASKS = {"memory": train_memory, "reber": train_reber}


def _job(job: tuple) -> dict:
    task, config, d, seed, settings = job
    kind, options = CONFIGS[config]
    result = TASKS[task](kind, d, seed, **settings, **options)
    return {"task": task, "config": config, "d": d, "seed": seed, **settings, **result}


def sweep(task: str, configs, gaps, seeds, path, *, workers: int = 1, **settings) -> None:
    """Train every config × gap × seed of ``task`` ("memory" or "reber") not yet in the JSON
    lines file ``path``, seed by seed (so a partial sweep has every gap with fewer seeds),
    appending one line per run as it ends; ``settings`` go to the training function."""
    path = Path(path)
    done = {(r["config"], r["d"], r["seed"]) for r in read_results(path)
            if r["task"] == task}
    jobs = [(task, c, d, s, settings) for s in seeds for d in gaps for c in configs
            if (c, d, s) not in done]
    path.parent.mkdir(parents=True, exist_ok=True)
    torn = path.exists() and path.stat().st_size and not path.read_bytes().endswith(b"\n")
    with ProcessPoolExecutor(workers) as pool, path.open("a") as out:
        if torn:                             # a run's line cut short: start on a new line
            out.write("\n")
        for record in pool.map(_job, jobs):
            out.write(json.dumps(record) + "\n")
            out.flush()


def read_results(path) -> list[dict]:
    """The runs recorded in a JSON lines file (none when it does not exist); a torn last line
    (a sweep stopped while writing) is skipped."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
