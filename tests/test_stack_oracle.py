"""The stacked oracle (rnn.oracles.stack) on its own: with its defaults it is one forward
layer, which is the vanilla RNN, so it equals the vanilla oracle (rnn.oracles.vanilla) on
every output it returns; and its errors name what is wrong and where the sizes come from
(cases the mutation run found untested: docs/mutation.md)."""
import numpy as np
import pytest

from minigrad.testing import assert_roundoff_equal
from rnn.oracles import stack, vanilla

H, D, K = 3, 4, 2


def one_layer(seed=0):
    rng = np.random.default_rng(seed)
    shapes = dict(U_l0=(H, D), W_l0=(H, H), b_l0=(H,), V=(K, H), c=(K,))
    return {name: rng.normal(size=shape) for name, shape in shapes.items()}


def as_vanilla(params):
    return {name.removesuffix("_l0"): a for name, a in params.items()}


@pytest.mark.parametrize("batch", [None, 2])
def test_the_default_stack_is_the_vanilla_rnn(batch):
    params, rng = one_layer(), np.random.default_rng(1)
    x = rng.integers(0, D, size=(5,) if batch is None else (5, batch))
    y = rng.integers(0, K, size=x.shape)
    h0 = rng.normal(size=(H,) if batch is None else (H, batch))
    fwd, ref_fwd = stack.forward(params, x, h0=h0[None]), vanilla.forward(
        **as_vanilla(params), x=x, h0=h0)
    assert_roundoff_equal(fwd.h[(1, "forward")], ref_fwd.h[1:], "h")
    assert_roundoff_equal(fwd.o, ref_fwd.o, "o")
    got, ref = stack.bptt(params, x, y, h0=h0[None]), vanilla.bptt(
        **as_vanilla(params), x=x, y=y, h0=h0)
    assert got.loss == pytest.approx(ref.loss, rel=1e-13)
    assert_roundoff_equal(got.dL_do, ref.dL_do, "dL_do")
    assert_roundoff_equal(got.dL_dh[(1, "forward")], ref.dL_dh, "dL_dh")
    for name, grad in as_vanilla(got.grads).items():
        assert_roundoff_equal(grad, ref.grads[name][None] if name == "h0" else ref.grads[name],
                              name)


def changed(**changes):
    return {**one_layer(), **changes}


# Each message says what is wrong and, for a size, where it comes from.
@pytest.mark.parametrize("call, error, message", [
    (lambda: stack.forward(one_layer(), [0], layers=0), ValueError,
     "layers must be at least 1, got 0"),
    (lambda: stack.forward({n: a for n, a in one_layer().items() if n != "U_l0"}, [0]),
     KeyError, "missing parameter 'U_l0'"),
    (lambda: stack.forward(changed(U_l0=np.ones(4)), [0]), ValueError,
     "parameter U_l0 must be a matrix H×D with H, D ≥ 1, got shape (4,)"),
    (lambda: stack.forward(changed(W_l0=np.ones(3)), [0]), ValueError,
     "parameter W_l0 must be a matrix H×H with H, H ≥ 1, got shape (3,)"),
    (lambda: stack.forward(changed(V=np.ones(3)), [0]), ValueError,
     "parameter V must be a matrix K×H with K, H ≥ 1, got shape (3,)"),
    (lambda: stack.forward(changed(V=np.ones((K, 2 * H))), [0]), ValueError,
     "parameter V must have shape (2, 3) (K×H·dirs; H = 3, D = 4, K = 2, L = 1), got (2, 6)"),
    (lambda: stack.forward(changed(c=np.ones(3)), [0]), ValueError,
     "parameter c must have shape (2,) ((K,); H = 3, D = 4, K = 2, L = 1), got (3,)"),
    (lambda: stack.forward(changed(b_l0=np.ones(2)), [0]), ValueError,
     "parameter b_l0 must have shape (3,) ((H,); H = 3, D = 4, K = 2, L = 1), got (2,)"),
    (lambda: stack.forward(one_layer(), [0, D]), ValueError,
     f"token ids in x must lie in [0, {D}) (U_l0.shape[1]), got 0..{D}"),
    (lambda: stack.forward(one_layer(), [0], h0=np.ones((1, H), dtype=complex)), TypeError,
     "h0 must be a real (integer or float) array, got dtype complex128"),
    (lambda: stack.forward(one_layer(), [0], h0=np.ones(H)), ValueError,
     "h0 must have shape (1, 3) (layers·directions, hidden[, batch]), got (3,)"),
    (lambda: stack.bptt(one_layer(), [0], [K]), ValueError,
     f"target ids in y must lie in [0, {K}) (V.shape[0]), got 2..2"),
])
def test_errors_name_what_is_wrong(call, error, message):
    with pytest.raises(error) as caught:
        call()
    assert caught.value.args == (message,)
