"""The HTTP service: a real uvicorn server on localhost, called with httpx; schemathesis on its OpenAPI;
/docs rendered offline by headless Chromium."""

from __future__ import annotations

import datetime as dt
import html
import importlib.metadata
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any, get_args
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import ansvar
from ansvar.errors import ConflictError, EngineError, NoResponsibleError
from ansvar.server import MAX_BODY_BYTES, MAX_SITUATIONS, PROBLEM_TITLES, ProblemType, create_app
from tests.fixtures import ON
from tests.fixtures.live import LiveServer, Records
from tests.tools import system_tool

ROOT = Path(__file__).parents[2]
CPR = "010203-1234"  # a CPR-shaped value: must never come back in a response or reach a log
PROBLEM = "application/problem+json"
INVALID = "urn:ansvar:problem:invalid-request"
UNKNOWN = "urn:ansvar:problem:unknown-municipality-or-event"
CONTRACT_EXAMPLE = {"municipality": "aalborg", "event": "afrusning",
                    "withdrawal_symptoms": True, "delirium_tremens": True}
REBILD_COURSE = {"municipality": "rebild", "event": "behandlingsforloeb", "substance": "alkohol",
                 "clarifying_conversation_on": "2025-08-04", "treatment_started_on": "2025-08-12",
                 "treatment_ended_on": "2026-01-31"}


_Records = Records
_LiveServer = LiveServer


@pytest.fixture(scope="module")
def live() -> Iterator[_LiveServer]:
    """The service over the shipped packs, served by uvicorn for the whole module."""
    with _LiveServer(create_app()) as server:
        yield server


@pytest.fixture
def client(live: _LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        yield http


def _no_values(response: httpx.Response, *values: str) -> None:
    for value in values:
        assert value not in response.text


def _problem(response: httpx.Response, status: int, problem_type: str, error: str) -> dict[str, Any]:
    """The response's RFC 9457 body, after checking its media type and the members every problem has."""
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert (body["type"], body["status"], body["error"]) == (problem_type, status, error)
    assert isinstance(body["detail"], str)
    assert body["detail"]
    blank = {413: "Content Too Large"}.get(status) or HTTPStatus(status).phrase
    assert body["title"] == (blank if problem_type == "about:blank" else PROBLEM_TITLES[problem_type])
    return body


# --- routes ---------------------------------------------------------------------------------------------


def test_health(client: httpx.Client) -> None:
    """GET /health says ok, with the number of packs loaded and the package version."""
    router = ansvar.default_router()
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": importlib.metadata.version("ansvar"),
                                "packs": sum(len(router.events(m)) for m in router.municipalities())}
    assert response.json()["packs"] > 0
    assert client.get("/openapi.json").json()["info"]["version"] == ansvar.__version__


def test_contract_example(client: httpx.Client) -> None:
    """The contract's example (detox, delirium tremens) goes to region_akutmodtagelse, as in the library."""
    response = client.post("/route", json=CONTRACT_EXAMPLE, params={"on": ON.isoformat()})
    assert response.status_code == 200
    body = response.json()
    assert body["responsible"] == "region_akutmodtagelse"
    assert body == ansvar.route(CONTRACT_EXAMPLE, on=ON).model_dump(mode="json")


def test_route_on_picks_the_date(client: httpx.Client) -> None:
    """A Rebild course routed `on` a date: deadlines and warnings for that day, equal to the library's."""
    response = client.post("/route", json=REBILD_COURSE, params={"on": "2026-03-01"})
    assert response.status_code == 200
    body = response.json()
    assert body["on"] == "2026-03-01"
    assert body["municipality"] == "rebild"
    assert "2026-02-28" in {step["due"] for step in body["steps"]}  # 1 calendar month after 31 January
    assert body == ansvar.route(REBILD_COURSE, on=dt.date(2026, 3, 1)).model_dump(mode="json")
    later = client.post("/route", json=REBILD_COURSE, params={"on": "2026-08-15"}).json()
    assert "frist_overskredet" in {w["id"] for w in later["warnings"]}


def test_route_without_on_answers_for_today(client: httpx.Client) -> None:
    """Without `on`, the decision is for the server's today."""
    response = client.post("/route", json=CONTRACT_EXAMPLE)
    assert response.status_code == 200
    assert response.json()["on"] == dt.date.today().isoformat()  # noqa: DTZ011


