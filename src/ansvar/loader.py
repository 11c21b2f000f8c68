"""Finds rule packs on disk, validates them, and compiles each into an engine ruleset.

A rule directory holds one folder per municipality (or is itself one): `actors.yaml` plus one
`<event>.yaml` per event. Any problem raises `RuleError` with the file, line and column.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ansvar import _yaml
from ansvar.compiler import CompiledRule, ConditionError, parse_condition, to_ruleset
from ansvar.engine import Ruleset
from ansvar.errors import RuleError
from ansvar.schema import ACTORS, ActorsFile, RuleFile, RuleSpec
from ansvar.situation import MODELS, FactType, fact_types

ACTORS_FILE = "actors.yaml"
_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Municipality:
    """A municipality's actors, from its `actors.yaml`."""

    id: str
    path: Path
    spec: ActorsFile
    digest: bytes


@dataclass(slots=True)
class Pack:
    """One event's rules for one municipality, compiled and loaded into the engine."""

    path: Path
    spec: RuleFile
    municipality: Municipality
    facts: Mapping[str, FactType]
    compiled: dict[str, CompiledRule]
    rules: dict[str, RuleSpec]
    content_hash: str
    ruleset: Ruleset = field(repr=False)

    @property
    def event(self) -> str:
        """The event id."""
        return self.spec.pack.event


class _File:
    """One YAML file being loaded: its text, its located data, and errors pointing into it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.raw = path.read_bytes()
        except OSError as exc:
            raise RuleError(f"cannot read: {exc.strerror}", path) from None
        try:
            self.data: Any = _yaml.load(self.raw)
        except _yaml.YamlProblem as exc:
            raise RuleError(exc.message, path, exc.line, exc.column) from None

    def error(self, message: str, loc: Sequence[Any] = (), *, key: bool = False) -> RuleError:
        line, column = _yaml.position(self.data, loc, key=key) or (None, None)
        return RuleError(message, self.path, line, column)

    def at(self, message: str, position: tuple[int, int] | None) -> RuleError:
        line, column = position or (None, None)
        return RuleError(message, self.path, line, column)

    def validate(self, model: type[_M]) -> _M:
        if not isinstance(self.data, Mapping):
            raise self.error("the file must hold a mapping at its top")
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            first = errors[0]
            loc = tuple(first["loc"])
            shown = ".".join(str(p) for p in loc) or "(top)"
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise self.error(f"{shown}: {first['msg']}{more}", loc,
                             key=first["type"] == "extra_forbidden") from None


def find_municipality_dirs(rule_dirs: Iterable[Path]) -> list[Path]:
    """Every municipality folder under the given rule directories, in order."""
    found: list[Path] = []
    for base in rule_dirs:
        if not base.is_dir():
            raise RuleError("not a directory of rule packs", base)
        if (base / ACTORS_FILE).is_file():
            found.append(base)
        else:
            found.extend(sorted(d for d in base.iterdir() if d.is_dir() and (d / ACTORS_FILE).is_file()))
    return found


def load_packs(rule_dirs: Iterable[Path]) -> dict[tuple[str, str], Pack]:
    """Load every pack under `rule_dirs`, keyed by (municipality, event)."""
    packs: dict[tuple[str, str], Pack] = {}
    for folder in find_municipality_dirs(rule_dirs):
        municipality = load_municipality(folder)
        for path in sorted(folder.glob("*.yaml")):
            if path.name == ACTORS_FILE:
                continue
            pack = load_pack(path, municipality)
            key = (municipality.id, pack.event)
            if key in packs:
                raise RuleError(f"event {pack.event!r} of {municipality.id!r} is also defined in "
                                f"{packs[key].path}", path, 1, 1)
            packs[key] = pack
    return packs


def load_municipality(folder: Path) -> Municipality:
    """Load and check a municipality's `actors.yaml`."""
    file = _File(folder / ACTORS_FILE)
    spec = file.validate(ActorsFile)
    if spec.municipality != folder.name:
        raise file.error(f"municipality {spec.municipality!r} does not match its folder {folder.name!r}",
                         ("municipality",))
    for actor in spec.actors:
        if actor not in ACTORS:
            raise file.error(f"unknown actor {actor!r}{_suggest(actor, ACTORS)}", ("actors", actor))
    return Municipality(spec.municipality, folder, spec, file.raw)


