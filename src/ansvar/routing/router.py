"""The Router: validate the situation, evaluate its pack on durable_rules, resolve, build the Decision.

A route is `build(resolve(pack, evaluate(pack, situation)), on)`: the hit policy (who leads, what is
outranked, which defects stop an answer) lives in `ansvar.routing.resolve`, the answer's construction
(steps, deadlines, warnings, sources) in `ansvar.routing.build`. Routing before any contributing layer's
`valid_from` is an error. Packs load once, and again on `reload`, atomically.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ansvar.errors import (
    IncompleteSituationError,
    RoutingError,
    RuleError,
    SituationError,
    UnknownActorError,
    UnknownEventError,
)
from ansvar.model.decision import Answer, Decision
from ansvar.model.events import EARLIEST_DATE, LATEST_DATE, EventDefinitions, SituationBase
from ansvar.model.unknowns import OpenQuestion, stated_facts
from ansvar.model.why_not import WhyNot
from ansvar.packs.loader import Catalogue, Pack, Problems, load
from ansvar.packs.schema import ACTORS
from ansvar.routing.build import MAX_CACHED, Answers, engine_fact
from ansvar.routing.cache import LRU
from ansvar.routing.resolve import Resolution, resolve
from ansvar.routing.unknowns import Weighing, table_for, waiting_dates
from ansvar.routing.why_not import why_not

if TYPE_CHECKING:
    from ansvar.routing.pool import Workers

PROCESS_CHUNK = 2000  # situations sent to a worker process at a time
#: Situations of one pack asserted in one engine session by route_many (the engine's cost per fact is least
#: at a few dozen to a hundred; at most `engine.MAX_BATCH`); one chunk's engine facts exist at a time.
ROUTE_CHUNK = 100
#: A batch of at most this many keeps the models its first pass validated (about 1.3 KB each: 13 MB at most);
#: a larger one validates each chunk again, so it holds one chunk's models at a time whatever its size.
KEEP_VALIDATED = 10_000


def shipped_rules() -> Path:
    """The rule packs that ship with ansvar (inside the wheel, or `rules/` of a source checkout)."""
    from importlib import resources  # noqa: PLC0415 - only to find the packs

    packaged = Path(str(resources.files("ansvar") / "_packs"))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "rules"


_default: list[Router] = []
_default_lock = threading.Lock()


def default_router() -> Router:
    """The router over the shipped rule packs, loaded on first use."""
    with _default_lock:
        if not _default:
            _default.append(Router())
        return _default[0]


@dataclass(frozen=True, slots=True)
class _Routes:
    """The weighed Decisions kept for one pack's Answers, and what their keys are made of."""

    answers: Answers
    #: Each fact the key reads: its name, its exact classes' lookup (booleans, enums) and the general one.
    dims: tuple[tuple[str, Callable[[Any], int | None], Callable[[Any], int]], ...]
    date_facts: frozenset[str]
    kept: LRU[tuple[Any, ...], Decision]
    #: Every fact the rules test and every date a deadline reads: a situation stating them all has nothing
    #: to weigh (`Router._weighing`), so its Decision is the pack's under the rules that fired.
    complete: frozenset[str]

    @classmethod
    def of(cls, answers: Answers) -> _Routes:
        table = table_for(answers)
        dims = tuple((dim.name, dim.exact.get, dim.index) for dim in table.dims)
        dates = frozenset(answers.date_facts)
        return cls(answers, dims, dates, LRU(MAX_CACHED), table.names | dates)


@dataclass(frozen=True, slots=True)
class _Loaded:
    """What one load of the rule directories gave; swapped whole, so a reload is atomic for readers."""

    catalogue: Catalogue
    municipalities: frozenset[str]
    answers: dict[tuple[str, str], Answers]  # filled on each pack's first route
    routes: dict[tuple[str, str], _Routes]  # weighed Decisions kept per pack (see `Router._routed`)

    @property
    def packs(self) -> Mapping[tuple[str, str], Pack]:
        return self.catalogue.packs

    @property
    def events(self) -> EventDefinitions:
        return self.catalogue.events

    @classmethod
    def of(cls, dirs: Sequence[Path], problems: Problems | None = None,
           events: EventDefinitions | None = None) -> _Loaded:
        catalogue = load(dirs, problems, events)
        return cls(catalogue, frozenset(m for m, _ in catalogue.packs), {}, {})


