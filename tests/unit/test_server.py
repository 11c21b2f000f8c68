"""The HTTP service: a real uvicorn server on localhost, called with httpx; schemathesis on its OpenAPI."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import ansvar
from ansvar.errors import ConflictError, EngineError, NoResponsibleError
from ansvar.server import MAX_BODY_BYTES, MAX_SITUATIONS, create_app

ROOT = Path(__file__).parents[2]
ON = "2026-11-23"
CPR = "010203-1234"  # a CPR-shaped value: must never come back in a response or reach a log
CONTRACT_EXAMPLE = {"municipality": "aalborg", "event": "afrusning",
                    "withdrawal_symptoms": True, "delirium_tremens": True}
REBILD_COURSE = {"municipality": "rebild", "event": "behandlingsforloeb", "substance": "alkohol",
                 "clarifying_conversation_on": "2025-08-04", "treatment_started_on": "2025-08-12",
                 "treatment_ended_on": "2026-01-31"}


class _Records(logging.Handler):
    """Every log line the server writes (access, error and ansvar.server loggers), formatted."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class _LiveServer:
    """A uvicorn server in a thread on a free localhost port, with the lines it logged."""

    def __init__(self, app: Any) -> None:
        self.records = _Records()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        # Accepted connections inherit it: uvicorn leaves Nagle on for a socket handed to it (40 ms a call).
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        # Access log on, as `serve` runs it; log_config=None: uvicorn leaves the logging setup (and the
        # handler recording here) alone. test_serve_runs_uvicorn reads the log of uvicorn's own setup.
        config = uvicorn.Config(app, log_level="info", lifespan="off", log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Self:
        for name in ("uvicorn.access", "uvicorn.error", "ansvar.server"):
            logging.getLogger(name).addHandler(self.records)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the uvicorn server did not start within 10 s")
            time.sleep(0.01)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
        for name in ("uvicorn.access", "uvicorn.error", "ansvar.server"):
            logging.getLogger(name).removeHandler(self.records)
        assert not self.thread.is_alive(), "the uvicorn server did not shut down"


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


# --- routes ---------------------------------------------------------------------------------------------


def test_health(client: httpx.Client) -> None:
    """GET /health says ok, with the number of packs loaded and the package version."""
    router = ansvar.default_router()
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": importlib.metadata.version("ansvar"),
                                "packs": sum(len(router.events(m)) for m in router.municipalities())}
    assert response.json()["packs"] >= 17


def test_contract_example(client: httpx.Client) -> None:
    """The contract's example (detox, delirium tremens) goes to region_akutmodtagelse, as in the library."""
    response = client.post("/route", json=CONTRACT_EXAMPLE, params={"on": ON})
    assert response.status_code == 200
    body = response.json()
    assert body["responsible"] == "region_akutmodtagelse"
    assert body == ansvar.route(CONTRACT_EXAMPLE, on=dt.date(2026, 11, 23)).model_dump(mode="json")


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
    response = client.post("/route-many", json=situations, params={"on": ON})
    assert response.status_code == 200
    body = response.json()
    assert [(d["municipality"], d["event"]) for d in body] == [(s["municipality"], s["event"])
                                                               for s in situations]
    expected = ansvar.route_many(situations, on=dt.date(2026, 11, 23))
    assert body == [d.model_dump(mode="json") for d in expected]
    assert client.post("/route-many", json=[], params={"on": ON}).json() == []


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
    assert missing.json()["known"] == sorted(ansvar.situation.MODELS)
    assert missing.json()["value"] == "afruzning"
    odd = client.get("/events/a/b/schema")  # not an id: the name is withheld, but still a 404 of this route
    assert (odd.status_code, odd.json()["value"], odd.json()["what"]) == (404, None, "event")
    _no_values(client.get(f"/events/{CPR}/schema"), CPR)
    unroutable = client.get("/events/a%0Ab/schema")  # Starlette routes no path with a line break
    assert unroutable.status_code == 404
    assert unroutable.json() == {"error": "HTTPException", "detail": "Not Found"}  # as documented


# --- errors ---------------------------------------------------------------------------------------------


