"""Pausing Python's cyclic garbage collector while a graph is built or walked.

Why: a recorded graph is tens of thousands of small container objects (per node a
Tensor, its ``inputs`` tuple and usually a VJP closure; 34,017 at τ = 1,000 for the
RNN). The collector's automatic passes are triggered by counting such allocations,
and every graph built in a process that already holds a large heap (PyTorch: ~170k
objects) promotes its nodes into the oldest generation, whose passes re-scan the
whole heap: a τ = 1,000 training step ran 1.7–1.9× slower with the collector on than
off (benchmarks/results.md). Removing the objects is not possible while a node refers
to its inputs (any Python container holding Tensors is tracked), so the library
pauses automatic collection where it controls the loop: :func:`minigrad.backward`
(which builds graphs itself under ``create_graph`` and when a checkpoint recomputes
a segment) and the RNN's unrolled construction. A graph built and freed inside a
pause, or soon after it, is then freed by reference counting without ever being
scanned.

Why this hides no leak: pausing defers collection, it never skips it. Objects made
while paused stay in the collector's youngest generation, and their allocation count
is not reset, so the first allocation after the pause runs the pass that was due.
The engine itself makes no reference cycles (a node refers only to older nodes, to
arrays and to VJP closures over static parameters), so what a pass frees is freed by
reference counting anyway; cycles made by user code (a hook, an observer) while
paused wait at most until the pause ends.

The pause is process-wide (the collector is), so it is shared: the first thread to
enter records whether the collector was enabled and disables it; the last to leave
restores that state, on exceptions too. Nested and concurrent pauses therefore never
leave the collector off when the user had it on, nor turn it on when the user had
it off. (A ``gc.disable()`` called by user code *while* a pause is open is not
visible to it and is undone when the last pause ends.)
"""
from __future__ import annotations

import contextlib
import gc
import threading

__all__ = ["collection_paused"]

_lock = threading.Lock()
_open = 0               # pauses entered and not yet left, over all threads
_was_enabled = False    # the collector's state when the outermost pause began


@contextlib.contextmanager
def collection_paused():
    """Context manager: no automatic cyclic garbage collection inside it (process-wide,
    shared by nested and concurrent users); the collector's previous state comes back
    when the last one leaves. ``gc.collect()`` still works inside.

    Use it around a loop that records a long graph in a process holding many objects;
    :func:`minigrad.backward` already runs inside one.

    >>> import gc, minigrad as mg
    >>> with mg.collection_paused():
    ...     x = mg.tensor(1.0, requires_grad=True)
    ...     for _ in range(1000):
    ...         x = x * 1.0
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    global _open, _was_enabled
    with _lock:
        if _open == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _open += 1
    try:
        yield
    finally:
        with _lock:
            _open -= 1
            if _open == 0 and _was_enabled:
                gc.enable()
