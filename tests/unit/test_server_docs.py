"""GET /docs without internet: Swagger UI's files come from this server, and headless Chromium draws it."""

from __future__ import annotations

import html
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from ansvar.server import create_app
from tests.tools import system_tool
from tests.unit.test_server import PROBLEM, _LiveServer


@pytest.fixture(scope="module")
def live() -> Iterator[_LiveServer]:
    """The service over the shipped packs, served by uvicorn for the whole module."""
    with _LiveServer(create_app()) as server:
        yield server


@pytest.fixture
def client(live: _LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        yield http


# --- /docs: Swagger UI without internet ------------------------------------------------------------------


_SENSIBLE = {".js": {"text/javascript", "application/javascript"}, ".css": {"text/css"},
             ".png": {"image/png"}, ".ico": {"image/x-icon", "image/vnd.microsoft.icon"}}


def test_docs_assets_are_same_origin(live: _LiveServer, client: httpx.Client) -> None:
    """Every src/href of /docs, its OpenAPI and its OAuth2 redirect are on this server and answer 200."""
    page = client.get("/docs")
    assert page.status_code == 200
    assert "://" not in page.text  # no absolute URL: nothing on another host
    links = [html.unescape(v) for v in re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""", page.text)]
    assert {Path(urlsplit(link).path).suffix for link in links} >= {".js", ".css"}
    origin = urlsplit(live.url)
    for link in links:
        url = urlsplit(urljoin(f"{live.url}/docs", link))
        assert (url.scheme, url.netloc) == (origin.scheme, origin.netloc), link
        asset = client.get(url.geturl())
        assert asset.status_code == 200, link
        assert asset.content
        media_type = asset.headers["content-type"].split(";")[0].strip()
        assert media_type in _SENSIBLE[Path(url.path).suffix], (link, media_type)
    openapi = re.findall(r"""\burl:\s*'([^']+)'""", page.text)
    assert openapi == ["/openapi.json"]
    assert client.get(openapi[0]).json()["info"]["title"] == "ansvar"
    redirect = re.findall(r"""oauth2RedirectUrl:\s*window\.location\.origin\s*\+\s*'([^']+)'""", page.text)
    assert len(redirect) == 1
    oauth = client.get(redirect[0])
    assert (oauth.status_code, oauth.headers["content-type"].split(";")[0]) == (200, "text/html")
    assert "swaggerUIRedirectOauth2" in oauth.text


def test_redoc_is_off(client: httpx.Client) -> None:
    """/redoc, which would load ReDoc from a CDN, is not served: a 404 problem."""
    response = client.get("/redoc")
    assert (response.status_code, response.headers["content-type"]) == (404, PROBLEM)
    assert (response.json()["type"], response.json()["error"]) == ("about:blank", "HTTPException")


def test_docs_render_offline_in_chromium(live: _LiveServer, client: httpx.Client, tmp_path: Path) -> None:
    """Headless Chromium, with no host but 127.0.0.1 resolvable, renders Swagger UI with every operation."""
    chromium = system_tool("chromium")
    live.records.lines.clear()
    done = subprocess.run(  # noqa: S603 - the system's Chromium on our own page
        [str(chromium), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}",
         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",  # no host but this one resolves
         "--virtual-time-budget=15000", "--dump-dom", f"{live.url}/docs"],
        capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    dom = done.stdout.decode()
    assert "/route" not in client.get("/docs").text  # what follows was drawn by Swagger UI, not sent
    spec = client.get("/openapi.json").json()
    drawn = set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))
    assert drawn == set(spec["paths"])
    assert "/route" in drawn
    assert "/events/{municipality}" in drawn
    time.sleep(0.05)  # the access line is written after the response is sent
    for fetched in ("/openapi.json", "/swagger-ui-bundle.js", "/swagger-ui.css"):
        assert re.search(rf'"GET \S*{re.escape(fetched)} HTTP/1.1" 200', live.records.text), fetched
