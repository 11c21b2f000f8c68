"""route(): validate the situation, evaluate its pack on durable_rules, resolve the lead, build the Decision.

Hit policy. Every rule whose conditions hold fires. Among the fired rules that name a `responsible` actor,
the one with the highest `priority` holds the lead. Two fired rules at that top priority that name different
actors are a defect of the pack (`ConflictError`), never resolved by file order; no fired rule naming a
responsible actor is `NoResponsibleError`. A fired rule whose lead claim is outranked is overridden: it stays
in the trace, marked so, and its steps and warnings are dropped (they belong to a branch the guide did not
take). Steps and warnings of every other fired rule collect in firing order (layer by layer, top down, then
file order), each (actor, action) step and each warning id once.

Deadlines. A step's `due` counts calendar months, then days, from a date of the situation or from `on`
(python-dateutil does the month arithmetic: 31 January + 1 month is 28 or 29 February). A deadline that lies
before `on` adds a `frist_overskredet` warning naming the step and the days overdue. A step may name the date
fact that tells it was done (`done_on`): given, the step is left out, and if it was done after its deadline
a `frist_ikke_overholdt` warning names the step and the days late. Routing before any
contributing layer's `valid_from` is an error; after a layer's `review_by`, the decision warns.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ansvar.compiler import SEPARATOR, engine_value
from ansvar.decision import (
    Answer,
    Contact,
    Decision,
    DecisionWarning,
    Source,
    Step,
    TraceEntry,
)
from ansvar.engine import MAX_BATCH
from ansvar.errors import (
    ConflictError,
    NoResponsibleError,
    RoutingError,
    RuleError,
    SituationError,
    UnknownEventError,
)
from ansvar.loader import LayerPack, Pack, Problems, load
from ansvar.schema import ACTORS, ROUTING_DATE, Due, RuleSpec, SourceRef, StepSpec
from ansvar.situation import EARLIEST_DATE, LATEST_DATE, SituationBase, parse_situation

if TYPE_CHECKING:
    from ansvar.explain import WhyNot

#: Warning ids the router itself raises (fixed meaning across packs).
REVIEW_WARNING = "vejledning_over_revisionsdato"
OVERDUE_WARNING = "frist_overskredet"
PROCESS_CHUNK = 2000  # situations sent to a worker process at a time
MAX_CACHED = 4096  # deadline-dated steps kept per pack (a day's batch shares them); cleared when full
LATE_WARNING = "frist_ikke_overholdt"


def shipped_rules() -> Path:
    """The rule packs that ship with ansvar (inside the wheel, or `rules/` of a source checkout)."""
    from importlib import resources  # noqa: PLC0415 - only to find the packs

    packaged = Path(str(resources.files("ansvar") / "_packs"))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "rules"


@dataclass(frozen=True, slots=True)
class _Loaded:
    """What one load of the rule directories gave; swapped whole, so a reload is atomic for readers."""

    packs: Mapping[tuple[str, str], Pack]
    municipalities: frozenset[str]
    prepared: dict[tuple[str, str], _Prepared]  # filled on each pack's first route

    @classmethod
    def of(cls, dirs: Sequence[Path], problems: Problems | None = None) -> _Loaded:
        packs = load(dirs, problems).packs
        return cls(packs, frozenset(m for m, _ in packs), {})


class Router:
    """Routes situations over a set of rule packs, loaded and compiled once (and again on `reload`).

    `problems`: for tooling (`ansvar check`): load errors are appended there instead of raised, and the
    router serves whatever loaded cleanly.
    """

    def __init__(self, rule_dirs: Iterable[Path | str] | None = None, *,
                 problems: list[RuleError] | None = None) -> None:
        dirs = [Path(d) for d in rule_dirs] if rule_dirs is not None else [shipped_rules()]
        self.rule_dirs: tuple[Path, ...] = tuple(dirs)
        gathered = Problems(collect=problems is not None)
        self._loaded = _Loaded.of(self.rule_dirs, gathered)
        if problems is not None:
            problems.extend(gathered.found)
        self._reloading = threading.Lock()

    def __repr__(self) -> str:
        return f"Router({len(self._loaded.packs)} packs over {', '.join(map(str, self.rule_dirs))})"

    def reload(self) -> None:
        """Re-read every rule file: atomically, so a reload that fails keeps the old packs serving.

        Routes in flight finish on the packs they started with; the next route sees the new ones.
        The load error (a `RuleError` with file:line:column) is raised to the caller of `reload`.
        """
        with self._reloading:
            fresh = _Loaded.of(self.rule_dirs)  # raises before anything is replaced
            self._loaded = fresh  # one reference assignment: readers see the old set or the new, whole

    def municipalities(self) -> list[str]:
        """The municipalities the loaded packs cover."""
        return sorted(self._loaded.municipalities)

    def events(self, municipality: str) -> dict[str, str]:
        """The events a municipality's packs cover, each with its Danish title."""
        self._check_municipality(municipality)
        return {event: pack.meta.title for (m, event), pack in sorted(self._loaded.packs.items())
                if m == municipality}

    def pack(self, municipality: str, event: str) -> Pack:
        """The loaded pack of one municipality's event."""
        found = self._loaded.packs.get((municipality, event))
        if found is None:
            self._check_municipality(municipality)
            raise UnknownEventError(f"event for {municipality}", event, self.events(municipality))
        return found

    def _check_municipality(self, municipality: str) -> None:
        if municipality not in self._loaded.municipalities:
            raise UnknownEventError("municipality", municipality, self.municipalities())

    def route(self, situation: SituationBase | Mapping[str, Any], on: dt.date | None = None) -> Decision:
        """Who is responsible in this situation, and what happens next, on date `on` (default today)."""
        return self._route(parse_situation(situation), _check_date(on))

    def route_many(self, situations: Iterable[SituationBase | Mapping[str, Any]],
                   on: dt.date | None = None, *, processes: int | None = None) -> list[Decision]:
        """Route many situations: same order, one Decision each, as `route` gives them.

        All are validated first, so a bad one raises (naming its index) before any is routed: never a
        partial answer. Situations of one pack go to the engine together, up to `engine.MAX_BATCH` to a
        session, which is much faster per situation than `route` in a loop. `processes`: spread a large
        batch over that many worker processes (each loads the rule packs once); `None` or 1: this process.
        Workers are spawned, so they import the caller's main module: a script that passes `processes`
        must route under `if __name__ == "__main__":`, as every spawning `multiprocessing` program must.
        """
        day = _check_date(on)
        parsed = [parse_situation(s, where=f"situation {i}") for i, s in enumerate(situations)]
        groups: dict[tuple[str, str], list[int]] = {}
        for index, situation in enumerate(parsed):
            groups.setdefault((situation.municipality, situation.event), []).append(index)
        packs = self._packs_in_force(groups, day)
        if processes is not None and processes > 1 and len(parsed) >= 2 * PROCESS_CHUNK:
            from ansvar import pool  # noqa: PLC0415 - multiprocessing only when asked for

            try:
                return pool.route_many(self.rule_dirs, parsed, day, processes, PROCESS_CHUNK)
            except RoutingError as exc:  # a worker numbers the situations of its chunk: not the batch's
                raise type(exc)(exc.message) from None
        decisions: list[Decision | None] = [None] * len(parsed)
        for key, indexes in groups.items():
            pack, prepared = packs[key], self._prepared(packs[key])
            for start in range(0, len(indexes), MAX_BATCH):
                chunk = indexes[start:start + MAX_BATCH]
                fired: list[list[str]] = [[] for _ in chunk]

                def collect(at: int, name: str, fired: list[list[str]] = fired) -> None:
                    fired[at].append(name)

                pack.ruleset.evaluate_many([_engine_fact(pack, parsed[i]) for i in chunk], collect)
                for at, index in enumerate(chunk):
                    try:
                        decisions[index] = _decide(prepared, parsed[index], fired[at], day)
                    except RoutingError as exc:  # a pack defect (conflict, nobody responsible): say where
                        raise exc.at(f"situation {index}") from None
        return decisions  # type: ignore[return-value] # every index was filled above

    def _packs_in_force(self, groups: Mapping[tuple[str, str], Sequence[int]],
                        day: dt.date) -> dict[tuple[str, str], Pack]:
        """Each group's pack, or the error of the first situation asking for one unknown or not in force."""
        packs: dict[tuple[str, str], Pack] = {}
        for key, indexes in groups.items():  # unknown municipality or event: raise before any is routed
            try:
                packs[key] = self.pack(*key)
            except UnknownEventError as exc:
                raise exc.at(f"situation {indexes[0]}") from None
        for key, indexes in groups.items():  # and a pack not in force yet
            try:
                _check_in_force(packs[key], day)
            except RoutingError as exc:
                raise exc.at(f"situation {indexes[0]}") from None
        return packs

    def outline(self, situation: SituationBase | Mapping[str, Any], on: dt.date | None = None) -> Answer:
        """The lead and the steps only (or the pack defect), without a Decision: for bulk analysis."""
        parsed = parse_situation(situation)
        pack, fired = self._evaluate(parsed, _check_date(on))
        rules = [pack.rules[rule_id] for rule_id in _conditions_held(pack, fired)]
        ids = tuple(rule.id for rule in rules)
        try:
            responsible, top = _lead(pack, rules)
        except (NoResponsibleError, ConflictError) as exc:
            return Answer(None, frozenset(), type(exc).__name__, ids)
        steps = frozenset(f"{step.actor}.{step.action}" for rule in rules
                          if not _overridden(rule, top) for step in rule.steps)
        return Answer(responsible, steps, None, ids, frozenset(r.id for r in rules if _overridden(r, top)))

    def why_not(self, situation: SituationBase | Mapping[str, Any], actor: str,
                on: dt.date | None = None) -> WhyNot:
        """Why `actor` is not responsible: each rule that could make it so, and what kept it from leading."""
        if actor not in ACTORS:
            raise UnknownEventError("actor", actor, ACTORS)
        parsed = parse_situation(situation)
        pack, fired = self._evaluate(parsed, _check_date(on))
        rules = [pack.rules[rule_id] for rule_id in _conditions_held(pack, fired)]
        try:
            responsible: str | None = _lead(pack, rules)[0]
        except (NoResponsibleError, ConflictError):
            responsible = None

        from ansvar import explain  # noqa: PLC0415 - explanations load on first use

        return explain.why_not(pack, parsed, fired, responsible, actor)

    def _route(self, situation: SituationBase, on: dt.date) -> Decision:
        pack, fired = self._evaluate(situation, on)
        return _decide(self._prepared(pack), situation, fired, on)

    def _prepared(self, pack: Pack) -> _Prepared:
        loaded = self._loaded
        prepared = loaded.prepared.get(pack.key)
        if prepared is None or prepared.pack is not pack:
            prepared = loaded.prepared[pack.key] = _Prepared(pack)
        return prepared

    def _evaluate(self, situation: SituationBase, on: dt.date) -> tuple[Pack, list[str]]:
        pack = self.pack(situation.municipality, situation.event)
        _check_in_force(pack, on)
        fired: list[str] = []
        pack.ruleset.evaluate(_engine_fact(pack, situation), fired.append)
        return pack, fired


