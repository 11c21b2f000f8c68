"""Weighing what nobody stated: which unknown facts would change the answer, and how; the next question.

Every test of a rule compares one fact with a constant, so which rules fire depends only on where each fact
lies among the constants the pack's rules compare it with. A pack's `Dimension`s are the facts its rules
test (and the date facts that tell a step was done), each cut into the classes of values the rules treat
alike: false and true, each enum value, null, and for integers and dates each constant and the ranges
between. A situation is a point of the grid of those classes.

`OutcomeTable` holds, for every point of a pack's grid, the answer there (lead or defect, steps, the
rules' warnings), each computed through the engine and the Decision builder: every point is asserted in
batches (`Ruleset.evaluate_many`), resolved, and built, exactly as a route does. It is built once per pack
on the first situation that leaves a fact open, from the pack alone: no citizen's situation enters it, so
keeping it keeps nothing of anybody (a pack's grid beyond `MAX_TABLE` points is not tabled; then the
completions of each situation are evaluated for that call only, at most `MAX_COMPLETIONS`).

`Weighing` takes one situation: its stated facts fix their classes, each unstated one ranges over all of
its own; the answers at those completions say which unstated facts matter (an answer differs between two
completions that differ in that fact alone), what each step, warning and the lead depend on, and which fact
splits the possible answers best (least expected entropy of the answer after asking it, each completion
counted alike; ties go to the event file's order). A deadline that waits for a date nobody gave makes that
date an open question too.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
import threading
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ansvar.engine import MAX_BATCH
from ansvar.errors import RoutingError, SituationError
from ansvar.model.decision import DEADLINE_WARNINGS, Decision
from ansvar.model.events import FactSpec, SituationBase
from ansvar.model.unknowns import Assumption, OpenQuestion, OpenValue, stated_facts
from ansvar.packs import names
from ansvar.packs.compiler import engine_value
from ansvar.routing import tables
from ansvar.routing.build import counted_from, engine_fact
from ansvar.routing.cache import LRU
from ansvar.routing.resolve import resolve

if TYPE_CHECKING:
    from ansvar.packs.loader import Pack
    from ansvar.routing.build import Answers

#: Points of a pack's grid tabled once (the shipped packs need at most 18,432).
MAX_TABLE = 250_000
#: Completions of one situation evaluated for one call, where a pack is too large to table.
MAX_COMPLETIONS = 65_536
#: Weighed grid points kept per pack (as many as Decisions kept; the least recently used go first).
MAX_GRIDS = 4096

Value = bool | int | str | dt.date | None


# --- the classes of one fact ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Dimension:
    """One fact a pack's rules tell apart, cut into classes of values the rules treat alike."""

    name: str
    spec: FactSpec
    values: tuple[Value, ...]  # one value of each class, as the engine is given it
    ranges: tuple[tuple[Any, Any], ...]  # integer and date classes: (first, last), None for unbounded
    labels: tuple[str, ...]
    default: int  # the class of the fact's default value
    exact: Mapping[Value, int] = field(default_factory=dict)  # boolean and enum facts: value -> class

    @property
    def size(self) -> int:
        """How many classes."""
        return len(self.values)

    def index(self, value: Value) -> int:
        """The class a value of the fact lies in."""
        found = self.exact.get(value)  # booleans and enums (validated: a boolean fact holds a bool)
        if found is not None:
            return found
        for number, (low, high) in enumerate(self.ranges):
            if value is None or self.values[number] is None:
                if value is None and self.values[number] is None:
                    return number
                continue
            if self.spec.type in ("integer", "date"):
                if (low is None or low <= value) and (high is None or value <= high):
                    return number
            elif value == self.values[number]:
                return number
        msg = f"{self.name}: a value outside every class"  # the model refused it before
        raise AssertionError(msg)

    def shown(self, number: int) -> bool | int | str | None:
        """The value a caller gives for a class (None for null, and for a range of dates)."""
        value = self.values[number]
        return None if isinstance(value, dt.date) else value


def _date(day: dt.date) -> str:
    return f"{day:%d.%m.%Y}"


def _ranges(constants: list[Any], low: Any, high: Any) -> list[tuple[Any, Any]]:  # noqa: ANN401 - int or date
    """Each constant as a class of its own, and the non-empty ranges between (None: unbounded)."""
    step: Any = 1 if not constants or isinstance(constants[0], int) else dt.timedelta(days=1)
    found: list[tuple[Any, Any]] = []
    start = low
    for constant in constants:
        if (low is not None and constant < low) or (high is not None and constant > high):
            continue
        if start is None or start <= constant - step:
            found.append((start, constant - step))
        found.append((constant, constant))
        start = constant + step
    if start is None or high is None or start <= high:
        found.append((start, high))
    return found


