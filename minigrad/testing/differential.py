"""Differential testing: minigrad's values and gradients against an independent engine.

Two oracles, both written from the definitions of the ops, sharing no code with
minigrad: ``"autograd"`` (HIPS autograd, differentiating
:func:`minigrad.testing.graphs.array_rules` over ``autograd.numpy``) and
``"torch"`` (PyTorch's own ops, float64 on the CPU). Each is imported only when
asked for (``pip install autograd`` / ``pip install torch``).

Conventions that differ on purpose, and how the oracles are held to minigrad's:

- ``max`` and ``min`` with ties: minigrad shares the gradient equally among the
  tied extremes (a subgradient). autograd's ``np.max`` and ``torch.amax`` do the
  same; ``torch.max(x, dim)`` would give it all to one index, so the torch oracle
  uses ``amax``/``amin``. Programs draw ties on purpose (leaves of -1, 0, 1 only).
- ``clip`` at a bound: minigrad passes the gradient where low ≤ x ≤ high (as
  ``torch.clamp``); autograd's ``np.clip`` blocks it at the bounds, so the rules
  select by 0/1 weights. Programs draw bounds that tie with leaves.
- ``relu`` at 0: minigrad's derivative is 0, as torch's. autograd's
  ``np.maximum(x, 0)`` gives 0.5 at a tie, so the rules write
  ``where(x > 0, x, 0)``.
- ``x ** y`` (both differentiable), ∂/∂y at x ≤ 0: minigrad takes 0 where
  ``log x`` is undefined; autograd and torch give NaN (or ±inf). Programs make
  ``x ** y`` only for bases ≥ 0.1; tests/test_ops.py checks minigrad's
  convention by itself.
- ``x ** 0``: the constant 1, derivative 0 even at x = 0. autograd's rule
  computes 0 · 0⁻¹ = NaN there, so the rules write ``x ** 0`` as 1.
- ``cross_entropy(reduction="mean")`` over zero targets: minigrad gives 0 (the
  empty sum, not divided); torch gives NaN (0/0). The oracles use minigrad's.
- ``transpose`` with negative axes: autograd's VJP inverts the permutation
  without normalising it (the bug minigrad had), so the rules normalise first.
- Oracle-only gaps: torch has no negative-step slices, so its ``getitem`` gathers
  through the flat positions numpy picks; ``torch.sum(x, dim=())`` reduces every
  axis where numpy reduces none, so an empty axis tuple returns ``x``; autograd's
  ``where`` and its second derivative of ``x[()]`` fail at 0-d, so the rules select
  with 0/1 weights and gather with a 0/1 matrix.

Values and gradients are compared with
:func:`minigrad.testing.assert_roundoff_equal` at ``tol`` (default 1e-10) of each
array's scale: both sides are exact, so they differ by round-off only.

>>> import autograd.numpy as anp
>>> import minigrad as mg
>>> from minigrad.testing.differential import differential_check
>>> differential_check(lambda x: mg.tanh(x) * x, lambda x: anp.tanh(x) * x, [0.5, -2.0])
True
"""
from __future__ import annotations

import operator
from typing import Callable

import numpy as np

import minigrad as mg
from minigrad.testing import assert_roundoff_equal
from minigrad.testing.graphs import (Program, array_rules, call_minigrad, evaluate, run_minigrad,
                                     scatter_matrix)

__all__ = ["ORACLES", "torch_rules", "oracle_gradients", "minigrad_hvp", "check_program",
           "differential_check"]


def torch_rules() -> dict:
    """Each op of :data:`minigrad.testing.graphs.OPS` in PyTorch (float64 tensors in,
    tensors out), with the conventions of this module's docstring.

    >>> import torch
    >>> from minigrad.testing.differential import torch_rules
    >>> torch_rules()["max"](torch.tensor([[1.0, 3.0]]), axis=-1, keepdims=True)
    tensor([[3.]])
    """
    import torch

    def reduction(f):
        def reduce(x, *, axis=None, keepdims=False):
            dims = tuple(range(x.ndim)) if axis is None else (
                axis if isinstance(axis, tuple) else (axis,))
            return f(x, dim=dims, keepdim=keepdims) if dims else x
        return reduce

    def getitem(x, *, index):
        flat = np.arange(x.numel()).reshape(tuple(x.shape))[index]
        return x.reshape(-1)[torch.as_tensor(np.ravel(flat), dtype=torch.int64)].reshape(
            np.shape(flat))

    def cross_entropy(x, *, targets, reduction="sum", axis=-1):
        t = torch.as_tensor(np.asarray(targets, dtype=np.int64)).unsqueeze(axis % x.ndim)
        losses = -torch.gather(torch.log_softmax(x, dim=axis), axis % x.ndim, t).squeeze(
            axis % x.ndim)
        if reduction == "none":
            return losses
        return losses.sum() / (losses.numel() if reduction == "mean" and losses.numel() else 1)

    return {
        "neg": operator.neg, "add": operator.add, "sub": operator.sub, "mul": operator.mul,
        "div": operator.truediv, "power": lambda x, *, exponent: x ** float(exponent),
        "pow": torch.pow, "exp": torch.exp, "log": torch.log, "tanh": torch.tanh,
        "sigmoid": torch.sigmoid, "relu": torch.relu, "abs": torch.abs, "sqrt": torch.sqrt,
        "square": torch.square, "matmul": torch.matmul,
        "clip": lambda x, *, low=None, high=None: x if low is None and high is None else
        torch.clamp(x, min=low, max=high),
        "sum": reduction(torch.sum), "mean": reduction(torch.mean), "max": reduction(torch.amax),
        "min": reduction(torch.amin),
        "softmax": lambda x, *, axis=-1: torch.softmax(x, dim=axis),
        "log_softmax": lambda x, *, axis=-1: torch.log_softmax(x, dim=axis),
        "cross_entropy": cross_entropy,
        "reshape": lambda x, *, shape: torch.reshape(x, shape),
        "transpose": lambda x, *, axes=None: torch.permute(
            x, tuple(reversed(range(x.ndim))) if axes is None else axes),
        "broadcast_to": lambda x, *, shape: torch.broadcast_to(x, shape), "getitem": getitem,
        "scatter_add": lambda g, *, shape, index: torch.reshape(torch.as_tensor(
            scatter_matrix(shape, index)) @ torch.reshape(g, (-1,)), shape),
        "concat": lambda *xs, axis=0: torch.cat(xs, dim=axis),
        "stack": lambda *xs, axis=0: torch.stack(xs, dim=axis),
        "where": lambda x, y, *, condition: torch.where(torch.as_tensor(condition), x, y),
    }


