"""route(): validate the situation, evaluate its pack on durable_rules, resolve the lead, build the Decision.

Hit policy. Every rule whose conditions hold fires. Among the fired rules that name a `responsible` actor,
the one with the highest `priority` holds the lead. Two fired rules at that top priority that name different
actors are a defect of the pack (`ConflictError`), never resolved by file order; no fired rule naming a
responsible actor is `NoResponsibleError`. A fired rule whose lead claim is outranked is overridden: it stays
in the trace, marked so, and its steps and warnings are dropped (they belong to a branch the guide did not
take). Steps and warnings of every other fired rule collect in firing order (file order), each
(actor, action) step and each warning id once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from ansvar.compiler import SEPARATOR, engine_value
from ansvar.decision import Contact, Decision, DecisionWarning, PackInfo, Source, Step, TraceEntry
from ansvar.errors import ConflictError, NoResponsibleError, RoutingError, SituationError, UnknownEventError
from ansvar.loader import Pack, load_packs
from ansvar.schema import RuleSpec, SourceRef
from ansvar.situation import SituationBase, parse_situation


def shipped_rules() -> Path:
    """The rule packs that ship with ansvar (inside the wheel, or `rules/` of a source checkout)."""
    packaged = Path(str(resources.files("ansvar") / "_packs"))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "rules"


class Router:
    """Routes situations over a set of rule packs, loaded and compiled once."""

    def __init__(self, rule_dirs: Iterable[Path | str] | None = None) -> None:
        dirs = [Path(d) for d in rule_dirs] if rule_dirs is not None else [shipped_rules()]
        self.rule_dirs: tuple[Path, ...] = tuple(dirs)
        self._packs: dict[tuple[str, str], Pack] = load_packs(dirs)
        self._municipalities = frozenset(m for m, _ in self._packs)

    def __repr__(self) -> str:
        return f"Router({len(self._packs)} packs over {', '.join(map(str, self.rule_dirs))})"

    def municipalities(self) -> list[str]:
        """The municipalities the loaded packs cover."""
        return sorted(self._municipalities)

    def events(self, municipality: str) -> dict[str, str]:
        """The events a municipality's packs cover, each with its Danish title."""
        self._check_municipality(municipality)
        return {event: pack.spec.pack.title for (m, event), pack in sorted(self._packs.items())
                if m == municipality}

    def pack(self, municipality: str, event: str) -> Pack:
        """The loaded pack of one municipality's event."""
        found = self._packs.get((municipality, event))
        if found is None:
            self._check_municipality(municipality)
            raise UnknownEventError(f"event for {municipality}", event, self.events(municipality))
        return found

    def _check_municipality(self, municipality: str) -> None:
        if municipality not in self._municipalities:
            raise UnknownEventError("municipality", municipality, self.municipalities())

    def route(self, situation: SituationBase | Mapping[str, Any], on: dt.date | None = None) -> Decision:
        """Who is responsible in this situation, and what happens next, on date `on` (default today)."""
        return self._route(parse_situation(situation), _check_date(on))

    def route_many(self, situations: Iterable[SituationBase | Mapping[str, Any]],
                   on: dt.date | None = None) -> list[Decision]:
        """Route many situations: same order, one Decision each; a bad one raises, naming its index."""
        day = _check_date(on)
        parsed = [parse_situation(s, where=f"situation {i}") for i, s in enumerate(situations)]
        return [self._route(s, day) for s in parsed]

    def _route(self, situation: SituationBase, on: dt.date) -> Decision:
        pack = self.pack(situation.municipality, situation.event)
        meta = pack.spec.pack
        if on < meta.valid_from:
            raise RoutingError(f"{meta.document!r} ({pack.path.name}) is in force from {meta.valid_from}; "
                               f"cannot route on {on}")
        fact = {name: engine_value(getattr(situation, name)) for name in pack.facts}
        fired: list[str] = []
        pack.ruleset.evaluate(fact, fired.append)
        return _decide(pack, fired, on)


def _check_date(on: dt.date | None) -> dt.date:
    if on is None:
        return dt.date.today()  # noqa: DTZ011 - the caller's local day is what a caseworker means
    if not isinstance(on, dt.date) or isinstance(on, dt.datetime):
        problem = {"loc": ("on",), "msg": "must be a date (not a datetime)", "type": "date_type"}
        raise SituationError([problem])
    return on


