"""Deadlines computed from the situation's dates: 14 days, calendar months, month ends, leap years, overdue."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import ansvar
from tests.fixtures import ON

D = dt.date
ROUTER = ansvar.default_router()


def route(event: str, on: dt.date, **facts: Any) -> ansvar.Decision:  # noqa: ANN401
    return ROUTER.route({"municipality": "rebild", "event": event, **facts}, on=on)


def due(decision: ansvar.Decision, key: str) -> dt.date | None:
    (step,) = [s for s in decision.steps if f"{s.actor}.{s.action}" == key]
    return step.due


def overdue(decision: ansvar.Decision) -> dict[str | None, int | None]:
    return {w.step: w.days_overdue for w in decision.warnings if w.id == "frist_overskredet"}


@pytest.mark.parametrize(("ended", "one", "six"), [
    (D(2026, 1, 15), D(2026, 2, 15), D(2026, 7, 15)),
    (D(2026, 1, 31), D(2026, 2, 28), D(2026, 7, 31)),   # no 31 February: the month's last day
    (D(2028, 1, 31), D(2028, 2, 29), D(2028, 7, 31)),   # leap year
    (D(2026, 3, 31), D(2026, 4, 30), D(2026, 9, 30)),   # 30-day months
    (D(2026, 8, 31), D(2026, 9, 30), D(2027, 2, 28)),   # six months into February
    (D(2027, 8, 31), D(2027, 9, 30), D(2028, 2, 29)),   # ... of a leap year
    (D(2026, 12, 31), D(2027, 1, 31), D(2027, 6, 30)),  # across the year end
    (D(2028, 2, 29), D(2028, 3, 29), D(2028, 8, 29)),   # from a leap day
])
def test_follow_ups_one_and_six_calendar_months_after_the_end(ended: dt.date, one: dt.date, six: dt.date) -> None:
    """Phone follow-ups fall 1 and 6 calendar months after treatment ended; the case closes with the last."""
    decision = route("behandlingsforloeb", on=ended, treatment_ended_on=ended)
    assert due(decision, "behandler.telefonisk_opfoelgning_1_maaned") == one
    assert due(decision, "behandler.telefonisk_opfoelgning_6_maaneder") == six
    assert due(decision, "behandler.afslut_nexus") == six
    assert overdue(decision) == {}


@pytest.mark.parametrize(("held", "deadline"), [
    (D(2026, 1, 10), D(2026, 1, 24)),
    (D(2026, 12, 25), D(2027, 1, 8)),    # across the year end
    (D(2028, 2, 20), D(2028, 3, 5)),     # 29 February lies in between
    (D(2027, 2, 20), D(2027, 3, 6)),     # ... and here it does not
])
def test_treatment_guarantee_fourteen_days_from_the_clarifying_conversation(held: dt.date,
                                                                           deadline: dt.date) -> None:
    """Treatment starts at the latest 14 days after the clarifying conversation, in every phase."""
    conversation = route("afklarende_samtale", on=held, held_on=held)
    assert due(conversation, "rusmiddelbehandling.behandlingsopstart_inden_14_dage") == deadline
    assessment = route("udredning", on=held, clarifying_conversation_on=held)
    assert due(assessment, "rusmiddelbehandling.behandlingsopstart_inden_14_dage") == deadline
    course = route("behandlingsforloeb", on=held, clarifying_conversation_on=held)
    assert due(course, "behandler.kontakt_klient_mhp_behandlingsopstart") == deadline


def test_guarantee_waits_for_the_conversation_date_nobody_gave() -> None:
    """A clarifying conversation routed without its date: the guarantee is not counted from the routing day;
    the step says which date it runs from, and the date is an open question naming the step."""
    decision = route("afklarende_samtale", on=D(2026, 11, 23))
    (step,) = [s for s in decision.steps if s.action == "behandlingsopstart_inden_14_dage"]
    assert (step.due, step.due_from, step.due_after, step.settled) == (None, "held_on", "14 dage", False)
    assert "held_on" in step.depends_on
    (asked,) = [q for q in decision.open_questions if q.fact == "held_on"]
    assert asked.deadlines == ("rusmiddelbehandling.behandlingsopstart_inden_14_dage",)
    assert "frist" in asked.changes
    assert not [w for w in decision.warnings if w.id == "frist_overskredet"]


def test_guarantee_counts_from_the_routing_date_when_the_date_is_stated_as_unknown() -> None:
    """`held_on: null` stated: no conversation date exists yet, so the guarantee counts from the routing date."""
    decision = route("afklarende_samtale", on=D(2026, 11, 23), held_on=None)
    (step,) = [s for s in decision.steps if s.action == "behandlingsopstart_inden_14_dage"]
    assert (step.due, step.due_from, step.settled) == (D(2026, 12, 7), "on", True)
    assert "held_on" not in {q.fact for q in decision.open_questions}


def test_guarantee_passed_names_the_step_and_the_days() -> None:
    """Treatment not started 20 days after the conversation: the guarantee is 6 days overdue."""
    decision = route("behandlingsforloeb", on=D(2026, 3, 21), clarifying_conversation_on=D(2026, 3, 1))
    assert overdue(decision) == {"behandler.kontakt_klient_mhp_behandlingsopstart": 6}
    (warning,) = [w for w in decision.warnings if w.id == "frist_overskredet"]
    assert warning.due == D(2026, 3, 15)
    assert "15.03.2026" in warning.text
    assert "6 dage" in warning.text
    assert warning.source.passage == "Kontakte klient mhp. behandlingsopstart (obs. 14 dages behandlingsgaranti)."


def test_deadline_day_itself_is_not_overdue_the_day_after_is() -> None:
    """On the deadline nothing is overdue; one day later, 1 day ("dag", singular)."""
    facts = {"clarifying_conversation_on": D(2026, 3, 1)}
    assert overdue(route("behandlingsforloeb", on=D(2026, 3, 15), **facts)) == {}
    late = route("behandlingsforloeb", on=D(2026, 3, 16), **facts)
    assert overdue(late) == {"behandler.kontakt_klient_mhp_behandlingsopstart": 1}
    assert "med 1 dag:" in next(w.text for w in late.warnings if w.id == "frist_overskredet")


def test_started_treatment_has_no_start_deadline() -> None:
    """Once treatment has started, no start deadline remains, however late it is."""
    decision = route("behandlingsforloeb", on=D(2026, 6, 1), clarifying_conversation_on=D(2026, 3, 1),
                     treatment_started_on=D(2026, 3, 10))
    assert "behandler.kontakt_klient_mhp_behandlingsopstart" not in {f"{s.actor}.{s.action}" for s in decision.steps}
    assert overdue(decision) == {}


def test_new_treatment_plan_by_the_grant_expiry() -> None:
    """The new plan and the meeting fall due on the grant's expiry; after it, both are overdue."""
    facts = {"treatment_started_on": D(2026, 1, 5), "grant_expires_on": D(2026, 6, 30)}
    before = route("behandlingsforloeb", on=D(2026, 6, 1), **facts)
    assert due(before, "behandler.ny_behandlingsplan_foer_bevillingsudloeb") == D(2026, 6, 30)
    assert due(before, "behandlingsmoede.tag_stilling_til_ny_bevilling") == D(2026, 6, 30)
    assert overdue(before) == {}
    after = route("behandlingsforloeb", on=D(2026, 7, 3), **facts)
    assert overdue(after) == {"behandler.ny_behandlingsplan_foer_bevillingsudloeb": 3,
                              "behandler.medbring_behandlingsplan_til_behandlingsmoede": 3,
                              "behandlingsmoede.tag_stilling_til_ny_bevilling": 3}


