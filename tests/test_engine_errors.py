"""Bad input gets a clear error naming what was wrong: the op, its operands (name or
kind, shape, dtype), its parameters, and numpy's own reason."""
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.tensor import OpIndexError, apply

OPERANDS = re.compile(r"^op '(\w+)' failed on operands \[(.*)\](?: with (.*))?: (.+)$")


def _failure(error):
    match = OPERANDS.match(str(error))
    assert match, f"message does not name op and operands: {error}"
    return match.groups()


def test_a_failed_op_names_op_and_every_operand_but_no_parameters_it_lacks():
    x, y = mg.tensor([1.0, 2.0], requires_grad=True), mg.tensor([1.0, 2.0, 3.0])
    with pytest.raises(mg.OpError) as caught:
        x @ y
    op, operands, params, reason = _failure(caught.value)
    assert (op, operands, params) == (
        "matmul", "'leaf' (2,) float64, 'constant' (3,) float64", None)
    assert "mismatch" in reason or "size" in reason


def test_an_index_out_of_range_names_op_operand_index_and_numpys_reason():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True, name="x")
    with pytest.raises(IndexError) as caught:
        x[5]
    assert isinstance(caught.value, OpIndexError)
    op, operands, params, reason = _failure(caught.value)
    assert (op, operands, params) == ("getitem", "'x' (3,) float64", "{'index': 5}")
    assert "out of bounds" in reason and "5" in reason


def test_a_bad_parameter_is_named_with_its_value():
    x = mg.tensor([1.0, 2.0, 3.0], name="x")
    with pytest.raises(mg.OpError) as caught:
        x.reshape(4)
    op, operands, params, _ = _failure(caught.value)
    assert (op, operands) == ("reshape", "'x' (3,) float64")
    assert params is not None and "4" in params


def test_a_ragged_constant_names_op_and_the_constant():
    x = mg.tensor([1.0, 2.0], name="x")
    ragged = r"op 'add': constant operand \[\[1\.0\], \[1\.0, 2\.0\]\]"
    with pytest.raises(mg.OpError, match=ragged):
        x + [[1.0], [1.0, 2.0]]


def test_a_complex_constant_names_op_constant_and_dtype():
    x = mg.tensor([1.0, 2.0], name="x")
    with pytest.raises(TypeError, match=r"op 'mul': constant operand 1j.*complex128"):
        x * 1j


@pytest.mark.parametrize("value, fits", [(127, True), (128, False), (-128, True), (-129, False)])
def test_an_integer_constant_must_fit_the_tensors_integer_dtype(value, fits):
    x = mg.tensor([1, 2], dtype=np.int8, name="x")
    if fits:
        assert (x * 0 + value).data.tolist() == [value, value]
        assert (x * 0 + value).dtype == np.int8
    else:
        with pytest.raises(mg.OpError, match=rf"op 'add': constant operand {value}.*int8"):
            x * 0 + value


def test_a_complex_tensor_is_refused_naming_the_tensor_and_dtype():
    with pytest.raises(TypeError, match=r"^tensor 'z': dtype complex128 is not supported"):
        mg.tensor([1.0], dtype=complex, name="z")


@pytest.mark.parametrize("data, shown", [
    ([1j], r"list of shape \(1,\), values \[0\.\+1\.j\]"),
    (2 + 1j, r"complex of shape \(\), values \[2\.\+1\.j\]"),
    (np.array([[1.0], [2j]]), r"ndarray of shape \(2, 1\), values \[1\.\+0\.j, 0\.\+2\.j\]"),
    ([np.complex64(1.5)], r"list of shape \(1,\), values \[1\.5\+0\.j\]")])
def test_complex_data_is_refused_naming_what_was_passed_and_the_supported_dtypes(data, shown):
    """Without a dtype numpy either fails naming no tensor or silently drops the
    imaginary part (a complex array cast to float64 only warns)."""
    with pytest.raises(TypeError) as caught:
        mg.tensor(data, name="z")
    message = str(caught.value)
    assert re.match(rf"tensor 'z' from a {shown}: dtype complex(64|128) is not supported", message)
    assert "real floating, integer and boolean arrays" in message


def test_a_name_that_is_not_a_string_is_refused_naming_its_type():
    with pytest.raises(TypeError, match=r"got 3 \(int\)"):
        mg.tensor(1.0, name=3)


def test_one_element_conversions_name_the_call_and_the_tensor():
    v = mg.tensor([1.0, 2.0], name="v")
    with pytest.raises(TypeError, match=r"item\(\) needs a one-element tensor, got 'v' \(2,\)"):
        v.item()


