"""Hostile input over HTTP, and error wording that could leak personal data.

Duplicate JSON keys, an `on` that is no plain date, numbers and nesting JSON parsers choke on, a flood of
problems, a person's name where an id goes, and the paths and queries uvicorn would log; and, in the
library, the situation a batch's routing error is about.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import pickle
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import ansvar
from ansvar import server
from ansvar.errors import ConflictError, NoResponsibleError, RoutingError, UnknownEventError
from ansvar.server import create_app
from tests.fixtures.live import LiveServer

ON = "2026-11-23"
CPR = "010190-1234"
NAME = "Jens Hansen"
PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}
AFRUSNING = {"municipality": "aalborg", "event": "afrusning"}


_Server = LiveServer


@pytest.fixture(scope="module")
def live() -> Iterator[_Server]:
    with _Server(create_app()) as running:
        yield running


@pytest.fixture(scope="module")
def client(live: _Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        yield http


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    """The `errors` of a 422 problem, after checking it is one."""
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert (body["type"], body["error"]) == ("urn:ansvar:problem:invalid-request", "SituationError")
    assert "\n" not in body["detail"]
    errors: list[dict[str, Any]] = body["errors"]
    assert all("\n" not in e["msg"] for e in errors)
    return errors


# --- 1. a key given twice in one JSON object ----------------------------------------------------------------


DT_TWICE = '{"municipality": "aalborg", "event": "afrusning", "delirium_tremens": %s, "delirium_tremens": %s}'
DT_SAID = "duplicate key 'delirium_tremens'"


@pytest.mark.parametrize(("path", "body", "loc", "msg"), [
    ("/route", DT_TWICE % ("false", "true"), ["body", "delirium_tremens"], DT_SAID),
    ("/route", DT_TWICE % ("true", "false"), ["body", "delirium_tremens"], DT_SAID),
    ("/route", '{"municipality": "aalborg", "event": "afrusning", "event": "koerekort_alkohol"}',
     ["body", "event"], "duplicate key 'event'"),
    ("/route-many", json.dumps([AFRUSNING])[:-1] + ', {"municipality": "aalborg", "event": "afrusning", '
                                                   '"seizures": true, "seizures": false}]',
     ["body", 1, "seizures"], "duplicate key 'seizures'"),
    ("/route", f'{{"municipality": "aalborg", "event": "afrusning", "{CPR}": 1, "{CPR}": 2}}',
     ["body", "(no id)"], "duplicate key (a value that is no id)"),
    ("/route", '{"municipality": "aalborg", "event": "afrusning", "seizures": {"a": 1, "a": 2}}',
     ["body", "seizures", "a"], "duplicate key 'a'"),
], ids=["last-true", "last-false", "event", "many", "cpr-key", "nested"])
def test_a_duplicate_key_is_refused(client: httpx.Client, path: str, body: str, loc: list[str | int],
                                    msg: str) -> None:
    """A key twice in one object is a 422 at its location, named only if an id: never the last value wins."""
    response = client.post(path, content=body, headers=JSON)
    assert _errors(response) == [{"loc": loc, "msg": msg, "type": "json_duplicate_key"}]
    assert CPR not in response.text


def test_every_duplicate_key_is_listed_once(client: httpx.Client) -> None:
    """A key given three times is listed once; keys of different objects each, in document order."""
    body = ('[{"municipality": "aalborg", "event": "afrusning", "seizures": true, "seizures": true, '
            '"seizures": true}, {"municipality": "aalborg", "municipality": "rebild", "event": "udredning"}]')
    errors = _errors(client.post("/route-many", content=body, headers=JSON))
    assert [e["loc"] for e in errors] == [["body", 0, "seizures"], ["body", 1, "municipality"]]


# --- 2. `on` is a date written YYYY-MM-DD -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/route", "/route-many"])
@pytest.mark.parametrize("on", ["2026-11-23T00:00:00", "2026-11-23T00:00:00+01:00", "2026-11-23 00:00",
                                "1767225600", "1767225600.0", "20261123", "2026-W48-1", "2026-327",
                                " 2026-11-23", "2026-11-23\n", "２０２６-１１-２３"])
def test_on_is_a_plain_date(client: httpx.Client, path: str, on: str) -> None:
    """A datetime, a timestamp or any other way of writing a date is a 422 at `on`, the value not echoed."""
    body = AFRUSNING if path == "/route" else [AFRUSNING]
    response = client.post(path, json=body, params={"on": on})
    errors = [(e["loc"], e["msg"]) for e in _errors(response)]
    assert errors == [(["query", "on"], "must be a date (YYYY-MM-DD)")]
    assert "1767225600" not in response.text
    assert "T00" not in response.text


def test_on_given_twice_is_refused(client: httpx.Client) -> None:
    """`?on=` twice is a 422 rather than the last one silently."""
    for path, body in (("/route", AFRUSNING), ("/route-many", [AFRUSNING])):
        response = client.post(f"{path}?on=2026-11-23&on=2019-01-01", json=body)
        twice = {"loc": ["query", "on"], "msg": "given more than once", "type": "duplicate"}
        assert _errors(response) == [twice]
    assert client.post("/route", json=AFRUSNING, params={"on": ON}).json()["on"] == ON  # once is fine


def test_a_situation_without_event_is_said_as_the_library_says_it(client: httpx.Client) -> None:
    """No `event`: the 422 names `event` in ansvar's words, as `ansvar.route` does, for one or a batch."""
    with pytest.raises(ansvar.SituationError) as caught:
        ansvar.route({"municipality": "aalborg"})
    (said,) = caught.value.errors
    (one,) = _errors(client.post("/route", json={"municipality": "aalborg"}))
    assert one == {"loc": ["body", "event"], "msg": said["msg"], "type": said["type"]}
    (many,) = _errors(client.post("/route-many", json=[AFRUSNING, {}]))
    assert many == {"loc": ["body", 1, "event"], "msg": said["msg"], "type": said["type"]}


