"""The LSTM cell on minigrad (rnn.cells.lstm): its initialisation, PyTorch's state_dict
layout in both directions, and the errors for bad parameters and state_dicts."""
from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch
from hypothesis import example, given, strategies as st

import rnn.cells.lstm
from rnn.cells import CELLS
from rnn.cells.lstm import LSTMCell

TORCH_KEYS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
sizes = st.integers(1, 6)


def test_registered_as_lstm():
    assert CELLS["lstm"] is LSTMCell
    assert LSTMCell.kind == "lstm" and LSTMCell.state_names == ("h", "c")


@given(sizes, sizes)
@example(16, 32)
def test_parameters_have_pytorch_shapes_and_initialisation(D, H):
    """PyTorch's default U(−1/√H, 1/√H) for all four (nn.LSTM.reset_parameters), or U(−s, s)
    with s = scale. All n = 4H(D + H + 2) draws stay below r·bound with probability r^n, so
    the largest |value| reaches 1e-9^(1/n)·bound except once in 1e9 (0.9968·bound for the
    example's n = 6,400: a distribution 0.4% narrower is caught)."""
    cell = LSTMCell(D, H)
    assert cell.parameter_shapes() == {"W_ih": (4 * H, D), "W_hh": (4 * H, H), "b_ih": (4 * H,),
                                       "b_hh": (4 * H,)}
    for scale, bound in ((None, 1 / np.sqrt(H)), (0.3, 0.3)):
        arrays = cell.init_parameters(np.random.default_rng(0), scale)
        assert {n: a.shape for n, a in arrays.items()} == cell.parameter_shapes()
        values = np.concatenate([a.ravel() for a in arrays.values()])
        assert values.dtype == np.float64
        assert np.all(np.abs(values) <= bound)
        assert np.abs(values).max() >= 1e-9 ** (1 / values.size) * bound


@given(sizes, sizes, st.floats(-5, 5))
def test_forget_bias_sets_the_forget_block_of_the_bias_sum(D, H, forget_bias):
    """b_ih + b_hh is forget_bias in the forget block (b_ih holds it, b_hh 0); the other blocks
    and the weights are drawn as without the option (same generator state)."""
    plain = LSTMCell(D, H).init_parameters(np.random.default_rng(1), None)
    biased = LSTMCell(D, H, forget_bias=forget_bias).init_parameters(np.random.default_rng(1),
                                                                     None)
    forget = slice(H, 2 * H)
    np.testing.assert_array_equal(biased["b_ih"][forget], forget_bias)
    np.testing.assert_array_equal(biased["b_hh"][forget], 0.0)
    for name in plain:
        keep = np.ones(len(plain[name]), bool)
        if name.startswith("b_"):
            keep[forget] = False
        np.testing.assert_array_equal(biased[name][keep], plain[name][keep])


@pytest.mark.parametrize("forget_bias", [np.nan, np.inf, "1", True, [1.0], 1j, np.complex128(1)])
def test_forget_bias_must_be_a_finite_number(forget_bias):
    with pytest.raises(ValueError, match=r"forget_bias must be a finite number or None, got"):
        LSTMCell(3, 2, forget_bias=forget_bias)


@pytest.mark.parametrize("forget_bias", [1, -2.5, np.float32(0.5), np.int64(3)])
def test_forget_bias_takes_any_real_number(forget_bias):
    cell = LSTMCell(3, 2, forget_bias=forget_bias)
    assert cell.forget_bias == float(forget_bias) and type(cell.forget_bias) is float
    assert repr(cell) == f"LSTMCell(input_size=3, hidden_size=2, forget_bias={float(forget_bias)})"


def test_unknown_options_are_named():
    with pytest.raises(TypeError, match=r"forget_gate_bias"):
        LSTMCell(3, 2, forget_gate_bias=1.0)


# -- PyTorch's state_dict ----------------------------------------------------------------

@given(sizes, sizes, st.integers(0, 2 ** 32 - 1))
def test_a_state_dict_goes_through_us_and_back_unchanged(D, H, seed):
    """nn.LSTM's state_dict → from_torch → to_torch → load_state_dict into a fresh nn.LSTM:
    the same tensors bit for bit; and our names carry the same arrays as torch's keys."""
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(D, H, dtype=torch.float64)
    state_dict = {k: v.numpy() for k, v in lstm.state_dict().items()}
    assert sorted(state_dict) == sorted(TORCH_KEYS)
    cell = LSTMCell(D, H)
    ours = cell.from_torch(state_dict)
    for name, key in zip(("W_ih", "W_hh", "b_ih", "b_hh"), TORCH_KEYS):
        np.testing.assert_array_equal(ours[name], state_dict[key])
    back = torch.nn.LSTM(D, H, dtype=torch.float64)
    back.load_state_dict({k: torch.from_numpy(v) for k, v in cell.to_torch(ours).items()})
    for key, value in back.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), state_dict[key])


