"""The public API: every name documented with an example that runs, constructors."""
import doctest
import importlib

import numpy as np
import pytest

import minigrad as mg


@pytest.mark.parametrize("name", [n for n in mg.__all__ if n != "RULES"])
def test_every_public_name_has_a_docstring_with_an_example(name):
    assert ">>>" in (getattr(mg, name).__doc__ or ""), f"mg.{name} has no example"


@pytest.mark.parametrize("module", ["minigrad", "minigrad.tensor", "minigrad.ops",
                                    "minigrad.functional", "minigrad.collector",
                                    "minigrad.checkpoint"])
def test_the_examples_run_as_printed(module):
    failed, attempted = doctest.testmod(importlib.import_module(module))
    assert attempted > 0 and failed == 0


def test_constructors_make_leaves_of_the_asked_shape_and_dtype():
    z = mg.zeros((2, 3), requires_grad=True, name="z")
    assert z.shape == (2, 3) and z.dtype == np.float64 and z.requires_grad and z.name == "z"
    assert not z.data.any() and mg.ones(4).data.tolist() == [1.0] * 4
    assert mg.arange(2, 8, 2).data.tolist() == [2.0, 4.0, 6.0]
    assert mg.arange(3, dtype=np.int64).dtype == np.int64
    a, b = mg.randn(3, 2, seed=7), mg.randn((3, 2), seed=7)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.data, np.random.default_rng(7).standard_normal((3, 2)))
    with pytest.raises(TypeError, match="floating dtype"):
        mg.zeros(2, requires_grad=True, dtype=np.int64)


def test_a_users_own_primitive_is_not_listed_among_minigrads_rules():
    @mg.primitive
    def twice(x):
        return 2 * x, lambda g, out, x: (2 * g,)

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    twice(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    assert "twice" not in mg.RULES and twice(x).op == "twice"


def test_the_rule_table_maps_each_op_to_its_rule():
    """``RULES[name]`` is the function written in minigrad/ops.py (the explorer shows its
    source): forward and VJP of the op ``name``, a leading _ marking a public wrapper."""
    assert {"add", "tanh", "matmul", "concat", "cross_entropy"} <= set(mg.RULES)
    for name, rule in mg.RULES.items():
        assert callable(rule) and rule.__name__.lstrip("_") == name, name
        assert rule.__module__ == "minigrad.ops", name


def test_the_reducing_methods_default_to_all_axes_without_kept_dims():
    """``x.mean()``, ``x.max()``, ``x.min()``, ``x.sum()`` reduce every axis to a 0-d
    tensor as numpy's methods do; ``x.softmax()`` normalises over the last axis, or the one
    asked for."""
    a = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]])
    x = mg.tensor(a)
    for method in ("mean", "max", "min", "sum"):
        result = getattr(x, method)()
        assert result.shape == () and result.item() == getattr(a, method)(), method
        kept = getattr(x, method)(axis=1, keepdims=True)
        np.testing.assert_array_equal(kept.data, getattr(a, method)(axis=1, keepdims=True))
    for axis, method in ((-1, x.softmax()), (-1, x.softmax(axis=1)), (0, x.softmax(axis=0))):
        e = np.exp(a - a.max(axis=axis, keepdims=True))
        np.testing.assert_allclose(method.data, e / e.sum(axis=axis, keepdims=True), rtol=1e-15)
