"""The Decision as an HTML card (ansvar.html.render_html), and how notebooks show a Decision."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

import ansvar
from ansvar.html import render_html
from tests.fixtures import ON

DELIRIUM = {"municipality": "aalborg", "event": "afrusning",
            "withdrawal_symptoms": True, "delirium_tremens": True}
# Rebild, routed on 1 March 2026: the 1-month follow-up was due 21 February (overdue); started late.
COURSE = {"municipality": "rebild", "event": "behandlingsforloeb", "substance": "alkohol",
          "clarifying_conversation_on": "2025-08-04", "treatment_started_on": "2025-08-25",
          "treatment_ended_on": "2026-01-21"}
EVIL = '<script>alert("x")</script> & <img src=x onerror=y>'
VOID = {"br", "img", "hr", "meta", "link", "input", "col", "wbr"}


class _Tags(HTMLParser):
    """Collects start tags and checks that every non-void element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.seen: list[tuple[str, dict[str, str | None]]] = []
        self.problems: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, dict(attrs)))
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.problems.append(f"unbalanced </{tag}>")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Tags:
    tags = _Tags()
    tags.feed(html)
    tags.close()
    return tags


def test_card_shows_lead_steps_deadlines_contacts_warnings_sources_and_pack() -> None:
    """The contract's example: lead name and id, steps with deadlines and contacts, warnings, passages."""
    decision = ansvar.route(DELIRIUM, on=ON)
    html = render_html(decision)
    text = " ".join("".join(parse(html).text).split())
    assert "Ansvarlig: Regionen (Akutmodtagelsen / skadestuen) [region_akutmodtagelse]" in text
    positions = [text.index(" ".join(step.text.split())) for step in decision.steps]
    assert positions == sorted(positions)
    assert text.count("(senest 23.11.2026)") == sum(1 for s in decision.steps if s.due)
    assert "Kontakt: Regionen (Akutmodtagelsen / skadestuen), Regionens akutmodtagelse (skadestue)" in text
    for warning in decision.warnings:
        assert " ".join(warning.text.split()) in text
    tags = parse(html)
    cited = {f"{s.document} — {s.section}" for s in decision.sources}
    assert sum(1 for tag, _ in tags.seen if tag == "details") == len(cited)  # every one has a passage here
    assert sum(1 for tag, _ in tags.seen if tag == "blockquote") == len({s.passage for s in decision.sources})
    for source in decision.sources:
        assert f"{source.document} — {source.section}" in text
        assert source.passage is None or " ".join(source.passage.split()) in text
    assert f"Regelsæt: {decision.pack.document}, version udateret" in text
    assert "lag: region_nordjylland → aalborg" in text
    assert f"sha256 {decision.pack.content_hash[:12]}" in text


def test_card_is_self_contained_balanced_html_without_scripts_or_assets() -> None:
    """Inline styles only: no script, style element, link, image, external URL; every element is closed."""
    for decision in (ansvar.route(DELIRIUM, on=ON), ansvar.route(COURSE, on=dt.date(2026, 3, 1))):
        html = render_html(decision)
        tags = parse(html)
        assert tags.problems == []
        assert tags.open == []
        names = {tag for tag, _ in tags.seen}
        assert names.isdisjoint({"script", "style", "link", "img", "iframe", "object", "embed"})
        assert not [attrs for _, attrs in tags.seen if {"src", "href"} & set(attrs)]
        assert "url(" not in html
        assert "@import" not in html


def test_card_escapes_every_text() -> None:
    """Markup in any text of a Decision (names, steps, contacts, warnings, sources, pack) is shown as text."""
    decision = ansvar.route(DELIRIUM, on=ON)
    step = decision.steps[1]
    assert step.contact is not None
    contact = step.contact.model_copy(update={"name": EVIL, "note": EVIL})
    evil = decision.model_copy(update={
        "responsible_name": EVIL, "responsible": EVIL,
        "steps": (step.model_copy(update={"text": EVIL, "actor_name": EVIL, "contact": contact}),),
        "warnings": tuple(w.model_copy(update={"text": EVIL, "id": EVIL}) for w in decision.warnings),
        "sources": tuple(s.model_copy(update={"document": EVIL, "section": EVIL, "passage": EVIL})
                         for s in decision.sources),
        "pack": decision.pack.model_copy(update={"title": EVIL, "document": EVIL, "version": EVIL}),
    })
    html = render_html(evil)
    assert "<script" not in html
    assert "<img" not in html
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=y&gt;"
    assert html.count(escaped) >= 8
    tags = parse(html)
    assert tags.problems == []
    assert {tag for tag, _ in tags.seen} <= {"div", "span", "strong", "ol", "ul", "li", "br", "details",
                                             "summary", "blockquote", "p"}


def test_overdue_deadline_is_shown_first_and_marked_on_its_step() -> None:
    """A passed deadline: its warning leads the warnings in red, and the step says the deadline passed."""
    decision = ansvar.route(COURSE, on=dt.date(2026, 3, 1))
    ids = [w.id for w in decision.warnings]
    assert "frist_overskredet" in ids
    assert "frist_ikke_overholdt" in ids
    html = render_html(decision)
    warnings = html[html.index(">Advarsler<"):html.index(">Kilder<")]
    first = warnings.split("<div ", 2)[1]
    assert "#ab091e" in first
    assert "&#9888;" in first
    assert "frist_overskredet" in first or "frist_ikke_overholdt" in first
    assert "(frist overskredet 21.02.2026)" in html
    assert "senest 21.02.2026" not in html


def test_card_without_warnings_or_steps_has_no_empty_section() -> None:
    """No warnings: no warnings heading; no steps: says so in Danish."""
    decision = ansvar.route(DELIRIUM, on=ON)
    bare = decision.model_copy(update={"warnings": (), "steps": ()})
    html = render_html(bare)
    assert "Advarsler" not in html
    assert "Ingen næste skridt." in html


def test_decision_shows_itself_in_notebooks() -> None:
    """Decision._repr_mimebundle_ gives the plain-text card and the HTML card; _repr_html_ the HTML one."""
    decision = ansvar.route(DELIRIUM, on=ON)
    bundle = decision._repr_mimebundle_()  # type: ignore[attr-defined]
    assert bundle == {"text/plain": str(decision), "text/html": render_html(decision)}
    assert decision._repr_html_() == render_html(decision)  # type: ignore[attr-defined]
