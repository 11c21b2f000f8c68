"""The caseworker's page at `/`, over HTTP without a browser: headers, markup, form handling, privacy.

The browser tests (tests/e2e/) drive the same page through Chromium; these pin what a response holds.
"""

from __future__ import annotations

import ast
import html
import json
import re
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import httpx
import pytest

import ansvar
from ansvar.render.page import MAX_FORM_BYTES, STATIC_FILES
from ansvar.server import PAGE_HEADERS, create_app
from tests.fixtures.live import LiveServer
from tests.fixtures.towns import NORDBY, town_afrusning, write_town

CPR = "010203-1234"  # a CPR-shaped value: never in a response or a log line
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    """The service over the shipped packs, for the whole module."""
    with LiveServer(create_app()) as server:
        yield server


@pytest.fixture
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        yield http


def _post(client: httpx.Client, fields: list[tuple[str, str]]) -> httpx.Response:
    return client.post("/", content=httpx.QueryParams(fields).__str__().encode(), headers=FORM)


def _hidden(page: str) -> list[tuple[str, str]]:
    """The page's hidden fields (its state), in order."""
    return [(html.unescape(n), html.unescape(v))
            for n, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)]


def _asked(page: str) -> str | None:
    found = re.search(r'<fieldset class="svar" data-fact="([^"]+)"', page)
    return found[1] if found else None


def _page_headers(response: httpx.Response) -> None:
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in response.headers


def test_headers_pin_the_policy() -> None:
    """The page's policy is exactly the strict one: no inline script or style, no framing."""
    assert PAGE_HEADERS["Content-Security-Policy"] == CSP


def test_start_page_lists_every_event_in_danish(client: httpx.Client) -> None:
    """GET / is a Danish page listing every municipality's events by their Danish titles."""
    response = client.get("/")
    assert response.status_code == 200
    _page_headers(response)
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    assert page.startswith('<!DOCTYPE html>\n<html lang="da">')
    for municipality in ansvar.default_router().municipalities():
        for event, title in ansvar.events(municipality).items():
            assert f'value="{municipality}/{event}"' in page
            assert html.escape(title) in page
    assert 'method="post" action="/"' in page


def test_no_inline_script_or_style_and_nothing_from_elsewhere(client: httpx.Client) -> None:
    """The page has no inline script, style or handler, and links only this server's own files."""
    first = client.get("/").text
    question = _post(client, [("pack", "aalborg/afrusning")]).text
    decision = _post(client, [("pack", "aalborg/afrusning"), ("action", "skip")]).text
    for page in (first, question, decision):
        assert "style=" not in page
        assert "<style" not in page
        assert re.search(r"<script(?![^>]*\bsrc=)", page) is None
        assert re.search(r"\son[a-z]+=", page) is None
        for link in re.findall(r'(?:href|src|action)="([^"]*)"', page):
            assert link.startswith(("/", "#", "tel:")), link


def test_static_files_ship_in_the_package(client: httpx.Client) -> None:
    """CSS, JS and icon come from the package, with their media types, the page's headers and long caching."""
    page = client.get("/").text
    for name, media_type in STATIC_FILES.items():
        shipped = (resources.files("ansvar.render") / "static" / name).read_bytes()
        links = re.findall(rf'"(/static/[^"]+/{re.escape(name)})"', page)
        assert links, name
        response = client.get(links[0])
        assert response.status_code == 200
        assert response.content == shipped
        assert response.headers["content-type"] == media_type
        _page_headers(response)
        fetched = shipped.replace(b'xmlns="http://www.w3.org/2000/svg"', b"")  # a name, never fetched
        assert b"http://" not in fetched
        assert b"https://" not in fetched
    css = (resources.files("ansvar.render") / "static" / "page.css").read_text(encoding="utf-8")
    assert "@media print" in css
    assert "size: A4" in css


