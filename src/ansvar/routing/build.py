"""The answer, built in one place: a pack's static parts once, then each Decision from its resolution.

For every pack the first route prepares what never depends on the situation: each rule's Source, Steps
(deadline still open) and warnings, the pack's `PackInfo`, its review warnings. A Decision then takes the
resolved rules (`ansvar.routing.resolve`) in firing order: steps and warnings of every rule that stands,
each (actor, action) step and each warning id once; the trace; the sources of the conclusions that stand.

Deadlines. A step's `due` counts calendar months, then days, from a date of the situation or from `on`
(python-dateutil does the month arithmetic: 31 January + 1 month is 28 or 29 February); never from a date
nobody gave: where the first of its `from` dates is not stated, `due` is None and `due_from` names the date
it waits for (`counted_from`). A deadline that lies
before `on` adds a `frist_overskredet` warning naming the step and the days overdue. A step may name the date
fact that tells it was done (`done_on`): given, the step is left out, and if it was done after its deadline
a `frist_ikke_overholdt` warning names the step and the days late. After a layer's `review_by`, the
decision warns.

Kept between calls, bounded: Decisions by (the engine rules that fired, the date) where no date of the
situation enters them, and steps dated from `on`. A Decision that reads a citizen's date is built from a kept
plan (`_Plan`: everything but its dates, fixed by the rules that fired and by which dates the situation sets,
states null or leaves out) and dated for that call. Nothing derived from a citizen's own dates is kept.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ansvar.model.decision import (
    LATE_WARNING,
    OVERDUE_WARNING,
    REVIEW_WARNING,
    Contact,
    Decision,
    DecisionWarning,
    LayerInfo,
    PackInfo,
    Source,
    Step,
    TraceEntry,
)
from ansvar.model.events import EventDefinition, SituationBase
from ansvar.packs.compiler import engine_value
from ansvar.packs.loader import LayerPack, Pack
from ansvar.packs.schema import ROUTING_DATE, Due, RuleSpec, SourceRef, StepSpec
from ansvar.routing.cache import LRU
from ansvar.routing.resolve import Resolution, resolve

if TYPE_CHECKING:
    from dateutil.relativedelta import relativedelta

MAX_CACHED = 4096  # Decisions, plans, dated steps kept per pack (a batch shares them); least recently used go
#: What `Answers.dates` tells of a date fact: the situation does not state it, states it null, or sets it.
UNSTATED, NULL, SET = 0, 1, 2


def engine_fact(pack: Pack, situation: SituationBase) -> dict[str, object]:
    """The situation as the engine reads it: every fact of the pack's event, dates as day ordinals."""
    names, read, dates = _reader(pack.definition)
    fact: dict[str, object] = dict(zip(names, read(situation), strict=True))
    for name in dates:  # only a date fact can hold a date (a value of the wrong type meets `sanitise`)
        if isinstance(value := fact[name], dt.date):
            fact[name] = engine_value(value)
    return fact


@functools.lru_cache(maxsize=256)  # one per event definition in use; a reload's old ones age out
def _reader(definition: EventDefinition) -> tuple[tuple[str, ...], Callable[[object], tuple[object, ...]],
                                                  tuple[str, ...]]:
    """An event's fact names, a function reading all of them from a situation at once, and its date facts."""
    names = tuple(definition.fact_types)
    read: Callable[[object], Any]
    if len(names) == 1:
        single = operator.attrgetter(names[0])
        read = lambda situation: (single(situation),)  # noqa: E731 - attrgetter of one name gives no tuple
    else:
        read = operator.attrgetter(*names) if names else (lambda _situation: ())
    dates = tuple(name for name, fact in definition.fact_types.items() if fact.kind == "date")
    return names, read, dates


def pack_info(pack: Pack) -> PackInfo:
    """Which pack answered, so the answer can be replayed: its most specific layer's header, every layer."""
    meta = pack.meta
    return PackInfo(
        municipality=pack.municipality.id, event=pack.event, title=meta.title, document=meta.document,
        version=meta.version, valid_from=meta.valid_from, review_by=meta.review_by,
        content_hash=pack.content_hash,
        layers=tuple(LayerInfo(layer=p.layer.id, kind=p.layer.kind, document=p.meta.document,
                               version=p.meta.version, valid_from=p.meta.valid_from,
                               review_by=p.meta.review_by) for p in pack.parts),
        notice=pack.notice)


