"""Pydantic models of the two kinds of rule file; every model forbids unknown keys.

Rules come in layers: national law, a region's health agreement, a municipality's guide. Each layer is a
folder: `<layer>/layer.yaml` names the layer, the layer it inherits from, its actors (Danish display
name, contact), and what its packs share (one text per action, rule bodies taken with `use:`);
`<layer>/<event>.yaml` holds that layer's pack for one event. A municipality routes an event
with the rules of every layer of its chain, top down; a lower layer replaces an inherited rule only by
saying so (`overrides:`) and drops one only by naming it (`omit:`). The format is described in
docs/rule-format.md; conditions (`when`) are checked and compiled by `ansvar.packs.compiler`, which needs
their positions, so here they stay plain YAML data.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

from ansvar.errors import ID_PATTERN

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
#: `actor.action`: the key of a layer's shared text for one action.
ActionKey = Annotated[str, StringConstraints(
    pattern=rf"{ID_PATTERN.removesuffix('$')}\.{ID_PATTERN.removeprefix('^')}")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]

#: Every actor of the contract; a pack may give each a display name and contact, and may use no other.
ACTORS: tuple[str, ...] = (
    "borger", "egen_laege", "vagtlaege", "rusmiddelbehandling", "visitation", "substitutionsbehandling",
    "laegekonsulent", "region_akutmodtagelse", "hjemmesygepleje", "ferle", "opholdssted_personale", "cfh",
    "myndighed", "behandlingsmoede", "samtaleholder", "udreder", "behandler", "paaroerende_behandler",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ContactSpec(_Strict):
    """How to reach an actor; every part optional, at least one given."""

    phone: Text | None = None
    address: Text | None = None
    online: Text | None = Field(default=None, description="where to book or write online")
    note: Text | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> ContactSpec:
        if not any((self.phone, self.address, self.online, self.note)):
            msg = "a contact needs at least one of phone, address, online, note"
            raise ValueError(msg)
        return self


class ActorSpec(_Strict):
    """An actor as a municipality names it."""

    name: Text
    contact: ContactSpec | None = None


LayerKind = Literal["national", "region", "municipality"]
_KIND_ORDER: dict[str, int] = {"national": 0, "region": 1, "municipality": 2}


class LayerFile(_Strict):
    """`layer.yaml`: a layer of rules (national law, a region, a municipality) and its actors."""

    layer: Id
    kind: LayerKind
    name: Text
    inherits: Id | None = Field(default=None, description="the layer above, e.g. a municipality's region")
    notice: Text | None = Field(default=None, description=(
        "what the layer's guide says of its own standing, quoted verbatim (e.g. that it is advisory, not "
        "binding); every Decision of the layer and of the layers below it shows it"))
    actors: dict[Id, ActorSpec] = Field(default_factory=dict, description=(
        "display names and contacts; a lower layer's entry replaces the name and, when given, the contact"))
    texts: dict[ActionKey, Text] = Field(default_factory=dict, description=(
        "one text per action, keyed `actor.action`: a step of this layer, or of a layer below, that leaves "
        "out `text:` takes it, and one that gives another text is refused; the nearest layer's entry wins"))
    rules: dict[Id, dict[str, Any]] = Field(default_factory=dict, description=(
        "shared rule bodies (see SharedRule), which a rule of this layer's packs takes with `use: <id>`; "
        "each is checked as a SharedRule once the texts of the layers above are known"))

    @staticmethod
    def may_inherit(kind: str, parent_kind: str) -> bool:
        """Whether a layer of `kind` may inherit from one of `parent_kind` (law above region above town)."""
        return _KIND_ORDER[parent_kind] < _KIND_ORDER[kind]


class SourceRef(_Strict):
    """The guide passage a conclusion rests on. `document` defaults to the pack's document.

    `document` names the document that binds the municipality (a law, the regional agreement, its guide).
    Where ansvar quotes that document through another one (a guide that cites the agreement), `quoted_in`
    names the one quoted; the passage is then that document's words.
    """

    document: Text | None = None
    section: Text
    passage: Text | None = Field(default=None, description="the guide's own words, quoted")
    quoted_in: Text | None = Field(default=None, description=(
        "the document the passage is quoted from, when it is not `document` itself (e.g. a municipal guide "
        "citing the regional agreement)"))
    in_event: bool = Field(default=True, description=(
        "the section lies under the event's own section (cited as '<event section> — <section>'); "
        "false for the guide's introduction, its offers, or another document"))


#: What a conclusion rests on: the guide's own words (`vejledning`), or the pack's reading where the guide is
#: silent or unclear (`fortolkning`), which then says why (`reason`).
Basis = Literal["vejledning", "fortolkning"]
GUIDE: Basis = "vejledning"
INTERPRETATION: Basis = "fortolkning"


def _check_basis(basis: str | None, reason: str | None, what: str) -> None:
    if basis == INTERPRETATION and reason is None:
        msg = f"{what} marked `basis: {INTERPRETATION}` needs `reason:`, saying why the pack reads it so"
        raise ValueError(msg)
    if basis != INTERPRETATION and reason is not None:
        msg = f"`reason:` belongs to an interpretation: {what} with `reason:` needs `basis: {INTERPRETATION}`"
        raise ValueError(msg)


class _Based(_Strict):
    """A conclusion's basis: the guide's words, or an interpretation with its reason."""

    basis: Basis | None = Field(default=None, description=(
        "`fortolkning`: not the guide's words but the pack's reading, with `reason:`; `vejledning`: the "
        "guide's words (a step or warning of an interpreting rule says so); absent: the rule's basis"))
    reason: Text | None = Field(default=None, description="why the pack reads the guide so (interpretations)")

    @model_validator(mode="after")
    def _reasoned(self) -> Self:
        _check_basis(self.basis, self.reason, "a conclusion")
        return self


def _one_or_more(value: object) -> object:
    return (value,) if isinstance(value, str) else value


#: The pseudo-fact a deadline may count from: the routing date.
ROUTING_DATE = "on"


class Due(_Strict):
    """A deadline: calendar months, then days, after the first of `from` that is set (default: `on`).

    `from` names date facts of the event, or `on` (the routing date); the first that is not null counts.
    Months are calendar months (31 January + 1 month is the last day of February).
    """

    days: Annotated[int, Field(ge=-3650, le=3650)] = 0
    months: Annotated[int, Field(ge=0, le=120)] = 0
    from_: Annotated[tuple[Id, ...], BeforeValidator(_one_or_more), Field(
        alias="from", min_length=1, max_length=4)] = (ROUTING_DATE,)

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, populate_by_name=True)


class StepSpec(_Based):
    """One next step: who does what, in Danish, with whom to contact and by when."""

    actor: Id
    action: Id
    text: Text
    contact: Id | None = Field(default=None, description="the actor whose contact details the step shows")
    due: Due | None = None
    done_on: Id | None = Field(default=None, description=(
        "a date fact telling the step was done: then it is left out, with a warning if done after `due`"))
    source: SourceRef | None = Field(default=None, description="defaults to the rule's source")


class WarningSpec(_Based):
    """Something the reader must not miss, in Danish."""

    id: Id
    text: Text
    source: SourceRef | None = None


def _must_conclude(rule: RuleBody) -> None:
    if rule.responsible is None and not rule.steps and not rule.warnings:
        msg = "a rule must conclude something: responsible, steps or warnings"
        raise ValueError(msg)


#: What a pack's rule takes from the shared rule it `use`s, and so may not give itself (`source` it may).
SHARED_PARTS: tuple[str, ...] = ("responsible", "steps", "warnings")


class RuleBody(_Strict):
    """What a rule concludes, and the passage it rests on: a rule's body, or a layer's shared one."""

    responsible: Id | None = None
    steps: list[StepSpec] = Field(default_factory=list)
    warnings: list[WarningSpec] = Field(default_factory=list)
    source: SourceRef
    basis: Basis = Field(default=GUIDE, description=(
        "`fortolkning`: the rule (its lead, and the steps and warnings that do not say otherwise) is the "
        "pack's reading where the guide is silent or unclear, not the guide's words; `reason:` says why"))
    reason: Text | None = Field(default=None, description="why the pack reads the guide so (interpretations)")

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    @model_validator(mode="after")
    def _concludes(self) -> Self:
        _must_conclude(self)
        _check_basis(self.basis, self.reason, "a rule")
        return self

    def interpretation(self, part: StepSpec | WarningSpec | None = None) -> str | None:
        """Why the rule's lead (no `part`), or a step or warning of it, is the pack's reading; None: not."""
        if part is not None and part.basis is not None:
            return part.reason if part.basis == INTERPRETATION else None
        return self.reason if self.basis == INTERPRETATION else None

    def interpretations(self) -> list[tuple[tuple[str, int] | tuple[()], StepSpec | WarningSpec | None, str]]:
        """Where the rule marks its own reading, with the reason.

        The rule itself (part None, at `()`), then each step and warning that states its own basis (at
        `("steps", n)` or `("warnings", n)`).
        """
        marked: list[tuple[tuple[str, int] | tuple[()], StepSpec | WarningSpec | None]] = [((), None)]
        marked += [(("steps", n), s) for n, s in enumerate(self.steps) if s.basis is not None]
        marked += [(("warnings", n), w) for n, w in enumerate(self.warnings) if w.basis is not None]
        return [(at, part, reason) for at, part in marked
                if (reason := self.interpretation(part)) is not None]


class SharedRule(RuleBody):
    """A rule body in `layer.yaml` (`rules:`): everything a rule concludes, and the passage it rests on.

    A rule of a pack of that layer takes it with `use: <id>` and gives its own `id`, `when`, `priority`
    (and `overrides`); it may give its own `source` (its event's passage saying the same), never its own
    `responsible`, `steps` or `warnings`. `source` cites the using pack's document, as a pack's rule does.
    """


class RuleSpec(RuleBody):
    """One rule: when its conditions hold, it concludes a responsible actor, steps and/or warnings."""

    id: Id
    priority: Annotated[int, Field(ge=0, le=1000)] = 0
    overrides: Id | None = Field(default=None, description=(
        "the layer above whose rule of the same id this rule replaces"))
    use: Id | None = Field(default=None, description=(
        "the shared rule of its layer's `layer.yaml` whose responsible, steps, warnings and source it takes"))
    when: dict[str, Any] | None = Field(default=None, description="conditions; absent: always")


class PackMeta(_Strict):
    """Which guide a pack encodes, for which event, and when that guide is in force."""

    layer: Id
    event: Id
    title: Text = Field(description="the event's Danish title, as the guide words it")
    document: Text
    version: Text
    valid_from: dt.date
    review_by: dt.date | None = Field(description="null: the document names no review date")
    section: Text = Field(description="the guide's section for this event")
    standalone: bool = Field(default=True, description=(
        "false: the pack only adds to the event's pack of a lower layer, so alone it makes no layer "
        "cover the event (e.g. a law's deadline that names no responsible actor)"))
    omit: dict[Id, Text] = Field(default_factory=dict, description=(
        "inherited rules this layer drops, each with the reason"))

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class RuleFile(BaseModel):
    """`<event>.yaml`: pack metadata, then rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pack: PackMeta
    rules: list[RuleSpec] = Field(min_length=1)