def test_both_follow_ups_overdue_after_seven_months() -> None:
    """Seven months after the end, both follow-ups and the closing of the case are overdue, each by its days."""
    decision = route("behandlingsforloeb", on=D(2026, 8, 31), treatment_started_on=D(2025, 9, 1),
                     treatment_ended_on=D(2026, 1, 31))
    assert overdue(decision) == {"behandler.telefonisk_opfoelgning_1_maaned": (D(2026, 8, 31) - D(2026, 2, 28)).days,
                                 "behandler.telefonisk_opfoelgning_6_maaneder": 31,
                                 "behandler.afslut_nexus": 31}


def test_dates_out_of_order_are_refused_naming_the_field() -> None:
    """A treatment that ends before it starts is a SituationError on treatment_ended_on."""
    with pytest.raises(ansvar.SituationError) as caught:
        route("behandlingsforloeb", on=D(2026, 3, 1), treatment_started_on=D(2026, 2, 1),
              treatment_ended_on=D(2026, 1, 1))
    assert [e["loc"] for e in caught.value.errors] == [("treatment_ended_on",)]
    assert "treatment_started_on" in caught.value.errors[0]["msg"]


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31", "2026-02-30", "tomorrow"])
def test_impossible_or_absurd_dates_are_refused(value: str) -> None:
    """Dates outside 1900-2199 (date arithmetic stays safe) or not dates at all are SituationErrors."""
    with pytest.raises(ansvar.SituationError) as caught:
        route("behandlingsforloeb", on=D(2026, 3, 1), treatment_ended_on=value)
    assert caught.value.errors[0]["loc"] == ("treatment_ended_on",)