def test_route_many_keeps_order(client: httpx.Client) -> None:
    """POST /route-many answers one Decision per situation, in the order sent."""
    situations = [
        {"municipality": "rebild", "event": "udredning", "substance": "stoffer", "consent_medcom": True},
        CONTRACT_EXAMPLE,
        {"municipality": "aalborg", "event": "koerekort_alkohol", "wants_treatment": True},
        {"municipality": "aalborg", "event": "afrusning"},
        REBILD_COURSE,
    ]
    response = client.post("/route-many", json=situations, params={"on": ON.isoformat()})
    assert response.status_code == 200
    body = response.json()
    assert [(d["municipality"], d["event"]) for d in body] == [(s["municipality"], s["event"])
                                                               for s in situations]
    expected = ansvar.route_many(situations, on=ON)
    assert body == [d.model_dump(mode="json") for d in expected]
    assert client.post("/route-many", json=[], params={"on": ON.isoformat()}).json() == []


def test_events(client: httpx.Client) -> None:
    """GET /events lists every municipality with its events and their Danish titles."""
    response = client.get("/events")
    assert response.status_code == 200
    router = ansvar.default_router()
    assert response.json() == {"municipalities": {m: router.events(m) for m in router.municipalities()}}
    assert response.json()["municipalities"]["rebild"]["behandlingsforloeb"] == "Behandlingsforløb"


def test_event_schema(client: httpx.Client) -> None:
    """GET /events/{event}/schema is ansvar.situation_schema; an unknown event is a 404 listing the known."""
    response = client.get("/events/afrusning/schema")
    assert response.status_code == 200
    assert response.json() == ansvar.situation_schema("afrusning")
    missing = client.get("/events/afruzning/schema")
    assert missing.status_code == 404
    assert missing.json()["known"] == sorted(ansvar.model.situation.MODELS)
    assert missing.json()["value"] is None  # not a name ansvar knows: never echoed, but what it meant is said
    assert "(did you mean 'afrusning'?)" in missing.json()["detail"]
    _no_values(missing, "afruzning")
    odd = client.get("/events/a/b/schema")  # not an id: the name is withheld, but still a 404 of this route
    assert (odd.status_code, odd.json()["value"], odd.json()["what"]) == (404, None, "event")
    _no_values(client.get(f"/events/{CPR}/schema"), CPR)
    unroutable = client.get("/events/a%0Ab/schema")  # Starlette routes no path with a line break
    assert unroutable.status_code == 404
    assert unroutable.json() == {"type": "about:blank", "title": "Not Found", "status": 404,  # as documented
                                 "detail": "Not Found", "error": "HTTPException"}


# --- errors ---------------------------------------------------------------------------------------------


def test_misspelt_fact_is_422_in_the_librarys_words(client: httpx.Client) -> None:
    """A misspelt fact over HTTP is said as the library says it, with what it may have meant."""
    situation = {"municipality": "aalborg", "event": "afrusning", "withdrawl_symptoms": True}
    (error,) = _problem(client.post("/route", json=situation), 422, INVALID, "SituationError")["errors"]
    assert error == {"loc": ["body", "withdrawl_symptoms"], "type": "extra_forbidden",
                     "msg": "unknown fact of event 'afrusning' (did you mean 'withdrawal_symptoms'?)"}
    with pytest.raises(ansvar.SituationError) as caught:
        ansvar.route(situation)
    assert caught.value.errors[0]["msg"] == error["msg"]


def test_invalid_field_is_422_with_loc(client: httpx.Client) -> None:
    """`"withdrawal_symptoms": "yes"` is a 422 naming the field, without the union's tag in `loc`."""
    situation = {"municipality": "aalborg", "event": "afrusning", "withdrawal_symptoms": "yes"}
    response = client.post("/route", json=situation)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json() == {
        "type": INVALID, "title": "Invalid request", "status": 422, "error": "SituationError",
        "detail": "invalid request: body.withdrawal_symptoms: must be true or false",
        "errors": [{"loc": ["body", "withdrawal_symptoms"], "msg": "must be true or false",
                    "type": "bool_type"}], "count": 1}
    many = client.post("/route-many", json=[CONTRACT_EXAMPLE, situation])
    assert [e["loc"] for e in _problem(many, 422, INVALID, "SituationError")["errors"]] == [
        ["body", 1, "withdrawal_symptoms"]]


