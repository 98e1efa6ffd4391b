"""The analytic oracles never load the engine they check: each oracle module, the package
rnn.oracles, the shared input checks (rnn.inputs) and the bare `rnn` package import in a fresh
interpreter without minigrad in sys.modules (rnn/__init__.py exports lazily)."""
import pkgutil
import subprocess
import sys

import pytest

import rnn.oracles

ORACLES = sorted(f"rnn.oracles.{m.name}" for m in pkgutil.iter_modules(rnn.oracles.__path__))
SCRIPT = """
import sys, importlib
module = importlib.import_module({module!r})
loaded = sorted(m for m in sys.modules if m == "minigrad" or m.startswith("minigrad."))
assert not loaded, f"importing {module!r} loaded {{loaded}}"
"""


def test_every_oracle_module_is_checked():
    assert {"rnn.oracles.vanilla", "rnn.oracles.head", "rnn.oracles.seed_formulas",
            "rnn.oracles.rop"} <= set(ORACLES)


@pytest.mark.parametrize("module", ["rnn", "rnn.inputs", "rnn.tasks", "rnn.layout",
                                    "rnn.oracles", *ORACLES])
def test_importing_loads_no_minigrad(module):
    subprocess.run([sys.executable, "-c", SCRIPT.format(module=module)], check=True, timeout=60)


def test_the_check_would_see_minigrad():
    """The script does fail when the import loads the engine (here rnn.model)."""
    run = subprocess.run([sys.executable, "-c", SCRIPT.format(module="rnn.model")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "loaded ['minigrad'" in run.stderr
