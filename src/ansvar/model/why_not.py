"""Why an actor is not responsible in a situation: the answer to "why not X?", as data and in Danish.

`ansvar.routing.why_not` computes it from the situation's resolution; `str()` is what a caseworker reads.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ansvar.model.decision import Source

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


def _wrap(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=" " * len(indent)) or [indent]