def test_a_pack_chosen_asks_next_question(client: httpx.Client) -> None:
    """Choosing a pack asks the fact `next_question` gives, with its Danish question and labelled values."""
    response = _post(client, [("pack", "rebild/udredning")])
    assert response.status_code == 200
    _page_headers(response)
    assert response.headers["cache-control"] == "no-store"
    question = ansvar.next_question({"municipality": "rebild", "event": "udredning"})
    assert question is not None
    assert _asked(response.text) == question.fact
    assert html.escape(question.question) in response.text
    for value in question.values:
        assert f'value="{html.escape(json.dumps(value.value))}"' in response.text
        assert html.escape(value.label) in response.text
    assert ">Ved ikke</label>" in response.text
    assert ("municipality", "rebild") in _hidden(response.text)


def test_answers_travel_in_the_form_and_ved_ikke_stays_open(client: httpx.Client) -> None:
    """An answer becomes a hidden field; "Ved ikke" is passed as unknown and stays an open question."""
    page = _post(client, [("pack", "aalborg/afrusning")]).text
    fact = _asked(page)
    assert fact is not None
    state = [f for f in _hidden(page) if f[0] != "asked"]
    after = _post(client, [*state, ("asked", fact), ("action", "unknown")]).text
    assert ("unknown", fact) in _hidden(after)
    assert _asked(after) not in {fact, None}
    expected = ansvar.route({"municipality": "aalborg", "event": "afrusning"})
    assert f'data-open="{fact}"' in after
    assert f'data-responsible="{expected.responsible}"' in after
    second = _asked(after)
    assert second is not None
    state = [f for f in _hidden(after) if f[0] != "asked"]
    answered = _post(client, [*state, ("asked", second), ("answer", "true"), ("action", "answer")]).text
    assert (f"fact.{second}", "true") in _hidden(answered)
    assert ("unknown", fact) in _hidden(answered)


def test_decision_matches_route_and_shows_text_and_explanation(client: httpx.Client) -> None:
    """Delirium tremens: the page's lead, steps and warnings are `ansvar.route`'s, with its text card."""
    fields = [("municipality", "aalborg"), ("event", "afrusning"), ("fact.withdrawal_symptoms", "true"),
              ("fact.delirium_tremens", "true"), ("action", "skip")]
    page = _post(client, fields).text
    decision = ansvar.route({"municipality": "aalborg", "event": "afrusning", "withdrawal_symptoms": True,
                             "delirium_tremens": True})
    assert f'data-responsible="{decision.responsible}"' in page
    steps = re.findall(r'<li class="skridt" data-step="([^"]+)" data-due="([^"]*)"', page)
    assert steps == [(f"{s.actor}.{s.action}", str(s.due or "")) for s in decision.steps]
    deadlines = {"frist_overskredet", "frist_ikke_overholdt"}  # shown first
    assert re.findall(r'data-warning="([^"]+)"', page) == sorted(
        (w.id for w in decision.warnings), key=lambda w: w not in deadlines)
    assert html.escape(str(decision)) in page
    assert html.escape(decision.explain()) in page
    assert "<summary>Forklar</summary>" in page


def test_phone_numbers_are_tel_links(client: httpx.Client) -> None:
    """A contact's phone number is a tel: link with the Danish country code."""
    decision = ansvar.route({"municipality": "aalborg", "event": "opioid_substitution"})
    phones = {s.contact.phone for s in decision.steps if s.contact and s.contact.phone}
    assert phones, "the example has a contact with a phone"
    page = _post(client, [("pack", "aalborg/opioid_substitution"), ("action", "skip")]).text
    for phone in phones:
        digits = phone.replace(" ", "")
        assert f'<a href="tel:+45{digits}">{phone}</a>' in page


def test_skip_shows_the_decision_and_resume_asks_again(client: httpx.Client) -> None:
    """"Spring over / vis afgørelse" ends the questions (the state says so); "Fortsæt" asks again."""
    skipped = _post(client, [("pack", "aalborg/afrusning"), ("action", "skip")]).text
    assert _asked(skipped) is None
    assert ("skipped", "1") in _hidden(skipped)
    assert 'id="afgoerelse"' in skipped
    assert 'value="resume"' in skipped
    resumed = _post(client, [*_hidden(skipped), ("action", "resume")]).text
    assert _asked(resumed) is not None