def _range_label(low: Any, high: Any, show: Any) -> str:  # noqa: ANN401 - int or date
    if low is not None and low == high:
        return str(show(low))
    if low is None and high is None:
        return "En værdi"
    if low is None:
        return f"Højst {show(high)}"
    if high is None:
        return f"Mindst {show(low)}"
    return f"{show(low)}–{show(high)}"


def dimension(name: str, spec: FactSpec, constants: set[Any]) -> Dimension:
    """The classes of one fact, given the constants the pack's rules compare it with."""
    values: list[Value] = []
    ranges: list[tuple[Any, Any]] = []
    labels: list[str] = []
    if spec.may_be_null:
        values.append(None)
        ranges.append((None, None))
        labels.append("Ingen dato" if spec.type == "date" else "Ikke oplyst")
    if spec.type == "boolean":
        for truth, label in ((False, "Nej"), (True, "Ja")):
            values.append(truth)
            ranges.append((None, None))
            labels.append(label)
    elif spec.type == "enum":
        for value, label in (spec.values or {}).items():
            values.append(value)
            ranges.append((None, None))
            labels.append(label)
    elif spec.type == "integer":
        points = sorted(c for c in constants if isinstance(c, int) and not isinstance(c, bool))
        for low, high in _ranges(points, spec.minimum, spec.maximum):
            values.append(low if low is not None else high if high is not None else 0)
            ranges.append((low, high))
            labels.append(_range_label(low, high, str))
    else:
        from ansvar.model.events import EARLIEST_DATE, LATEST_DATE  # noqa: PLC0415 - beside its use

        days = sorted(c for c in constants if isinstance(c, dt.date))
        found = _ranges(days, EARLIEST_DATE, LATEST_DATE)
        for low, high in found:
            values.append(low)
            ranges.append((low, high))
            labels.append("En dato" if len(found) == 1 else _range_label(low, high, _date))
    default = spec.default_value
    exact: dict[Value, int] = {}
    if spec.type in ("boolean", "enum"):
        exact = {value: number for number, value in enumerate(values)}
    dim = Dimension(name, spec, tuple(values), tuple(ranges), tuple(labels), 0, exact)
    return Dimension(name, spec, dim.values, dim.ranges, dim.labels, dim.index(default), exact)


def dimensions(answers: Answers) -> tuple[Dimension, ...]:
    """The facts a pack's answer can depend on: those its rules test, and those telling a step was done."""
    pack = answers.pack
    constants: dict[str, set[Any]] = {}
    for compiled in pack.compiled.values():
        for alternative in compiled.alternatives:
            for test in alternative:
                constants.setdefault(test.fact, set()).add(test.value)
    for rule in pack.rules.values():
        for step in rule.steps:
            if step.done_on:
                constants.setdefault(step.done_on, set())
    facts = pack.definition.facts
    return tuple(dimension(name, spec, constants[name]) for name, spec in facts.items() if name in constants)


# --- the answers at the points of a pack's grid ---------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """What an answer consists of, for telling answers apart: lead (or defect), steps, the rules' warnings."""

    responsible: str | None
    defect: str | None
    steps: tuple[str, ...]  # actor.action, in the Decision's order
    warnings: tuple[str, ...]  # ids of the warnings rules raise (not deadline or review warnings)
    done: tuple[str, ...] = ()  # steps done (`done_on` given) whose deadline tells whether in time

    @property
    def lead(self) -> str | None:
        """Who leads, or the defect's name."""
        return self.defect or self.responsible

    @functools.cached_property
    def step_set(self) -> frozenset[str]:
        """The steps, as a set."""
        return frozenset(self.steps)

    @functools.cached_property
    def warning_set(self) -> frozenset[str]:
        """The warnings, as a set."""
        return frozenset(self.warnings)


def outcome_of(decision: Decision) -> Outcome:
    """The parts of a Decision that the facts of a situation decide."""
    warnings = tuple(w.id for w in decision.warnings if w.rule is not None and w.id not in DEADLINE_WARNINGS)
    steps = tuple(f"{s.actor}.{s.action}" for s in decision.steps)
    return Outcome(decision.responsible, None, steps, warnings)


