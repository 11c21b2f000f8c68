"""Unstated is not false: properties of open questions and the interview, over every shipped event.

The completions of a partial situation are routed here through `route_many` as complete situations (every
fact stated), not through the outcome table the router weighs them with: the two must agree.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ansvar
from ansvar.analysis.space import SituationSpace
from ansvar.testing import situations
from tests.fixtures import ON

ROUTER = ansvar.default_router()
EVENTS = [(m, e) for m in ROUTER.municipalities() for e in ROUTER.events(m)]
BIG = {("aalborg", "afrusning")}  # 23,040 completions of the empty situation: fewer examples


def _answer(decision: ansvar.Decision) -> tuple[Any, ...]:
    """What a caseworker acts on: the lead, the steps with their deadlines, the warnings."""
    return (decision.responsible, tuple((s.actor, s.action, s.due) for s in decision.steps),
            tuple(sorted(w.id for w in decision.warnings)))


def _complete(situation: dict[str, Any]) -> dict[str, Any]:
    """The situation with every fact stated: what it leaves out stated as its default."""
    return ROUTER.parse_situation(situation).model_dump()


def _completions(partial: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every way the facts the pack's rules read, and the partial leaves unstated, can be (as the space has
    them: a date given or not), each as a complete situation."""
    pack = ROUTER.pack(partial["municipality"], partial["event"])
    space = SituationSpace([pack], ON)
    stated = ansvar.stated_facts(ROUTER.parse_situation(partial))
    # A date telling a step was done changes the steps without any condition reading it: given or not.
    done = sorted({s.done_on for r in pack.rules.values() for s in r.steps if s.done_on} - set(space.names))
    domains = [*zip(space.names, space.domains, strict=True), *((n, [None, ON]) for n in done)]
    free = [(n, d) for n, d in domains if n not in stated]
    base = _complete(partial)
    for values in itertools.product(*(d for _, d in free)):
        candidate = {**base, **dict(zip((n for n, _ in free), values, strict=True))}
        try:
            ROUTER.parse_situation(candidate)
        except ansvar.SituationError:  # dates out of order: no situation a caller can route
            continue
        yield candidate


def _examples(municipality: str, event: str) -> int:
    return 3 if (municipality, event) in BIG else 20


