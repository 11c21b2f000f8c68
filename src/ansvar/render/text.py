"""Plain-text rendering of a Decision, for terminals and logs (it holds no personal data)."""

from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ansvar.analysis.diff import EventComparison
    from ansvar.model.decision import Contact, Decision

WIDTH = 100


def _contact(contact: Contact) -> str:
    parts = [contact.name]
    parts += [p for p in (contact.phone and f"tlf. {contact.phone}", contact.address, contact.online,
                          contact.note) if p]
    return ", ".join(parts)


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=" " * len(indent)) or [indent]


def render_text(decision: Decision) -> str:
    """The Decision as a card: lead, steps with due dates and contacts, warnings, sources, trace."""
    pack = decision.pack
    lines = [
        f"{pack.title} ({decision.municipality}, {decision.on:%d.%m.%Y})",
        f"Ansvarlig: {decision.responsible_name} [{decision.responsible}]",
        "",
        "Næste skridt:" if decision.steps else "Ingen næste skridt.",
    ]
    for number, step in enumerate(decision.steps, 1):
        due = f" (senest {step.due:%d.%m.%Y})" if step.due else ""
        lines += _wrap(f"{step.actor_name}: {step.text}{due}", f"  {number}. ")
        if step.contact:
            lines += _wrap(f"Kontakt: {_contact(step.contact)}", "       ")
    if decision.warnings:
        lines += ["", "Advarsler:"]
        for warning in decision.warnings:
            lines += _wrap(warning.text, "  ! ")
    lines += ["", "Kilder:"]
    for cited in dict.fromkeys(f"{s.document} — {s.section}" for s in decision.sources):
        lines += _wrap(cited, "  - ")
    lines += ["", "Sporing (regler der fyrede):"]
    for entry in decision.trace:
        held = " og ".join(entry.conditions) or "altid"
        note = " [tilsidesat af højere prioritet]" if entry.overridden else ""
        lines += _wrap(f"{entry.rule}{note}: {held}", "  · ")
    lines += ["", f"Regelsæt: {pack.document}, version {pack.version}, sha256 {pack.content_hash[:12]}"]
    return "\n".join(lines)


def render_comparison(comparisons: Sequence[EventComparison], first: str, second: str) -> str:
    """Where two municipalities answer differently: per event, each difference with a situation to route."""
    if not comparisons:
        return f"{first} og {second} dækker ingen fælles begivenheder."
    lines: list[str] = []
    for comparison in comparisons:
        count = len(comparison.differences)
        lines.append(f"{comparison.event}: {comparison.situations} situationer sammenlignet, "
                     f"{count} {'forskel' if count == 1 else 'forskelle'}")
        for difference in comparison.differences:
            if difference.kind == "responsible":
                what = f"ansvarlig: {first} {difference.first}, {second} {difference.second}"
            else:
                only = first if difference.first == "yes" else second
                what = f"skridt {difference.step}: kun {only}"
            many = "situation" if difference.situations == 1 else "situationer"
            lines += _wrap(f"{what} ({difference.situations} {many})", "  - ")
            # One line, unwrapped, so it can be pasted into `ansvar route -`.
            example = {"municipality": first, **difference.example}
            lines.append("      fx " + json.dumps(example, ensure_ascii=False))
        lines.append("")
    return "\n".join(lines).rstrip()