# --- 3. JSON that parsers choke on, and a flood of problems -------------------------------------------------


@pytest.mark.parametrize(("body", "msg", "kind"), [
    (b'{"municipality": "aalborg", "event": "afrusning", "administrations_per_day": ' + b"7" * 5000 + b"}",
     f"a number with more than {sys.get_int_max_str_digits()} digits", "json_number_too_long"),
    (b"[" * 65 + b"]" * 65, "nested more than 64 levels deep", "json_too_deep"),
    (b'{"a": ' * 65 + b"1" + b"}" * 65, "nested more than 64 levels deep", "json_too_deep"),
    (b"[" * 100_000 + b"]" * 100_000, "nested more than 64 levels deep", "json_too_deep"),
    (b'{"event": "\xff"}', "the body is not JSON in UTF-8", "json_invalid"),
], ids=["5000-digits", "65-lists", "65-objects", "100000-lists", "not-utf-8"])
def test_unreadable_json_says_why(client: httpx.Client, body: bytes, msg: str, kind: str) -> None:
    """An over-long number or deep nesting is said for what it is, in one line, not as 'not JSON in UTF-8'."""
    response = client.post("/route", content=body, headers=JSON)
    assert _errors(response) == [{"loc": ["body"], "msg": msg, "type": kind}]
    assert "7777" not in response.text


def test_nesting_up_to_the_limit_reaches_validation(client: httpx.Client) -> None:
    """64 levels are read (and refused by validation, as any other wrong value); a syntax error is said so."""
    deep = client.post("/route", content=b"[" * 64 + b"]" * 64, headers=JSON)
    assert "json_too_deep" not in {e["type"] for e in _errors(deep)}
    (broken,) = _errors(client.post("/route", content=b'{"event": \\u00ff', headers=JSON))
    assert (broken["loc"], broken["type"]) == (["body"], "json_invalid")
    assert broken["msg"].startswith("not JSON: ")
    assert "u00ff" not in broken["msg"]


