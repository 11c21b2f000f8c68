"""Typed citizen situations of the shipped events: one pydantic model per event, discriminated by `event`.

The models are built from the event files (`ansvar.model.events`), on first use. Every model forbids
unknown facts, so a misspelt fact is an error and never silently false; booleans and integers are strict
(`"yes"` or `1` is not a boolean) and a date is ISO `YYYY-MM-DD` or a `datetime.date`, never a number or a
datetime. Each shipped event's model is importable here under its name (`Afrusning`, `Behandlingsforloeb`,
...), and `Situation` is their discriminated union. A router's own events (from its rule directories) are
parsed by `Router.parse_situation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Union

from pydantic import Field

from ansvar.model.events import (
    EARLIEST_DATE,
    LATEST_DATE,
    FactType,
    SituationBase,
    shipped_definitions,
)

# Also, built on first use (see `__getattr__`): `MODELS` (event -> model), `Situation` (their union),
# `COMMON_FACTS`, `VALUE_LABELS` (Danish label of every enumerated value), and each event's model by name.
__all__ = [
    "EARLIEST_DATE", "LATEST_DATE", "FactType", "SituationBase", "event_model", "fact_types",
    "parse_situation", "situation_schema",
]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - a model class, a union or a table, built on first use
    definitions = shipped_definitions()
    value: Any
    if name == "MODELS":
        value = {event: definition.model for event, definition in definitions.items()}
    elif name == "Situation":
        models = tuple(definition.model for definition in definitions.values())
        value = Annotated[Union[models], Field(discriminator="event")]  # noqa: UP007 - a runtime-built union
    elif name == "COMMON_FACTS":
        value = tuple(definitions.common)
    elif name == "VALUE_LABELS":
        value = {v: label for d in definitions.values() for fact in d.facts.values()
                 for v, label in (fact.values or {}).items()}
    else:
        value = next((d.model for d in definitions.values() if d.model.__name__ == name), None)
        if value is None:
            msg = f"module {__name__!r} has no attribute {name!r}"
            raise AttributeError(msg)
    globals()[name] = value
    return value


def fact_types(event: str) -> dict[str, FactType]:
    """The facts a rule for a shipped `event` may read, with their types (common facts included)."""
    return dict(shipped_definitions()[event].fact_types)


def event_model(event: str) -> type[SituationBase]:
    """The situation model of a shipped event; `UnknownEventError` for an event no event file defines."""
    return shipped_definitions()[event].model


def parse_situation(data: SituationBase | Mapping[str, Any], *, where: str | None = None) -> SituationBase:
    """Validate a dict (or pass through a model) into the situation model of its (shipped) event.

    >>> parse_situation({"municipality": "aalborg", "event": "antabus_campral"}).advised_by_unit
    False
    """
    return shipped_definitions().parse(data, where=where)


def situation_schema(event: str) -> dict[str, Any]:
    """JSON Schema of the facts a shipped event reads, each with its Danish label (title) and question.

    >>> situation_schema("afrusning")["properties"]["residence"]["enum"]
    ['eget_hjem', 'forsorgshjem', 'opholdssted']
    """
    return shipped_definitions()[event].schema()
