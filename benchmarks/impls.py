"""The implementations the benchmark compares, each as ``make(params, x, y) -> step``
where ``step()`` runs one training step (forward + backward) and returns
``(loss, {"U": ∂L/∂U, "W": …, "V": …, "b": …, "c": …})`` as float64 numpy arrays.

The minigrad training-mode row ("keep_intermediate_grads=False") unrolls with
``head="sequence"``, as ``python -m rnn train`` does; the other minigrad row is the
inspection default (per-step o(t), L(t), every gradient kept).

``params`` holds U (H×D), W (H×H), V (K×H), b (H,), c (K,); ``x`` and ``y`` are
token ids [τ] or [τ, B]; h(0) = 0. PyTorch is optional: its entries are listed
only when it is installed, and it is imported only when one of them is made (so
that a memory measurement of another implementation does not include it).
"""
from __future__ import annotations

import importlib.util

import numpy as np

import minigrad as mg
from numpy_bptt import step as numpy_step
from rnn.model import RNN

IMPLEMENTATIONS: dict[str, callable] = {}


def implementation(name):
    def register(make):
        IMPLEMENTATIONS[name] = make
        return make
    return register


@implementation("numpy BPTT (baseline)")
def make_numpy(params, x, y):
    U, W, V, b, c = (params[k] for k in "UWVbc")
    return lambda: numpy_step(U, W, V, b, c, x, y)


def _minigrad(keep_intermediate_grads):
    head = "steps" if keep_intermediate_grads else "sequence"  # inspection, or training's head

    def make(params, x, y):
        model = RNN.from_arrays(**params)
        parameters = model.parameters()

        def step():
            mg.zero_grad(parameters.values())
            graph = model.unroll(x, y, head=head)
            graph.loss.backward(keep_intermediate_grads=keep_intermediate_grads)
            return graph.loss.item(), {k: p.grad for k, p in parameters.items()}
        return step
    return make


implementation("minigrad")(_minigrad(True))
implementation("minigrad, keep_intermediate_grads=False")(_minigrad(False))
CHECKPOINTED = "minigrad, checkpointed (√τ segments)"


@implementation(CHECKPOINTED)
def make_checkpointed(params, x, y):
    """``model.unroll(x, y, checkpoint="sqrt", head="sequence")``, as training runs it:
    ⌈√τ⌉ segments, each one :func:`minigrad.checkpoint` node recomputed in backward
    (rnn.schedule), its steps' loss by one head."""
    model = RNN.from_arrays(**params)
    parameters = model.parameters()

    def step():
        mg.zero_grad(parameters.values())
        graph = model.unroll(x, y, checkpoint="sqrt", head="sequence")
        graph.loss.backward(keep_intermediate_grads=False)
        return graph.loss.item(), {k: p.grad for k, p in parameters.items()}
    return step


if importlib.util.find_spec("torch") is not None:  # PyTorch is optional
    def _torch():
        import torch
        torch.set_num_threads(1)
        return torch

    def _torch_params(params):
        torch = _torch()
        return {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
                for k, v in params.items()}

    def _torch_grads(loss, tensors):
        return loss.item(), {k: t.grad.numpy().copy() for k, t in tensors.items()}

    @implementation("PyTorch eager, unrolled")
    def make_torch_eager(params, x, y):
        torch = _torch()
        p = _torch_params(params)
        xs, ys = torch.as_tensor(x), torch.as_tensor(y)
        batched = x.ndim == 2
        H = params["W"].shape[0]

        def step():
            for t in p.values():
                t.grad = None
            U, W, V, b, c = (p[k] for k in "UWVbc")
            b2, c2 = (b[:, None], c[:, None]) if batched else (b, c)
            h = torch.zeros((H, x.shape[1]) if batched else H, dtype=torch.float64)
            loss = 0.0
            for t in range(len(x)):
                h = torch.tanh(b2 + W @ h + U[:, xs[t]])
                o = c2 + V @ h
                logits = o.T if batched else o[None]
                target = ys[t] if batched else ys[t:t + 1]
                loss = loss + torch.nn.functional.cross_entropy(logits, target, reduction="sum")
            loss.backward()
            return _torch_grads(loss, p)
        return step

    @implementation("PyTorch nn.RNN (fused)")
    def make_torch_fused(params, x, y):
        torch = _torch()
        H, D = params["U"].shape
        rnn = torch.nn.RNN(D, H, nonlinearity="tanh", bias=True).double()
        with torch.no_grad():
            rnn.weight_ih_l0.copy_(torch.as_tensor(params["U"]))
            rnn.weight_hh_l0.copy_(torch.as_tensor(params["W"]))
            rnn.bias_ih_l0.copy_(torch.as_tensor(params["b"]))
            rnn.bias_hh_l0.zero_()
        V = torch.tensor(params["V"], requires_grad=True)
        c = torch.tensor(params["c"], requires_grad=True)
        x2 = x if x.ndim == 2 else x[:, None]
        one_hot = torch.nn.functional.one_hot(torch.as_tensor(x2), D).double()  # (τ, B, D)
        targets = torch.as_tensor(y.reshape(-1))
        tensors = {"U": rnn.weight_ih_l0, "W": rnn.weight_hh_l0, "V": V, "b": rnn.bias_ih_l0, "c": c}

        def step():
            for t in (*rnn.parameters(), V, c):
                t.grad = None
            h, _ = rnn(one_hot)                                   # (τ, B, H)
            o = torch.nn.functional.linear(h.reshape(-1, H), V, c)
            loss = torch.nn.functional.cross_entropy(o, targets, reduction="sum")
            loss.backward()
            return _torch_grads(loss, tensors)
        return step


def problem(H, B, tau, D=65, seed=0):
    """Parameters as :class:`rnn.model.RNN` initialises them, and random tokens."""
    rng = np.random.default_rng(seed)
    model = RNN(D, H, D, seed=seed)
    params = {k: p.data.copy() for k, p in model.parameters().items()}
    shape = (tau,) if B == 1 else (tau, B)
    return params, rng.integers(0, D, shape), rng.integers(0, D, shape)


def relative_error(result, reference) -> float:
    """Largest relative difference of the loss and of each gradient (by its largest entry)."""
    (loss, grads), (loss0, grads0) = result, reference
    errors = [abs(loss - loss0) / abs(loss0)]
    errors += [float(np.abs(grads[k] - grads0[k]).max() / np.abs(grads0[k]).max()) for k in grads0]
    return max(errors)
