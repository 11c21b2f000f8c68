"""The caseworker's page in a real browser: headless Chromium through Playwright, nothing but 127.0.0.1.

One server and one browser for the module. Every test's context aborts and records any request not to
127.0.0.1 and records console errors (a refused script or style among them), and asserts both lists empty.
Skipped with a reason where Chromium is not installed; a failure where ANSVAR_REQUIRE_TOOLS requires it (CI).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

import ansvar
from ansvar.server import create_app
from tests.e2e.browser import Guard, answered, interview, launch, start, submit
from tests.e2e.screenshot import DELIRIUM_TREMENS, SCREENSHOT, WIDTH, shot
from tests.fixtures.live import LiveServer
from tests.tools import system_tool

ROOT = Path(__file__).resolve().parents[2]
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FIRST_DATE = dt.date(2026, 9, 1)  # a complete situation's dates: from here, 9 days apart in the event's order


def _packs() -> list[tuple[str, str]]:
    router = ansvar.default_router()
    return [(m, e) for m in router.municipalities() for e in router.events(m)]


def _examples() -> dict[tuple[str, str], dict[str, Any]]:
    """The example situations (examples/), by municipality and event."""
    found = {}
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        situation = yaml.safe_load(path.read_text(encoding="utf-8"))
        found.setdefault((situation["municipality"], situation["event"]), situation)
    return found


def complete_situation(municipality: str, event: str) -> dict[str, Any]:
    """A situation stating every fact: the pack's example where there is one, each other fact its default.

    Booleans and enumerations take the event's default (false, or the first value), integers their
    minimum, dates follow one another 9 days apart in the event's order (each after those it may not precede).
    """
    router = ansvar.default_router()
    facts = router.pack(municipality, event).definition.facts
    situation = dict(_examples().get((municipality, event), {"municipality": municipality, "event": event}))
    day = FIRST_DATE
    for fact, spec in facts.items():
        if fact in situation:
            continue
        if spec.type == "date":
            situation[fact] = day.isoformat()
            day += dt.timedelta(days=9)
        elif spec.type == "enum":
            situation[fact] = spec.default if spec.default is not None else next(iter(spec.values or {}))
        elif spec.type == "integer":
            situation[fact] = spec.minimum if spec.minimum is not None else 0
        else:
            situation[fact] = spec.default_value
    router.parse_situation(situation)  # valid, or the test's own data is wrong
    return situation


@pytest.fixture(scope="module")
def chromium() -> Path:
    return system_tool("chromium")


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    with LiveServer(create_app()) as server:
        yield server


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = launch(playwright, chromium)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shared(browser: Browser) -> Iterator[tuple[BrowserContext, Guard]]:
    """One context for the module's plain tests, its requests kept on 127.0.0.1 (the page sets no cookie
    and keeps no storage: a new page of it starts as a new person's would)."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 900})
    guard = Guard(context)
    yield context, guard
    context.close()


@pytest.fixture
def guarded(shared: tuple[BrowserContext, Guard]) -> Iterator[tuple[Page, Guard]]:
    """A new page; after the test, nothing went elsewhere and nothing was refused or failed on it."""
    context, guard = shared
    guard.elsewhere.clear()
    guard.errors.clear()
    page = context.new_page()
    yield page, guard
    page.close()
    guard.check()
    assert context.cookies() == []


@pytest.fixture
def page(guarded: tuple[Page, Guard]) -> Page:
    return guarded[0]


def _shown(page: Page) -> dict[str, Any]:
    """What the page's decision says: lead, steps (actor.action, text, due) in order, warnings."""
    section = page.locator("#afgoerelse")
    steps = [(li.get_attribute("data-step"), li.locator(".tekst").inner_text(), li.get_attribute("data-due"))
             for li in section.locator("li.skridt").all()]
    warnings = sorted((li.get_attribute("data-warning"), li.locator(".tekst").inner_text())
                      for li in section.locator("li[data-warning]").all())
    return {"responsible": section.get_attribute("data-responsible"),
            "name": section.locator(".ansvarlig .navn").inner_text(), "steps": steps, "warnings": warnings,
            "settled": section.get_attribute("data-settled")}


def _expected(decision: ansvar.Decision) -> dict[str, Any]:
    return {"responsible": decision.responsible, "name": decision.responsible_name,
            "steps": [(f"{s.actor}.{s.action}", s.text, str(s.due or "")) for s in decision.steps],
            "warnings": sorted((w.id, w.text) for w in decision.warnings), "settled": "true"}


@pytest.mark.parametrize(("municipality", "event"), _packs())
def test_interview_reaches_the_routed_decision(page: Page, live: LiveServer, municipality: str,
                                               event: str) -> None:
    """Answering the page's questions from a complete situation ends on `ansvar.route`'s decision for it."""
    situation = complete_situation(municipality, event)
    start(page, live.url, municipality, event)
    interview(page, situation)
    assert _shown(page) == _expected(ansvar.route(situation))


