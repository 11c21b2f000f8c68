"""Differential checks: two small evaluators, written here from the documents alone, agree with durable_rules.

- `language_holds` reads a rule's `when` as docs/rule-format.md defines the condition language. Where it
  and the engine disagree on which rules fire, the compiler mistranslated a condition.
- `engine_holds` reads the compiled JSON as docs/durable-rules.md describes the engine (first key only,
  missing fields never match but `$nex`, typed comparisons). Where it and the engine disagree, the engine
  misread what the compiler wrote (or the compiler wrote a shape the engine reads otherwise).

Routing stays on durable_rules; these evaluators exist only here.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ansvar
from ansvar.engine import Ruleset, sanitise
from ansvar.model.situation import FactType, fact_types, parse_situation
from ansvar.packs.compiler import (
    CATCH_ALL,
    CompiledRule,
    ConditionError,
    engine_value,
    parse_condition,
    to_ruleset,
)
from ansvar.testing import situations

ROUTER = ansvar.default_router()
PACKS = [(m, e) for m in ROUTER.municipalities() for e in ROUTER.events(m)]
ORDER: dict[str, Callable[[Any, Any], bool]] = {"lt": operator.lt, "le": operator.le, "gt": operator.gt,
                                                "ge": operator.ge}


def _equal(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _fact_holds(value: object, spec: object) -> bool:
    if not isinstance(spec, Mapping):
        return _equal(value, spec)
    for op, arg in spec.items():
        if op == "eq":
            ok = _equal(value, arg)
        elif op == "ne":
            ok = not _equal(value, arg)  # a null fact is `ne` every value
        elif op == "in":
            ok = any(_equal(value, a) for a in arg)
        elif op == "not_in":
            ok = not any(_equal(value, a) for a in arg)
        else:  # orderings: a null fact fails every one
            ok = value is not None and ORDER[op](value, arg)
        if not ok:
            return False
    return True


def language_holds(when: Mapping[str, Any] | None, situation: ansvar.SituationBase) -> bool:
    """The condition language of docs/rule-format.md: a mapping holds when every entry holds."""
    for key, spec in (when or {}).items():
        if key == "any":
            ok = any(language_holds(m, situation) for m in spec)
        elif key == "all":
            ok = all(language_holds(m, situation) for m in spec)
        else:
            ok = _fact_holds(getattr(situation, key), spec)
        if not ok:
            return False
    return True


def engine_holds(expression: Mapping[str, Any], fact: Mapping[str, Any]) -> bool:
    """durable_rules' reading of one condition object, per docs/durable-rules.md."""
    assert len(expression) == 1, f"the engine reads only the first key of {expression}"
    ((op, arg),) = expression.items()
    if op == "$and":
        return all(engine_holds(e, fact) for e in arg)
    if op == "$or":
        return any(engine_holds(e, fact) for e in arg)
    if not op.startswith("$"):  # {field: value}: equality
        assert type(arg) is not dict, f"an object as a value is read as a reference: {expression}"
        return op in fact and type(fact[op]) is type(arg) and fact[op] == arg
    ((field, value),) = arg.items()
    if op == "$ex":
        return field in fact
    if op == "$nex":
        return field not in fact
    if field not in fact:
        return False  # a missing field never matches, not even $neq
    actual = fact[field]
    assert type(actual) is type(value), f"cross-type comparison {field}: {actual!r} vs {value!r}"
    compare = {"$neq": operator.ne, "$lt": operator.lt, "$lte": operator.le, "$gt": operator.gt,
               "$gte": operator.ge}[op]
    return bool(compare(actual, value))


def _engine_fired(ruleset: Ruleset, fact: Mapping[str, object]) -> set[str]:
    fired: set[str] = set()
    ruleset.evaluate(fact, fired.add)
    return fired


def _engine_fact(pack: Any, situation: ansvar.SituationBase) -> dict[str, object]:
    return {name: engine_value(getattr(situation, name)) for name in pack.facts}