@pytest.mark.parametrize(("path", "content"), [
    ("/route", {**CONTRACT_EXAMPLE, "cpr": CPR}),
    ("/route", {**CONTRACT_EXAMPLE, "seizures": CPR}),
    ("/route", {**CONTRACT_EXAMPLE, "municipality": CPR}),
    ("/route", {**CONTRACT_EXAMPLE, "event": 12345, "note": CPR}),
    ("/route", {"event": "afrusning", "cpr": CPR}),
    ("/route", {**CONTRACT_EXAMPLE, CPR: True}),
    ("/route-many", [{**CONTRACT_EXAMPLE, CPR: True}]),
    ("/route", [CPR]),
    ("/route-many", [CONTRACT_EXAMPLE, {**CONTRACT_EXAMPLE, "cpr": CPR}]),
    ("/route-many", {"cpr": CPR}),
    ("/route", f'{{"cpr": "{CPR}", '),  # not JSON
], ids=["unknown-field", "wrong-type", "bad-pattern", "event-not-a-string", "missing-field", "cpr-as-key",
        "many-cpr-as-key", "not-an-object", "many", "many-not-a-list", "broken-json"])
def test_422_never_echoes_input(client: httpx.Client, path: str, content: object) -> None:
    """A 422 problem lists loc, msg and type only: a CPR-shaped value sent is nowhere in the response."""
    if isinstance(content, str):
        response = client.post(path, content=content, headers={"content-type": "application/json"})
    else:
        response = client.post(path, json=content)
    errors = _problem(response, 422, INVALID, "SituationError")["errors"]
    _no_values(response, CPR, "010203", "12345")
    assert errors
    assert all(set(error) == {"loc", "msg", "type"} for error in errors)


def _shipped_municipalities() -> list[str]:
    """The municipalities the shipped packs cover, as the service lists them (sorted)."""
    return ansvar.default_router().municipalities()


def test_unknown_municipality_is_404(client: httpx.Client) -> None:
    """An unknown municipality is a 404 with what and the known municipalities; the name is not echoed."""
    response = client.post("/route", json={**CONTRACT_EXAMPLE, "municipality": "odense"})
    body = _problem(response, 404, UNKNOWN, "UnknownEventError")
    assert (body["what"], body["value"], body["known"]) == ("municipality", None, _shipped_municipalities())
    _no_values(response, "odense")


def test_404_withholds_what_is_no_id(client: httpx.Client) -> None:
    """An unknown event or municipality that is no id (a CPR number, say) is a 404 that does not repeat it."""
    for situation in ({"municipality": "aalborg", "event": CPR}, {**CONTRACT_EXAMPLE, "municipality": CPR}):
        response = client.post("/route", json=situation)
        assert response.status_code in {404, 422}
        _no_values(response, CPR)
    response = client.post("/route", json={"municipality": "aalborg", "event": CPR})
    assert (response.status_code, response.json()["value"]) == (404, None)


def test_unknown_event_is_404(client: httpx.Client) -> None:
    """An event no pack covers is a 404, for a single route, in a batch, and for a municipality's events."""
    response = client.post("/route", json={"municipality": "aalborg", "event": "afruzning"})
    assert response.status_code == 404
    assert (response.json()["what"], response.json()["value"]) == ("event", None)
    assert "afrusning" in response.json()["known"]
    many = client.post("/route-many", json=[CONTRACT_EXAMPLE, {"municipality": "aalborg", "event": "nej"}])
    assert (many.status_code, many.json()["value"]) == (404, None)
    assert many.json()["detail"].startswith("situation 1: unknown event; known: ")
    other = client.post("/route", json={"municipality": "rebild", "event": "koerekort_stoffer"})
    assert other.status_code == 404
    assert other.json()["what"] == "event for rebild"
    assert other.json()["value"] == "koerekort_stoffer"  # an event ansvar knows (Aalborg's): not a citizen's
    assert "udredning" in other.json()["known"]


def test_date_before_valid_from_is_409(client: httpx.Client) -> None:
    """Routing on a date before a pack is in force is a 409 RoutingError with the library's message."""
    response = client.post("/route", json=CONTRACT_EXAMPLE, params={"on": "2019-01-01"})
    body = _problem(response, 409, "urn:ansvar:problem:not-in-force", "RoutingError")
    assert "in force from 2019-07-01" in body["detail"]


