"""Scenario files: what a guide says, written as situations and the answers they must get, run on the engine.

A scenario file is YAML, read as strictly as the rule packs (YAML 1.2 booleans, no aliases, no duplicate
keys); anything malformed is a `ScenarioFileError` at `file:line:column`::

    rules: [shipped, ../../rules]      # optional: rule directories, relative to this file;
                                       # `shipped` is ansvar.shipped_rules(); absent: the shipped packs
    scenarios:
      - name: Delirium tremens -> Akutmodtagelsen       # one line, unique in the file
        cites: "Borgeren kan indlægges, når ..."        # the guide passage the scenario encodes
        on: 2026-11-23                                  # optional, default 2026-11-23
        situation: {municipality: aalborg, event: afrusning, delirium_tremens: true}
        expect:                                         # any of these keys, each optional
          responsible: region_akutmodtagelse
          steps: [egen_laege.henvis_til_akutmodtagelse]  # exactly these (actor.action), in this order
          steps_include: [...]                          # present, in this relative order
          steps_exclude: [borger.afrus_selv]            # absent
          warnings: [...]                               # exactly these ids, in this order
          warnings_include: [...]                       # present, in any order
          warnings_exclude: [...]                       # absent
          due: {egen_laege.henvis_til_akutmodtagelse: 0}  # days after `on`, or a date; null: no deadline
          overdue: {behandler.telefonisk_opfoelgning_1_maaned: 12}   # its `frist_overskredet`, in days
          contact: {borger.kontakt_visitation: {phone: "9931 5740"}}  # fields of the step's contact
          text_contains: {ferle.udfoer_urinproever: ["495 kr"]}      # substrings of the step's text
          interpretations: [responsible, ferle.foretag_urinproever]  # exactly these are the pack's reading
          error: SituationError                         # alone: routing raises this ansvar error

Besides what `expect` says, every step and warning of the answer must cite a document and a section.

`load` reads a file, `run` routes one scenario and returns a `Failure` (or None when the answer is as
expected), `discover` finds scenario files, `main` is `ansvar test PATH...`. The pytest plugin
(`ansvar.testing.pytest_plugin`) collects the same files, one test per scenario.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TextIO

from ansvar import _yaml, errors
from ansvar.errors import AnsvarError, is_id, location
from ansvar.model.decision import OVERDUE_WARNING, Contact, Decision
from ansvar.routing.router import Router, default_router, shipped_rules
from ansvar.testing.files import SUFFIXES, has_scenarios  # noqa: F401 - re-exported: part of the API

#: The routing date of a scenario that names none.
DEFAULT_ON = dt.date(2026, 11, 23)
#: `rules:` entry standing for the packs that ship with ansvar.
SHIPPED = "shipped"
FILE_KEYS = frozenset({"rules", "scenarios"})
SCENARIO_KEYS = frozenset({"name", "cites", "on", "situation", "expect"})
STEP_LISTS = ("steps", "steps_include", "steps_exclude")
WARNING_LISTS = ("warnings", "warnings_include", "warnings_exclude")
EXPECT_KEYS = frozenset({"responsible", *STEP_LISTS, *WARNING_LISTS, "due", "overdue", "contact",
                         "text_contains", "interpretations", "error"})
#: In `interpretations`, the lead (the other entries are steps, actor.action, and warning ids).
LEAD = "responsible"
CONTACT_FIELDS = frozenset(Contact.model_fields)

def _is_step(value: object) -> bool:
    """`actor.action`: two ids."""
    return isinstance(value, str) and all(is_id(part) for part in value.split(".")) and value.count(".") == 1


class ScenarioFileError(AnsvarError):
    """A scenario file that does not load; carries the file, line and column (1-based) of the problem."""

    def __init__(self, message: str, path: Path | str, line: int | None = None,
                 column: int | None = None) -> None:
        self.message = message
        self.path = Path(path)
        self.line = line
        self.column = column
        super().__init__(f"{self.location}: {message}")

    @property
    def location(self) -> str:
        """`file:line:column` as editors and compilers print it."""
        return location(self.path, self.line, self.column)


@dataclass(frozen=True)
class Scenario:
    """One scenario of a file: a situation, the date it is routed on, and what the answer must be."""

    path: Path
    line: int
    name: str
    cites: str
    on: Any
    """The routing date (any value in a scenario that expects an error)."""
    situation: dict[str, Any]
    expect: dict[str, Any]
    rules: tuple[Path, ...] | None = field(default=None, repr=False)
    """The rule directories to route with; None: the shipped packs."""

    @property
    def id(self) -> str:
        """`file:line: name`."""
        return f"{self.path}:{self.line}: {self.name}"


@dataclass(frozen=True)
class Failure:
    """A scenario answered otherwise than expected: each mismatch, and the answer (or exception) it got."""

    scenario: Scenario
    mismatches: list[str]
    decision: Decision | None = None
    exception: BaseException | None = None

    def summary(self) -> str:
        """One line: the scenario and its first mismatch."""
        more = f" (+{len(self.mismatches) - 1} more)" if len(self.mismatches) > 1 else ""
        return f"{self.scenario.id} - {self.mismatches[0]}{more}"

    def report(self) -> str:
        """Readable text: the scenario, the situation, each mismatch, and the answer with its fired rules."""
        sc = self.scenario
        lines = [sc.id, f"  on: {sc.on}",
                 f"  situation: {json.dumps(sc.situation, ensure_ascii=False, default=str)}",
                 "  mismatches:", *(f"    {m}" for m in self.mismatches)]
        if self.exception is not None:
            lines.append(f"  exception: {type(self.exception).__name__}: {self.exception}")
        if self.decision is not None:
            lines.extend(_describe(self.decision))
        return "\n".join(lines)


# -- loading -----------------------------------------------------------------------------------------------

def discover(paths: Iterable[Path | str]) -> list[Path]:
    """The scenario files among `paths`, sorted, each once.

    A file is taken as named; a directory is searched for `*.yaml`/`*.yml` files with a top-level
    `scenarios:` key, skipping hidden directories.
    """
    found: dict[Path, None] = {}
    for given in paths:
        path = Path(given)
        if path.is_file():
            found[path] = None
        elif path.is_dir():
            for candidate in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in candidate.relative_to(path).parts)
                if not hidden and candidate.is_file() and has_scenarios(candidate):
                    found[candidate] = None
        else:
            raise ScenarioFileError("no such file or directory", path)
    return sorted(found)


def load(path: Path | str) -> list[Scenario]:
    """The scenarios of one file; `ScenarioFileError` at file:line:column for anything malformed."""
    path = Path(path)
    try:
        raw = _yaml.read(path, _yaml.MAX_FILE_BYTES)  # a regular file only: a FIFO would hang here
        if len(raw) > _yaml.MAX_FILE_BYTES:
            raise ScenarioFileError(f"larger than {_yaml.MAX_FILE_BYTES} bytes: not a scenario file", path)
        data = _yaml.load(raw)
    except OSError as exc:
        raise ScenarioFileError(f"cannot read: {exc.strerror}", path) from None
    except _yaml.YamlProblem as exc:
        raise ScenarioFileError(exc.message, path, exc.line, exc.column) from None
    reader = _Reader(path)
    if not isinstance(data, _yaml.LocatedDict) or "scenarios" not in data:
        reader.fail("not a scenario file: expected a mapping with a top-level `scenarios:` list",
                    getattr(data, "position", None))
    reader.unknown_keys(data, FILE_KEYS, "top-level key")
    rules = reader.rules(data)
    items = data["scenarios"]
    if not isinstance(items, _yaml.LocatedList) or not items:
        reader.fail("`scenarios` must be a non-empty list", data.positions["scenarios"])
    scenarios: list[Scenario] = []
    first: dict[str, int] = {}
    for item, where in zip(items, items.positions, strict=True):
        scenario = reader.scenario(item, where, rules)
        if scenario.name in first:
            reader.fail(f"duplicate scenario name {scenario.name!r} (first at line {first[scenario.name]})",
                        item.positions["name"])
        first[scenario.name] = scenario.line
        scenarios.append(scenario)
    return scenarios


class _Reader:
    """Checks one scenario file's parts, failing at the position of the first problem."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, message: str, where: tuple[int, int] | None) -> NoReturn:
        raise ScenarioFileError(message, self.path, *(where or (None, None)))

    def unknown_keys(self, data: _yaml.LocatedDict, allowed: frozenset[str], what: str) -> None:
        for key in data:
            if key not in allowed:
                self.fail(f"unknown {what} {key!r}; allowed: {', '.join(sorted(allowed))}",
                          data.key_positions[key])

    def rules(self, data: _yaml.LocatedDict) -> tuple[Path, ...] | None:
        if "rules" not in data:
            return None
        entries = data["rules"]
        if not isinstance(entries, _yaml.LocatedList) or not entries:
            self.fail("`rules` must be a non-empty list of rule directories (relative to this file) or "
                      f"{SHIPPED!r}", data.positions["rules"])
        dirs: list[Path] = []
        for entry, where in zip(entries, entries.positions, strict=True):
            if not isinstance(entry, str) or not entry:
                self.fail(f"a rule directory must be a path or {SHIPPED!r}", where)
            directory = shipped_rules() if entry == SHIPPED else self.path.parent / entry
            if not directory.is_dir():
                self.fail(f"rule directory {entry!r} does not exist (looked for {directory})", where)
            dirs.append(directory.resolve())
        return tuple(dirs)

    def scenario(self, item: Any, where: tuple[int, int], rules: tuple[Path, ...] | None) -> Scenario:  # noqa: ANN401 - whatever the YAML holds; checked here
        if not isinstance(item, _yaml.LocatedDict):
            self.fail("a scenario must be a mapping with name, cites, situation and expect", where)
        self.unknown_keys(item, SCENARIO_KEYS, "scenario key")
        for key in ("name", "cites"):
            value = item.get(key)
            if not isinstance(value, str) or not value.strip():
                why = "every scenario cites the guide passage it encodes" if key == "cites" else "one line"
                self.fail(f"`{key}` is required, a non-empty string ({why})",
                          item.positions[key] if key in item else where)
        for key in ("situation", "expect"):
            if not isinstance(item.get(key), _yaml.LocatedDict):
                self.fail(f"`{key}` is required, a mapping", item.positions[key] if key in item else where)
        self.expect(item["expect"])
        on = item.get("on", DEFAULT_ON)
        if not _is_date(on) and "error" not in item["expect"]:  # a scenario may test that a bad `on` raises
            self.fail("`on` must be a date (YYYY-MM-DD)", item.positions["on"])
        return Scenario(self.path, where[0], item["name"], item["cites"], on, _plain(item["situation"]),
                        _plain(item["expect"]), rules)

    def expect(self, expect: _yaml.LocatedDict) -> None:
        self.unknown_keys(expect, EXPECT_KEYS, "expect key")
        if "error" in expect:
            self.error(expect)
        if "responsible" in expect and not is_id(expect["responsible"]):
            self.fail("`responsible` must be an actor id", expect.positions["responsible"])
        for key in (*STEP_LISTS, *WARNING_LISTS):
            if key in expect:
                self.strings(expect[key], expect.positions[key], key, steps=key in STEP_LISTS)
        for key, (valid, what) in _PER_STEP.items():
            if key in expect:
                self.per_step(expect[key], expect.positions[key], key, valid, what)
        if "interpretations" in expect:
            value, where = expect["interpretations"], expect.positions["interpretations"]
            if not (isinstance(value, list) and all(isinstance(v, str) and (_is_step(v) or is_id(v))
                                                    for v in value)):
                self.fail("`interpretations` must be a list of `responsible`, steps (actor.action) and "
                          "warning ids", where)

    def error(self, expect: _yaml.LocatedDict) -> None:
        name = expect["error"]
        error = getattr(errors, name, None) if isinstance(name, str) else None
        if not (isinstance(error, type) and issubclass(error, AnsvarError)):
            self.fail("`error` must name an ansvar error class, e.g. SituationError",
                      expect.positions["error"])
        if len(expect) > 1:
            self.fail("`error` stands alone: a scenario that raises has no answer to check",
                      expect.key_positions["error"])

    def per_step(self, value: Any, where: tuple[int, int], key: str,  # noqa: ANN401
                 valid: Callable[[Any], bool], what: str) -> None:
        if not isinstance(value, _yaml.LocatedDict):
            self.fail(f"`{key}` must be a mapping of actor.action to {what}", where)
        for step, wanted in value.items():
            if not _is_step(step):
                self.fail(f"{step!r} is not a step (actor.action)", value.key_positions[step])
            if not valid(wanted):
                self.fail(f"`{key}` of {step}: expected {what}", value.positions[step])

    def strings(self, value: Any, where: tuple[int, int], key: str, *, steps: bool) -> None:  # noqa: ANN401
        what = "steps (actor.action)" if steps else "warning ids"
        if not isinstance(value, _yaml.LocatedList):
            self.fail(f"`{key}` must be a list of {what}", where)
        for entry, at in zip(value, value.positions, strict=True):
            if not (isinstance(entry, str) and (_is_step(entry) if steps else is_id(entry))):
                self.fail(f"`{key}`: {entry!r} is not one of {what}", at)