@pytest.mark.parametrize(("municipality", "event"), PACKS)
def test_shipped_rules_fire_as_the_language_and_the_engine_say(municipality: str, event: str) -> None:
    """For every shipped pack: the rules durable_rules fires are those both evaluators say hold."""
    pack = ROUTER.pack(municipality, event)
    definition = json.loads(pack.ruleset._json)  # exactly what the engine was given

    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
    @given(situation=situations(event, municipality))
    def check(situation: dict[str, Any]) -> None:
        model = parse_situation(situation)
        fact = _engine_fact(pack, model)
        fired = _engine_fired(pack.ruleset, fact)
        by_language = {name for rule_id, rule in pack.rules.items() if language_holds(rule.when, model)
                       for name in _names(pack.compiled[rule_id])}
        assert {n.rpartition("__")[0] for n in fired} == {n.rpartition("__")[0] for n in by_language}
        engine_fact = sanitise(fact)
        by_json = {name for name, rule in definition.items()
                   if name != CATCH_ALL and engine_holds(rule["all"][0]["m"], engine_fact)}
        assert fired == by_json

    check()


def _names(compiled: CompiledRule) -> list[str]:
    return [compiled.engine_name(i) for i in range(len(compiled.alternatives))]


def _values(fact: FactType) -> st.SearchStrategy[Any]:
    if fact.kind == "bool":
        return st.booleans()
    if fact.kind == "enum":
        return st.sampled_from(fact.values)
    if fact.kind == "int":
        return st.integers(0, 5)
    return st.dates(dt.date(2026, 1, 1), dt.date(2026, 1, 6))


def _test_of(fact: FactType) -> st.SearchStrategy[object]:
    ops = ["eq", "ne", "in", "not_in"] + (["lt", "le", "gt", "ge"] if fact.kind in {"int", "date"} else [])
    plain = st.sampled_from(ops).flatmap(
        lambda op: (st.lists(_values(fact), min_size=1, max_size=3) if op in {"in", "not_in"}
                    else _values(fact)).map(lambda v: {op: v}))
    nulls = [st.just(None), st.just({"ne": None})] if fact.nullable else []
    return st.one_of(_values(fact), plain, *nulls)


def _conditions(facts: Mapping[str, FactType]) -> st.SearchStrategy[dict[str, Any]]:
    # Facts that may be null or are ordered hold the subtle cases: drawn three times as often.
    names = sorted(facts) + 2 * sorted(n for n, f in facts.items() if f.nullable or f.kind in {"int", "date"})
    leaf = st.sampled_from(names).flatmap(lambda n: _test_of(facts[n]).map(lambda t: {n: t}))

    def nest(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        return st.one_of(inner, st.lists(inner, min_size=1, max_size=3).map(lambda ms: {"any": ms}),
                         st.lists(inner, min_size=1, max_size=2).map(lambda ms: {"all": ms}))

    return st.recursive(leaf, nest, max_leaves=4)


EVENTS = ["afrusning", "akutte_opioidabstinenser", "behandlingsforloeb", "paaroerendesamtale",
          "udtrapning_illegal_benzodiazepin"]


@pytest.mark.parametrize("event", EVENTS)
def test_generated_conditions_compile_to_what_the_language_means(event: str) -> None:
    """Random conditions over an event's facts (every operator, null, any/all): the engine fires a compiled
    condition exactly for the situations the language says it holds for."""
    facts = fact_types(event)

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(when=_conditions(facts), cases=st.lists(situations(event, "aalborg" if event != "behandlingsforloeb"
                                                                 else "rebild"), min_size=4, max_size=8))
    def check(when: dict[str, Any], cases: list[dict[str, Any]]) -> None:
        try:
            alternatives = parse_condition(when, facts)
        except ConditionError:  # refused on purpose (e.g. `ne: null` on a fact never null); a crash fails
            return
        compiled = CompiledRule("r", alternatives)
        definition = to_ruleset([compiled])
        ruleset = Ruleset(f"differential:{event}", definition, silent=(CATCH_ALL,))
        try:
            for case in cases:
                model = parse_situation(case)
                fact = {name: engine_value(getattr(model, name)) for name in facts}
                fired = bool(_engine_fired(ruleset, fact))
                assert fired == language_holds(when, model), (when, case)
                engine_fact = sanitise(fact)
                assert fired == any(engine_holds(rule["all"][0]["m"], engine_fact)
                                    for name, rule in definition.items() if name != CATCH_ALL)
        finally:
            ruleset.close()

    check()
