"""The garbage collector's share of a step: the same step timed with the collector on
(as it is) and off, interleaved. Shared by ``run.py`` and ``compare.py`` (whose child
processes find it here even when the revision they time has no copy)."""
from __future__ import annotations

import gc


def on_and_off(step, interleaved, repeats: int, min_seconds: float) -> dict:
    """Median seconds of ``step()`` with the collector on and off, by ``interleaved``
    (run.py's timer)."""
    def off():
        gc.disable()
        try:
            step()
        finally:
            gc.enable()
    return interleaved({"on": step, "off": off}, repeats, min_seconds)[0]