def due_date(due: Due, situation: SituationBase, on: dt.date) -> dt.date | None:
    """The date a deadline falls on: calendar months, then days, after the first `from` date that is set.

    None when the deadline waits for a date nobody gave (`counted_from`).

    >>> import ansvar
    >>> s = ansvar.parse_situation({"municipality": "rebild", "event": "behandlingsforloeb",
    ...                             "treatment_ended_on": "2024-01-31"})
    >>> due_date(Due(months=1, **{"from": "treatment_ended_on"}), s, dt.date(2024, 3, 1))
    datetime.date(2024, 2, 29)
    """
    name, pending = counted_from(due, situation)
    if pending:
        return None
    return _after(due, on if name == ROUTING_DATE else getattr(situation, name))


def _after(due: Due, start: dt.date) -> dt.date:
    if not due.months:
        return start + dt.timedelta(days=due.days)  # the common case, without relativedelta's cost
    return start + _calendar(due.months, due.days)


@functools.lru_cache(maxsize=64)
def _calendar(months: int, days: int) -> relativedelta:
    """A deadline's length in calendar months and days (a rule's constants, made once: no citizen's data)."""
    from dateutil.relativedelta import relativedelta  # noqa: PLC0415 - only for calendar months

    return relativedelta(months=months, days=days)


def counted_from(due: Due, situation: SituationBase) -> tuple[str, bool]:
    """The date the deadline counts from, and whether it waits for that date (nobody gave it).

    The first of the deadline's `from` dates the situation sets; `on` is always set. A date fact the
    situation does not state stops the search: it may be set in truth, and then it counts, so the deadline
    waits for it (never counted from a later `from`, the routing date least of all). Stated as null, the
    next `from` counts.
    """
    for name in due.from_:
        if name == ROUTING_DATE or getattr(situation, name) is not None:
            return name, False
        if name not in situation.model_fields_set:
            return name, True
    # The loader refuses a deadline whose dates the rule's condition does not guarantee.
    msg = f"deadline counts from {', '.join(due.from_)}, and none is set"
    raise AssertionError(msg)


def due_after(due: Due) -> str:
    """A deadline's length in Danish: '14 dage', '1 måned og 3 dage', 'samme dag', '2 dage før'."""
    parts = []
    if due.months:
        parts.append(f"{due.months} {'måned' if due.months == 1 else 'måneder'}")
    if due.days:
        parts.append(f"{abs(due.days)} {_days(abs(due.days))}")
    if not parts:
        return "samme dag"
    return " og ".join(parts) + (" før" if due.days < 0 and not due.months else "")


def cite(part: LayerPack, ref: SourceRef) -> Source:
    """The Source a rule's reference names, in the document of the layer's pack that holds it.

    A passage under the event's own section is cited below it; the guide's introduction, another section,
    or another document (a law, the regional agreement) is cited as the rule names it, and so is a passage
    quoted through another document (`quoted_in`: its section is that document's).
    """
    meta = part.meta
    in_event = ref.in_event and ref.document is None and ref.quoted_in is None
    return Source(document=ref.document or meta.document,
                  section=f"{meta.section} — {ref.section}" if in_event else ref.section, passage=ref.passage,
                  quoted_in=ref.quoted_in)


@dataclass(frozen=True, slots=True)
class _PreparedRule:
    """One rule's static answer parts: its Source, its Steps (deadline still open) and its warnings."""

    rule: RuleSpec
    layer: str
    source: Source
    steps: tuple[tuple[StepSpec, Step], ...]
    warnings: tuple[DecisionWarning, ...]