def test_len_is_the_first_axis_and_a_0d_tensor_has_none():
    assert len(mg.tensor([1.0, 2.0, 3.0])) == 3
    assert len(mg.zeros((4, 2))) == 4
    with pytest.raises(TypeError, match=r"len\(\) of 0-d tensor 's' \(\) float64"):
        len(mg.tensor(1.0, name="s"))


def test_backward_from_something_that_is_not_a_tensor_names_it():
    with pytest.raises(TypeError, match=r"backward from 3\.5, which is not a Tensor"):
        mg.backward([3.5])


def test_a_complex_upstream_gradient_names_the_output():
    y = (mg.tensor([1.0, 2.0], requires_grad=True) * 2).named("y")
    with pytest.raises(TypeError, match=r"gradient given for 'y' \(2,\) float64.*complex128"):
        y.backward(np.array([1j, 1j]))


def test_a_non_finite_gradient_under_detect_anomaly_names_node_and_operands():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    w = mg.tensor([3.0, 4.0], requires_grad=True, name="w")
    y = (x * w).named("y")
    with mg.detect_anomaly(), pytest.raises(FloatingPointError) as caught:
        y.backward(np.array([np.inf, 1.0]))
    message = str(caught.value)
    assert "'y' (2,) float64" in message
    assert "(operands: 'x' (2,) float64, 'w' (2,) float64)" in message


def test_assigning_new_data_before_a_second_order_pass_names_the_tensor_and_op():
    x = mg.tensor([1.0, 2.0], requires_grad=True, name="x")
    y = (x * x).sum()
    x.data = np.array([5.0, 6.0])
    stale = r"'x' \(2,\) float64 was assigned new data after op 'mul'"
    with pytest.raises(mg.OpError, match=stale):
        y.backward(create_graph=True)


def _op_with_vjp(vjp, *operands):
    """A user's op through apply: the forward multiplies, the VJP is the one given."""
    return apply("custom", lambda a, b: (a * b, vjp), list(operands), {})


def _pair():
    return (mg.tensor([1.0, 2.0], requires_grad=True, name="a"),
            mg.tensor([3.0, 4.0], requires_grad=True, name="b"))


def test_a_vjp_that_raises_is_named_with_its_operands_and_the_error():
    def vjp(g, out, a, b):
        raise KeyError("lost")
    y = _op_with_vjp(vjp, *_pair())
    with pytest.raises(mg.OpError, match=r"op 'custom' on operands \['a' \(2,\) float64, "
                                         r"'b' \(2,\) float64\] raised KeyError: 'lost'") as caught:
        y.backward(np.ones(2))
    assert isinstance(caught.value.__cause__, KeyError)


def test_a_vjp_returning_too_few_gradients_is_named_with_the_counts():
    y = _op_with_vjp(lambda g, out, a, b: (g * b,), *_pair())
    with pytest.raises(mg.OpError, match=r"op 'custom' returned 1 gradients for 2 operands "
                                         r"\['a' \(2,\) float64, 'b' \(2,\) float64\]"):
        y.backward(np.ones(2))


def test_a_vjp_returning_the_wrong_dtype_is_named_with_dtype_and_operand():
    y = _op_with_vjp(lambda g, out, a, b: (g * b, (g * a).astype(np.float32)), *_pair())
    with pytest.raises(mg.OpError, match=r"op 'custom' returned a float32 gradient for "
                                         r"operand 'b' \(2,\) float64"):
        y.backward(np.ones(2))


def test_a_vjp_returning_the_wrong_shape_is_named_with_shape_and_operand():
    y = _op_with_vjp(lambda g, out, a, b: (g * b, np.ones(3)), *_pair())
    with pytest.raises(mg.OpError, match=r"op 'custom' returned a gradient of shape \(3,\) "
                                         r"for operand 'b' \(2,\) float64"):
        y.backward(np.ones(2))


def test_a_vjp_of_the_right_dtype_and_shape_is_accepted():
    a, b = _pair()
    _op_with_vjp(lambda g, out, a, b: (g * b, g * a), a, b).backward(np.ones(2))
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])
    np.testing.assert_array_equal(b.grad, [1.0, 2.0])


def test_a_vjp_of_the_wrong_shape_is_named_the_same_way_while_observed():
    y = _op_with_vjp(lambda g, out, a, b: (g * b, np.ones(3)), *_pair())
    with mg.observe_backward(lambda event: None), pytest.raises(
            mg.OpError, match=r"op 'custom' returned a gradient of shape \(3,\) "
                              r"for operand 'b' \(2,\) float64"):
        y.backward(np.ones(2))


def test_a_long_complex_array_is_shown_by_at_most_six_values():
    with pytest.raises(TypeError) as caught:
        mg.tensor(np.arange(7) * 1j)
    assert "of shape (7,), values [0.+0.j, 0.+1.j, 0.+2.j, ..., " in str(caught.value)
