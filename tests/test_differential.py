"""Random programs over every public op, minigrad against two independent engines:
values and gradients equal to 1e-10 of each array's scale.

The programs (minigrad.testing.graphs.programs) have fan-out, broadcasting, operands
used twice, every form of call, Tensor indices and gradients, negative axes, index
arrays of every integer dtype, masks, exponents 0 and 1 and size-0 arrays. The
oracles (minigrad.testing.differential) are HIPS autograd over formulas written from
the definitions, and PyTorch's own ops; the conventions that differ on purpose are
listed in that module's docstring and in the README (Testing).
"""
import autograd.numpy as anp
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import minigrad as mg
from minigrad.tensor import apply
from minigrad.testing.differential import check_program, differential_check
from minigrad.testing.graphs import OPS, programs

# ~15 programs per oracle under the dev profile (~10 steps each), 50 on CI, 1000 thorough.
SETTINGS = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.mark.parametrize("oracle", ["autograd", "torch"])
@SETTINGS
@given(program=programs(max_steps=12))
def test_random_programs_agree_with_an_independent_engine(oracle, program):
    check_program(program, oracle)




@pytest.mark.parametrize("op", OPS)
@SETTINGS
@given(data=st.data())
def test_each_op_in_random_programs_agrees_with_autograd(op, data):
    """Programs over one op (and leaves), so that every op is exercised under any profile."""
    program = data.draw(programs(max_steps=6, ops=(op,)))
    check_program(program, "autograd")


def wrong_square(scale):
    """x ** 2 whose VJP is multiplied by ``scale`` (1 is the correct rule)."""
    def forward(x):
        return x * x, lambda g, out, x: (scale * 2 * g * x,)
    return lambda x: apply("wrong_square", forward, (x,), {})


@pytest.mark.parametrize("oracle", ["autograd", "torch"])
def test_the_differential_check_catches_a_vjp_off_by_a_millionth(oracle):
    x, square = [[0.5, -1.5], [2.0, 0.25]], lambda x: x * x  # the same text in both oracles
    assert differential_check(wrong_square(1.0), square, x, oracle=oracle)
    with pytest.raises(AssertionError, match="gradient of input 0"):
        differential_check(wrong_square(1 + 1e-6), square, x, oracle=oracle)


def test_the_differential_check_catches_a_wrong_value():
    with pytest.raises(AssertionError, match="value"):
        differential_check(lambda x: mg.tanh(x) * 1.001, lambda x: anp.tanh(x), [0.5, 1.0])


@pytest.mark.parametrize("oracle", ["autograd", "torch"])
@SETTINGS
@given(program=programs(max_steps=10))
def test_second_derivatives_agree_with_an_independent_engine(oracle, program):
    """Hessian-vector products: minigrad differentiating its own backward pass
    (grad with create_graph=True, twice) against the oracle's second derivatives."""
    check_program(program, oracle, order=2)