def test_undo_takes_an_answer_back(client: httpx.Client) -> None:
    """"Ret" removes the answer from the form, so the page asks for it again."""
    fields = [("municipality", "aalborg"), ("event", "afrusning"), ("fact.delirium_tremens", "true"),
              ("action", "undo.delirium_tremens")]
    page = _post(client, fields).text
    assert not any(name == "fact.delirium_tremens" for name, _ in _hidden(page))


@pytest.mark.parametrize(("fields", "says"), [
    ([("pack", "nowhere/afrusning")], "Vælg en kommune og en hændelse."),
    ([("municipality", "aalborg"), ("event", "afrusning"), ("fact.no_such_fact", "true")],
     "Formularen indeholder et felt, som hændelsen ikke har."),
    ([("municipality", "aalborg"), ("event", "afrusning"), ("fact.seizures", CPR)],
     "Svaret på »Kramper« kunne ikke læses."),
    ([("municipality", "aalborg"), ("event", "afrusning"), ("fact.seizures", json.dumps(CPR))],
     "Svaret på »Kramper« passer ikke til spørgsmålet."),
    ([("municipality", "aalborg"), ("event", "afrusning"), ("fact.seizures", "true"),
      ("fact.seizures", "false")], "Svaret på »Kramper« er givet mere end én gang."),
    ([("municipality", "aalborg"), ("event", "afrusning"), (f"fact.{CPR}", "true")],
     "Formularen indeholder et felt, som hændelsen ikke har."),
    ([("municipality", "aalborg"), ("event", "afrusning"), ("unknown", CPR)],
     "Formularen indeholder et felt, som hændelsen ikke har."),
])
def test_malformed_form_is_one_danish_line(client: httpx.Client, live: LiveServer,
                                           fields: list[tuple[str, str]], says: str) -> None:
    """A form the page cannot use gives the start page again, 400, with one Danish line and no value."""
    live.records.lines.clear()
    response = _post(client, fields)
    assert response.status_code == 400
    _page_headers(response)
    assert f'<p class="fejl" role="alert">{html.escape(says)}</p>' in response.text
    assert CPR not in response.text
    assert "Traceback" not in response.text
    time.sleep(0.05)  # the access line is written after the response
    assert CPR not in live.records.text


@pytest.mark.parametrize(("fields", "says"), [
    ([("asked", "seizures"), ("action", "answer")], "Vælg eller skriv et svar som svar på »Kramper«."),
    ([("asked", "seizures"), ("answer", CPR), ("action", "answer")], "Svaret på »Kramper« kunne ikke læses."),
    ([("asked", "administrations_per_day"), ("answer", CPR), ("action", "answer")],
     "Svaret på »Udleveringer pr. døgn« skal være et helt tal."),
    ([("asked", "administrations_per_day"), ("answer", "-3"), ("action", "answer")],
     "Svaret på »Udleveringer pr. døgn« passer ikke til spørgsmålet."),
    ([("asked", "seizures"), ("answer", "true"), ("action", "press")],
     "Formularen indeholder en knap, siden ikke kender."),
])
def test_refused_answer_asks_again(client: httpx.Client, fields: list[tuple[str, str]], says: str) -> None:
    """An answer that does not fit asks the same question again with one Danish line naming the fact."""
    response = _post(client, [("municipality", "aalborg"), ("event", "afrusning"), *fields])
    assert response.status_code == 200
    assert f'<p class="fejl" role="alert">{html.escape(says)}</p>' in response.text
    assert CPR not in response.text


def test_dates_out_of_order_are_named(client: httpx.Client) -> None:
    """A date before the one it may not precede is refused, naming both facts by their Danish labels."""
    fields = [("municipality", "rebild"), ("event", "behandlingsforloeb"),
              ("fact.clarifying_conversation_on", '"2026-03-01"'), ("asked", "treatment_started_on"),
              ("answer", "2026-02-01"), ("action", "answer")]
    page = _post(client, fields).text
    assert "kan ikke ligge før »Afklarende samtale holdt«" in page or "kan ikke ligge før »" in page
    assert not any(name == "fact.treatment_started_on" for name, _ in _hidden(page))


