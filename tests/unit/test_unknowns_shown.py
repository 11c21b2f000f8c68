"""What an answer does not know, where a user meets it: the text card, explain(), the HTML card, the frames.

The three cases of issue 12: acute opioid withdrawal at the unit without the consultant's presence; detox
with nothing stated; a Rebild assessment without the date of the clarifying conversation.
"""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

import ansvar
from ansvar import Decision, OpenQuestion, OpenValue
from ansvar.analysis.space import SituationSpace
from ansvar.model.unknowns import Assumption
from ansvar.render.frames import COLUMNS, STEP_COLUMNS, to_dataframe, to_steps_dataframe
from tests.fixtures import ON
from tests.unit.test_html import EVIL, parse

ROUTER = ansvar.default_router()
OPIOID = {"municipality": "aalborg", "event": "akutte_opioidabstinenser",
          "presents_at": "rusmiddelbehandling"}
DETOX = {"municipality": "aalborg", "event": "afrusning"}
ASSESSMENT = {"municipality": "rebild", "event": "udredning"}
CONSULTANT = "laegekonsulent_present"
GUARANTEE = "rusmiddelbehandling.behandlingsopstart_inden_14_dage"
#: What only an answer that is not settled shows.
MARKERS = ("afhænger af", "Åbne spørgsmål", "Antagelser", "[antaget]", "ikke oplyst", "ikke afgjort")


def fact(event: str, name: str) -> tuple[str, str]:
    """A fact's Danish label and question, as its event file defines them."""
    spec = ROUTER.definitions[event].facts[name]
    return spec.label, spec.question


def flat(text: str) -> str:
    """The text with every run of white space one space: wrapped lines read as one."""
    return " ".join(text.split())


def step_block(card: str, number: int) -> str:
    """The lines of step `number` of a text card: its text, its marks and its contact."""
    lines = card.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {number}. "))
    end = next(i for i in range(start + 1, len(lines))
               if not lines[i].startswith("     ") or re.match(r"  \d+\. ", lines[i]))
    return flat("\n".join(lines[start:end]))


def section(card: str, heading: str) -> str:
    """One section of a text card, up to the next blank line."""
    return flat(card[card.index(f"\n{heading}"):].split("\n\n", 1)[0])


def number_of(decision: Decision, key: str) -> int:
    return next(n for n, s in enumerate(decision.steps, 1) if f"{s.actor}.{s.action}" == key)


# --- the three cases --------------------------------------------------------------------------------------


def test_opioid_withdrawal_does_not_state_the_consultants_absence_as_settled() -> None:
    """The consultant's presence is an open question: the step that says the consultant is away is marked as
    depending on it, the trace marks the test as assumed, and the card lists the question and assumption."""
    decision = ansvar.route(OPIOID, on=ON)
    assert CONSULTANT in [q.fact for q in decision.open_questions]
    label, question = fact("akutte_opioidabstinenser", CONSULTANT)
    card = str(decision)
    away = next(s for s in decision.steps if CONSULTANT in s.depends_on)
    block = step_block(card, number_of(decision, f"{away.actor}.{away.action}"))
    assert flat(away.text) in block
    assert f"? afhænger af: {label}" in block
    settled = [n for n, s in enumerate(decision.steps, 1) if s.settled]
    assert settled
    assert all("afhænger af" not in step_block(card, n) for n in settled)
    asked = section(card, "Åbne spørgsmål:")
    assert f"? {label} [{CONSULTANT}]: {question}" in asked
    (present,) = [v for q in decision.open_questions if q.fact == CONSULTANT
                  for v in q.values if not v.assumed]
    assert f"udgår: skridt {number_of(decision, f'{away.actor}.{away.action}')}" in asked
    assert all(added in asked for added in present.steps_added)
    assert f"- {label} = Nej" in section(card, "Antagelser")
    assert f"{CONSULTANT} == false [antaget]" in flat(card)
    assert f"{CONSULTANT} == false [antaget]" in flat(decision.explain())


def test_opioid_withdrawal_with_the_consultants_absence_stated_marks_nothing_of_it() -> None:
    """Stated, the consultant's absence is no question: its step carries no mark and its test no [antaget]."""
    decision = ansvar.route({**OPIOID, CONSULTANT: False}, on=ON)
    label, question = fact("akutte_opioidabstinenser", CONSULTANT)
    card = str(decision)
    assert question not in card
    assert label not in card
    assert "[antaget]" not in flat(card).split(f"{CONSULTANT} == false", 1)[1][:12]
    away = next(s for s in decision.steps if s.action == "kontakt_laegekonsulent_telefonisk")
    assert "afhænger af" not in step_block(card, number_of(decision, f"{away.actor}.{away.action}"))


