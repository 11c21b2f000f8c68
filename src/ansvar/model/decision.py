"""The answer: who is responsible, what happens next, why, and on which passage of which guide.

All models are frozen; `Decision.model_dump(mode="json")` is the JSON other systems receive. A Decision
shows itself three ways, all here, all Danish: a text card (`str`, as the CLI prints it), an HTML card
(notebooks: `_repr_html_`; inline CSS only, every text escaped, no scripts or external assets), and an
explanation (`explain()`: the lead's rule, then every rule that fired with its tests, layer and passage).
An answer that rests on facts nobody stated says so in all three: what the lead and each step and warning
depend on (by the facts' Danish labels), a deadline that waits for a date, the open questions with what
each answer would change, and the defaults assumed; a settled answer shows as it always did.
None holds personal data: a Decision carries no fact of the situation.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from html import escape
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from ansvar.errors import RoutingError
from ansvar.model.unknowns import Assumption, OpenQuestion, OpenValue

#: Warning ids with a fixed meaning across packs (docs/contract.md).
REVIEW_WARNING: Final = "vejledning_over_revisionsdato"  # routing after a contributing pack's review_by
OVERDUE_WARNING: Final = "frist_overskredet"  # a step's deadline lies before `on`
LATE_WARNING: Final = "frist_ikke_overholdt"  # the situation says a step was done, after its deadline
MEDCOM_WARNING: Final = "ingen_medcom_uden_samtykke"  # no MedCom to the GP without the citizen's consent
DEADLINE_WARNINGS: Final = (OVERDUE_WARNING, LATE_WARNING)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Frozen):
    """A passage of a guide (or law) that a conclusion rests on."""

    document: str
    section: str
    passage: str | None = Field(default=None, description="the guide's own words")
    quoted_in: str | None = Field(default=None, description=(
        "the document the passage is quoted from, when not `document` itself (a guide citing the agreement)"))


class Contact(_Frozen):
    """How to reach an actor, as the municipality's pack gives it."""

    actor: str
    name: str = Field(description="Danish display name")
    phone: str | None = None
    address: str | None = None
    online: str | None = None
    note: str | None = None


class Step(_Frozen):
    """One next step: who does what, by when, whom to contact, and where the guide says so."""

    actor: str
    actor_name: str = Field(description="Danish display name of the actor")
    action: str = Field(description="stable id of the action")
    text: str = Field(description="what to do, in Danish")
    due: dt.date | None = None
    contact: Contact | None = None
    source: Source
    rule: str = Field(description="the rule that concluded this step")
    due_from: str | None = Field(default=None, description=(
        "the date the deadline counts from: a date fact of the situation, or `on`; with `due` None, the date "
        "nobody gave yet (an open question)"))
    due_after: str | None = Field(default=None, description="the deadline in Danish: '14 dage', '1 måned'")
    settled: bool = Field(default=True, description=(
        "the step stands (with its deadline) whatever the facts nobody stated are"))
    depends_on: tuple[str, ...] = Field(default=(), description="the open questions (facts) it depends on")
    interpretation: str | None = Field(default=None, description=(
        "not the guide's words but the pack's reading where the guide is silent or unclear: why; None: the "
        "guide's"))


class DecisionWarning(_Frozen):
    """Something the reader must not miss; `id` is stable, `text` Danish."""

    id: str
    text: str
    source: Source
    rule: str | None = Field(default=None, description="the rule that raised it; None for the pack's own")
    step: str | None = Field(default=None, description=(
        "`frist_overskredet`, `frist_ikke_overholdt`: the step whose deadline passed, as actor.action"))
    due: dt.date | None = Field(default=None, description="the deadline that passed")
    days_overdue: int | None = Field(default=None, description=(
        "days past the deadline: to the routing date (pending), or to the day it was done (late)"))
    settled: bool = Field(default=True, description="raised whatever the facts nobody stated are")
    depends_on: tuple[str, ...] = Field(default=(), description="the open questions (facts) it depends on")
    interpretation: str | None = Field(default=None, description=(
        "not the guide's words but the pack's reading where the guide is silent or unclear: why; None: the "
        "guide's"))


