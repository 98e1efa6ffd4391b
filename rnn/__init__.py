"""Recurrent networks on minigrad as explicitly unrolled graphs: the vanilla RNN of the source
chapter (Deep Learning §10.2), a cell protocol (rnn.cells), the analytic BPTT oracles (rnn.oracles,
numpy only), training, drawing and gradient analysis.

The exports load lazily, so that ``import rnn.oracles`` (or ``rnn.inputs``) does not load
minigrad; ``from rnn import RNN`` imports rnn.model, which does.
"""
import importlib

__all__ = ["RNN", "LanguageModel", "Unrolled", "PARAMETER_NAMES"]

_EXPORTS = dict.fromkeys(__all__, "rnn.model")


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rnn' has no attribute {name!r}")
    value = globals()[name] = getattr(importlib.import_module(_EXPORTS[name]), name)
    return value


def __dir__():
    return sorted([*globals(), *__all__])
