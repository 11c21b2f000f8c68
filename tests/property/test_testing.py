"""ansvar.testing: the strategies give only valid situations of every covered event, and reach every value."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

import ansvar
from ansvar.model.situation import MODELS, fact_types
from ansvar.testing import any_situation, models, situations
from tests.fixtures import ON
from tests.fixtures.towns import SYDBY, SYDBY_AFRUSNING, write_town

ROUTER = ansvar.default_router()
COVERED = {(m, e) for m in ROUTER.municipalities() for e in ROUTER.events(m)}
EVENTS = sorted({e for _, e in COVERED})
COVERAGE = settings(max_examples=1000, phases=[Phase.generate], database=None, derandomize=True)


@given(any_situation())
def test_any_situation_is_valid_covered_and_routes(situation: dict[str, Any]) -> None:
    """Every drawn situation validates, names a covered (municipality, event) and gets a Decision."""
    parsed = ansvar.parse_situation(situation)
    assert (parsed.municipality, parsed.event) in COVERED
    assert ROUTER.route(situation, on=ON).responsible


def test_the_shipped_packs_cover_every_event_of_the_contract() -> None:
    """`situations(event)` without a municipality works for every event the contract defines."""
    assert set(EVENTS) == set(MODELS)


def kind_of(value: Any) -> str:
    """A value's class for coverage: dates as one, other values as they are."""
    return "a date" if isinstance(value, dt.date) else repr(value)


def wanted(event: str) -> set[tuple[str, str]]:
    """Every (fact, value class) an event's situations should reach, and each covering municipality."""
    out = {("municipality", repr(m)) for m, e in COVERED if e == event}
    for name, fact in fact_types(event).items():
        values: list[Any] = {"bool": [True, False], "enum": list(fact.values)}.get(fact.kind, [])
        if fact.kind == "int":
            values = [fact.minimum, fact.maximum]
        if fact.kind == "date":
            values = [dt.date(2026, 1, 1)]
        values += [None] if fact.nullable else []
        out |= {(name, kind_of(v)) for v in values}
    return out


@pytest.mark.parametrize("event", EVENTS)
def test_every_value_of_every_fact_is_drawn(event: str) -> None:
    """Every covering municipality, boolean, enum value, null, int bound and date era of an event is drawn."""
    missing = wanted(event)
    dated = any(fact.kind == "date" for fact in fact_types(event).values())
    years: set[int] = set()

    def covered(situation: dict[str, Any]) -> bool:  # find() draws until everything has been seen
        missing.difference_update((name, kind_of(value)) for name, value in situation.items())
        years.update(value.year for value in situation.values() if isinstance(value, dt.date))
        return not missing and (not dated or (min(years) < 1950 and max(years) > 2150))

    with contextlib.suppress(NoSuchExample):
        find(situations(event), covered, settings=COVERAGE)
    assert missing == set()
    assert not dated or (min(years) < 1950 and max(years) > 2150), (min(years), max(years))


@given(models("behandlingsforloeb"))
def test_models_are_validated_models_with_ordered_dates(model: ansvar.SituationBase) -> None:
    """models() gives the event's pydantic model; the course's dates never contradict each other."""
    assert type(model) is MODELS["behandlingsforloeb"]
    for earlier, later in [("clarifying_conversation_on", "treatment_started_on"),
                           ("clarifying_conversation_on", "treatment_ended_on"),
                           ("treatment_started_on", "treatment_ended_on"),
                           ("treatment_ended_on", "follow_up_1_month_on"),
                           ("treatment_ended_on", "follow_up_6_months_on"),
                           ("follow_up_1_month_on", "follow_up_6_months_on")]:
        first, then = getattr(model, earlier), getattr(model, later)
        assert first is None or then is None or first <= then


def test_unknown_or_uncovered_events_fail_at_once() -> None:
    """An unknown event, an uncovered municipality or a malformed name fails at once, not in hypothesis."""
    with pytest.raises(ansvar.UnknownEventError):
        situations("no_such_event")
    with pytest.raises(ansvar.UnknownEventError):
        situations("udredning", "aalborg", router=ROUTER)
    with pytest.raises(ansvar.SituationError):
        situations("afrusning", "Not A Town")


class OnlyRebild:
    """A router stand-in covering one event only."""

    @property
    def definitions(self) -> object:
        return ansvar.default_router().definitions

    def municipalities(self) -> list[str]:
        return ["rebild"]

    def events(self, municipality: str) -> dict[str, str]:
        return {"udredning": "Udredning"}


def test_an_event_no_municipality_covers_fails_at_once() -> None:
    """situations(event) for an event the router's municipalities do not cover is an UnknownEventError."""
    with pytest.raises(ansvar.UnknownEventError) as caught:
        situations("afrusning", router=OnlyRebild())  # type: ignore[arg-type]
    assert caught.value.known == ["udredning"]


def test_the_docs_example_holds_for_a_downstream_town(tmp_path: Path) -> None:
    """docs/testing.md's example property, on a town's own layer beside the shipped ones, holds."""
    router = ansvar.Router([ansvar.shipped_rules(),
                            write_town(tmp_path / "rules", "sydby", SYDBY, {"afrusning": SYDBY_AFRUSNING})])

    @given(situation=situations("afrusning", "sydby", router=router),
           on=st.dates(dt.date(2024, 1, 1), dt.date(2030, 12, 31)))
    def test_delirium_tremens_always_goes_to_the_region(situation: dict[str, Any], on: dt.date) -> None:
        decision = router.route(situation, on=on)
        # unless the citizen said no to medical help: then the doctor's clinical judgement leads
        if situation.get("delirium_tremens") and situation.get("wants_medical_help") is not False:
            assert decision.responsible == "region_akutmodtagelse"
        for step in decision.steps:
            assert step.text.strip()
            assert step.source.document
            assert step.source.section

    test_delirium_tremens_always_goes_to_the_region()