@pytest.mark.parametrize(("municipality", "event"), EVENTS)
def test_the_interview_ends_at_the_complete_answer_asking_only_what_matters(municipality: str,
                                                                            event: str) -> None:
    """Answering next_question until it gives None reaches a settled Decision equal to routing the complete
    situation; every fact it asks is one whose value changes the answer for some completion (witnessed by
    routing them); no fact is asked twice, so never more questions than the event has facts."""

    @settings(max_examples=_examples(municipality, event), deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(situations(event, municipality))
    def check(drawn: dict[str, Any]) -> None:
        complete = _complete(drawn)
        partial: dict[str, Any] = {"municipality": municipality, "event": event}
        asked: list[str] = []
        while (question := ROUTER.next_question(partial, on=ON)) is not None:
            assert question.fact not in asked
            assert question.question.strip()
            _assert_it_matters(partial, question.fact)
            asked.append(question.fact)
            partial[question.fact] = complete[question.fact]
        decision = ROUTER.route(partial, on=ON)
        assert decision.settled
        assert decision.open_questions == ()
        assert decision.assumed == ()
        assert all(s.settled for s in decision.steps)
        assert decision.responsible_settled
        assert _answer(decision) == _answer(ROUTER.route(complete, on=ON))
        assert len(asked) <= len(ROUTER.definitions[event].facts)

    check()


#: More completions than this are not all routed to witness a question (only aalborg/afrusning's first few
#: questions have more); the interview's end still must equal the complete answer.
MAX_WITNESSED = 3000


def _assert_it_matters(partial: dict[str, Any], fact: str) -> None:
    """Some two completions that differ in `fact` alone get different answers (routed, not weighed).

    A date fact is witnessed by its question instead: which date it is matters to a deadline (counted from
    it, or telling whether a done step was in time) in ways a few sample dates cannot all show.
    """
    if ROUTER.pack(partial["municipality"], partial["event"]).definition.facts[fact].type == "date":
        (question,) = [q for q in ROUTER.route(partial, on=ON).open_questions if q.fact == fact]
        assert question.changes
        return
    completions = list(itertools.islice(_completions(partial), MAX_WITNESSED + 1))
    if len(completions) > MAX_WITNESSED:
        return
    by_rest: dict[tuple[Any, ...], set[tuple[Any, ...]]] = {}
    for completion, routed in zip(completions, ROUTER.route_many(completions, on=ON), strict=True):
        rest = tuple(sorted((k, repr(v)) for k, v in completion.items() if k != fact))
        by_rest.setdefault(rest, set()).add(_answer(routed))
    assert any(len(found) > 1 for found in by_rest.values()), f"{fact} was asked but changes nothing"


@pytest.mark.parametrize(("municipality", "event"), [e for e in EVENTS if e not in BIG])
def test_a_settled_step_holds_in_every_completion_and_an_open_question_changes_some(
        municipality: str, event: str) -> None:
    """A step, warning or lead marked settled is so in every completion of the unstated facts; each open
    question's fact changes the answer in some completion; nothing open means every completion agrees."""

    @settings(max_examples=15, deadline=None)
    @given(situations(event, municipality), st.data())
    def check(drawn: dict[str, Any], data: st.DataObject) -> None:
        keep = data.draw(st.sets(st.sampled_from(sorted(drawn)), max_size=len(drawn)))
        partial = {k: v for k, v in drawn.items() if k in keep or k in ("municipality", "event")}
        decision = ROUTER.route(partial, on=ON)
        completions = list(_completions(partial))
        routed = ROUTER.route_many(completions, on=ON)
        answers = {_answer(d) for d in routed}
        if decision.settled and not any(f.type == "date" for f in ROUTER.definitions[event].facts.values()):
            assert len(answers) == 1
        for step in decision.steps:
            if step.settled:
                assert all((step.actor, step.action) in {(s.actor, s.action) for s in d.steps} for d in routed)
        for warning in decision.warnings:
            if warning.settled:
                assert all(warning.id in _answer(d)[2] for d in routed)
        if decision.responsible_settled:
            assert {d.responsible for d in routed} == {decision.responsible}
        for question in decision.open_questions:
            _assert_it_matters(partial, question.fact)

    check()


@pytest.mark.parametrize(("municipality", "event"), EVENTS)
def test_a_complete_situation_answers_as_before(municipality: str, event: str) -> None:
    """Every fact stated: nothing open, nothing assumed, every step and warning settled."""

    @settings(max_examples=10, deadline=None)
    @given(situations(event, municipality))
    def check(drawn: dict[str, Any]) -> None:
        decision = ROUTER.route(_complete(drawn), on=ON)
        assert (decision.open_questions, decision.assumed, decision.responsible_depends_on) == ((), (), ())
        assert all(s.settled and not s.depends_on for s in decision.steps)
        assert all(w.settled and not w.depends_on for w in decision.warnings)
        assert ROUTER.route(_complete(drawn), on=ON, complete=True) == decision

    check()


def test_the_three_cases_of_the_issue_ask_instead_of_assuming() -> None:
    """The consultant's presence, the wish for medical help, the date of the clarifying conversation."""
    acute = ROUTER.route({"municipality": "aalborg", "event": "akutte_opioidabstinenser",
                          "presents_at": "rusmiddelbehandling"}, on=ON)
    assert "laegekonsulent_present" in {q.fact for q in acute.open_questions}
    for step in acute.steps:
        if "laegekonsulent" in step.action:
            assert not step.settled
            assert "laegekonsulent_present" in step.depends_on
    detox = ROUTER.route({"municipality": "aalborg", "event": "afrusning"}, on=ON)
    assert {"wants_medical_help", "delirium_tremens"} <= {q.fact for q in detox.open_questions}
    assert not detox.responsible_settled
    assert "wants_medical_help" in {a.fact for a in detox.assumed}
    (alone,) = [s for s in detox.steps if s.action == "afrus_selv"]
    assert not alone.settled
    assessment = ROUTER.route({"municipality": "rebild", "event": "udredning"}, on=ON)
    (guarantee,) = [s for s in assessment.steps if s.action == "behandlingsopstart_inden_14_dage"]
    assert (guarantee.due, guarantee.due_from) == (None, "clarifying_conversation_on")
    (asked,) = [q for q in assessment.open_questions if q.fact == "clarifying_conversation_on"]
    assert asked.deadlines == ("rusmiddelbehandling.behandlingsopstart_inden_14_dage",)
    with pytest.raises(ansvar.IncompleteSituationError) as raised:
        ROUTER.route({"municipality": "rebild", "event": "udredning"}, on=ON, complete=True)
    assert "clarifying_conversation_on" in {q.fact for q in raised.value.questions}
    assert "Hvilken dag blev den afklarende samtale holdt?" in str(raised.value)


def test_the_date_a_deadline_waits_for_is_asked_and_then_counts() -> None:
    """Once the date is given, the deadline counts from it."""
    partial: dict[str, Any] = {"municipality": "rebild", "event": "udredning", "substance": "alkohol",
                               "substitution": False, "returning_client": False, "consent_medcom": True,
                               "anonymous": False}
    question = ROUTER.next_question(partial, on=ON)
    assert question is not None
    assert question.fact == "clarifying_conversation_on"
    partial["clarifying_conversation_on"] = dt.date(2026, 11, 20)
    assert ROUTER.next_question(partial, on=ON) is None
    decision = ROUTER.route(partial, on=ON, complete=True)
    (guarantee,) = [s for s in decision.steps if s.action == "behandlingsopstart_inden_14_dage"]
    assert (guarantee.due, guarantee.due_from) == (dt.date(2026, 12, 4), "clarifying_conversation_on")


def test_a_fact_the_caller_cannot_answer_is_not_asked_again_and_stays_open() -> None:
    partial: dict[str, Any] = {"municipality": "aalborg", "event": "akutte_opioidabstinenser",
                               "presents_at": "rusmiddelbehandling"}
    first = ROUTER.next_question(partial, on=ON)
    assert first is not None
    other = ROUTER.next_question(partial, on=ON, unknown=[first.fact])
    assert other is None or other.fact != first.fact
    everything = [q.fact for q in ROUTER.route(partial, on=ON).open_questions]
    assert ansvar.next_question(partial, on=ON, unknown=everything) is None
    assert first.fact in {q.fact for q in ROUTER.route(partial, on=ON).open_questions}