class TraceEntry(_Frozen):
    """One rule that fired, in firing order, with the conditions that held for it."""

    rule: str
    priority: int
    layer: str | None = Field(default=None, description="the layer whose pack holds the rule")
    responsible: str | None = Field(description="the actor this rule claims the lead for, if any")
    overridden: bool = Field(default=False, description="its lead claim was outranked: steps dropped")
    conditions: tuple[str, ...] = Field(description="the tests that held; empty for a rule that always holds")
    source: Source
    interpretation: str | None = Field(default=None, description=(
        "not the guide's words but the pack's reading where the guide is silent or unclear: why; None: the "
        "guide's"))


class LayerInfo(_Frozen):
    """One layer's pack that contributed rules: whose document, which version, in force when."""

    layer: str
    kind: str = Field(description="national, region or municipality")
    document: str
    version: str
    valid_from: dt.date
    review_by: dt.date | None


class PackInfo(_Frozen):
    """The rule pack that answered, so the answer can be replayed.

    document, version and dates are those of the most specific layer's pack (the municipality's own,
    where it has one); `layers` lists every layer's pack that contributed, top (national law) first.
    """

    municipality: str
    event: str
    title: str
    document: str
    version: str
    valid_from: dt.date
    review_by: dt.date | None
    content_hash: str = Field(description="sha256 of every layer and rule file the answer rests on")
    layers: tuple[LayerInfo, ...] = ()
    notice: str | None = Field(default=None, description=(
        "what the guide says of its own standing, quoted (e.g. that it is advisory, not binding)"))


class Decision(_Frozen):
    """Who is responsible for a citizen's situation, and what happens next."""

    municipality: str
    event: str
    on: dt.date = Field(description="the date the answer is for: picks rule versions, computes deadlines")
    responsible: str = Field(description="the actor holding the primary responsibility")
    responsible_name: str = Field(description="Danish display name of the responsible actor")
    steps: tuple[Step, ...]
    warnings: tuple[DecisionWarning, ...]
    sources: tuple[Source, ...]
    trace: tuple[TraceEntry, ...]
    pack: PackInfo
    responsible_settled: bool = Field(default=True, description=(
        "the same actor leads whatever the facts nobody stated are"))
    responsible_depends_on: tuple[str, ...] = Field(default=(), description=(
        "the open questions (facts) the lead depends on"))
    open_questions: tuple[OpenQuestion, ...] = Field(default=(), description=(
        "facts nobody stated whose value would change the answer; empty when it is settled"))
    assumed: tuple[Assumption, ...] = Field(default=(), description=(
        "the defaults the answer used for facts that matter but were not stated"))
    responsible_interpretation: str | None = Field(default=None, description=(
        "the lead is not the guide's words but the pack's reading: why; None: the guide names the lead"))

    @property
    def settled(self) -> bool:
        """Whether the answer holds whatever the facts nobody stated are (no open question)."""
        return not self.open_questions

    def __str__(self) -> str:
        """A plain-text card, as the CLI prints it."""
        return render_text(self)

    def _repr_html_(self) -> str:
        """The Decision as an HTML card, for notebooks."""
        return render_html(self)

    def _repr_mimebundle_(self, include: Collection[str] | None = None,
                          exclude: Collection[str] | None = None) -> dict[str, str]:
        """Plain text and HTML, as IPython and Jupyter ask for them (they filter by include/exclude)."""
        del include, exclude
        return {"text/plain": str(self), "text/html": render_html(self)}

    def explain(self) -> str:
        """Why, in Danish: the lead's rule, then every rule that fired, its tests, layer and passage."""
        return explain(self)


