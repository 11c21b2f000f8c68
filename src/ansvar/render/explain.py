"""Why a decision came out as it did, and why another actor is not responsible.

`Decision.explain()` renders, in Danish, the lead and the rule that gave it, then every rule that fired, in
order, with the tests that held, the layer it lives in, and the guide's passage it encodes. `why_not`
answers "why is X not responsible?": for every rule that could have made X responsible, the tests that did
not hold in this situation (per alternative), or, for a rule that did hold, the rule that outranked it.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ansvar.packs.compiler import SEPARATOR

if TYPE_CHECKING:
    from ansvar.model.decision import Decision, Source
    from ansvar.model.situation import SituationBase
    from ansvar.packs.loader import Pack

WIDTH = 100


@dataclass(frozen=True, slots=True)
class RuleWhyNot:
    """One rule that names the actor: whether it held, and if not, what was missing."""

    rule: str
    priority: int
    layer: str
    held: bool
    missing: tuple[tuple[str, ...], ...]  # per alternative of the condition, the tests that did not hold
    outranked_by: str | None
    source: Source


@dataclass(frozen=True, slots=True)
class WhyNot:
    """Why `actor` is (not) responsible in a situation."""

    municipality: str
    event: str
    actor: str
    actor_name: str
    responsible: str | None
    rules: tuple[RuleWhyNot, ...]

    def __str__(self) -> str:
        """In Danish, as a caseworker would read it."""
        lines = [(f"Hvorfor er {self.actor_name} [{self.actor}] ikke ansvarlig "
                  f"({self.municipality}, {self.event})?")]
        if self.responsible == self.actor:
            lines.append(f"{self.actor_name} er ansvarlig i denne situation.")
        if not self.rules:
            lines.append(f"Ingen regel i pakken gør {self.actor_name} ansvarlig for denne begivenhed.")
        for why in self.rules:
            head = f"Reglen »{why.rule}« (prioritet {why.priority}, lag {why.layer})"
            if why.held and why.outranked_by:
                lines += _wrap(f"{head} gælder, men tilsidesættes af »{why.outranked_by}« med højere "
                               "prioritet.")
            elif why.held:
                lines += _wrap(f"{head} gælder.")
            elif len(why.missing) == 1:
                lines += _wrap(f"{head} gælder ikke; det mangler, at: {' og '.join(why.missing[0])}.")
            else:
                lines += _wrap(f"{head} gælder ikke; den ville gælde, hvis ét af følgende holdt:")
                for number, missing in enumerate(why.missing, 1):
                    lines += _wrap(" og ".join(missing), f"  {number}) ")
            lines += _wrap(f"Kilde: {why.source.document} — {why.source.section}", "    ")
        return "\n".join(lines)


def why_not(pack: Pack, situation: SituationBase, fired: list[str], responsible: str | None,
            actor: str) -> WhyNot:
    """The rules of `pack` naming `actor` as responsible, each with what kept it from leading."""
    from ansvar.routing.router import cite  # noqa: PLC0415 - the router imports this module

    held = {name.rpartition(SEPARATOR)[0] for name in fired}
    leads = [pack.rules[r] for r in held if pack.rules[r].responsible is not None]
    top = max(leads, key=lambda r: r.priority) if leads else None
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
    return WhyNot(pack.municipality.id, pack.event, actor, name, responsible, tuple(found))


def explain(decision: Decision) -> str:
    """The decision in Danish: who leads by which rule, then every rule that fired and its passage."""
    lead = next((t for t in decision.trace
                 if t.responsible == decision.responsible and not t.overridden), None)
    lines = [f"{decision.pack.title} ({decision.municipality}, {decision.on:%d.%m.%Y})"]
    if lead is not None:
        held = " og ".join(lead.conditions) or "altid"
        lines += _wrap(f"{decision.responsible_name} er ansvarlig efter reglen »{lead.rule}« (prioritet "
                       f"{lead.priority}, lag {lead.layer}), fordi {held}.")
        lines += _passage(lead.source, "  ")
    lines += ["", "Regler, der gælder, i rækkefølge:"]
    for number, entry in enumerate(decision.trace, 1):
        held = " og ".join(entry.conditions) or "altid"
        lines += _wrap(f"{entry.rule} [{entry.layer}]: når {held}", f"{number:>3}. ")
        if entry.responsible is not None:
            verdict = f"gør {entry.responsible} ansvarlig"
            if entry.overridden:
                verdict += ", men tilsidesættes af højere prioritet; dens skridt og advarsler udelades"
            lines += _wrap(f"→ {verdict} (prioritet {entry.priority})", "       ")
        steps = [s for s in decision.steps if s.rule == entry.rule]
        warnings = [w for w in decision.warnings if w.rule == entry.rule]
        if steps:
            lines += _wrap("→ skridt: " + ", ".join(f"{s.actor}.{s.action}" for s in steps), "       ")
        if warnings:
            lines += _wrap("→ advarsler: " + ", ".join(w.id for w in warnings), "       ")
        lines += _passage(entry.source, "       ")
    router_warnings = [w for w in decision.warnings if w.rule is None]
    if router_warnings:
        lines += ["", "Desuden:"]
        for warning in router_warnings:
            lines += _wrap(warning.text, "  ! ")
    return "\n".join(lines)


def _passage(source: Source, indent: str) -> list[str]:
    text = f"Kilde: {source.document} — {source.section}"
    if source.passage:
        text += f": »{source.passage}«"
    return _wrap(text, indent)


def _wrap(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=" " * len(indent)) or [indent]