def test_a_flood_of_problems_gives_a_small_422(client: httpx.Client) -> None:
    """60,000 unknown keys: the 422 lists the first MAX_LISTED, counts them all, and stays a few KB."""
    situation = {**AFRUSNING, **{f"k{i}": True for i in range(60_000)}}
    started = time.monotonic()
    response = client.post("/route", json=situation)
    assert time.monotonic() - started < 5
    errors = _errors(response)
    assert len(response.content) < 8 * 1024
    assert len(errors) == server.MAX_LISTED
    assert errors[0] == {"loc": ["body", "k0"], "msg": "unknown fact of event 'afrusning'",
                         "type": "extra_forbidden"}
    body = response.json()
    assert body["count"] == 60_000
    assert body["detail"].endswith("; and 59997 more")
    duplicates = '{"municipality": "aalborg", "event": "afrusning", ' + ", ".join(['"k": 1'] * 60_000) + "}"
    many = client.post("/route", content=duplicates, headers=JSON)
    assert len(_errors(many)) == 1  # one key, given 60,000 times
    batch = [{**AFRUSNING, **{f"k{i}": True for i in range(30)}}] * 200
    flood = client.post("/route-many", json=batch)
    assert len(_errors(flood)) == server.MAX_LISTED
    assert flood.json()["count"] == 6000
    assert len(flood.content) < 8 * 1024


# --- 4. a person's name where a municipality or event goes --------------------------------------------------


@pytest.mark.parametrize("name", ["hansen", "henning", "albert", "odense"])
def test_an_unknown_name_is_not_echoed(name: str) -> None:
    """An id-shaped name is not repeated by UnknownEventError's str, repr or args; `.value` keeps it."""
    for situation in ({**AFRUSNING, "municipality": name}, {**AFRUSNING, "event": name}):
        with pytest.raises(UnknownEventError) as caught:
            ansvar.route(situation)
        error = caught.value
        assert error.value == name
        for text in (str(error), repr(error), repr(error.args), caught.exconly()):
            assert name not in text
        assert str(error).startswith(f"unknown {error.what}")
    with pytest.raises(UnknownEventError) as batch:
        ansvar.route_many([AFRUSNING, {"municipality": name, "event": "afrusning"}])
    assert name not in str(batch.value)
    assert str(batch.value).startswith("situation 1: unknown municipality")


def test_a_near_miss_names_only_the_known_id() -> None:
    """A near miss suggests the known id; the name given is still not quoted."""
    with pytest.raises(UnknownEventError) as caught:
        ansvar.route({"municipality": "albert", "event": "afrusning"})
    assert str(caught.value) == "unknown municipality (did you mean 'aalborg'?); known: aalborg, rebild"
    with pytest.raises(UnknownEventError) as event:
        ansvar.route({"municipality": "aalborg", "event": "afruzning"})
    assert str(event.value).startswith("unknown event (did you mean 'afrusning'?); known: ")


def test_unknown_event_error_pickles_with_its_members() -> None:
    """A worker process's UnknownEventError reaches its parent whole (its args hold the message only)."""
    error = UnknownEventError("municipality", "hansen", ["rebild", "aalborg"]).at("situation 3")
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (type(again), again.what, again.value, again.known, again.where, str(again)) == (
        UnknownEventError, "municipality", "hansen", ["aalborg", "rebild"], "situation 3", str(error))
    assert "hansen" not in str(again)


@pytest.mark.parametrize(("method", "path", "content"), [
    ("POST", "/route", {"municipality": "hansen", "event": "afrusning"}),
    ("POST", "/route", {"municipality": "aalborg", "event": "henning"}),
    ("POST", "/route-many", [AFRUSNING, {"municipality": "aalborg", "event": "hansen"}]),
    ("GET", "/events/hansen", None),
    ("GET", "/events/henning/schema", None),
    ("GET", "/events/albert", None),
])
def test_an_unknown_name_is_not_echoed_over_http(client: httpx.Client, method: str, path: str,
                                                 content: object) -> None:
    """A 404 for a name ansvar does not know leaves it out of `detail` and `value`."""
    response = client.request(method, path, json=content)
    assert response.status_code == 404
    body = response.json()
    assert body["value"] is None
    for name in ("hansen", "henning", "albert"):
        assert name not in response.text
    assert body["detail"].startswith(("unknown ", "situation 1: unknown "))


def test_a_known_id_asked_for_elsewhere_is_named(client: httpx.Client) -> None:
    """A name ansvar knows as another id (a municipality asked for as an event) is no citizen's: `value`."""
    body = client.get("/events/rebild/schema").json()
    assert (body["what"], body["value"]) == ("event", "rebild")


