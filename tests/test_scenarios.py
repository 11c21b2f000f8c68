"""Scenario files written from the guides' text: every branch of every event, routed on the real engine.

Each scenario in tests/scenarios is a test of its own, collected by ansvar's pytest plugin
(`ansvar.testing.pytest_plugin`); this module checks only that every shipped event has some.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import ansvar
from ansvar.testing import pytest_plugin
from ansvar.testing import scenarios

SCENARIO_DIR = Path(__file__).parent / "scenarios"


def test_every_shipped_event_has_scenarios() -> None:
    """No shipped event goes without scenario files."""
    router = ansvar.default_router()
    covered = {(sc.situation["municipality"], sc.situation["event"])
               for path in scenarios.discover([SCENARIO_DIR]) for sc in scenarios.load(path)}
    for municipality in router.municipalities():
        for event in router.events(municipality):
            assert (municipality, event) in covered, f"{municipality}/{event} has no scenarios"


def test_the_scenario_plugin_is_active(pytestconfig: pytest.Config) -> None:
    """The plugin that runs tests/scenarios is loaded: the scenarios cannot silently drop out of the suite."""
    plugins = pytestconfig.pluginmanager.get_plugins()
    assert any(plugin is pytest_plugin for plugin in plugins), (
        "ansvar.testing.pytest_plugin is not loaded: reinstall ansvar (its pytest11 entry point) "
        "or pass -p ansvar.testing.pytest_plugin")
