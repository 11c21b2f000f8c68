"""A Decision as a compact, self-contained HTML card, for notebooks (`Decision._repr_html_`) and web pages.

Inline CSS only: no scripts, no external assets, no `<style>` element (renderers that strip it, like
GitHub's notebook view, keep the card readable). Every text of the Decision is escaped. Texts are Danish,
as the caseworker reads them.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ansvar.model.decision import Contact, Decision, DecisionWarning, Source

#: Warnings about deadlines: shown first and in red, as the step they name.
OVERDUE_WARNINGS = ("frist_overskredet", "frist_ikke_overholdt")

_CARD = ("font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:14px;"
         "line-height:1.4;color:#1f2933;background:#ffffff;border:1px solid #cbd2d9;border-radius:6px;"
         "padding:12px 16px;max-width:780px")
_TITLE = "margin:0 0 2px 0;font-size:15px;font-weight:600"
_MUTED = "color:#616e7c;font-size:12px"
_LEAD = "margin:8px 0;padding:6px 10px;background:#e3f8ff;border-left:4px solid #2680c2;border-radius:3px"
_HEAD = "margin:10px 0 4px 0;font-size:13px;font-weight:600;text-transform:uppercase;color:#3e4c59"
_LIST = "margin:0;padding-left:22px"
_ITEM = "margin:2px 0"
_CODE = "font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;color:#52606d"
_DUE = "white-space:nowrap;color:#3e4c59"
_LATE = "white-space:nowrap;color:#ab091e;font-weight:600"
_WARN = "margin:2px 0;padding:3px 8px;background:#fffbea;border-left:3px solid #f0b429"
_WARN_LATE = "margin:2px 0;padding:3px 8px;background:#ffe3e3;border-left:3px solid #ab091e;color:#610316"
_QUOTE = "margin:4px 0 6px 12px;padding-left:8px;border-left:2px solid #cbd2d9;color:#3e4c59"
_FOOT = "margin-top:10px;padding-top:6px;border-top:1px solid #e4e7eb;color:#616e7c;font-size:12px"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _date(day: object) -> str:
    return f"{day:%d.%m.%Y}"


def _contact(contact: Contact) -> str:
    parts = [contact.name]
    parts += [p for p in (contact.phone and f"tlf. {contact.phone}", contact.address, contact.online,
                          contact.note) if p]
    return ", ".join(parts)


def _steps(decision: Decision) -> list[str]:
    late = {w.step for w in decision.warnings if w.id in OVERDUE_WARNINGS and w.step}
    if not decision.steps:
        return [f'<p style="{_ITEM}">Ingen næste skridt.</p>']
    out = [f'<ol style="{_LIST}">']
    for step in decision.steps:
        due = ""
        if step.due is not None:
            overdue = f"{step.actor}.{step.action}" in late
            label = "frist overskredet" if overdue else "senest"
            due = f' <span style="{_LATE if overdue else _DUE}">({label} {_date(step.due)})</span>'
        contact = (f'<br><span style="{_MUTED}">Kontakt: {_e(_contact(step.contact))}</span>'
                   if step.contact else "")
        out.append(f'<li style="{_ITEM}"><strong>{_e(step.actor_name)}</strong>: {_e(step.text)}{due}'
                   f"{contact}</li>")
    out.append("</ol>")
    return out


def _warning(warning: DecisionWarning) -> str:
    if warning.id in OVERDUE_WARNINGS:  # its text names the step, the deadline and the days late
        return (f'<div style="{_WARN_LATE}">&#9888; <strong>{_e(warning.text)}</strong> '
                f'<span style="{_CODE}">{_e(warning.id)}</span></div>')
    return f'<div style="{_WARN}">{_e(warning.text)} <span style="{_CODE}">{_e(warning.id)}</span></div>'


def _sources(sources: Iterable[Source]) -> list[str]:
    """One line per document — section (as the text card), its passages folded in a <details>."""
    passages: dict[str, list[str]] = {}
    for source in sources:
        known = passages.setdefault(f"{source.document} — {source.section}", [])
        if source.passage and source.passage not in known:
            known.append(source.passage)
    out = [f'<ul style="{_LIST}">']
    for cited, quoted in passages.items():
        if not quoted:
            out.append(f'<li style="{_ITEM}">{_e(cited)}</li>')
            continue
        quotes = "".join(f'<blockquote style="{_QUOTE}">{_e(passage)}</blockquote>' for passage in quoted)
        out.append(f'<li style="{_ITEM}"><details><summary style="cursor:pointer">{_e(cited)}</summary>'
                   f"{quotes}</details></li>")
    out.append("</ul>")
    return out


def render_html(decision: Decision) -> str:
    """The Decision as an HTML card: lead, steps with deadlines and contacts, warnings, sources, pack."""
    pack = decision.pack
    html = [
        f'<div class="ansvar-decision" lang="da" style="{_CARD}">',
        f'<div style="{_TITLE}">{_e(pack.title)}</div>',
        (f'<div style="{_MUTED}">{_e(decision.municipality)} · {_e(decision.event)} · '
        f"{_date(decision.on)}</div>"),
        (f'<div style="{_LEAD}">Ansvarlig: <strong>{_e(decision.responsible_name)}</strong> '
        f'<span style="{_CODE}">[{_e(decision.responsible)}]</span></div>'),
        f'<div style="{_HEAD}">Næste skridt</div>',
        *_steps(decision),
    ]
    if decision.warnings:
        # Deadlines first: an overdue step is what the reader must see before anything else.
        ordered = sorted(decision.warnings, key=lambda w: w.id not in OVERDUE_WARNINGS)
        html += [f'<div style="{_HEAD}">Advarsler</div>', *map(_warning, ordered)]
    html += [f'<div style="{_HEAD}">Kilder</div>', *_sources(decision.sources)]
    layers = " → ".join(layer.layer for layer in pack.layers)
    html += [(f'<div style="{_FOOT}">Regelsæt: {_e(pack.document)}, version {_e(pack.version)}'
             f'{" · lag: " + _e(layers) if layers else ""} · '
             f'<span style="{_CODE}">sha256 {_e(pack.content_hash[:12])}</span></div>'),
             "</div>"]
    return "\n".join(html)