def test_keyboard_only(page: Page, live: LiveServer) -> None:
    """Tab, arrows, Space and Enter alone choose the event, answer every question and open the explanation."""
    page.goto(f"{live.url}/")
    for _ in range(40):
        if page.evaluate("document.activeElement.name") == "pack":
            break
        page.keyboard.press("Tab")
    target = page.locator("#pakke-aalborg-afrusning")
    while not target.evaluate("e => e === document.activeElement"):
        page.keyboard.press("ArrowDown")  # moves through the group, choosing as it goes
    page.keyboard.press("Space")
    assert target.is_checked()
    with page.expect_navigation():
        page.keyboard.press("Enter")  # the form's default button: Start
    for _ in range(20):
        fieldset = page.locator("fieldset.svar")
        if fieldset.count() == 0:
            break
        fact = str(fieldset.get_attribute("data-fact"))
        wanted = json.dumps(DELIRIUM_TREMENS[fact])
        radios = fieldset.locator("input[type=radio]")
        assert radios.first.evaluate("e => e === document.activeElement"), "the first answer has the focus"
        page.keyboard.press("Space")
        for _ in range(radios.count()):
            if page.evaluate("document.activeElement.value") == wanted:
                break
            page.keyboard.press("ArrowDown")
        assert fieldset.locator(f"input[value='{wanted}']").is_checked()
        with page.expect_navigation():
            page.keyboard.press("Enter")  # submits with the default button: Svar
    assert _shown(page) == _expected(ansvar.route(DELIRIUM_TREMENS))
    for _ in range(80):
        if page.evaluate("document.activeElement.textContent") == "Forklar":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.locator("details.forklar").evaluate("d => d.open")
    assert page.locator("pre.forklaring").is_visible()


def _axe(page: Page) -> None:
    result = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
    assert result.violations_count == 0, result.generate_report()


def test_accessibility_audit(page: Page, live: LiveServer) -> None:
    """axe-core finds no WCAG 2.1 A/AA violation on the start page, a question page and a decision page."""
    page.goto(f"{live.url}/")
    _axe(page)
    start(page, live.url, "rebild", "behandlingsforloeb")  # a date question first
    assert page.locator("input[type=date]").count() == 1
    _axe(page)
    submit(page, "button[value=unknown]")  # "Ved ikke": a question, answers, the decision with open questions
    page.wait_for_load_state("load")  # its style sheet applied: contrast is measured on it
    assert page.locator("#afgoerelse [data-open]").count() >= 1
    page.locator("details").evaluate_all("ds => ds.forEach(d => d.open = true)")  # the folded parts too
    _axe(page)


def test_ved_ikke_stays_open_and_skip_shows_the_decision(page: Page, live: LiveServer) -> None:
    """"Ved ikke" leaves the fact an open question of the decision; "Spring over" shows it without asking."""
    start(page, live.url, "rebild", "udredning")
    first = str(page.locator("fieldset.svar").get_attribute("data-fact"))
    page.check("fieldset.svar input[value='?']")
    submit(page, "button[value=answer]")
    assert page.locator(f"#afgoerelse [data-open='{first}']").count() == 1
    assert page.locator("fieldset.svar").get_attribute("data-fact") != first
    submit(page, "button[value=skip]")
    assert page.locator("fieldset.svar").count() == 0
    assert page.locator("#afgoerelse").get_attribute("data-settled") == "false"
    expected = ansvar.route({"municipality": "rebild", "event": "udredning"})
    assert page.locator("#afgoerelse").get_attribute("data-responsible") == expected.responsible


def test_guard_catches_every_other_host(page: Page, guarded: tuple[Page, Guard]) -> None:
    """The guard aborts and records a request to any host but 127.0.0.1 (and the test then clears it)."""
    guard = guarded[1]
    page.set_content('<img src="http://192.0.2.1/x.png" alt=""><img src="https://localhost/y.png" alt="">')
    page.wait_for_load_state("load")
    assert sorted(guard.elsewhere) == ["http://192.0.2.1/x.png", "https://localhost/y.png"]
    guard.elsewhere.clear()
    guard.errors.clear()  # the aborted images' console errors


def test_decision_copy_print_and_screenshot(browser: Browser, live: LiveServer, tmp_path: Path) -> None:
    """Delirium tremens: "Kopiér som tekst" copies the text card, the print view fits one A4 page, and the
    README's screenshot script still works (the checked-in PNG exists; no pixel comparison)."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 900},
                                  permissions=["clipboard-read", "clipboard-write"])
    guard = Guard(context)
    try:
        page = context.new_page()
        start(page, live.url, "aalborg", "afrusning")
        interview(page, DELIRIUM_TREMENS)
        page.click("#kopier")
        page.locator("#kopieret").filter(has_text="kopieret").wait_for()
        # The text card of the page's own decision: on the facts it asked (its trace shows no others).
        assert page.evaluate("navigator.clipboard.readText()") == str(ansvar.route(answered(page)))
        shot(page, tmp_path / "shot.png")
        page.emulate_media(media="print")
        assert not page.locator("form.interview").is_visible()
        pdf = page.pdf(format="A4", prefer_css_page_size=True)
        assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1
    finally:
        context.close()
    guard.check()
    for png in (SCREENSHOT, tmp_path / "shot.png"):
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width == WIDTH
        assert 900 <= height <= 4000
        assert 50_000 < len(data) < 2_000_000


def test_works_without_javascript(browser: Browser, live: LiveServer) -> None:
    """With JavaScript off an interview still reaches the decision; only the copy button stays hidden."""
    context = browser.new_context(java_script_enabled=False)
    guard = Guard(context)
    try:
        page = context.new_page()
        situation = complete_situation("rebild", "paaroerendesamtale")
        start(page, live.url, "rebild", "paaroerendesamtale")
        interview(page, situation)
        assert _shown(page) == _expected(ansvar.route(situation))
        assert not page.locator("#kopier").is_visible()
        assert page.locator("#journaltekst").input_value() == str(ansvar.route(answered(page)))
    finally:
        context.close()
    guard.check()
