"""Typed citizen situations: one pydantic model per event, discriminated by `event`.

Every model shares the common facts of the contract and forbids unknown fields, so a misspelt fact is an
error and never silently false. Booleans and integers are strict (`"yes"` or `1` is not a boolean).
The fact types read off these models are what the rule compiler checks conditions against.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from ansvar.errors import MAX_LISTED, SituationError, UnknownEventError, describe

#: The dates a situation (and `on`) may carry: wide enough for any case, narrow enough for date arithmetic.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2199, 12, 31)

Bool = Annotated[bool, Strict(), Field(default=False)]
Date = Annotated[dt.date | None, Field(default=None, ge=EARLIEST_DATE, le=LATEST_DATE)]
Count = Annotated[int | None, Strict(), Field(default=None, ge=0, le=1000)]
Substance = Literal["alkohol", "stoffer"]
Residence = Literal["eget_hjem", "forsorgshjem", "opholdssted"]
PrescriptionChannel = Literal["fremmoede", "telefon", "korrespondance"]
TreatmentForm = Literal["ambulant", "doegn", "efterbehandling", "substitution"]
Enrolment = Literal["substitution", "ambulant_stofbehandling"]
PresentsAt = Literal["egen_laege", "rusmiddelbehandling"]

#: Danish display labels of every enumerated fact value (events and actors take theirs from the packs).
VALUE_LABELS: dict[str, str] = {
    "alkohol": "Alkohol",
    "stoffer": "Stoffer",
    "eget_hjem": "Eget hjem",
    "forsorgshjem": "Forsorgshjem",
    "opholdssted": "Opholdssted",
    "fremmoede": "Fremmøde hos lægen",
    "telefon": "Telefon",
    "korrespondance": "Korrespondance",
    "ambulant": "Ambulant behandling",
    "doegn": "Døgnbehandling",
    "efterbehandling": "Efterbehandling",
    "substitution": "Substitutionsbehandling",
    "ambulant_stofbehandling": "Ambulant stofbehandling",
    "egen_laege": "Egen læge",
    "rusmiddelbehandling": "Rusmiddelafsnittet",
}


class SituationBase(BaseModel):
    """The facts every situation has: where, which event, and the citizen's consents."""

    # defer_build: each model builds its validator on first use, so importing ansvar stays cheap.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True, defer_build=True)

    municipality: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="e.g. aalborg")]
    event: str  # narrowed to one Literal by each event's model
    consent_medcom: Bool = Field(description="Citizen consents to MedCom messages to the GP")
    anonymous: Bool = Field(description="Anonymous course")
    minor_children: Bool = Field(description="Citizen has minor children")

    def __repr__(self) -> str:
        # A situation is health data: its repr names the event and nothing of the citizen.
        return f"{type(self).__name__}(municipality={self.municipality!r}, event={self.event!r}, ...)"

    __str__ = __repr__


class KoerekortAlkohol(SituationBase):
    """Monthly sobriety attestations to regain a driving licence after drunk driving."""

    event: Literal["koerekort_alkohol"]
    wants_treatment: Bool


class KoerekortStoffer(SituationBase):
    """Urine tests to regain a driving licence after driving under the influence of drugs."""

    event: Literal["koerekort_stoffer"]


class Afrusning(SituationBase):
    """The citizen wants to detox, including a prescription of e.g. klopoxid."""

    event: Literal["afrusning"]
    withdrawal_symptoms: Bool
    seizures: Bool
    delirium_tremens: Bool
    complicated_course_suspected: Bool
    wants_medical_help: Bool = Field(description="false: the citizen detoxes alone")
    residence: Residence = "eget_hjem"
    prescription_channel: PrescriptionChannel = "fremmoede"
    home_nursing_requested: Bool
    fixed_in_fmk: Bool
    administrations_per_day: Count
    wants_treatment_after: Bool


class AntabusCampral(SituationBase):
    """The citizen needs antabus, campral or similar alongside alcohol treatment."""

    event: Literal["antabus_campral"]
    advised_by_unit: Bool