@dataclass(frozen=True, slots=True)
class Answer:
    """A decision's outline: the lead and steps (actor.action), or the kind of pack defect that prevented one.

    It also lists the fired rules, in order, and those whose lead claim was outranked.

    `Router.outline` computes it without building a Decision, for bulk comparison and analysis.
    """

    responsible: str | None
    steps: frozenset[str]
    defect: type[RoutingError] | None = None
    fired: tuple[str, ...] = ()
    overridden: frozenset[str] = frozenset()

    @property
    def error(self) -> str | None:
        """The name of the defect's class (`NoResponsibleError`, `ConflictError`), or None."""
        return self.defect.__name__ if self.defect is not None else None

    def describe(self) -> str:
        """The lead actor, or the kind of defect."""
        return self.error or str(self.responsible)


# --- the text card -------------------------------------------------------------------------------------

WIDTH = 100


def _contact(contact: Contact) -> str:
    parts = [contact.name]
    parts += [p for p in (contact.phone and f"tlf. {contact.phone}", contact.address, contact.online,
                          contact.note) if p]
    return ", ".join(parts)


def _wrap(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=" " * len(indent)) or [indent]


def render_text(decision: Decision) -> str:
    """The Decision as a card: lead, steps with due dates and contacts, warnings, sources, trace.

    An answer that is not settled also says what it depends on: the lead and each step and warning that
    rest on a fact nobody stated name it (`? afhænger af: ...`), a deadline waiting for a date says so, and
    the sections `Åbne spørgsmål` and `Antagelser` list the questions and the defaults the answer used.
    """
    pack = decision.pack
    unknown = _Unknown(decision)
    lines = [f"{pack.title} ({decision.municipality}, {decision.on:%d.%m.%Y})",
             f"Ansvarlig: {decision.responsible_name} [{decision.responsible}]"]
    if not decision.responsible_settled:
        lines += _wrap(unknown.depends(decision.responsible_depends_on), "  ? ")
    if decision.responsible_interpretation:
        lines += _wrap(interpreted(decision.responsible_interpretation), "  ~ ")
    if pack.notice:
        lines += _wrap(notice(pack.notice), "  ")
    lines += ["", "Næste skridt:" if decision.steps else "Ingen næste skridt."]
    for number, step in enumerate(decision.steps, 1):
        lines += _text_step(unknown, number, step)
    if decision.warnings:
        lines += ["", "Advarsler:"]
        for warning in decision.warnings:
            lines += _text_warning(unknown, warning)
    lines += unknown.sections()
    lines += ["", "Kilder:"]
    for cited in dict.fromkeys(map(cited_as, decision.sources)):
        lines += _wrap(cited, "  - ")
    lines += ["", "Sporing (regler der fyrede):"]
    for entry in decision.trace:
        held = unknown.held(entry.conditions)
        note = " [tilsidesat af højere prioritet]" if entry.overridden else ""
        note += " [fortolkning]" if entry.interpretation else ""
        lines += _wrap(f"{entry.rule}{note}: {held}", "  · ")
    lines += ["", f"Regelsæt: {pack.document}, version {pack.version}, sha256 {pack.content_hash[:12]}"]
    return "\n".join(lines)


def _text_warning(unknown: _Unknown, warning: DecisionWarning) -> list[str]:
    lines = _wrap(warning.text, "  ! ")
    if not warning.settled:
        lines += _wrap(unknown.depends(warning.depends_on), "    ? ")
    if warning.interpretation:
        lines += _wrap(interpreted(warning.interpretation), "    ~ ")
    return lines


def _text_step(unknown: _Unknown, number: int, step: Step) -> list[str]:
    due = unknown.due(step)
    lines = _wrap(f"{step.actor_name}: {step.text}{f' ({due})' if due else ''}", f"  {number}. ")
    if unknown.shows_depends(step):
        lines += _wrap(unknown.depends(unknown.step_depends(step)), "       ? ")
    if step.interpretation:
        lines += _wrap(interpreted(step.interpretation), "       ~ ")
    if step.contact:
        lines += _wrap(f"Kontakt: {_contact(step.contact)}", "       ")
    return lines


# --- what the answer does not know, as the text card, the explanation and the HTML card say it ----------