class Answers:
    """Builds a pack's Decisions; the parts that do not depend on the situation are built once.

    Steps, warnings, sources and contacts are the same in every Decision a pack gives, but for deadlines
    (copied with their date per route) and trace entries (cached per rule, tests held and outranking).
    Whole Decisions are kept by the engine rules that fired and the date, where no date of the situation
    enters them (bounded; no citizen's data is kept: a set of rule names and a routing date). Shared
    objects are frozen, so Decisions can hold them safely.
    """

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        self.info = pack_info(pack)
        self.rules: dict[str, _PreparedRule] = {}
        for rule_id, rule in pack.rules.items():
            part = pack.origin[rule_id]
            source = cite(part, rule.source)
            steps = tuple((spec, Step(
                actor=spec.actor, actor_name=pack.actors[spec.actor].name, action=spec.action,
                text=spec.text, due=None, contact=_contact(pack, spec.contact),
                source=cite(part, spec.source) if spec.source else source, rule=rule_id,
                due_after=due_after(spec.due) if spec.due else None,
                interpretation=rule.interpretation(spec)))
                for spec in rule.steps)
            warnings = tuple(DecisionWarning(
                id=w.id, text=w.text, source=cite(part, w.source) if w.source else source, rule=rule_id,
                interpretation=rule.interpretation(w))
                for w in rule.warnings)
            self.rules[rule_id] = _PreparedRule(rule, part.layer.id, source, steps, warnings)
        self.reviews = tuple((part.meta.review_by, DecisionWarning(
            id=REVIEW_WARNING,
            text=f"{part.meta.document} (version {part.meta.version}) skulle have været revideret senest "
                 f"{part.meta.review_by:%d.%m.%Y}; kontrollér, at den stadig gælder.",
            source=Source(document=part.meta.document, section=part.meta.section), rule=None))
            for part in pack.parts if part.meta.review_by is not None)
        self._trace: dict[tuple[str, tuple[str, ...], bool], TraceEntry] = {}
        self._due: LRU[tuple[str, str, str, dt.date | None, str], Step] = LRU(MAX_CACHED)
        #: The situation's dates some deadline or done step reads (`on` aside).
        specs = [step for rule in pack.rules.values() for step in rule.steps]
        self.date_facts = tuple(sorted(
            {name for step in specs if step.due for name in step.due.from_ if name != ROUTING_DATE}
            | {step.done_on for step in specs if step.done_on}))
        #: Decisions by (alternatives that held, date, `dates`), for situations none of whose `date_facts` is
        #: set.
        self.decisions: LRU[tuple[frozenset[str], dt.date, tuple[int, ...]], Decision] = LRU(MAX_CACHED)
        #: Plans by (alternatives that held, `dates`): every Decision is its plan, dated.
        self.plans: LRU[tuple[frozenset[str], tuple[int, ...]], _Plan] = LRU(MAX_CACHED)
        #: Resolutions by the engine rules that fired (pack-level: rule names only), for Decisions that read
        #: a situation's date and so are built each time.
        self.resolutions: LRU[frozenset[str], Resolution] = LRU(MAX_CACHED)

    def decide(self, situation: SituationBase, fired: Collection[str], on: dt.date) -> Decision:
        """The Decision for a situation whose evaluation fired the engine rules `fired`, on `on`.

        Raises the pack's defect (`NoResponsibleError`, `ConflictError`) when the rules give no single lead.
        """
        # A Decision is fixed by the rules that fired, the date and which dates are unstated, unless a
        # deadline or a done step reads a date of the situation: such Decisions are dated each time from
        # their kept plan (and no citizen's date is kept).
        held = frozenset(fired)
        dates = self.dates(situation)
        if SET in dates:
            return self.dated(self.plan(held, dates, situation), situation, on)
        key = (held, on, dates)
        found = self.decisions.get(key)
        if found is None:
            found = self.decisions.put(key, self.dated(self.plan(held, dates, situation), situation, on))
        return found

    def dates(self, situation: SituationBase) -> tuple[int, ...]:
        """Of each of `date_facts`: whether the situation sets it (`SET`), states it null, or leaves it out.

        What this tells of a situation fixes which deadlines count from which date, which wait for one and
        which steps are done (see `counted_from`): a plan is kept by it, never by a date's value.
        """
        stated = situation.model_fields_set
        return tuple(SET if getattr(situation, name) is not None else NULL if name in stated else UNSTATED
                     for name in self.date_facts)

    def plan(self, held: frozenset[str], dates: tuple[int, ...], situation: SituationBase) -> _Plan:
        """The plan of the Decisions of situations that fire `held` and whose `dates` are these (kept)."""
        key = (held, dates)
        found = self.plans.get(key)
        if found is None:  # the resolution's defect, if any, is raised here: a plan has a lead
            found = self.plans.put(key, _plan(self, situation, self.resolution(held)))
        return found

    def resolution(self, fired: frozenset[str]) -> Resolution:
        """The hit policy's result for the engine rules that fired: kept by that set of rule names.

        Only a resolution with a single lead is kept: a defect is an exception the caller raises, and a kept
        instance would carry each raise's traceback (with the caller's frames) into the next call.
        """
        found = self.resolutions.get(fired)
        if found is None:
            found = resolve(self.pack, fired)
            if found.defect is None:
                self.resolutions.put(fired, found)
        return found

    def build(self, situation: SituationBase, resolution: Resolution, on: dt.date) -> Decision:
        """The Decision of a resolution: its lead, the steps and warnings that stand, trace and sources."""
        return self.dated(_plan(self, situation, resolution), situation, on)

    def dated(self, plan: _Plan, situation: SituationBase, on: dt.date) -> Decision:
        """The plan's Decision for a situation on `on`: deadlines counted, overdue and late ones warned."""
        steps = [self._counted(part, situation, on) if isinstance(part, _Dated) else part
                 for part in plan.steps]
        warnings: dict[tuple[str, ...], DecisionWarning] = {}
        for key, item in plan.warnings:
            if not isinstance(item, _Late):
                warnings.setdefault(key, item)
            elif key not in warnings:
                late = item
                done: dt.date = getattr(situation, late.done)
                due = _after(late.dated.due, on if late.dated.start == ROUTING_DATE
                             else getattr(situation, late.dated.start))
                if done > due:
                    days = (done - due).days
                    warnings[key] = _deadline(LATE_WARNING, late.dated.step, due, days, (
                        f"Fristen {due:%d.%m.%Y} blev ikke overholdt: gjort {done:%d.%m.%Y}, {days} "
                        f"{_days(days)} for sent"))
        for step in steps:
            if step.due is not None and step.due < on:
                days = (on - step.due).days
                warnings.setdefault((OVERDUE_WARNING, step.actor, step.action), _deadline(
                    OVERDUE_WARNING, step, step.due, days,
                    f"Fristen {step.due:%d.%m.%Y} er overskredet med {days} {_days(days)}"))
        for review_by, warning in self.reviews:
            if on > review_by:
                warnings.setdefault((REVIEW_WARNING, warning.source.document), warning)
        pack = self.pack
        return Decision(
            municipality=pack.municipality.id, event=pack.event, on=on, responsible=plan.responsible,
            responsible_name=plan.responsible_name, steps=tuple(steps), warnings=tuple(warnings.values()),
            sources=plan.sources, trace=plan.trace, pack=self.info,
            responsible_interpretation=plan.interpretation,
        )

    def _counted(self, dated: _Dated, situation: SituationBase, on: dt.date) -> Step:
        start = dated.start
        if start == ROUTING_DATE:
            return self.with_due(dated.step, _after(dated.due, on), start, keep=True)
        return self.with_due(dated.step, _after(dated.due, getattr(situation, start)), start, keep=False)

    def with_due(self, step: Step, due: dt.date | None, due_from: str, *, keep: bool) -> Step:
        """The step with its deadline (None: waiting for the date `due_from`), counted from `due_from`.

        `keep`: a deadline from `on`, or one waiting for a date, is kept (a day's batch shares them).
        """
        update = {"due": due, "due_from": due_from}
        if not keep:  # counted from a citizen's own date: built for this call and never kept
            return step.model_copy(update=update)
        key = (step.rule, step.actor, step.action, due, due_from)
        found = self._due.get(key)
        if found is None:
            found = self._due.put(key, step.model_copy(update=update))
        return found

    def trace_entry(self, rule_id: str, conditions: tuple[str, ...], *, overridden: bool) -> TraceEntry:
        """The trace entry of a fired rule: kept per (rule, tests held, outranked), shared by Decisions."""
        key = (rule_id, conditions, overridden)
        entry = self._trace.get(key)
        if entry is None:  # a benign race between threads builds an equal entry twice
            prepared = self.rules[rule_id]
            rule = prepared.rule
            entry = TraceEntry(rule=rule_id, priority=rule.priority, layer=prepared.layer,
                               responsible=rule.responsible, overridden=overridden, conditions=conditions,
                               source=prepared.source, interpretation=rule.interpretation())
            self._trace[key] = entry
        return entry


