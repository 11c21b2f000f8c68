"""Hypothesis strategies for valid situations, read off the situation models' fact types."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from ansvar.errors import SituationError
from ansvar.situation import FactType, fact_types, parse_situation


def fact_values(fact: FactType) -> st.SearchStrategy[Any]:
    """Every value a fact may take (small integers, where the guides' thresholds lie, more often)."""
    if fact.kind == "bool":
        base: st.SearchStrategy[Any] = st.booleans()
    elif fact.kind == "enum":
        base = st.sampled_from(fact.values)
    elif fact.kind == "int":
        low = fact.minimum if fact.minimum is not None else -1000
        high = fact.maximum if fact.maximum is not None else 1000
        base = st.one_of(st.integers(low, min(high, 10)), st.integers(low, high))
    else:
        base = st.dates(dt.date(2019, 7, 1), dt.date(2030, 12, 31))
    return st.one_of(st.none(), base) if fact.nullable else base


def situations(municipality: str, event: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid situations of an event, each fact either given or left to its default."""
    facts = fact_types(event)
    given = st.fixed_dictionaries(
        {}, optional={name: fact_values(fact) for name, fact in facts.items()})
    return given.map(lambda d: {"municipality": municipality, "event": event, **d}).filter(_valid)


def _valid(situation: dict[str, Any]) -> bool:
    # Facts valid one by one can still contradict each other (a treatment ending before it started).
    try:
        parse_situation(situation)
    except SituationError:
        return False
    return True
