"""Test settings: one hypothesis profile for the suite (deterministic in CI); `--soak` for the stress tests."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")

# Outcome tables and parsed rule files kept on disk (ansvar._cache) go to a folder of this run's own,
# never the user's.
os.environ["ANSVAR_CACHE_DIR"] = tempfile.mkdtemp(prefix="ansvar-test-cache-")
atexit.register(shutil.rmtree, os.environ["ANSVAR_CACHE_DIR"], ignore_errors=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--soak`: run the stress tests at full size (16 threads x 10,000 routes, 1,000,000 routes)."""
    parser.addoption("--soak", action="store_true", help="run the stress tests at full size (minutes)")


def pytest_configure(config: pytest.Config) -> None:
    """Register the `stress` marker (short by default, full with --soak)."""
    config.addinivalue_line("markers", "stress: load tests; short by default, full size with --soak")


@pytest.fixture
def soak(request: pytest.FixtureRequest) -> bool:
    """Whether the stress tests run at full size."""
    return bool(request.config.getoption("--soak"))
