"""Language models as explicitly unrolled graphs: input (token gather or dense) + one recurrent
layer of any cell (rnn.cells, unrolled by rnn.layers) + the softmax head (rnn.heads).

The source chapter's vanilla RNN (Deep Learning §10.2; :class:`RNN`) is the language model
with the vanilla cell. For
t = 1..τ (column vectors; a batch of B sequences stacks columns, so ``h(t)`` is (H,) for one
sequence and (H, B) for a batch)::

    a(t) = b + W h(t-1) + U x(t)        h(t) = tanh(a(t))
    o(t) = c + V h(t)                   ŷ(t) = softmax(o(t))
    L(t) = -log ŷ(t)[y(t)]              L = Σ_t L(t)

Parameters: :meth:`LanguageModel.parameters` gives the minigrad tensors by name,
:meth:`LanguageModel.arrays` copies of their values as numpy arrays, and
:meth:`LanguageModel.set_arrays` overwrites them from arrays.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

import minigrad as mg
from minigrad import Tensor
from rnn import inputs, layers
from rnn.cells import CELLS, Cell, VanillaCell
from rnn.heads import NotPerStep, SoftmaxHead, Softmaxes
from rnn.schedule import Schedule

__all__ = ["LanguageModel", "RNN", "Unrolled", "Softmaxes", "PARAMETER_NAMES"]

PARAMETER_NAMES = ("U", "W", "V", "b", "c")   # the vanilla RNN's, in the order it lists them


@dataclass
class Unrolled:
    """One unrolled graph. Lists are indexed by time as in the chapter: ``h[0]`` is h(0) and
    ``h[t]``, ``o[t]``, ``y_hat[t]``, ``L[t]`` belong to step t = 1..τ (index 0 of the per-step
    lists is None). ``states`` holds every state of the cell ([s(0), …, s(τ)] by name; ``h``
    is ``states["h"]``), ``nodes[t]`` every tagged node of step t by role (the cell's, "x" for
    dense inputs, the head's "Vh", "o", "L_t"). Any other state or role reads as a list too:
    ``graph.a[t]`` is a(t) of the vanilla cell, ``graph.c[t]`` the LSTM's c(t). ``loss`` is
    L, or None when no targets were given. Every node is named (``"h(3)"``) and tagged
    ``{"t": 3, "role": "h"}``. The loss reads o(t) directly, so each ŷ(t) node is made when
    it is first read (see :class:`Softmaxes`).

    A checkpointed graph (``unroll(..., checkpoint=...)``) has its ``schedule``
    (:class:`rnn.schedule.Schedule`) and keeps the steps ``schedule.stored()`` whole, as
    the plain graph has them (their states, cell nodes, o(t), ŷ(t), L(t), with their
    gradients after backward); the steps between them are inside checkpoint nodes, and
    reading any of their nodes raises :class:`rnn.layers.NotKept`, naming the step and its
    segment. L sums each segment node's loss (named "L(1..99)") and the stored steps' L(t).

    Unrolled with ``head="sequence"``, ``O`` holds every step's outputs at once (K × τ·B,
    :meth:`SoftmaxHead.sequence`) and o, ŷ, L have no per-step entries
    (:class:`rnn.heads.NotPerStep`).
    """

    tau: int
    batch: int | None
    states: dict[str, list[Tensor]]
    nodes: list[dict[str, Tensor] | None]
    o: list[Tensor | None]
    y_hat: Sequence[Tensor | None]
    L: Sequence[Tensor | None] = field(default_factory=list)
    loss: Tensor | None = None
    schedule: Schedule | None = None
    O: Tensor | None = None

    @property
    def h(self) -> list[Tensor]:
        """[h(0), h(1), …, h(τ)]."""
        return self.states["h"]

    def __getattr__(self, name):
        if name.startswith("__") or "nodes" not in self.__dict__:
            raise AttributeError(name)
        if name in self.states:
            return self.states[name]
        steps = self.kept_steps()
        if any(name in self.nodes[t] for t in steps):
            return self._by_step(name, {t: self.nodes[t].get(name) for t in steps})
        raise AttributeError(f"the unrolled graph has no state or role {name!r}; states "
                             f"{list(self.states)}, roles {sorted({*self.nodes[-1]})}")

    def kept_steps(self) -> Sequence[int]:
        """The steps t ≥ 1 whose nodes the graph keeps: all of 1..τ, or for a checkpointed
        graph the stored ones."""
        return range(1, self.tau + 1) if self.schedule is None else self.schedule.stored()[1:]

    def _by_step(self, label: str, found: dict[int, Tensor]) -> Sequence[Tensor | None]:
        """[None, v(1), …, v(τ)] from the steps found: a list, or for a checkpointed graph
        a :class:`rnn.layers.Kept` that names the segment of a step it did not keep."""
        if self.schedule is None:
            return [None, *found.values()]
        return layers.Kept(f"{label}({{t}})", {0: None, **found}, self.schedule)

    def step_nodes(self, t: int) -> dict[str, Tensor]:
        """The quantities of step t by role: the cell's nodes named after their role
        (vanilla "a", "h"; LSTM "i", "f", "g", "q", "c", "h"), "o", "y_hat" and, with
        targets, "L"."""
        nodes = {role: node for role, node in self.nodes[t].items()
                 if role != "x" and node.name == f"{role}({t})"}
        nodes["y_hat"] = self.y_hat[t]
        if self.loss is not None:
            nodes["L"] = self.L[t]
        return nodes


class LanguageModel:
    """A recurrent language model: inputs x(t) (token ids or dense vectors), one layer of
    ``cell`` (a kind in :data:`rnn.cells.CELLS`, "rnn", "lstm", "gru", or a Cell), and the
    softmax head o(t) = c + V h(t). Parameters are named minigrad tensors: the cell's (in
    its order), then V and c; ``model.<name>`` reads one. ``seed`` is the random
    seed of the initialisation; ``scale`` replaces each part's default spread; ``options`` go to the
    cell.

    >>> import numpy as np
    >>> model = LanguageModel("rnn", input_size=4, hidden_size=3, output_size=4, seed=0)
    >>> list(model.parameters()), model.kind, model.state_names
    (['U', 'W', 'b', 'V', 'c'], 'rnn', ('h',))
    >>> graph = model.unroll(np.array([0, 2, 1]), np.array([2, 1, 3]))
    >>> graph.loss.backward()
    >>> graph.h[2].name, model.W.grad.shape
    ('h(2)', (3, 3))
    >>> LanguageModel("gru?", 4, 3, 4)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    KeyError: "unknown cell 'gru?'; the cells are [...]"
    """

    order: tuple[str, ...] | None = None   # the parameters' order, if not cell's then head's

    def __init__(self, cell: str | Cell = "rnn", input_size: int | None = None,
                 hidden_size: int | None = None, output_size: int | None = None, *,
                 seed: int = 0, scale: float | None = None, **options):
        if isinstance(cell, Cell):
            if options or input_size is not None or hidden_size is not None:
                raise TypeError("a Cell given as the cell carries its own sizes and options")
        elif cell not in CELLS:
            raise KeyError(f"unknown cell {cell!r}; the cells are {sorted(CELLS)}")
        else:
            cell = CELLS[cell](input_size, hidden_size, **options)
        self.cell, self.head = cell, SoftmaxHead(cell.hidden_size, output_size)
        self.input_size, self.hidden_size = cell.input_size, cell.hidden_size
        self.output_size = self.head.output_size
        rng = np.random.default_rng(seed)
        arrays = {**cell.init_parameters(rng, scale), **self.head.init_parameters(rng, scale)}
        roles = {**{n: cell.role(n) for n in arrays}, "V": "V", "c": "c"}
        self._params = {name: mg.tensor(arrays[name], requires_grad=True, name=name)
                        for name in (self.order or arrays)}
        for name, p in self._params.items():
            p.tags.update(role=roles[name])

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], cell: str = "rnn", **options
                    ) -> "LanguageModel":
        """A model with the given parameter arrays (copied, as float64); the sizes are read
        off them (the cell's input and recurrent weights, and V, K×H), every array must match.

        >>> import numpy as np
        >>> arrays = dict(U=np.ones((3, 2)), W=np.eye(3), b=np.zeros(3), V=np.ones((2, 3)),
        ...               c=np.zeros(2))
        >>> LanguageModel.from_arrays(arrays).hidden_size
        3
        """
        if cell not in CELLS:
            raise KeyError(f"unknown cell {cell!r}; the cells are {sorted(CELLS)}")
        D, H = CELLS[cell].sizes_of(arrays)
        inputs.require(arrays, ("V",))
        K = inputs.matrix("V", arrays["V"], SoftmaxHead.symbols["V"]).shape[0]
        model = cls(cell, D, H, K, **options)
        checked = inputs.parameters(arrays, model.parameter_shapes(), model.symbols(),
                                    model.sizes())
        for name, value in checked.items():
            model._params[name].data = value
        return model

    @property
    def kind(self) -> str:
        """The cell's kind: "rnn", "lstm", "gru"."""
        return self.cell.kind

    @property
    def state_names(self) -> tuple[str, ...]:
        """The cell's state names, ("h",) or ("h", "c"); h is first."""
        return self.cell.state_names

    def __getattr__(self, name):
        params = self.__dict__.get("_params", {})
        if name in params:
            return params[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name, value):
        """``model.W = tensor`` replaces parameter W by another tensor of its shape (gradcheck
        and functional transforms pass copies in this way); other attributes are ordinary."""
        params = self.__dict__.get("_params", {})
        if name not in params:
            return super().__setattr__(name, value)
        if not isinstance(value, Tensor) or value.shape != params[name].shape:
            raise TypeError(f"parameter {name} can only be replaced by a Tensor of shape "
                            f"{params[name].shape}, got {type(value).__name__} "
                            f"{getattr(value, 'shape', '')}")
        params[name] = value

    def parameters(self) -> dict[str, Tensor]:
        """The parameters as minigrad tensors by name (the same tensors until one is replaced
        by assignment)."""
        return dict(self._params)

    def arrays(self) -> dict[str, np.ndarray]:
        """Copies of the parameter values as numpy arrays, by name."""
        return {name: p.data.copy() for name, p in self._params.items()}

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's shape by name, in :meth:`parameters`' order."""
        return {name: p.shape for name, p in self._params.items()}

    def recurrent(self) -> tuple[str, ...]:
        """The names of the recurrent weights, the parameters that multiply h(t-1) (the
        cell's ``recurrent``; every layer's in a stack).

        >>> LanguageModel("gru", 4, 3, 4).recurrent()
        ('W_hh',)
        """
        return self.cell.recurrent

    def scale_recurrent(self, s: float) -> None:
        """Multiply every recurrent weight by ``s``; ValueError if the model has none.

        >>> model = RNN(4, 3, 4)
        >>> W = model.W.data.copy()
        >>> model.scale_recurrent(0.5)
        >>> bool(np.all(model.W.data == 0.5 * W))
        True
        """
        names = self.recurrent()
        if not names:
            raise ValueError(f"the {self.kind} cell declares no recurrent weight (its "
                             f"Cell.recurrent is empty), so there is nothing to scale")
        arrays = self.arrays()
        self.set_arrays(**{name: s * arrays[name] for name in names})

    def symbols(self) -> dict[str, str]:
        """Every parameter's shape in letters ("H×D"), for messages."""
        return {**self.cell.symbols, **self.head.symbols}

    def sizes(self) -> str:
        """The sizes as messages write them: "H = 3, D = 4, K = 2"."""
        return f"{self.cell.sizes()}, K = {self.output_size}"

    def set_arrays(self, **arrays) -> None:
        """Overwrite parameters by name with finite real arrays of the same shape
        (copied, as float64). Nothing is changed if any array is refused.

        >>> import numpy as np
        >>> RNN(4, 3, 2).set_arrays(W=np.eye(2))
        Traceback (most recent call last):
        ValueError: parameter W must have shape (3, 3) (H×H; H = 3, D = 4, K = 2), got (2, 2)
        """
        checked = inputs.parameters(arrays, self.parameter_shapes(), self.symbols(),
                                    self.sizes(), complete=False)
        for name, value in checked.items():
            self._params[name].data = value

    set_params = set_arrays   # the vanilla model's name for it

    def unroll(self, x, y=None, state0=None, *, checkpoint=None, head: str = "steps"
               ) -> Unrolled:
        """Build the graph for inputs ``x`` (and targets ``y``) from the initial state.

        ``x``: integer token ids [τ] or [τ, B] (one-hot inputs: the cell gathers columns of
        its input weights), or floats [τ, D] or [τ, B, D]. ``y``: integer class ids [τ] or
        [τ, B], or None for no loss. ``state0``: h(0) for a one-state cell, else a tuple
        such as (h0, c0); zeros (constants) where None; an array given here becomes a
        differentiable leaf, a Tensor is used as it is (:func:`rnn.layers.initial_state`).
        ``checkpoint``: None (every node kept, with its gradient after backward), or a number
        of segments, "sqrt" or a :class:`rnn.schedule.Budget`: the graph is then one
        :func:`minigrad.checkpoint` node per segment, recomputed in backward (see
        :class:`Unrolled` for what it keeps; gradients equal the full graph's to round-off).
        ``head``: "steps" (o(t), ŷ(t), L(t) for each step, to inspect) or "sequence" (for
        training: the head of all steps at once, :meth:`SoftmaxHead.sequence`; the same L and
        gradients to round-off, in fewer nodes; checkpointed, one head per segment and one
        for the stored steps).

        >>> import numpy as np
        >>> model = LanguageModel("rnn", 4, 3, 4, seed=0)
        >>> x, y = np.array([0, 2, 1, 3, 3]), np.array([2, 1, 3, 0, 1])
        >>> graph = model.unroll(x, y, checkpoint="sqrt")      # ⌈√5⌉ = 3 segments
        >>> graph.schedule.stored(), graph.loss.inputs[0].inputs[1].name
        ((0, 1, 3, 5), 'L(2..2)')
        >>> graph.loss.backward()
        >>> graph.h[3].grad.shape, graph.o[3].name, graph.a[5].name
        ((3,), 'o(3)', 'a(5)')
        >>> graph.h[4]
        Traceback (most recent call last):
        rnn.layers.NotKept: h(4) is not kept: step 4 is inside the checkpointed segment \
'steps 4..4', recomputed in backward and freed; this unroll keeps the steps 0, 1, 3, 5 \
(unroll without checkpoint= to keep every node of every step)
        """
        return self._unroll(self.cell, x, y, state0, checkpoint, head)

    def _unroll(self, cell: Cell, x, y, state0, checkpoint, head: str = "steps") -> Unrolled:
        if head not in ("steps", "sequence"):
            raise ValueError(f"head must be 'steps' or 'sequence', got {head!r}")
        x = inputs.inputs(x, self.input_size)
        y = None if y is None else inputs.targets(y, x.tau, x.batch, self.output_size)
        state0 = layers.initial_state(cell, state0, x.batch)
        batched = x.batch is not None
        if head == "sequence" and checkpoint is None:
            return self._unroll_sequence(cell, cell.bind(self._cell_params(), batched), x, y,
                                         state0)
        if head == "sequence":
            return self._checkpointed_sequence(cell, x, y, state0, checkpoint)
        p = {**cell.bind(self._cell_params(), batched), **self._head_params(batched)}
        each_step = (lambda p, t, state:                     # o(t) = c + V h(t), L(t)
                     self.head.step(p, state[0], t, None if y is None else y[t - 1]))
        trace = layers.unroll(cell, p, x, state0, each_step=each_step, checkpoint=checkpoint,
                              loss=None if y is None else "L_t")
        if trace.schedule is not None:
            return self._checkpointed(x, y, trace)
        o = [None, *(step["o"] for step in trace.nodes[1:])]     # ŷ(t) = softmax(o(t)), when read
        L = [None, *(step["L_t"] for step in trace.nodes[1:])] if y is not None else [None]
        graph = Unrolled(x.tau, x.batch, trace.states, trace.nodes, o, Softmaxes(o), L)
        if y is not None:
            graph.loss = self.head.total(L[1:])             # L = Σ_t L(t)
        return graph

    def _checkpointed(self, x: inputs.Inputs, y, trace: layers.Trace) -> Unrolled:
        """The graph of a checkpointed unroll: the stored steps, L = Σ of trace.losses."""
        graph = Unrolled(x.tau, x.batch, trace.states, trace.nodes, [], [],
                         schedule=trace.schedule)
        graph.o = graph._by_step("o", {t: trace.nodes[t]["o"] for t in trace.schedule.stored()[1:]})
        graph.y_hat = Softmaxes(graph.o)
        if y is not None:
            graph.L = graph.L_t
            graph.loss = self.head.total(trace.losses)      # segments' sums and stored L(t)
        else:
            graph.L = [None]
        return graph

    def _checkpointed_sequence(self, cell: Cell, x: inputs.Inputs, y, state0, checkpoint
                               ) -> Unrolled:
        """Checkpointed, with the fused head: each segment's node sums its steps' loss by
        one head over them (:meth:`SoftmaxHead.sequence`), and one head the stored steps'."""
        def loss(p, ts, h):                                  # L of the steps ts at once
            return self.head.sequence({"V": p["V"], "c": p["c"]}, h, y[np.array(ts) - 1])["L"]

        p = {**cell.bind(self._cell_params(), x.batch is not None), **self._head_params(True)}
        trace = layers.unroll(cell, p, x, state0, checkpoint=checkpoint,
                              loss=None if y is None else loss)
        o, y_hat, L = (NotPerStep(symbol, x.tau) for symbol in ("o", "ŷ", "L"))
        return Unrolled(x.tau, x.batch, trace.states, trace.nodes, o, y_hat, L,
                        loss=None if y is None else self.head.total(trace.losses),
                        schedule=trace.schedule)

    def _unroll_sequence(self, cell: Cell, cell_p, x, y, state0) -> Unrolled:
        trace = layers.unroll(cell, cell_p, x, state0)
        nodes = self.head.sequence(self._head_params(True), trace.states["h"][1:], y)
        o, y_hat, L = (NotPerStep(symbol, x.tau) for symbol in ("o", "ŷ", "L"))
        return Unrolled(x.tau, x.batch, trace.states, trace.nodes, o, y_hat, L,
                        loss=nodes.get("L"), O=nodes["o"])

    def _cell_params(self) -> dict[str, Tensor]:
        return {name: self._params[name] for name in self.cell.parameter_shapes()}

    def _head_params(self, batched: bool) -> dict[str, Tensor]:
        return self.head.bind({name: self._params[name] for name in ("V", "c")}, batched)

    def initial_state(self, batch: int | None = None) -> tuple[np.ndarray, ...]:
        """Zeros for every state, (H,) or (H, B), as arrays for :meth:`step`."""
        shape = (self.hidden_size,) if batch is None else (self.hidden_size, batch)
        return tuple(np.zeros(shape) for _ in self.state_names)

    def step(self, state: Sequence[np.ndarray], x) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        """One step without a graph, for evaluation and sampling: (state(t), o(t)) as arrays
        from state(t-1) (arrays, as :meth:`initial_state` makes them) and x(t): a token id or
        B ids, or a dense vector (D,) or (B, D). Runs under ``mg.no_grad()``. A bad x(t) gets
        :meth:`unroll`'s error for the one-step sequence [x(t)].

        >>> import numpy as np
        >>> model = RNN(4, 3, 2, seed=0)
        >>> state, o = model.step(model.initial_state(), 2)
        >>> graph = model.unroll(np.array([2]))
        >>> bool(np.allclose(o, graph.o[1].data)), bool(np.allclose(state[0], graph.h[1].data))
        (True, True)
        """
        x = inputs.inputs(np.asarray(x)[None], self.input_size)
        if len(state) != len(self.state_names):
            raise ValueError(f"the state of the {self.kind} cell is {len(self.state_names)} "
                             f"array(s) {self.state_names}, got {len(state)}")
        with mg.no_grad():
            state = tuple(mg.tensor(inputs.state(name, s, self.hidden_size, x.batch))
                          for name, s in zip(self.state_names, state))
            batched = x.batch is not None
            state = self.cell.step(self.cell.bind(self._cell_params(), batched), state,
                                   layers.step_input(x, 1), 1)
            o = self.head.step(self._head_params(batched), state[0], 1)["o"]
        return tuple(s.data for s in state), o.data


class RNN(LanguageModel):
    """The source chapter's RNN (Deep Learning §10.2) with parameters ``U`` (H×D), ``W``
    (H×H), ``V`` (K×H), ``b`` (H,), ``c`` (K,) as named minigrad tensors: the
    :class:`LanguageModel` with the vanilla cell (:class:`rnn.cells.VanillaCell`).

    >>> import numpy as np
    >>> from rnn import RNN
    >>> model = RNN(input_size=4, hidden_size=3, output_size=4, seed=0)
    >>> graph = model.unroll(np.array([0, 2, 1]), np.array([2, 1, 3]))
    >>> graph.loss.backward()
    >>> graph.h[2].name, graph.h[2].grad.shape, model.W.grad.shape
    ('h(2)', (3,), (3, 3))
    """

    order = PARAMETER_NAMES

    def __init__(self, input_size: int, hidden_size: int, output_size: int, *,
                 seed: int = 0, scale: float | None = None):
        super().__init__("rnn", input_size, hidden_size, output_size, seed=seed, scale=scale)

    @classmethod
    def from_arrays(cls, U, W, V, b, c) -> "RNN":
        """A model with the given parameter arrays (copied, as float64); U (H×D)
        and V (K×H) give the sizes, the others must match them.

        >>> import numpy as np
        >>> RNN.from_arrays(np.ones(4), np.eye(3), np.ones((2, 3)), np.zeros(3), np.zeros(2))
        Traceback (most recent call last):
        ValueError: parameter U must be a matrix H×D with H, D ≥ 1, got shape (4,)
        """
        D, H = VanillaCell.sizes_of({"U": U})
        K = inputs.matrix("V", V, SoftmaxHead.symbols["V"]).shape[0]
        model = cls(D, H, K)
        model.set_arrays(U=U, W=W, V=V, b=b, c=c)
        return model

    def unroll(self, x, y=None, h0=None, *, activation=mg.tanh, checkpoint=None,
               head: str = "steps") -> Unrolled:
        """Build the graph for inputs ``x`` (and targets ``y``) from ``h(0) = h0``.

        ``x``: integer token ids [τ] or [τ, B] (one-hot inputs: ``U x(t)`` gathers
        columns of U), or floats [τ, D] or [τ, B, D]. ``y``: integer class ids
        [τ] or [τ, B], or None for no loss. ``h0``: (H,) or (H, B); zeros (a
        constant) by default; an array given here becomes a differentiable
        leaf, a Tensor is used as it is. ``activation``: the chapter's tanh, or
        another elementwise minigrad function returning a new node (the gradient
        analysis in :mod:`rnn.analysis` uses a linear one). ``checkpoint``, ``head``: as for
        :meth:`LanguageModel.unroll`.
        """
        cell = self.cell if activation is mg.tanh else VanillaCell(
            self.input_size, self.hidden_size, activation=activation)
        return self._unroll(cell, x, y, h0, checkpoint, head)
