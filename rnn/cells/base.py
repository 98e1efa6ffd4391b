"""The cell protocol: what a recurrent cell declares and how it makes one time step.

A cell holds no tensors. It declares its parameters (names and shapes, in order), its
state (``state_names``: ("h",) for the vanilla cell and the GRU, ("h", "c") for the
LSTM; ``state[0]`` is always h, the output the head reads), and builds one step

    state(t) = step(state(t-1), x(t))

from minigrad ops, every node named and tagged: name ``f"{symbol}({t})"``, tags
``{"t": t, "role": symbol}`` (:meth:`Cell.node`). The time loop (rnn.layers) and the model
(rnn.model) own the tensors and call, per unroll, :meth:`Cell.bind` once and
:meth:`Cell.step` for t = 1..τ.

Conventions: column vectors with the batch on the trailing axis, so h(t) is (H,) for one
sequence and (H, B) for a batch; weight matrices act on the left (``W @ h``), so PyTorch's
``weight_ih_l0`` (G·H × D) and ``weight_hh_l0`` (G·H × H) are used as they are. ``x`` given
to a step is an integer id array (one-hot inputs: ``W x(t)`` gathers the columns
``W[:, ids]``) or a Tensor (D,) or (D, B) of dense inputs (:meth:`Cell.input_product`).

A cell implements ``kind``, ``state_names``, :meth:`Cell.parameter_shapes`,
:meth:`Cell.init_parameters`, :meth:`Cell.step`, :meth:`Cell.to_torch` and
:meth:`Cell.from_torch`; the base class does the rest. Sketch of a cell (a "leaky" cell, not
in the library)::

    class LeakyCell(Cell):
        kind, state_names, recurrent = "leaky", ("h",), ("W",)
        symbols = {"U": "H×D", "W": "H×H"}

        def parameter_shapes(self):
            return {"U": (self.hidden_size, self.input_size),
                    "W": (self.hidden_size, self.hidden_size)}

        def init_parameters(self, rng, scale):
            shapes = self.parameter_shapes()
            return {n: rng.normal(0.0, scale or 0.1, s) for n, s in shapes.items()}

        def step(self, p, state, x, t):
            (h,) = state
            a = self.node(self.input_product(p["U"], x, t, "Ux") + p["W"] @ h, "a", t)
            return (self.node(0.5 * h + 0.5 * mg.tanh(a), "h", t),)
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

import minigrad as mg
from minigrad import Tensor
from rnn import inputs

__all__ = ["Cell", "GatedCell", "tag", "as_columns"]


def tag(tensor: Tensor, name: str | None, t: int, role: str, **tags) -> Tensor:
    """``tensor`` named ``name`` and tagged ``{"t": t, "role": role, **tags}``, returned.

    >>> import minigrad as mg
    >>> node = tag(mg.tensor([1.0]), "h(2)", 2, "h")
    >>> node.name, node.tags
    ('h(2)', {'t': 2, 'role': 'h'})
    """
    tensor.name = name
    tensor.tags = {"t": t, "role": role, **tags}
    return tensor


def as_columns(params: Mapping[str, Tensor], batched: bool, roles: Mapping[str, str] = {}
               ) -> dict[str, Tensor]:
    """The parameters as a step uses them: as they are for one sequence; for a batch each 1-D
    bias becomes one (n, 1) column node (broadcasting over the B columns), made once per
    unroll, named like the parameter and tagged with its role (``roles``, else its name)."""
    if not batched:
        return dict(params)
    return {name: (mg.reshape(p, shape=(-1, 1)).named(name, role=roles.get(name, name))
                   if p.ndim == 1 else p) for name, p in params.items()}


class Cell:
    """A recurrent cell of ``hidden_size`` units reading inputs of ``input_size`` features
    (or token ids in [0, input_size)). Sizes are checked by :func:`rnn.inputs.size`.

    Class attributes: ``kind`` ("rnn", "lstm", "gru": the name in rnn.cells.CELLS, the CLI's
    ``--cell`` and checkpoints), ``state_names`` (``state[0]`` is h), ``symbols`` (each
    parameter's shape in letters, "4H×D", for messages), ``roles`` (each parameter's role
    tag for drawings; the parameter's name when absent) and ``recurrent`` (the recurrent
    weights: the parameters that multiply h(t-1), W or W_hh; none when empty).

    >>> from rnn.cells import CELLS
    >>> cell = CELLS["rnn"](input_size=4, hidden_size=3)
    >>> cell.parameter_shapes(), cell.recurrent
    ({'U': (3, 4), 'W': (3, 3), 'b': (3,)}, ('W',))
    >>> cell.check_parameters({"W": np.eye(2)}, complete=False)
    Traceback (most recent call last):
    ValueError: parameter W must have shape (3, 3) (H×H; H = 3, D = 4), got (2, 2)
    """

    kind: ClassVar[str]
    state_names: ClassVar[tuple[str, ...]]
    symbols: ClassVar[dict[str, str]] = {}
    roles: ClassVar[dict[str, str]] = {}
    recurrent: ClassVar[tuple[str, ...]] = ()

    def __init__(self, input_size: int, hidden_size: int, **options):
        if options:
            raise TypeError(f"the {self.kind} cell has no option(s) {sorted(options)}")
        self.input_size = inputs.size("input_size", input_size)
        self.hidden_size = inputs.size("hidden_size", hidden_size)

    def __repr__(self):
        return (f"{type(self).__name__}(input_size={self.input_size}, "
                f"hidden_size={self.hidden_size})")

    # -- what a cell implements ------------------------------------------------------------
    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's shape by name, in a fixed order (e.g. {"W_ih": (4H, D), ...})."""
        raise NotImplementedError

    def init_parameters(self, rng: np.random.Generator, scale: float | None
                        ) -> dict[str, np.ndarray]:
        """Initial parameter arrays drawn from ``rng``; ``scale`` overrides the cell's
        default spread (a standard deviation or a bound, as the cell documents) when given."""
        raise NotImplementedError

    def step(self, p: Mapping[str, Tensor], state: tuple[Tensor, ...], x, t: int
             ) -> tuple[Tensor, ...]:
        """state(t) from state(t-1) and x(t) (int ids or a Tensor (D[, B])); ``p`` is what
        :meth:`bind` returned. Every node is named and tagged (:meth:`node`)."""
        raise NotImplementedError

    def to_torch(self, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The parameter arrays in PyTorch's ``state_dict`` layout (``weight_ih_l0``, ...)."""
        raise NotImplementedError

    def from_torch(self, state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Parameter arrays from a PyTorch ``state_dict`` (numpy arrays), checked."""
        raise NotImplementedError

    # -- what the base class does for every cell -------------------------------------------
    @classmethod
    def sizes_of(cls, arrays: Mapping) -> tuple[int, int]:
        """(input_size, hidden_size) read off parameter arrays: D from the columns of "W_ih"
        (G·H × D) and H from those of "W_hh" (G·H × H), PyTorch's layout; a cell with other
        names overrides this. Each is checked to be a non-empty matrix first."""
        inputs.require(arrays, ("W_ih", "W_hh"))
        W_ih, W_hh = (inputs.matrix(name, arrays[name], cls.symbols.get(name, "rows×columns"))
                      for name in ("W_ih", "W_hh"))
        return W_ih.shape[1], W_hh.shape[1]

    def sizes(self) -> str:
        """The sizes as messages write them: "H = 3, D = 4"."""
        return f"H = {self.hidden_size}, D = {self.input_size}"

    def check_parameters(self, arrays: Mapping, *, complete: bool = True,
                         sizes: str | None = None) -> dict[str, np.ndarray]:
        """``arrays`` as float64 copies, each checked against :meth:`parameter_shapes` (all
        of them when ``complete``); messages name the parameter, its shape in letters and
        the sizes (``sizes``, or :meth:`sizes`)."""
        return inputs.parameters(arrays, self.parameter_shapes(), self.symbols,
                                 self.sizes() if sizes is None else sizes, complete=complete)

    def check_torch(self, state_dict: Mapping, gates: int) -> dict[str, np.ndarray]:
        """A PyTorch ``state_dict`` of one layer with ``gates`` blocks of H rows (vanilla 1,
        GRU 3, LSTM 4) as float64 copies: exactly the keys ``weight_ih_l0`` (G·H × D),
        ``weight_hh_l0`` (G·H × H), ``bias_ih_l0`` and ``bias_hh_l0`` (G·H,), checked."""
        G, H, D = gates, self.hidden_size, self.input_size
        shapes = {"weight_ih_l0": (G * H, D), "weight_hh_l0": (G * H, H),
                  "bias_ih_l0": (G * H,), "bias_hh_l0": (G * H,)}
        rows = f"{G}H" if G > 1 else "H"
        symbols = {"weight_ih_l0": f"{rows}×D", "weight_hh_l0": f"{rows}×H",
                   "bias_ih_l0": f"({rows},)", "bias_hh_l0": f"({rows},)"}
        return inputs.parameters({k: np.asarray(v) for k, v in state_dict.items()}, shapes,
                                 symbols, self.sizes())

    def role(self, name: str) -> str:
        """The role tag of parameter ``name`` (for drawings)."""
        return self.roles.get(name, name)

    def bind(self, params: Mapping[str, Tensor], batched: bool) -> dict[str, Tensor]:
        """The per-unroll views every step uses: the parameters themselves, except that for a
        batch each 1-D bias becomes one (n, 1) column node, made once and named like the
        parameter (it broadcasts over the B columns)."""
        return as_columns(params, batched, self.roles)

    @staticmethod
    def node(tensor: Tensor, symbol: str, t: int, **tags) -> Tensor:
        """``tensor`` named ``f"{symbol}({t})"`` and tagged ``{"t": t, "role": symbol}``."""
        return tag(tensor, f"{symbol}({t})", t, symbol, **tags)

    @staticmethod
    def input_product(W: Tensor, x, t: int, role: str, name: str | None = None) -> Tensor:
        """W x(t): for int ids the gathered columns ``W[:, ids]`` (a one-hot x(t); the ids are
        tagged "x"), for a dense Tensor x(t) (D[, B]) the product ``W @ x``. The node is
        named ``name`` (default ``f"{role}({t})"``) and tagged with ``role``."""
        name = f"{role}({t})" if name is None else name
        if isinstance(x, Tensor):
            return tag(W @ x, name, t, role)
        return tag(W[:, x], name, t, role, x=x)


class GatedCell(Cell):
    """A cell in PyTorch's gated layout (the LSTM, the GRU): W_ih (G·H×D), W_hh (G·H×H),
    b_ih and b_hh (G·H,), ``gates`` = G blocks of H rows stacked in PyTorch's order, every
    entry initialised U(−k, k) with k = ``scale`` or PyTorch's 1/√H, and the ``*_l0``
    ``state_dict`` keys the same arrays under PyTorch's names."""

    gates: ClassVar[int]
    recurrent = ("W_hh",)
    torch_names: ClassVar[dict[str, str]] = {
        "W_ih": "weight_ih_l0", "W_hh": "weight_hh_l0", "b_ih": "bias_ih_l0", "b_hh": "bias_hh_l0"}

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        G, H, D = self.gates, self.hidden_size, self.input_size
        return {"W_ih": (G * H, D), "W_hh": (G * H, H), "b_ih": (G * H,), "b_hh": (G * H,)}

    def init_parameters(self, rng: np.random.Generator, scale: float | None
                        ) -> dict[str, np.ndarray]:
        """Every entry uniform in [−k, k], k = ``scale`` or PyTorch's default 1/√H."""
        k = scale if scale is not None else 1.0 / np.sqrt(self.hidden_size)
        return {name: rng.uniform(-k, k, shape) for name, shape in self.parameter_shapes().items()}

    def to_torch(self, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """W_ih, W_hh, b_ih, b_hh as ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``,
        ``bias_hh_l0`` (float64 copies, checked shapes; the same block order and layout)."""
        p = self.check_parameters(params)
        return {key: p[name] for name, key in self.torch_names.items()}

    def from_torch(self, state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """W_ih, W_hh, b_ih, b_hh from PyTorch's layer 0: exactly the four ``*_l0`` keys,
        each of its shape (G·H rows), or a clear error."""
        sd = self.check_torch(state_dict, gates=self.gates)
        return {name: sd[key] for name, key in self.torch_names.items()}