def _check_in_force(pack: Pack, on: dt.date) -> None:
    for part in pack.parts:
        if on < part.meta.valid_from:
            raise RoutingError(f"{part.meta.document!r} ({part.layer.id}/{part.path.name}) is in force "
                               f"from {part.meta.valid_from}; cannot route on {on}")


def _engine_fact(pack: Pack, situation: SituationBase) -> dict[str, object]:
    return {name: engine_value(value) if isinstance(value := getattr(situation, name), dt.date) else value
            for name in pack.facts}


def _check_date(on: dt.date | None) -> dt.date:
    if on is None:
        return dt.date.today()  # noqa: DTZ011 - the caller's local day is what a caseworker means
    if isinstance(on, dt.datetime):
        problem = {"loc": ("on",), "msg": "must be a date, not a datetime: give datetime.date(...) or "
                                          "its .date()", "type": "date_type"}
        raise SituationError([problem])
    if not isinstance(on, dt.date):
        hint = ": datetime.date.fromisoformat('YYYY-MM-DD') makes one" if isinstance(on, str) else ""
        problem = {"loc": ("on",), "msg": f"must be a datetime.date, not {type(on).__name__}{hint}",
                   "type": "date_type"}
        raise SituationError([problem])
    if not EARLIEST_DATE <= on <= LATEST_DATE:
        problem = {"loc": ("on",), "msg": f"must lie between {EARLIEST_DATE} and {LATEST_DATE}",
                   "type": "date_range"}
        raise SituationError([problem])
    return on