def test_invalid_field_is_422_with_loc(client: httpx.Client) -> None:
    """`"withdrawal_symptoms": "yes"` is a 422 naming the field, without the union's tag in `loc`."""
    situation = {"municipality": "aalborg", "event": "afrusning", "withdrawal_symptoms": "yes"}
    response = client.post("/route", json=situation)
    assert response.status_code == 422
    assert response.json() == {"detail": [{"loc": ["body", "withdrawal_symptoms"],
                                           "msg": "Input should be a valid boolean", "type": "bool_type"}]}
    many = client.post("/route-many", json=[CONTRACT_EXAMPLE, situation])
    assert many.status_code == 422
    assert [e["loc"] for e in many.json()["detail"]] == [["body", 1, "withdrawal_symptoms"]]


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
    """A 422 lists loc, msg and type only: a CPR-shaped value sent is nowhere in the response."""
    if isinstance(content, str):
        response = client.post(path, content=content, headers={"content-type": "application/json"})
    else:
        response = client.post(path, json=content)
    assert response.status_code == 422
    _no_values(response, CPR, "010203", "12345")
    detail = response.json()["detail"]
    assert detail
    assert all(set(error) == {"loc", "msg", "type"} for error in detail)


def test_unknown_municipality_is_404(client: httpx.Client) -> None:
    """An unknown municipality is a 404 with what, value and the known municipalities."""
    response = client.post("/route", json={**CONTRACT_EXAMPLE, "municipality": "odense"})
    assert response.status_code == 404
    body = response.json()
    assert (body["what"], body["value"], body["known"]) == ("municipality", "odense", ["aalborg", "rebild"])
    assert body["error"] == "UnknownEventError"
    assert "odense" in body["detail"]


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
    assert (response.json()["what"], response.json()["value"]) == ("event", "afruzning")
    assert "afrusning" in response.json()["known"]
    many = client.post("/route-many", json=[CONTRACT_EXAMPLE, {"municipality": "aalborg", "event": "nej"}])
    assert (many.status_code, many.json()["value"]) == (404, "nej")
    other = client.post("/route", json={"municipality": "rebild", "event": "koerekort_stoffer"})
    assert other.status_code == 404
    assert other.json()["what"] == "event for rebild"
    assert "udredning" in other.json()["known"]


def test_date_before_valid_from_is_409(client: httpx.Client) -> None:
    """Routing on a date before a pack is in force is a 409 RoutingError with the library's message."""
    response = client.post("/route", json=CONTRACT_EXAMPLE, params={"on": "2019-01-01"})
    assert response.status_code == 409
    assert response.json()["error"] == "RoutingError"
    assert "in force from 2019-07-01" in response.json()["detail"]


@pytest.mark.parametrize("on", ["1899-12-31", "2200-01-01", "2026-13-01", "tomorrow"])
def test_bad_on_is_422(client: httpx.Client, on: str) -> None:
    """An `on` that is not a date in 1900–2199 is a 422 at ("query", "on")."""
    response = client.post("/route", json=CONTRACT_EXAMPLE, params={"on": on})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["query", "on"]]


def test_too_many_situations_is_422(client: httpx.Client) -> None:
    """More than MAX_SITUATIONS in one POST /route-many is refused before any is routed."""
    response = client.post("/route-many", json=[CONTRACT_EXAMPLE] * (MAX_SITUATIONS + 1))
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "too_long"