def _lead_interpretation(resolution: Resolution) -> str | None:
    """Why the lead is the pack's reading, when every rule naming it is an interpretation; else None."""
    claims = [h.rule for h in resolution.held
              if not h.overridden and h.rule.responsible == resolution.responsible]
    reasons = [rule.interpretation() for rule in claims]
    if not reasons or any(reason is None for reason in reasons):
        return None  # the guide's words name the lead (in one rule at least)
    return reasons[0]


def _days(count: int) -> str:
    return "dag" if count == 1 else "dage"


def _contact(pack: Pack, actor: str | None) -> Contact | None:
    if actor is None:
        return None
    known = pack.actors[actor]
    details = known.contact.model_dump() if known.contact else {}
    return Contact(actor=actor, name=known.name, **details)


def _deadline(warning_id: str, step: Step, due: dt.date, days: int, what: str) -> DecisionWarning:
    return DecisionWarning(id=warning_id, text=f"{what}: {step.actor_name}: {step.text}", source=step.source,
                           rule=step.rule, step=f"{step.actor}.{step.action}", due=due, days_overdue=days)


@dataclass(frozen=True, slots=True)
class _Dated:
    """A step whose deadline is counted for each Decision: from `start`, a date of the situation or `on`."""

    step: Step
    due: Due
    start: str