def _decide(prepared: _Prepared, situation: SituationBase, fired_alternatives: Sequence[str],
            on: dt.date) -> Decision:
    # A Decision is fixed by the alternatives that held and the date, unless a deadline or a done step
    # reads a date of the situation: such Decisions are built each time (and no citizen's date is kept).
    if any(getattr(situation, name) is not None for name in prepared.date_facts):
        return _build_decision(prepared, situation, fired_alternatives, on)
    key = (frozenset(fired_alternatives), on)
    found = prepared.decisions.get(key)
    if found is None:
        if len(prepared.decisions) >= MAX_CACHED:
            prepared.decisions.clear()
        found = prepared.decisions[key] = _build_decision(prepared, situation, fired_alternatives, on)
    return found


def _build_decision(prepared: _Prepared, situation: SituationBase, fired_alternatives: Sequence[str],
                    on: dt.date) -> Decision:
    pack = prepared.pack
    held = _conditions_held(pack, fired_alternatives)
    fired = [pack.rules[rule_id] for rule_id in held]
    responsible, top = _lead(pack, fired)
    build = _Builder(prepared, situation, on)
    for rule in fired:
        build.add(rule.id, tuple(held[rule.id]), overridden=_overridden(rule, top))
    build.overdue()
    for review_by, warning in prepared.reviews:
        if on > review_by:
            build.warn(warning, key=(REVIEW_WARNING, warning.source.document))
    return Decision(
        municipality=pack.municipality.id, event=pack.event, on=on,
        responsible=responsible, responsible_name=pack.actors[responsible].name,
        steps=tuple(build.steps.values()), warnings=tuple(build.warnings.values()),
        sources=tuple(build.sources.values()), trace=tuple(build.trace),
        pack=pack.info,
    )


