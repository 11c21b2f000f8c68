"""`ansvar check`: every load error at once, then an exhaustive analysis of each municipality's packs.

For every (municipality, event) the loaded packs cover, every case its rules can tell apart
(`ansvar.analysis.space.SituationSpace`) is routed through the real engine, as users get it. Found:

- **gap**: situations where no rule names a responsible actor (`NoResponsibleError` for users);
- **conflict**: situations where rules of equal top priority name different actors (`ConflictError`);
- **unreachable**: a rule that fires in no situation (its conditions contradict, or an `any` branch is dead);
- **shadowed**: a rule naming a responsible actor that fires only where a higher-priority lead outranks it,
  so its lead, steps and warnings never reach anyone (a rule that only ever ties in a conflict is a
  conflict, not shadowed);
- **no_packs**: nothing to check: no municipality's pack under the paths asked for;
- **interpretation** (a note): a rule, step or warning marked `basis: fortolkning`: not the guide's words
  but the pack's reading where the guide is silent or unclear, with its reason; listed once per rule file,
  so that a reviewer sees every judgement the packs make;
- **unasked** (a warning): a fact the rules test that changes the answer in no situation, so no interview
  would ever ask it (`ansvar.next_question` asks only what can change the answer): the tests of it decide
  nothing. Found from the pack's outcome table (`ansvar.routing.unknowns`) as the open questions of the
  situation that states nothing; a fact tested only by rules found unreachable or shadowed is not reported
  again.

Each finding carries `file:line:column` and, for gaps, conflicts and shadowed rules, the simplest situation
that shows it, ready for `ansvar route`. Load errors are findings of kind `load`. All are errors but the
warnings and notes (`severity`), which do not fail a check.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ansvar import _yaml
from ansvar.analysis.space import MAX_SITUATIONS, SituationSpace, json_ready
from ansvar.errors import RoutingError, RuleError, location
from ansvar.model.decision import Answer
from ansvar.packs.loader import Pack
from ansvar.packs.schema import WarningSpec
from ansvar.routing.build import Answers
from ansvar.routing.router import Router, routing_date
from ansvar.routing.unknowns import Weighing, table_for

Kind = Literal["load", "gap", "conflict", "unreachable", "shadowed", "too_large", "no_packs", "unasked",
               "interpretation"]
Severity = Literal["error", "warning", "note"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in the rule packs, where it is, and a situation that shows it."""

    kind: Kind
    message: str
    path: Path | None
    line: int | None = None
    column: int | None = None
    municipality: str | None = None
    event: str | None = None
    rule: str | None = None
    situations: int = 0
    example: Mapping[str, Any] | None = None
    severity: Severity = "error"

    @property
    def location(self) -> str:
        """`file:line:column`, as editors read it."""
        return location(self.path, self.line, self.column)

    def __str__(self) -> str:
        said = f"{self.severity}: " if self.severity != "error" else ""
        return f"{self.location}: {said}{self.kind}: {self.message}"

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (for editors and CI)."""
        return {"kind": self.kind, "severity": self.severity, "message": self.message,
                "location": self.location,
                "path": str(self.path) if self.path else None, "line": self.line, "column": self.column,
                "municipality": self.municipality, "event": self.event, "rule": self.rule,
                "situations": self.situations, "example": dict(self.example) if self.example else None}


@dataclass(slots=True)
class Report:
    """What `check` found, and how long each event's analysis took."""

    findings: list[Finding] = field(default_factory=list)
    analysed: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No error (warnings do not fail a check)."""
        return not self.errors

    @property
    def errors(self) -> list[Finding]:
        """The findings that fail a check."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """The findings worth a look that do not fail a check."""
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def interpretations(self) -> list[Finding]:
        """Every rule, step and warning the packs mark as their reading, not the guide's words (notes)."""
        return [f for f in self.findings if f.kind == "interpretation"]


