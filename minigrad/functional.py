"""Derivatives of functions: gradient, value_and_gradient, vjp, jvp, hvp, jacobian, hessian.

Each takes a function ``f`` of arrays or Tensors and returns Tensors. Inputs that
are Tensors requiring grad are used as they are, so the results stay recorded
functions of them and these compose to any order (``gradient(gradient(f))``);
anything else becomes a fresh float64 leaf. Everything is built on
:func:`minigrad.grad`, the engine's reverse mode:

* :func:`vjp` — one reverse pass: uᵀJ, at the cost of about one forward pass.
* :func:`jvp` — forward mode by the transpose trick: J v is the gradient, with
  respect to a dummy cotangent u, of ⟨Jᵀu, v⟩, where Jᵀu comes from a backward
  pass recorded with ``create_graph=True``. No JVP rules are needed (the VJPs
  are linear in u and the engine can differentiate them); the price is a
  recorded backward pass and a second backward pass through it: 4–7.5 times a
  VJP on the RNN at make bench's sizes (``benchmarks/higher_order.py``), most
  where arrays are small and the recorded ops' Python overhead dominates.
* :func:`hvp` — H v without H: reverse-over-reverse (default) or
  forward-over-reverse (the JVP of the gradient); both give the same vector.
* :func:`jacobian`, :func:`hessian` — whole matrices, one reverse pass per output
  element: for small inputs.

>>> import numpy as np
>>> import minigrad as mg
>>> f = lambda x: (x ** 3).sum()
>>> mg.gradient(f)(np.array([1.0, 2.0])).data          # 3x²
array([ 3., 12.])
>>> mg.hvp(f, np.array([1.0, 2.0]), np.array([1.0, 0.0])).data   # 6x ⊙ v
array([6., 0.])
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from minigrad.ops import concat, stack
from minigrad.tensor import Tensor, enable_grad, grad

__all__ = ["gradient", "value_and_gradient", "vjp", "jvp", "hvp", "jacobian", "hessian"]


def _input(x) -> tuple[Tensor, bool]:
    """``x`` as a Tensor to differentiate with respect to, and whether it already was one
    (then the caller is differentiating through us and the results must be recorded)."""
    if isinstance(x, Tensor) and x.requires_grad:
        return x, True
    data = x.data if isinstance(x, Tensor) else x
    return Tensor(data, requires_grad=True, name=getattr(x, "name", None)), False


def _inputs(inputs) -> tuple[list[Tensor], bool, bool]:
    """The inputs as Tensors, whether one was given alone, and whether any is recorded."""
    single = not isinstance(inputs, tuple)  # a tuple holds several inputs; anything else is one
    pairs = [_input(x) for x in ((inputs,) if single else inputs)]
    return [x for x, _ in pairs], single, any(nested for _, nested in pairs)


def _call(f: Callable, xs: Sequence[Tensor]) -> Tensor:
    with enable_grad():
        out = f(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"the function returned {type(out).__name__}, not a Tensor")
    return out


def _one(results, single: bool):
    return results[0] if single else tuple(results)


def _inner(gs: Sequence[Tensor], vs: Sequence) -> Tensor:
    """Σ_i ⟨g_i, v_i⟩, recorded."""
    total = Tensor(0.0)
    for g, v in zip(gs, vs):
        total = total + (g * v).sum()
    return total


def value_and_gradient(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """``f`` → a function returning ``(f(*args), ∂f/∂args[argnums])``; ``f`` must return
    one element. ``argnums`` a sequence gives a tuple of gradients.

    >>> import minigrad as mg
    >>> value, g = mg.value_and_gradient(lambda x, y: (x * y).sum(), argnums=1)(2.0, 5.0)
    >>> float(value), float(g)
    (10.0, 2.0)
    """
    def value_and_df(*args):
        numbers = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        xs, _, nested = _inputs(tuple(args[i] for i in numbers))
        full = list(args)
        for i, x in zip(numbers, xs):
            full[i] = x
        out = _call(f, full)
        if out.size != 1:
            raise ValueError(f"gradient needs a function with one output element, got shape "
                             f"{out.shape}; use jacobian or vjp")
        gs = grad(out, xs, create_graph=nested, allow_unused=True)
        return out, _one(gs, isinstance(argnums, int))
    return value_and_df


def gradient(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """``f`` → its gradient function (JAX's ``grad``; named so as not to collide with
    :func:`minigrad.grad`, which differentiates tensors already computed).

    >>> import minigrad as mg
    >>> d2 = mg.gradient(mg.gradient(lambda x: mg.tanh(x)))   # tanh'' = −2 tanh (1 − tanh²)
    >>> round(float(d2(0.5)), 6)
    -0.726862
    """
    value_and_df = value_and_gradient(f, argnums)
    return lambda *args: value_and_df(*args)[1]


def vjp(f: Callable, *inputs) -> tuple[Tensor, Callable]:
    """``(f(*inputs), vjp_fn)`` where ``vjp_fn(u)`` gives uᵀ ∂f/∂input for each input
    (a tuple); ``u`` has the output's shape. ``vjp_fn`` may be called many times.

    >>> import minigrad as mg
    >>> out, vjp_fn = mg.vjp(lambda x: x * x, [1.0, 3.0])
    >>> vjp_fn([1.0, 1.0])[0].data
    array([2., 6.])
    """
    xs, _, nested = _inputs(tuple(inputs))
    out = _call(f, xs)
    return out, lambda u: grad(out, xs, u, create_graph=nested, allow_unused=True)


def jvp(f: Callable, inputs, tangents) -> tuple[Tensor, Tensor]:
    """``(f(inputs), J v)``: the directional derivative of ``f`` along ``tangents`` (one
    per input, of its shape), by the transpose trick described in the module docstring.
    ``inputs`` is one input or a tuple of several (as in JAX, a list or an array is one
    input), ``tangents`` alike.

    >>> import minigrad as mg
    >>> out, tangent = mg.jvp(lambda x: x * x, [1.0, 3.0], [1.0, 0.0])
    >>> tangent.data
    array([2., 0.])
    """
    xs, single, nested = _inputs(inputs)
    vs = [tangents] if single else list(tangents)
    if len(vs) != len(xs):
        raise ValueError(f"jvp: {len(xs)} inputs but {len(vs)} tangents")
    for v, x in zip(vs, xs):
        if np.shape(v.data if isinstance(v, Tensor) else v) != x.shape:
            raise ValueError(f"jvp: a tangent of shape {np.shape(v)} for an input of shape "
                             f"{x.shape}")
    out = _call(f, xs)
    if not out.requires_grad:  # f is a constant (e.g. the gradient of a linear function)
        return out, Tensor(np.zeros_like(out.data))
    u = Tensor(np.zeros_like(out.data), requires_grad=True, name="u")  # a dummy cotangent
    jt_u = grad(out, xs, u, create_graph=True, allow_unused=True)        # Jᵀu, linear in u
    inner = _inner(jt_u, vs)
    if not inner.requires_grad:  # f does not depend on its inputs
        return out, Tensor(np.zeros_like(out.data))
    return out, grad(inner, u, create_graph=nested, allow_unused=True)


def hvp(f: Callable, inputs, vector, mode: str = "rev-rev"):
    """The Hessian of the scalar ``f`` at ``inputs`` times ``vector`` (one array per
    input), without forming the Hessian. ``mode`` ``"rev-rev"`` differentiates ⟨∇f, v⟩
    by a second reverse pass; ``"fwd-rev"`` is the JVP of ∇f along v. Both cost a few
    backward passes and agree to round-off.

    >>> import minigrad as mg
    >>> mg.hvp(lambda x: (x ** 3).sum(), [1.0, 2.0], [1.0, 1.0], mode="fwd-rev").data
    array([ 6., 12.])
    """
    xs, single, nested = _inputs(inputs)
    vs = [vector] if single else list(vector)
    if len(vs) != len(xs):
        raise ValueError(f"hvp: {len(xs)} inputs but {len(vs)} vectors")
    if mode == "fwd-rev":
        df = gradient(f, argnums=tuple(range(len(xs))))
        at = tuple(xs) if nested else tuple(x.data for x in xs)  # arrays: jvp records nothing
        _, flat = jvp(lambda *ys: concat([g.reshape(-1) for g in df(*ys)]), at, tuple(vs))
        ends = np.cumsum([0] + [x.size for x in xs])
        return _one([flat[int(a):int(b)].reshape(x.shape)
                     for a, b, x in zip(ends[:-1], ends[1:], xs)], single)
    if mode != "rev-rev":
        raise ValueError(f"hvp: mode must be 'rev-rev' or 'fwd-rev', got {mode!r}")
    out = _call(f, xs)
    gs = grad(out, xs, create_graph=True, allow_unused=True)
    inner = _inner(gs, vs)
    if not inner.requires_grad:
        return _one([Tensor(np.zeros_like(x.data)) for x in xs], single)
    return _one(grad(inner, xs, create_graph=nested, allow_unused=True), single)


def jacobian(f: Callable, x) -> Tensor:
    """∂f/∂x as one Tensor of shape ``f(x).shape + x.shape``: one reverse pass per output
    element, so for small outputs.

    >>> import minigrad as mg
    >>> mg.jacobian(lambda x: x * x, [1.0, 3.0]).data
    array([[2., 0.],
           [0., 6.]])
    """
    (x,), _, nested = _inputs(x)
    out = _call(f, [x])
    rows = [grad(out, x, e, create_graph=nested, allow_unused=True)
            for e in np.eye(out.size).reshape((out.size,) + out.shape)] if out.requires_grad else []
    return stack(rows).reshape(out.shape + x.shape) if rows else Tensor(
        np.zeros(out.shape + x.shape))


def hessian(f: Callable, x) -> Tensor:
    """∂²f/∂x² of a scalar ``f``, of shape ``x.shape + x.shape`` (the Jacobian of the
    gradient; symmetric up to round-off).

    >>> import minigrad as mg
    >>> mg.hessian(lambda x: x[0] * x[1] ** 2, [1.0, 2.0]).data
    array([[0., 4.],
           [4., 2.]])
    """
    return jacobian(gradient(f), x)