def _conditions_held(pack: Pack, fired_alternatives: Sequence[str]) -> dict[str, list[str]]:
    """Fired rule ids in firing order, each with the tests of the alternatives that held.

    The engine fires rules by priority, which the compiler sets to the rules' order; alternatives of one
    rule are put in their order too, so a batch and a single call give the same trace.
    """
    held: dict[str, list[str]] = {}
    for name in sorted(fired_alternatives, key=pack.rank.__getitem__):
        rule_id, _, index = name.rpartition(SEPARATOR)
        conditions = held.setdefault(rule_id, [])
        conditions.extend(t for t in pack.compiled[rule_id].shown[int(index)] if t not in conditions)
    return held


def _overridden(rule: RuleSpec, top: int) -> bool:
    """A rule whose lead claim is outranked: its branch was not taken, so its steps and warnings drop."""
    return rule.responsible is not None and rule.priority < top


def _lead(pack: Pack, fired: Sequence[RuleSpec]) -> tuple[str, int]:
    """The responsible actor and its priority, by the hit policy; raises if there is not exactly one."""
    claims = [r for r in fired if r.responsible is not None]
    if not claims:
        names = ", ".join(r.id for r in fired) or "none"
        raise NoResponsibleError(f"{pack.municipality.id}/{pack.event}: no rule named a responsible actor "
                                 f"for this situation (fired: {names})")
    top = max(r.priority for r in claims)
    leaders = {r.responsible for r in claims if r.priority == top}
    if len(leaders) > 1:
        rivals = ", ".join(f"{r.id} -> {r.responsible}" for r in claims if r.priority == top)
        raise ConflictError(f"{pack.municipality.id}/{pack.event}: rules of equal priority {top} claim the "
                            f"lead: {rivals}")
    (responsible,) = leaders
    assert responsible is not None  # noqa: S101 - claims only holds rules naming one
    return responsible, top