#: A pack defect that some value of an open question would run into, in Danish.
_DEFECTS: Final = {
    "NoResponsibleError": "ingen regel udpeger en ansvarlig",
    "ConflictError": "regler af samme prioritet udpeger hver sin ansvarlige",
}


def _counted(after: str | None, anchor: str) -> str:
    """A deadline's length and its date: '14 dage efter X', 'samme dag som X', '2 dage før X'."""
    if after is None:
        return f"regnet fra {anchor}"
    if after == "samme dag":
        return f"samme dag som {anchor}"
    if after.endswith(" før"):
        return f"{after} {anchor}"
    return f"{after} efter {anchor}"


class _Unknown:
    """What a Decision does not know, in Danish: the facts it depends on by their labels, its questions.

    The Decision carries the labels of its open facts (in its questions and assumptions) but not the event's
    definition: a fact without either is shown by its id.
    """

    def __init__(self, decision: Decision, *, numbered: bool = True) -> None:
        self.decision = decision
        self.numbered = numbered  # the card numbers its steps; the explanation names them by actor.action
        self.labels = {a.fact: a.label for a in decision.assumed}
        self.labels.update((q.fact, q.label) for q in decision.open_questions)
        self.assumed = frozenset(a.fact for a in decision.assumed)
        self.numbers = {f"{s.actor}.{s.action}": n for n, s in enumerate(decision.steps, 1)}
        self.names = {s.actor: s.actor_name for s in decision.steps}
        self.names[decision.responsible] = decision.responsible_name

    def label(self, fact: str) -> str:
        return self.labels.get(fact, fact)

    def depends(self, facts: Iterable[str]) -> str:
        """`afhænger af: <labels>` (an unsettled part whose facts are not named: `ikke afgjort`)."""
        named = ", ".join(self.label(f) for f in facts)
        return f"afhænger af: {named}" if named else "ikke afgjort"

    @staticmethod
    def waits(step: Step) -> bool:
        """The step's deadline waits for a date nobody gave."""
        return step.due is None and step.due_from is not None

    def step_depends(self, step: Step) -> tuple[str, ...]:
        """The facts a step depends on, but the date its deadline waits for (its deadline says that)."""
        return tuple(f for f in step.depends_on if not (self.waits(step) and f == step.due_from))

    def due(self, step: Step) -> str | None:
        """The deadline as the cards show it.

        `senest 04.12.2026`, or the date it waits for: `frist: 14 dage efter <date> — datoen er ikke oplyst`.
        """
        if self.waits(step):
            counted = _counted(step.due_after, self.label(str(step.due_from)))
            return f"frist: {counted} — datoen er ikke oplyst"
        return f"senest {step.due:%d.%m.%Y}" if step.due is not None else None

    def origin(self, step: Step) -> str | None:
        """For the explanation of an open answer: a deadline and the date of the situation it counts from.

        `senest 04.12.2026, 14 dage efter <date>`, or the date it waits for; None for one from `on`.
        """
        if self.waits(step):
            return self.due(step)
        if self.decision.settled or step.due is None or step.due_from in (None, "on"):
            return None  # a settled answer's explanation is as it always was
        return f"senest {step.due:%d.%m.%Y}, {_counted(step.due_after, self.label(str(step.due_from)))}"

    def shows_depends(self, step: Step) -> bool:
        """Whether a step needs its own `afhænger af` line.

        It does when it is unsettled, and not only by the date its deadline waits for (the deadline says so).
        """
        return not step.settled and (bool(self.step_depends(step)) or not self.waits(step))

    def explained_step(self, step: Step) -> str:
        """A step as the explanation lists it: actor.action, its deadline's date and what it depends on."""
        depends = self.depends(self.step_depends(step)) if self.shows_depends(step) else None
        notes = [note for note in (self.origin(step), depends) if note]
        return f"{step.actor}.{step.action}" + (f" ({'; '.join(notes)})" if notes else "")

    def explained_warning(self, warning: DecisionWarning) -> str:
        return warning.id + ("" if warning.settled else f" ({self.depends(warning.depends_on)})")

    def held(self, conditions: Iterable[str]) -> str:
        """The tests of a trace entry, joined; a test of a fact the answer assumed marked `[antaget]`."""
        shown = [f"{c} [antaget]" if c.split(" ", 1)[0] in self.assumed else c for c in conditions]
        return " og ".join(shown) or "altid"

    def step(self, key: str) -> str:
        """A step by its number on the card, or (not on it) by its actor.action."""
        number = self.numbers.get(key) if self.numbered else None
        return f"skridt {number}" if number is not None else key

    def effect(self, value: OpenValue) -> str:
        """How the answer would differ with this value: lead, steps added and dropped, warnings."""
        if value.assumed:
            return "svaret ovenfor"
        parts = []
        if value.defect is not None:
            parts.append(f"{_DEFECTS.get(value.defect, value.defect)} ({value.defect})")
        elif value.responsible is not None and value.responsible != self.decision.responsible:
            name = self.names.get(value.responsible)
            parts.append(f"ansvarlig: {name} [{value.responsible}]" if name else
                         f"ansvarlig: {value.responsible}")
        if value.steps_added:
            parts.append("nye skridt: " + ", ".join(value.steps_added))
        if value.steps_dropped:
            parts.append("udgår: " + ", ".join(self.step(s) for s in value.steps_dropped))
        if value.warnings_added:
            parts.append("nye advarsler: " + ", ".join(value.warnings_added))
        if value.warnings_dropped:
            parts.append("advarsler udgår: " + ", ".join(value.warnings_dropped))
        return "; ".join(parts) or "samme svar, når de øvrige antagelser holder"

    def waiting(self, question: OpenQuestion) -> str | None:
        """`fristen for skridt 1 venter på datoen`, for a date a deadline waits for."""
        if not question.deadlines:
            return None
        return f"fristen for {', '.join(self.step(s) for s in question.deadlines)} venter på datoen"

    def value_label(self, value: OpenValue) -> str:
        return f"{value.label} (antaget)" if value.assumed else value.label

    def sections(self) -> list[str]:
        """`Åbne spørgsmål` and `Antagelser`, as the text card and the explanation show them."""
        lines: list[str] = []
        if self.decision.open_questions:
            lines += ["", "Åbne spørgsmål:"]
            for question in self.decision.open_questions:
                lines += _wrap(f"{question.label} [{question.fact}]: {question.question}", "  ? ")
                if question.description:
                    lines += _wrap(question.description, "      ")
                for value in question.values:
                    lines += _wrap(f"{self.value_label(value)}: {self.effect(value)}", "      - ")
                waiting = self.waiting(question)
                if waiting:
                    lines += _wrap(waiting, "      - ")
        if self.decision.assumed:
            lines += ["", "Antagelser (svaret gælder kun, hvis de holder):"]
            for assumption in self.decision.assumed:
                lines += _wrap(f"{assumption.label} = {assumption.value_label}", "  - ")
        return lines