@pytest.mark.parametrize("on", ["1899-12-31", "2200-01-01", "2026-13-01", "tomorrow"])
def test_bad_on_is_422(client: httpx.Client, on: str) -> None:
    """An `on` that is not a date in 1900–2199 is a 422 at ("query", "on")."""
    response = client.post("/route", json=CONTRACT_EXAMPLE, params={"on": on})
    errors = _problem(response, 422, INVALID, "SituationError")["errors"]
    assert [e["loc"] for e in errors] == [["query", "on"]]


def test_too_many_situations_is_422(client: httpx.Client) -> None:
    """More than MAX_SITUATIONS in one POST /route-many is refused before any is routed."""
    response = client.post("/route-many", json=[CONTRACT_EXAMPLE] * (MAX_SITUATIONS + 1))
    assert _problem(response, 422, INVALID, "SituationError")["errors"][0]["type"] == "too_long"


def test_too_large_body_is_413(client: httpx.Client) -> None:
    """A body over MAX_BODY_BYTES is a 413 problem, whether announced by Content-Length or streamed."""
    big = b"[" + b"1," * (MAX_BODY_BYTES // 2) + b"1]"
    response = client.post("/route-many", content=big, headers={"content-type": "application/json"})
    _problem(response, 413, "about:blank", "RequestTooLarge")
    streamed = client.post("/route-many", content=iter([big[:1000], big[1000:]]),
                           headers={"content-type": "application/json"})
    _problem(streamed, 413, "about:blank", "RequestTooLarge")


class _FailingRouter:
    """A router whose route raises whatever the test sets: the error mapping, without a broken pack."""

    def __init__(self) -> None:
        self.failure: Exception = RuntimeError("unset")
        self.definitions = ansvar.default_router().definitions

    def route(self, situation: object, on: object = None, *, complete: bool = False) -> None:
        raise self.failure

    def next_question(self, situation: object, on: object = None) -> None:
        raise self.failure

    def municipalities(self) -> list[str]:
        return []


@pytest.fixture(scope="module")
def failing() -> Iterator[tuple[_FailingRouter, _LiveServer]]:
    router = _FailingRouter()
    with _LiveServer(create_app(router)) as server:  # type: ignore[arg-type]
        yield router, server


DEFECT = ("urn:ansvar:problem:rule-pack-defect", "Defect in the rule packs", "rule pack defect: ")


@pytest.mark.parametrize(("failure", "error", "kind"), [
    (ConflictError("aalborg/afrusning: rules of equal priority 10 claim the lead: a -> x, b -> y"),
     "ConflictError", DEFECT),
    (NoResponsibleError("aalborg/afrusning: no rule named a responsible actor"), "NoResponsibleError",
     DEFECT),
    (EngineError("durable_rules refused the fact (error 102)"), "EngineError",
     ("urn:ansvar:problem:engine-failure", "Rule engine failure", "engine failure: ")),
])
def test_defects_are_500_with_message(failing: tuple[_FailingRouter, _LiveServer], failure: Exception,
                                      error: str, kind: tuple[str, str, str]) -> None:
    """ConflictError, NoResponsibleError and EngineError are a 500 problem naming the error and message."""
    router, server = failing
    router.failure = failure
    problem_type, title, label = kind
    response = httpx.post(f"{server.url}/route", json=CONTRACT_EXAMPLE)
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.json() == {"type": problem_type, "title": title, "status": 500, "error": error,
                               "detail": f"{label}{failure}"}


def test_unexpected_error_is_500_without_traceback(failing: tuple[_FailingRouter, _LiveServer]) -> None:
    """Any other exception is a 500 problem with a fixed message; its message reaches no client nor log."""
    router, server = failing
    router.failure = RuntimeError(f"boom with {CPR}")
    server.records.lines.clear()
    response = httpx.post(f"{server.url}/route", json=CONTRACT_EXAMPLE)
    _problem(response, 500, "about:blank", "InternalError")
    _no_values(response, CPR, "boom", "Traceback", "RuntimeError", ".py")
    assert "unexpected RuntimeError in POST /route" in server.records.text
    assert CPR not in server.records.text
    assert "boom" not in server.records.text


def test_logs_show_paths_not_values(live: _LiveServer, client: httpx.Client) -> None:
    """The access log names method, route template and status; no query, situation value or body is logged."""
    live.records.lines.clear()
    course = {**REBILD_COURSE, "clarifying_conversation_on": "2025-08-05"}
    client.post("/route", json=course, params={"on": ON.isoformat()})
    client.post("/route", json={**CONTRACT_EXAMPLE, "note": CPR})
    client.post("/route-many", json=[{**CONTRACT_EXAMPLE, "seizures": CPR}])
    time.sleep(0.05)  # the access line is written after the response is sent
    text = live.records.text
    assert '"POST /route HTTP/1.1" 200' in text
    assert ON.isoformat() not in text  # the query is not logged
    assert '"POST /route HTTP/1.1" 422' in text
    assert '"POST /route-many HTTP/1.1" 422' in text
    for value in (CPR, "2025-08-05", "alkohol", "delirium", "withdrawal", "behandlingsforloeb"):
        assert value not in text


def test_openapi_shows_every_event_model(client: httpx.Client) -> None:
    """The OpenAPI body of /route is the discriminated union: one schema per event, mapped by `event`."""
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/route"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["discriminator"]["propertyName"] == "event"
    assert set(body["discriminator"]["mapping"]) == set(ansvar.model.situation.MODELS)
    assert spec["components"]["schemas"]["Afrusning"]["additionalProperties"] is False
    responses = spec["paths"]["/route"]["post"]["responses"]
    decision = responses["200"]["content"]["application/json"]["schema"]
    assert decision == {"$ref": "#/components/schemas/Decision"}
    assert set(responses) == {"200", "404", "409", "413", "415", "422", "500"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # FastAPI's echoing 422 is replaced


# --- one error shape: RFC 9457 problem details -----------------------------------------------------------


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(("method", "path", "request_args", "expected"), [
    ("POST", "/route", {"json": {**CONTRACT_EXAMPLE, "withdrawal_symptoms": "yes"}},
     (422, INVALID, "SituationError")),
    ("POST", "/route", {"json": CONTRACT_EXAMPLE, "params": {"on": "1899-12-31"}},
     (422, INVALID, "SituationError")),
    ("POST", "/route", {"content": b'{"event": ', "headers": JSON}, (422, INVALID, "SituationError")),
    ("POST", "/route", {"content": b'{"event": "\xff"}', "headers": JSON}, (422, INVALID, "SituationError")),
    ("POST", "/route", {"json": {**CONTRACT_EXAMPLE, "municipality": "odense"}},
     (404, UNKNOWN, "UnknownEventError")),
    ("GET", "/events/afruzning/schema", {}, (404, UNKNOWN, "UnknownEventError")),
    ("GET", "/nowhere", {}, (404, "about:blank", "HTTPException")),
    ("DELETE", "/route", {}, (405, "about:blank", "HTTPException")),
    ("POST", "/route", {"json": CONTRACT_EXAMPLE, "params": {"on": "2019-01-01"}},
     (409, "urn:ansvar:problem:not-in-force", "RoutingError")),
    ("POST", "/route", {"content": b" " * (MAX_BODY_BYTES + 1), "headers": JSON},
     (413, "about:blank", "RequestTooLarge")),
    ("POST", "/route", {"content": b"{}", "headers": {"content-type": "text/plain"}},
     (415, "about:blank", "UnsupportedMediaType")),
], ids=["validation", "situation-error", "broken-json", "not-utf-8", "unknown-municipality", "unknown-event",
        "unknown-url", "method", "not-in-force", "too-large", "not-json"])
def test_every_error_is_a_problem(client: httpx.Client, method: str, path: str, request_args: dict[str, Any],
                                  expected: tuple[int, str, str]) -> None:
    """Each error the app answers is application/problem+json with type, title, status, detail and error."""
    response = client.request(method, path, **request_args)
    status, problem_type, _ = expected
    body = _problem(response, *expected)
    members = {"type", "title", "status", "detail", "error"}
    extension = {INVALID: {"errors", "count"}, UNKNOWN: {"what", "value", "known"}}.get(problem_type, set())
    assert set(body) == members | extension
    if status == 405:
        assert response.headers["allow"] == "POST"  # the headers of Starlette's error are kept


def test_problem_examples(client: httpx.Client) -> None:
    """The 404 and 415 problems carry exactly these members (the 422's are pinned by the test above it)."""
    unknown = client.post("/route", json={**CONTRACT_EXAMPLE, "municipality": "odense"})
    known = _shipped_municipalities()
    assert unknown.json() == {
        "type": UNKNOWN, "title": "Unknown municipality or event", "status": 404,
        "error": "UnknownEventError",
        "detail": f"unknown municipality; known: {', '.join(known)}",
        "what": "municipality", "value": None, "known": _shipped_municipalities()}
    unsupported = client.post("/route", content=b"{}", headers={"content-type": "text/plain"})
    assert unsupported.json() == {
        "type": "about:blank", "title": "Unsupported Media Type", "status": 415,
        "error": "UnsupportedMediaType",
        "detail": "the request body must be JSON: Content-Type application/json (or application/<name>+json)"}
    assert unsupported.headers["accept-post"] == "application/json"


def test_problem_types_need_no_network() -> None:
    """Every problem type is about:blank or a fixed urn:ansvar:problem: URN, each of ansvar's titled."""
    types = set(get_args(ProblemType))
    assert "about:blank" in types
    assert all(t.startswith("urn:ansvar:problem:") for t in types - {"about:blank"})
    assert set(PROBLEM_TITLES) == types - {"about:blank"}


def test_openapi_declares_problem_responses(client: httpx.Client) -> None:
    """Every documented 4xx/5xx is application/problem+json with a problem schema listing the types."""
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert schemas["Problem"]["properties"]["type"]["enum"] == list(get_args(ProblemType))
    assert {"type", "title", "status", "detail", "error"} <= set(schemas["Problem"]["required"])
    assert "errors" in schemas["InvalidRequest"]["required"]
    assert {"what", "value", "known"} <= set(schemas["NotFound"]["required"])
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                expected = [PROBLEM] if status[0] in "45" else ["application/json"]
                assert list(response["content"]) == expected, (method, path, status)
    route = spec["paths"]["/route"]["post"]["responses"]
    assert route["422"]["content"][PROBLEM]["schema"] == {"$ref": "#/components/schemas/InvalidRequest"}
    assert route["404"]["content"][PROBLEM]["schema"] == {"$ref": "#/components/schemas/NotFound"}
    assert route["415"]["content"][PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}


# --- 415: a body that is not sent as JSON ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/route", "/route-many"])
@pytest.mark.parametrize("content_type", [
    None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/xml", "text/json", "application/jsonl", "application/+json", "json",
])
def test_non_json_body_is_415(client: httpx.Client, path: str, content_type: str | None) -> None:
    """A body whose Content-Type is not JSON, or missing, is a 415 problem that does not echo the body."""
    body = f'{{"cpr": "{CPR}"}}'.encode()
    headers = {"content-type": content_type} if content_type is not None else {}
    response = client.post(path, content=body, headers=headers)
    _problem(response, 415, "about:blank", "UnsupportedMediaType")
    _no_values(response, CPR)


@pytest.mark.parametrize("content_type", [
    "application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.ansvar+json",
])
def test_json_media_types_are_routed(client: httpx.Client, content_type: str) -> None:
    """application/json and application/<name>+json, with parameters, are read as JSON and routed."""
    headers = {"content-type": content_type}
    one = client.post("/route", content=json.dumps(CONTRACT_EXAMPLE), headers=headers)
    assert (one.status_code, one.json()["responsible"]) == (200, "region_akutmodtagelse")
    many = client.post("/route-many", content=json.dumps([CONTRACT_EXAMPLE]), headers=headers)
    assert (many.status_code, len(many.json())) == (200, 1)
    broken = client.post("/route", content=b'{"event": ', headers=headers)
    assert _problem(broken, 422, INVALID, "SituationError")["errors"][0]["type"] == "json_invalid"


def test_415_comes_before_the_body_is_read(live: _LiveServer) -> None:
    """The 415 is answered on the headers alone: the server does not wait for a body it would refuse."""
    host, port = urlsplit(live.url).hostname, urlsplit(live.url).port
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"POST /route HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: 1000\r\nConnection: close\r\n\r\n")  # and never the 1000 bytes
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)  # a socket.timeout here: the server waited for the body
            assert chunk, "the server closed the connection without answering"
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 415 ")
    assert b"content-type: application/problem+json" in answer.lower()


