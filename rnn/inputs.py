"""Validation shared by the models (rnn.model, rnn.cells) and the analytic oracles
(rnn.oracles): sizes, inputs x, targets y, initial states and parameter arrays.

numpy only, so that the oracles can use it without loading minigrad. Every mistake has one
message, whoever finds it; wrong dtype kinds raise TypeError, wrong shapes or values ValueError.
Token inputs are integer ids [τ] or [τ, B]; dense inputs are floats [τ, D] or [τ, B, D].

>>> import numpy as np
>>> inputs(np.array([[0, 2], [1, 1]]), 3)
Inputs(x=array([[0, 2],
       [1, 1]]), tokens=True, tau=2, batch=2)
>>> inputs(np.array([0, 3]), 3)
Traceback (most recent call last):
ValueError: token ids in x must lie in [0, 3) (input_size), got 0..3
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

__all__ = ["Inputs", "size", "real_array", "finite", "matrix", "require", "parameters",
           "inputs", "targets", "state_shape", "state"]


class Inputs(NamedTuple):
    """Checked inputs: ``x`` as given (dense floats as float64), whether they are token ids,
    the number of steps τ and the batch size B (None for one sequence)."""
    x: np.ndarray
    tokens: bool
    tau: int
    batch: int | None


def size(name: str, value) -> int:
    """``value`` as a positive int: TypeError if it is not an integer, ValueError if < 1.

    >>> size("hidden_size", 0)
    Traceback (most recent call last):
    ValueError: hidden_size must be at least 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return int(value)


def finite(name: str, array: np.ndarray) -> None:
    """ValueError unless every value of ``array`` is finite."""
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")


def real_array(name: str, value) -> np.ndarray:
    """``value`` as a new float64 array: integers and floats only, no NaN or inf.

    >>> real_array("parameter b", [1, 2]).dtype
    dtype('float64')
    """
    value = np.asarray(value)
    if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
        raise TypeError(f"{name} must be a real (integer or float) array, got dtype {value.dtype}")
    finite(name, value)
    return value.astype(np.float64)


def matrix(name: str, value, symbol: str) -> np.ndarray:
    """Parameter ``name`` as a float64 matrix with no empty axis; ``symbol`` names its shape
    ("H×D") in the message. Used for the parameters that give the sizes.

    >>> matrix("U", np.ones(4), "H×D")
    Traceback (most recent call last):
    ValueError: parameter U must be a matrix H×D with H, D ≥ 1, got shape (4,)
    """
    value = real_array(f"parameter {name}", value)
    if value.ndim != 2 or 0 in value.shape:
        raise ValueError(f"parameter {name} must be a matrix {symbol} with "
                         f"{', '.join(symbol.split('×'))} ≥ 1, got shape {value.shape}")
    return value


def require(arrays: Mapping, names) -> None:
    """KeyError unless every one of ``names`` is in ``arrays``.

    >>> require({"U": 1}, ("U", "V"))
    Traceback (most recent call last):
    KeyError: "missing parameter(s) ['V']; given ['U']"
    """
    missing = [name for name in names if name not in arrays]
    if missing:
        raise KeyError(f"missing parameter(s) {missing}; given {sorted(arrays)}")


def parameters(arrays: Mapping, shapes: Mapping[str, tuple], symbols: Mapping[str, str],
               sizes: str, *, complete: bool = True) -> dict[str, np.ndarray]:
    """Parameter arrays by name as float64 copies, each of the shape ``shapes`` gives it.

    ``symbols`` writes each shape in letters ("H×H") and ``sizes`` the letters' values
    ("H = 3, D = 4"), both for the messages (a name without a symbol is given its shape
    in numbers only). ``complete``: every name of ``shapes`` must be
    given (otherwise any subset). Unknown names raise KeyError.

    >>> parameters({"W": np.eye(2)}, {"W": (3, 3)}, {"W": "H×H"}, "H = 3")
    Traceback (most recent call last):
    ValueError: parameter W must have shape (3, 3) (H×H; H = 3), got (2, 2)
    """
    unknown = [name for name in arrays if name not in shapes]
    if unknown:
        raise KeyError(f"unknown parameter {unknown[0]!r}; the model has {tuple(shapes)}")
    if complete:
        require(arrays, shapes)
    checked = {}
    for name, value in arrays.items():
        value = real_array(f"parameter {name}", value)
        if value.shape != tuple(shapes[name]):
            letters = f" ({symbols[name]}; {sizes})" if name in symbols else ""
            raise ValueError(f"parameter {name} must have shape {tuple(shapes[name])}"
                             f"{letters}, got {value.shape}")
        checked[name] = value
    return checked


