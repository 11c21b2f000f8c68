"""The hit policy, in one place: from the engine rules that fired to who leads and what stands.

Every rule whose conditions hold fires. Among the fired rules that name a `responsible` actor, the one with
the highest `priority` holds the lead. Two fired rules at that top priority that name different actors are a
defect of the pack (`ConflictError`), never resolved by file order; no fired rule naming a responsible actor
is `NoResponsibleError`. A fired rule whose lead claim is outranked is overridden: it stays in the trace,
marked so, and its steps and warnings are dropped (they belong to a branch the guide did not take).

`resolve` computes this once per situation; building a Decision, `Router.outline`, `why_not`, `ansvar check`
and `ansvar diff` all read the same `Resolution`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ansvar.errors import ConflictError, NoResponsibleError, RoutingError
from ansvar.model.decision import Answer
from ansvar.packs import names

if TYPE_CHECKING:
    from ansvar.packs.loader import Pack
    from ansvar.packs.schema import RuleSpec


@dataclass(frozen=True, slots=True)
class Held:
    """A rule that fired: the tests of its alternatives that held, and whether its lead was outranked."""

    rule: RuleSpec
    conditions: tuple[str, ...]
    overridden: bool


@dataclass(frozen=True, slots=True)
class Resolution:
    """Which rules held (in firing order), who leads at which priority, or the defect that left no lead."""

    pack: Pack
    held: tuple[Held, ...]
    responsible: str | None
    priority: int | None
    defect: RoutingError | None

    @property
    def fired(self) -> tuple[str, ...]:
        """The ids of the rules that fired, in firing order."""
        return tuple(h.rule.id for h in self.held)

    @property
    def overridden(self) -> frozenset[str]:
        """The rules whose lead claim was outranked."""
        return frozenset(h.rule.id for h in self.held if h.overridden)

    @property
    def claims(self) -> tuple[RuleSpec, ...]:
        """The fired rules that name a responsible actor."""
        return tuple(h.rule for h in self.held if h.rule.responsible is not None)

    @property
    def leaders(self) -> tuple[RuleSpec, ...]:
        """The fired rules that claim the lead at the top priority (two actors among them: a conflict)."""
        claims = self.claims
        top = max((r.priority for r in claims), default=None)
        return tuple(r for r in claims if r.priority == top)

    def lead(self) -> str:
        """The responsible actor; raises the pack's defect when the rules give no single one."""
        if self.defect is not None:
            raise self.defect
        assert self.responsible is not None  # noqa: S101 - no defect: exactly one lead
        return self.responsible

    def answer(self) -> Answer:
        """The outline: the lead and the steps that stand (actor.action), or the defect's kind."""
        if self.defect is not None:
            return Answer(None, frozenset(), type(self.defect), self.fired)
        steps = frozenset(f"{step.actor}.{step.action}" for h in self.held if not h.overridden
                          for step in h.rule.steps)
        return Answer(self.responsible, steps, None, self.fired, self.overridden)


def resolve(pack: Pack, fired: Iterable[str]) -> Resolution:
    """Apply the hit policy to the engine rules that fired for one situation (in any order).

    Rules are put in firing order (the pack's order, then each rule's alternatives), so a batch and a single
    call give the same trace; each rule's conditions are the tests of every alternative that held, once.
    """
    alternatives: dict[str, list[int]] = {}
    for name in fired:
        rule_id, alternative = names.decode(name)
        alternatives.setdefault(rule_id, []).append(alternative)
    ordered = sorted(alternatives, key=pack.place.__getitem__)
    conditions: dict[str, tuple[str, ...]] = {}
    for rule_id in ordered:
        shown = pack.compiled[rule_id].shown
        tests: dict[str, None] = {}
        for alternative in sorted(alternatives[rule_id]):
            tests.update(dict.fromkeys(shown[alternative]))
        conditions[rule_id] = tuple(tests)
    rules = [pack.rules[rule_id] for rule_id in ordered]
    responsible, top, defect = _lead(pack, rules)
    held = tuple(Held(rule, conditions[rule.id], overridden=top is not None and rule.responsible is not None
                      and rule.priority < top) for rule in rules)
    return Resolution(pack, held, responsible, top, defect)


def _lead(pack: Pack, fired: list[RuleSpec]) -> tuple[str | None, int | None, RoutingError | None]:
    claims = [r for r in fired if r.responsible is not None]
    where = f"{pack.municipality.id}/{pack.event}"
    if not claims:
        shown = ", ".join(r.id for r in fired) or "none"
        message = f"{where}: no rule named a responsible actor for this situation (fired: {shown})"
        return None, None, NoResponsibleError(message)
    top = max(r.priority for r in claims)
    leaders = {r.responsible for r in claims if r.priority == top}
    if len(leaders) > 1:
        rivals = ", ".join(f"{r.id} -> {r.responsible}" for r in claims if r.priority == top)
        return None, top, ConflictError(f"{where}: rules of equal priority {top} claim the lead: {rivals}")
    return leaders.pop(), top, None