# --- GET /events/{municipality} --------------------------------------------------------------------------


def test_municipality_events(client: httpx.Client) -> None:
    """GET /events/{municipality} is ansvar.events(municipality): each event with its Danish title."""
    router = ansvar.default_router()
    for municipality in router.municipalities():
        response = client.get(f"/events/{municipality}")
        assert response.status_code == 200
        assert response.json() == ansvar.events(municipality) == router.events(municipality)
    assert client.get("/events/rebild").json()["behandlingsforloeb"] == "Behandlingsforløb"


def test_municipality_events_unknown_is_404(client: httpx.Client) -> None:
    """An unknown municipality is a 404 problem listing the known ones, withholding the name asked for."""
    body = _problem(client.get("/events/odense"), 404, UNKNOWN, "UnknownEventError")
    assert (body["what"], body["value"], body["known"]) == ("municipality", None, _shipped_municipalities())
    for name in (CPR, "Jens Hansen", "a/b", "hansen"):
        response = client.get(f"/events/{name}")
        assert _problem(response, 404, UNKNOWN, "UnknownEventError")["value"] is None
        _no_values(response, CPR, "010203", "Jens", "a/b", "hansen")


def test_municipality_events_leave_schema_route_alone(client: httpx.Client) -> None:
    """/events/{event}/schema is still the schema route: an event's schema, a 404 event (not municipality)."""
    assert client.get("/events/afrusning/schema").json() == ansvar.situation_schema("afrusning")
    body = _problem(client.get("/events/rebild/schema"), 404, UNKNOWN, "UnknownEventError")
    assert (body["what"], body["value"]) == ("event", "rebild")
    spec = client.get("/openapi.json").json()
    assert {"/events", "/events/{municipality}", "/events/{event}/schema"} <= set(spec["paths"])