# --- the explanation -----------------------------------------------------------------------------------

def explain(decision: Decision) -> str:
    """The decision in Danish: who leads by which rule, then every rule that fired and its passage.

    An answer that is not settled also says what the lead, each step and each warning depend on, marks the
    tests that held only by an assumed default (`[antaget]`), says from which date of the situation each
    deadline counts or which date it waits for, and ends with the open questions and the assumptions.
    """
    unknown = _Unknown(decision, numbered=False)
    lead = next((t for t in decision.trace
                 if t.responsible == decision.responsible and not t.overridden), None)
    lines = [f"{decision.pack.title} ({decision.municipality}, {decision.on:%d.%m.%Y})"]
    if lead is not None:
        lines += _wrap(f"{decision.responsible_name} er ansvarlig efter reglen »{lead.rule}« (prioritet "
                       f"{lead.priority}, lag {lead.layer}), fordi {unknown.held(lead.conditions)}.")
    if not decision.responsible_settled:
        lines += _wrap(f"Ansvaret {unknown.depends(decision.responsible_depends_on)}.", "  ? ")
    if decision.responsible_interpretation:
        lines += _wrap(interpreted(decision.responsible_interpretation), "  ~ ")
    if decision.pack.notice:
        lines += _wrap(notice(decision.pack.notice), "  ")
    if lead is not None:
        lines += _passage(lead.source, "  ")
    lines += ["", "Regler, der gælder, i rækkefølge:"]
    for number, entry in enumerate(decision.trace, 1):
        lines += _explained_entry(decision, unknown, number, entry)
    router_warnings = [w for w in decision.warnings if w.rule is None]
    if router_warnings:
        lines += ["", "Desuden:"]
        for warning in router_warnings:
            lines += _wrap(warning.text, "  ! ")
            if not warning.settled:
                lines += _wrap(unknown.depends(warning.depends_on), "    ? ")
    lines += unknown.sections()
    return "\n".join(lines)


