"""An encoder–decoder (sequence-to-sequence) model of any cell, trained on rnn.tasks.

Deep Learning §10.4 (Cho et al. 2014; Sutskever et al. 2014): an encoder :class:`rnn.stack.Stack`
reads the source x(1..n); its final state in every layer (at each sequence's own last symbol,
so padding after it is never read into it) initialises a decoder stack of the same cell and
size, which reads ⟨s⟩ y(1) … y(m) and predicts y(1) … y(m) ⟨/s⟩ through the softmax head::

    h_enc(t) = step(h_enc(t−1), x(t))                  t = 1..n
    h_dec(0) = h_enc(n),  h_dec(t) = step(h_dec(t−1), y(t−1)),  y(0) = ⟨s⟩
    o(t) = c + V h_dec(t),   L = Σ_t Σ_b mask(t, b) · −log softmax(o(t))[y(t), b]

A bidirectional encoder (``bidirectional=True``) also reads each source backwards; the
decoder then has 2H units per layer, and its layer ℓ starts from [h_enc→(n); h_enc←(1)] of
encoder layer ℓ (both directions' final states stacked, PyTorch's ``h_n`` pair). Its backward
direction would read a padded column's padding first, so it reads the sources of each length
in their own pass (no padding), and the context columns are put back in the batch's order.

Training reads the answer (teacher forcing: :meth:`Seq2Seq.unroll` with a
:class:`rnn.tasks.Batch`); inference feeds back its own most likely symbol (greedy decoding:
:meth:`Seq2Seq.decode`) until ⟨/s⟩. Parameters are the encoder's and the decoder's, named
"enc.W_ih_l0", "dec.W_ih_l0", … (rnn.layout's suffixes), then V and c; their nodes are named
"enc h₁(3)", "dec h₁(2)" and tagged ``part``.

>>> from rnn.tasks import Reverse
>>> task = Reverse(max_length=4)
>>> model = Seq2Seq("gru", task.vocabulary, hidden_size=8, seed=0)
>>> graph = model.unroll(task.batch(3, seed=0))
>>> graph.loss.backward()
>>> graph.context[0][0].name, graph.o[1].name, model.parameters()["dec.W_hh_l0"].grad.shape
('enc final h₁', 'o(1)', (24, 8))
>>> len(model.decode(["abc", "d"])), evaluate(model, task, 20, seed=1)["exact_match"] <= 1.0
(2, True)
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import minigrad as mg
from minigrad import Tensor
from rnn import checkpoint, inputs, settings
from rnn.cells.base import tag
from rnn.heads import SoftmaxHead
from rnn.layout import Slot
from rnn.optim import Adam, clip_grad_norm
from rnn.stack import Stack, StackTrace
from rnn.tasks import END, PAD, START, Batch, Task, Vocabulary, exact_match, symbol_accuracy

__all__ = ["Seq2Seq", "Seq2SeqUnrolled", "train", "evaluate", "from_config", "record",
           "save", "load"]


@dataclass
class Seq2SeqUnrolled:
    """One teacher-forced graph: the encoder's traces (one pass over the batch, or for a
    bidirectional encoder one per source length, in increasing length), the decoder's trace,
    ``context`` (per decoder layer, the encoder's final states that start it), the head's
    o(t) and masked L(t) for t = 1..T+1 (None at 0), and ``loss`` (L, summed over steps and
    sequences)."""
    encoders: list[StackTrace]
    decoder: StackTrace
    context: list[tuple[Tensor, ...]]
    o: list[Tensor | None]
    L: list[Tensor | None]
    loss: Tensor

    @property
    def encoder(self) -> StackTrace:
        """The encoder's trace, when one pass read the whole batch."""
        if len(self.encoders) != 1:
            raise ValueError(f"the bidirectional encoder read the sources of "
                             f"{len(self.encoders)} lengths in {len(self.encoders)} passes: "
                             f"read graph.encoders")
        return self.encoders[0]


class Seq2Seq:
    """Encoder and decoder stacks of ``layers`` layers of ``cell`` ("rnn", "lstm", "gru")
    with ``hidden_size`` units (the decoder 2·``hidden_size`` under a ``bidirectional``
    encoder), over ``vocabulary``'s ids (rnn.tasks.Vocabulary: inputs and outputs share it);
    ``options`` go to the cells."""

    def __init__(self, cell: str, vocabulary: Vocabulary, hidden_size: int, *,
                 layers: int = 1, bidirectional: bool = False, seed: int = 0,
                 scale: float | None = None, **options):
        V = len(vocabulary)
        self.vocabulary = vocabulary
        self.encoder = Stack(cell, V, hidden_size, layers, bidirectional, part="enc", **options)
        self.decoder = Stack(cell, V, self.encoder.output_size, layers, part="dec", **options)
        self.head = SoftmaxHead(self.decoder.hidden_size, V)
        self.options = dict(options)
        rng = np.random.default_rng(seed)
        arrays = {**{f"enc.{n}": a for n, a in self.encoder.init_parameters(rng, scale).items()},
                  **{f"dec.{n}": a for n, a in self.decoder.init_parameters(rng, scale).items()},
                  **self.head.init_parameters(rng, scale)}
        roles = {**{f"enc.{n}": r for n, r in self.encoder.roles().items()},
                 **{f"dec.{n}": r for n, r in self.decoder.roles().items()}, "V": "V", "c": "c"}
        self._params = {n: mg.tensor(a, requires_grad=True, name=n) for n, a in arrays.items()}
        for name, p in self._params.items():
            p.tags.update(role=roles[name])

    @property
    def kind(self) -> str:
        return self.encoder.kind

    def parameters(self) -> dict[str, Tensor]:
        """The parameters as minigrad tensors by name."""
        return dict(self._params)

    def arrays(self) -> dict[str, np.ndarray]:
        """Copies of the parameter values, by name."""
        return {n: p.data.copy() for n, p in self._params.items()}

    def set_arrays(self, **arrays) -> None:
        """Overwrite parameters by name (checked, copied; nothing changes if one is refused)."""
        shapes = {n: p.shape for n, p in self._params.items()}
        for name, value in inputs.parameters(arrays, shapes, {}, "", complete=False).items():
            self._params[name].data = value

    def _part(self, prefix: str) -> dict[str, Tensor]:
        return {n.removeprefix(prefix): p for n, p in self._params.items()
                if n.startswith(prefix)}

    def encode(self, source: np.ndarray, lengths: np.ndarray) -> StackTrace:
        """The encoder's trace over source ids [S, B] (padding after each ``lengths[b]``)."""
        source = inputs.inputs(source, len(self.vocabulary))
        if source.batch is None or np.shape(lengths) != (source.batch,):
            raise ValueError(f"source must be ids [S, B] with one length per column, got "
                             f"{source.x.shape} and lengths of shape {np.shape(lengths)}")
        lengths = np.asarray(lengths)
        if lengths.min() < 1 or lengths.max() > source.tau:
            raise ValueError(f"source lengths must lie in 1..{source.tau}, got "
                             f"{lengths.min()}..{lengths.max()}")
        return self.encoder.unroll(self._part("enc."), source)

    def context(self, source: np.ndarray, lengths: np.ndarray
                ) -> tuple[list[StackTrace], list[tuple[Tensor, ...]]]:
        """The encoder's traces over source ids [S, B] and, per decoder layer, the states
        that start it (see the module docstring): one pass and :meth:`final_states`, or for
        a bidirectional encoder one pass per source length, each column's [forward final;
        backward final] moved back to its place by a constant 0/1 matrix."""
        lengths = np.asarray(lengths)
        if not self.encoder.bidirectional:
            trace = self.encode(source, lengths)
            return [trace], self.final_states(trace, lengths)
        source = np.asarray(source)
        traces, parts = [], []
        for n in np.unique(lengths):
            columns = np.flatnonzero(lengths == n)
            trace = self.encode(source[:n, columns], np.full(len(columns), n))
            place = (columns[:, None] == np.arange(len(lengths))[None, :]).astype(float)
            traces.append(trace)
            parts.append([tuple(mg.concat([trace.states[Slot(layer, "forward")][name][n],
                                           trace.states[Slot(layer, "reverse")][name][1]])
                                @ place for name in self.encoder.state_names)
                          for layer in range(1, self.encoder.layers + 1)])
        S = int(lengths.max())
        context = [tuple(tag(sum((p[layer - 1][k] for p in parts[1:]), parts[0][layer - 1][k]),
                             f"enc final {name}{chr(0x2080 + layer)}", S, name, layer=layer,
                             direction="both", part="enc")
                         for k, name in enumerate(self.encoder.state_names))
                   for layer in range(1, self.encoder.layers + 1)]
        return traces, context

    def final_states(self, trace: StackTrace, lengths: np.ndarray) -> list[tuple[Tensor, ...]]:
        """Per slot, each state at each sequence's own last symbol: Σ_t [t = n_b] s(t), one
        node "enc final h₁" per state (just s(S) when every source has S symbols)."""
        S = len(trace.outputs[1]) - 1
        finals = []
        for slot in trace.slots:
            states = trace.states[slot]
            if (lengths == S).all():
                finals.append(tuple(states[n][S] for n in self.encoder.state_names))
                continue
            pick = (np.arange(1, S + 1)[:, None] == lengths[None, :])[:, None, :]   # (S, 1, B)
            finals.append(tuple(
                tag((mg.stack(states[n][1:S + 1]) * pick.astype(float)).sum(axis=0),
                    f"enc final {n}{chr(0x2080 + slot.layer)}", S, n, layer=slot.layer,
                    direction=slot.direction, part="enc")
                for n in self.encoder.state_names))
        return finals

    def unroll(self, batch: Batch) -> Seq2SeqUnrolled:
        """The teacher-forced graph of a :class:`rnn.tasks.Batch`: the encoder over
        ``batch.source``, the decoder over ``batch.decoder_input`` from the encoder's final
        states, and the loss of ``batch.target`` where ``batch.target_mask`` holds."""
        encoders, start = self.context(batch.source, batch.source_lengths)
        decoder = self.decoder.unroll(self._part("dec."),
                                      inputs.inputs(batch.decoder_input, len(self.vocabulary)),
                                      start)
        head_p = self.head.bind({"V": self._params["V"], "c": self._params["c"]}, True)
        o, L = [None], [None]
        for t, h in enumerate(decoder.outputs[-1][1:], start=1):
            o.append(self.head.step(head_p, h, t)["o"])
            losses = mg.cross_entropy(o[t], batch.target[t - 1], reduction="none", axis=0)
            L.append(tag((losses * batch.target_mask[t - 1].astype(float)).sum(), f"L({t})",
                         t, "L_t", y=batch.target[t - 1]))
        return Seq2SeqUnrolled(encoders, decoder, start, o, L, self.head.total(L[1:]))

    def decode(self, sources: Sequence[str], max_length: int | None = None) -> list[str]:
        """Greedy decoding: the answer to each source, feeding back the most likely output
        (a symbol or ⟨/s⟩; padding and ⟨s⟩ are never outputs) until ⟨/s⟩ or ``max_length``
        symbols (default: twice its own source's length, plus 2; so each answer is the same
        whichever sources are decoded with it)."""
        ids = [self.vocabulary.encode(s) for s in sources]
        lengths = np.array([len(i) for i in ids])
        if lengths.min() < 1:
            raise ValueError("every source needs at least one symbol")
        source = np.zeros((lengths.max(), len(ids)), dtype=np.int64)
        for b, i in enumerate(ids):
            source[:len(i), b] = i
        limit = 2 * lengths + 2 if max_length is None else np.full(len(ids), max_length)
        out = np.zeros((limit.max(), len(ids)), dtype=np.int64)
        with mg.no_grad():
            state = self.context(source, lengths)[1]
            previous = np.full(len(ids), START)
            head_p = self.head.bind({"V": self._params["V"], "c": self._params["c"]}, True)
            done = np.zeros(len(ids), dtype=bool)
            for t in range(limit.max()):
                trace = self.decoder.unroll(self._part("dec."), [previous], state)
                scores = self.head.step(head_p, trace.outputs[-1][1], 1)["o"].data.copy()
                scores[[PAD, START]] = -np.inf        # never outputs: only symbols and ⟨/s⟩
                previous = out[t] = scores.argmax(axis=0)
                state = [tuple(trace.states[s][n][1] for n in self.decoder.state_names)
                         for s in trace.slots]
                done |= (previous == END) | (t + 1 >= limit)
                if done.all():
                    break
        return [self.vocabulary.decode(out[:limit[b], b]) for b in range(len(ids))]


def train(model: Seq2Seq, task: Task, *, steps: int, batch: int = 32, lr: float = 0.01,
          seed: int = 0, clip: float = 1.0, log=None) -> list[float]:
    """``steps`` Adam updates on fresh batches of ``task`` (teacher forcing), the gradient
    norm clipped at ``clip``; returns the loss per target symbol of every step. ``log(step,
    loss)``, when given, is called every 50 steps."""
    rng = np.random.default_rng(seed)
    params = model.parameters()
    optimizer = Adam(params, lr=lr)
    history = []
    for step in range(1, steps + 1):
        b = task.batch(batch, rng=rng)
        graph = model.unroll(b)
        mg.zero_grad(params)
        graph.loss.backward(keep_intermediate_grads=False)
        symbols = b.target_mask.sum()
        history.append(graph.loss.item() / symbols)
        optimizer.step(clip_grad_norm({n: p.grad / symbols for n, p in params.items()},
                                      clip)[0])
        if log is not None and step % 50 == 0:
            log(step, history[-1])
    return history


def evaluate(model: Seq2Seq, task: Task, n: int, *, seed: int) -> dict[str, float]:
    """Exact-match and per-symbol accuracy (rnn.tasks) of greedy decoding on ``n`` new
    examples of ``task`` drawn with ``seed``."""
    sources, answers = task.examples(n, seed=seed)
    predicted = model.decode(sources)
    return {"exact_match": exact_match(predicted, answers),
            "symbol_accuracy": symbol_accuracy(predicted, answers)}


# -- checkpoints ---------------------------------------------------------------------------

def from_config(config: settings.Seq2SeqConfig) -> tuple[Seq2Seq, Task]:
    """The model and the task that a :class:`rnn.settings.Seq2SeqConfig` describes."""
    task = config.build_task()
    model = Seq2Seq(config.cell, task.vocabulary, config.hidden_size, layers=config.layers,
                    bidirectional=config.bidirectional, seed=config.random_seed,
                    **settings.cell_options(config))
    return model, task


def record(model: Seq2Seq) -> dict:
    """The checkpoint's model record of ``model`` (rnn.checkpoint): its encoder's and its
    decoder's stacks, the head's K, every parameter's shape.

    >>> from rnn.tasks import Reverse
    >>> checkpoint.describe(record(Seq2Seq("gru", Reverse().vocabulary, 4, bidirectional=True)))
    'an encoder–decoder of a 1-layer bidirectional gru with H = 4, D = 11 encoder and a \
1-layer gru with H = 8, D = 11 decoder, K = 11'
    """
    def part(stack: Stack) -> dict:
        return {"cell": stack.kind, "input_size": stack.input_size,
                "hidden_size": stack.hidden_size, "layers": stack.layers,
                "bidirectional": stack.bidirectional, "options": dict(model.options)}
    return {"architecture": "seq2seq", "encoder": part(model.encoder),
            "decoder": part(model.decoder), "output_size": model.head.output_size,
            "parameters": {n: list(p.shape) for n, p in model.parameters().items()},
            "state": []}


def save(path, model: Seq2Seq, config: settings.Seq2SeqConfig, losses: list[float]) -> None:
    """Write ``model``, trained as ``config`` says with these per-step ``losses``, to the
    checkpoint ``path`` (atomically; rnn.checkpoint.save)."""
    meta = {"step": len(losses), "vocab": model.vocabulary.symbols,
            "config": dataclasses.asdict(config), "model": record(model),
            "losses": [float(v) for v in losses]}
    checkpoint.save(path, model.arrays(), meta)


def load(path) -> tuple[Seq2Seq, settings.Seq2SeqConfig, dict]:
    """The encoder–decoder saved at ``path``, the settings it was trained with and the
    metadata. CheckpointError if the file holds another model (a language model), settings
    this version refuses, another task's vocabulary, or a record that its settings do not
    make (naming both)."""
    saved = checkpoint.load(path)
    held = saved.model
    if held.get("architecture") != "seq2seq":
        raise checkpoint.CheckpointError(
            f"{path} holds {checkpoint.describe(held)}, a language model; this needs an "
            f"encoder–decoder's checkpoint (written by `python -m rnn seq2seq`)")
    names = {f.name for f in dataclasses.fields(settings.Seq2SeqConfig)}
    try:
        config = settings.Seq2SeqConfig(**{k: v for k, v in saved.meta["config"].items()
                                           if k in names})
        model, task = from_config(config)
    except (TypeError, ValueError) as error:
        raise checkpoint.CheckpointError(f"{path}: its stored settings: {error}") from None
    if task.vocabulary.symbols != saved.meta["vocab"]:
        raise checkpoint.CheckpointError(f"{path}: its vocabulary {saved.meta['vocab']!r} is "
                                         f"not the {config.task} task's "
                                         f"{task.vocabulary.symbols!r}")
    made = record(model)
    if made != held:
        raise checkpoint.CheckpointError(f"{path} holds {checkpoint.describe(held)}; its "
                                         f"settings make {checkpoint.describe(made)}")
    model.set_arrays(**saved.arrays)
    return model, config, saved.meta