def check(rule_dirs: Sequence[Path], *, only: Iterable[Path] = (), on: dt.date | None = None) -> Report:
    """Load `rule_dirs` reporting every problem, then analyse each municipality's packs exhaustively.

    `only`: analyse just the packs one of whose layers lies under these paths (a municipality's folder, or a
    region's, which checks every municipality inheriting it; load errors are always reported). `on`: the
    date to route on (default today; a pack not yet in force is skipped). Checking nothing is a finding of
    its own (`no_packs`), as a test run that collects no test fails.
    """
    day = routing_date(on)
    problems: list[RuleError] = []
    router = Router(rule_dirs, problems=problems)
    report = Report([Finding("load", p.message, p.path, p.line, p.column) for p in problems])
    only = list(only)
    roots = [p.resolve() for p in only]
    listed: set[tuple[Path | None, int | None, int | None]] = set()  # an inherited rule is listed once
    for municipality in router.municipalities():
        for event in router.events(municipality):
            pack = router.pack(municipality, event)
            # A pack is checked when any layer it is composed of lies under a path asked for: checking a
            # region's or the law's folder checks every municipality that inherits it.
            layers = [layer.path.resolve() for layer in pack.municipality.chain()]
            if roots and not any(layer.is_relative_to(root) for layer in layers for root in roots):
                continue
            if any(day < part.meta.valid_from for part in pack.parts):
                continue
            started = time.perf_counter()
            found, size = analyse(router, pack, day)
            report.findings += found
            report.findings += [f for f in interpretations(pack) if (f.path, f.line, f.column) not in listed]
            listed.update((f.path, f.line, f.column) for f in report.interpretations)
            report.analysed[municipality, event] = (size, time.perf_counter() - started)
    if not report.analysed:
        where = only or list(rule_dirs)
        names = ", ".join(map(str, where)) or "(no path)"
        report.findings.append(Finding(
            "no_packs", f"nothing to check: no municipality's rule pack in force on {day} lies under "
                        f"{names}", where[0] if where else None))
    return report


def analyse(router: Router, pack: Pack, on: dt.date) -> tuple[list[Finding], int]:
    """Gaps, conflicts, unreachable and shadowed rules, unasked facts of one pack; how many situations."""
    where = _Where(pack)
    space = SituationSpace([pack], on)
    if space.size > MAX_SITUATIONS:
        message = (f"{space.size} situations exceed {MAX_SITUATIONS}: the rules read too many facts with "
                   "too many distinct values to check")
        return [where.pack_finding("too_large", message)], space.size
    seen = _Seen(pack)
    for situation in space:
        example = {"municipality": pack.municipality.id, **situation}
        seen.add(example, router.outline(example, on))
    found = seen.findings(where)
    reported = {f.rule for f in found if f.kind in {"unreachable", "shadowed"}}
    return found + _unasked(router, pack, on, where, reported), seen.routed


def interpretations(pack: Pack) -> list[Finding]:
    """The pack's rules, steps and warnings marked as interpretations, at their `basis:`, with the reason."""
    found = []
    for rule_id, rule in pack.rules.items():
        part = pack.origin[rule_id]
        loc = part.rule_loc(rule_id)
        for at, marked, reason in rule.interpretations():
            what = (f"rule {rule_id!r}" if marked is None else
                    f"warning {marked.id!r} of rule {rule_id!r}" if isinstance(marked, WarningSpec) else
                    f"step {marked.actor}.{marked.action} of rule {rule_id!r}")
            pos = (_yaml.position(part.file.data, (*loc, *at, "basis"), key=True)
                   or _yaml.position(part.file.data, (*loc, "use"), key=True)
                   or _yaml.position(part.file.data, (*loc, "id"), key=True) or (None, None))
            found.append(Finding("interpretation", f"{what} is the pack's reading, not the guide's words: "
                                 f"{reason}", part.path, line=pos[0], column=pos[1],
                                 municipality=pack.municipality.id, event=pack.event, rule=rule_id,
                                 severity="note"))
    return found


def _unasked(router: Router, pack: Pack, on: dt.date, where: _Where, reported: set[str | None],
             ) -> list[Finding]:
    """The facts the rules test that no question could ever reach: open for no situation at all.

    Every situation completes the one that states nothing, so a fact that is not an open question there
    (its value changes no answer between two situations differing in it alone) is asked by no interview.
    """
    situation = router.parse_situation({"municipality": pack.municipality.id, "event": pack.event})
    try:
        decision = router.route(situation, on)
    except RoutingError:  # no single lead on the defaults, or too many facts to weigh: found above
        return []
    table = table_for(Answers(pack))
    opened = {table.dims[number].name for number in Weighing(table, situation, decision).grid.open}
    readers: dict[str, list[str]] = {}
    for rule_id, compiled in pack.compiled.items():
        tested = {test.fact for alternative in compiled.alternatives for test in alternative}
        tested.update(step.done_on for step in pack.rules[rule_id].steps if step.done_on)
        for name in tested:
            readers.setdefault(name, []).append(rule_id)
    found = []
    for dim in table.dims:
        rules = readers.get(dim.name, [])
        if dim.name in opened or not rules or set(rules) <= reported:
            continue
        named = ", ".join(repr(r) for r in rules)
        message = (f"fact {dim.name!r} is tested by rule(s) {named} but changes the answer in no situation: "
                   "no question would ever ask it, and its tests decide nothing")
        found.append(dataclasses.replace(where.rule_finding("unasked", rules[0], message, None),
                                         severity="warning"))
    return found