def test_detox_with_nothing_stated_asks_whether_the_citizen_wants_medical_help() -> None:
    """Detox with nothing stated: the lead depends on the wish for medical help, among others; the card, the
    explanation and the HTML card say so by the fact's label, and ask its question."""
    decision = ansvar.route(DETOX, on=ON)
    assert not decision.responsible_settled
    assert "wants_medical_help" in decision.responsible_depends_on
    label, question = fact("afrusning", "wants_medical_help")
    card = str(decision)
    lead = flat("\n".join(card.splitlines()[1:4]))
    assert lead.startswith(f"Ansvarlig: {decision.responsible_name} [{decision.responsible}] ? afhænger af:")
    assert label in lead.split("? afhænger af:", 1)[1]
    assert f"{label} [wants_medical_help]: {question}" in section(card, "Åbne spørgsmål:")
    explained = decision.explain()
    assert explained.splitlines()[1].startswith(f"{decision.responsible_name} er ansvarlig efter reglen")
    assert "? Ansvaret afhænger af: " in explained
    assert label in flat(explained.split("? Ansvaret afhænger af:", 1)[1].split(".", 1)[0])
    assert f"{label} [wants_medical_help]: {question}" in flat(explained)
    html = " ".join("".join(parse(decision._repr_html_()).text).split())
    assert re.search(rf"\[{decision.responsible}\] ?\? afhænger af: ", html)
    assert f"{label} [wants_medical_help]: {question}" in html


def test_assessment_without_the_date_waits_for_it_and_says_so() -> None:
    """The 14-day guarantee is not counted from the routing day: its step says from which date it runs and
    that the date is not given, in the card, the explanation and the HTML card; the question asks for it."""
    decision = ansvar.route(ASSESSMENT, on=ON)
    label, question = fact("udredning", "clarifying_conversation_on")
    guarantee = next(s for s in decision.steps if f"{s.actor}.{s.action}" == GUARANTEE)
    assert (guarantee.due, guarantee.due_from, guarantee.due_after) == (None, "clarifying_conversation_on",
                                                                        "14 dage")
    waits = f"(frist: 14 dage efter {label} — datoen er ikke oplyst)"
    card = str(decision)
    number = number_of(decision, GUARANTEE)
    block = step_block(card, number)
    assert waits in block
    assert "senest" not in block.replace(flat(guarantee.text), "")
    assert "afhænger af" not in block  # the deadline says what it waits for
    asked = section(card, "Åbne spørgsmål:")
    waiting = f"fristen for skridt {number} venter på datoen"
    assert f"? {label} [clarifying_conversation_on]: {question} - {waiting}" in asked
    assert label not in section(card, "Antagelser")  # nothing was assumed of the date: it is asked for
    assert f"{GUARANTEE} {waits}" in flat(decision.explain())
    html = " ".join("".join(parse(decision._repr_html_()).text).split())
    assert waits in html
    assert f"fristen for skridt {number} venter på datoen" in html


def test_assessment_with_the_date_counts_from_it() -> None:
    """Given the date, the deadline is a date; the explanation of the still open answer says what it counts
    from, and nothing says the date is missing."""
    decision = ansvar.route({**ASSESSMENT, "clarifying_conversation_on": "2026-11-20"}, on=ON)
    assert not decision.settled
    card = str(decision)
    assert "(senest 04.12.2026)" in step_block(card, number_of(decision, GUARANTEE))
    assert "datoen er ikke oplyst" not in card
    counted = "(senest 04.12.2026, 14 dage efter clarifying_conversation_on)"
    assert f"{GUARANTEE} {counted}" in flat(decision.explain())
    settled = ansvar.route(_complete("rebild", "udredning", {"clarifying_conversation_on": "2026-11-20"}),
                           on=ON)
    assert settled.settled
    assert f"→ skridt: {GUARANTEE} Kilde:" in flat(settled.explain())  # as it always was: its id alone
    assert "efter clarifying_conversation_on" not in settled.explain()


# --- settled answers, and every answer ----------------------------------------------------------------------


def _complete(municipality: str, event: str, situation: dict[str, object]) -> dict[str, object]:
    """The situation with every fact of its event stated (the default where it gives none)."""
    facts = ROUTER.definitions[event].facts
    return {**{name: spec.default_value for name, spec in facts.items()}, **situation,
            "municipality": municipality, "event": event}


PACKS = [(m, e) for m in ROUTER.municipalities() for e in ROUTER.events(m)]


