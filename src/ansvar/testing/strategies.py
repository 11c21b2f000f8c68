"""Hypothesis strategies for valid situations, read off the situation models' fact types.

For property tests of rule packs: your own, or the shipped ones. Every strategy gives only situations that
`ansvar.parse_situation` accepts; each fact is either given or left to its default, and its values honour
the fact's type: booleans, the enum's values, null where the fact may be null, integers within their bounds
(small ones, where the guides' thresholds lie, and the bounds themselves more often) and dates in 1900-2199
(recent years more often).
Needs the `testing` extra (`pip install 'ansvar[testing]'`, which brings hypothesis).

A property test of a municipality's rules (a pytest module of your project)::

    import datetime
    from hypothesis import given
    import ansvar
    from ansvar.testing import situations

    ROUTER = ansvar.Router([ansvar.shipped_rules(), "rules"])   # the shipped layers and your own

    @given(situations("afrusning", "nordby", router=ROUTER))
    def test_delirium_tremens_always_goes_to_the_region(situation):
        decision = ROUTER.route(situation, on=datetime.date(2026, 11, 23))
        # unless the citizen said no to medical help: then the doctor's clinical judgement leads
        if situation.get("delirium_tremens") and situation.get("wants_medical_help") is not False:
            assert decision.responsible == "region_akutmodtagelse"

`situations(event)` without a municipality draws one of those whose packs cover the event; `models` gives
the validated `SituationBase` models instead of dicts; `any_situation()` draws any covered event.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from ansvar.errors import SituationError, UnknownEventError
from ansvar.model.events import EARLIEST_DATE, LATEST_DATE, EventDefinition, FactType, SituationBase
from ansvar.routing.router import Router, default_router

__all__ = ["any_situation", "models", "situations"]

#: Integers up to this bound are drawn more often: the guides' thresholds are small counts.
SMALL_INT = 10
#: Dates in these years are drawn more often: guides, deadlines and routing dates lie around them.
RECENT = (dt.date(2015, 1, 1), dt.date(2035, 12, 31))
INT_SPAN = 1000


def _fact_values(fact: FactType) -> st.SearchStrategy[Any]:
    """Every value a fact may take; small integers, integer bounds and recent dates more often."""
    if fact.kind == "bool":
        base: st.SearchStrategy[Any] = st.booleans()
    elif fact.kind == "enum":
        base = st.sampled_from(fact.values)
    elif fact.kind == "int":
        low = fact.minimum if fact.minimum is not None else -INT_SPAN
        high = fact.maximum if fact.maximum is not None else INT_SPAN
        base = st.one_of(st.integers(low, max(low, min(high, SMALL_INT))), st.integers(low, high),
                         st.sampled_from((low, high)))
    else:
        base = st.one_of(st.dates(*RECENT), st.dates(EARLIEST_DATE, LATEST_DATE))
    return st.one_of(st.none(), base) if fact.nullable else base


def _event_situations(municipality: str, event: EventDefinition) -> st.SearchStrategy[dict[str, Any]]:
    def valid(situation: dict[str, Any]) -> bool:
        # Facts valid one by one can still contradict each other (a treatment ending before it started).
        try:
            event.parse(situation)
        except SituationError:
            return False
        return True

    facts = event.fact_types
    given = st.fixed_dictionaries({}, optional={name: _fact_values(fact) for name, fact in facts.items()})
    return given.map(lambda d: {"municipality": municipality, "event": event.id, **d}).filter(valid)


def situations(event: str, municipality: str | None = None, *,
               router: Router | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Valid situations (dicts, ready for `route`) of an event, each fact either given or left to its default.

    municipality None: drawn from the municipalities whose packs cover the event, in `router` (default: the
    shipped packs). An event the contract does not define, one no municipality covers, or a municipality the
    given router does not cover for it, is an `UnknownEventError` at once.
    """
    known = router or default_router()
    definition = known.definitions[event]  # an unknown event fails here, not inside hypothesis
    if municipality is not None:
        definition.parse({"municipality": municipality, "event": event})  # a malformed name fails here too
        if router is not None:
            router.pack(municipality, event)  # UnknownEventError if the router does not cover it
        return _event_situations(municipality, definition)
    router = known
    covering = [m for m in router.municipalities() if event in router.events(m)]
    if not covering:
        raise UnknownEventError("event covered by some municipality", event,
                                {e for m in router.municipalities() for e in router.events(m)})
    return st.sampled_from(covering).flatmap(lambda m: _event_situations(m, definition))


def models(event: str, municipality: str | None = None, *,
           router: Router | None = None) -> st.SearchStrategy[SituationBase]:
    """The same situations as `situations`, as validated models (`AfklarendeSamtale`, `Afrusning`, ...)."""
    parse = (router or default_router()).parse_situation
    return situations(event, municipality, router=router).map(parse)


def any_situation(router: Router | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """A valid situation of any (municipality, event) the router (default: the shipped packs) covers."""
    router = router or default_router()
    definitions = router.definitions
    covered = [(m, e) for m in router.municipalities() for e in router.events(m)]
    return st.sampled_from(covered).flatmap(lambda pair: _event_situations(pair[0], definitions[pair[1]]))