def due_date(due: Due, situation: SituationBase, on: dt.date) -> dt.date:
    """The date a deadline falls on: calendar months, then days, after the first `from` date that is set.

    >>> import ansvar
    >>> s = ansvar.parse_situation({"municipality": "rebild", "event": "behandlingsforloeb",
    ...                             "treatment_ended_on": "2024-01-31"})
    >>> due_date(Due(months=1, **{"from": "treatment_ended_on"}), s, dt.date(2024, 3, 1))
    datetime.date(2024, 2, 29)
    """
    for name in due.from_:
        start = on if name == ROUTING_DATE else getattr(situation, name)
        if start is not None:
            if not due.months:
                return start + dt.timedelta(days=due.days)  # the common case, without relativedelta's cost
            from dateutil.relativedelta import relativedelta  # noqa: PLC0415 - only for calendar months

            return start + relativedelta(months=due.months, days=due.days)
    # The loader refuses a deadline whose dates the rule's condition does not guarantee.
    msg = f"deadline counts from {', '.join(due.from_)}, and none is set"
    raise AssertionError(msg)


def cite(part: LayerPack, ref: SourceRef) -> Source:
    """The Source a rule's reference names, in the document of the layer's pack that holds it.

    A passage under the event's own section is cited below it; the guide's introduction, another section,
    or another document (a law, the regional agreement) is cited as the rule names it.
    """
    meta = part.meta
    in_event = ref.in_event and ref.document is None
    return Source(document=ref.document or meta.document,
                  section=f"{meta.section} — {ref.section}" if in_event else ref.section, passage=ref.passage)


@dataclass(frozen=True, slots=True)
class _PreparedRule:
    """One rule's static answer parts: its Source, its Steps (deadline still open) and its warnings."""

    rule: RuleSpec
    layer: str
    source: Source
    steps: tuple[tuple[StepSpec, Step], ...]
    warnings: tuple[DecisionWarning, ...]


class _Prepared:
    """A pack's answer parts that do not depend on the situation, built once on the pack's first route.

    Steps, warnings, sources and contacts are the same in every Decision a pack gives, but for deadlines
    (copied with their date per route) and trace entries (cached per rule, tests held and outranking).
    Whole Decisions are kept by the alternatives that held and the date, where no date of the situation
    enters them (bounded; no citizen's data is kept: a set of rule names and a routing date). Shared
    objects are frozen, so Decisions can hold them safely.
    """

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        self.rules: dict[str, _PreparedRule] = {}
        for rule_id, rule in pack.rules.items():
            part = pack.origin[rule_id]
            source = cite(part, rule.source)
            steps = tuple((spec, Step(
                actor=spec.actor, actor_name=pack.actors[spec.actor].name, action=spec.action,
                text=spec.text, due=None, contact=_contact(pack, spec.contact),
                source=cite(part, spec.source) if spec.source else source, rule=rule_id))
                for spec in rule.steps)
            warnings = tuple(DecisionWarning(
                id=w.id, text=w.text, source=cite(part, w.source) if w.source else source, rule=rule_id)
                for w in rule.warnings)
            self.rules[rule_id] = _PreparedRule(rule, part.layer.id, source, steps, warnings)
        self.reviews = tuple((part.meta.review_by, DecisionWarning(
            id=REVIEW_WARNING,
            text=f"{part.meta.document} (version {part.meta.version}) skulle have været revideret senest "
                 f"{part.meta.review_by:%d.%m.%Y}; kontrollér, at den stadig gælder.",
            source=Source(document=part.meta.document, section=part.meta.section), rule=None))
            for part in pack.parts if part.meta.review_by is not None)
        self._trace: dict[tuple[str, tuple[str, ...], bool], TraceEntry] = {}
        self._due: dict[tuple[str, str, str, dt.date], Step] = {}
        #: The situation's dates some deadline or done step reads (`on` aside).
        specs = [step for rule in pack.rules.values() for step in rule.steps]
        self.date_facts = tuple(sorted(
            {name for step in specs if step.due for name in step.due.from_ if name != ROUTING_DATE}
            | {step.done_on for step in specs if step.done_on}))
        #: Decisions by (alternatives that held, date), for situations none of whose `date_facts` is set.
        self.decisions: dict[tuple[frozenset[str], dt.date], Decision] = {}

    def with_due(self, step: Step, due: dt.date) -> Step:
        """The step with its deadline: copied once per date and kept (a batch of one day shares them)."""
        key = (step.rule, step.actor, step.action, due)
        found = self._due.get(key)
        if found is None:
            if len(self._due) >= MAX_CACHED:
                self._due.clear()
            found = self._due[key] = step.model_copy(update={"due": due})
        return found

    def trace_entry(self, rule_id: str, conditions: tuple[str, ...], *, overridden: bool) -> TraceEntry:
        key = (rule_id, conditions, overridden)
        entry = self._trace.get(key)
        if entry is None:  # a benign race between threads builds an equal entry twice
            prepared = self.rules[rule_id]
            rule = prepared.rule
            entry = TraceEntry(rule=rule_id, priority=rule.priority, layer=prepared.layer,
                               responsible=rule.responsible, overridden=overridden, conditions=conditions,
                               source=prepared.source)
            self._trace[key] = entry
        return entry


