"""The op table's conventions, defaults and edge cases, each at a point chosen to show it.

These complement the randomized rule checks in test_ops.py with the cases that a small,
derandomized sample of shapes can miss (the mutation run found them: docs/mutation.md).
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import gradcheck

TOL = dict(atol=1e-6, rtol=1e-5)


def grad_of(fn, x):
    leaf = mg.tensor(x, requires_grad=True)
    fn(leaf).backward()
    return leaf.grad


def test_cross_entropy_mean_is_the_sum_over_the_number_of_targets():
    logits = np.array([[0.5, -1.0, 2.0], [0.0, 0.3, -0.2], [1.5, 1.5, -3.0], [0.1, 0.2, 0.3]])
    targets = [2, 0, 1, 1]
    total = mg.cross_entropy(mg.tensor(logits), targets, reduction="sum").item()
    mean = mg.cross_entropy(mg.tensor(logits), targets, reduction="mean").item()
    assert mean == pytest.approx(total / 4, rel=1e-12)
    np.testing.assert_allclose(
        grad_of(lambda x: mg.cross_entropy(x, targets, reduction="mean"), logits),
        grad_of(lambda x: mg.cross_entropy(x, targets, reduction="sum"), logits) / 4,
        rtol=1e-12)
    x = mg.tensor(logits, requires_grad=True)
    assert gradcheck(lambda x: mg.cross_entropy(x, targets, reduction="mean"), x, **TOL)


def test_cross_entropy_takes_plain_arrays_as_logits():
    logits = np.log(np.array([[0.25, 0.75]]))
    assert mg.cross_entropy(logits, [1]).item() == pytest.approx(-np.log(0.75), rel=1e-12)


@pytest.mark.parametrize("x", [0.0, -0.5, -2.0])
def test_pow_derivative_in_the_exponent_is_zero_where_the_base_is_not_positive(x):
    base, exponent = mg.tensor([x], requires_grad=True), mg.tensor([2.0], requires_grad=True)
    (base ** exponent).sum().backward()
    assert exponent.grad.tolist() == [0.0]                 # the documented convention
    assert base.grad.tolist() == [pytest.approx(2 * x)]    # y x^(y-1) as usual


@pytest.mark.parametrize("op", [mg.sum, mg.mean, mg.max])
def test_reductions_default_to_all_axes_without_keeping_them(op):
    x = np.array([[1.0, 4.0, 2.0], [3.0, -1.0, 0.5]])
    out = op(mg.tensor(x))
    assert out.shape == ()
    assert out.item() == pytest.approx(getattr(np, op.__name__)(x))


@pytest.mark.parametrize("op", [mg.sum, mg.mean, mg.max])
@pytest.mark.parametrize("axis", [0, 1, -1, (0, 2), None])
def test_keepdims_does_not_change_the_gradient(op, axis):
    x = np.random.default_rng(7).permutation(24).reshape(2, 3, 4) / 7.0  # distinct: one max
    kept = grad_of(lambda t: (op(t, axis=axis, keepdims=True) ** 2).sum(), x)
    dropped = grad_of(lambda t: (op(t, axis=axis, keepdims=False) ** 2).sum(), x)
    np.testing.assert_allclose(kept, dropped, rtol=1e-12)
    t = mg.tensor(x, requires_grad=True)
    assert gradcheck(lambda t: (op(t, axis=axis, keepdims=True) ** 2).sum(), t, **TOL)


def test_mean_over_an_empty_axis_has_an_empty_gradient():
    x = mg.tensor(np.zeros((0, 3)), requires_grad=True)
    mg.mean(x, axis=1).sum().backward()
    assert x.grad.shape == (0, 3)


@pytest.mark.parametrize("shape, index", [
    ((3, 4), (slice(None), np.array([2, 0, 2]))),
    ((3, 4), (slice(1, None), np.array([1, 1]))),
    ((3, 4), (slice(None, None, -1), np.array([0, 2]))),
    ((3, 4), (slice(None), np.array([True, False, True, True]))),
    ((2, 3, 4), (slice(None), np.array([2, 2, 0]))),
])
def test_gathered_columns_get_the_gradients_of_every_row_they_reach(shape, index):
    x = np.arange(float(np.prod(shape))).reshape(shape)
    g = np.random.default_rng(0).standard_normal(x[index].shape)
    expected = np.zeros_like(x)
    np.add.at(expected, index, g)       # numpy's own scatter-add, the definition
    t = mg.tensor(x, requires_grad=True)
    t[index].backward(g)
    np.testing.assert_array_equal(t.grad, expected)


@pytest.mark.parametrize("index", [1, (slice(None), np.array([0, 2, 2])), np.array([1, 1])])
def test_a_float32_tensor_gets_a_float32_gradient_through_indexing(index):
    x = mg.tensor(np.ones((3, 3)), requires_grad=True, dtype=np.float32)
    x[index].sum().backward()
    assert x.grad.dtype == np.float32


def test_where_takes_a_boolean_tensor_as_condition():
    condition = mg.tensor([True, False], dtype=bool)
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    out = mg.where(condition, x, -1.0)
    out.sum().backward()
    assert out.data.tolist() == [1.0, -1.0] and x.grad.tolist() == [1.0, 0.0]


def test_where_names_the_condition_dtype_it_refuses():
    with pytest.raises(TypeError, match="int64"):
        mg.where(np.array([1, 0]), mg.tensor([1.0, 2.0]), 0.0)


def test_the_zeroth_power_has_zero_gradient_whatever_the_upstream_gradient():
    x = mg.tensor([0.0, 2.0, -1.0], requires_grad=True)
    (x ** 0).backward(np.array([0.0, 1.0, -3.0]))
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("extremum", [mg.max, mg.min])
def test_a_float32_extremum_gets_a_float32_gradient_shared_between_ties(extremum):
    x = mg.tensor([1.0, 3.0, 3.0, 1.0], requires_grad=True, dtype=np.float32)
    extremum(x).backward()
    assert x.grad.dtype == np.float32
    tied = [0.0, 0.5, 0.5, 0.0] if extremum is mg.max else [0.5, 0.0, 0.0, 0.5]
    assert x.grad.tolist() == tied


def test_cross_entropy_takes_a_plain_list_as_logits():
    logits = np.log([[0.25, 0.75]]).tolist()
    assert mg.cross_entropy(logits, [1]).item() == pytest.approx(-np.log(0.75), rel=1e-12)


def test_cross_entropy_of_no_targets_over_one_class_is_zero():
    logits = mg.tensor(np.zeros((0, 1)), requires_grad=True)
    loss = mg.cross_entropy(logits, np.zeros(0, dtype=int))
    loss.backward()
    assert loss.item() == 0.0 and logits.grad.shape == (0, 1)


def test_cross_entropy_errors_name_the_call_with_the_logits_name_and_both_shapes():
    with pytest.raises(ValueError) as caught:
        mg.cross_entropy(mg.tensor(np.zeros((2, 3))), [0, 1, 2])
    assert str(caught.value).startswith("cross_entropy(logits (2, 3), targets (3,)): targets must")
    with pytest.raises(ValueError) as caught:
        mg.cross_entropy(mg.tensor(np.zeros((2, 3)), name="z"), [0, 1, 2])
    assert str(caught.value).startswith("cross_entropy(logits z")
    with pytest.raises(ValueError, match=r"^cross_entropy\(logits \(\), targets \(\)\): logits "
                                         r"need a class axis$"):
        mg.cross_entropy(mg.tensor(0.0), 0)
