"""Events as data: each event and its facts are defined once, in a YAML file, and everything derives from it.

An event file (`events/<event>.yaml` for the shipped ones, `<layer>/events/<event>.yaml` for a rule
directory's own) names the event, its Danish title, and each fact: its type (boolean, enumeration with its
values and their Danish labels, integer with bounds, date), default, whether it may be null, a Danish label
and the Danish question a caseworker is asked. `_common.yaml` holds the facts every event has. From that one
definition come the strict pydantic model of the event's situations (extra facts forbidden, strict booleans
and integers, ISO dates only), its JSON Schema, and the fact types the rule compiler checks conditions
against (`FactType`). Every problem in an event file is a `RuleError` at file:line:column.

Defaults, where a fact does not state them: a boolean is false and never null; any other fact is null
until given, and a fact with a `default` is never null unless it says `nullable: true`.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    Strict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
)
from pydantic_core import PydanticCustomError

from ansvar._yaml import SpecFile
from ansvar.errors import (
    ID_PATTERN,
    MAX_LISTED,
    RuleError,
    SituationError,
    UnknownEventError,
    describe,
    suggest,
)

#: The dates a situation (and `on`) may carry: wide enough for any case, narrow enough for date arithmetic.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2199, 12, 31)
COMMON_FILE = "_common.yaml"
EVENTS_FOLDER = "events"  # a layer's own event files, beside its packs
#: Keys of every situation that are not facts.
STRUCTURE = ("municipality", "event")

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]


# --- the file format ------------------------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class FactSpec(_Strict):
    """One fact of an event, as its file defines it."""

    type: Literal["boolean", "enum", "integer", "date"]
    label: Text = Field(description="Danish label, as a form shows it")
    question: Text = Field(description="the Danish question a caseworker is asked")
    description: Text | None = Field(default=None, description="more on what the fact means, in Danish")
    default: bool | int | str | None = None
    nullable: bool | None = Field(default=None, description=(
        "whether the fact may be null; by default a boolean never is, any other fact is unless it has a "
        "default"))
    values: dict[Id, Text] | None = Field(default=None, description="enum: each value with its Danish label")
    minimum: int | None = Field(default=None, description="integer: the smallest value")
    maximum: int | None = Field(default=None, description="integer: the largest value")
    not_before: list[Id] = Field(default_factory=list, description=(
        "date: earlier date facts of the event this one may not lie before, when both are given"))

    @property
    def may_be_null(self) -> bool:
        """Whether the fact may be null (see `nullable`)."""
        if self.nullable is not None:
            return self.nullable
        return self.type != "boolean" and self.default is None

    @property
    def default_value(self) -> bool | int | str | None:
        """The value the fact has when a situation does not give it."""
        if self.default is None and self.type == "boolean" and not self.may_be_null:
            return False
        return self.default


class EventSpec(_Strict):
    """`<event>.yaml`: one event of a guide and the facts a situation of it may carry."""

    event: Id
    title: Text = Field(description="the event's Danish title")
    description: Text | None = None
    facts: dict[Id, FactSpec] = Field(default_factory=dict)


class CommonSpec(_Strict):
    """`_common.yaml`: the facts every event has."""

    facts: dict[Id, FactSpec]


# --- what the compiler sees -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FactType:
    """What the compiler knows of one fact: its kind, allowed values and whether it may be null."""

    name: str
    kind: Literal["bool", "int", "enum", "date"]
    nullable: bool
    values: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None

    def describe(self) -> str:
        """The type in words, for error messages."""
        base = {"bool": "a boolean", "int": "an integer", "date": "a date"}.get(self.kind)
        if base is None:
            base = "one of " + ", ".join(repr(v) for v in self.values)
        return base + (" or null" if self.nullable else "")


_KINDS: dict[str, Literal["bool", "int", "enum", "date"]] = {
    "boolean": "bool", "integer": "int", "enum": "enum", "date": "date"}


def _fact_type(name: str, spec: FactSpec) -> FactType:
    return FactType(name, _KINDS[spec.type], spec.may_be_null, tuple(spec.values or ()), spec.minimum,
                    spec.maximum)


# --- situations -----------------------------------------------------------------------------------------

class SituationBase(BaseModel):
    """What every situation has: where and which event; each event's model adds its facts."""

    # defer_build: each model builds its validator on first use, so loading the events stays cheap.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True, defer_build=True)

    municipality: Annotated[str, Field(pattern=ID_PATTERN, description="e.g. aalborg")]
    event: str  # narrowed to one Literal by each event's model

    def __repr__(self) -> str:
        # A situation is health data: its repr names the event and nothing of the citizen.
        return f"{type(self).__name__}(municipality={self.municipality!r}, event={self.event!r}, ...)"

    __str__ = __repr__


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_date(value: object) -> object:
    """A date as a situation may give it: a `datetime.date` (no datetime) or ISO `YYYY-MM-DD` text.

    Numbers, datetimes and text with a time are refused: `0` is not 1 January 1970.
    """
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("date_parsing", "not a date") from None
    raise PydanticCustomError("date_type", "not a date")


