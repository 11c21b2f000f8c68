"""Compare two municipalities: where their answers differ, for the situations both cover.

Every event both municipalities cover is explored over the finite domains of the facts their rules read
(`situation_space`): booleans, enum values, null where allowed, and for numbers and dates the constants the
rules compare with and their neighbours. Each situation is routed through the real engine for both; the
answers (responsible actor, set of steps as actor.action) are compared, and every distinct difference is
reported once, with how many situations show it and the simplest one of them, ready for `ansvar route`.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ansvar.decision import Answer
from ansvar.errors import RoutingError, UnknownEventError
from ansvar.situation import FactType, event_model

if TYPE_CHECKING:
    from ansvar.loader import Pack
    from ansvar.router import Router

#: More situations than this per event is refused rather than left running (the shipped packs need < 50,000).
MAX_SITUATIONS = 250_000


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


def situation_space(packs: Sequence[Pack], on: dt.date) -> tuple[list[str], list[list[Any]]]:
    """The facts some pack's rules read, and for each the values that tell its rules apart."""
    constants: dict[str, set[Any]] = {}
    for pack in packs:
        for compiled in pack.compiled.values():
            for alternative in compiled.alternatives:
                for test in alternative:
                    constants.setdefault(test.fact, set()).add(test.value)
    facts = packs[0].facts
    names = sorted(constants)
    return names, [_domain(facts[name], constants[name], on) for name in names]


def _domain(fact: FactType, constants: set[Any], on: dt.date) -> list[Any]:
    values: list[Any] = [None] if fact.nullable else []
    if fact.kind == "bool":
        return [*values, False, True]
    if fact.kind == "enum":
        return [*values, *fact.values]
    if fact.kind == "int":
        low = fact.minimum if fact.minimum is not None else -1000
        high = fact.maximum if fact.maximum is not None else 1000
        around = {low} | {c + d for c in constants if isinstance(c, int) for d in (-1, 0, 1)}
        return values + sorted(v for v in around if low <= v <= high)
    around_dates = {on} | {c + dt.timedelta(days=d)
                           for c in constants if isinstance(c, dt.date) for d in (-1, 0, 1)}
    return values + sorted(around_dates)


def compare(router: Router, first: str, second: str, event: str | None = None,
            on: dt.date | None = None) -> list[EventComparison]:
    """Where `first` and `second` answer differently, event by event, for the situations both cover."""
    day = on or dt.date.today()  # noqa: DTZ011 - the caller's local day, as in route()
    shared = sorted(set(router.events(first)) & set(router.events(second)))
    if event is not None:
        if event not in shared:
            raise UnknownEventError(f"event shared by {first} and {second}", event, shared)
        shared = [event]
    return [_compare_event(router, first, second, name, day) for name in shared]


def _compare_event(router: Router, first: str, second: str, event: str, on: dt.date) -> EventComparison:
    packs = (router.pack(first, event), router.pack(second, event))
    names, domains = situation_space(packs, on)
    total = 1
    for domain in domains:
        total *= len(domain)
    if total > MAX_SITUATIONS:
        msg = (f"{event}: {total} situations to compare exceed {MAX_SITUATIONS}; "
               "the packs read too many facts with too many distinct values")
        raise RoutingError(msg)
    defaults = {name: field.default for name, field in event_model(event).model_fields.items()}
    found: dict[tuple[str, str, str | None], tuple[int, dict[str, Any]]] = {}
    for values in itertools.product(*domains):
        situation = {"event": event, **{n: v for n, v in zip(names, values, strict=True) if v != defaults[n]}}
        answers = (router.outline({"municipality": first, **situation}, on),
                   router.outline({"municipality": second, **situation}, on))
        for key in _differences(*answers):
            count, example = found.get(key, (0, situation))
            found[key] = (count + 1, situation if len(situation) < len(example) else example)
    differences = tuple(
        Difference(event, "responsible" if step is None else "step", a, b, step, count, _plain(example))
        for (a, b, step), (count, example) in sorted(found.items(), key=lambda kv: (kv[0][2] or "", kv[0])))
    return EventComparison(event, total, differences)


def _differences(first: Answer, second: Answer) -> Iterator[tuple[str, str, str | None]]:
    if first.describe() != second.describe():
        yield first.describe(), second.describe(), None
    for step in sorted(first.steps ^ second.steps):
        yield ("yes", "no", step) if step in first.steps else ("no", "yes", step)


def _plain(situation: Mapping[str, Any]) -> dict[str, Any]:
    """The situation as JSON-ready values (so it can be pasted into `ansvar route`)."""
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in situation.items()}
