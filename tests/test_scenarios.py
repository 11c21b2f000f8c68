"""Scenario files written from the guides' text: every branch of every event, routed on the real engine."""

from __future__ import annotations

from pathlib import Path

import pytest

import ansvar
from tests import scenario_runner

SCENARIO_DIR = Path(__file__).parent / "scenarios"
SCENARIOS = [sc for path in sorted(SCENARIO_DIR.rglob("*.yaml")) for sc in scenario_runner.load(path)]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda sc: sc.id)
def test_scenario(scenario: scenario_runner.Scenario) -> None:
    """The shipped packs answer the scenario as the cited passage of the guide says."""
    scenario_runner.check(ansvar.default_router(), scenario)


def test_every_shipped_event_has_scenarios() -> None:
    """No shipped event goes without scenario files."""
    router = ansvar.default_router()
    covered = {(sc.situation["municipality"], sc.situation["event"]) for sc in SCENARIOS}
    for municipality in router.municipalities():
        for event in router.events(municipality):
            assert (municipality, event) in covered, f"{municipality}/{event} has no scenarios"