def _autograd(forward: Callable, leaves: list, pairs: list, directions=None):
    import autograd
    import autograd.numpy as anp
    total = lambda xs: sum(anp.sum(forward(xs)[k] * w) for k, w in pairs)  # noqa: E731
    if directions is None:
        return forward(leaves), autograd.grad(total)(leaves)
    along = lambda xs: sum(anp.sum(g * u) for g, u in zip(autograd.grad(total)(xs), directions))
    return forward(leaves), autograd.grad(along)(leaves)  # noqa: E731


def _torch(forward: Callable, leaves: list, pairs: list, directions=None):
    import torch
    xs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in leaves]
    nodes = forward(xs)
    total = sum((nodes[k] * torch.tensor(w)).sum() for k, w in pairs)
    grads = torch.autograd.grad(total, xs, allow_unused=True, create_graph=directions is not None)
    if directions is not None:
        along = sum((g * torch.tensor(u)).sum() for g, u in zip(grads, directions)
                    if g is not None and g.requires_grad)
        grads = (torch.autograd.grad(along, xs, allow_unused=True) if torch.is_tensor(along)
                 else [None] * len(xs))
    return ([n.detach().numpy() for n in nodes],
            [np.zeros_like(x) if g is None else g.detach().numpy(force=True)
             for x, g in zip(leaves, grads)])


def _program_forward(program: Program, oracle: str) -> Callable:
    if oracle == "autograd":
        import autograd.numpy as anp
        rules = array_rules(anp)
        return lambda xs: evaluate(program, rules, xs)
    import torch
    rules = torch_rules()
    return lambda xs: evaluate(program, rules, xs, lambda c: torch.tensor(c) if isinstance(
        c, np.ndarray) else c)


ORACLES = {"autograd": _autograd, "torch": _torch}
"""Name -> engine: ``engine(forward, leaf arrays, pairs, directions=None)`` runs
``forward`` (the oracle's leaves -> list of nodes) and returns the nodes' values and
each leaf's gradient of ``L = Σ <w, nodes[k]>`` over the ``(k, w)`` pairs; given
``directions`` (one array per leaf) it returns the Hessian-vector product
``∇(Σ <∇L, u>)`` instead of ``∇L``."""


def oracle_gradients(program: Program, oracle: str = "autograd", directions=None):
    """Every node's value and each leaf's gradient of the program's loss
    ``Σ_k <weights[k], node[outputs[k]]>``, computed by ``oracle`` (or, given
    ``directions``, the Hessian-vector products; see :data:`ORACLES`).

    >>> import numpy as np
    >>> from minigrad.testing.graphs import Program, Step
    >>> from minigrad.testing.differential import oracle_gradients
    >>> p = Program([Step("leaf", params={"value": np.array([1.0, 2.0])}),
    ...              Step("mul", (0, 0), "operator")], [], outputs=(1,), weights=(np.ones(2),))
    >>> oracle_gradients(p, "torch")[1][0]
    array([2., 4.])
    """
    leaves = [program.steps[k].params["value"] for k in program.leaves]
    return ORACLES[oracle](_program_forward(program, oracle), leaves,
                           list(zip(program.outputs, program.weights)), directions)