def _is_date(value: object) -> bool:
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def _is_days(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plain(value: Any) -> Any:  # noqa: ANN401 - YAML holds any value
    """A copy without the loader's positions: plain dicts and lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _is_contact(value: object) -> bool:
    return isinstance(value, dict) and all(
        k in CONTACT_FIELDS and (v is None or isinstance(v, str)) for k, v in value.items())


def _is_substrings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(s, str) and s for s in value)


#: The expect keys that map a step (actor.action) to a value: how to check the value, and it in words.
_PER_STEP: dict[str, tuple[Callable[[Any], bool], str]] = {
    "due": (lambda v: v is None or _is_days(v) or _is_date(v), "days after `on`, a date, or null"),
    "overdue": (_is_days, "the days overdue"),
    "contact": (_is_contact, f"a mapping of contact fields ({', '.join(sorted(CONTACT_FIELDS))})"),
    "text_contains": (_is_substrings, "a list of substrings"),
}


# -- running -----------------------------------------------------------------------------------------------

_routers: dict[tuple[Path, ...], Router | AnsvarError] = {}
_routers_lock = threading.Lock()


def router_for(rules: tuple[Path, ...] | None) -> Router:
    """The router over these rule directories (None: the shipped packs), loaded once per tuple of dirs.

    A `RuleError` loading them is remembered and raised again for every scenario that needs them.
    """
    shipped = (shipped_rules().resolve(),)
    if rules is None or rules == shipped:
        return default_router()
    with _routers_lock:
        if rules not in _routers:
            try:
                _routers[rules] = Router(rules)
            except AnsvarError as exc:
                _routers[rules] = exc
        found = _routers[rules]
    if isinstance(found, AnsvarError):
        raise found
    return found


def run(scenario: Scenario) -> Failure | None:
    """Route the scenario: None when the answer is as expected, else the `Failure`.

    Never raises for a wrong answer: an exception while loading the rules or routing is a failure too.
    """
    expected_error = scenario.expect.get("error")
    try:
        decision = router_for(scenario.rules).route(scenario.situation, on=scenario.on)
    except Exception as exc:  # noqa: BLE001 - any exception is the scenario's failure, reported, never a crash
        if expected_error is not None and isinstance(exc, getattr(errors, expected_error)):
            return None
        want = f"expected {expected_error}, " if expected_error else ""
        return Failure(scenario, [f"error: {want}raised {type(exc).__name__}"], exception=exc)
    if expected_error is not None:
        return Failure(scenario, [f"error: expected {expected_error}, got a decision"], decision)
    mismatches = _mismatches(scenario.expect, decision, scenario.on)
    return Failure(scenario, mismatches, decision) if mismatches else None


def _in_order(wanted: list[str], actual: list[str]) -> bool:
    rest = iter(actual)
    return all(w in rest for w in wanted)


def _mismatches(expect: Mapping[str, Any], decision: Decision, on: dt.date) -> list[str]:
    out: list[str] = []
    if "responsible" in expect and decision.responsible != expect["responsible"]:
        out.append(f"responsible: expected {expect['responsible']}, actual {decision.responsible}")
    pairs = [f"{s.actor}.{s.action}" for s in decision.steps]
    ids = [w.id for w in decision.warnings]
    out += _list_mismatches("steps", expect, pairs)
    out += _list_mismatches("warnings", expect, ids)
    out += _step_mismatches(expect, decision, on)
    if "interpretations" in expect:
        marked = [LEAD] if decision.responsible_interpretation else []
        marked += [f"{s.actor}.{s.action}" for s in decision.steps if s.interpretation]
        marked += [w.id for w in decision.warnings if w.interpretation]
        wanted = sorted(expect["interpretations"])
        if sorted(marked) != wanted:
            out.append(f"interpretations: expected {wanted}, actual {sorted(marked)}")
    out += [f"step {s.actor}.{s.action} cites no document and section" for s in decision.steps
            if not (s.source.document and s.source.section)]
    out += [f"warning {w.id} cites no document and section" for w in decision.warnings
            if not (w.source.document and w.source.section)]
    return out


def _list_mismatches(kind: str, expect: Mapping[str, Any], actual: list[str]) -> list[str]:
    out: list[str] = []
    if kind in expect and actual != expect[kind]:
        out.append(f"{kind}: expected {expect[kind]}, actual {actual}")
    include = expect.get(f"{kind}_include", [])
    missing = [x for x in include if x not in actual]
    if missing:
        out.append(f"{kind}_include: missing {missing}, actual {actual}")
    elif kind == "steps" and not _in_order(include, actual):  # warnings_include: presence only
        out.append(f"{kind}_include: expected in the order {include}, actual {actual}")
    present = [x for x in expect.get(f"{kind}_exclude", []) if x in actual]
    if present:
        out.append(f"{kind}_exclude: present {present}")
    return out


def _step_mismatches(expect: Mapping[str, Any], decision: Decision, on: dt.date) -> list[str]:
    out: list[str] = []
    steps = {f"{s.actor}.{s.action}": s for s in decision.steps}
    for key in ("due", "contact", "text_contains"):
        out += [f"{key}: expected a step {name}, actual none" for name in expect.get(key, {})
                if name not in steps]
    for name, days in expect.get("due", {}).items():
        want = days if days is None or _is_date(days) else on + dt.timedelta(days=days)
        if name in steps and steps[name].due != want:
            out.append(f"due of {name}: expected {want}, actual {steps[name].due}")
    overdue = {w.step: w.days_overdue for w in decision.warnings if w.id == OVERDUE_WARNING}
    out += [f"overdue of {name}: expected {days} days, actual {overdue.get(name)}"
            for name, days in expect.get("overdue", {}).items() if overdue.get(name) != days]
    for name, fields in expect.get("contact", {}).items():
        contact = steps[name].contact if name in steps else None
        if name in steps and contact is None:
            out.append(f"contact of {name}: expected {fields}, actual none")
        elif contact is not None:
            out += [f"contact {name}.{f}: expected {v!r}, actual {getattr(contact, f)!r}"
                    for f, v in fields.items() if getattr(contact, f) != v]
    for name, needles in expect.get("text_contains", {}).items():
        if name in steps:
            out += [f"text of {name}: lacks {n!r}; actual {steps[name].text!r}" for n in needles
                    if n not in steps[name].text]
    return out


def _describe(decision: Decision) -> list[str]:
    lines = [f"  actual responsible: {decision.responsible} ({decision.responsible_name})", "  steps:"]
    lines += [f"    {s.actor}.{s.action}" + (f"  due {s.due.isoformat()}" if s.due else "")
              for s in decision.steps] or ["    (none)"]
    lines.append(f"  warnings: {', '.join(w.id for w in decision.warnings) or '(none)'}")
    lines.append("  fired rules:")
    for t in decision.trace:
        marks = "".join([f" -> {t.responsible}" if t.responsible else "",
                         " (overridden)" if t.overridden else ""])
        held = " and ".join(t.conditions) or "always"
        lines.append(f"    {t.rule} [{t.layer}, priority {t.priority}]{marks}: {held}")
    return lines


# -- ansvar test -------------------------------------------------------------------------------------------

def main(paths: Iterable[Path | str], out: TextIO, rule_dirs: Iterable[Path | str] | None = None) -> int:
    """`ansvar test PATH...`: run every scenario found under the paths; returns the exit status.

    `rule_dirs`: the rule directories for the scenario files that name none with `rules:` (default: the
    shipped packs), as `--rules`/`--add-rules` give them. Prints each failure's report, one summary line
    per failure and `N passed, M failed`. Returns 0 when all pass, 1 when some fail, 2 for a malformed
    scenario file or when no scenario is found.
    """
    paths = list(paths)
    default = tuple(Path(d).resolve() for d in rule_dirs) if rule_dirs is not None else None
    try:
        scenarios = [scenario if scenario.rules is not None or default is None
                     else dataclasses.replace(scenario, rules=default)
                     for path in discover(paths) for scenario in load(path)]
    except ScenarioFileError as exc:
        print(f"ansvar: scenario file error: {exc}", file=out)
        return 2
    if not scenarios:
        print(f"ansvar: no scenario files in {', '.join(map(str, paths)) or '(no paths)'}", file=out)
        return 2
    failures = [failure for scenario in scenarios if (failure := run(scenario)) is not None]
    for failure in failures:
        print(f"{failure.report()}\n", file=out)
    for failure in failures:
        print(f"FAILED {failure.summary()}", file=out)
    print(f"{len(scenarios) - len(failures)} passed, {len(failures)} failed", file=out)
    return 1 if failures else 0