class OutcomeTable:
    """The answer at every point of one pack's grid, through the engine; built once, from the pack alone."""

    def __init__(self, answers: Answers) -> None:
        self.answers = answers
        self.dims = dimensions(answers)
        self.names = frozenset(d.name for d in self.dims)
        self.size = math.prod(d.size for d in self.dims)
        strides = []
        stride = 1
        for dim in reversed(self.dims):
            strides.append(stride)
            stride *= dim.size
        self.strides = tuple(reversed(strides))
        self.outcomes: list[Outcome] = []
        self._ids: dict[Outcome, int] = {}
        self._table: list[int] | None = None
        self._differences: dict[tuple[int, int], tuple[bool, frozenset[str], frozenset[str], bool]] = {}
        self._grids: LRU[tuple[int, ...], _Grid] = LRU(MAX_GRIDS)
        #: Open questions and their values by (fact, the outcomes at its classes, the class assumed): the
        #: pack's own answers, shared by every situation whose completions give the same.
        self.questions: LRU[tuple[int, tuple[int, ...], int, tuple[str, ...]], OpenQuestion] = LRU(MAX_GRIDS)
        #: The default each fact is assumed to have when unstated.
        self.assumptions = tuple(Assumption(fact=d.name, label=d.spec.label, value=d.spec.default_value,
                                            value_label=d.labels[d.default]) for d in self.dims)
        self._lock = threading.Lock()

    def outcome(self, number: int) -> Outcome:
        """The outcome of an id."""
        return self.outcomes[number]

    def difference(self, one: int, two: int) -> tuple[bool, frozenset[str], frozenset[str], bool]:
        """How two outcomes differ: lead, which steps, which warnings, which done steps' timeliness counts."""
        key = (one, two) if one < two else (two, one)
        found = self._differences.get(key)
        if found is None:
            a, b = self.outcomes[one], self.outcomes[two]
            found = self._differences[key] = (
                a.lead != b.lead, frozenset(a.steps).symmetric_difference(b.steps),
                frozenset(a.warnings).symmetric_difference(b.warnings), set(a.done) != set(b.done))
        return found

    def grid(self, key: tuple[int, ...]) -> _Grid:
        """The weighing of one point of the grid (a class per stated fact, -1 per unstated), kept bounded."""
        found = self._grids.get(key)
        if found is None:
            found = _Grid(self, key)
            if self.size <= MAX_TABLE:  # a tabled pack's grid points are the pack's own: keep a few
                self._grids.put(key, found)
        return found

    def lookup(self, points: Sequence[int]) -> list[int]:
        """The outcome ids at these points of the grid."""
        if self.size <= MAX_TABLE:
            table = self._table or self._build()
            return [table[point] for point in points]
        if len(points) > MAX_COMPLETIONS:
            msg = (f"too many facts left open to weigh ({len(points)} combinations; at most "
                   f"{MAX_COMPLETIONS}): state more facts")
            raise SituationError([{"loc": (), "msg": msg, "type": "too_many_open_facts"}])
        with self._lock:  # the outcome list grows: one caller at a time
            return self._evaluate(points, {})

    @property
    def disk(self) -> tables.Key:
        """What the table is computed from, as its copy on disk is keyed (`ansvar.routing.tables`)."""
        grid = tuple((d.name, d.values, d.ranges, d.default) for d in self.dims)
        return tables.Key(self.answers.pack, grid, self.size)

    def _build(self) -> list[int]:
        with self._lock:
            if self._table is None:
                stored = tables.load(self.disk) if not self.outcomes else None
                if stored is not None:
                    self.outcomes[:] = [Outcome(*row) for row in stored[0]]
                    self._ids = {outcome: number for number, outcome in enumerate(self.outcomes)}
                    self._table = stored[1]
                else:
                    self._table = self._evaluate(range(self.size), {})
                    tables.store(self.disk, [(o.responsible, o.defect, o.steps, o.warnings, o.done)
                                             for o in self.outcomes], self._table)
            return self._table

    def _evaluate(self, points: Sequence[int], memo: dict[tuple[frozenset[str], tuple[int, ...]], int],
                  ) -> list[int]:
        pack = self.answers.pack
        dims = self.dims
        done = [number for number, dim in enumerate(dims) if dim.spec.type == "date"]
        base = engine_fact(pack, pack.definition.model.model_construct())
        engine_values = [[engine_value(v) for v in dim.values] for dim in dims]
        found: list[int] = []
        for start in range(0, len(points), MAX_BATCH):
            chunk = points[start:start + MAX_BATCH]
            coordinates = [[point // self.strides[n] % dim.size for n, dim in enumerate(dims)]
                           for point in chunk]
            facts = []
            for coordinate in coordinates:
                fact = dict(base)
                fact.update((dim.name, engine_values[n][k])
                            for n, (dim, k) in enumerate(zip(dims, coordinate, strict=True)))
                facts.append(fact)
            fired: list[set[str]] = [set() for _ in chunk]

            def collect(at: int, name: str, fired: list[set[str]] = fired) -> None:
                fired[at].add(names.decode(name)[0])  # the rule; which alternative held is the trace's

            pack.ruleset.evaluate_many(facts, collect)
            for at, rules in enumerate(fired):
                key = (frozenset(rules), tuple(coordinates[at][n] for n in done))
                number = memo.get(key)
                if number is None:
                    number = memo[key] = self._intern(self._outcome(coordinates[at], rules))
                found.append(number)
        return found

    def _outcome(self, coordinates: Sequence[int], rules: set[str]) -> Outcome:
        pack = self.answers.pack
        values = {dim.name: dim.values[k] for dim, k in zip(self.dims, coordinates, strict=True)}
        every = set(pack.definition.facts) | {"municipality", "event"}  # all stated: no deadline waits here
        situation = pack.definition.model.model_construct(every, municipality=pack.municipality.id,
                                                          event=pack.event, **values)
        resolution = resolve(pack, [names.encode(r, 0) for r in rules])
        try:
            decision = self.answers.build(situation, resolution, pack.meta.valid_from)
        except RoutingError as exc:
            return Outcome(None, type(exc).__name__, (), ())
        done = tuple(dict.fromkeys(
            f"{spec.actor}.{spec.action}" for held in resolution.held if not held.overridden
            for spec in held.rule.steps
            if spec.due is not None and spec.done_on and values[spec.done_on] is not None))
        found = outcome_of(decision)
        return Outcome(found.responsible, found.defect, found.steps, found.warnings, done)

    def _intern(self, outcome: Outcome) -> int:
        number = self._ids.get(outcome)
        if number is None:
            number = self._ids[outcome] = len(self.outcomes)
            self.outcomes.append(outcome)
        return number


_tables: dict[tuple[str, object], OutcomeTable] = {}
_tables_lock = threading.Lock()
MAX_TABLES = 256  # packs whose tables a process keeps (oldest dropped first)


def table_for(answers: Answers) -> OutcomeTable:
    """The outcome table of a pack, shared by every router that loaded the same files.

    Keyed by the pack's content hash (its event file, layers and rule files) and its event definition
    (which holds the common facts): a table is the pack's alone, so routers that loaded the same pack share
    one, and a reload with changed files gets its own.
    """
    pack = answers.pack
    key = (pack.content_hash, pack.definition)
    with _tables_lock:
        table = _tables.get(key)
        if table is None:
            if len(_tables) >= MAX_TABLES:
                del _tables[next(iter(_tables))]
            table = _tables[key] = OutcomeTable(answers)
        return table


# --- one situation --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Open:
    """One unstated fact that matters: what its value can change."""

    position: int  # among the unstated dimensions
    lead: bool
    steps: frozenset[str]
    warnings: frozenset[str]
    timely: bool  # which done steps' deadlines count (so whether they were done in time)


class _Grid:
    """The completions of one point of a pack's grid (stated facts fixed, the others free), weighed.

    Fixed by the table and the key (each fact's class where stated, -1 where not), so it is kept per key
    (bounded, like the Decisions kept by the rules that fired): it holds no value of anybody's situation,
    only which classes of the pack's own grid some situation stated.
    """

    def __init__(self, table: OutcomeTable, key: tuple[int, ...]) -> None:
        self.table = table
        dims = table.dims
        self.unstated = [number for number, k in enumerate(key) if k < 0]
        base = sum(table.strides[n] * k for n, k in enumerate(key) if k >= 0)
        points = [base]
        for number in self.unstated:
            offsets = [k * table.strides[number] for k in range(dims[number].size)]
            points = [p + o for p in points for o in offsets]
        self.values = table.lookup(points)
        self.sizes = [dims[number].size for number in self.unstated]
        self.inner: list[int] = []
        inner = len(points)
        for size in self.sizes:
            inner //= size
            self.inner.append(inner)
        self.current = sum(dims[n].default * self.inner[p] for p, n in enumerate(self.unstated))
        self.open = self._open()
        outcome = table.outcome(self.values[self.current])
        self.questions = {dims[n].name: self._question(n, outcome) for n in sorted(self.open)}
        self.assumptions = tuple(table.assumptions[n] for n in sorted(self.open))
        distinct = [table.outcome(v) for v in set(self.values)]
        self.everywhere_steps = frozenset.intersection(*(o.step_set for o in distinct))
        self.everywhere_warnings = frozenset.intersection(*(o.warning_set for o in distinct))
        self._best: list[str] | None = None

    def _slices(self, position: int, value: int) -> list[list[int]]:
        """The answers at the completions where the unstated fact at `position` has class `value`."""
        size = self.sizes[position]
        inner = self.inner[position]
        block = inner * size
        values = self.values
        if inner >= len(values) // block:  # few blocks of long runs
            return [values[o + value * inner:o + (value + 1) * inner] for o in range(0, len(values), block)]
        return [values[j + value * inner::block] for j in range(inner)]

    def _open(self) -> dict[int, _Open]:
        table = self.table
        found: dict[int, _Open] = {}
        if len(set(self.values)) == 1:
            return found
        for position, number in enumerate(self.unstated):
            firsts = self._slices(position, 0)
            pairs: set[tuple[int, int]] = set()
            for value in range(1, self.sizes[position]):
                for first, other in zip(firsts, self._slices(position, value), strict=True):
                    if first != other:
                        pairs.update(zip(first, other, strict=True))
            lead = timely = False
            steps: set[str] = set()
            warnings: set[str] = set()
            for a, b in pairs:
                if a != b:
                    differs = table.difference(a, b)
                    lead = lead or differs[0]
                    steps.update(differs[1])
                    warnings.update(differs[2])
                    timely = timely or differs[3]
            if lead or steps or warnings or timely:
                found[number] = _Open(position, lead, frozenset(steps), frozenset(warnings), timely)
        return found

    def _question(self, number: int, current: Outcome) -> OpenQuestion:
        dim = self.table.dims[number]
        found = self.open[number]
        changes = (("ansvarlig",) * found.lead + ("skridt",) * bool(found.steps)
                   + ("advarsler",) * bool(found.warnings) + ("frist",) * found.timely)
        position = found.position
        step = self.inner[position]
        theirs = tuple(self.values[self.current + (k - dim.default) * step] for k in range(dim.size))
        key = (number, theirs, self.values[self.current], changes)
        question = self.table.questions.get(key)
        if question is None:
            outcome = self.table.outcome
            values = tuple(self._value(dim, k, current, outcome(theirs[k])) for k in range(dim.size))
            question = OpenQuestion(fact=dim.name, label=dim.spec.label, question=dim.spec.question,
                                    type=dim.spec.type, values=values, changes=changes,  # type: ignore[arg-type]
                                    description=dim.spec.description)
            self.table.questions.put(key, question)
        return question

    @staticmethod
    def _value(dim: Dimension, value: int, current: Outcome, there: Outcome) -> OpenValue:
        low, high = dim.ranges[value]
        return OpenValue(
            value=dim.shown(value), label=dim.labels[value], minimum=low, maximum=high,
            assumed=value == dim.default, responsible=there.responsible, defect=there.defect,
            steps_added=tuple(s for s in there.steps if s not in current.steps),
            steps_dropped=tuple(s for s in current.steps if s not in there.steps),
            warnings_added=tuple(w for w in there.warnings if w not in current.warnings),
            warnings_dropped=tuple(w for w in current.warnings if w not in there.warnings))

    def remaining_after(self, number: int) -> tuple[float, float]:
        """How many answers remain possible once the fact is known, and the answer's entropy then.

        Both averaged over the fact's values, each completion counted alike: less is a better question.
        """
        position = self.open[number].position
        size = self.sizes[position]
        remaining = 0.0
        entropy = 0.0
        for value in range(size):
            counts = Counter(itertools.chain.from_iterable(self._slices(position, value)))
            remaining += len(counts) / size
            total = sum(counts.values())
            entropy -= sum(c / total * math.log2(c / total) for c in counts.values()) / size
        return remaining, entropy

    def best(self) -> list[str]:
        """The open facts, the best question first (ties: the event file's order)."""
        if self._best is None:
            dims = self.table.dims
            ranked = sorted(self.open, key=lambda n: (*(round(x, 9) for x in self.remaining_after(n)), n))
            self._best = [dims[n].name for n in ranked]
        return self._best


def waiting_dates(pack: Pack, situation: SituationBase, decision: Decision) -> dict[str, list[str]]:
    """The steps (actor.action) whose deadline waits for a date nobody gave, by that date.

    A step still to do, whose deadline is not counted; and a step done (its `done_on` given) whose deadline
    is not known, so nobody can tell whether it was done in time.
    """
    waiting: dict[str, list[str]] = {}
    for step in decision.steps:
        if step.due is None and step.due_from is not None:
            waiting.setdefault(step.due_from, []).append(f"{step.actor}.{step.action}")
    for entry in decision.trace:
        if entry.overridden:
            continue
        for spec in pack.rules[entry.rule].steps:
            if spec.due is not None and spec.done_on and getattr(situation, spec.done_on) is not None:
                name, pending = counted_from(spec.due, situation)
                if pending:
                    waiting.setdefault(name, []).append(f"{spec.actor}.{spec.action}")
    return waiting


class Weighing:
    """One situation and its Decision against its pack's table: what is open, what to ask first."""

    def __init__(self, table: OutcomeTable, situation: SituationBase, decision: Decision) -> None:
        self.table = table
        self.decision = decision
        stated = stated_facts(situation)
        key = tuple(dim.index(getattr(situation, dim.name)) if dim.name in stated else -1
                    for dim in table.dims)
        self.grid = table.grid(key)
        #: Steps whose deadline waits for a date nobody gave, by that date.
        self.waiting = waiting_dates(table.answers.pack, situation, decision)

    @property
    def settled(self) -> bool:
        """Nothing unstated changes the answer, and no deadline waits for a date."""
        return not self.grid.open and not self.waiting

    def questions(self) -> list[OpenQuestion]:
        """The open questions, in the event file's order."""
        found = []
        for name, spec in self.table.answers.pack.definition.facts.items():
            question = self.grid.questions.get(name)
            waiting = tuple(self.waiting.get(name, ()))
            if waiting:
                question = question or OpenQuestion(fact=name, label=spec.label, question=spec.question,
                                                    type=spec.type, values=(), changes=(),
                                                    description=spec.description)
                changes = question.changes if "frist" in question.changes else (*question.changes, "frist")
                question = question.model_copy(update={"changes": changes, "deadlines": waiting})
            if question is not None:
                found.append(question)
        return found

    def annotate(self) -> Decision:
        """The Decision, saying what it does not know: open questions, assumptions, what depends on them."""
        decision = self.decision
        if self.settled:
            return decision
        grid = self.grid
        dims = self.table.dims
        opened = sorted(grid.open.items())

        def depends(key: str, kind: str) -> tuple[str, ...]:
            return tuple(dims[n].name for n, found in opened
                         if key in (found.steps if kind == "step" else found.warnings))

        steps = []
        for step in decision.steps:
            key = f"{step.actor}.{step.action}"
            on = depends(key, "step") + ((step.due_from,) if step.due is None and step.due_from else ())
            settled = key in grid.everywhere_steps and not on
            steps.append(step if settled else step.model_copy(update={"settled": False, "depends_on": on}))
        by_step = {f"{s.actor}.{s.action}": s for s in steps}
        warnings = []
        for warning in decision.warnings:
            if warning.rule is None or warning.id in DEADLINE_WARNINGS:  # the review's, or a step's deadline
                named = by_step.get(warning.step or "")
                on = named.depends_on if named is not None else ()
                settled = not on
            else:
                on = depends(warning.id, "warning")
                settled = warning.id in grid.everywhere_warnings and not on
            warnings.append(warning if settled else warning.model_copy(
                update={"settled": False, "depends_on": on}))
        lead_on = tuple(dims[n].name for n, found in opened if found.lead)
        return decision.model_copy(update={
            "steps": tuple(steps), "warnings": tuple(warnings), "responsible_settled": not lead_on,
            "responsible_depends_on": lead_on, "open_questions": tuple(self.questions()),
            "assumed": grid.assumptions})

    def next_question(self, unknown: Collection[str] = ()) -> OpenQuestion | None:
        """The unstated fact that splits the possible answers best; then a date a deadline waits for.

        `unknown`: facts the caller cannot answer ("ved ikke"): never asked, they stay open questions.
        """
        questions = {q.fact: q for q in self.questions() if q.fact not in unknown}
        if not questions:
            return None
        for name in self.grid.best():
            if name in questions:
                return questions[name]
        facts = list(self.table.answers.pack.definition.facts)
        return questions[min((f for f in self.waiting if f in questions), key=facts.index)]