def test_not_a_form_and_too_large(client: httpx.Client) -> None:
    """A POST that is not a form is a 415 page, and one over the limit a 400 page: each says it in Danish."""
    response = client.post("/", json={"municipality": "aalborg"})
    assert response.status_code == 415
    _page_headers(response)
    assert 'class="fejl"' in response.text
    big = _post(client, [("pack", "aalborg/afrusning"), ("x", "a" * MAX_FORM_BYTES)])
    assert big.status_code == 400
    assert "Formularen er for stor." in big.text


def test_nothing_of_a_situation_reaches_the_log(client: httpx.Client, live: LiveServer) -> None:
    """An interview's answers never reach the server's log: the access line says only `POST /`."""
    live.records.lines.clear()
    fields = [("municipality", "aalborg"), ("event", "afrusning"), ("fact.delirium_tremens", "true"),
              ("fact.withdrawal_symptoms", "true"), ("asked", "residence"), ("answer", '"forsorgshjem"'),
              ("action", "answer")]
    assert _post(client, fields).status_code == 200
    time.sleep(0.05)
    log = live.records.text
    assert '"POST / HTTP/1.1" 200' in log
    for value in ("delirium", "forsorgshjem", "withdrawal"):
        assert value not in log


def test_review_warning_is_prominent_and_own_layers_show(tmp_path: Path) -> None:
    """A town's own layer (as --add-rules loads it) is on the page, its guide's passed review date on top."""
    rules = write_town(tmp_path / "rules", "nordby", NORDBY,
                       {"afrusning": town_afrusning("nordby", "2025-01-01")})
    router = ansvar.Router([ansvar.shipped_rules(), rules])
    with LiveServer(create_app(router)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        assert 'value="nordby/afrusning"' in client.get("/").text
        page = _post(client, [("pack", "nordby/afrusning"), ("action", "skip")]).text
    decision = router.route({"municipality": "nordby", "event": "afrusning"})
    review = next(w for w in decision.warnings if w.id == "vejledning_over_revisionsdato")
    top = page.index('<div class="revision" role="note">')
    assert top < page.index('id="afgoerelse"')
    assert html.escape(review.text) in page[top:]
    assert "Nordby Kommune" in page


def test_interpretations_and_the_guides_notice_are_marked(tmp_path: Path) -> None:
    """A lead, step or warning that is the pack's reading says "Fortolkning" and why; the notice is on top."""
    layer = NORDBY + 'notice: "Vejledningen er vejledende."\n'
    pack = town_afrusning("nordby", "2030-01-01").replace(
        "    responsible: rusmiddelbehandling\n",
        "    responsible: rusmiddelbehandling\n    basis: fortolkning\n"
        "    reason: Vejledningen nævner ikke ambulant afrusning; pakken læser den som kommunens.\n")
    rules = write_town(tmp_path / "rules", "nordby", layer, {"afrusning": pack})
    router = ansvar.Router([ansvar.shipped_rules(), rules])
    with LiveServer(create_app(router)) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        page = _post(client, [("pack", "nordby/afrusning"), ("action", "skip")]).text
    decision = router.route({"municipality": "nordby", "event": "afrusning"})
    assert decision.responsible_interpretation is not None
    assert decision.pack.notice == "Vejledningen er vejledende."
    marked = html.escape(f"Fortolkning (ikke vejledningens ord): {decision.responsible_interpretation}")
    assert page.count(f'<p class="fortolkning">{marked}</p>') == 1 + sum(
        1 for s in decision.steps if s.interpretation) + sum(1 for w in decision.warnings if w.interpretation)
    assert page.index(html.escape("Vejledningens status: »Vejledningen er vejledende.«")) < page.index(
        'id="afgoerelse"')


def test_the_page_needs_nothing_beyond_the_server_extra() -> None:
    """The page imports only the standard library and ansvar: no template engine, nothing to install."""
    source = Path(ansvar.__file__).parent / "render" / "page.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    found = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    found |= {str(node.module).split(".")[0] for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.level == 0}
    assert found - {"__future__"} <= set(sys.stdlib_module_names) | {"ansvar"}, found
