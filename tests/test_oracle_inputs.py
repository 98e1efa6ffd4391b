"""What the BPTT oracle accepts and how its loss stays finite: float32 and integer arrays are
real numbers too, errors begin with the name of what is wrong, and logits whose size differs
from step to step do not underflow (cases the mutation run found untested: docs/mutation.md).
The oracle is compared with itself on float64 inputs and with an independent per-step loss."""
import numpy as np
import pytest

from rnn.oracles.vanilla import bptt, forward
from minigrad.testing import assert_roundoff_equal
from minigrad.testing.rnn import PARAMETER_NAMES, make_problem


@pytest.mark.parametrize("tokens", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_parameters_of_any_real_dtype_give_the_float64_result(dtype, tokens):
    p = make_problem(H=3, D=4, K=3, tau=4, tokens=tokens, scale=2.0, seed=1)
    as_dtype = {name: np.round(a).astype(dtype) if dtype is np.int64 else a.astype(dtype)
                for name, a in p.params.items()}
    exact = bptt(**{n: a.astype(np.float64) for n, a in as_dtype.items()}, x=p.x, y=p.y)
    given = bptt(**as_dtype, x=p.x, y=p.y)
    assert given.loss == exact.loss
    for name in PARAMETER_NAMES:
        assert given.grads[name].dtype == np.float64
        np.testing.assert_array_equal(given.grads[name], exact.grads[name])


def test_float32_dense_inputs_are_accepted():
    p = make_problem(H=2, D=3, K=2, tau=3, batch=2, tokens=False, seed=2)
    x32 = p.x.astype(np.float32)
    given = bptt(**p.params, x=x32, y=p.y)
    exact = bptt(**p.params, x=x32.astype(np.float64), y=p.y)
    assert given.loss == exact.loss
    assert_roundoff_equal(given.grads["U"], exact.grads["U"], "U")


def valid(**changes):
    return {**dict(U=np.ones((3, 4)), W=np.eye(3), V=np.ones((2, 3)), b=np.zeros(3),
                   c=np.zeros(2), x=np.array([0, 3, 1]), y=np.array([1, 0, 1])), **changes}


@pytest.mark.parametrize("changes, message", [
    (dict(V=np.ones(3)), r"^parameter V must be a matrix K×H"),
    (dict(c=np.zeros(3)),
     r"^parameter c must have shape \(2,\) \(\(K,\); H = 3, D = 4, K = 2\), got \(3,\)$"),
    (dict(x=np.zeros((0, 2, 4)), y=np.zeros((0, 2), dtype=int)),
     r"^inputs x must have at least one time step, got shape \(0, 2, 4\)$"),
])
def test_errors_begin_with_what_is_wrong(changes, message):
    with pytest.raises(ValueError, match=message):
        bptt(**valid(**changes))


def test_loss_stays_finite_when_logits_differ_in_size_between_steps():
    # h(1) ≈ +1 and h(2) ≈ -1, so o(1) ≈ (1000, 0) and o(2) ≈ (-1000, 0): one shift for
    # all steps (the largest logit anywhere) would underflow every exp of step 2.
    U, W = np.array([[30.0, -30.0]]), np.zeros((1, 1))
    V, b, c = np.array([[1000.0], [0.0]]), np.zeros(1), np.zeros(2)
    x, y = np.array([0, 1]), np.array([0, 1])
    o = forward(U, W, V, b, c, x).o
    expected = sum(np.logaddexp.reduce(o_t) - o_t[y_t] for o_t, y_t in zip(o, y))
    result = bptt(U, W, V, b, c, x, y)
    assert np.isfinite(result.loss)
    assert result.loss == pytest.approx(expected, rel=1e-12, abs=1e-12)