# --- 5. the logs name route templates, never a path or query value ------------------------------------------


def _server_log(caplog: pytest.LogCaptureFixture) -> str:
    """What the server logged (uvicorn's and ansvar's loggers; the test's own HTTP client logs URLs too)."""
    ours = [r for r in caplog.records if r.name.startswith(("uvicorn", "ansvar"))]
    return "\n".join(caplog.handler.format(r) for r in ours)


def _access_lines(caplog: pytest.LogCaptureFixture, count: int) -> list[str]:
    deadline = time.monotonic() + 5
    while True:
        lines = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.01)


def test_the_access_log_names_route_templates(live: _Server, caplog: pytest.LogCaptureFixture) -> None:
    """uvicorn's access line shows method, route template and status: no path segment, no query value."""
    caplog.set_level(logging.INFO)
    with httpx.Client(base_url=live.url, timeout=30) as http:
        assert http.post("/route", params={"on": CPR}, json=AFRUSNING).status_code == 422
        assert http.post("/route-many", params={"on": ON}, json=[AFRUSNING]).status_code == 200
        assert http.get(f"/events/{NAME}/schema").status_code == 404
        assert http.get(f"/events/{NAME}").status_code == 404
        assert http.get(f"/{CPR}/{NAME}").status_code == 404
        too_large = http.post("/route", params={"on": CPR}, content=b" " * (server.MAX_BODY_BYTES + 1),
                              headers=JSON)
        assert too_large.status_code == 413  # answered before routing
    lines = _access_lines(caplog, 6)
    assert [line.split(" - ", 1)[1] for line in lines] == [
        '"POST /route HTTP/1.1" 422', '"POST /route-many HTTP/1.1" 200',
        '"GET /events/{event}/schema HTTP/1.1" 404', '"GET /events/{municipality} HTTP/1.1" 404',
        '"GET (no route) HTTP/1.1" 404', '"POST /route HTTP/1.1" 413']
    for value in (CPR, "010190", ON, "Jens", "Hansen", "%20"):
        assert value not in _server_log(caplog)


def test_the_access_log_filter_leaves_other_apps_alone() -> None:
    """A uvicorn access record outside a request of this app (another app in the process) is untouched."""
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:1", "GET", "/other?x=1", "1.1", 200), None)
    assert server._ACCESS_LOG.filter(record)  # the filter itself
    assert record.getMessage() == '127.0.0.1:1 - "GET /other?x=1 HTTP/1.1" 200'


class _BrokenRouter:
    """A router whose every lookup fails unexpectedly, with the name asked for in its message."""

    def municipalities(self) -> list[str]:
        return []

    def events(self, municipality: str) -> dict[str, str]:
        raise RuntimeError(f"lookup of {municipality} failed")


def test_an_unexpected_error_logs_the_route_template(caplog: pytest.LogCaptureFixture) -> None:
    """The 500's log line names the route's template: the path asked for may be a person's name."""
    caplog.set_level(logging.INFO)
    with _Server(create_app(_BrokenRouter())) as broken:  # type: ignore[arg-type]
        assert httpx.get(f"{broken.url}/events/{NAME}", timeout=30).status_code == 500
        _access_lines(caplog, 1)
    assert "unexpected RuntimeError in GET /events/{municipality}" in _server_log(caplog)
    for value in ("Jens", "Hansen"):  # the frames show the source line, never the message
        assert value not in _server_log(caplog)


# --- 6. route_many names the situation of a routing error ---------------------------------------------------


LAYER = """\
layer: {town}
kind: municipality
name: {town}
actors:
  borger: {{name: Borger}}
  egen_laege: {{name: Egen læge}}
"""

PACK = """\
pack:
  layer: {town}
  event: afrusning
  title: Test
  document: Testvejledning for {town}
  version: "1"
  valid_from: {valid_from}
  review_by: null
  section: Test
rules:
  - id: borger_leder
    when: {{seizures: false}}
    responsible: borger
    source: {{section: S, passage: P}}
  - id: laegen_leder
    when: {{seizures: true, delirium_tremens: false}}
    responsible: egen_laege
    source: {{section: S, passage: P}}
  - id: borger_leder_ved_delir
    when: {{seizures: true, delirium_tremens: true, withdrawal_symptoms: false}}
    responsible: borger
    source: {{section: S, passage: P}}
  - id: laegen_leder_ved_delir
    when: {{seizures: true, delirium_tremens: true, withdrawal_symptoms: false}}
    responsible: egen_laege
    source: {{section: S, passage: P}}
"""
# testby: seizures, delirium and no withdrawal symptoms is a conflict; with withdrawal symptoms, nobody leads.