@pytest.mark.parametrize(("municipality", "event"), PACKS, ids=[f"{m}/{e}" for m, e in PACKS])
def test_settled_answers_show_nothing_of_unknowns(municipality: str, event: str) -> None:
    """Every fact stated: settled, and no rendering marks anything as open (they render as they always did);
    the same situations with nothing but the pack's own facts stated show every open part marked."""
    space = SituationSpace([ROUTER.pack(municipality, event)], ON)
    for situation in list(space)[:: max(1, space.size // 40)]:
        try:
            decision = ansvar.route(_complete(municipality, event, situation), on=ON)
        except ansvar.AnsvarError:
            continue
        assert decision.settled
        for text in (str(decision), decision.explain(), decision._repr_html_()):
            assert not [m for m in MARKERS if m in text], (situation, text)


def test_every_unsettled_part_is_marked_and_every_question_listed() -> None:
    """Over every pack's empty situation: each unsettled step and warning is marked, each open question and
    assumption is in the card, the explanation and the HTML card."""
    for municipality, event in PACKS:
        try:
            decision = ansvar.route({"municipality": municipality, "event": event}, on=ON)
        except ansvar.AnsvarError:
            continue
        card = str(decision)
        html = " ".join("".join(parse(decision._repr_html_()).text).split())
        explained = flat(decision.explain())
        for number, step in enumerate(decision.steps, 1):
            block = step_block(card, number)
            if step.settled:
                assert "afhænger af" not in block
                assert "datoen er ikke oplyst" not in block
            else:
                assert "afhænger af" in block or "datoen er ikke oplyst" in block, (municipality, event, step)
        unsettled = [w for w in decision.warnings if not w.settled]
        marks = [line for line in card.splitlines() if line.startswith("    ? afhænger af")]  # a warning's
        assert len(marks) == len(unsettled)
        for question in decision.open_questions:
            for text in (flat(card), explained, html):
                assert f"{question.label} [{question.fact}]: {flat(question.question)}" in text
        for assumption in decision.assumed:
            for text in (flat(card), explained, html):
                assert f"{assumption.label} = {assumption.value_label}" in text
        assert ("Åbne spørgsmål" in card) == (not decision.settled)


def test_a_value_that_changes_the_lead_or_runs_into_a_defect_says_so() -> None:
    """The effect of each value: a new lead by its name where the card knows it, a pack defect in Danish."""
    decision = ansvar.route(OPIOID, on=ON)
    question = next(q for q in decision.open_questions if any(v.responsible != decision.responsible
                                                             for v in q.values))
    other = next(v for v in question.values if v.responsible != decision.responsible)
    asked = section(str(decision), "Åbne spørgsmål:")
    assert f"- {other.label}: ansvarlig: {other.responsible}" in asked
    broken = OpenValue(value=True, label="Ja", responsible=None, defect="ConflictError")
    odd = decision.model_copy(update={"open_questions": (
        question.model_copy(update={"values": (question.values[0], broken)}),)})
    assert "- Ja: regler af samme prioritet udpeger hver sin ansvarlige (ConflictError)" in section(
        str(odd), "Åbne spørgsmål:")


# --- the HTML card ----------------------------------------------------------------------------------------


def test_html_card_of_open_answers_is_escaped_inline_and_balanced() -> None:
    """Markup in a question, a label, a value or an assumption is shown as text; no script, style, link."""
    decision = ansvar.route(ASSESSMENT, on=ON)
    evil_question = OpenQuestion(fact="x", label=EVIL, question=EVIL, type="boolean", changes=("skridt",),
                                 values=(OpenValue(value=False, label=EVIL, assumed=True,
                                                   responsible="udreder"),
                                         OpenValue(value=True, label=EVIL, responsible=EVIL,
                                                   steps_added=(EVIL,), warnings_added=(EVIL,))))
    evil = decision.model_copy(update={
        "open_questions": (evil_question,), "assumed": (Assumption(fact="x", label=EVIL, value=False,
                                                                    value_label=EVIL),),
        "responsible_settled": False, "responsible_depends_on": ("x",),
        "steps": tuple(s.model_copy(update={"settled": False, "depends_on": ("x",)}) for s in decision.steps),
    })
    for case in (evil, decision, ansvar.route(OPIOID, on=ON), ansvar.route(DETOX, on=ON)):
        html = case._repr_html_()
        assert "<script" not in html
        assert "<img" not in html
        tags = parse(html)
        assert tags.problems == []
        assert tags.open == []
        assert {tag for tag, _ in tags.seen} <= {"div", "span", "strong", "ol", "ul", "li", "br", "details",
                                                 "summary", "blockquote", "p"}
        assert not [attrs for _, attrs in tags.seen if set(attrs) - {"style", "class", "lang"}]
    html = evil._repr_html_()
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=y&gt;"
    assert html.count(escaped) >= 6 + len(decision.steps)  # the steps' marks name the label


# --- data frames ------------------------------------------------------------------------------------------


def test_decision_frame_says_which_answers_are_settled_and_what_is_open() -> None:
    """settled, responsible_settled, open_questions and assumed (fact ids, comma-joined) per decision."""
    decisions = ansvar.route_many([OPIOID, {**OPIOID, CONSULTANT: True, "acute_assessment_indicated": False},
                                   DETOX], on=ON)
    frame = to_dataframe(decisions)
    assert tuple(frame.columns) == COLUMNS
    assert frame["settled"].dtype == bool
    assert frame["responsible_settled"].dtype == bool
    assert list(frame["settled"]) == [d.settled for d in decisions] == [False, True, False]
    assert list(frame["responsible_settled"]) == [d.responsible_settled for d in decisions]
    assert frame.loc[0, "open_questions"].split(",") == [q.fact for q in decisions[0].open_questions]
    assert CONSULTANT in frame.loc[0, "open_questions"].split(",")
    assert frame.loc[0, "assumed"].split(",") == [a.fact for a in decisions[0].assumed]
    assert (frame.loc[1, "open_questions"], frame.loc[1, "assumed"]) == ("", "")
    assert "wants_medical_help" in frame.loc[2, "open_questions"].split(",")
    assert list(frame.loc[~frame["settled"], "event"]) == ["akutte_opioidabstinenser", "afrusning"]


def test_step_frame_has_a_row_per_step_with_its_deadline_and_what_it_depends_on() -> None:
    """One row per step: its decision's index, number, deadline, the date it counts from, its open facts."""
    decisions = ansvar.route_many([ASSESSMENT, {**ASSESSMENT, "clarifying_conversation_on": "2026-11-20"},
                                   {"municipality": "aalborg", "event": "behandlingstilbud"}, OPIOID], on=ON)
    frame = to_steps_dataframe(decisions)
    assert tuple(frame.columns) == STEP_COLUMNS
    assert len(frame) == sum(len(d.steps) for d in decisions)
    assert list(frame["decision"]) == [i for i, d in enumerate(decisions) for _ in d.steps]
    assert list(frame["number"]) == [n for d in decisions for n in range(1, len(d.steps) + 1)]
    assert frame["decision"].dtype == "int64"
    assert pd.api.types.is_datetime64_any_dtype(frame["due"])
    assert pd.api.types.is_datetime64_any_dtype(frame["on"])
    assert frame["settled"].dtype == bool
    guarantee = frame.loc[frame["step"] == GUARANTEE].set_index("decision")
    waiting, counted = guarantee.loc[0], guarantee.loc[1]
    assert pd.isna(waiting["due"])
    assert (waiting["due_from"], waiting["due_after"], waiting["settled"]) == (
        "clarifying_conversation_on", "14 dage", False)
    assert waiting["depends_on"] == "clarifying_conversation_on"
    assert counted["due"] == pd.Timestamp(2026, 12, 4)
    assert (counted["due_from"], counted["settled"], counted["depends_on"]) == (
        "clarifying_conversation_on", True, "")
    for row, step in zip(frame.itertuples(), (s for d in decisions for s in d.steps), strict=True):
        assert (row.step, row.rule, row.settled) == (f"{step.actor}.{step.action}", step.rule, step.settled)
        assert (row.depends_on.split(",") if row.depends_on else []) == list(step.depends_on)
    away = frame.loc[frame["step"].str.endswith("kontakt_laegekonsulent_telefonisk")]
    assert list(away["depends_on"]) == [CONSULTANT]


def test_step_frame_marks_overdue_steps_and_takes_one_decision_or_none() -> None:
    """A step past its deadline is overdue in its row; one Decision alone and no decisions work."""
    late = ansvar.route({**ASSESSMENT, "clarifying_conversation_on": "2026-02-09"}, on=dt.date(2026, 3, 1))
    frame = to_steps_dataframe(late)
    assert list(frame.loc[frame["overdue"], "step"]) == [GUARANTEE]
    empty = to_steps_dataframe([])
    assert tuple(empty.columns) == STEP_COLUMNS
    assert len(empty) == 0
    with pytest.raises(TypeError, match="decision 0 is a dict"):
        to_steps_dataframe([ASSESSMENT])  # type: ignore[list-item]
