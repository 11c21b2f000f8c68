"""Plain-text rendering of a Decision, for terminals and logs (it holds no personal data)."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ansvar.decision import Contact, Decision

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
        "Næste skridt:",
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
