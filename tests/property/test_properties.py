"""Properties the guides state, checked over every valid situation of every shipped event."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import ansvar
from ansvar import engine
from ansvar.packs.schema import ACTORS
from ansvar.testing import situations
from tests.fixtures import ON

ROUTER = ansvar.default_router()
EVENTS = [(m, e) for m in ROUTER.municipalities() for e in ROUTER.events(m)]



@pytest.mark.parametrize(("municipality", "event"), EVENTS)
def test_every_valid_situation_has_one_known_lead(municipality: str, event: str) -> None:
    """Exactly one responsible actor, a known one; every step's actor known; deterministic; nothing left."""

    pack = ROUTER.pack(municipality, event)
    in_force = max(part.meta.valid_from for part in pack.parts)

    @given(situation=situations(event, municipality), on=st.dates(in_force, dt.date(2030, 12, 31)))
    def check(situation: dict[str, Any], on: dt.date) -> None:
        decision = ROUTER.route(situation, on=on)
        actors = pack.actors
        assert decision.responsible in ACTORS
        assert decision.responsible in actors
        assert decision.responsible_name == actors[decision.responsible].name
        leaders = {t.responsible for t in decision.trace if t.responsible and not t.overridden}
        assert leaders == {decision.responsible}
        for step in decision.steps:
            assert step.actor in actors
            assert step.text.strip()
            assert step.source.document and step.source.section
        overdue = {w.step: w.days_overdue for w in decision.warnings if w.id == "frist_overskredet"}
        assert overdue == {f"{s.actor}.{s.action}": (on - s.due).days
                           for s in decision.steps if s.due is not None and s.due < on}
        for warning in decision.warnings:
            assert warning.source.document and warning.source.section
        assert ROUTER.route(situation, on=on) == decision
        assert engine.live_sessions() == 0

    check()


@pytest.mark.parametrize(("municipality", "event"), EVENTS)
def test_medcom_only_with_consent(municipality: str, event: str) -> None:
    """The unit messages the GP via MedCom only when the citizen consents (guide's introduction)."""

    @given(situation=situations(event, municipality))
    def check(situation: dict[str, Any]) -> None:
        decision = ROUTER.route(situation, on=ON)
        medcom = [s for s in decision.steps if "medcom" in s.action]
        if not situation.get("consent_medcom", False):
            assert not medcom

    check()


@given(situation=situations("afrusning", "aalborg"))
def test_admission_criteria_send_the_citizen_to_the_region(situation: dict[str, Any]) -> None:
    """Seizures, delirium tremens or a suspected complicated course: the Region leads, the GP refers; unless
    the citizen said no to medical help, where the guide is silent: then the doctor's clinical judgement
    leads, marked as ansvar's reading, and nobody is told to detox alone."""
    decision = ROUTER.route(situation, on=ON)
    acute = any(situation.get(f) for f in ("seizures", "delirium_tremens", "complicated_course_suspected"))
    refused = situation.get("wants_medical_help") is False
    steps = {(s.actor, s.action) for s in decision.steps}
    assert (decision.responsible == "region_akutmodtagelse") == (acute and not refused)
    if acute and not refused:
        assert ("egen_laege", "henvis_til_akutmodtagelse") in steps
        assert decision.responsible_interpretation is None
    if acute and refused:
        assert decision.responsible == "egen_laege"
        assert decision.responsible_interpretation is not None
        assert ("borger", "afrus_selv") not in steps


@given(situation=situations("afrusning", "aalborg"))
def test_klopoxid_never_by_phone_or_letter(situation: dict[str, Any]) -> None:
    """A prescription asked for by phone or correspondence always carries the no-klopoxid warning."""
    decision = ROUTER.route(situation, on=ON)
    remote = situation.get("prescription_channel") in {"telefon", "korrespondance"}
    assert remote == ("ingen_klopoxid_per_telefon_eller_korrespondance" in {w.id for w in decision.warnings})


