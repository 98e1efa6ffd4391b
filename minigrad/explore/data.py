"""The graph and a recorded backward pass as plain data (what the page's JSON holds).

Only reads: node attributes, tags, the op table's source text and the recording.
"""
from __future__ import annotations

import inspect
import math
import re

import numpy as np

from minigrad import ops
from minigrad.draw import op_label, walk
from minigrad.explore.layout import DX, fold, layered, steps_layout
from minigrad.explore.record import Recording, entry
from minigrad.tensor import Tensor

__all__ = ["collect", "rule_source"]

TAG_TEXT = 200  # characters of a tag's value shown


def rule_source(op: str) -> str | None:
    """The op table's entry for ``op`` as written in :mod:`minigrad.ops`, with the
    ``*_vjp`` helpers it names (matmul's rule is ``_matmul_vjp``); None for an op
    that is not in the table."""
    fn = ops.RULES.get(op)
    if fn is None:
        return None
    text = inspect.getsource(fn)
    for helper in dict.fromkeys(re.findall(r"\b(_\w*vjp)\b", text)):
        if callable(getattr(ops, helper, None)):
            text += "\n" + inspect.getsource(getattr(ops, helper))
    return text.rstrip()


def _tag_text(value) -> str:
    text = str(np.asarray(value).tolist()) if isinstance(value, np.ndarray) else str(value)
    return text if len(text) <= TAG_TEXT else text[:TAG_TEXT - 1] + "…"


def _array(g) -> np.ndarray | None:
    return None if g is None else np.asarray(g.data if isinstance(g, Tensor) else g)


def _label(t: Tensor) -> str | None:
    """The op with its parameters (``sum axis=0``), or the value of a scalar constant."""
    if t.op is not None:
        return op_label(t)
    return format(t.data.item(), ".4g") if not t.requires_grad and t.data.size == 1 else None


def _kind(t: Tensor) -> str:
    return "op" if t.op is not None else "param" if t.requires_grad else "const"


def _step(t: Tensor):
    s = t.tags.get("t") if isinstance(t.tags, dict) else None
    return int(s) if isinstance(s, (int, np.integer)) and not isinstance(s, bool) else None


def collect(outputs: list[Tensor], recording: Recording, *, title: str = "") -> dict:
    """Everything the page shows, as JSON-ready data (see :mod:`minigrad.explore`)."""
    nodes = walk(outputs)
    number = {t: i for i, t in enumerate(nodes)}
    events, table = [list(e) for e in recording.events], list(recording.entries)
    remap = []
    for t in recording.nodes:
        if t not in number:
            raise ValueError(f"explore: the recorded backward pass reached {t.name or t.op!r}, "
                             "which the outputs do not depend on (explore the outputs the "
                             "pass started from)")
        remap.append(number[t])

    def add(array) -> int:
        table.append(entry(array))
        return len(table) - 1

    def grad_entry(array):
        return None if array is None else add(array)

    stored, last = {}, {}
    for k, e in enumerate(events):
        if e[0] != 1:
            last[e[1]] = k
    for r, g in recording.final.items():
        prior = recording.prior.get(r)
        stored[r] = g if prior is None else np.asarray(prior[1] + g)
    preds = {i: [number[x] for x in t.inputs] for i, t in enumerate(nodes)}
    step = {i: s for i, t in enumerate(nodes) if (s := _step(t)) is not None}
    records = []
    for i, t in enumerate(nodes):
        records.append({
            "n": t.name, "op": t.op, "lb": _label(t),
            "k": _kind(t), "sh": list(t.data.shape), "dt": str(t.data.dtype),
            "tg": {str(k): _tag_text(v) for k, v in t.tags.items()} if t.tags else {},
            "in": preds[i], "v": add(t.data), "g": grad_entry(_array(t.grad)),
            "rq": t.requires_grad})
    for r, i in enumerate(remap):
        record, t = records[i], nodes[i]
        if r in recording.prior:
            record["pr"] = recording.prior[r][0]
        if r in stored:  # what .grad holds once the pass stored it: the engine's, as it is now
            record["last"] = last[r]
            now = _array(t.grad)
            if now is None:
                record["st"] = None
                record["note"] = "no .grad kept (keep_intermediate_grads=False, or cleared since)"
            elif now.shape != stored[r].shape or not np.array_equal(now, stored[r], equal_nan=True):
                record["st"] = record["g"]
                record["note"] = (".grad differs from this pass's result (it holds other passes "
                                  "too, or was changed since)")
            else:
                record["st"] = add(stored[r])
    for e in events:
        e[1] = remap[e[1]]
        if e[0] == 1:
            e[3] = remap[e[3]]
    norms = [table[r["st"]][0] for r in records if r.get("st") is not None]
    logs = [math.log10(n) for n in norms if isinstance(n, float) and n > 0]
    data = {
        "title": title, "nodes": records, "entries": table, "events": events,
        "outputs": [number[o] for o in outputs], "heat": [min(logs), max(logs)] if logs else [0, 0],
        "dx": DX,
        "rules": {op: rule_source(op) for op in dict.fromkeys(t.op for t in nodes if t.op)},
    }
    order = list(range(len(nodes)))
    if len(set(step.values())) >= 2:
        at = steps_layout(order, preds, step)
        for i, (x, y) in at["local"].items():
            records[i].update(t=step[i], x=x, y=y)
        for i, (x, y) in at["post"].items():
            records[i].update(post=True, x=x, y=y)
        data["steps"] = [[t, at["width"][t], *at["height"][t]] for t in at["steps"]]
        data["shared"] = at["shared"]
        data["layouts"] = at["layouts"]
        key = {i: nodes[i].tags.get("role") or nodes[i].name or nodes[i].op or "leaf"
               for i in order}
        folded = fold(order, preds, {i: str(k) for i, k in key.items()}, step)
        place = {name: k for k, name in enumerate(folded["names"])}
        data["fold"] = {"names": folded["names"], "edges": [[place[s], place[t], d] for s, t, d
                                                            in folded["edges"]],
                        "at": [folded["at"][n] for n in folded["names"]],
                        "of": [place[str(key[i])] for i in order]}
    else:
        for i, (x, y) in layered(order, preds).items():
            records[i].update(x=x, y=y)
    return data
