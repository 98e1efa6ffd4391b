"""Optimisers over a dict of named parameter tensors, and gradient clipping.

One base class, :class:`Optimizer`, holds the parameters and the per-parameter
state; each optimiser only says how one parameter moves given its gradient::

    SGD       θ ← θ − η g                      (optionally with momentum μ: v ← μ v + g, θ ← θ − η v)
    Adagrad   G ← G + g²,  θ ← θ − η g / √(G + ε)            (as in Karpathy's min-char-rnn)
    Adam      m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  θ ← θ − η m̂ / (√v̂ + ε)

Gradients are passed in explicitly (a dict by parameter name), so they may
come from minigrad's ``.grad`` or from the analytic BPTT oracle alike.

>>> import numpy as np, minigrad as mg
>>> w = mg.tensor([1.0, -2.0], requires_grad=True)
>>> opt = SGD({"w": w}, lr=0.5)
>>> opt.step({"w": np.array([2.0, -2.0])})
>>> w.data
array([ 0., -1.])
"""
from __future__ import annotations

import numpy as np

from minigrad import Tensor

__all__ = ["Optimizer", "SGD", "Adagrad", "Adam", "OPTIMIZERS", "make_optimizer",
           "clip_grad_norm", "clip_grad_value", "global_norm"]


class Optimizer:
    """Updates ``params[name].data`` in place from ``grads[name]``.

    ``state`` maps a slot name (``"m"``, ``"v"``, ...) to a dict of arrays by
    parameter name; ``steps`` counts updates. Both round-trip through
    :meth:`state_dict` / :meth:`load_state_dict` as flat arrays (for checkpoints).
    Subclasses list their ``slots`` and implement :meth:`update`.
    """

    slots: tuple[str, ...] = ()

    def __init__(self, params: dict[str, Tensor], lr: float):
        if not lr > 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        self.params, self.lr, self.steps = dict(params), float(lr), 0
        self.state = {slot: {name: np.zeros_like(p.data) for name, p in self.params.items()}
                      for slot in self.slots}

    def step(self, grads: dict[str, np.ndarray]) -> None:
        """Apply one update; ``grads`` must have a gradient for every parameter."""
        missing = self.params.keys() - grads.keys()
        if missing:
            raise KeyError(f"no gradient for parameters {sorted(missing)}")
        self.steps += 1
        for name, p in self.params.items():
            g = np.asarray(grads[name])
            if g.shape != p.data.shape:
                raise ValueError(f"gradient for {name} has shape {g.shape}, "
                                 f"parameter has {p.data.shape}")
            p.data = p.data - self.update(g, {slot: s[name] for slot, s in self.state.items()})

    def update(self, g: np.ndarray, state: dict[str, np.ndarray]) -> np.ndarray:
        """The step to subtract from a parameter with gradient ``g``; may update
        the arrays in ``state`` (this parameter's slots) in place."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """``{"steps": ..., "<slot>/<name>": array}``: everything needed to continue."""
        flat = {"steps": np.array(self.steps)}
        flat.update({f"{slot}/{name}": a for slot, s in self.state.items() for name, a in s.items()})
        return flat

    def load_state_dict(self, flat: dict[str, np.ndarray]) -> None:
        """Restore from :meth:`state_dict`; ValueError on missing keys or wrong shapes."""
        expected = {f"{slot}/{name}": a.shape for slot, s in self.state.items() for name, a in s.items()}
        missing = (expected.keys() | {"steps"}) - flat.keys()
        if missing:
            raise ValueError(f"{type(self).__name__} state lacks {sorted(missing)}")
        for key, shape in expected.items():
            if np.shape(flat[key]) != shape:
                raise ValueError(f"{type(self).__name__} state {key} has shape "
                                 f"{np.shape(flat[key])}, expected {shape}")
            slot, name = key.split("/", 1)
            self.state[slot][name] = np.array(flat[key], dtype=np.float64)
        self.steps = int(flat["steps"])


class SGD(Optimizer):
    """Plain gradient descent, with heavy-ball momentum if ``momentum > 0``."""

    slots = ("velocity",)

    def __init__(self, params, lr: float = 0.1, momentum: float = 0.0):
        super().__init__(params, lr)
        self.momentum = momentum

    def update(self, g, state):
        v = state["velocity"]
        v *= self.momentum
        v += g
        return self.lr * v


class Adagrad(Optimizer):
    """Per-coordinate steps shrinking with the sum of squared gradients (min-char-rnn)."""

    slots = ("sum_sq",)

    def __init__(self, params, lr: float = 0.1, eps: float = 1e-8):
        super().__init__(params, lr)
        self.eps = eps

    def update(self, g, state):
        G = state["sum_sq"]
        G += g * g
        return self.lr * g / np.sqrt(G + self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias-corrected moment estimates."""

    slots = ("m", "v")

    def __init__(self, params, lr: float = 0.01, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr)
        self.betas, self.eps = betas, eps

    def update(self, g, state):
        (b1, b2), m, v = self.betas, state["m"], state["v"]
        m += (1 - b1) * (g - m)
        v += (1 - b2) * (g * g - v)
        m_hat, v_hat = m / (1 - b1 ** self.steps), v / (1 - b2 ** self.steps)
        return self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "adam": Adam}


def make_optimizer(name: str, params: dict[str, Tensor], lr: float) -> Optimizer:
    """An optimiser by name (``"sgd"``, ``"adagrad"``, ``"adam"``)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimiser {name!r}; choose one of {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name](params, lr=lr)


def global_norm(grads: dict[str, np.ndarray]) -> float:
    """‖g‖ over all gradients taken together, as one long vector."""
    return float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))


def clip_grad_norm(grads: dict[str, np.ndarray],
                   max_norm: float) -> tuple[dict[str, np.ndarray], float]:
    """Rescale all gradients together so their global norm is at most
    ``max_norm`` (Pascanu, Mikolov & Bengio 2013). Returns the clipped copies
    and the norm before clipping; the inputs are not modified.

    >>> import numpy as np
    >>> clipped, norm = clip_grad_norm({"a": np.array([3.0]), "b": np.array([4.0])}, 1.0)
    >>> norm, clipped["a"], clipped["b"]
    (5.0, array([0.6]), array([0.8]))
    """
    norm = global_norm(grads)
    scale = max_norm / norm if norm > max_norm else 1.0
    return {name: g * scale for name, g in grads.items()}, norm


def clip_grad_value(grads: dict[str, np.ndarray], max_value: float) -> dict[str, np.ndarray]:
    """Clip every gradient coordinate to ``[-max_value, max_value]`` (min-char-rnn
    uses 5). Returns copies.

    >>> import numpy as np
    >>> clip_grad_value({"a": np.array([-7.0, 0.5, 9.0])}, 5.0)["a"]
    array([-5. ,  0.5,  5. ])
    """
    return {name: np.clip(g, -max_value, max_value) for name, g in grads.items()}