def _decide(pack: Pack, fired_alternatives: Sequence[str], on: dt.date) -> Decision:
    held = _conditions_held(pack, fired_alternatives)
    fired = [pack.rules[rule_id] for rule_id in held]
    responsible, top = _lead(pack, fired)
    build = _Builder(pack, on)
    for rule in fired:
        overridden = rule.responsible is not None and rule.priority < top
        build.add(rule, tuple(held[rule.id]), overridden=overridden)
    meta = pack.spec.pack
    if meta.review_by is not None and on > meta.review_by:
        build.warnings.setdefault("vejledning_over_revisionsdato", DecisionWarning(
            id="vejledning_over_revisionsdato",
            text=f"Vejledningen skulle have været revideret senest {meta.review_by:%d.%m.%Y}; "
                 "kontrollér, at den stadig gælder.",
            source=Source(document=meta.document, section=meta.section), rule=None))
    actors = pack.municipality.spec.actors
    return Decision(
        municipality=meta.municipality, event=meta.event, on=on,
        responsible=responsible, responsible_name=actors[responsible].name,
        steps=tuple(build.steps.values()), warnings=tuple(build.warnings.values()),
        sources=tuple(build.sources.values()), trace=tuple(build.trace),
        pack=PackInfo(municipality=meta.municipality, event=meta.event, title=meta.title,
                      document=meta.document, version=meta.version, valid_from=meta.valid_from,
                      review_by=meta.review_by, content_hash=pack.content_hash),
    )


def _conditions_held(pack: Pack, fired_alternatives: Sequence[str]) -> dict[str, list[str]]:
    """Fired rule ids in firing order, each with the tests of the alternatives that held."""
    held: dict[str, list[str]] = {}
    for name in fired_alternatives:
        rule_id, _, index = name.rpartition(SEPARATOR)
        conditions = held.setdefault(rule_id, [])
        conditions.extend(t for t in pack.compiled[rule_id].shown[int(index)] if t not in conditions)
    return held


def _lead(pack: Pack, fired: Sequence[RuleSpec]) -> tuple[str, int]:
    """The responsible actor and its priority, by the hit policy; raises if there is not exactly one."""
    claims = [r for r in fired if r.responsible is not None]
    if not claims:
        names = ", ".join(r.id for r in fired) or "none"
        raise NoResponsibleError(f"{pack.path.name}: no rule named a responsible actor for this situation "
                                 f"(fired: {names})")
    top = max(r.priority for r in claims)
    leaders = {r.responsible for r in claims if r.priority == top}
    if len(leaders) > 1:
        rivals = ", ".join(f"{r.id} -> {r.responsible}" for r in claims if r.priority == top)
        raise ConflictError(f"{pack.path.name}: rules of equal priority {top} claim the lead: {rivals}")
    (responsible,) = leaders
    assert responsible is not None  # noqa: S101 - claims only holds rules naming one
    return responsible, top


class _Builder:
    """Collects a Decision's trace, steps, warnings and sources, rule by rule, each once."""

    def __init__(self, pack: Pack, on: dt.date) -> None:
        self.pack = pack
        self.on = on
        self.actors = pack.municipality.spec.actors
        self.trace: list[TraceEntry] = []
        self.steps: dict[tuple[str, str], Step] = {}
        self.warnings: dict[str, DecisionWarning] = {}
        self.sources: dict[tuple[str, str, str | None], Source] = {}

    def add(self, rule: RuleSpec, conditions: tuple[str, ...], *, overridden: bool) -> None:
        rule_source = self.source(rule.source)
        self.trace.append(TraceEntry(rule=rule.id, priority=rule.priority, responsible=rule.responsible,
                                     overridden=overridden, conditions=conditions, source=rule_source))
        if overridden:
            return
        for step in rule.steps:
            self.steps.setdefault((step.actor, step.action), Step(
                actor=step.actor, actor_name=self.actors[step.actor].name, action=step.action,
                text=step.text, due=self.on + dt.timedelta(days=step.due.days) if step.due else None,
                contact=self.contact(step.contact),
                source=self.source(step.source) if step.source else rule_source, rule=rule.id))
        for warning in rule.warnings:
            self.warnings.setdefault(warning.id, DecisionWarning(
                id=warning.id, text=warning.text,
                source=self.source(warning.source) if warning.source else rule_source, rule=rule.id))

    def source(self, ref: SourceRef) -> Source:
        # A passage under the event's own section is cited below it; the guide's introduction, another
        # section, or another document (a law, the regional agreement) is cited as the rule names it.
        meta = self.pack.spec.pack
        in_event = ref.in_event and ref.document is None
        key = (ref.document or meta.document, f"{meta.section} — {ref.section}" if in_event else ref.section,
               ref.passage)
        if key not in self.sources:
            self.sources[key] = Source(document=key[0], section=key[1], passage=key[2])
        return self.sources[key]

    def contact(self, actor: str | None) -> Contact | None:
        if actor is None:
            return None
        known = self.actors[actor]
        details = known.contact.model_dump() if known.contact else {}
        return Contact(actor=actor, name=known.name, **details)
