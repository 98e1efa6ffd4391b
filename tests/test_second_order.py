"""backward(create_graph=True) runs every rule on Tensors: the recorded gradient equals the plain
one, and differentiating it again gives the Hessian, checked against central differences of the
plain gradient (the VJPs' Tensor branches had no test in the mutation run: docs/mutation.md).
Central differences with step 1e-6 of these functions of size ~1 are good to ~1e-8."""
import numpy as np
import pytest

import minigrad as mg

EPS, TOL = 1e-6, dict(atol=1e-6, rtol=1e-5)
rng = np.random.default_rng(3)
X = rng.uniform(0.5, 2.0, size=(2, 3)) * rng.choice([-1.0, 1.0], size=(2, 3))  # off 0
POSITIVE = np.abs(X)
W = rng.standard_normal((3, 2))
IDS = np.array([2, 0, 2])
TARGETS = np.array([1, 2])

FUNCTIONS = {  # x (2, 3) -> a Tensor; every op of the table, broadcasting and fan-out
    "add-broadcast": lambda x: (x + x[:, :1]) ** 2,
    "sub": lambda x: 2.0 - x * x,
    "mul-fan-out": lambda x: x * x * x,
    "div": lambda x: x / (x * x + 1.0),
    "neg": lambda x: -(x * x),
    "power": lambda x: x ** 3,
    "power-0-and-1": lambda x: x ** 0 + x ** 1 * x,
    "pow": lambda x: x ** (x * 0.5),                      # on positive x
    "exp": lambda x: mg.exp(x * 0.5),
    "log": lambda x: mg.log(x * x),
    "tanh": mg.tanh,
    "sigmoid": mg.sigmoid,
    "relu": lambda x: mg.relu(x) * x,
    "where": lambda x: mg.where(X > 0, x * x, -x),
    "matmul": lambda x: mg.tanh(x @ mg.tensor(W)) @ mg.tensor(W.T),
    "matmul-weight": lambda x: mg.tensor(W) @ x * x.T.sum(),
    "matrix-vector": lambda x: (mg.tensor(W.T) @ x[0]) * (x[1] @ mg.tensor(W)),
    "sum-mean": lambda x: x.sum(axis=0, keepdims=True) * x.mean(axis=1, keepdims=True),
    "max": lambda x: x.max(axis=1) * x.sum(axis=1),
    "reshape-transpose": lambda x: x.reshape(3, 2).T * x,
    "getitem": lambda x: x[1] * x[0, ::-1],
    "gather": lambda x: x[:, IDS] * x[:, IDS[::-1]],
    "concat-stack": lambda x: (mg.concat([x, x * x], axis=1)
                               * mg.stack([x, x], axis=0).sum(axis=0).sum()),
    "softmax": lambda x: mg.softmax(x, axis=1) * x,
    "log_softmax": lambda x: mg.log_softmax(x * x, axis=0),
    "cross_entropy-sum": lambda x: mg.cross_entropy(x * x, TARGETS),
    "cross_entropy-mean": lambda x: mg.cross_entropy(x * x, TARGETS, reduction="mean"),
    "cross_entropy-none": lambda x: mg.cross_entropy(x * x, TARGETS, reduction="none"),
}


def first_derivative(f, x, create_graph):
    return mg.grad(f(x).sum(), x, create_graph=create_graph)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_recorded_gradient_equals_the_plain_one_and_differentiates_again(name):
    f = FUNCTIONS[name]
    base = POSITIVE if name == "pow" else X
    x = mg.tensor(base, requires_grad=True, name="x")
    recorded = first_derivative(f, x, create_graph=True)
    plain = first_derivative(f, x, create_graph=False)
    assert recorded.requires_grad and not plain.requires_grad  # every f is non-linear
    np.testing.assert_allclose(recorded.data, plain.data, rtol=1e-12, atol=1e-15)
    rows = [mg.grad(recorded.reshape(-1)[i], x, allow_unused=True).data.ravel()
            for i in range(base.size)]
    hessian = np.stack(rows)                                # ∂(∂f/∂x_i)/∂x_j

    def gradient_at(a):
        return first_derivative(f, mg.tensor(a, requires_grad=True), False).data.ravel()
    columns = [(gradient_at(base + EPS * e) - gradient_at(base - EPS * e)) / (2 * EPS)
               for e in np.eye(base.size).reshape(-1, *base.shape)]
    np.testing.assert_allclose(hessian, np.stack(columns, axis=1), **TOL)