class OpioidSubstitution(SituationBase):
    """The citizen needs substitution treatment for illegal opioid use."""

    event: Literal["opioid_substitution"]


class UdtrapningOrdineretOpioid(SituationBase):
    """The citizen wants to taper a prescribed opioid."""

    event: Literal["udtrapning_ordineret_opioid"]
    wants_addiction_treatment: Bool


class UdtrapningIllegalBenzodiazepin(SituationBase):
    """The citizen wants to taper illegal benzodiazepines."""

    event: Literal["udtrapning_illegal_benzodiazepin"]
    enrolled_in: Enrolment | None = None


class UdtrapningOrdineretBenzodiazepin(SituationBase):
    """The citizen wants to taper prescribed benzodiazepines."""

    event: Literal["udtrapning_ordineret_benzodiazepin"]
    wants_addiction_treatment: Bool


class AndenMedicinSubstitution(SituationBase):
    """Other medication during substitution treatment."""

    event: Literal["anden_medicin_substitution"]


class Behandlingstilbud(SituationBase):
    """The unit's treatment offers: content and expected duration."""

    event: Literal["behandlingstilbud"]
    substance: Substance | None = None
    form: TreatmentForm | None = None


class AkutteOpioidabstinenser(SituationBase):
    """The citizen presents with acute opioid withdrawal."""

    event: Literal["akutte_opioidabstinenser"]
    presents_at: PresentsAt | None = None
    laegekonsulent_present: Bool
    acute_assessment_indicated: Bool


class AfklarendeSamtale(SituationBase):
    """Rebild: the clarifying conversation."""

    event: Literal["afklarende_samtale"]
    substance: Substance | None = None
    held_on: Date = Field(description="the day of the clarifying conversation")
    anonymous_conversations_held: Count


class Udredning(SituationBase):
    """Rebild: the assessment."""

    event: Literal["udredning"]
    substance: Substance | None = None
    substitution: Bool
    clarifying_conversation_on: Date
    returning_client: Bool


