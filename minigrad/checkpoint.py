"""Gradient checkpointing: a segment of the graph kept as one node, recomputed in backward.

``checkpoint(fn, *inputs)`` runs ``fn`` without recording and keeps only its inputs and
its output, as one node (op ``"checkpoint"``, named after the segment). When a
backward pass reaches that node, its VJP runs ``fn`` again with recording on and
back-propagates through the recomputed segment in a pass of its own (an inner pass,
which walks only the segment's new nodes and stops at the inputs), so the segment's
intermediates exist only while backward is inside it (Chen et al. 2016, "Training
deep nets with sublinear memory cost"). Under ``create_graph=True`` the segment is
recomputed on the graph's own input Tensors and the inner pass is recorded too, so
the gradients can be differentiated again.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from minigrad.collector import collection_paused
from minigrad.tensor import (OpError, Tensor, _describe, _inner_pass, _now, enable_grad,
                             is_grad_enabled, no_grad)

__all__ = ["checkpoint", "CheckpointError"]


class CheckpointError(OpError):
    """A checkpointed segment cannot be recomputed faithfully: its recomputation gave
    another output than its forward pass, or it uses a tensor that needs a gradient
    without taking it as an input. The message names the segment.

    >>> import minigrad as mg
    >>> issubclass(mg.CheckpointError, mg.OpError)
    True
    """


def checkpoint(fn: Callable, *inputs: Tensor, name: str | None = None, **static):
    """``fn(*inputs, **static)``, recorded as one node whose inside is recomputed
    when a backward pass reaches it: the forward pass keeps only the segment's
    inputs and output.

    ``fn`` takes Tensors (``inputs``; a Tensor used by ``fn`` that needs a gradient
    must be one of them) and keyword arguments that are not differentiated
    (``static``), and returns a Tensor or a tuple of Tensors of one floating dtype.
    One output is the node itself (op ``"checkpoint"``, named ``name``, by default
    ``fn``'s name); several are cut from the node (a slice and a reshape each), and
    each keeps the name and tags ``fn`` gave it. Gradients equal those of the plain
    graph up to the order of sums (bitwise where that order is the same);
    ``create_graph=True`` and nested checkpoints work. Inside :func:`minigrad.no_grad`,
    or when no input needs a gradient, it is just ``fn(*inputs, **static)``.

    Recomputing must give the same output: ``fn`` must be a function of its inputs
    alone (no random numbers drawn inside, no outside state that changes). The
    recomputed output is compared with the saved one, bit for bit, and a difference
    raises :class:`CheckpointError` naming the segment. The inputs' arrays are kept as
    the forward pass saw them (read-only, as for every op), so an input assigned new
    data afterwards is recomputed from its old values in an ordinary backward pass;
    under ``create_graph=True``, which needs the Tensors themselves, it is an error
    (:class:`minigrad.OpError` naming the tensor and the segment).

    >>> import minigrad as mg
    >>> W = mg.tensor([[0.5, -0.2], [0.1, 0.3]], requires_grad=True, name="W")
    >>> def block(h, W):
    ...     for _ in range(10):
    ...         h = mg.tanh(W @ h)
    ...     return h
    >>> h = mg.tensor([1.0, 2.0], requires_grad=True, name="h0")
    >>> for k in range(3):
    ...     h = mg.checkpoint(block, h, W, name=f"block {k}")
    >>> h.op, h.name, h.inputs[1] is W
    ('checkpoint', 'block 2', True)
    >>> h.sum().backward()
    >>> W.grad.shape
    (2, 2)
    """
    if not callable(fn):
        raise TypeError(f"checkpoint: {fn!r} is not callable")
    name = getattr(fn, "__name__", "segment") if name is None else name
    if not isinstance(name, str):
        raise TypeError(f"checkpoint: the segment's name must be a string, got {name!r}")
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"checkpoint {name!r}: input {i} is {type(x).__name__}, not a "
                            "Tensor (pass arrays as Tensors, settings as keyword arguments)")
    if not is_grad_enabled() or not any(x.requires_grad for x in inputs):
        return fn(*inputs, **static)
    with no_grad():
        outs, single = _outputs(fn(*inputs, **static), name)
    data = outs[0].data if single else np.concatenate([o.data.ravel() for o in outs])
    node = Tensor._make(data, True, name)
    shapes = [o.data.shape for o in outs]
    needs = tuple(x.requires_grad for x in inputs)

    def vjp(g, out, *xs):
        return _recompute(fn, static, name, single, shapes, needs, g, out, xs)

    node.op, node.inputs, node.vjp = "checkpoint", inputs, vjp
    node.saved = (data, *(x.data for x in inputs))
    data.setflags(False)
    node.frozen = data
    for x in inputs:
        if x.frozen is not x.data:
            x.data.setflags(False)
            x.frozen = x.data
    if single:
        return node
    return tuple(_piece(node, o, start, shape)
                 for o, start, shape in zip(outs, _starts(shapes), shapes))


def _outputs(result, name: str) -> tuple[list[Tensor], bool]:
    """``fn``'s result as a list of Tensors, and whether it was a single one."""
    single = isinstance(result, Tensor)
    outs = [result] if single else list(result) if isinstance(result, (tuple, list)) else None
    if not outs or not all(isinstance(o, Tensor) for o in outs):
        raise TypeError(f"checkpoint {name!r}: fn must return a Tensor or a tuple of "
                        f"Tensors, got {type(result).__name__}")
    dtypes = {o.data.dtype for o in outs}
    if len(dtypes) != 1 or not np.issubdtype(outs[0].data.dtype, np.floating):
        raise TypeError(f"checkpoint {name!r}: fn's outputs must share one floating dtype, "
                        f"got {', '.join(sorted(map(str, dtypes)))}")
    return outs, single


def _starts(shapes) -> list[int]:
    return np.cumsum([0] + [int(np.prod(s)) for s in shapes]).tolist()


def _piece(node: Tensor, out: Tensor, start: int, shape: tuple) -> Tensor:
    """Output ``out`` of a segment, cut from its node, with the name and tags fn gave it."""
    piece = node[start:start + int(np.prod(shape))].reshape(shape)
    piece.name, piece.tags = out.name, dict(out.tags)
    return piece


def _recompute(fn, static, name, single, shapes, needs, g, out, xs):
    """The checkpoint's VJP: ``fn`` run again (on fresh leaves holding the saved arrays,
    or, under create_graph, on the graph's input Tensors), its output checked against
    the saved one, and an inner backward pass through it from ``g``."""
    recorded = isinstance(out, Tensor)
    floor = _now()
    leaves = xs if recorded else tuple(Tensor._make(a, need) for a, need in zip(xs, needs))
    with enable_grad(), collection_paused():
        outs, _ = _outputs(fn(*leaves, **static), name)
        if len(outs) != len(shapes):
            raise CheckpointError(f"checkpoint {name!r}: recomputing the segment gave "
                                  f"{len(outs)} outputs, the forward pass {len(shapes)}")
        saved = out.data if recorded else out
        starts = _starts(shapes)
        for k, (o, shape) in enumerate(zip(outs, shapes)):
            then = saved if single else saved[starts[k]:starts[k + 1]].reshape(shape)
            if o.data.shape != shape or not np.array_equal(o.data, then, equal_nan=True):
                raise CheckpointError(
                    f"checkpoint {name!r}: recomputing the segment gave another output "
                    f"{k} ({_difference(o.data, then)}) than the forward pass; fn must be a "
                    "function of its inputs alone (no random numbers, no outside state "
                    "that changed)")
        seeds = [g if single else g[starts[k]:starts[k + 1]].reshape(shape)
                 for k, shape in enumerate(shapes)]
        wanted = {}
        for i, x in enumerate(leaves):
            wanted.setdefault(x, i)  # an input given twice gets its gradient once

        found: list = [None] * len(leaves)

        def store(node: Tensor, grad) -> None:
            i = wanted.get(node)
            if i is not None:
                found[i] = grad
            elif node.seq < floor:
                raise CheckpointError(
                    f"checkpoint {name!r}: fn uses {_describe(node)}, which needs a gradient "
                    "but is not one of the segment's inputs; pass it to checkpoint as an "
                    "input")

        pairs = [(o, s) for o, s in zip(outs, seeds) if o.requires_grad]
        if pairs:
            _inner_pass([o for o, _ in pairs], [s for _, s in pairs], recorded, store, floor)
    return tuple(found)


def _difference(now: np.ndarray, then: np.ndarray) -> str:
    if now.shape != then.shape:
        return f"shape {now.shape}, was {then.shape}"
    gap = np.abs(now - then)
    return f"largest difference {np.nanmax(gap) if gap.size else 0:.3g}"