def _explained_entry(decision: Decision, unknown: _Unknown, number: int, entry: TraceEntry) -> list[str]:
    """One fired rule: its tests, the lead it claims, its steps and warnings, and its passage."""
    lines = _wrap(f"{entry.rule} [{entry.layer}]: når {unknown.held(entry.conditions)}", f"{number:>3}. ")
    if entry.responsible is not None:
        verdict = f"gør {entry.responsible} ansvarlig"
        if entry.overridden:
            verdict += ", men tilsidesættes af højere prioritet; dens skridt og advarsler udelades"
        lines += _wrap(f"→ {verdict} (prioritet {entry.priority})", "       ")
    if entry.interpretation:
        lines += _wrap(f"→ {interpreted(entry.interpretation)}", "       ")
    steps = [s for s in decision.steps if s.rule == entry.rule]
    warnings = [w for w in decision.warnings if w.rule == entry.rule]
    if steps:
        lines += _wrap("→ skridt: " + ", ".join(map(unknown.explained_step, steps)), "       ")
    if warnings:
        lines += _wrap("→ advarsler: " + ", ".join(map(unknown.explained_warning, warnings)), "       ")
    own: list[tuple[str, str | None]] = [(f"{s.actor}.{s.action}", s.interpretation) for s in steps]
    own += [(w.id, w.interpretation) for w in warnings]
    for what, reason in own:
        if reason and reason != entry.interpretation:
            lines += _wrap(f"→ {what}: {interpreted(reason)}", "       ")
    return lines + _passage(entry.source, "       ")


def cited_as(source: Source) -> str:
    """'document — section', and through which document it is quoted, where it is not the document itself."""
    cited = f"{source.document} — {source.section}"
    return f"{cited} (citeret efter {source.quoted_in})" if source.quoted_in else cited


def interpreted(reason: str) -> str:
    """An interpretation, as every rendering marks it: not the guide's words, and why."""
    return f"Fortolkning (ikke vejledningens ord): {reason}"


def notice(text: str) -> str:
    """The guide's own word on its standing (e.g. that it is advisory), as every rendering shows it."""
    return f"Vejledningens status: »{text}«"


def _passage(source: Source, indent: str) -> list[str]:
    text = f"Kilde: {cited_as(source)}"
    if source.passage:
        text += f": »{source.passage}«"
    return _wrap(text, indent)


# --- the HTML card -------------------------------------------------------------------------------------

#: Warnings about deadlines: shown first and in red, as the step they name.
OVERDUE_WARNINGS = DEADLINE_WARNINGS

_CARD = ("font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:14px;"
         "line-height:1.4;color:#1f2933;background:#ffffff;border:1px solid #cbd2d9;border-radius:6px;"
         "padding:12px 16px;max-width:780px")