# --- schemathesis ---------------------------------------------------------------------------------------


# The app's own OpenAPI document (what GET /openapi.json serves), loaded at collection; the generated requests
# go to the live server. (schemathesis.pytest.from_fixture would fetch it from the live server, but 4.32 does
# not run on pytest 9.2: it sets Function._nodeid.)
schema = schemathesis.openapi.from_dict(create_app().openapi())


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_openapi_conformance(case: Any, live: _LiveServer) -> None:
    """Generated requests on every operation: no 5xx, documented status codes, schema-conformant bodies."""
    case.call_and_validate(base_url=live.url,
                           checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])


# --- serve ----------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}: {process.communicate()[1]}")
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    pytest.fail("the server did not answer /health within 15 s")


@pytest.mark.parametrize("command", ["serve", "cli"])
def test_serve_runs_uvicorn(command: str) -> None:
    """serve() and `ansvar serve --port` run the service; the access log shows route templates, no values."""
    port = _free_port()
    code = {"serve": f"from ansvar.server import serve; serve(port={port})",
            "cli": f"from ansvar.cli import main; main(['serve', '--port', '{port}'])"}[command]
    process = subprocess.Popen([sys.executable, "-c", code],  # noqa: S603 - our own code
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", process)
        routed = httpx.post(f"http://127.0.0.1:{port}/route", json=CONTRACT_EXAMPLE, params={"on": ON.isoformat()})
        assert routed.json()["responsible"] == "region_akutmodtagelse"
        assert httpx.get(f"http://127.0.0.1:{port}/events/Jens Hansen/schema").status_code == 404
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    log = out + err  # uvicorn's access log goes to stdout, its error log to stderr
    assert '"POST /route HTTP/1.1" 200' in log
    assert '"GET /events/{event}/schema HTTP/1.1" 404' in log  # uvicorn's own logging setup keeps the filter
    for value in ("delirium", ON.isoformat(), "Jens", "Hansen"):
        assert value not in log


@pytest.mark.parametrize("missing", ["fastapi", "uvicorn", "fastapi_swagger"])
def test_cli_serve_without_extra(missing: str) -> None:
    """`ansvar serve` without a package of the server extra prints one line naming the extra and exits 2."""
    code = (f"import sys; sys.modules[{missing!r}] = None; from ansvar.cli import main; "
            "sys.exit(main(['serve']))")
    result = subprocess.run([sys.executable, "-c", code],  # noqa: S603 - our own code
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "pip install 'ansvar[server]'" in result.stderr


def test_serve_on_a_taken_port_exits_5_not_the_rule_defect_code() -> None:
    """uvicorn exits 3 when it cannot bind; ansvar serve says so in one line, exits 5 (3 is a pack defect)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "ansvar.cli", "serve", "--port", str(port)],  # noqa: S603
                              capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 5
    assert done.stderr.strip().splitlines()[-1].startswith("ansvar: the server could not start on 127.0.0.1:")


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