def test_too_large_body_is_413(client: httpx.Client) -> None:
    """A body over MAX_BODY_BYTES is a 413 Problem, whether announced by Content-Length or streamed."""
    big = b"[" + b"1," * (MAX_BODY_BYTES // 2) + b"1]"
    response = client.post("/route-many", content=big, headers={"content-type": "application/json"})
    assert (response.status_code, response.json()["error"]) == (413, "RequestTooLarge")
    streamed = client.post("/route-many", content=iter([big[:1000], big[1000:]]),
                           headers={"content-type": "application/json"})
    assert (streamed.status_code, streamed.json()["error"]) == (413, "RequestTooLarge")


class _FailingRouter:
    """A router whose route raises whatever the test sets: the error mapping, without a broken pack."""

    def __init__(self) -> None:
        self.failure: Exception = RuntimeError("unset")

    def route(self, situation: object, on: object = None) -> None:
        raise self.failure

    def municipalities(self) -> list[str]:
        return []


@pytest.fixture(scope="module")
def failing() -> Iterator[tuple[_FailingRouter, _LiveServer]]:
    router = _FailingRouter()
    with _LiveServer(create_app(router)) as server:  # type: ignore[arg-type]
        yield router, server


@pytest.mark.parametrize(("failure", "error", "label"), [
    (ConflictError("aalborg/afrusning: rules of equal priority 10 claim the lead: a -> x, b -> y"),
     "ConflictError", "rule pack defect: "),
    (NoResponsibleError("aalborg/afrusning: no rule named a responsible actor"), "NoResponsibleError",
     "rule pack defect: "),
    (EngineError("durable_rules refused the fact (error 102)"), "EngineError", "engine failure: "),
])
def test_defects_are_500_with_message(failing: tuple[_FailingRouter, _LiveServer], failure: Exception,
                                      error: str, label: str) -> None:
    """ConflictError, NoResponsibleError and EngineError are a 500 naming the error and its message."""
    router, server = failing
    router.failure = failure
    response = httpx.post(f"{server.url}/route", json=CONTRACT_EXAMPLE)
    assert response.status_code == 500
    assert response.json() == {"error": error, "detail": f"{label}{failure}"}


def test_unexpected_error_is_500_without_traceback(failing: tuple[_FailingRouter, _LiveServer]) -> None:
    """Any other exception is a JSON 500 with a fixed message; its message reaches neither client nor log."""
    router, server = failing
    router.failure = RuntimeError(f"boom with {CPR}")
    server.records.lines.clear()
    response = httpx.post(f"{server.url}/route", json=CONTRACT_EXAMPLE)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "InternalError"
    _no_values(response, CPR, "boom", "Traceback", "RuntimeError", ".py")
    assert "unexpected RuntimeError in POST /route" in server.records.text
    assert CPR not in server.records.text
    assert "boom" not in server.records.text


def test_logs_show_paths_not_values(live: _LiveServer, client: httpx.Client) -> None:
    """The access log names method, path and status; no situation value or request body reaches a log."""
    live.records.lines.clear()
    course = {**REBILD_COURSE, "clarifying_conversation_on": "2025-08-05"}
    client.post("/route", json=course, params={"on": ON})
    client.post("/route", json={**CONTRACT_EXAMPLE, "note": CPR})
    client.post("/route-many", json=[{**CONTRACT_EXAMPLE, "seizures": CPR}])
    time.sleep(0.05)  # the access line is written after the response is sent
    text = live.records.text
    assert f'"POST /route?on={ON} HTTP/1.1" 200' in text
    assert '"POST /route HTTP/1.1" 422' in text
    assert '"POST /route-many HTTP/1.1" 422' in text
    for value in (CPR, "2025-08-05", "alkohol", "delirium", "withdrawal", "behandlingsforloeb"):
        assert value not in text


def test_openapi_shows_every_event_model(client: httpx.Client) -> None:
    """The OpenAPI body of /route is the discriminated union: one schema per event, mapped by `event`."""
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/route"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["discriminator"]["propertyName"] == "event"
    assert set(body["discriminator"]["mapping"]) == set(ansvar.situation.MODELS)
    assert spec["components"]["schemas"]["Afrusning"]["additionalProperties"] is False
    responses = spec["paths"]["/route"]["post"]["responses"]
    decision = responses["200"]["content"]["application/json"]["schema"]
    assert decision == {"$ref": "#/components/schemas/Decision"}
    assert set(responses) == {"200", "404", "409", "413", "422", "500"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # FastAPI's echoing 422 is replaced


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
    """serve() and `ansvar serve --port` run the service; the access log shows paths and no values."""
    port = _free_port()
    code = {"serve": f"from ansvar.server import serve; serve(port={port})",
            "cli": f"from ansvar.cli import main; main(['serve', '--port', '{port}'])"}[command]
    process = subprocess.Popen([sys.executable, "-c", code],  # noqa: S603 - our own code
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", process)
        routed = httpx.post(f"http://127.0.0.1:{port}/route", json=CONTRACT_EXAMPLE)
        assert routed.json()["responsible"] == "region_akutmodtagelse"
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    log = out + err  # uvicorn's access log goes to stdout, its error log to stderr
    assert '"POST /route HTTP/1.1" 200' in log
    assert "delirium" not in log


def test_cli_serve_without_extra() -> None:
    """`ansvar serve` without fastapi installed prints one line naming the extra and exits 2."""
    code = ("import sys; sys.modules['fastapi'] = None; from ansvar.cli import main; "
            "sys.exit(main(['serve']))")
    result = subprocess.run([sys.executable, "-c", code],  # noqa: S603 - our own code
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "pip install 'ansvar[server]'" in result.stderr


def test_serve_on_a_taken_port_exits_5_not_the_rule_defect_code() -> None:
    """uvicorn exits 3 when it cannot bind; ansvar serve says so in one line and exits 5 (3 means a pack defect)."""
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "ansvar.cli", "serve", "--port", str(port)],
                              capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 5
    assert done.stderr.strip().splitlines()[-1].startswith("ansvar: the server could not start on 127.0.0.1:")