class Router:
    """Routes situations over a set of rule packs, loaded and compiled once (and again on `reload`).

    `problems`: for tooling (`ansvar check`): load errors are appended there instead of raised, and the
    router serves whatever loaded cleanly. `events`: the event definitions the rule directories' own events
    add to (default: the shipped events).
    """

    def __init__(self, rule_dirs: Iterable[Path | str] | None = None, *,
                 problems: list[RuleError] | None = None, events: EventDefinitions | None = None) -> None:
        dirs = [Path(d) for d in rule_dirs] if rule_dirs is not None else [shipped_rules()]
        self.rule_dirs: tuple[Path, ...] = tuple(dirs)
        self._events = events
        gathered = Problems(collect=problems is not None)
        self._loaded = _Loaded.of(self.rule_dirs, gathered, events)
        if problems is not None:
            problems.extend(gathered.found)
        self._reloading = threading.Lock()

    def __repr__(self) -> str:
        return f"Router({len(self._loaded.packs)} packs over {', '.join(map(str, self.rule_dirs))})"

    @staticmethod
    def _in_worker(rule_dirs: Sequence[Path], events: EventDefinitions) -> Router:
        """A worker process's router: over the parent's files (written for it) and the events from them."""
        return Router(rule_dirs, problems=[], events=events)

    def _workers(self, packs: Iterable[Pack]) -> Workers:
        from ansvar.routing import pool  # noqa: PLC0415 - multiprocessing loads only when asked for

        loaded = self._loaded
        snapshot = pool.Snapshot(self.rule_dirs, {**loaded.events.files(), **loaded.catalogue.files()})
        return pool.Workers(snapshot, Router._in_worker, {pack.key: pack.content_hash for pack in packs})

    def reload(self) -> None:
        """Re-read every rule file: atomically, so a reload that fails keeps the old packs serving.

        Routes in flight finish on the packs they started with; the next route sees the new ones.
        The load error (a `RuleError` with file:line:column) is raised to the caller of `reload`.
        """
        with self._reloading:
            fresh = _Loaded.of(self.rule_dirs, events=self._events)  # raises before anything is replaced
            self._loaded = fresh  # one reference assignment: readers see the old set or the new, whole

    @property
    def definitions(self) -> EventDefinitions:
        """The events this router knows: the shipped ones and those its rule directories define."""
        return self._loaded.events

    def parse_situation(self, data: SituationBase | Mapping[str, Any], *,
                        where: str | None = None) -> SituationBase:
        """Validate a dict into the model of its event, the rule directories' own events included."""
        return self._loaded.events.parse(data, where=where)

    def situation_schema(self, event: str) -> dict[str, Any]:
        """JSON Schema of the facts `event` reads (`UnknownEventError` for an event nobody defines)."""
        return self._loaded.events[event].schema()

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

    def route(self, situation: SituationBase | Mapping[str, Any], on: dt.date | None = None, *,
              complete: bool = False) -> Decision:
        """Who is responsible in this situation, and what happens next, on date `on` (default today).

        A fact the situation does not give is unknown: where its value would change the answer, the
        Decision lists it in `open_questions` and the default it used in `assumed`, and each step, warning
        and the lead say whether they are settled. `complete=True`: refuse to answer on any assumption
        (`IncompleteSituationError`, listing the open questions in Danish).
        """
        parsed = self.parse_situation(situation)
        decision = self._route(parsed, routing_date(on))
        if complete and decision.open_questions:
            raise IncompleteSituationError(decision.open_questions)
        return decision

    def next_question(self, situation: SituationBase | Mapping[str, Any], on: dt.date | None = None, *,
                      unknown: Iterable[str] = ()) -> OpenQuestion | None:
        """The one unstated fact to ask next: the one that splits the possible answers best.

        None when the answer no longer depends on anything unstated. A date that a deadline waits for is
        asked once no other fact can change the answer. `unknown`: facts the caller cannot answer ("ved
        ikke"): they are not asked again, and stay open questions of the Decision.
        """
        parsed = self.parse_situation(situation)
        answers, decision = self._decide(parsed, routing_date(on))
        weighing = self._weighing(answers, parsed, decision)
        return weighing.next_question(frozenset(unknown)) if weighing is not None else None

    def route_many(self, situations: Iterable[SituationBase | Mapping[str, Any]],
                   on: dt.date | None = None, *, processes: int | None = None) -> list[Decision]:
        """Route many situations: same order, one Decision each, as `route` gives them.

        All are validated first, so a bad one raises (naming its index) before any is routed: never a
        partial answer. Situations of one pack go to the engine together, `ROUTE_CHUNK` to a session, which
        is faster per situation than `route` in a loop. A batch of more than `KEEP_VALIDATED` is validated
        again chunk by chunk, so it holds its Decisions, not every situation's model and intermediates (a
        smaller one keeps its validated models until it is routed). `processes`: spread a large
        batch over that many worker processes (each loads the rule packs once); `None` or 1: this process.
        Workers are spawned, so they import the caller's main module: a script that passes `processes`
        must route under `if __name__ == "__main__":`, as every spawning `multiprocessing` program must.
        """
        day = routing_date(on)
        given = list(situations)  # the caller's own objects, so an iterator can be read twice
        groups, kept = self._validate_all(given)

        def validated(indexes: Iterable[int]) -> list[SituationBase]:
            return [kept[i] if kept is not None else self.parse_situation(given[i]) for i in indexes]

        packs = self._packs_in_force(groups, day)
        if processes is not None and processes > 1 and len(given) >= 2 * PROCESS_CHUNK:
            try:
                return self._workers(packs.values()).route_many(validated(range(len(given))), day,
                                                                processes, PROCESS_CHUNK)
            except RoutingError as exc:  # a worker numbers the situations of its chunk: not the batch's
                raise type(exc)(exc.message) from None
        decisions: list[Decision | None] = [None] * len(given)
        for key, indexes in groups.items():
            answers = self._answers(packs[key])
            for start in range(0, len(indexes), ROUTE_CHUNK):
                chunk = indexes[start:start + ROUTE_CHUNK]
                for index, decision in zip(chunk, self._route_chunk(answers, chunk, validated(chunk), day),
                                           strict=True):
                    decisions[index] = decision
        return decisions  # type: ignore[return-value] # every index was filled above

    def _route_chunk(self, answers: Answers, chunk: Sequence[int], parsed: Sequence[SituationBase],
                     day: dt.date) -> list[Decision]:
        """The Decisions of a chunk of one pack's situations (batch indexes `chunk`), in one engine session.

        A method of its own, so the chunk's models, facts and firings are freed when it returns, before the
        next chunk is validated (a loop's locals would keep the last chunk's alive beside the next).
        """
        pack = answers.pack
        fired: list[list[str]] = [[] for _ in chunk]

        def collect(at: int, name: str) -> None:
            fired[at].append(name)

        pack.ruleset.evaluate_many([engine_fact(pack, s) for s in parsed], collect)
        decisions = []
        for at, index in enumerate(chunk):
            try:
                decisions.append(self._routed(answers, parsed[at], fired[at], day))
            except RoutingError as exc:  # a pack defect (conflict, nobody responsible): say where
                raise exc.at(f"situation {index}") from None
        return decisions

    def _validate_all(self, given: Sequence[SituationBase | Mapping[str, Any]],
                      ) -> tuple[dict[tuple[str, str], list[int]], list[SituationBase] | None]:
        """Every situation validated (the first bad one raises, naming its index), grouped by pack.

        And the models, where the batch is at most `KEEP_VALIDATED` (None: each chunk is validated again).
        """
        kept: list[SituationBase] | None = [] if len(given) <= KEEP_VALIDATED else None
        groups: dict[tuple[str, str], list[int]] = {}
        for index, situation in enumerate(given):
            parsed = self.parse_situation(situation, where=f"situation {index}")
            groups.setdefault((parsed.municipality, parsed.event), []).append(index)
            if kept is not None:
                kept.append(parsed)
        return groups, kept

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
        return self.resolve(situation, on).answer()

    def resolve(self, situation: SituationBase | Mapping[str, Any], on: dt.date | None = None) -> Resolution:
        """Which rules hold for the situation, who leads (or the pack's defect): the hit policy's result."""
        pack, fired = self._evaluate(self.parse_situation(situation), routing_date(on))
        return resolve(pack, fired)

    def why_not(self, situation: SituationBase | Mapping[str, Any], actor: str,
                on: dt.date | None = None) -> WhyNot:
        """Why `actor` is not responsible: each rule that could make it so, and what kept it from leading."""
        if actor not in ACTORS:
            raise UnknownActorError("actor", actor, ACTORS)
        parsed = self.parse_situation(situation)
        pack, fired = self._evaluate(parsed, routing_date(on))
        return why_not(resolve(pack, fired), parsed, actor)

    def _route(self, situation: SituationBase, on: dt.date) -> Decision:
        pack, fired = self._evaluate(situation, on)
        return self._routed(self._answers(pack), situation, fired, on)

    def _routed(self, answers: Answers, situation: SituationBase, fired: list[str], on: dt.date) -> Decision:
        """The weighed Decision of a situation whose evaluation fired `fired`: kept whole where it may be.

        Kept by the engine rules that fired, the grid classes of the facts the rules test (-1: unstated),
        the date, and which of the dates a deadline reads are unstated; only where the situation sets no
        such date (as `Answers.decide`). Those fix the Decision and what it does not know: nothing of the
        situation's own values is kept, and the engine still evaluates every route. A situation that states
        every fact the rules test and every date a deadline reads has nothing to weigh: its Decision is the
        pack's for the rules that fired (`Answers.decide`, kept there by them and the date).
        """
        routes = self._loaded.routes.get(answers.pack.key)
        if routes is None or routes.answers is not answers:
            routes = self._loaded.routes[answers.pack.key] = _Routes.of(answers)
        stated = situation.model_fields_set
        if routes.complete <= stated:
            return answers.decide(situation, fired, on)
        if any(getattr(situation, name) is not None for name in answers.date_facts):
            return self._weigh(answers, situation, answers.decide(situation, fired, on))
        classes: list[int] = []
        try:
            for name, exact, index in routes.dims:  # `Dimension.index`, its common case first, inline
                if name in stated:
                    value = getattr(situation, name)
                    number = exact(value)
                    classes.append(index(value) if number is None else number)
                else:
                    classes.append(-1)
        except AssertionError:  # a model made without validation (`model_construct`), off every class
            return self._weigh(answers, situation, answers.decide(situation, fired, on))
        key = (frozenset(fired), tuple(classes), on, routes.date_facts.difference(stated))
        found = routes.kept.get(key)
        if found is None:
            decision = answers.decide(situation, fired, on)
            found = routes.kept.put(key, self._weigh(answers, situation, decision))
        return found

    def _decide(self, situation: SituationBase, on: dt.date) -> tuple[Answers, Decision]:
        """The Decision under the defaults, and the pack's Answers that built it (before any weighing)."""
        pack, fired = self._evaluate(situation, on)
        answers = self._answers(pack)
        return answers, answers.decide(situation, fired, on)

    def _weigh(self, answers: Answers, situation: SituationBase, decision: Decision) -> Decision:
        """The Decision with what it does not know (unchanged when every fact that matters was stated)."""
        weighing = self._weighing(answers, situation, decision)
        return weighing.annotate() if weighing is not None else decision

    def _weighing(self, answers: Answers, situation: SituationBase, decision: Decision) -> Weighing | None:
        table = table_for(answers)
        stated = stated_facts(situation)
        if table.names <= stated and (stated.issuperset(answers.date_facts)  # no deadline can wait
                                      or not waiting_dates(answers.pack, situation, decision)):
            return None
        return Weighing(table, situation, decision)

    def _answers(self, pack: Pack) -> Answers:
        loaded = self._loaded
        answers = loaded.answers.get(pack.key)
        if answers is None or answers.pack is not pack:
            answers = loaded.answers[pack.key] = Answers(pack)
        return answers

    def _evaluate(self, situation: SituationBase, on: dt.date) -> tuple[Pack, list[str]]:
        pack = self.pack(situation.municipality, situation.event)
        _check_in_force(pack, on)
        fired: list[str] = []
        pack.ruleset.evaluate(engine_fact(pack, situation), fired.append)
        return pack, fired


def _check_in_force(pack: Pack, on: dt.date) -> None:
    for part in pack.parts:
        if on < part.meta.valid_from:
            raise RoutingError(f"{part.meta.document!r} ({part.layer.id}/{part.path.name}) is in force "
                               f"from {part.meta.valid_from}; cannot route on {on}")


def routing_date(on: dt.date | None) -> dt.date:
    """The date to route on: `on` checked (a date, not a datetime, 1900–2199), or today when None."""
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
