"""pytest plugin for the mutation run (staged by tools/mutation/stage.py as mutation_plugin.py
and loaded with ``-p mutation_plugin`` from pyproject's ``[tool.mutmut]``).

* Hypothesis runs the ``mutation`` profile: the ``dev`` profile's examples, derandomized (the
  same examples for every mutant and every run, no example database) and without shrinking
  (a mutant is killed by the first failure; shrinking it only spends the time budget).
  ``hypothesis.find`` keeps every phase, its result being by definition the shrunk example
  (the strategies' docstrings show such minimal examples), and gets its determinism from a
  fixed seed instead (derandomized, its search takes 10-100 times longer).
* With a mutant under test, the selected tests run fastest first (by the durations mutmut
  recorded in ``mutmut-stats.json``), so that ``-x`` stops a killed mutant at the cheapest
  failing test instead of after the slow ones collected before it.
* A mutant of minigrad (engine, op table, checkers) does not run the tests of the models built
  on it that only train or compose them (``MODEL_TESTS``: seq2seq, stacked layers, the
  training of every cell: 44 of the fast suite's 118 s). They call every engine function, so
  mutmut selects them for every engine mutant, and each survivor ran them to the end; the
  engine's own tests, the RNN gradient checks against the numpy oracles among them, stay. A
  score so measured can only be lower than the whole suite's.
* ``doctest`` skips mutmut's copies of each function (``x_f__mutmut_3``...): a module's
  docstring examples run once, through the function itself, as in the normal suite.
* Torch, OpenMP and BLAS run one thread per process. mutmut forks its workers from a process
  that has run the suite, and torch's thread pool does not survive a fork: a worker's first
  parallel torch op hangs until the CPU limit, and mutmut counts that timeout as a kill (every
  equivalent GRU mutant checked so far was "killed" so). One thread per worker is also one
  core per worker.
"""
import os

os.environ.update(dict.fromkeys(("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"),
                                "1"))  # before any test module imports torch or numpy

import doctest
import json
import random
from pathlib import Path

import hypothesis
import pytest
from hypothesis import Phase, settings

_find = hypothesis.find


def _shrinking_find(specifier, condition, *, settings=None, **kwargs):
    settings = hypothesis.settings(settings or hypothesis.settings(max_examples=2000),
                                   phases=tuple(Phase), derandomize=False)
    return _find(specifier, condition, settings=settings, random=random.Random(0), **kwargs)


hypothesis.find = _shrinking_find  # before any test module imports it
_doctest_find = doctest.DocTestFinder._find


def _find_without_mutant_copies(self, tests, obj, name, *args):
    if "__mutmut_" not in name:
        _doctest_find(self, tests, obj, name, *args)


doctest.DocTestFinder._find = _find_without_mutant_copies


@pytest.hookimpl(trylast=True)  # after tests/conftest.py has registered and loaded its profiles
def pytest_configure(config):
    settings.register_profile(
        "mutation", parent=settings.get_profile("dev"), derandomize=True, database=None,
        phases=[phase for phase in Phase if phase not in (Phase.shrink, Phase.explain)])
    settings.load_profile("mutation")


MODEL_TESTS = ("tests/test_seq2seq.py", "tests/test_stack.py", "tests/test_train_cells.py")


def pytest_collection_modifyitems(config, items):
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    stats = Path("mutmut-stats.json")
    if "__mutmut_" not in mutant or not stats.exists():
        return
    if mutant.startswith("minigrad."):
        dropped = [item for item in items if item.nodeid.startswith(MODEL_TESTS)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [item for item in items if not item.nodeid.startswith(MODEL_TESTS)]
    duration = json.loads(stats.read_text())["duration_by_test"]
    items.sort(key=lambda item: duration.get(item.nodeid, 0.0))
