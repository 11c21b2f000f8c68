"""why_not: for every rule that could make an actor responsible, what kept it from leading.

For a rule that did not hold, the tests that failed in this situation, per alternative of its condition
(`Test.holds`, the condition language's own reading); for one that held, the rule that outranked it.
"""

from __future__ import annotations

from ansvar.model.events import SituationBase
from ansvar.model.why_not import RuleWhyNot, WhyNot
from ansvar.routing.build import cite
from ansvar.routing.resolve import Resolution


def why_not(resolution: Resolution, situation: SituationBase, actor: str) -> WhyNot:
    """The rules of the resolved pack naming `actor` as responsible, each with what kept it from leading."""
    pack = resolution.pack
    held = set(resolution.fired)
    leaders = resolution.leaders
    top = leaders[0] if leaders else None
    found = []
    for rule_id, rule in pack.rules.items():
        if rule.responsible != actor:
            continue
        compiled = pack.compiled[rule_id]
        missing = tuple(tuple(str(t) for t in alternative if not t.holds(getattr(situation, t.fact)))
                        for alternative in compiled.alternatives)
        outranked = top.id if top is not None and rule_id in held and top.priority > rule.priority else None
        found.append(RuleWhyNot(rule_id, rule.priority, pack.origin[rule_id].layer.id, rule_id in held,
                                () if rule_id in held else missing, outranked,
                                cite(pack.origin[rule_id], rule.source)))
    name = pack.actors[actor].name if actor in pack.actors else actor
    return WhyNot(pack.municipality.id, pack.event, actor, name, resolution.responsible, tuple(found))