@pytest.fixture(scope="module")
def towns(tmp_path_factory: pytest.TempPathFactory) -> ansvar.Router:
    rules = tmp_path_factory.mktemp("hostile") / "rules"
    for town, valid_from in (("testby", "2020-01-01"), ("nyby", "2027-01-01")):
        (rules / town).mkdir(parents=True)
        (rules / town / "layer.yaml").write_text(LAYER.format(town=town), encoding="utf-8")
        (rules / town / "afrusning.yaml").write_text(PACK.format(town=town, valid_from=valid_from),
                                                     encoding="utf-8")
    return ansvar.Router([rules])


FINE = {"municipality": "testby", "event": "afrusning", "seizures": False}
CONFLICT = {**FINE, "seizures": True, "delirium_tremens": True, "withdrawal_symptoms": False}
NOBODY = {**FINE, "seizures": True, "delirium_tremens": True, "withdrawal_symptoms": True}
DAY = dt.date(2026, 11, 23)


@pytest.mark.parametrize(("bad", "kind", "says"), [
    (CONFLICT, ConflictError, "testby/afrusning: rules of equal priority"),
    (NOBODY, NoResponsibleError, "testby/afrusning: no rule named a responsible actor"),
], ids=["conflict", "nobody-responsible"])
def test_route_many_names_the_situation_of_a_pack_defect(towns: ansvar.Router, bad: dict[str, object],
                                                         kind: type[RoutingError], says: str) -> None:
    """A conflict or nobody responsible in a batch says which situation, as a bad fact does."""
    with pytest.raises(kind) as single:
        towns.route(bad, on=DAY)
    assert str(single.value).startswith(says)  # a single situation: no index
    with pytest.raises(kind) as caught:
        towns.route_many([FINE, FINE, bad, bad], on=DAY)
    assert type(caught.value) is kind
    assert str(caught.value).startswith(f"situation 2: {says}")
    assert (caught.value.where, caught.value.message) == ("situation 2", str(single.value))


def test_route_many_names_the_situation_of_a_pack_not_in_force(towns: ansvar.Router) -> None:
    """A pack not in force on the day names the first situation that asks for it."""
    with pytest.raises(RoutingError) as caught:
        towns.route_many([FINE, FINE, {**FINE, "municipality": "nyby"}], on=DAY)
    assert type(caught.value) is RoutingError
    assert str(caught.value).startswith("situation 2: 'Testvejledning for nyby' (nyby/afrusning.yaml) is in "
                                        "force from 2027-01-01")


def test_routing_error_at_keeps_its_class_and_pickles() -> None:
    """`at` says the same error of a place, outside any it named; the class and message survive pickling."""
    error = ConflictError("a/b: rules of equal priority 10 claim the lead").at("situation 2").at("batch.json")
    assert type(error) is ConflictError
    assert str(error) == "batch.json: situation 2: a/b: rules of equal priority 10 claim the lead"
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (type(again), str(again), again.where, again.message) == (
        ConflictError, str(error), "batch.json: situation 2", error.message)
    assert str(RoutingError("plain")) == "plain"


def test_route_many_over_http_names_the_situation(towns: ansvar.Router) -> None:
    """POST /route-many's 500 for a pack defect says which situation, as the library does."""
    with _Server(create_app(towns)) as running:
        response = httpx.post(f"{running.url}/route-many", json=[FINE, FINE, CONFLICT],
                              params={"on": DAY.isoformat()}, timeout=30)
    assert response.status_code == 500
    assert response.json()["error"] == "ConflictError"
    assert response.json()["detail"].startswith("rule pack defect: situation 2: testby/afrusning: ")
    assert json.loads(response.text)["type"] == "urn:ansvar:problem:rule-pack-defect"
