"""Which rules of ``minigrad.RULES`` a test module exercises.

A module makes one :class:`Coverage`, declares with ``@coverage.covers(...)`` the rules
each test exercises (checked: every declared op must appear in a graph the test passed
to ``coverage.seen``), and fails the suite in a test asserting ``coverage.missing()``
is empty, so a rule added to the table without a test there is noticed.
"""
import functools

import minigrad as mg
from minigrad.tensor import topological_order


class Coverage:
    def __init__(self):
        self.covered: set[str] = set()
        self._seen: set[str] = set()

    def covers(self, *ops):
        """Declare the rules a test exercises; the test fails if one never shows up in its
        graphs (only the rule named by its ``op`` argument, for a test parametrized over
        rules)."""
        def decorate(test):
            self.covered.update(ops)

            @functools.wraps(test)
            def run(*args, **kwargs):
                self._seen.clear()
                test(*args, **kwargs)
                missing = ({kwargs["op"]} if "op" in kwargs else set(ops)) - self._seen
                assert not missing, f"declared but never recorded: {missing}"
            return run
        return decorate

    def seen(self, out):
        """Record the ops of ``out``'s graph; returns ``out``."""
        self._seen.update(node.op for node in topological_order([out]))
        return out

    def missing(self) -> set[str]:
        """The rules of the table no test declared."""
        return set(mg.RULES) - self.covered