@dataclass(frozen=True, slots=True)
class _Late:
    """A dated step the situation says was done (its date fact `done`): warned of where done after its due."""

    dated: _Dated
    done: str


@dataclass(frozen=True, slots=True)
class _Plan:
    """A resolution's Decision but for its dates: what the rules that fired and `Answers.dates` fix.

    Made of the pack's prepared parts and rule constants only; which of the situation's dates are set,
    null or unstated chose them, and no date's value is in it, so it is kept (`Answers.plans`).
    """

    responsible: str
    responsible_name: str
    interpretation: str | None
    trace: tuple[TraceEntry, ...]
    steps: tuple[Step | _Dated, ...]  # in order: each (actor, action) once; done steps left out
    #: In order, by the key a warning is kept once under: a rule's warning (each id once) or a done step's
    #: late warning (raised where its date says so; overdue and review warnings follow at `Answers.dated`).
    warnings: tuple[tuple[tuple[str, ...], DecisionWarning | _Late], ...]
    sources: tuple[Source, ...]


def _plan(answers: Answers, situation: SituationBase, resolution: Resolution) -> _Plan:
    """The plan of `resolution` for situations that set, null or leave unstated the dates this one does.

    Reads of `situation` only what `Answers.dates` tells of it: whether a date is set, and whether stated.
    Raises the resolution's defect when it has no single lead.
    """
    responsible = resolution.lead()
    trace: list[TraceEntry] = []
    steps: dict[tuple[str, str], Step | _Dated] = {}
    warnings: list[tuple[tuple[str, ...], DecisionWarning | _Late]] = []
    sources: dict[tuple[str, str, str | None], Source] = {}

    def cite(source: Source) -> None:
        sources.setdefault((source.document, source.section, source.passage), source)

    for held in resolution.held:
        prepared = answers.rules[held.rule.id]
        trace.append(answers.trace_entry(held.rule.id, held.conditions, overridden=held.overridden))
        if held.overridden:  # its conclusions do not stand: the trace keeps it, the sources do not cite it
            continue
        cite(prepared.source)
        for spec, step in prepared.steps:
            if (spec.actor, spec.action) not in steps:
                cite(step.source)
                part = _planned(answers, situation, spec, step)
                if isinstance(part, _Late):
                    warnings.append(((LATE_WARNING, spec.actor, spec.action), part))
                elif part is not None:
                    steps[spec.actor, spec.action] = part
        for warning in prepared.warnings:
            cite(warning.source)
            warnings.append(((warning.id,), warning))
    return _Plan(responsible=responsible, responsible_name=answers.pack.actors[responsible].name,
                 interpretation=_lead_interpretation(resolution), trace=tuple(trace),
                 steps=tuple(steps.values()), warnings=_first_of_each(warnings),
                 sources=tuple(sources.values()))


def _planned(answers: Answers, situation: SituationBase, spec: StepSpec,
             step: Step) -> Step | _Dated | _Late | None:
    """A step that stands, as planned: its deadline waiting for a date, or counted per Decision (`_Dated`).

    A step the situation says was done is left out: its late check where its deadline is counted, else None.
    """
    part: Step | _Dated = step
    if spec.due is not None:
        name, pending = counted_from(spec.due, situation)
        part = answers.with_due(step, None, name, keep=True) if pending else _Dated(step, spec.due, name)
    if spec.done_on is None or getattr(situation, spec.done_on) is None:
        return part
    return _Late(part, spec.done_on) if isinstance(part, _Dated) else None


def _first_of_each(warnings: list[tuple[tuple[str, ...], DecisionWarning | _Late]],
                   ) -> tuple[tuple[tuple[str, ...], DecisionWarning | _Late], ...]:
    """A rule's warning only where none of its id came before (a late warning is decided per Decision)."""
    seen: set[tuple[str, ...]] = set()
    kept = []
    for key, item in warnings:
        if isinstance(item, _Late) or key not in seen:
            seen.add(key)
            kept.append((key, item))
    return tuple(kept)