def _annotation(spec: FactSpec) -> Any:  # noqa: ANN401 - a typing construct
    base: Any
    if spec.type == "boolean":
        base = Annotated[bool, Strict()]
    elif spec.type == "integer":
        base = Annotated[int, Strict(), Field(ge=spec.minimum, le=spec.maximum)]
    elif spec.type == "enum":
        base = Literal[tuple(spec.values or ())]
    else:
        base = Annotated[dt.date, Field(ge=EARLIEST_DATE, le=LATEST_DATE)]
    annotation = base | None if spec.may_be_null else base
    if spec.type == "date":
        return Annotated[annotation, BeforeValidator(iso_date)]
    return annotation


def _class_name(event: str) -> str:
    """`udtrapning_ordineret_opioid` -> `UdtrapningOrdineretOpioid`."""
    return "".join(part.capitalize() for part in event.split("_"))


def _order_validator(rules: Mapping[str, tuple[str, ...]]) -> Any:  # noqa: ANN401 - a pydantic validator
    def in_order(value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        for name in rules[info.field_name or ""]:
            before = info.data.get(name)
            if value is not None and before is not None and value < before:
                msg = f"lies before {name}"
                raise PydanticCustomError("date_order", msg)
        return value

    return field_validator(*rules)(in_order)


def _model(spec: EventSpec, facts: Mapping[str, FactSpec]) -> type[SituationBase]:
    fields: dict[str, Any] = {"event": (Literal[spec.event], ...)}
    for name, fact in facts.items():
        extra: dict[str, JsonValue] | None = {"x-labels": dict(fact.values)} if fact.values else None
        fields[name] = (_annotation(fact), Field(
            default=fact.default_value, title=fact.label, description=fact.question,
            json_schema_extra=extra))
    order = {name: tuple(fact.not_before) for name, fact in facts.items() if fact.not_before}
    validators = {"_dates_in_order": _order_validator(order)} if order else None
    model: type[SituationBase] = create_model(
        _class_name(spec.event), __base__=SituationBase, __doc__=spec.description or spec.title,
        __module__="ansvar.model.situation", __validators__=validators, **fields)
    return model


# --- definitions ----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, eq=False)
class EventDefinition:
    """One event: its file, title and facts (common ones first), and the model and schema built from them."""

    id: str
    title: str
    facts: Mapping[str, FactSpec]
    path: Path | None
    raw: bytes = field(repr=False)  # the file's bytes, for the content hash of the packs that use it
    model: type[SituationBase] = field(repr=False)
    fact_types: Mapping[str, FactType] = field(repr=False)

    def parse(self, data: Mapping[str, Any], *, where: str | None = None) -> SituationBase:
        """Validate a situation of this event; `SituationError` naming each field (never its value)."""
        try:
            return self.model.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors(include_input=False, include_url=False)
        # Raised outside the `except`: pydantic's error (whose `.errors()` holds the input) is not even the
        # new error's `__context__`, so no traceback or debugger can show a citizen's facts through it.
        fields = list(self.model.model_fields)
        for number, error in enumerate(errors):
            # A misspelling is looked for among the problems a message lists, not among 100,000 unknown keys.
            near = fields if number < MAX_LISTED else []
            error["msg"] = describe(error, near, f"unknown fact of event {self.id!r}")
        raise SituationError(errors, where=where)

    def schema(self) -> dict[str, Any]:
        """JSON Schema of a situation of this event: each fact with its Danish label and question."""
        return self.model.model_json_schema()


class EventDefinitions(Mapping[str, EventDefinition]):
    """The events a router knows: the shipped ones and those its rule directories bring, by id."""

    def __init__(self, events: Mapping[str, EventDefinition], common: Mapping[str, FactSpec],
                 common_file: tuple[Path, bytes] | None = None) -> None:
        self._events = dict(events)
        self.common = common
        self.common_file = common_file

    def files(self) -> dict[Path, bytes]:
        """Every event file these definitions were read from (the common facts' included), with its bytes."""
        found = dict([self.common_file]) if self.common_file else {}
        found.update((d.path, d.raw) for d in self._events.values() if d.path is not None)
        return found

    def __getitem__(self, event: str) -> EventDefinition:
        try:
            return self._events[event]
        except KeyError:
            raise UnknownEventError("event", event, self._events) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def __contains__(self, event: object) -> bool:
        return event in self._events

    def get(self, event: str, default: EventDefinition | None = None) -> EventDefinition | None:  # type: ignore[override]
        """The definition of `event`, or `default` (indexing an unknown event is an `UnknownEventError`)."""
        return self._events.get(event, default)

    def __repr__(self) -> str:
        return f"EventDefinitions({', '.join(sorted(self._events))})"

    def parse(self, data: SituationBase | Mapping[str, Any], *, where: str | None = None) -> SituationBase:
        """Validate a dict (or pass through a model) into the situation model of its event."""
        if isinstance(data, SituationBase):
            return data
        if not isinstance(data, Mapping):
            got = "nothing" if data is None else type(data).__name__
            problem = f"expected a mapping of facts (municipality, event, ...), got {got}"
            raise SituationError([{"loc": (), "msg": problem, "type": "mapping_type"}], where=where)
        event = data.get("event")
        if not isinstance(event, str):
            problem = "missing" if event is None else "must be a string"
            problem = f"{problem}; known events: {', '.join(sorted(self._events))}"
            raise SituationError([{"loc": ("event",), "msg": problem, "type": "event"}], where=where)
        if event not in self._events:
            raise UnknownEventError("event", event, self._events, where=where)
        return self._events[event].parse(data, where=where)

    def with_files(self, paths: Iterable[Path], *, reserved: Iterable[str] = ()) -> EventDefinitions:
        """These events and those of `paths` (event files): a second definition of an event is a RuleError.

        `reserved`: names no fact may have (the engine's own keys).
        """
        events = dict(self._events)
        for path in paths:
            definition = _load_event(SpecFile(path), self.common, events, frozenset(reserved))
            events[definition.id] = definition
        return EventDefinitions(events, self.common, self.common_file)


def _load_event(file: SpecFile, common: Mapping[str, FactSpec], known: Mapping[str, EventDefinition],
                reserved: frozenset[str]) -> EventDefinition:
    spec = file.validate(EventSpec)
    if spec.event != file.path.stem:
        raise file.error(f"event {spec.event!r} must live in {spec.event}.yaml", ("event",))
    if spec.event in known:
        where = known[spec.event].path
        raise file.error(f"event {spec.event!r} is already defined" + (f" in {where}" if where else ""),
                         ("event",))
    for name in spec.facts:
        if name in common or name in STRUCTURE:
            raise file.error(f"fact {name!r} is one every situation has; an event cannot define it again",
                             ("facts", name), key=True)
        if name in reserved:
            raise file.error(f"fact {name!r} is a name the rule engine reserves; rename it", ("facts", name),
                             key=True)
    facts = {**common, **spec.facts}
    _check_facts(file, spec.facts, facts)
    return EventDefinition(spec.event, spec.title, facts, file.path, file.raw, _model(spec, facts),
                           {name: _fact_type(name, fact) for name, fact in facts.items()})


def _check_facts(file: SpecFile, own: Mapping[str, FactSpec], facts: Mapping[str, FactSpec]) -> None:
    """What the schema cannot say: defaults of the fact's type, bounds in order, dates after earlier ones."""
    names = list(facts)
    for name, fact in own.items():
        at = ("facts", name)
        kind_only = {"values": "enum", "minimum": "integer", "maximum": "integer", "not_before": "date"}
        for key, kind in kind_only.items():
            if getattr(fact, key) not in (None, []) and fact.type != kind:
                raise file.error(f"fact {name!r}: `{key}` is only for {kind} facts", (*at, key), key=True)
        if fact.type == "enum" and not fact.values:
            raise file.error(f"fact {name!r}: an enum fact lists its `values`", at, key=True)
        if fact.minimum is not None and fact.maximum is not None and fact.minimum > fact.maximum:
            raise file.error(f"fact {name!r}: minimum lies above maximum", (*at, "minimum"))
        if fact.default is not None and not _fits(fact, fact.default):
            raise file.error(f"fact {name!r}: the default is not a value of this {fact.type} fact",
                             (*at, "default"))
        if fact.default is None and fact.nullable is False and fact.type != "boolean":
            raise file.error(f"fact {name!r}: a fact that is never null needs a default", (*at, "nullable"))
        earlier = names[:names.index(name)]
        for number, other in enumerate(fact.not_before):
            if other not in earlier or facts[other].type != "date":
                raise file.error(f"fact {name!r}: not_before names {other!r}, which is no date fact defined "
                                 f"before it{suggest(other, earlier)}", (*at, "not_before", number))


def _fits(fact: FactSpec, value: object) -> bool:
    if fact.type == "boolean":
        return isinstance(value, bool)
    if fact.type == "integer":
        low = fact.minimum if fact.minimum is not None else value
        high = fact.maximum if fact.maximum is not None else value
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high  # type: ignore[operator]
    if fact.type == "enum":
        return value in (fact.values or {})
    return False  # a date fact has no default: a deadline is never counted from a date nobody gave


def shipped_events() -> Path:
    """The event files that ship with ansvar (inside the wheel, or `events/` of a source checkout)."""
    from importlib import resources  # noqa: PLC0415 - only to find the files

    packaged = Path(str(resources.files("ansvar") / "_events"))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / EVENTS_FOLDER


def load_events(folder: Path) -> EventDefinitions:
    """The common facts and every event file of a folder of event files."""
    common_file = SpecFile(folder / COMMON_FILE)
    common = common_file.validate(CommonSpec).facts
    _check_facts(common_file, common, common)
    files = sorted(p for p in folder.glob("*.yaml") if p.name != COMMON_FILE)
    return EventDefinitions({}, common, (common_file.path, common_file.raw)).with_files(files)


@functools.cache
def shipped_definitions() -> EventDefinitions:
    """The shipped events, loaded once per process."""
    try:
        return load_events(shipped_events())
    except RuleError as exc:  # a broken installation, not a caller's mistake: say where
        exc.add_note("the event files shipped with ansvar do not load; reinstall ansvar")
        raise