def _days(count: int) -> str:
    return "dag" if count == 1 else "dage"


def _contact(pack: Pack, actor: str | None) -> Contact | None:
    if actor is None:
        return None
    known = pack.actors[actor]
    details = known.contact.model_dump() if known.contact else {}
    return Contact(actor=actor, name=known.name, **details)


class _Builder:
    """Collects a Decision's trace, steps, warnings and sources, rule by rule, each once."""

    def __init__(self, prepared: _Prepared, situation: SituationBase, on: dt.date) -> None:
        self.prepared = prepared
        self.situation = situation
        self.on = on
        self.trace: list[TraceEntry] = []
        self.steps: dict[tuple[str, str], Step] = {}
        self.warnings: dict[tuple[str, ...], DecisionWarning] = {}
        self.sources: dict[tuple[str, str, str | None], Source] = {}

    def add(self, rule_id: str, conditions: tuple[str, ...], *, overridden: bool) -> None:
        prepared = self.prepared.rules[rule_id]
        self.trace.append(self.prepared.trace_entry(rule_id, conditions, overridden=overridden))
        if overridden:  # its conclusions do not stand: the trace keeps it, the sources do not cite it
            return
        self.source(prepared.source)
        for spec, step in prepared.steps:
            if (spec.actor, spec.action) in self.steps:
                continue
            self.source(step.source)
            built = step if spec.due is None else self.prepared.with_due(
                step, due_date(spec.due, self.situation, self.on))
            done = getattr(self.situation, spec.done_on) if spec.done_on else None
            if done is None:
                self.steps[spec.actor, spec.action] = built
            elif built.due is not None and done > built.due:
                self.late(built, done)
        for warning in prepared.warnings:
            self.source(warning.source)
            self.warn(warning)

    def warn(self, warning: DecisionWarning, key: tuple[str, ...] | None = None) -> None:
        self.warnings.setdefault(key or (warning.id,), warning)

    def overdue(self) -> None:
        """A warning for every step whose deadline lies before the routing date."""
        for step in self.steps.values():
            if step.due is not None and step.due < self.on:
                days = (self.on - step.due).days
                self.deadline(OVERDUE_WARNING, step, days,
                              f"Fristen {step.due:%d.%m.%Y} er overskredet med {days} {_days(days)}")

    def late(self, step: Step, done: dt.date) -> None:
        """A warning for a step the situation says was done, but after its deadline."""
        assert step.due is not None  # noqa: S101 - only called for steps with a deadline
        days = (done - step.due).days
        self.deadline(LATE_WARNING, step, days, f"Fristen {step.due:%d.%m.%Y} blev ikke overholdt: gjort "
                                                f"{done:%d.%m.%Y}, {days} {_days(days)} for sent")

    def deadline(self, warning_id: str, step: Step, days: int, what: str) -> None:
        self.warn(DecisionWarning(
            id=warning_id, text=f"{what}: {step.actor_name}: {step.text}", source=step.source, rule=step.rule,
            step=f"{step.actor}.{step.action}", due=step.due, days_overdue=days),
            key=(warning_id, step.actor, step.action))

    def source(self, source: Source) -> None:
        self.sources.setdefault((source.document, source.section, source.passage), source)
