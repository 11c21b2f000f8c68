"""Rule conditions -> durable_rules' JSON ruleset. Pure: it reads the engine's limits, never evaluates.

The condition language (`when:` in a rule file):

    when:                         # a mapping: every entry must hold
      seizures: true              # fact == value        (null: the fact is null)
      residence: {in: [forsorgshjem, opholdssted]}
      administrations_per_day: {gt: 3}
      any:                        # at least one of these mappings holds
        - delirium_tremens: true
        - complicated_course_suspected: true
      all: [...]                  # every one of these mappings holds

Operators: `eq`, `ne`, `in`, `not_in`, `lt`, `le`, `gt`, `ge`. A null fact equals only `null`; it is `ne`
every value and fails every ordering. Every fact name and value is checked against the event's fact types.

Each condition is brought to disjunctive normal form, and each conjunction becomes one engine rule named
`<rule id>__<n>` (`ansvar.packs.names`), so the engine itself reports which alternative held. Shapes
durable_rules misreads or crashes on cannot be produced: every object has one key, only whitelisted
operators appear, every pattern is guarded against the engine's own state fact, null is tested with
`$nex`/`$ex` (the engine never sees a null), and the limits below keep clear of the engine's fan-out,
pattern and comparison limits (`ansvar.engine.check_ruleset` holds every ruleset to them).
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansvar import _yaml
from ansvar.engine import MAX_PRIORITY, STATE_GUARD
from ansvar.errors import shown, suggest
from ansvar.model.events import FactType
from ansvar.packs import names
from ansvar.packs.names import CATCH_ALL

#: Limits of the condition language, kept well inside the engine's (see `ansvar.engine`), refused at load.
MAX_ALTERNATIVES_PER_RULE = 32  # a rule's `any`/`in` fan-out after normal form
MAX_TESTS_PER_ALTERNATIVE = 32  # tests in one conjunction
MAX_DEPTH = 8  # nesting of any/all

OPERATORS = ("eq", "ne", "in", "not_in", "lt", "le", "gt", "ge")
_ORDERING = {"lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}
_SYMBOL = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}


class ConditionError(Exception):
    """A condition that does not compile, at a (line, column) of its YAML file."""

    def __init__(self, message: str, position: tuple[int, int] | None) -> None:
        self.message = message
        self.position = position
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Test:
    """One comparison of one fact: the leaf of a condition and the unit of a trace."""

    fact: str
    op: str  # eq, ne, lt, le, gt, ge; value None with eq/ne tests null
    value: bool | int | str | dt.date | None

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.fact} is {'not ' if self.op == 'ne' else ''}null"
        shown = _show(self.value)
        return f"{self.fact} {_SYMBOL[self.op]} {shown}"

    def holds(self, value: object) -> bool:
        """Whether the test holds for a fact's value, as the condition language defines it.

        For explanations only (`why_not`); routing asks durable_rules. A null fact equals only null, is
        `ne` every value, and fails every ordering.

        >>> Test("administrations_per_day", "gt", 3).holds(None), Test("seizures", "ne", True).holds(None)
        (False, True)
        """
        if value is None or self.value is None:
            same = value is None and self.value is None
            return same if self.op == "eq" else not same if self.op == "ne" else False
        if self.op == "eq":
            return bool(value == self.value)
        if self.op == "ne":
            return bool(value != self.value)
        return bool(_COMPARE[self.op](value, self.value))

    def engine(self) -> dict[str, Any]:
        """The one durable_rules expression for this test (the fact never carries null)."""
        value = engine_value(self.value)
        if value is None:
            return {"$nex" if self.op == "eq" else "$ex": {self.fact: 1}}
        if self.op == "eq":
            return {self.fact: value}
        if self.op == "ne":
            return {"$neq": {self.fact: value}}
        return {_ORDERING[self.op]: {self.fact: value}}


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def engine_value(value: object) -> bool | int | str | None:
    """A fact or constant as the engine sees it: dates become day ordinals, so they order correctly."""
    if isinstance(value, dt.date):
        return value.toordinal()
    if value is None or isinstance(value, bool | int | str):
        return value
    msg = f"value of type {type(value).__name__} cannot reach the engine"
    raise TypeError(msg)


Conjunction = tuple[Test, ...]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule's alternatives (normal form), each's tests as the trace shows them, and engine names."""

    rule_id: str
    alternatives: tuple[Conjunction, ...]
    shown: tuple[tuple[str, ...], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        shown = tuple(tuple(str(test) for test in alternative) for alternative in self.alternatives)
        object.__setattr__(self, "shown", shown)

    def engine_name(self, index: int) -> str:
        """The engine's name for alternative `index`."""
        return names.encode(self.rule_id, index)


def parse_condition(when: Mapping[str, Any] | None, facts: Mapping[str, FactType]) -> tuple[Conjunction, ...]:
    """Check a `when` mapping against the fact types and return its alternatives (disjunctive normal form).

    >>> from ansvar.model.situation import fact_types
    >>> alts = parse_condition({"seizures": True, "any": [{"delirium_tremens": True},
    ...                         {"residence": {"in": ["forsorgshjem"]}}]}, fact_types("afrusning"))
    >>> [[str(t) for t in a] for a in alts]
    [['seizures == true', 'delirium_tremens == true'], ['seizures == true', "residence == 'forsorgshjem'"]]
    """
    if when is None:
        return ((),)
    plan = _mapping(when, facts, depth=0)
    if plan.count > MAX_ALTERNATIVES_PER_RULE:  # counted from the parts: nothing is multiplied out yet
        raise ConditionError(
            f"condition expands to {_count(plan.count)} alternatives; at most {MAX_ALTERNATIVES_PER_RULE} "
            "(split the rule, or test fewer values with `in`)", _where(when))
    if plan.longest > MAX_TESTS_PER_ALTERNATIVE:
        raise ConditionError(f"a condition alternative holds {_count(plan.longest)} tests; at most "
                             f"{MAX_TESTS_PER_ALTERNATIVE}", _where(when))
    return plan.expand()


def _where(node: object, key: str | None = None, *, at_key: bool = False) -> tuple[int, int] | None:
    if key is not None and isinstance(node, _yaml.LocatedDict) and key in node.positions:
        return node.key_positions[key] if at_key else node.positions[key]
    return getattr(node, "position", None)


def _product(parts: Sequence[tuple[Conjunction, ...]]) -> tuple[Conjunction, ...]:
    return tuple(tuple(itertools.chain.from_iterable(combo)) for combo in itertools.product(*parts))


#: Counts of alternatives and tests stop growing here: a condition's size is known without big numbers.
_MANY = 10**9


def _count(number: int) -> str:
    return str(number) if number < _MANY else f"more than {_MANY - 1:,}"


@dataclass(frozen=True, slots=True)
class _Plan:
    """Part of a condition: its alternatives, counted from its parts and multiplied out only on `expand`.

    The counts are known before anything is built: alternatives multiply across the parts of a product
    (`all`, a mapping's entries) and add up across those of a union (`any`, `in`); an alternative of a
    product holds the tests of one alternative of each part. So a condition that would expand past the
    limits is refused at the cost of reading it, never of building its alternatives.
    """

    count: int
    longest: int
    leaf: tuple[Conjunction, ...] = ()
    parts: tuple[_Plan, ...] = ()
    union: bool = False

    @staticmethod
    def of(alternatives: tuple[Conjunction, ...]) -> _Plan:
        return _Plan(len(alternatives), max(map(len, alternatives)), leaf=alternatives)

    @staticmethod
    def product(parts: Sequence[_Plan]) -> _Plan:
        if len(parts) == 1:
            return parts[0]
        count = 1
        for part in parts:
            count = min(count * part.count, _MANY)
        longest = min(sum(part.longest for part in parts), _MANY)
        return _Plan(count, longest, parts=tuple(parts))

    @staticmethod
    def either(parts: Sequence[_Plan]) -> _Plan:
        if len(parts) == 1:
            return parts[0]
        count = min(sum(part.count for part in parts), _MANY)
        return _Plan(count, max(part.longest for part in parts), parts=tuple(parts), union=True)

    def expand(self) -> tuple[Conjunction, ...]:
        if not self.parts:
            return self.leaf
        expanded = [part.expand() for part in self.parts]
        return tuple(itertools.chain.from_iterable(expanded)) if self.union else _product(expanded)


def _mapping(node: object, facts: Mapping[str, FactType], depth: int) -> _Plan:
    if not isinstance(node, Mapping):
        raise ConditionError(f"a condition must be a mapping of facts, not {type(node).__name__}",
                             _where(node))
    if not node:
        raise ConditionError("an empty condition mapping; leave `when` out for a rule that always holds",
                             _where(node))
    if depth > MAX_DEPTH:
        raise ConditionError(f"conditions nest deeper than {MAX_DEPTH} levels", _where(node))
    parts: list[_Plan] = []
    for key, value in node.items():
        if key in {"any", "all"}:
            if not isinstance(value, list) or not value:
                raise ConditionError(f"`{key}` takes a non-empty list of condition mappings",
                                     _where(node, key))
            branches = [_mapping(item, facts, depth + 1) for item in value]
            parts.append(_Plan.either(branches) if key == "any" else _Plan.product(branches))
        else:
            parts.append(_fact(key, value, facts, _where(node, key, at_key=True), _where(node, key)))
    return _Plan.product(parts)


def _fact(name: str, spec: object, facts: Mapping[str, FactType],
          key_at: tuple[int, int] | None, where: tuple[int, int] | None) -> _Plan:
    fact = facts.get(name)
    if fact is None:
        near = suggest(name, facts)
        raise ConditionError(f"unknown fact {shown(name)}{near}; this event's facts: "
                             f"{', '.join(sorted(facts))}", key_at)
    if not isinstance(spec, Mapping):
        if isinstance(spec, list):
            raise ConditionError(f"{name}: a list is not a value; write {{in: [...]}} to test several",
                                 where)
        return _Plan.of(((_test(fact, "eq", spec, where),),))
    if not spec:
        raise ConditionError(f"{name}: an empty operator mapping", where)
    parts: list[_Plan] = []
    for op, value in spec.items():
        at = _where(spec, op) or where
        if op not in OPERATORS:
            raise ConditionError(f"{name}: unknown operator {shown(op)}; known: {', '.join(OPERATORS)}",
                                 _where(spec, op, at_key=True))
        if op in {"in", "not_in"}:
            if not isinstance(value, list) or not value:
                raise ConditionError(f"{name}: `{op}` takes a non-empty list of values", at)
            tests = [_test(fact, "eq" if op == "in" else "ne", v, at) for v in value]
            parts.append(_Plan.of(tuple((t,) for t in tests) if op == "in" else _or_null(fact, tuple(tests))))
        elif op == "ne" and value is not None:
            parts.append(_Plan.of(_or_null(fact, (_test(fact, op, value, at),))))
        else:
            parts.append(_Plan.of(((_test(fact, op, value, at),),)))
    return _Plan.product(parts)


def _or_null(fact: FactType, differs: Conjunction) -> tuple[Conjunction, ...]:
    """`ne`/`not_in` on a fact that may be null: null differs from every value.

    The engine never matches `$neq` on a missing field, so the null case is an alternative of its own.
    """
    return ((Test(fact.name, "eq", None),), differs) if fact.nullable else (differs,)


def _test(fact: FactType, op: str, value: object, where: tuple[int, int] | None) -> Test:
    if isinstance(value, Mapping | list):
        raise ConditionError(f"{fact.name}: a value must be a scalar, not {type(value).__name__}", where)
    if value is None:
        if op not in {"eq", "ne"}:
            raise ConditionError(f"{fact.name}: null can only be tested with eq/ne", where)
        if not fact.nullable:
            raise ConditionError(f"{fact.name} is never null; it is {fact.describe()}", where)
        return Test(fact.name, op, None)
    if op in _ORDERING and fact.kind not in {"int", "date"}:
        raise ConditionError(f"{fact.name}: `{op}` orders numbers and dates; {fact.name} is "
                             f"{fact.describe()}", where)
    checks: dict[str, Callable[[object], bool]] = {
        "bool": lambda v: isinstance(v, bool),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "enum": lambda v: isinstance(v, str) and v in fact.values,
        "date": lambda v: isinstance(v, dt.date) and not isinstance(v, dt.datetime),
    }
    if not checks[fact.kind](value):
        said = shown(value) if isinstance(value, str) else _show(value)  # a string only if it is an id
        raise ConditionError(f"{fact.name}: {said} is not a possible value; {fact.name} is "
                             f"{fact.describe()}", where)
    assert isinstance(value, bool | int | str | dt.date)  # noqa: S101 - narrowed by the checks above
    return Test(fact.name, op, value)


def to_ruleset(rules: Sequence[CompiledRule]) -> dict[str, Any]:
    """The durable_rules JSON ruleset: one engine rule per alternative, plus the catch-all.

    `pri` is the rule's position, so the engine fires rules in file order; the catch-all, last, makes
    sure every asserted fact is handled (the engine crashes deleting a session where nothing fired).
    """
    definition: dict[str, Any] = {}
    for position, rule in enumerate(rules):
        for index, alternative in enumerate(rule.alternatives):
            tests = [STATE_GUARD, *(t.engine() for t in alternative)]
            pattern = {"$and": tests} if len(tests) > 1 else STATE_GUARD
            definition[rule.engine_name(index)] = {"all": [{"m": pattern}], "pri": position}
    definition[CATCH_ALL] = {"all": [{"m": STATE_GUARD}], "pri": MAX_PRIORITY + 1}
    return definition
