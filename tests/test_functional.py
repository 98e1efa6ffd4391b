"""Derivatives of derivatives: mg.grad, the functional API (minigrad.functional) and the
graphs a create_graph backward pass records.

On random programs over the whole op table (minigrad.testing.graphs): forward and
reverse mode are adjoint (⟨u, J v⟩ = ⟨Jᵀu, v⟩), forward-over-reverse and
reverse-over-reverse Hessian-vector products agree and Hessians are symmetric, all to
round-off. Third derivatives of x^n, tanh, exp and log against hand formulas; mg.grad's
contract; the d²tanh/dx² graph drawn.
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad.draw import draw, walk
from minigrad.testing import gradcheck
from minigrad.testing.graphs import FORMS, OPS, evaluate, programs
from minigrad.testing.strategies import arrays

# Forward and reverse mode, and the two hvp modes, are exact computations of the same
# numbers in different orders: they differ by round-off, a few ulp per operation times
# the size of the terms summed. Values in programs stay within 1e4 (graphs.LIMIT) and
# reach a handful of ops deep, so 1e-9 of the terms' scale is far above that round-off,
# and far below what a wrong rule misses by.
ROUNDOFF = 1e-9
RULES = {op: FORMS.get((op, "function")) or FORMS[op, "operator"] for op in OPS}


def program_function(program):
    """The program's output nodes, flattened and joined into one vector, as a function of
    its leaves (Tensors)."""
    def f(*leaves):
        nodes = evaluate(program, RULES, leaves)
        return mg.concat([nodes[k].reshape(-1) for k in program.outputs])
    return f


def program_loss(program):
    """Σ_k ⟨weights[k], output k⟩ as a function of the leaves."""
    def loss(*leaves):
        nodes = evaluate(program, RULES, leaves)
        return sum(((nodes[k] * w).sum() for k, w in zip(program.outputs, program.weights)),
                   mg.tensor(0.0))
    return loss


def leaf_values(program):
    return tuple(program.steps[k].params["value"] for k in program.leaves)


def assert_inner_products_equal(first, second, terms, what):
    """Two computations of one inner product agree to ROUNDOFF of ``terms``, the sum of
    the absolute values of its products (its scale, even where it cancels to ~0)."""
    assert abs(first - second) <= ROUNDOFF * max(1.0, terms), (
        f"{what}: {first!r} vs {second!r} (terms of size {terms:.3g})")


def inner(xs, ys):
    return sum(float(np.sum(np.asarray(x) * np.asarray(y))) for x, y in zip(xs, ys))


def terms(xs, ys):
    return sum(float(np.sum(np.abs(np.asarray(x) * np.asarray(y)))) for x, y in zip(xs, ys))


# -- random programs over the whole table --------------------------------------------------
@given(programs(), st.data())
def test_forward_and_reverse_mode_are_adjoint(program, data):
    """⟨u, J v⟩ with J v from mg.jvp equals ⟨Jᵀu, v⟩ with Jᵀu from mg.vjp."""
    f, xs = program_function(program), leaf_values(program)
    out, vjp_fn = mg.vjp(f, *xs)
    u = data.draw(arrays(out.shape, -1.0, 1.0))
    vs = tuple(data.draw(arrays(x.shape, -1.0, 1.0)) for x in xs)
    out_fwd, Jv = mg.jvp(f, xs, vs)
    JTu = [g.data for g in vjp_fn(u)]
    np.testing.assert_array_equal(out_fwd.data, out.data)
    assert_inner_products_equal(inner([u], [Jv.data]), inner(JTu, vs),
                                terms([u], [Jv.data]) + terms(JTu, vs),
                                "⟨u, J v⟩ vs ⟨Jᵀu, v⟩\n" + program.listing())


@given(programs(), st.data())
def test_forward_over_reverse_equals_reverse_over_reverse(program, data):
    f, xs = program_loss(program), leaf_values(program)
    vs = tuple(data.draw(arrays(x.shape, -1.0, 1.0)) for x in xs)
    rev = mg.hvp(f, xs, vs, mode="rev-rev")
    fwd = mg.hvp(f, xs, vs, mode="fwd-rev")
    for k, (a, b) in enumerate(zip(fwd, rev)):
        scale = max(1.0, float(np.max(np.abs(b.data), initial=0.0)))
        assert np.max(np.abs(a.data - b.data), initial=0.0) <= ROUNDOFF * scale, (
            f"leaf {k}: fwd-rev {a.data} vs rev-rev {b.data}\n{program.listing()}")


@given(programs(), st.data())
def test_hessians_are_symmetric(program, data):
    """uᵀ(H v) = vᵀ(H u) for the whole program, and the Hessian of one leaf from
    mg.hessian equals its transpose."""
    f, xs = program_loss(program), leaf_values(program)
    us, vs = ([data.draw(arrays(x.shape, -1.0, 1.0)) for x in xs] for _ in range(2))
    Hv, Hu = (mg.hvp(f, xs, tuple(w)) for w in (vs, us))
    assert_inner_products_equal(inner(us, [h.data for h in Hv]), inner(vs, [h.data for h in Hu]),
                                terms(us, [h.data for h in Hv]) + terms(vs, [h.data for h in Hu]),
                                "uᵀHv vs vᵀHu\n" + program.listing())
    k = data.draw(st.integers(0, len(xs) - 1))
    if xs[k].size <= 12:
        one = lambda x: f(*xs[:k], x, *xs[k + 1:])  # noqa: E731
        H = mg.hessian(one, xs[k]).data.reshape(xs[k].size, xs[k].size)
        scale = max(1.0, float(np.max(np.abs(H), initial=0.0)))
        assert np.max(np.abs(H - H.T), initial=0.0) <= ROUNDOFF * scale, program.listing()


# -- third derivatives against hand formulas ------------------------------------------------
def tanh3(x):
    t = math.tanh(x)
    return (1 - t * t) * (6 * t * t - 2)  # (1−t²)'' with t' = 1−t²


KNOWN = {  # f, [f', f'', f'''] by hand, points
    "x^5": (lambda x: x ** 5, [lambda x: 5 * x ** 4, lambda x: 20 * x ** 3, lambda x: 60 * x ** 2],
            [-1.3, 0.4, 2.0]),
    "x^-2": (lambda x: x ** -2, [lambda x: -2 * x ** -3, lambda x: 6 * x ** -4,
                                 lambda x: -24 * x ** -5], [-0.7, 1.5]),
    "tanh": (mg.tanh, [lambda x: 1 - math.tanh(x) ** 2,
                       lambda x: -2 * math.tanh(x) * (1 - math.tanh(x) ** 2), tanh3],
             [-2.0, 0.0, 0.5]),
    "exp": (mg.exp, [math.exp] * 3, [-1.0, 0.0, 3.0]),
    "log": (mg.log, [lambda x: 1 / x, lambda x: -1 / x ** 2, lambda x: 2 / x ** 3], [0.5, 4.0]),
}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_third_derivatives_equal_hand_formulas(name):
    f, derivatives, points = KNOWN[name]
    for point in points:
        df = f
        for order, expected in enumerate(derivatives, 1):
            df = mg.gradient(df)
            assert float(df(point)) == pytest.approx(expected(point), rel=1e-13, abs=1e-13), (
                name, order, point)
        x = mg.tensor([point], requires_grad=True)
        assert gradcheck(lambda x: f(x), x, order=3, modes=("fwd", "rev"))


def test_nested_grad_of_a_product_of_two_inputs():
    """f = x² y³: ∂³f/∂x∂y² = 12 x y by hand; mg.grad three times over two inputs."""
    x, y = mg.tensor(1.5, requires_grad=True), mg.tensor(-0.5, requires_grad=True)
    fx = mg.grad(x ** 2 * y ** 3, x, create_graph=True)             # 2 x y³
    fxy = mg.grad(fx, y, create_graph=True)                          # 6 x y²
    assert float(fxy) == pytest.approx(6 * 1.5 * 0.25, rel=1e-15)
    assert float(mg.grad(fxy, y)) == pytest.approx(12 * 1.5 * -0.5, rel=1e-15)


# -- mg.grad's contract --------------------------------------------------------------------
def test_grad_touches_no_grad_attribute():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = mg.tanh(x)
    sentinel = np.array([7.0, 7.0])
    x.grad = sentinel
    g = mg.grad((h * h).sum(), x)
    assert x.grad is sentinel and np.all(sentinel == 7.0) and h.grad is None
    np.testing.assert_allclose(g.data, 2 * np.tanh([1.0, 2.0]) * (1 - np.tanh([1.0, 2.0]) ** 2),
                               rtol=1e-15)
    assert not g.requires_grad  # without create_graph: a constant


def test_backward_with_create_graph_stores_tensors_that_differentiate_again():
    x = mg.tensor(0.5, requires_grad=True)
    (x ** 4).backward(create_graph=True)
    assert isinstance(x.grad, mg.Tensor) and x.grad.requires_grad
    assert float(x.grad) == pytest.approx(4 * 0.5 ** 3, rel=1e-15)
    assert float(mg.grad(x.grad, x)) == pytest.approx(12 * 0.5 ** 2, rel=1e-15)


def test_grad_of_several_outputs_with_grad_outputs_and_a_tuple_of_inputs():
    x, y = mg.tensor([1.0, 2.0], requires_grad=True), mg.tensor(3.0, requires_grad=True)
    gx, gy = mg.grad([x * y, (x * x).sum()], [x, y], [np.array([1.0, -1.0]), 2.0])
    np.testing.assert_array_equal(gx.data, [3.0 + 4.0, -3.0 + 8.0])   # y u + 2·2x
    assert float(gy) == 1.0 - 2.0                                       # ⟨u, x⟩


def test_allow_unused_gives_zeros_and_is_otherwise_an_error():
    x, unused = mg.tensor(2.0, requires_grad=True), mg.tensor([1.0, 2.0], requires_grad=True,
                                                              name="z")
    with pytest.raises(ValueError, match=r"do not depend on 'z' \(2,\).*allow_unused"):
        mg.grad(x * x, [x, unused])
    gx, gz = mg.grad(x * x, [x, unused], allow_unused=True)
    assert float(gx) == 4.0
    np.testing.assert_array_equal(gz.data, [0.0, 0.0])


@pytest.mark.parametrize("call, error, message", [
    (lambda x: mg.grad(x * 2, mg.tensor(1.0)), ValueError, "does not require grad"),
    (lambda x: mg.grad(x * x, x), RuntimeError, "non-scalar .* explicit gradient"),
    (lambda x: mg.grad(x * x, x, np.ones(3)), mg.OpError, r"gradient of shape \(3,\)"),
    (lambda x: mg.grad(mg.tensor([1.0, 2.0]), x), RuntimeError, "does not require grad"),
])
def test_grad_errors_name_what_is_wrong(call, error, message):
    with pytest.raises(error, match=message):
        call(mg.tensor([1.0, 2.0], requires_grad=True))


def test_the_functional_forms_agree_with_hand_derivatives():
    f = lambda x, y: (x * x * y).sum()  # noqa: E731   ∇ = (2xy, x²), H = [[2y, 2x], [2x, 0]]
    x, y = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    value, (gx, gy) = mg.value_and_gradient(f, argnums=(0, 1))(x, y)
    assert float(value) == 1.0 * 0.5 + 4.0 * 3.0
    np.testing.assert_array_equal(gx.data, 2 * x * y)
    np.testing.assert_array_equal(gy.data, x * x)
    v = np.array([1.0, 1.0])
    for mode in ("rev-rev", "fwd-rev"):
        hx, hy = mg.hvp(f, (x, y), (v, v), mode=mode)
        np.testing.assert_allclose(hx.data, 2 * y * v + 2 * x * v, rtol=1e-15)
        np.testing.assert_allclose(hy.data, 2 * x * v, rtol=1e-15)
    np.testing.assert_array_equal(mg.jacobian(lambda x: x * x, x).data, np.diag(2 * x))
    np.testing.assert_array_equal(mg.hessian(lambda x: f(x, y), x).data, np.diag(2 * y))
    with pytest.raises(ValueError, match="mode must be"):
        mg.hvp(f, (x, y), (v, v), mode="fwd-fwd")


# -- drawing the second-order graph -----------------------------------------------------------
def test_the_graph_of_d2_tanh_draws_with_the_ops_of_the_rules():
    """d/dx tanh = g (1 − t t), t = tanh x, recorded; differentiating that by the rules of
    mul (two products, u·t each way, added: t is used twice), sub (a negation) and tanh
    (× (1 − t t) again) gives the second derivative. The forward tanh is the only tanh
    node: the backward passes reuse t, they never recompute it."""
    x = mg.tensor(0.5, requires_grad=True, name="x")
    d1 = mg.grad(mg.tanh(x), x, create_graph=True)
    d2 = mg.grad(d1, x, create_graph=True).named("d²tanh/dx²")
    t = math.tanh(0.5)
    assert float(d2) == pytest.approx(-2 * t * (1 - t * t), rel=1e-15)
    ops = [node.op for node in walk([d2]) if node.op]
    assert set(ops) == {"tanh", "mul", "sub", "neg", "add"} and ops.count("tanh") == 1
    source = draw(d2).source
    labels = {line.split('label="')[1].split('"')[0] for line in source.splitlines()
              if 'shape="ellipse"' in line}
    assert labels == {"tanh", "×", "−", "−x", "+"}
    assert 'label="d²tanh/dx²\\nscalar"' in source and source.count('label="x\\nscalar"') == 1


def test_jvp_and_fwd_rev_hvp_of_constant_functions_are_zero():
    """The gradient of a linear function is a constant: its JVP is 0, and so is the
    fwd-rev H v of the linear function (mg.jvp raised 'backward from … which does not
    require grad' on it)."""
    out, tangent = mg.jvp(lambda x: mg.tensor([1.0, 2.0]), np.array(3.0), np.array(1.0))
    np.testing.assert_array_equal(tangent.data, [0.0, 0.0])
    for mode in ("fwd-rev", "rev-rev"):
        np.testing.assert_array_equal(mg.hvp(lambda x: (3.0 * x).sum(), np.ones(2), np.ones(2),
                                             mode=mode).data, [0.0, 0.0])
    H = mg.hessian(lambda x: (3.0 * x).sum(), np.ones(2))  # raised like jvp did
    np.testing.assert_array_equal(H.data, np.zeros((2, 2)))


@pytest.mark.parametrize("mode", ["rev-rev", "fwd-rev"])
def test_hvp_is_recorded_only_when_its_inputs_are(mode):
    """f = Σ x³: H v = 6 x ⊙ v, and d/dx Σ(H v) = 6 v (a third derivative) when x is a
    Tensor that requires grad; from arrays H v is a constant (fwd-rev used to record its
    last backward pass anyway, doubling its cost)."""
    f, v = (lambda x: (x ** 3).sum()), np.array([1.0, -2.0])
    x = mg.tensor([0.5, 3.0], requires_grad=True)
    Hv = mg.hvp(f, x, v, mode=mode)
    np.testing.assert_array_equal(Hv.data, 6 * x.data * v)
    np.testing.assert_array_equal(mg.grad(Hv.sum(), x).data, 6 * v)
    assert not mg.hvp(f, x.data, v, mode=mode).requires_grad
