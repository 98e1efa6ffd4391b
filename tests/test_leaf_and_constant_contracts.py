"""Leaves, constants and comparisons: what they are made of and how numpy sees them."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.tensor import Tensor, apply


def test_the_constructor_makes_a_float64_constant_by_default():
    t = Tensor([1, 2])
    assert t.requires_grad is False and t.dtype == np.float64 and t.is_leaf


def test_a_tensor_made_from_a_tensor_has_its_values():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor(a)
    np.testing.assert_array_equal(b.data, [1.0, 2.0])
    assert not np.shares_memory(a.data, b.data)


def test_constants_and_comparisons_never_need_a_gradient():
    x = mg.tensor([1, 2], dtype=np.int64, requires_grad=False)
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x + 0.5
    assert y.requires_grad is False and y.inputs[1].requires_grad is False
    z = w * 2.0
    assert z.inputs[1].requires_grad is False
    assert (w > 1.5).requires_grad is False
    assert (x + x).requires_grad is False
    with mg.no_grad():
        assert (w * w).requires_grad is False


def test_a_constant_of_a_higher_kind_promotes_as_numpy_does():
    i8 = mg.tensor([1, 2], dtype=np.int8)
    assert (i8 + np.float32(0.5)).dtype == np.float32
    assert (i8 + 0.5).dtype == np.float64
    f32 = mg.tensor([1.0, 2.0], dtype=np.float32)
    assert (f32 * np.float64(2.0)).dtype == np.float32
    assert (f32 * 2).dtype == np.float32


def test_numbers_alone_become_float64_constants():
    out = apply("add", lambda a, b: (a + b, None), [1, 2], {})
    assert out.dtype == np.float64 and float(out) == 3.0
    assert [x.dtype for x in out.inputs] == [np.float64, np.float64]


def test_the_callers_array_used_as_a_constant_stays_writable_and_the_gradient_keeps_its_value():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    a = np.array([3.0, 4.0])
    y = (w * a).sum()
    a[0] = 100.0  # must not raise, and must not change the recorded graph
    y.backward()
    np.testing.assert_array_equal(w.grad, [3.0, 4.0])


def test_a_reduction_to_one_element_holds_a_0d_array():
    s = (mg.tensor([1.0, 2.0], requires_grad=True) * 2).sum()
    assert type(s.data) is np.ndarray and s.shape == ()


def test_numpy_sees_the_data_and_converts_it_on_request():
    t = mg.tensor([1.0, 2.0])
    assert np.asarray(t) is t.data
    as32 = np.asarray(t, dtype=np.float32)
    assert as32.dtype == np.float32 and as32.tolist() == [1.0, 2.0]
    copied = np.array(t, dtype=np.float32, copy=True)
    assert copied.dtype == np.float32 and not np.shares_memory(copied, t.data)
    same = np.array(t, copy=True)
    assert same.dtype == np.float64 and not np.shares_memory(same, t.data)
    with pytest.raises(ValueError, match="needs a copy"):
        np.asarray(t, dtype=np.float32, copy=False)


def test_numpy_sees_a_float32_tensor_as_its_own_float32_array():
    t = mg.tensor([1.0, 2.0], dtype=np.float32)
    assert np.asarray(t) is t.data and np.asarray(t).dtype == np.float32
    assert np.array(t, copy=True).dtype == np.float32