def test_to_torch_and_from_torch_copy():
    """Changing what came out never changes what went in (float64 copies both ways)."""
    cell = LSTMCell(2, 3)
    arrays = cell.init_parameters(np.random.default_rng(0), None)
    before = {n: a.copy() for n, a in arrays.items()}
    for out in (cell.to_torch(arrays), cell.from_torch(cell.to_torch(arrays))):
        for value in out.values():
            value[...] = 7.0
    for name in arrays:
        np.testing.assert_array_equal(arrays[name], before[name])


def valid_state_dict(H=3, D=2, G=4):
    return {"weight_ih_l0": np.zeros((G * H, D)), "weight_hh_l0": np.zeros((G * H, H)),
            "bias_ih_l0": np.zeros(G * H), "bias_hh_l0": np.zeros(G * H)}


@pytest.mark.parametrize("state_dict, error, message", [
    ({k: v for k, v in valid_state_dict().items() if k != "bias_hh_l0"}, KeyError,
     r"missing parameter\(s\) \['bias_hh_l0'\]"),
    ({**valid_state_dict(), "weight_ih_l1": np.zeros((12, 3))}, KeyError,
     r"unknown parameter 'weight_ih_l1'"),
    ({"weight": np.zeros((12, 2)), **valid_state_dict()}, KeyError, r"unknown parameter 'weight'"),
    (valid_state_dict(G=3), ValueError,      # a GRU's: 3H rows
     r"weight_ih_l0 must have shape \(12, 2\) \(4H×D; H = 3, D = 2\), got \(9, 2\)"),
    (valid_state_dict(D=5), ValueError, r"weight_ih_l0 must have shape \(12, 2\) .*got \(12, 5\)"),
    (valid_state_dict(H=4), ValueError, r"must have shape \(12, 2\) \(4H×D; H = 3, D = 2\), "
                                        r"got \(16, 2\)"),
    ({**valid_state_dict(), "bias_hh_l0": np.zeros((12, 1))}, ValueError,
     r"bias_hh_l0 must have shape \(12,\) \(\(4H,\); H = 3, D = 2\), got \(12, 1\)"),
    ({**valid_state_dict(), "weight_hh_l0": np.full((12, 3), np.nan)}, ValueError,
     r"weight_hh_l0 contains non-finite values"),
    ({**valid_state_dict(), "bias_ih_l0": np.zeros(12, complex)}, TypeError,
     r"bias_ih_l0 must be a real \(integer or float\) array, got dtype complex128"),
])
def test_a_bad_state_dict_is_refused_by_name(state_dict, error, message):
    with pytest.raises(error, match=message):
        LSTMCell(2, 3).from_torch(state_dict)


@pytest.mark.parametrize("changes, error, message", [
    (dict(W_ih=np.zeros((9, 2))), ValueError,
     r"parameter W_ih must have shape \(12, 2\) \(4H×D; H = 3, D = 2\), got \(9, 2\)"),
    (dict(b_ih=np.zeros(3)), ValueError, r"parameter b_ih must have shape \(12,\) \(\(4H,\)"),
    (dict(U=np.zeros((3, 2))), KeyError, r"unknown parameter 'U'"),   # a vanilla cell's
])
def test_to_torch_refuses_parameters_of_another_shape_or_cell(changes, error, message):
    cell = LSTMCell(2, 3)
    arrays = {**cell.init_parameters(np.random.default_rng(0), None), **changes}
    with pytest.raises(error, match=message):
        cell.to_torch(arrays)


def test_to_torch_names_a_missing_parameter():
    cell = LSTMCell(2, 3)
    arrays = cell.init_parameters(np.random.default_rng(0), None)
    del arrays["W_hh"]
    with pytest.raises(KeyError, match=r"missing parameter\(s\) \['W_hh'\]"):
        cell.to_torch(arrays)


def test_docstring_examples_run():
    failed, attempted = doctest.testmod(rnn.cells.lstm)
    assert attempted > 0 and failed == 0
