"""Checking gradients, for users too: autodiff against central differences
(:func:`gradcheck`), two exact computations against each other
(:func:`assert_roundoff_equal`), a minigrad function against an independent
implementation (:func:`minigrad.testing.differential.differential_check`).
Hypothesis strategies live in :mod:`minigrad.testing.strategies` (arrays, tensors),
:mod:`minigrad.testing.graphs` (random computation graphs) and
:mod:`minigrad.testing.rnn` (RNN problems)."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from minigrad.tensor import Tensor, backward, no_grad

__all__ = ["gradcheck", "GradcheckError", "assert_roundoff_equal"]


class GradcheckError(AssertionError):
    """Autodiff and central differences disagree (or cannot be compared: NaN or inf).

    >>> import minigrad as mg
    >>> from minigrad.testing import GradcheckError, gradcheck
    >>> x = mg.tensor([1e-7], requires_grad=True)
    >>> try:
    ...     gradcheck(lambda x: mg.log(x).sum(), x)  # x - eps < 0: log is NaN there
    ... except GradcheckError as error:
    ...     print("caught")
    caught
    """


def gradcheck(fn: Callable[..., Tensor], *inputs, eps: float = 1e-6, atol: float = 1e-6,
              rtol: float = 1e-5, max_full: int = 256, projections: int = 3,
              seed: int = 0, order: int = 1, modes: Sequence[str] = ("rev",)) -> bool:
    """Check ``fn``'s autodiff Jacobian against central differences.

    Every input that requires grad is checked (the others are held fixed).
    When an input and the output have at most ``max_full`` elements each, the
    whole Jacobian is compared element by element; otherwise ``projections``
    random directions compare ``<u, J v>`` (central difference along ``v``)
    with ``<J^T u, v>`` (one backward pass), u and v drawn from
    ``numpy.random.default_rng(seed)``: the same seed checks the same directions.
    The user's tensors are never touched: the check runs on float64 copies.
    Inputs and the function's value must be float64: float32 round-off swamps
    a 1e-6 step, so it is refused (TypeError). The default tolerances sit
    well above the error of central differences (about 1e-10·|f| + 1e-13·|f‴|)
    and catch a rule that is wrong by 0.1 %.

    A check that cannot tell is a failure, never a pass: a central difference
    or an analytic value that is NaN or inf (the function is not differentiable
    there, or a step of ``eps`` leaves its domain) raises
    :class:`GradcheckError`, and so does a function whose value is not finite
    at the inputs. ``eps`` must be finite, in (0, 1), and large enough to move
    every checked element; ``atol`` and ``rtol`` must be finite, in [0, 1)
    (``rtol`` >= 1 would accept a zero gradient); anything else is a ValueError.
    When an input or the output has no elements the Jacobian is empty, and the
    check is that backward gives that input a gradient of its shape.

    ``modes`` and ``order`` are JAX's ``check_grads``': ``"rev"`` is the check above,
    ``"fwd"`` the same with the Jacobian from :func:`minigrad.jvp`; ``order=2``
    also checks the autodiff first derivatives the same way (second derivatives
    against central differences of first derivatives), and so on
    (:mod:`minigrad.testing.higher`).

    Raises :class:`GradcheckError` naming the input, the element and both
    values; returns True otherwise.

    >>> import minigrad as mg
    >>> from minigrad.testing import gradcheck
    >>> x = mg.tensor([0.5, -1.0], requires_grad=True, name="x")
    >>> gradcheck(lambda x: mg.tanh(x * x).sum(), x)
    True
    >>> gradcheck(lambda x: mg.tanh(x * x).sum(), x, order=2, modes=("fwd", "rev"))
    True
    """
    if order != 1 or tuple(modes) != ("rev",):
        from minigrad.testing.higher import check_orders
        return check_orders(gradcheck, fn, inputs, order=order, modes=modes, seed=seed, eps=eps,
                            atol=atol, rtol=rtol, max_full=max_full, projections=projections)
    for what, value, positive in (("eps", eps, True), ("atol", atol, False),
                                  ("rtol", rtol, False)):
        if not (isinstance(value, (int, float, np.floating, np.integer))
                and np.isfinite(value) and (value > 0 if positive else value >= 0)
                and value < 1):
            raise ValueError(f"gradcheck: {what} must be a finite number in "
                             f"{'(0, 1)' if positive else '[0, 1)'}, got {value!r}")
    for what, value, low in (("max_full", max_full, 0), ("projections", projections, 1)):
        if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
                and value >= low):
            raise ValueError(f"gradcheck: {what} must be an integer ≥ {low}, got {value!r}")
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.data.dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} ({x.name!r}) is {x.data.dtype}; "
                            "central differences need float64")
    leaves = [Tensor(x.data, requires_grad=x.requires_grad, name=x.name)
              if isinstance(x, Tensor) else x for x in inputs]
    checked = [i for i, x in enumerate(leaves) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")

    def value() -> np.ndarray:
        with no_grad():
            return np.array(fn(*leaves).data)  # a copy: fn may hand out one buffer twice

    for i in checked:
        x = leaves[i].data
        if np.any(x + eps == x) or np.any(x - eps == x):
            raise ValueError(f"gradcheck: eps={eps!r} does not move input {i} "
                             f"({leaves[i].name!r}, largest magnitude "
                             f"{np.max(np.abs(x)):.3g}) in float64; use a larger eps")
    out = fn(*leaves)
    if out.data.dtype != np.float64:
        raise TypeError(f"gradcheck: the function's value is {out.data.dtype}; "
                        "central differences need float64")
    if not np.all(np.isfinite(out.data)):
        raise GradcheckError(f"gradcheck: the function's value is not finite at the inputs: "
                             f"{out.data!r}")
    rng = np.random.default_rng(seed)

    def analytic(u: np.ndarray) -> list[np.ndarray]:
        for i in checked:
            leaves[i].grad = None
        backward([out], [u])
        return [np.zeros_like(leaves[i].data) if leaves[i].grad is None else leaves[i].grad
                for i in checked]

    def numeric(i: int, v: np.ndarray) -> np.ndarray:
        original = leaves[i].data  # read-only once recorded: shifted copies are assigned
        leaves[i].data = original + eps * v
        plus = value()
        leaves[i].data = original - eps * v
        minus = value()
        leaves[i].data = original
        return (plus - minus) / (2 * eps)

    def compare(what: str, i: int, num, ana) -> None:
        finite = np.isfinite(num) & np.isfinite(ana)
        bad = ~(finite & (np.abs(num - ana) <= atol + rtol * np.abs(num)))
        if np.any(bad):
            k = tuple(int(n) for n in np.unravel_index(np.argmax(bad), np.shape(bad)))
            name = leaves[i].name or f"#{i}"
            why = "" if finite[k] else (" (not finite: the function is not differentiable "
                                        "there, or a step of eps leaves its domain)")
            raise GradcheckError(
                f"gradcheck: input {i} ({name}, shape {leaves[i].shape}), {what} {k}: "
                f"numerical {float(np.asarray(num)[k])!r} vs analytical "
                f"{float(np.asarray(ana)[k])!r}{why}")

    for j, i in enumerate(checked):
        x = leaves[i].data
        if x.size == 0 or out.data.size == 0:  # an empty Jacobian: backward must still fit
            grad = analytic(np.zeros(out.shape))[j]
            if grad.shape != x.shape or np.any(grad != 0):
                raise GradcheckError(f"gradcheck: input {i} ({leaves[i].name or f'#{i}'}, "
                                     f"shape {x.shape}): gradient {grad!r} of an empty Jacobian")
        elif x.size <= max_full and out.data.size <= max_full:
            jac_num = np.stack([numeric(i, e.reshape(x.shape)) for e in np.eye(x.size)], -1)
            rows = [analytic(e.reshape(out.shape))[j].ravel() for e in np.eye(out.data.size)]
            jac_ana = np.stack(rows).reshape(out.shape + (x.size,))
            compare("Jacobian element (output..., input flat index)", i, jac_num, jac_ana)
        else:
            for _ in range(projections):
                u, v = rng.standard_normal(out.shape), rng.standard_normal(x.shape)
                num = np.sum(u * numeric(i, v))
                ana = np.sum(analytic(u)[j] * v)
                compare("projection <u, J v>", i, np.array([num]), np.array([ana]))
    return True


def assert_roundoff_equal(actual, expected, what: str, tol: float = 1e-9) -> None:
    """Two exact computations of the same quantity, differing only in the order of
    floating-point operations: same shape, finite, and
    |actual − expected| ≤ tol·max(1, ‖expected‖_∞) everywhere.

    The bound is relative to the array's scale, not per element: an entry that is a
    sum of large terms cancelling to ~0 carries round-off of the terms' size, so its
    own relative error means nothing. Round-off is a few ulp times the number of
    accumulated terms and the depth of the computation, ≲ 1e-13 of the scale for the
    graphs in this project's tests; the default 1e-9 leaves room for growth through
    long products, and a wrong formula misses by O(1) of the scale.

    >>> import numpy as np
    >>> from minigrad.testing import assert_roundoff_equal
    >>> assert_roundoff_equal(0.1 + 0.2 + 0.3, 0.3 + 0.2 + 0.1, "sum")
    >>> assert_roundoff_equal(np.ones(2), np.array([1.0, 1.1]), "x")
    Traceback (most recent call last):
    AssertionError: x: off by 0.1 at scale 1.1
    """
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert np.all(np.isfinite(actual)), f"{what}: non-finite value {actual}"
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    error = float(np.max(np.abs(actual - expected), initial=0.0))
    assert error <= tol * scale, f"{what}: off by {error:.3g} at scale {scale:.3g}"