_TITLE = "margin:0 0 2px 0;font-size:15px;font-weight:600"
_MUTED = "color:#616e7c;font-size:12px"
_LEAD = "margin:8px 0;padding:6px 10px;background:#e3f8ff;border-left:4px solid #2680c2;border-radius:3px"
_HEAD = "margin:10px 0 4px 0;font-size:13px;font-weight:600;text-transform:uppercase;color:#3e4c59"
_LIST = "margin:0;padding-left:22px"
_ITEM = "margin:2px 0"
_CODE = "font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;color:#52606d"
_DUE = "white-space:nowrap;color:#3e4c59"
_LATE = "white-space:nowrap;color:#ab091e;font-weight:600"
_WARN = "margin:2px 0;padding:3px 8px;background:#fffbea;border-left:3px solid #f0b429"
_WARN_LATE = "margin:2px 0;padding:3px 8px;background:#ffe3e3;border-left:3px solid #ab091e;color:#610316"
_QUOTE = "margin:4px 0 6px 12px;padding-left:8px;border-left:2px solid #cbd2d9;color:#3e4c59"
_OPEN = "color:#8d2b0b;font-size:12px"  # what an unsettled part depends on
_WAIT = "color:#8d2b0b"  # a deadline waiting for a date nobody gave
_SUBLIST = "margin:0;padding-left:18px;color:#3e4c59"
_FOOT = "margin-top:10px;padding-top:6px;border-top:1px solid #e4e7eb;color:#616e7c;font-size:12px"


_INTERP = "color:#5b2a86;font-size:12px;font-style:italic"  # the pack's reading, not the guide's words
_NOTICE = "margin:6px 0;padding:4px 8px;background:#f0f4f8;border-left:3px solid #829ab1;font-size:12px"


def _interpreted(reason: str | None) -> str:
    return f'<br><span style="{_INTERP}">{_e(interpreted(reason))}</span>' if reason else ""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _date(day: object) -> str:
    return f"{day:%d.%m.%Y}"


def _steps(decision: Decision, unknown: _Unknown) -> list[str]:
    late = {w.step for w in decision.warnings if w.id in OVERDUE_WARNINGS and w.step}
    if not decision.steps:
        return [f'<p style="{_ITEM}">Ingen næste skridt.</p>']
    out = [f'<ol style="{_LIST}">']
    for step in decision.steps:
        due = ""
        if unknown.waits(step):
            due = f' <span style="{_WAIT}">({_e(unknown.due(step))})</span>'
        elif step.due is not None:
            overdue = f"{step.actor}.{step.action}" in late
            label = "frist overskredet" if overdue else "senest"
            due = f' <span style="{_LATE if overdue else _DUE}">({label} {_date(step.due)})</span>'
        depends = (f'<br><span style="{_OPEN}">? {_e(unknown.depends(unknown.step_depends(step)))}</span>'
                   if unknown.shows_depends(step) else "") + _interpreted(step.interpretation)
        contact = (f'<br><span style="{_MUTED}">Kontakt: {_e(_contact(step.contact))}</span>'
                   if step.contact else "")
        out.append(f'<li style="{_ITEM}"><strong>{_e(step.actor_name)}</strong>: {_e(step.text)}{due}'
                   f"{depends}{contact}</li>")
    out.append("</ol>")
    return out


def _warning(warning: DecisionWarning, unknown: _Unknown) -> str:
    depends = ("" if warning.settled else
               f'<br><span style="{_OPEN}">? {_e(unknown.depends(warning.depends_on))}</span>')
    depends += _interpreted(warning.interpretation)
    if warning.id in OVERDUE_WARNINGS:  # its text names the step, the deadline and the days late
        return (f'<div style="{_WARN_LATE}">&#9888; <strong>{_e(warning.text)}</strong> '
                f'<span style="{_CODE}">{_e(warning.id)}</span>{depends}</div>')
    return (f'<div style="{_WARN}">{_e(warning.text)} <span style="{_CODE}">{_e(warning.id)}</span>'
            f"{depends}</div>")


