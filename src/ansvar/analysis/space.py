"""The finite space of situations that tells a pack's rules apart, for exhaustive analysis and comparison.

A condition compares a fact with constants (`eq`, `ne`, `in`, orderings), so which rules fire depends only
on where each fact's value lies relative to those constants. Every distinct case is therefore covered by:
booleans, every enum value, null where the fact may be null, and for integers and dates each constant the
rules use with its neighbours (plus the smallest integer, and the routing date for dates). Facts no rule
reads keep their defaults. Situations the model refuses (dates out of order) are skipped: they are not
situations a caller can route.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ansvar.errors import SituationError
from ansvar.model.events import FactType

if TYPE_CHECKING:
    from ansvar.packs.loader import Pack

#: More situations than this per event is refused rather than left running (the shipped packs need < 25,000).
MAX_SITUATIONS = 250_000


class SituationSpace:
    """Every case the rules of some packs of one event can tell apart, as minimal situation dicts."""

    def __init__(self, packs: Sequence[Pack], on: dt.date) -> None:
        constants: dict[str, set[Any]] = {}
        for pack in packs:
            for compiled in pack.compiled.values():
                for alternative in compiled.alternatives:
                    for test in alternative:
                        constants.setdefault(test.fact, set()).add(test.value)
        self.event = packs[0].event
        self.definition = packs[0].definition
        facts = packs[0].facts
        self.names = sorted(constants)
        self.domains = [_domain(facts[name], constants[name], on) for name in self.names]
        self.defaults = {name: fact.default_value for name, fact in self.definition.facts.items()}

    @property
    def size(self) -> int:
        """How many combinations the space holds (before invalid ones are skipped)."""
        size = 1
        for domain in self.domains:
            size *= len(domain)
        return size

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Each valid situation, with only the facts that differ from their defaults (and `event`)."""
        for values in itertools.product(*self.domains):
            situation = {"event": self.event}
            situation.update((n, v) for n, v in zip(self.names, values, strict=True) if v != self.defaults[n])
            try:
                self.definition.parse({"municipality": "x", **situation})
            except SituationError:
                continue
            yield situation


def json_ready(situation: Mapping[str, Any]) -> dict[str, Any]:
    """A situation of the space with its dates as ISO text: ready for JSON, and for `ansvar route`."""
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in situation.items()}


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
