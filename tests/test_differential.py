"""Random programs over every public op, minigrad against two independent engines:
values and gradients equal to 1e-10 of each array's scale.

The programs (minigrad.testing.graphs.programs) have fan-out, broadcasting, operands
used twice, every form of call, Tensor indices and gradients, negative axes, index
arrays of every integer dtype, masks, exponents 0 and 1 and size-0 arrays. The
oracles (minigrad.testing.differential) are HIPS autograd over formulas written from
the definitions, and PyTorch's own ops; the conventions that differ on purpose are
listed in that module's docstring and in the README (Testing).
"""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from minigrad.testing.differential import check_program
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