class _Seen:
    """What the situations routed so far showed: gaps, conflicts, which rules fired and which led."""

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        self.routed = 0
        self.gaps = _Tally()
        self.conflicts: dict[tuple[str, ...], _Tally] = {}
        self.fired: dict[str, _Tally] = {}
        self.led: set[str] = set()
        self.contended: set[str] = set()
        self.outranked_by: dict[str, str] = {}

    def add(self, example: dict[str, Any], answer: Answer) -> None:
        self.routed += 1
        for rule_id in answer.fired:
            self.fired.setdefault(rule_id, _Tally()).add(example)
        if answer.error == "NoResponsibleError":
            self.gaps.add(example)
        elif answer.error == "ConflictError":
            rivals = _rivals(self.pack, answer.fired)
            self.conflicts.setdefault(rivals, _Tally()).add(example)
            self.contended.update(rivals)  # nothing outranks them here: a conflict, not a shadow
        else:
            leading = [self.pack.rules[r] for r in answer.fired
                       if self.pack.rules[r].responsible is not None and r not in answer.overridden]
            self.led.update(r.id for r in leading)
            for rule_id in answer.overridden:
                self.outranked_by.setdefault(rule_id, leading[0].id)

    def findings(self, where: _Where) -> list[Finding]:
        rules = self.pack.rules
        found: list[Finding] = []
        if self.gaps.count:
            message = (f"no rule names a responsible actor in {self.gaps.count} situation(s), e.g. "
                       f"{_show(self.gaps.example)}")
            found.append(where.pack_finding("gap", message, self.gaps))
        for rivals, tally in self.conflicts.items():
            names = ", ".join(f"{r} -> {rules[r].responsible}" for r in rivals)
            message = (f"rules of equal priority {rules[rivals[0]].priority} claim the lead ({names}) in "
                       f"{tally.count} situation(s), e.g. {_show(tally.example)}")
            found.append(where.rule_finding("conflict", rivals[-1], message, tally))
        for rule_id, rule in rules.items():
            if rule_id not in self.fired:
                found.append(where.rule_finding(
                    "unreachable", rule_id, f"rule {rule_id!r} fires in no situation: its conditions never "
                                            "hold together", None))
            elif rule.responsible is not None and rule_id not in self.led | self.contended:
                tally = self.fired[rule_id]
                found.append(where.rule_finding(
                    "shadowed", rule_id, f"rule {rule_id!r} (priority {rule.priority}) fires only where a "
                                         f"higher priority lead outranks it (e.g. "
                                         f"{self.outranked_by.get(rule_id)!r}), so its lead, steps and "
                                         f"warnings never apply; e.g. {_show(tally.example)}", tally))
        return found


def _rivals(pack: Pack, fired: Sequence[str]) -> tuple[str, ...]:
    claims = [pack.rules[r] for r in fired if pack.rules[r].responsible is not None]
    top = max(r.priority for r in claims)
    return tuple(r.id for r in claims if r.priority == top)


def _show(example: Mapping[str, Any] | None) -> str:
    return json.dumps(json_ready(example or {}), ensure_ascii=False)


class _Tally:
    """How many situations show a finding, and the simplest of them."""

    def __init__(self) -> None:
        self.count = 0
        self.example: dict[str, Any] | None = None

    def add(self, situation: dict[str, Any]) -> None:
        self.count += 1
        if self.example is None or len(situation) < len(self.example):
            self.example = situation


class _Where:
    """Positions of a pack's rules in their files, for findings."""

    def __init__(self, pack: Pack) -> None:
        self.pack = pack

    def pack_finding(self, kind: Kind, message: str, tally: _Tally | None = None) -> Finding:
        part = self.pack.parts[-1]
        at = _yaml.position(part.file.data, ("rules",), key=True) or (None, None)
        return self._finding(kind, message, (part.path, *at), None, tally)

    def rule_finding(self, kind: Kind, rule_id: str, message: str, tally: _Tally | None) -> Finding:
        part = self.pack.origin[rule_id]
        at = _yaml.position(part.file.data, (*part.rule_loc(rule_id), "id"), key=True) or (None, None)
        return self._finding(kind, message, (part.path, *at), rule_id, tally)

    def _finding(self, kind: Kind, message: str, at: tuple[Path, int | None, int | None], rule: str | None,
                 tally: _Tally | None) -> Finding:
        example = tally.example if tally else None
        return Finding(kind, message, *at, self.pack.municipality.id, self.pack.event, rule,
                       tally.count if tally else 0, json_ready(example) if example is not None else None)