def load_pack(path: Path, municipality: Municipality) -> Pack:
    """Load, check and compile one event's rule file."""
    file = _File(path)
    spec = file.validate(RuleFile)
    meta = spec.pack
    if meta.municipality != municipality.id:
        raise file.error(f"pack municipality {meta.municipality!r} does not match its folder "
                         f"{municipality.id!r}", ("pack", "municipality"))
    if meta.event not in MODELS:
        raise file.error(f"unknown event {meta.event!r}{_suggest(meta.event, MODELS)}; known: "
                         f"{', '.join(sorted(MODELS))}", ("pack", "event"))
    if path.stem != meta.event:
        raise file.error(f"event {meta.event!r} must live in {meta.event}.yaml", ("pack", "event"))
    if meta.review_by is not None and meta.review_by < meta.valid_from:
        raise file.error("review_by lies before valid_from", ("pack", "review_by"))
    facts = fact_types(meta.event)
    compiled: dict[str, CompiledRule] = {}
    rules: dict[str, RuleSpec] = {}
    texts = _Texts(file)
    for index, rule in enumerate(spec.rules):
        loc: tuple[Any, ...] = ("rules", index)
        if rule.id in rules:
            raise file.error(f"duplicate rule id {rule.id!r}", (*loc, "id"), key=True)
        _check_actors(file, municipality, rule, loc)
        texts.check(rule, loc)
        when = file.data["rules"][index].get("when")
        try:
            alternatives = parse_condition(when, facts)
        except ConditionError as exc:
            raise file.at(f"rule {rule.id!r}: {exc.message}",
                          exc.position or _yaml.position(file.data, (*loc, "when"))) from None
        compiled[rule.id] = CompiledRule(rule.id, alternatives)
        rules[rule.id] = rule
    definition = to_ruleset(list(compiled.values()))
    name = f"ansvar:{municipality.id}:{meta.event}:{hashlib.sha256(file.raw).hexdigest()[:12]}"
    try:
        ruleset = Ruleset(name, definition)
    except ValueError as exc:
        raise file.error(f"the rules exceed what durable_rules evaluates safely: {exc}", ("rules",)) from None
    digest = hashlib.sha256(municipality.digest + b"\0" + file.raw).hexdigest()
    return Pack(path, spec, municipality, facts, compiled, rules, digest, ruleset)


class _Texts:
    """One Danish text per (actor, action) and per warning id across a pack: same id, same meaning."""

    def __init__(self, file: _File) -> None:
        self.file = file
        self.actions: dict[tuple[str, str], str] = {}
        self.warnings: dict[str, str] = {}

    def check(self, rule: RuleSpec, loc: tuple[Any, ...]) -> None:
        for number, step in enumerate(rule.steps):
            if self.actions.setdefault((step.actor, step.action), step.text) != step.text:
                message = f"action {step.action!r} of {step.actor!r} is given two different texts"
                raise self.file.error(message, (*loc, "steps", number, "text"))
        for number, warning in enumerate(rule.warnings):
            if self.warnings.setdefault(warning.id, warning.text) != warning.text:
                raise self.file.error(f"warning {warning.id!r} is given two different texts",
                                      (*loc, "warnings", number, "text"))


def _check_actors(file: _File, municipality: Municipality, rule: RuleSpec, loc: tuple[Any, ...]) -> None:
    named: list[tuple[str, tuple[Any, ...]]] = []
    if rule.responsible is not None:
        named.append((rule.responsible, (*loc, "responsible")))
    for number, step in enumerate(rule.steps):
        named.append((step.actor, (*loc, "steps", number, "actor")))
        if step.contact is not None:
            named.append((step.contact, (*loc, "steps", number, "contact")))
    known = municipality.spec.actors
    for actor, where in named:
        if actor not in known:
            hint = _suggest(actor, known) or (
                f" (a contract actor, but {municipality.id}/actors.yaml does not name it)"
                if actor in ACTORS else "")
            raise file.error(f"unknown actor {actor!r}{hint}", where)
        if where[-1] == "contact" and known[actor].contact is None:
            raise file.error(f"actor {actor!r} has no contact details in actors.yaml", where)


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
