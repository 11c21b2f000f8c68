"""Headless Chromium for the page's browser tests: the system's Chromium via Playwright, kept on 127.0.0.1.

`launch` starts the system Chromium (`executable_path`, never a browser Playwright downloads), with the
flags that keep it from calling home. `Guard` routes a context's requests: every one not to 127.0.0.1
is aborted and recorded, and every console error (a Content-Security-Policy refusal among them) is
recorded, so a test asserts both lists empty. `interview` answers the page's questions from a complete
situation, as a person would, until the page asks no more.

`python -m tests.e2e.screenshot` writes the README's screenshot with the same helpers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, Route

#: The flags the tests' Chromium runs with: headless, and no background connections (this network refuses
#: them, and a test must not depend on them anyway).
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")
LOCAL = "127.0.0.1"
#: Every URL but this machine's: what the guard's route catches. Matched by Playwright's driver itself, so
#: the pages' own requests to 127.0.0.1 pass without a round trip through Python (the tests run faster).
ELSEWHERE = re.compile(r"^(?!https?://127\.0\.0\.1[:/])")


def launch(playwright: Playwright, chromium: Path) -> Browser:
    """The system's Chromium, headless."""
    return playwright.chromium.launch(executable_path=str(chromium), args=list(CHROMIUM_ARGS))


class Guard:
    """A context's requests kept on 127.0.0.1 (others aborted, recorded) and its console errors recorded."""

    def __init__(self, context: BrowserContext) -> None:
        self.elsewhere: list[str] = []
        self.errors: list[str] = []
        self.context = context
        context.route(ELSEWHERE, self._route)
        context.on("page", self.watch)

    def _route(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == LOCAL:  # the pattern lets none through; should one come, it may pass
            route.continue_()
        else:
            self.elsewhere.append(url)
            route.abort()

    def watch(self, page: Page) -> Page:
        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.errors.append(message.text)

        page.on("console", console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        return page

    def check(self) -> None:
        """Nothing went elsewhere, and the page logged no error (a refused script or style would)."""
        assert self.elsewhere == [], self.elsewhere
        assert self.errors == [], self.errors


def submit(page: Page, selector: str) -> None:
    """Press a submit button and wait for the page it brings (its DOM: the tests read that)."""
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.click(selector)


#: In one round trip: the fact the page asks (None when it asks none), its type, and an error shown.
_STATE = """() => {
  const asked = document.querySelector("fieldset.svar");
  const error = document.querySelector("p.fejl");
  return {fact: asked && asked.dataset.fact, type: asked && asked.dataset.type,
          error: error && error.textContent};
}"""


def interview(page: Page, situation: dict[str, Any], *, limit: int = 60) -> list[str]:
    """Answer each question the page asks from `situation` until it asks no more; the facts asked, in turn."""
    asked: list[str] = []
    for _ in range(limit):
        state = page.evaluate(_STATE)
        assert state["error"] is None, state["error"]
        fact = state["fact"]
        if fact is None:
            return asked
        assert fact not in asked, f"{fact} asked twice"
        asked.append(fact)
        value = situation[fact]
        if state["type"] in {"boolean", "enum"}:
            page.check(f"fieldset.svar input[type=radio][value='{json.dumps(value)}']")
            submit(page, "button[value=answer]")
        elif value is None:
            submit(page, "button[value=empty]")
        else:
            page.fill("#svar-felt", str(value))
            submit(page, "button[value=answer]")
    raise AssertionError(f"still asking after {limit} answers")


def answered(page: Page) -> dict[str, Any]:
    """The situation the page's form carries: its municipality, event and the answers so far."""
    fields: dict[str, str] = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll("form.interview input[type=hidden]")]
                                    .map(i => [i.name, i.value]))""")
    situation: dict[str, Any] = {"municipality": fields["municipality"], "event": fields["event"]}
    situation.update((name.removeprefix("fact."), json.loads(value)) for name, value in fields.items()
                     if name.startswith("fact."))
    return situation


def start(page: Page, url: str, municipality: str, event: str) -> None:
    """Open the start page and choose a municipality's event."""
    page.goto(f"{url}/")
    page.check(f"#pakke-{municipality}-{event}")
    submit(page, "form.start button[type=submit]")