def inputs(x, input_size: int, *, source: str = "input_size") -> Inputs:
    """Token ids in [0, input_size) or dense floats with ``input_size`` features; at least
    one step and one sequence. ``source`` says in messages where input_size comes from.

    >>> inputs(np.zeros((3, 2, 4)), 4).batch
    2
    """
    x = np.asarray(x)
    D = input_size
    if x.ndim and x.shape[0] == 0:      # before the dtype: numpy makes [] float64
        raise ValueError(f"inputs x must have at least one time step, got shape {x.shape}")
    if np.issubdtype(x.dtype, np.integer):
        if x.ndim not in (1, 2):
            raise ValueError(f"token inputs x must have shape [τ] or [τ, B], got {x.shape}")
        if x.size and (x.min() < 0 or x.max() >= D):
            raise ValueError(f"token ids in x must lie in [0, {D}) ({source}), "
                             f"got {x.min()}..{x.max()}")
        tokens, batch = True, (x.shape[1] if x.ndim == 2 else None)
    elif np.issubdtype(x.dtype, np.floating):
        if x.ndim not in (2, 3) or x.shape[-1] != D:
            raise ValueError(f"dense inputs x must have shape [τ, {D}] or [τ, B, {D}] "
                             f"({source} {D}), got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("dense inputs x contain non-finite values (NaN or inf)")
        tokens, batch, x = False, (x.shape[1] if x.ndim == 3 else None), x.astype(np.float64)
    else:
        raise TypeError(f"inputs x must be integer token ids or floats, got dtype {x.dtype}")
    if batch == 0:
        raise ValueError(f"a batch of inputs x must hold at least one sequence, "
                         f"got shape {x.shape}")
    return Inputs(x, tokens, x.shape[0], batch)


def targets(y, tau: int, batch: int | None, output_size: int, *,
            source: str = "output_size") -> np.ndarray:
    """Integer class ids in [0, output_size), shaped (τ,) or (τ, B) like the inputs.

    >>> targets(np.array([1, 2]), 2, None, 2)
    Traceback (most recent call last):
    ValueError: target ids in y must lie in [0, 2) (output_size), got 1..2
    """
    y = np.asarray(y)
    expected = (tau,) if batch is None else (tau, batch)
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"targets y must be integer class ids, got dtype {y.dtype}")
    if y.shape != expected:
        raise ValueError(f"targets y must have shape {expected} to match x, got {y.shape}")
    if y.min() < 0 or y.max() >= output_size:
        raise ValueError(f"target ids in y must lie in [0, {output_size}) ({source}), "
                         f"got {y.min()}..{y.max()}")
    return y


def state_shape(name: str, shape: tuple, hidden_size: int, batch: int | None) -> tuple:
    """ValueError unless ``shape`` is (H,) for one sequence or (H, B) for a batch."""
    expected = (hidden_size,) if batch is None else (hidden_size, batch)
    if tuple(shape) != expected:
        raise ValueError(f"{name} must have shape {expected} (hidden[, batch]), got {shape}")
    return expected


def state(name: str, value, hidden_size: int, batch: int | None) -> np.ndarray:
    """An initial state such as h0 or c0 as a float64 array of shape (H,) or (H, B); the
    shape is checked first.

    >>> state("c0", np.zeros(2), 3, None)
    Traceback (most recent call last):
    ValueError: c0 must have shape (3,) (hidden[, batch]), got (2,)
    """
    state_shape(name, np.shape(value), hidden_size, batch)
    return real_array(name, value)
