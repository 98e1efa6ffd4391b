"""Where the explorer draws each node: a layered layout, laid out once per kind of time step.

:func:`layered` puts each node one column right of its latest input (sources just
left of their first consumer) and orders every column by the mean row of its
neighbours, a few sweeps each way. A graph whose nodes carry an integer tag ``t``
(the unrolled RNN) is laid out step by step: steps wired alike share one layout (the τ
steps of an unrolled RNN are alike: τ = 1,000 takes two layouts, the first step and the
rest), and the page places the steps side by side,
so collapsing a range of steps only moves the ones after it. Nodes outside the
steps are the shared ones (parameters, used across steps; the page docks them) and
the ones after the steps (the total loss). :func:`fold` merges the steps by role.
"""
from __future__ import annotations

from collections import defaultdict

__all__ = ["layered", "steps_layout", "fold", "DX", "DY"]

DX, DY = 150.0, 46.0  # world units between columns and between rows
SWEEPS = 4


def layered(order: list[int], preds: dict[int, list[int]]) -> dict[int, tuple[float, float]]:
    """``{node: (x, y)}`` for ``order`` (inputs before consumers); ``preds[n]`` are
    n's inputs (those outside ``order`` are ignored). Columns are DX apart, rows DY."""
    inside = set(order)
    preds = {n: [p for p in preds.get(n, ()) if p in inside] for n in order}
    succs = defaultdict(list)
    for n in order:
        for p in preds[n]:
            succs[p].append(n)
    rank = {}
    for n in order:
        rank[n] = 1 + max((rank[p] for p in preds[n]), default=-1)
    for n in reversed(order):  # a source sits just left of its first consumer
        if not preds[n] and succs[n]:
            rank[n] = min(rank[c] for c in succs[n]) - 1
    columns = defaultdict(list)
    for n in order:
        columns[rank[n]].append(n)
    ranks = sorted(columns)
    row = {n: float(i) for r in ranks for i, n in enumerate(columns[r])}
    for sweep in range(SWEEPS):
        for r in (ranks[1:] if sweep % 2 == 0 else reversed(ranks[:-1])):
            near = preds if sweep % 2 == 0 else succs
            column = columns[r]
            key = {n: (sum(row[m] for m in near[n]) / len(near[n]) if near[n] else row[n])
                   for n in column}
            column.sort(key=key.__getitem__)
            for i, n in enumerate(column):
                row[n] = float(i)
    low = ranks[0] if ranks else 0
    return {n: ((rank[n] - low) * DX, (row[n] - (len(columns[rank[n]]) - 1) / 2) * DY)
            for n in order}


def _box(positions: dict) -> tuple[float, float, float, float]:
    xs = [x for x, _ in positions.values()] or [0.0]
    ys = [y for _, y in positions.values()] or [0.0]
    return min(xs), max(xs), min(ys), max(ys)


def steps_layout(order: list[int], preds: dict[int, list[int]], step: dict[int, int]) -> dict:
    """The layout of a graph cut into time steps (``step[n]`` for the nodes that have one).

    Returns ``steps`` (sorted step numbers), ``local`` ({node: (x, y)} within its
    step, x from 0), ``width`` (to the next step's column) and ``height`` (the rows'
    lowest and highest y) per step, ``post`` ({node: (x, y)} of
    the nodes downstream of the steps, x from 0), ``shared`` (the other nodes, in
    order) and ``layouts`` (how many distinct step layouts were computed)."""
    members = defaultdict(list)
    for n in order:
        if n in step:
            members[step[n]].append(n)
    shared, post = [], []
    downstream = set()
    for n in order:
        if n in step:
            continue
        if any(p in step or p in downstream for p in preds.get(n, ())):
            downstream.add(n)
            post.append(n)
        else:
            shared.append(n)
    local, width, height, cache = {}, {}, {}, {}
    for t, nodes in members.items():
        index = {n: i for i, n in enumerate(nodes)}
        signature = tuple(tuple(index[p] for p in preds.get(n, ()) if p in index) for n in nodes)
        if signature not in cache:
            at = layered(nodes, preds)
            cache[signature] = [at[n] for n in nodes]
        for n, xy in zip(nodes, cache[signature]):
            local[n] = xy
        x0, x1, y0, y1 = _box({n: local[n] for n in nodes})
        width[t], height[t] = x1 - x0 + DX, (y0, y1)
        for n in nodes:
            local[n] = (local[n][0] - x0, local[n][1])
    post_at = layered(post, preds)
    return dict(steps=sorted(members), local=local, width=width, height=height,
                post=post_at, shared=shared, layouts=len(cache))


def fold(order: list[int], preds: dict[int, list[int]], key: dict[int, str],
         step: dict[int, int]) -> dict:
    """The graph merged by ``key[n]`` (the role): folded nodes, folded edges
    ``(source, target, delayed)`` (delayed: from an earlier step, the recurrence)
    and a layout of the folded graph without its delayed edges."""
    names = list(dict.fromkeys(key[n] for n in order))
    edges = {}
    for n in order:
        for p in preds.get(n, ()):
            delayed = p in step and n in step and step[p] != step[n]
            pair = (key[p], key[n], delayed)
            edges[pair] = True
    folded_preds = defaultdict(set)
    for source, target, delayed in edges:
        if not delayed and source != target:
            folded_preds[target].add(source)
    order = _topological(names, folded_preds)
    place = {name: i for i, name in enumerate(order)}
    at = layered(order, {t: [s for s in ss if place[s] < place[t]]
                         for t, ss in folded_preds.items()})
    return dict(names=names, edges=list(edges), at=at)


def _topological(names: list[str], preds: dict[str, set]) -> list[str]:
    """``names`` with every name after its ``preds`` (Kahn's order); where a cycle stalls
    it, the earliest waiting name goes next and its edges from waiting names are dropped."""
    waiting = {n: set(preds.get(n, ())) for n in names}
    done, order = set(), []
    while waiting:
        ready = [n for n in waiting if waiting[n] <= done] or [next(iter(waiting))]
        for n in ready:
            order.append(n)
            done.add(n)
            del waiting[n]
    return order
