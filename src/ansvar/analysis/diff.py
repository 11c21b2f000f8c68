"""Compare two municipalities: where their answers differ, for the situations both cover.

Every event both municipalities cover is explored over the finite domains of the facts their rules read
(`ansvar.analysis.space.SituationSpace`). Each situation is routed through the real engine for both; the
answers (responsible actor, set of steps as actor.action) are compared, and every distinct difference is
reported once, with how many situations show it and the simplest one of them, ready for `ansvar route`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ansvar.analysis.space import MAX_SITUATIONS, SituationSpace, json_ready
from ansvar.errors import RoutingError, UnknownEventError
from ansvar.routing.router import routing_date

if TYPE_CHECKING:
    from ansvar.model.decision import Answer
    from ansvar.routing.router import Router


@dataclass(frozen=True, slots=True)
class Difference:
    """One way two municipalities answer an event differently, with how often and the simplest example.

    `kind` "responsible": `first` and `second` are the leads (or the pack defect raised). `kind` "step":
    `step` (actor.action) is given by one municipality only; `first`/`second` are "yes" or "no".
    """

    event: str
    kind: Literal["responsible", "step"]
    first: str
    second: str
    step: str | None
    situations: int
    example: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class EventComparison:
    """The comparison of one event: how many situations were routed, and the differences found."""

    event: str
    situations: int
    differences: tuple[Difference, ...]


def compare(router: Router, first: str, second: str, event: str | None = None,
            on: dt.date | None = None) -> list[EventComparison]:
    """Where `first` and `second` answer differently, event by event, for the situations both cover."""
    day = routing_date(on)
    shared = sorted(set(router.events(first)) & set(router.events(second)))
    if event is not None:
        if event not in shared:
            raise UnknownEventError(f"event shared by {first} and {second}", event, shared)
        shared = [event]
    return [_compare_event(router, first, second, name, day) for name in shared]


def _compare_event(router: Router, first: str, second: str, event: str, on: dt.date) -> EventComparison:
    packs = (router.pack(first, event), router.pack(second, event))
    space = SituationSpace(packs, on)
    if space.size > MAX_SITUATIONS:
        msg = (f"{event}: {space.size} situations to compare exceed {MAX_SITUATIONS}; "
               "the packs read too many facts with too many distinct values")
        raise RoutingError(msg)
    found: dict[tuple[str, str, str | None], tuple[int, dict[str, Any]]] = {}
    for situation in space:
        answers = (router.outline({"municipality": first, **situation}, on),
                   router.outline({"municipality": second, **situation}, on))
        for key in _differences(*answers):
            count, example = found.get(key, (0, situation))
            found[key] = (count + 1, situation if len(situation) < len(example) else example)
    differences = tuple(
        Difference(event, "responsible" if step is None else "step", a, b, step, count, json_ready(example))
        for (a, b, step), (count, example) in sorted(found.items(), key=lambda kv: (kv[0][2] or "", kv[0])))
    return EventComparison(event, space.size, differences)


def _differences(first: Answer, second: Answer) -> Iterator[tuple[str, str, str | None]]:
    if first.describe() != second.describe():
        yield first.describe(), second.describe(), None
    for step in sorted(first.steps ^ second.steps):
        yield ("yes", "no", step) if step in first.steps else ("no", "yes", step)

