"""Gradient checks in forward mode and to higher order: what
``gradcheck(fn, *inputs, order=n, modes=("fwd", "rev"))`` runs (after JAX's
``check_grads``).

* ``"rev"`` is gradcheck's own check: the Jacobian from ``backward`` against
  central differences.
* ``"fwd"`` is the same comparison with the Jacobian built column by column from
  :func:`minigrad.jvp` (one JVP per input element): :func:`forward_jacobian`
  wraps ``fn`` in an op whose VJP only contracts with those columns, so every
  number gradcheck compares comes from forward mode.
* ``order=n`` checks ``fn`` at order 1, then, recursively at order n − 1, the
  functions its autodiff derivatives define: in reverse mode
  xs ↦ ∇_xs ⟨u, fn(xs)⟩ (:func:`reverse_derivative`, a ``create_graph``
  gradient for a fixed random u), in forward mode xs ↦ J(xs) v
  (:func:`forward_derivative`, a JVP along a fixed random v). Second derivatives
  are thereby compared with central differences of autodiff first derivatives,
  and a rule whose VJP is right but not differentiable (it reads ``out.data``
  or a numpy constant where the graph's Tensor belongs) fails at order 2.
* ``seed`` draws u (then v) from ``numpy.random.default_rng(seed)``, and the
  derivatives are checked with ``seed + 1``: a failing derivative can be rerun
  alone, as ``gradcheck(reverse_derivative(fn, u), *inputs, seed=seed + 1)``.

>>> import minigrad as mg
>>> from minigrad.testing import gradcheck
>>> x = mg.tensor([0.3, -1.2], requires_grad=True)
>>> gradcheck(lambda x: mg.tanh(x) * x, x, order=3, modes=("fwd", "rev"))
True
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from minigrad.functional import jvp
from minigrad.testing import GradcheckError
from minigrad.tensor import Tensor, apply, enable_grad, grad, is_grad_enabled, no_grad

__all__ = ["MODES", "check_orders", "forward_jacobian", "reverse_derivative",
           "forward_derivative"]

MODES = ("fwd", "rev")
_MODE_NAMES = {"fwd": "forward mode (mg.jvp)", "rev": "reverse mode (backward)"}


def check_orders(first_order: Callable, fn: Callable, inputs: Sequence, *, order: int,
                 modes: Sequence[str], seed: int = 0, **options) -> bool:
    """Run ``first_order(fn, *inputs, seed=..., **options)`` (gradcheck at order 1, reverse
    mode) on ``fn`` in every mode of ``modes``, and on its derivatives up to ``order``.
    A failure is re-raised naming the derivative and the mode that disagreed.

    >>> import minigrad as mg
    >>> from minigrad.testing import gradcheck
    >>> from minigrad.testing.higher import check_orders
    >>> check_orders(gradcheck, lambda x: x ** 3, [mg.tensor(2.0, requires_grad=True)],
    ...              order=2, modes=("rev",))
    True
    """
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ValueError(f"gradcheck: order must be an integer ≥ 1, got {order!r}")
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    if not modes or any(m not in MODES for m in modes) or len(set(modes)) != len(modes):
        raise ValueError(f"gradcheck: modes must be a non-empty selection of {MODES}, "
                         f"got {modes!r}")
    _check(first_order, fn, list(inputs), int(order), modes, seed, options, "fn")
    return True


def _check(first_order, fn, inputs, order, modes, seed, options, what) -> None:
    for mode in modes:
        try:
            first_order(fn if mode == "rev" else forward_jacobian(fn), *inputs, seed=seed,
                        **options)
        except GradcheckError as error:
            detail = str(error).removeprefix("gradcheck: ")
            raise GradcheckError(f"gradcheck: the derivative of {what}, in "
                                 f"{_MODE_NAMES[mode]}: {detail}") from None
    if order == 1:
        return
    rng = np.random.default_rng(seed)
    with no_grad():
        shape = np.shape(fn(*inputs).data)
    if "rev" in modes:
        u = rng.standard_normal(shape)
        _check(first_order, reverse_derivative(fn, u), inputs, order - 1, modes, seed + 1,
               options, f"∇⟨u, {what}⟩ (u fixed, random)")
    if "fwd" in modes:
        vs = [rng.standard_normal(inputs[i].shape) for i in _checked(inputs)]
        _check(first_order, forward_derivative(fn, vs), inputs, order - 1, modes, seed + 1,
               options, f"∂({what})·v (v fixed, random)")


def _checked(args) -> list[int]:
    """Positions of the arguments being differentiated: Tensors that require grad."""
    return [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]


def _of_checked(fn: Callable, args) -> Callable:
    """``fn`` as a function of the checked arguments only, the others held at ``args``."""
    positions = _checked(args)

    def f(*xs):
        full = list(args)
        for i, x in zip(positions, xs):
            full[i] = x
        return fn(*full)
    return f


def _joined(gs: Sequence[Tensor], xs: Sequence[Tensor]) -> Tensor:
    """One Tensor from one derivative per checked input (flattened and concatenated
    when there are several), kept a recorded function of ``xs`` even where it is
    constant, so that its Jacobian reads as zero instead of as an error."""
    from minigrad.ops import concat
    out = gs[0] if len(gs) == 1 else concat([g.reshape(-1) for g in gs])
    if not out.requires_grad:  # e.g. the second derivative of x + y: 0 · Σx adds nothing
        out = out + 0.0 * sum(x.sum() for x in xs)
    return out


def reverse_derivative(fn: Callable, u: np.ndarray) -> Callable:
    """``args ↦ ∇⟨u, fn(args)⟩`` over the checked arguments, by a backward pass with
    ``create_graph=True`` (so it can be differentiated again).

    >>> import minigrad as mg
    >>> from minigrad.testing.higher import reverse_derivative
    >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> reverse_derivative(lambda x: x ** 3, [1.0, 1.0])(x).data     # 3x²
    array([ 3., 12.])
    """
    def derivative(*args):
        xs = [args[i] for i in _checked(args)]
        with enable_grad():
            out = fn(*args)
            gs = grad(out, xs, u, create_graph=True, allow_unused=True) if (
                out.requires_grad) else [Tensor(np.zeros(x.shape)) for x in xs]
            return _joined(gs, xs)
    return derivative


def forward_derivative(fn: Callable, vs: Sequence[np.ndarray]) -> Callable:
    """``args ↦ J(args) v``, the JVP of ``fn`` along ``vs`` (one array per checked
    argument), recorded so that it can be differentiated again.

    >>> import minigrad as mg
    >>> from minigrad.testing.higher import forward_derivative
    >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> forward_derivative(lambda x: x ** 3, [[1.0, 0.0]])(x).data   # 3x² ⊙ v
    array([3., 0.])
    """
    vs = tuple(vs)

    def derivative(*args):
        xs = [args[i] for i in _checked(args)]
        with enable_grad():
            return _joined([jvp(_of_checked(fn, args), tuple(xs), vs)[1]], xs)
    return derivative


def forward_jacobian(fn: Callable) -> Callable:
    """``fn`` with the same value, recorded as one op over the checked arguments whose
    Jacobian is assembled from :func:`minigrad.jvp` along each input element: a
    reverse-mode check of it is a check of forward mode. (Under ``no_grad``, where
    gradcheck takes its central differences, it is ``fn`` itself.)

    >>> import minigrad as mg
    >>> from minigrad.testing.higher import forward_jacobian
    >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> y = forward_jacobian(lambda x: x * x)(x)
    >>> y.op, mg.grad(y.sum(), x).data
    ('forward_mode_jacobian', array([2., 4.]))
    """
    def fn_fwd(*args):
        if not is_grad_enabled():
            return fn(*args)
        positions = _checked(args)
        f, xs = _of_checked(fn, args), [args[i].data for i in positions]
        value, columns = fn(*args).data, []
        for k, x in enumerate(xs):
            tangents = [np.zeros_like(y) for y in xs]
            column = []
            for e in np.eye(x.size):
                tangents[k] = e.reshape(x.shape)
                column.append(np.asarray(jvp(f, tuple(xs), tuple(tangents))[1].data))
            columns.append(np.stack(column, -1) if column else np.zeros(value.shape + (0,)))

        def forward(*arrays):
            return value, lambda g, out, *operands: tuple(
                np.tensordot(g, J, g.ndim).reshape(x.shape) for J, x in zip(columns, xs))
        return apply("forward_mode_jacobian", forward, [args[i] for i in positions], {})
    return fn_fwd