@given(situation=situations("afrusning", "aalborg"))
def test_home_nursing_only_fixed_and_at_most_three(situation: dict[str, Any]) -> None:
    """Home nursing administers only a prescription fixed in FMK, at most 3 times a day, and only in
    outpatient detox: with seizures, delirium tremens or a suspected complicated course the Region holds it."""
    decision = ROUTER.route(situation, on=ON)
    administers = any(s.actor == "hjemmesygepleje" for s in decision.steps)
    per_day = situation.get("administrations_per_day")
    acute = any(situation.get(f) for f in ("seizures", "delirium_tremens", "complicated_course_suspected"))
    allowed = (situation.get("home_nursing_requested", False) and situation.get("fixed_in_fmk", False)
               and (per_day is None or per_day <= 3) and not acute)
    assert administers == allowed


def test_contacts_are_the_guides() -> None:
    """Contacts carry the guide's numbers and the corrected address, never the old one."""
    actors = ROUTER.pack("aalborg", "afrusning").actors
    assert actors["visitation"].contact is not None
    assert actors["visitation"].contact.phone == "9931 5740"
    assert actors["ferle"].contact is not None
    assert actors["ferle"].contact.phone == "8137 3137"
    assert "495 kr" in (actors["ferle"].contact.note or "")
    assert actors["substitutionsbehandling"].contact is not None
    assert actors["substitutionsbehandling"].contact.address == "Rantzausgade 8, 9000 Aalborg"
    for municipality, event in EVENTS:
        pack = ROUTER.pack(municipality, event)
        assert "Kastetvej" not in pack.path.read_text(encoding="utf-8").replace("# ", "")


ROUTE_ON = st.dates(dt.date(2025, 5, 1), dt.date(2030, 12, 31))


@given(situation=situations("afklarende_samtale", "rebild"), on=ROUTE_ON)
def test_cfh_notified_exactly_when_minor_children_and_not_anonymous(situation: dict[str, Any],
                                                                     on: dt.date) -> None:
    """Minor children: a notification to CFH, except in an anonymous course, which says it cannot."""
    decision = ROUTER.route(situation, on=on)
    children, anonymous = situation.get("minor_children", False), situation.get("anonymous", False)
    steps = {(s.actor, s.action) for s in decision.steps}
    assert (("samtaleholder", "send_underretning_til_cfh") in steps) == (children and not anonymous)
    assert ("underretning_umulig_i_anonymt_forloeb" in {w.id for w in decision.warnings}) == (
        children and anonymous)


@pytest.mark.parametrize(("event", "date_fact"), [("afklarende_samtale", "held_on"),
                                                  ("udredning", "clarifying_conversation_on"),
                                                  ("behandlingsforloeb", "clarifying_conversation_on")])
def test_treatment_guarantee_is_fourteen_days_from_the_clarifying_conversation(event: str, date_fact: str) -> None:
    """Wherever a treatment-start deadline appears, it is 14 days after the clarifying conversation."""

    @given(situation=situations(event, "rebild"), on=ROUTE_ON)
    def check(situation: dict[str, Any], on: dt.date) -> None:
        decision = ROUTER.route(situation, on=on)
        start = situation.get(date_fact)
        for step in decision.steps:
            if step.action in {"behandlingsopstart_inden_14_dage", "kontakt_klient_mhp_behandlingsopstart"}:
                assert step.due is None or step.due == (start or on) + dt.timedelta(days=14)
                assert step.due is not None or start is None

    check()