def _unknowns(unknown: _Unknown) -> list[str]:
    """`Åbne spørgsmål` (each with its values and their effect) and `Antagelser`, as in the text card."""
    decision = unknown.decision
    out: list[str] = []
    if decision.open_questions:
        out += [f'<div style="{_HEAD}">Åbne spørgsmål</div>', f'<ul style="{_LIST}">']
        for question in decision.open_questions:
            answers = [f"{unknown.value_label(v)}: {unknown.effect(v)}" for v in question.values]
            answers += [w for w in (unknown.waiting(question),) if w]
            items = "".join(f'<li style="{_ITEM}">{_e(a)}</li>' for a in answers)
            about = (f'<br><span style="{_MUTED}">{_e(question.description)}</span>'
                     if question.description else "")
            out.append(f'<li style="{_ITEM}"><strong>{_e(question.label)}</strong> '
                       f'<span style="{_CODE}">[{_e(question.fact)}]</span>: {_e(question.question)}{about}'
                       f'<ul style="{_SUBLIST}">{items}</ul></li>')
        out.append("</ul>")
    if decision.assumed:
        out += [f'<div style="{_HEAD}">Antagelser</div>',
                f'<p style="{_ITEM}">Svaret gælder kun, hvis de holder:</p>', f'<ul style="{_LIST}">']
        out += [f'<li style="{_ITEM}">{_e(a.label)} = <strong>{_e(a.value_label)}</strong></li>'
                for a in decision.assumed]
        out.append("</ul>")
    return out


def _sources(sources: Iterable[Source]) -> list[str]:
    """One line per document — section (as the text card), its passages folded in a <details>."""
    passages: dict[str, list[str]] = {}
    for source in sources:
        known = passages.setdefault(cited_as(source), [])
        if source.passage and source.passage not in known:
            known.append(source.passage)
    out = [f'<ul style="{_LIST}">']
    for cited, quoted in passages.items():
        if not quoted:
            out.append(f'<li style="{_ITEM}">{_e(cited)}</li>')
            continue
        quotes = "".join(f'<blockquote style="{_QUOTE}">{_e(passage)}</blockquote>' for passage in quoted)
        out.append(f'<li style="{_ITEM}"><details><summary style="cursor:pointer">{_e(cited)}</summary>'
                   f"{quotes}</details></li>")
    out.append("</ul>")
    return out


def render_html(decision: Decision) -> str:
    """The Decision as an HTML card: lead, steps with deadlines and contacts, warnings, sources, pack."""
    pack = decision.pack
    unknown = _Unknown(decision)
    lead = ("" if decision.responsible_settled else
            f'<br><span style="{_OPEN}">? {_e(unknown.depends(decision.responsible_depends_on))}</span>')
    lead += _interpreted(decision.responsible_interpretation)
    html = [
        f'<div class="ansvar-decision" lang="da" style="{_CARD}">',
        f'<div style="{_TITLE}">{_e(pack.title)}</div>',
        (f'<div style="{_MUTED}">{_e(decision.municipality)} · {_e(decision.event)} · '
        f"{_date(decision.on)}</div>"),
        (f'<div style="{_LEAD}">Ansvarlig: <strong>{_e(decision.responsible_name)}</strong> '
        f'<span style="{_CODE}">[{_e(decision.responsible)}]</span>{lead}</div>'),
        *([f'<div style="{_NOTICE}">{_e(notice(pack.notice))}</div>'] if pack.notice else []),
        f'<div style="{_HEAD}">Næste skridt</div>',
        *_steps(decision, unknown),
    ]
    if decision.warnings:
        # Deadlines first: an overdue step is what the reader must see before anything else.
        ordered = sorted(decision.warnings, key=lambda w: w.id not in OVERDUE_WARNINGS)
        html += [f'<div style="{_HEAD}">Advarsler</div>', *(_warning(w, unknown) for w in ordered)]
    html += _unknowns(unknown)
    html += [f'<div style="{_HEAD}">Kilder</div>', *_sources(decision.sources)]
    layers = " → ".join(layer.layer for layer in pack.layers)
    html += [(f'<div style="{_FOOT}">Regelsæt: {_e(pack.document)}, version {_e(pack.version)}'
             f'{" · lag: " + _e(layers) if layers else ""} · '
             f'<span style="{_CODE}">sha256 {_e(pack.content_hash[:12])}</span></div>'),
             "</div>"]
    return "\n".join(html)