def minigrad_hvp(program: Program, directions: list) -> list:
    """Each leaf's Hessian-vector product ``∇(Σ_k <∇_k L, u_k>)`` of the program's loss
    L, by minigrad differentiating its own backward pass (``grad(create_graph=True)``
    twice).

    >>> import numpy as np
    >>> from minigrad.testing.graphs import Program, Step
    >>> from minigrad.testing.differential import minigrad_hvp
    >>> p = Program([Step("leaf", params={"value": np.array([1.0, 2.0])}),
    ...              Step("power", (0,), "operator", {"exponent": 3})], [], outputs=(1,),
    ...             weights=(np.ones(2),))
    >>> minigrad_hvp(p, [np.array([1.0, 0.0])])[0]  # d²(Σx³) = diag(6x)
    array([6., 0.])
    """
    leaves = [mg.tensor(program.steps[k].params["value"], requires_grad=True)
              for k in program.leaves]
    given, nodes = iter(leaves), []
    for step in program.steps:
        nodes.append(next(given) if step.op == "leaf" else call_minigrad(step, nodes))
    grads = mg.grad([nodes[k] for k in program.outputs], leaves, list(program.weights),
                    create_graph=True, allow_unused=True)
    along = [mg.sum(g * u) for g, u in zip(grads, directions) if g.requires_grad]
    if not along:
        return [np.zeros_like(u) for u in directions]
    total = sum(along[1:], along[0])
    return [np.asarray(h.data) for h in mg.grad(total, leaves, allow_unused=True)]


def check_program(program: Program, oracle: str = "autograd", tol: float = 1e-10,
                  order: int = 1) -> None:
    """minigrad's value of every node and gradient of every leaf (:func:`run_minigrad`)
    equal ``oracle``'s to ``tol`` of each array's scale; an AssertionError names the
    node or leaf and lists the program. With ``order=2`` the gradients compared are
    Hessian-vector products along seeded normal directions (:func:`minigrad_hvp`).

    >>> from hypothesis import given, settings
    >>> from minigrad.testing.graphs import programs
    >>> from minigrad.testing.differential import check_program
    >>> @settings(max_examples=5)
    ... @given(programs(ops=("add", "matmul", "max", "getitem")))
    ... def test_against_autograd(program):
    ...     check_program(program, "autograd")
    >>> test_against_autograd()
    """
    nodes, grads = run_minigrad(program)
    directions = None
    if order == 2:
        rng = np.random.default_rng(0)
        directions = [rng.standard_normal(program.values[k].shape) for k in program.leaves]
        grads = minigrad_hvp(program, directions)
    elif order != 1:
        raise ValueError(f"check_program: order must be 1 or 2, got {order!r}")
    values, expected = oracle_gradients(program, oracle, directions)
    where = f" ({oracle}, order {order}); program:\n{program.listing()}"
    for k, (node, value) in enumerate(zip(nodes, values)):
        assert_roundoff_equal(node.data, value, f"value of node {k}{where}", tol)
    for k, got, want in zip(program.leaves, grads, expected):
        assert_roundoff_equal(got, want, f"gradient of leaf {k}{where}", tol)


def differential_check(fn: Callable[..., mg.Tensor], reference: Callable, *inputs,
                       oracle: str = "autograd", weights=None, tol: float = 1e-10,
                       seed: int = 0) -> bool:
    """Check a minigrad function against an independent implementation: ``fn`` on
    leaf Tensors and ``reference`` on the oracle's arrays (``autograd.numpy`` for
    ``"autograd"``, float64 torch tensors for ``"torch"``) give the same value, and
    the same gradient of ``<weights, output>`` for every input, to ``tol`` of each
    array's scale. ``weights`` default to seeded standard normals. Point it at a new
    op: write the op once in minigrad and once in the oracle's language.

    Conventions that differ on purpose (write ``reference`` in minigrad's): ties in
    ``max`` share the gradient equally (``torch.amax`` does, ``torch.max(x, dim)``
    does not); relu'(0) = 0 (``np.maximum(x, 0)`` in autograd gives 0.5); ∂/∂y of
    ``x ** y`` is 0 where x ≤ 0 (the oracles give NaN); ``x ** 0`` has derivative 0
    at 0 (autograd: NaN); ``cross_entropy(reduction="mean")`` over zero targets is 0
    (torch: NaN). The module docstring says how the program oracles handle each.

    >>> import torch
    >>> import minigrad as mg
    >>> from minigrad.testing.differential import differential_check
    >>> differential_check(lambda x, y: mg.max(x * y, axis=0),
    ...                    lambda x, y: torch.amax(x * y, dim=0),
    ...                    [[1.0, 2.0], [3.0, -1.0]], [2.0, 5.0], oracle="torch")
    True
    """
    arrays = [np.array(x, dtype=np.float64) for x in inputs]
    leaves = [mg.tensor(a, requires_grad=True, name=f"input {i}") for i, a in enumerate(arrays)]
    out = fn(*leaves)
    w = np.random.default_rng(seed).standard_normal(out.shape) if weights is None else (
        np.asarray(weights, dtype=np.float64))
    out.backward(w)

    values, grads = ORACLES[oracle](lambda xs: [reference(*xs)], arrays, [(0, w)])
    assert_roundoff_equal(out.data, values[-1], f"value ({oracle})", tol)
    for i, (x, g) in enumerate(zip(leaves, grads)):
        got = np.zeros_like(x.data) if x.grad is None else x.grad
        assert_roundoff_equal(got, g, f"gradient of input {i} ({oracle})", tol)
    return True
