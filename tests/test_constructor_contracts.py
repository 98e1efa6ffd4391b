"""Every constructor makes a float64 constant leaf by default and passes requires_grad,
name and dtype on to the tensor it makes."""
import re
import warnings

import numpy as np
import pytest

import minigrad as mg

MAKERS = {
    "tensor": lambda **kw: mg.tensor([0.0, 1.0, 2.0], **kw),
    "zeros": lambda **kw: mg.zeros(3, **kw),
    "ones": lambda **kw: mg.ones(3, **kw),
    "arange": lambda **kw: mg.arange(3, **kw),
    "randn": lambda **kw: mg.randn(3, seed=0, **kw),
}


@pytest.mark.parametrize("maker", MAKERS)
def test_a_constructor_makes_a_float64_constant_leaf_by_default(maker):
    t = MAKERS[maker]()
    assert t.requires_grad is False and t.dtype == np.float64 and t.is_leaf
    assert t.shape == (3,) and t.name is None and t.grad is None


@pytest.mark.parametrize("maker", MAKERS)
def test_a_constructor_passes_requires_grad_and_name_on(maker):
    t = MAKERS[maker](requires_grad=True, name="p")
    assert t.requires_grad is True and t.name == "p"
    (t * t).sum().backward()
    np.testing.assert_allclose(t.grad, 2 * t.data)


@pytest.mark.parametrize("maker", ["tensor", "zeros", "ones", "arange"])
def test_a_constructor_passes_dtype_on(maker):
    assert MAKERS[maker](dtype=np.int32).dtype == np.int32
    assert MAKERS[maker](dtype=np.float32, requires_grad=True).dtype == np.float32


def test_the_values_are_what_the_name_says():
    np.testing.assert_array_equal(mg.zeros((2, 3)).data, np.zeros((2, 3)))
    np.testing.assert_array_equal(mg.ones((2, 3)).data, np.ones((2, 3)))
    np.testing.assert_array_equal(mg.arange(1, 7, 2).data, [1.0, 3.0, 5.0])
    np.testing.assert_array_equal(mg.randn(2, 3, seed=4).data,
                                  np.random.default_rng(4).standard_normal((2, 3)))
    assert mg.randn((2, 3), seed=1).shape == mg.randn([2, 3], seed=1).shape == (2, 3)


@pytest.mark.parametrize("value, dtype, bounds", [
    (300, np.int8, "-128..127"), (-1, np.uint8, "0..255"),
    (2 ** 64, np.int64, "-9223372036854775808..9223372036854775807"),
    (10 ** 400, None, "1.7976931348623157e+308")])
def test_a_value_the_dtype_cannot_hold_is_refused_naming_tensor_dtype_and_range(
        value, dtype, bounds):
    with pytest.raises(OverflowError) as caught:
        mg.tensor([1, value], dtype=dtype, name="ids")
    message = str(caught.value)
    assert message.startswith(f"tensor 'ids': {value} is outside ") and bounds in message
    assert np.dtype(dtype or np.float64).name in message


@pytest.mark.parametrize("source, dtype, shown", [
    (np.array([1, 300]), np.int8, "300"),               # numpy's cast would give 44
    (np.array([0, -1], dtype=np.int16), np.uint16, "-1"),  # 65535
    (np.array([2.0, 1e20]), np.int64, "1e+20"),
    (np.array([np.nan]), np.int32, "nan"),
    (np.array([np.inf]), np.uint8, "inf")])
def test_an_array_the_dtype_cannot_hold_is_refused_not_wrapped(source, dtype, shown):
    with pytest.raises(OverflowError, match=rf"^tensor 'ids': {re.escape(shown)} is outside "
                                            rf"{np.dtype(dtype).name}'s range"):
        mg.tensor(source, dtype=dtype, name="ids")


def test_arrays_that_fit_convert_as_numpy_converts_them():
    """In range, an explicit dtype casts as numpy does (floats truncate toward zero)."""
    np.testing.assert_array_equal(mg.tensor(np.array([3.7, -1.2, 127.0]), dtype=np.int8).data,
                                  [3, -1, 127])
    assert mg.tensor(np.array([255], dtype=np.uint8), dtype=np.int16).data.tolist() == [255]
    assert mg.tensor(np.array([True, False]), dtype=np.uint8).data.tolist() == [1, 0]


def test_a_nan_cast_to_integers_is_refused_by_name_even_with_warnings_as_errors():
    """numpy warns when it casts NaN to an integer; the constructor refuses the value itself,
    so a user running with warnings as errors gets the same OverflowError, not numpy's
    RuntimeWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(OverflowError, match=r"^tensor 'ids': nan is outside int32's range"):
            mg.tensor(np.array([1.0, np.nan]), dtype=np.int32, name="ids")


@pytest.mark.parametrize("dtype", [None, np.float32])
def test_floating_tensors_hold_nan_and_infinities_as_numpy_does(dtype):
    """Only an integer dtype is range-checked: NaN and ±inf are floating values."""
    values = [np.nan, np.inf, -np.inf, 1.0]
    t = mg.tensor(values, dtype=dtype)
    np.testing.assert_array_equal(t.data, np.array(values, dtype=dtype or np.float64))
    np.testing.assert_array_equal(mg.tensor(np.array(values)).data, values)
