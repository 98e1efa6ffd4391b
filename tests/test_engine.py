"""Engine invariants: fan-out and diamonds, very deep graphs, no mutation and no
aliasing, gradient shapes, grad modes, accumulation, several outputs, error
messages, anomaly detection, hooks, memory-saving mode and dtype rules.

Expected gradients here are derived by hand from the expressions."""
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad.tensor import topological_order
from minigrad.testing.strategies import arrays, broadcastable_shapes, positive_arrays

EXACT = dict(rtol=1e-12, atol=0)


def leaf(values, name=None):
    return mg.tensor(values, requires_grad=True, name=name)


def every_node(outputs):
    """All nodes reachable from outputs, constants included (iterative)."""
    seen, stack = {}, list(outputs)
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen[id(node)] = node
            stack.extend(node.inputs)
    return list(seen.values())


# -- fan-out and diamonds -------------------------------------------------------------
def test_an_operand_used_twice_gets_both_contributions():
    x = leaf([1.5, -2.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, -4.0])
    x.grad = None
    (x + x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    assert (x * x).inputs == (x, x)


def test_a_node_used_in_many_places():
    """h = tanh(x); L = Σ (h·h + 3h + h/2 − h) = Σ (h² + 2.5h); dL/dx = (2h + 2.5)(1 − h²)."""
    x = leaf([0.3, -1.2, 2.0])
    h = mg.tanh(x)
    (h * h + 3 * h + h / 2 - h).sum().backward()
    t = np.tanh(x.data)
    np.testing.assert_allclose(x.grad, (2 * t + 2.5) * (1 - t * t), **EXACT)
    np.testing.assert_allclose(h.grad, 2 * t + 2.5, **EXACT)


def test_diamond():
    """a = 2x, b = eˣ, L = a·b: dL/dx = 2eˣ + 2x eˣ, reaching x along two paths."""
    x = leaf(0.7)
    (2 * x * mg.exp(x)).backward()
    assert x.grad == pytest.approx(2 * np.exp(0.7) * (1 + 0.7), rel=1e-14)


def test_nested_diamonds_count_paths_once_per_edge():
    """y_k = y_{k-1} + y_{k-1} doubles the gradient at each of 30 levels: dy/dx = 2³⁰."""
    x = y = leaf(1.0)
    for _ in range(30):
        y = y + y
    y.backward()
    assert x.grad == 2.0 ** 30


@pytest.mark.parametrize("uses", [1, 2, 300])  # past OUTER_CHUNK rows, so summed in chunks
@pytest.mark.parametrize("batch", [(), (3,)])   # h_i vectors, or matrices of 3 columns
def test_a_weight_used_in_many_matrix_products(uses, batch):
    """L = Σ_i Σ R_i∘(W H_i) + Σ W∘M: dL/dW = Σ_i R_i H_iᵀ + M (the matmul VJP's outer
    products, which the engine sums as stacked factors) and dL/dH_i = Wᵀ R_i."""
    rng = np.random.default_rng(uses)
    W = leaf(rng.normal(size=(20, 24)), "W")
    hs = [leaf(rng.normal(size=(24, *batch))) for _ in range(uses)]
    rs, M = rng.normal(size=(uses, 20, *batch)), rng.normal(size=(20, 24))
    loss = (W * mg.tensor(M)).sum()
    for h, r in zip(hs, rs):
        loss = loss + (mg.tensor(r) * (W @ h)).sum()
    loss.backward()
    expected = M + sum(r.reshape(20, -1) @ h.data.reshape(24, -1).T for h, r in zip(hs, rs))
    np.testing.assert_allclose(W.grad, expected, rtol=1e-12, atol=1e-12)
    for h, r in zip(hs, rs):
        np.testing.assert_allclose(h.grad, W.data.T @ r, **EXACT)
    assert_no_aliasing([W, *hs])


@pytest.mark.parametrize("uses", [1, 2, 700])  # 700 × 7 ids × 20 rows: past Columns.CHUNK
@pytest.mark.parametrize("dtype", [np.int64, np.uint8, np.int32])
def test_a_matrix_gathered_by_columns_many_times(uses, dtype):
    """L = Σ_i Σ R_i∘U[:, ids_i] + Σ U∘M: dL/dU[:, j] = M[:, j] + Σ_i Σ_{k: ids_i[k] = j} R_i[:, k]
    (repeated and negative ids add up at their column), written here as a loop over ids."""
    rng = np.random.default_rng(uses)
    U, M = leaf(rng.normal(size=(20, 9)), "U"), rng.normal(size=(20, 9))
    ids = [rng.integers(0 if dtype is np.uint8 else -9, 9, size=7).astype(dtype) for _ in range(uses)]
    rs = rng.normal(size=(uses, 20, 7))
    loss = (U * mg.tensor(M)).sum()
    for i, r in zip(ids, rs):
        loss = loss + (mg.tensor(r) * U[:, i]).sum()
    loss.backward()
    expected = M.copy()
    for i, r in zip(ids, rs):
        for k, j in enumerate(i):
            expected[:, int(j) % 9] += r[:, k]
    np.testing.assert_allclose(U.grad, expected, rtol=1e-12, atol=1e-12)
    assert U.grad.dtype == np.float64


@pytest.mark.parametrize("uses", [1, 5000])  # 5000 × 16 rows: past Columns.CHUNK
def test_a_matrix_gathered_one_column_at_a_time(uses):
    """L = Σ_i r_i · U[:, j_i] (Python and numpy integers, negative too; and a boolean index,
    which is not a column): dL/dU[:, j] = Σ_{i: j_i = j} r_i."""
    rng = np.random.default_rng(uses)
    U = leaf(rng.normal(size=(16, 6)), "U")
    ids = [int(j) if k % 2 else np.int64(j) for k, j in enumerate(rng.integers(-6, 6, uses))]
    rs = rng.normal(size=(uses, 16))
    loss = (U[:, True] * mg.tensor(np.ones((16, 1, 6)))).sum()   # adds 1 to every entry
    for j, r in zip(ids, rs):
        loss = loss + (mg.tensor(r) * U[:, j]).sum()
    loss.backward()
    expected = np.ones((16, 6))
    for j, r in zip(ids, rs):
        expected[:, j % 6] += r
    np.testing.assert_allclose(U.grad, expected, rtol=1e-12, atol=1e-12)


def test_a_matrix_both_multiplied_and_gathered_sums_every_kind_of_gradient():
    """W @ h (summed as stacked factors), W[:, ids] (summed by columns) and W∘M (dense) on one
    W: dL/dW = R hᵀ + the R' columns at ids + M, in float32 as in float64."""
    rng = np.random.default_rng(3)
    for dtype, tolerance in ((np.float64, 1e-12), (np.float32, 1e-5)):
        W = mg.tensor(rng.normal(size=(20, 24)), dtype=dtype, requires_grad=True)
        h = rng.normal(size=(24, 2))
        r, r2, M = rng.normal(size=(20, 2)), rng.normal(size=(20, 3)), rng.normal(size=(20, 24))
        ids = np.array([5, 0, 5])
        tensor = lambda a: mg.tensor(a, dtype=dtype)  # noqa: E731
        loss = ((tensor(r) * (W @ tensor(h))).sum() + (tensor(r2) * W[:, ids]).sum()
                + (W * tensor(M)).sum())
        loss.backward()
        expected = r @ h.T + M
        expected[:, 5] += r2[:, 0] + r2[:, 2]
        expected[:, 0] += r2[:, 1]
        assert W.grad.dtype == dtype
        np.testing.assert_allclose(W.grad, expected, rtol=tolerance, atol=tolerance)


# -- deep graphs ------------------------------------------------------------------------
def test_a_chain_of_200000_ops_needs_no_recursion():
    """y = x · Π_{i=1}^{n} (1 + 1/i) telescopes to x · (n + 1)."""
    n, limit = 200_000, sys.getrecursionlimit()
    x = y = leaf(1.0)
    for i in range(1, n + 1):
        y = y * (1 + 1 / i)
    y.backward(keep_intermediate_grads=False)
    assert x.grad == pytest.approx(n + 1, rel=1e-9)
    assert sys.getrecursionlimit() == limit


# -- no mutation, no aliasing, right shapes --------------------------------------------------
def build_broadcast_graph(a, b, c):
    """A graph mixing broadcasting, fan-out and the view-making ops (add, reshape,
    transpose, getitem), whose gradients pass arrays through unchanged."""
    u = a * b + c
    v = (u + a).T.reshape(-1)[::-1]
    w = mg.tanh(v)[1:] if v.shape[0] > 1 else v + 0.0
    out = (w * w).sum() + (u / (1 + b * b)).sum() + a.sum() * 0.5
    return out, [u, v, w]


def assert_no_aliasing(nodes, *others):
    grads = [n.grad for n in nodes if n.grad is not None]
    datas = [n.data for n in nodes] + list(others)
    for i, g in enumerate(grads):
        for other in grads[i + 1:] + datas:
            assert not np.shares_memory(g, other)


@given(triple=broadcastable_shapes(3), data=st.data())
def test_gradients_have_data_shapes_and_share_no_memory(triple, data):
    a, b, c = (leaf(data.draw(arrays(s)), name) for s, name in zip(triple, "abc"))
    out, _ = build_broadcast_graph(a, b, c)
    snapshot = [(n.data, n.data.copy()) for n in every_node([out])]
    out.backward()
    for node in topological_order([out]):
        assert node.grad is not None and node.grad.shape == node.data.shape, node
    assert_no_aliasing(every_node([out]))
    for array, copy in snapshot:
        np.testing.assert_array_equal(array, copy)


@pytest.mark.parametrize("chain", [
    lambda x: x + 0.0,
    lambda x: (x + x) + x,
    lambda x: x.reshape(-1),
    lambda x: x.T,
    lambda x: x.transpose(1, 0).reshape(3, 2)[:, ::-1],
    lambda x: x[0],
    lambda x: x[:, [0, 0, 2]],
    lambda x: mg.sum(x, axis=0) + mg.mean(x, axis=1, keepdims=True),
    lambda x: mg.concat([x, x])[1:3] + mg.stack([x, x])[1],
], ids=["add", "add fan-out", "reshape", ".T", "transpose-reshape-slice", "getitem",
        "gather", "sum+mean", "concat+stack"])
def test_no_mutation_and_no_aliasing_with_an_upstream_gradient(chain):
    """Gradients that pass straight through (add, reshape, transpose) must still come
    out as fresh arrays, distinct from each other, from data and from the upstream grad."""
    x = leaf(np.arange(6.0).reshape(2, 3), "x")
    y = chain(x)
    upstream = np.array(np.linspace(-1, 1, y.size).reshape(y.shape))  # owns its memory
    kept = upstream.copy(), x.data.copy()
    y.backward(upstream)
    np.testing.assert_array_equal(upstream, kept[0])
    np.testing.assert_array_equal(x.data, kept[1])
    assert_no_aliasing(every_node([y]), upstream)
    old_grad, old_value = x.grad, x.grad.copy()
    y.backward(upstream)  # accumulating makes a new array: the old one is untouched
    np.testing.assert_array_equal(old_grad, old_value)
    np.testing.assert_array_equal(x.grad, 2 * old_value)
    assert_no_aliasing(every_node([y]), upstream, old_grad)


# -- grad modes, detach ----------------------------------------------------------------
def test_no_grad_records_nothing_and_enable_grad_reenables():
    x = leaf(2.0)
    with mg.no_grad():
        y = x * x
        assert not mg.is_grad_enabled()
        with mg.enable_grad():
            z = x * x
            assert mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.op is None and y.inputs == () and y.item() == 4.0
    assert z.requires_grad and z.op == "mul"
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_is_restored_after_an_exception():
    with pytest.raises(ZeroDivisionError), mg.no_grad():
        1 / 0
    assert mg.is_grad_enabled()


def test_detach_cuts_the_graph():
    x, w = leaf(3.0), leaf(2.0)
    h = x * x
    d = h.detach()
    assert d.is_leaf and not d.requires_grad and d.item() == 9.0
    (d * w + h).backward()
    assert w.grad == 9.0 and x.grad == 6.0  # only through h: d contributes nothing to x


# -- accumulation and several outputs -----------------------------------------------------
def test_backward_twice_accumulates_and_zero_grad_clears():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    y.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])  # 2 · 2x
    mg.zero_grad([x, y])
    assert x.grad is None and y.grad is None
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