def test_routing_date_out_of_range_is_refused() -> None:
    """`on` in year 9999 would overflow a 6-month deadline: refused as a SituationError on `on`."""
    with pytest.raises(ansvar.SituationError, match="on"):
        route("afklarende_samtale", on=D(9999, 12, 31))


def test_review_date_passed_warns_on_every_rebild_event() -> None:
    """Version 5 was due for review in May 2026: after that, every Rebild decision says so; before, none."""
    for event in ("afklarende_samtale", "udredning", "behandlingsforloeb", "paaroerendesamtale"):
        late = route(event, on=D(2026, 6, 1))
        (warning,) = [w for w in late.warnings if w.id == "vejledning_over_revisionsdato"]
        assert "31.05.2026" in warning.text
        assert "version 5" in warning.text
        assert late.pack.version.startswith("5")
        early = route(event, on=D(2026, 5, 31))
        assert "vejledning_over_revisionsdato" not in {w.id for w in early.warnings}


def test_before_the_guide_is_in_force_is_an_error() -> None:
    """Rebild's version 5 is from May 2025: routing on 30 April 2025 has no answer."""
    with pytest.raises(ansvar.RoutingError, match="in force from 2025-05-01"):
        route("udredning", on=D(2025, 4, 30))


def test_treatment_started_late_names_the_broken_guarantee() -> None:
    """Started 21 days after the clarifying conversation: the guarantee was broken by 7 days, and says so."""
    decision = route("behandlingsforloeb", on=D(2026, 6, 1), clarifying_conversation_on=D(2026, 1, 10),
                     treatment_started_on=D(2026, 1, 31))
    late = {w.step: (w.due, w.days_overdue) for w in decision.warnings if w.id == "frist_ikke_overholdt"}
    assert late == {"behandler.kontakt_klient_mhp_behandlingsopstart": (D(2026, 1, 24), 7)}
    assert overdue(decision) == {}
    assert "kontakt_klient_mhp_behandlingsopstart" not in {s.action for s in decision.steps}


def test_treatment_started_in_time_leaves_nothing() -> None:
    """Started on day 14 exactly: the guarantee held, no step and no warning about it."""
    decision = route("behandlingsforloeb", on=D(2026, 6, 1), clarifying_conversation_on=D(2026, 1, 10),
                     treatment_started_on=D(2026, 1, 24))
    assert not [w for w in decision.warnings if w.step == "behandler.kontakt_klient_mhp_behandlingsopstart"]


def test_done_follow_ups_leave_the_list_late_ones_are_named() -> None:
    """The 1-month follow-up done (late): it leaves the steps with a warning; the 6-month one stays due."""
    decision = route("behandlingsforloeb", on=D(2026, 3, 20), treatment_started_on=D(2025, 9, 1),
                     treatment_ended_on=D(2026, 1, 31), follow_up_1_month_on=D(2026, 3, 3))
    keys = {f"{s.actor}.{s.action}" for s in decision.steps}
    assert "behandler.telefonisk_opfoelgning_1_maaned" not in keys
    assert due(decision, "behandler.telefonisk_opfoelgning_6_maaneder") == D(2026, 7, 31)
    late = {w.step: w.days_overdue for w in decision.warnings if w.id == "frist_ikke_overholdt"}
    assert late == {"behandler.telefonisk_opfoelgning_1_maaned": 3}
    assert overdue(decision) == {}


def test_follow_up_before_the_treatment_ended_is_refused() -> None:
    """A follow-up dated before the end of treatment is a SituationError on that field."""
    with pytest.raises(ansvar.SituationError) as caught:
        route("behandlingsforloeb", on=D(2026, 3, 1), treatment_ended_on=D(2026, 1, 31),
              follow_up_1_month_on=D(2026, 1, 1))
    assert caught.value.errors[0]["loc"] == ("follow_up_1_month_on",)


def test_no_deadline_counted_from_a_citizens_date_outlives_the_call() -> None:
    """Deadlines from the situation's own dates are built per call; only those counted from `on` are kept."""
    router = ansvar.Router()
    situation = {"municipality": "rebild", "event": "behandlingsforloeb", "substance": "alkohol",
                 "clarifying_conversation_on": "2019-01-02", "treatment_started_on": "2019-01-10",
                 "treatment_ended_on": "2019-01-31"}
    decision = router.route(situation, on=ON)
    assert any(step.due is not None and step.due.year in {2019, 2020} for step in decision.steps)
    answers = router._answers(router.pack("rebild", "behandlingsforloeb"))  # noqa: SLF001 - the cache itself
    assert all(step.due is None or step.due.year >= ON.year - 1 for step in answers._due.values())  # noqa: SLF001
    assert answers.decisions == {}  # a Decision reading a citizen's date is never kept whole either