class Behandlingsforloeb(SituationBase):
    """Rebild: the treatment course."""

    event: Literal["behandlingsforloeb"]
    substance: Substance | None = None
    clarifying_conversation_on: Date
    treatment_started_on: Date
    grant_expires_on: Date
    treatment_ended_on: Date
    wants_residential: Bool
    follow_up_1_month_on: Date = Field(description="the day the 1-month phone follow-up was done")
    follow_up_6_months_on: Date = Field(description="the day the 6-month phone follow-up was done")

    @field_validator("treatment_started_on", "treatment_ended_on", "follow_up_1_month_on",
                     "follow_up_6_months_on")
    @classmethod
    def _dates_in_order(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        # The course runs clarifying conversation -> treatment start -> treatment end.
        earlier = {"treatment_started_on": ("clarifying_conversation_on",),
                   "treatment_ended_on": ("clarifying_conversation_on", "treatment_started_on"),
                   "follow_up_1_month_on": ("treatment_ended_on",),
                   "follow_up_6_months_on": ("treatment_ended_on", "follow_up_1_month_on")}
        for name in earlier[info.field_name or ""]:
            before = info.data.get(name)
            if value is not None and before is not None and value < before:
                msg = f"lies before {name}"
                raise PydanticCustomError("date_order", msg)
        return value


class Paaroerendesamtale(SituationBase):
    """Rebild: a relatives' conversation."""

    event: Literal["paaroerendesamtale"]
    conversations_held: Count


_MODELS: tuple[type[SituationBase], ...] = (
    KoerekortAlkohol, KoerekortStoffer, Afrusning, AntabusCampral, OpioidSubstitution,
    UdtrapningOrdineretOpioid, UdtrapningIllegalBenzodiazepin, UdtrapningOrdineretBenzodiazepin,
    AndenMedicinSubstitution, Behandlingstilbud, AkutteOpioidabstinenser,
    AfklarendeSamtale, Udredning, Behandlingsforloeb, Paaroerendesamtale,
)

#: The model of each event, by event id.
MODELS: dict[str, type[SituationBase]] = {
    typing.get_args(m.model_fields["event"].annotation)[0]: m for m in _MODELS
}

Situation = Annotated[
    Union[*_MODELS],  # type: ignore[valid-type]
    Field(discriminator="event"),
]
COMMON_FACTS = ("consent_medcom", "anonymous", "minor_children")


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


#: Keys durable_rules reads as its own (session id, fact id, state marker): never fact names.
RESERVED_NAMES = frozenset({"sid", "id", "$s"})


def _fact_type(name: str, annotation: Any, metadata: list[Any]) -> FactType:  # noqa: ANN401
    if name in RESERVED_NAMES:
        msg = f"fact {name!r} is a name durable_rules reserves; rename it"
        raise TypeError(msg)
    args = typing.get_args(annotation)
    nullable = isinstance(annotation, types.UnionType | type(Union[int, None])) and type(None) in args  # noqa: UP007
    inner = next((a for a in args if a is not type(None)), annotation) if nullable else annotation
    if inner is bool:
        return FactType(name, "bool", nullable)
    if inner is int:
        lo = next((m.ge for m in metadata if getattr(m, "ge", None) is not None), None)
        hi = next((m.le for m in metadata if getattr(m, "le", None) is not None), None)
        return FactType(name, "int", nullable, minimum=lo, maximum=hi)
    if inner is dt.date:
        return FactType(name, "date", nullable)
    if typing.get_origin(inner) is Literal:
        return FactType(name, "enum", nullable, values=tuple(typing.get_args(inner)))
    msg = f"fact {name!r} has a type the rule engine cannot compare: {annotation!r}"
    raise TypeError(msg)


def fact_types(event: str) -> dict[str, FactType]:
    """The facts a rule for `event` may read, with their types (common facts included)."""
    model = event_model(event)
    return {
        name: _fact_type(name, field.annotation, field.metadata)
        for name, field in model.model_fields.items()
        if name not in {"municipality", "event"}
    }


def event_model(event: str) -> type[SituationBase]:
    """The situation model of an event; `UnknownEventError` for an event the contract does not define."""
    try:
        return MODELS[event]
    except KeyError:
        raise UnknownEventError("event", event, MODELS) from None


def parse_situation(data: SituationBase | Mapping[str, Any], *, where: str | None = None) -> SituationBase:
    """Validate a dict (or pass through a model) into the situation model of its event.

    >>> parse_situation({"municipality": "aalborg", "event": "antabus_campral"}).advised_by_unit
    False
    """
    if isinstance(data, SituationBase):
        return data
    if not isinstance(data, Mapping):
        got = "nothing" if data is None else type(data).__name__
        raise SituationError([{"loc": (), "msg": f"expected a mapping of facts (municipality, event, ...), "
                                                 f"got {got}", "type": "mapping_type"}], where=where)
    event = data.get("event")
    if not isinstance(event, str):
        problem = "missing" if event is None else "must be a string"
        known = ", ".join(sorted(MODELS))
        problem = f"{problem}; known events: {known}"
        raise SituationError([{"loc": ("event",), "msg": problem, "type": "event"}], where=where)
    if event not in MODELS:
        raise UnknownEventError("event", event, MODELS, where=where)
    model = MODELS[event]
    try:
        return model.model_validate(data)  # the event picks the model: one schema built, not 15
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        fields = list(model.model_fields)
        for number, error in enumerate(errors):  # drop the union tag pydantic puts first: the event is known
            if error["loc"][:1] == (event,):
                error["loc"] = error["loc"][1:]
            # A misspelling is looked for among the problems a message lists, not among 100,000 unknown keys.
            near = fields if number < MAX_LISTED else []
            error["msg"] = describe(error, near, f"unknown fact of event {event!r}")
        raise SituationError(errors, where=where) from None


def situation_schema(event: str) -> dict[str, Any]:
    """JSON Schema of the facts an event reads.

    >>> situation_schema("afrusning")["properties"]["residence"]["enum"]
    ['eget_hjem', 'forsorgshjem', 'opholdssted']
    """
    return event_model(event).model_json_schema()
