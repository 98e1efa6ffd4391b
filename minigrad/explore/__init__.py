"""Watch the backward pass: an interactive page that steps through what the engine did.

``minigrad.explore(outputs)`` runs ``backward(outputs)`` under a :class:`Recording`
observer (or takes a recording of a pass you ran yourself) and returns an
:class:`Explorer`: ``.save("graph.html")`` writes one self-contained page (no
server, no network: the script, styles and data are inside it) and Jupyter shows it
inline. In the page: pan (drag) and zoom (wheel), search by name, click a node for
its op, name, tags, shape, value, gradient, the op table's rule and, for a node with
several consumers, each consumer's contribution and the running sum; step through
the pass in the engine's order (buttons, keys ← →, play with a speed, a slider);
gradient heat (log10 ‖grad‖; NaN/inf red). Nodes tagged with a time step ``t`` (the
unrolled RNN) are drawn in one cluster per step, ranges of steps collapse and expand,
and a folded view by role (``W`` as the loop on ``h``) follows the stepping.

The explorer only reads the graph and the recorded events; it changes no gradient
(the pass it runs is an ordinary ``backward``, which accumulates into ``.grad``).

>>> import minigrad as mg
>>> x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
>>> L = (x * x).sum().named("L")
>>> page = mg.explore(L)
>>> len(page.data["events"]), x.grad
(6, array([2., 4.]))
>>> "<script" in page.html()
True
"""
from __future__ import annotations

import html
import json
import os
import sys
import tempfile
import types
from importlib import resources
from pathlib import Path
from typing import Sequence

from minigrad.explore.data import collect
from minigrad.explore.record import Recording
from minigrad.tensor import BackwardEvent, Tensor, backward, observe_backward

__all__ = ["explore", "Explorer", "Recording", "embed_json"]

_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def embed_json(data) -> str:
    """JSON text that is inert inside an HTML ``<script type="application/json">``:
    ASCII only (so U+2028/2029 and lone surrogates are escaped), with ``<``, ``>``
    and ``&`` as ``\\u`` escapes, which only ever occur inside JSON strings.

    >>> print(embed_json({"name": "</script><b>"}))
    {"name":"\\u003c/script\\u003e\\u003cb\\u003e"}
    """
    text = json.dumps(data, ensure_ascii=True, allow_nan=False, separators=(",", ":")
                      ) if not isinstance(data, str) else data
    for char, escape in _ESCAPES.items():
        text = text.replace(char, escape)
    return text


def _asset(name: str) -> str:
    return resources.files("minigrad.explore").joinpath("static", name).read_text("utf-8")


class Explorer:
    """One recorded backward pass over a graph, ready to write as a page.

    ``data`` is what the page shows (nodes, events, gradient entries, layout);
    :meth:`html` is the page, :meth:`save` writes it, ``_repr_html_`` shows it in
    Jupyter (in a sandboxed iframe, so several explorers in one notebook never meet).
    """

    def __init__(self, data: dict):
        self.data = data

    def html(self) -> str:
        """The self-contained page (script, styles and data inline)."""
        script, style = _asset("explorer.js"), _asset("explorer.css")
        if "</" in script or "</" in style:  # our own files: must not end their elements
            raise RuntimeError("explorer assets contain '</'")
        page = _asset("explorer.html")
        parts = page.split("@@")  # @@CSS@@, @@JS@@, @@DATA@@ in the template
        filled = {"CSS": style, "JS": script, "DATA": embed_json(self.data)}
        return "".join(filled.get(p, p) if k % 2 else p for k, p in enumerate(parts))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the page to ``path`` (atomically: a temporary file, then a rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(self.html())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        return path

    def _repr_html_(self) -> str:
        return (f'<iframe sandbox="allow-scripts" style="width:100%;height:680px;border:1px '
                f'solid #ccc" srcdoc="{html.escape(self.html(), quote=True)}"></iframe>')


def explore(outputs: Tensor | Sequence[Tensor], grads=None, *,
            recording: Recording | Sequence[BackwardEvent] | None = None,
            title: str = "") -> Explorer:
    """An :class:`Explorer` of the backward pass from ``outputs``.

    Without ``recording``, runs ``backward(outputs, grads)`` itself under a
    :class:`Recording` (gradients accumulate into ``.grad`` as with any backward
    call). With one, shows that pass: a :class:`Recording` used as
    ``mg.observe_backward(recording)`` around your own backward call (hooks,
    ``keep_intermediate_grads``, several outputs), or a list of
    :class:`~minigrad.BackwardEvent` (copied now: record it just before).

    >>> import minigrad as mg
    >>> from minigrad.explore import Recording
    >>> w = mg.tensor(2.0, requires_grad=True, name="w")
    >>> y = (w * 3.0).named("y")
    >>> recording = Recording()
    >>> with mg.observe_backward(recording):
    ...     y.backward()
    >>> [e[0] for e in mg.explore(y, recording=recording).data["events"]]
    [0, 1, 0]
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    if recording is None:
        recording = Recording()
        with observe_backward(recording):
            backward(outputs, grads)
    elif not isinstance(recording, Recording):
        events, recording = list(recording), Recording()
        for event in events:
            recording(event)
    return Explorer(collect(outputs, recording, title=title))


class _CallableModule(types.ModuleType):
    """``minigrad.explore`` is this package and, called, :func:`explore`."""

    def __call__(self, *args, **kwargs) -> Explorer:
        return explore(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