@given(situation=situations("behandlingsforloeb", "rebild"), on=ROUTE_ON)
def test_follow_ups_fall_one_and_six_months_after_the_end(situation: dict[str, Any], on: dt.date) -> None:
    """An ended course always has its pending follow-ups, 1 and 6 months on, in the same day of month or
    the month's last day, and never any step of starting or planning the treatment."""
    decision = ROUTER.route(situation, on=on)
    ended = situation.get("treatment_ended_on")
    steps = {s.action: s for s in decision.steps}
    if ended is None:
        assert "telefonisk_opfoelgning_1_maaned" not in steps
        return
    for action, months in (("telefonisk_opfoelgning_1_maaned", 1), ("telefonisk_opfoelgning_6_maaneder", 6)):
        done = situation.get("follow_up_1_month_on" if months == 1 else "follow_up_6_months_on")
        assert (action in steps) == (done is None)
        if action in steps:
            due = steps[action].due
            assert due is not None
            assert (due.year * 12 + due.month) - (ended.year * 12 + ended.month) == months
            assert due.day == ended.day or (due.day < ended.day and (due + dt.timedelta(days=1)).day == 1)
    assert not {"udfyld_behandlingsplan_ved_foerste_samtale", "ny_behandlingsplan_foer_bevillingsudloeb"} & set(steps)


def _months_after(day: dt.date, months: int) -> dt.date:
    """The same day of the month `months` calendar months on, or that month's last day where it is shorter."""
    import calendar  # noqa: PLC0415

    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


_DAYS = st.none() | st.integers(0, 300)


@given(situation=situations("behandlingsforloeb", "rebild"), on=ROUTE_ON,
       days=st.tuples(_DAYS, _DAYS, _DAYS))
def test_a_follow_up_is_warned_of_exactly_when_done_late_or_overdue(
        situation: dict[str, Any], on: dt.date, days: tuple[int | None, int | None, int | None]) -> None:
    """A follow-up falls due 1 and 6 months after the end. Done after that day, it is warned of as done late
    by the days between; not done and the day passed, as overdue by the days since; neither otherwise."""
    to_end, to_first, to_second = days  # the end (where the situation has none), each follow-up after it
    situation = {k: v for k, v in situation.items()
                 if k not in {"follow_up_1_month_on", "follow_up_6_months_on"}}
    before = [situation.get(name) for name in ("clarifying_conversation_on", "treatment_started_on")]
    if situation.get("treatment_ended_on") is None and to_end is not None:
        start = max((day for day in before if day is not None), default=dt.date(2025, 1, 1))
        situation["treatment_ended_on"] = start + dt.timedelta(days=to_end)
    if (end := situation.get("treatment_ended_on")) is not None:
        if to_first is not None:
            situation["follow_up_1_month_on"] = end + dt.timedelta(days=to_first)
        if to_second is not None:
            situation["follow_up_6_months_on"] = situation.get("follow_up_1_month_on", end) + dt.timedelta(
                days=to_second)
    decision = ROUTER.route(situation, on=on)
    ended = situation.get("treatment_ended_on")
    late = {w.step: w for w in decision.warnings if w.id == "frist_ikke_overholdt"}
    overdue = {w.step: w for w in decision.warnings if w.id == "frist_overskredet"}
    steps = {f"{s.actor}.{s.action}": s for s in decision.steps}
    for months, action, done_fact in ((1, "telefonisk_opfoelgning_1_maaned", "follow_up_1_month_on"),
                                      (6, "telefonisk_opfoelgning_6_maaneder", "follow_up_6_months_on")):
        step = f"behandler.{action}"
        if ended is None:
            assert step not in late
            assert step not in overdue
            continue
        due = _months_after(ended, months)
        done = situation.get(done_fact)
        if done is not None:
            assert step not in steps
            assert step not in overdue
            assert (step in late) == (done > due)
            event(f"{months} months: done {'late' if step in late else 'in time'}")
            if step in late:
                assert (late[step].due, late[step].days_overdue) == (due, (done - due).days)
        else:
            assert step not in late
            assert steps[step].due == due
            assert (step in overdue) == (due < on)
            event(f"{months} months: {'overdue' if step in overdue else 'pending'}")
            if step in overdue:
                assert (overdue[step].due, overdue[step].days_overdue) == (due, (on - due).days)
