"""Stacked and bidirectional vanilla RNNs composed from the vanilla oracle, in plain numpy.

The oracle rnn.stack's models are checked against (never imports minigrad). It is the
vanilla oracle (:mod:`rnn.oracles.vanilla`) applied layer by layer and direction by direction
(its forward recurrence, its backward recurrence and its weight gradients), with the two
things a stack adds written out here:

- forward: layer ℓ > 1 reads layer ℓ−1's output as dense inputs; a backward direction runs
  the vanilla recurrence over the time-reversed inputs, and its states are put back in the
  sequence's order; a bidirectional layer's output is [h→(t); h←(t)];
- backward: what reaches a layer's output at step t (from the head on top, from the layer
  above otherwise) is the "head's part" the vanilla backward recurrence takes, split by
  direction (and reversed for a backward one); what the layer sends down is
  ∇x(t) = Uᵀ ∇a(t), summed over the directions.

Parameters are named as rnn.layout names them (``U_l0``, ``W_l0_reverse``, …, ``V``, ``c``);
initial states ``h0`` are (L·dirs, H[, B]), one per slot in PyTorch's order, zeros when None.

>>> import numpy as np
>>> H, D, K = 2, 3, 2
>>> rng = np.random.default_rng(0)
>>> shapes = dict(U_l0=(H, D), W_l0=(H, H), b_l0=(H,), U_l1=(H, H), W_l1=(H, H),
...               b_l1=(H,), V=(K, H), c=(K,))
>>> params = {name: rng.normal(size=shape) for name, shape in shapes.items()}
>>> result = bptt(params, np.array([0, 2, 1]), np.array([1, 0, 1]), layers=2)
>>> result.grads["W_l1"].shape, result.grads["h0"].shape, result.forward.h_n.shape
((2, 2), (2, 2), (2, 2))
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnn import inputs
from rnn.layout import Slot, slots, suffix
from rnn.oracles import head, vanilla

__all__ = ["StackForward", "StackResult", "forward", "bptt"]

SYMBOLS = {"U": "H×D", "W": "H×H", "b": "(H,)"}


@dataclass(frozen=True)
class StackForward:
    """``h[slot]`` (τ, H[, B]): the slot's h(t) for t = 1..τ (row t−1, the sequence's
    order in both directions); ``outputs[ℓ-1]`` (τ, H·dirs[, B]) layer ℓ's outputs;
    ``h_n`` (L·dirs, H[, B]) the final states in PyTorch's order (a backward direction's
    is its state after reading x(1)); ``o`` (τ, K[, B])."""
    h: dict[Slot, np.ndarray]
    outputs: list[np.ndarray]
    h_n: np.ndarray
    o: np.ndarray


@dataclass(frozen=True)
class StackResult:
    """Loss and gradients: ``grads`` maps every parameter and "h0" (L·dirs, H[, B]) to
    ∂L/∂(that); ``dL_dh[slot]`` (τ, H[, B]) is the total ∂L/∂h(t) of each slot (row t−1);
    ``dL_do`` (τ, K[, B]); ``forward`` the :class:`StackForward`."""
    loss: float
    grads: dict[str, np.ndarray]
    dL_dh: dict[Slot, np.ndarray]
    dL_do: np.ndarray
    forward: StackForward


def forward(params, x, *, layers: int = 1, bidirectional: bool = False, h0=None
            ) -> StackForward:
    """The stack's forward pass (see the module's docstring)."""
    p, x, tokens, single, h0, all_slots = _check(params, x, layers, bidirectional, h0)
    return _unbatched(_forward(p, x, tokens, h0, all_slots)[0], single)


def bptt(params, x, y, *, layers: int = 1, bidirectional: bool = False, h0=None
         ) -> StackResult:
    """Loss L = Σ_t −log softmax(c + V out_L(t))[y(t)] and its exact gradients."""
    p, x, tokens, single, h0, all_slots = _check(params, x, layers, bidirectional, h0)
    tau, B = x.shape[:2]
    y = inputs.targets(y, tau, None if single else B, p["V"].shape[0],
                       source="V.shape[0]").reshape(tau, B)
    fwd, runs = _forward(p, x, tokens, h0, all_slots)
    top = fwd.outputs[-1]
    loss, y_hat = head.softmax_loss(head.outputs(p["V"], p["c"], top), y)
    dL_do = head.dL_do(y_hat, y)
    grads, from_above = head.backward(p["V"], top, dL_do)     # the head's part of ∇out_L(t)
    dL_dh, dL_dh0 = {}, {}
    H = p["W_l0"].shape[0]
    for layer in range(layers, 0, -1):
        to_below = 0.0
        for k, s in enumerate(s for s in all_slots if s.layer == layer):
            U, W, x_in, tok, h = runs[s]
            g = _in_order(from_above[:, k * H:(k + 1) * H], s)     # this direction's part
            dh, da = vanilla._backward_through_time(W, h, g, vanilla.next_dL_dh_10_21)
            n = suffix(s)
            grads["U" + n] = vanilla._input_weight_gradient(U, x_in, tok, da)  # Σ ∇a x^T
            grads["W" + n] = np.einsum("thb,tjb->hj", da, h[:-1])          # Σ ∇a h(t−1)^T
            grads["b" + n] = da.sum(axis=(0, 2))                            # Σ ∇a
            dL_dh0[s] = W.T @ da[0]                                         # Wᵀ ∇a(first)
            dL_dh[s] = _in_order(dh, s)
            if layer > 1:
                to_below = to_below + _in_order(np.einsum("hd,thb->tdb", U, da), s)  # Uᵀ ∇a
        from_above = to_below
    grads["h0"] = np.stack([dL_dh0[s] for s in all_slots])
    unbatch = (lambda a: a[..., 0]) if single else (lambda a: a)
    return StackResult(loss, {n: (unbatch(g) if n == "h0" else g) for n, g in grads.items()},
                       {s: unbatch(g) for s, g in dL_dh.items()}, unbatch(dL_do),
                       _unbatched(fwd, single))


def _in_order(stack, s: Slot):
    """A time-stacked array from the sequence's order into the slot's processing order (or
    back: reversing is its own inverse)."""
    return stack if s.direction == "forward" else stack[::-1]


def _unbatched(fwd: StackForward, single: bool) -> StackForward:
    if not single:
        return fwd
    return StackForward({s: h[..., 0] for s, h in fwd.h.items()},
                        [out[..., 0] for out in fwd.outputs], fwd.h_n[..., 0], fwd.o[..., 0])


def _forward(p, x, tokens, h0, all_slots):
    """The batched forward stacks, and per slot what its backward pass needs: (U, W, its inputs in
    processing order, whether they are ids, h (τ+1, H, B) in processing order)."""
    layer_in, in_tokens, runs, outputs, h_out = x, tokens, {}, [], {}
    for layer in range(1, max(s.layer for s in all_slots) + 1):
        outs = []
        for s in (s for s in all_slots if s.layer == layer):
            n = suffix(s)
            x_in = _in_order(layer_in, s)
            h = vanilla._hidden_states(p["U" + n], p["W" + n], p["b" + n], x_in, in_tokens,
                                       h0[all_slots.index(s)])
            runs[s] = (p["U" + n], p["W" + n], x_in, in_tokens, h)
            outs.append(_in_order(h[1:], s))                       # h(1..τ), sequence order
            h_out[s] = outs[-1]
        out = np.concatenate(outs, axis=1)                          # [h→(t); h←(t)], (τ, ·, B)
        outputs.append(out)
        layer_in, in_tokens = out.transpose(0, 2, 1), False        # dense [τ, B, ·] above
    h_n = np.stack([runs[s][4][-1] for s in all_slots])           # each pass's last state
    return StackForward(h_out, outputs, h_n, head.outputs(p["V"], p["c"], outputs[-1])), runs


def _check(params, x, layers, bidirectional, h0):
    """Parameters checked against the shapes the sizes give (D from U_l0, H from W_l0, K from
    V), x batched ([τ, B] or [τ, B, D]), h0 as (L·dirs, H, B)."""
    layers = inputs.size("layers", layers)
    all_slots = slots(layers, bool(bidirectional))
    for name in ("U_l0", "W_l0", "V"):
        if name not in params:
            raise KeyError(f"missing parameter {name!r}")
    D, H = (inputs.matrix(n, params[n], SYMBOLS[n[0]]).shape[1] for n in ("U_l0", "W_l0"))
    K = inputs.matrix("V", params["V"], "K×H").shape[0]
    width = H * (2 if bidirectional else 1)
    shapes, symbols = {}, {}
    for s in all_slots:
        n = suffix(s)
        shapes.update({"U" + n: (H, D if s.layer == 1 else width), "W" + n: (H, H),
                       "b" + n: (H,)})
        symbols.update({name + n: symbol for name, symbol in SYMBOLS.items()})
    shapes.update(V=(K, width), c=(K,))
    p = inputs.parameters(params, shapes, {**symbols, "V": "K×H·dirs", "c": "(K,)"},
                          f"H = {H}, D = {D}, K = {K}, L = {layers}")
    x, tokens, _, batch = inputs.inputs(x, D, source="U_l0.shape[1]")
    single, B = batch is None, batch or 1
    expected = (len(all_slots), H) + (() if single else (B,))
    if h0 is None:
        h0 = np.zeros((len(all_slots), H, B))
    else:
        h0 = inputs.real_array("h0", h0)
        if h0.shape != expected:
            raise ValueError(f"h0 must have shape {expected} (layers·directions, hidden"
                             f"[, batch]), got {h0.shape}")
        h0 = h0.reshape(len(all_slots), H, B)
    return p, (x[:, None] if single else x), tokens, single, h0, all_slots
