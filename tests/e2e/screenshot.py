"""The README's screenshot: the page's decision for the delirium-tremens case, as headless Chromium draws it.

    python -m tests.e2e.screenshot [OUT]     (default docs/img/afgoerelse-delirium-tremens.png)

It serves the app on 127.0.0.1, interviews the page for Aalborg's afrusning with withdrawal symptoms and
delirium tremens (every other fact at its default, as `DELIRIUM_TREMENS` says) and writes the page as a PNG.
The browser test calls `take` into a temporary folder (no pixel comparison: fonts differ between machines).
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from ansvar.server import create_app
from tests.e2e.browser import Guard, interview, launch, start
from tests.fixtures.live import LiveServer
from tests.tools import find

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "img" / "afgoerelse-delirium-tremens.png"
#: The contract's example, every other fact the page asks at its default.
DELIRIUM_TREMENS = {
    "municipality": "aalborg", "event": "afrusning", "withdrawal_symptoms": True, "delirium_tremens": True,
    "seizures": False, "complicated_course_suspected": False, "wants_medical_help": True,
    "residence": "eget_hjem", "prescription_channel": "fremmoede", "home_nursing_requested": False,
    "fixed_in_fmk": False, "administrations_per_day": None, "wants_treatment_after": False,
    "consent_medcom": False, "anonymous": False, "minor_children": False,
}
WIDTH = 1200


def shot(page: Page, out: Path) -> None:
    """The page's screenshot, the lead's passage unfolded (to show that passages are there)."""
    page.wait_for_load_state("load")
    page.locator("#afgoerelse .ansvarlig details.kilde").evaluate("d => d.open = true")
    page.screenshot(path=str(out), full_page=True)


def take(browser: Browser, url: str, out: Path) -> None:
    """Interview the page at `url` for the delirium-tremens case and write its screenshot to `out`."""
    context = browser.new_context(viewport={"width": WIDTH, "height": 900}, device_scale_factor=1)
    guard = Guard(context)
    try:
        page = context.new_page()
        start(page, url, "aalborg", "afrusning")
        interview(page, DELIRIUM_TREMENS)
        shot(page, out)
    finally:
        context.close()
    guard.check()


def main(argv: list[str]) -> int:
    chromium = find("chromium")
    if chromium is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)  # noqa: T201
        return 1
    out = Path(argv[0]) if argv else SCREENSHOT
    with LiveServer(create_app()) as server, sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            take(browser, server.url, out)
        finally:
            browser.close()
    print(out)  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