@pytest.mark.parametrize("nested", [False, True], ids=["side by side", "one inside the other"])
@given(a=arrays((3,)), b=positive_arrays((3,)))
def test_backward_of_two_outputs_is_the_sum_of_separate_passes(nested, a, b):
    """Outputs sharing a graph; nested: the second output is computed from the first."""
    def graph():
        x, w = leaf(a), leaf(b)
        h = mg.tanh(x * w)
        y1 = (h * h).sum()
        return x, w, y1, mg.log(w).sum() + h.sum() * (y1 if nested else 1.0)

    x, w, y1, y2 = graph()
    mg.backward([y1, y2])
    together = x.grad, w.grad
    separate = [0.0, 0.0]
    for k in range(2):
        x2, w2, *ys = graph()
        ys[k].backward()
        separate = [separate[0] + x2.grad, separate[1] + w2.grad]
    np.testing.assert_allclose(together[0], separate[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(together[1], separate[1], rtol=1e-12, atol=1e-15)


def test_backward_from_a_non_scalar_needs_a_gradient():
    y = leaf([1.0, 2.0], "x") * 2
    with pytest.raises(RuntimeError, match=r"non-scalar .*\(2,\).*explicit gradient"):
        y.backward()
    with pytest.raises(mg.OpError, match=r"gradient of shape \(3,\) given for .*\(2,\)"):
        y.backward(np.ones(3))


# -- errors and anomalies ----------------------------------------------------------------------
@pytest.mark.parametrize("op, pattern", [
    (lambda a, b: a + b, r"'add'.*'a' \(2, 3\).*'b' \(4,\)"),
    (lambda a, b: a @ b, r"'matmul'.*'a' \(2, 3\).*'b' \(4,\)"),
    (lambda a, b: mg.concat([a, b]), r"'concat'.*'a' \(2, 3\).*'b' \(4,\)"),
])
def test_op_errors_name_the_op_the_shapes_and_the_tensors(op, pattern):
    a, b = leaf(np.ones((2, 3)), "a"), leaf(np.ones(4), "b")
    with pytest.raises(mg.OpError, match=pattern):
        op(a, b)


def test_detect_anomaly_names_the_op_and_is_off_by_default():
    x = leaf([1.0, -1.0], "x")
    with np.errstate(invalid="ignore"):
        assert np.isnan(mg.log(x).data[1])  # off by default: a NaN, no error
    with pytest.raises(FloatingPointError, match=r"op 'log' produced non-finite.*'x' \(2,\)"):
        with mg.detect_anomaly():
            mg.log(x)


def test_detect_anomaly_catches_a_non_finite_gradient():
    x = leaf([0.0, 4.0], "x")
    with mg.detect_anomaly():
        y = (x ** 0.5).sum()  # finite forward, infinite slope at 0
        with pytest.raises(FloatingPointError, match=r"VJP of op 'power' .*non-finite .*'x'"):
            y.backward()


# -- hooks and memory-saving mode ------------------------------------------------------------
def test_hooks_see_and_can_replace_gradients():
    x = leaf([1.0, 2.0])
    h = x * 3
    seen = []
    h.register_hook(lambda g: seen.append(g.copy()))
    h.register_hook(lambda g: 10 * g)
    (h * h).sum().backward()
    np.testing.assert_array_equal(seen[0], [6.0, 12.0])  # 2h
    np.testing.assert_array_equal(h.grad, [60.0, 120.0])
    np.testing.assert_array_equal(x.grad, [180.0, 360.0])  # 3 · the replaced gradient


def test_without_retained_graph_grads_only_leaves_keep_grad():
    x, w = leaf([1.0, 2.0]), leaf(0.5)
    h = mg.tanh(x * w)
    y = h.sum()
    y.backward(keep_intermediate_grads=False)
    assert h.grad is None and y.grad is None
    np.testing.assert_allclose(w.grad, np.sum(x.data * (1 - np.tanh(x.data * 0.5) ** 2)), **EXACT)


# -- dtypes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("values", [[1, 2], [True, False], np.arange(3, dtype=np.int8)])
def test_int_and_bool_data_become_float64(values):
    assert mg.tensor(values).dtype == np.float64
    assert mg.tensor(values, requires_grad=True).dtype == np.float64


def test_requires_grad_on_an_integer_dtype_is_an_error():
    with pytest.raises(TypeError, match=r"'n'.*floating dtype.*int64"):
        mg.tensor([1, 2], requires_grad=True, name="n", dtype=np.int64)


@pytest.mark.parametrize("expression", [
    lambda x: x * 2.0, lambda x: 2.0 * x, lambda x: x + 1, lambda x: 1 - x, lambda x: x / 3.0,
    lambda x: 3.0 / x, lambda x: x ** 2, lambda x: 2.0 ** x, lambda x: x * np.float64(2.0),
    lambda x: mg.exp(x), lambda x: mg.sigmoid(x), lambda x: mg.softmax(x),
    lambda x: mg.where([True, False], x, 0.0), lambda x: x @ np.ones(2),
])
def test_float32_stays_float32_and_constants_do_not_upcast_it(expression):
    x = mg.tensor([1.0, 2.0], requires_grad=True, dtype=np.float32)
    y = expression(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
