"""The lazy gradients (minigrad.lazy) on their own: whatever the order and grouping in which
contributions are added, and whether or not a batch was already summed (CHUNK), the dense sum
is the sum of the dense contributions, and ``size`` counts the units of work waiting."""
import doctest

import numpy as np
import pytest

import minigrad.lazy
from minigrad.lazy import Columns, Outer


def outer(rows, seed):
    rng = np.random.default_rng(seed)
    return Outer(rng.normal(size=(rows, 3)), rng.normal(size=(rows, 4)))


def columns(k, seed):
    rng = np.random.default_rng(seed)
    return Columns(rng.normal(size=(3, k)), rng.integers(0, 5, size=k), (3, 5))


def dense_outer(g: Outer):
    return sum(u.T @ v for u, v in g.parts) + (0 if g.done is None else g.done)


@pytest.mark.parametrize("make, chunk", [(outer, Outer.CHUNK), (columns, Columns.CHUNK)])
def test_a_sum_of_sums_is_the_sum_of_every_contribution(make, chunk):
    """Two sums that have each summed a batch already (done) added together: the total
    counts every contribution once (nothing of the other's done lost or doubled)."""
    pieces = [make(chunk // 2 + 1, seed) for seed in range(6)]
    expected = sum(p.dense() for p in pieces)
    left, right = pieces[0], pieces[3]
    for p in pieces[1:3]:
        left = left.add(p)
    for p in pieces[4:]:
        right = right.add(p)
    assert left.done is not None and right.done is not None   # each summed a batch
    np.testing.assert_allclose(left.add(right).dense(), expected, rtol=1e-12, atol=1e-12)


def test_size_counts_the_rows_waiting_and_restarts_after_a_batch():
    g = outer(2, 0).add(outer(3, 1))
    assert g.size == 5 and len(g.parts) == 2
    g = g.add(outer(Outer.CHUNK - 5, 2))           # reaches CHUNK: summed into done
    assert g.size == 0 and g.parts == [] and g.done is not None
    assert g.add(outer(1, 3)).size == 1


def test_a_batch_is_summed_exactly_when_chunk_units_wait():
    g = outer(Outer.CHUNK - 1, 0)
    assert g.add(outer(0, 1)).done is None          # CHUNK − 1 rows: still waiting
    assert g.add(outer(1, 2)).done is not None      # CHUNK rows: one batch


def test_dense_leaves_the_sum_as_it_was():
    g = outer(Outer.CHUNK, 0).add(outer(2, 1))
    first = g.dense()
    first += 1.0
    np.testing.assert_allclose(g.dense(), first - 1.0, rtol=1e-12)
    np.testing.assert_allclose(g.dense(), dense_outer(g), rtol=1e-12)


def test_docstring_examples_run():
    failed, attempted = doctest.testmod(minigrad.lazy)
    assert attempted > 0 and failed == 0
