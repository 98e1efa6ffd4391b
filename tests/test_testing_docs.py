"""minigrad.testing is for users: every public function and class has a docstring
example, and every example runs."""
import doctest
import importlib
import inspect

import pytest

MODULES = ["minigrad.testing", "minigrad.testing.strategies", "minigrad.testing.rnn",
           "minigrad.testing.graphs", "minigrad.testing.differential", "minigrad.testing.higher"]


@pytest.mark.filterwarnings("ignore:invalid value encountered in log")  # GradcheckError
@pytest.mark.parametrize("name", MODULES)
def test_every_public_name_has_a_docstring_example_that_runs(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    documented = [public for public in module.__all__  # functions and classes, not constants
                  if inspect.isfunction(getattr(module, public))
                  or inspect.isclass(getattr(module, public))]
    without = [public for public in documented
               if not any(t.examples for t in finder.find(getattr(module, public), public,
                                                        globs={}))]
    assert without == [], f"{name}: no docstring example for {without}"
    failed, attempted = doctest.testmod(module)
    assert attempted > 0 and failed == 0
