"""minigrad.collection_paused: the collector is off inside, its previous state comes back
exactly (nested, concurrent, on exceptions), and deferred garbage is still collected."""
import gc
import threading
import weakref

import numpy as np
import pytest

import minigrad as mg


@pytest.fixture(autouse=True)
def collector_on():
    assert gc.isenabled()
    yield
    assert gc.isenabled(), "a test left the collector off"


class Cycle:
    def __init__(self):
        self.me = self


def test_the_collector_is_off_inside_and_on_after():
    with mg.collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_the_user_turned_off_stays_off():
    gc.disable()
    try:
        with mg.collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_exception_inside_restores_the_collector():
    with pytest.raises(KeyError):
        with mg.collection_paused():
            raise KeyError("boom")
    assert gc.isenabled()


def test_nested_pauses_end_when_the_outermost_ends():
    with mg.collection_paused():
        with mg.collection_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_pauses_in_two_threads_restore_the_state_once_both_have_left():
    entered, leave_first, first_left = threading.Event(), threading.Event(), threading.Event()

    def first():
        with mg.collection_paused():
            entered.set()
            leave_first.wait(5)
        first_left.set()

    thread = threading.Thread(target=first)
    thread.start()
    entered.wait(5)
    with mg.collection_paused():   # enters while the collector is already off (by `first`)
        leave_first.set()
        first_left.wait(5)
        assert not gc.isenabled(), "the first thread's exit ended the second's pause"
    thread.join(5)
    assert gc.isenabled(), "the second thread restored the state it saw (off), not the user's"


def test_garbage_made_while_paused_is_collected_automatically_after_the_pause():
    with mg.collection_paused():
        ref = weakref.ref(Cycle())
        for _ in range(5 * gc.get_threshold()[0]):   # more allocations than a pass waits for
            Cycle.__init__(object.__new__(Cycle))
        assert ref() is not None, "collected while paused"
    for _ in range(50):
        if ref() is None:
            break
        [[] for _ in range(gc.get_threshold()[0] + 1)]  # allocations, no gc.collect()
    assert ref() is None, "the cycle made while paused was never collected"


def test_gc_collect_still_works_inside_a_pause():
    with mg.collection_paused():
        ref = weakref.ref(Cycle())
        gc.collect()
        assert ref() is None


def test_backward_runs_with_the_collector_paused_and_restores_it():
    seen = []
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    x.register_hook(lambda g: seen.append(gc.isenabled()))
    y.backward()
    assert seen == [False] and gc.isenabled()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_a_failing_backward_restores_the_collector():
    @mg.primitive
    def broken(x):
        return x, lambda g, out, x: (g[99],)
    x = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(mg.OpError, match="broken"):
        broken(x).sum().backward()
    assert gc.isenabled()


def test_the_rnn_unroll_builds_its_graph_with_the_collector_paused():
    from rnn import RNN
    seen = []

    def tanh(a):
        seen.append(gc.isenabled())
        return mg.tanh(a)
    RNN(4, 3, 4).unroll(np.array([0, 2, 1]), np.array([1, 2, 3]), activation=tanh)
    assert seen == [False, False, False] and gc.isenabled()
