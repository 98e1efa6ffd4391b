"""Shared test configuration: Hypothesis profiles, Graphviz and Chromium required on CI.

Pick a profile with ``HYPOTHESIS_PROFILE=dev|ci|thorough`` (default ``dev``)."""
import os
import shutil

import pytest
from hypothesis import settings

settings.register_profile("dev", max_examples=15, deadline=None)
settings.register_profile("ci", parent=settings.get_profile("ci"), max_examples=50, deadline=None)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session", autouse=True)
def graphviz_on_ci():
    """On CI the graph-drawing tests must run, so a missing `dot` stops the session."""
    if os.environ.get("CI") and shutil.which("dot") is None:
        pytest.exit("Graphviz's `dot` program is required on CI: install it with "
                    "`sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` "
                    "(macOS) or see https://graphviz.org/download/", returncode=1)


CHROMIUM = "/usr/bin/chromium"  # Debian's chromium (make chromium), driven by Playwright


@pytest.fixture(scope="session", autouse=True)
def chromium_on_ci():
    """On CI the explorer's browser tests must run, so a missing Chromium stops the session."""
    if os.environ.get("CI") and not os.access(CHROMIUM, os.X_OK):
        pytest.exit(f"Chromium is required on CI at {CHROMIUM}: install it with "
                    "`sudo apt-get install chromium` (Debian/Ubuntu), or run `make chromium`",
                    returncode=1)
