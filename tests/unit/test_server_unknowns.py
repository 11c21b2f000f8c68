"""What an answer does not know, over HTTP: open questions in /route answers, POST /next-question, and
`/route?complete=true` refusing to answer on assumptions. A real uvicorn server, called with httpx."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import ansvar
from ansvar.server import MAX_BODY_BYTES, create_app
from tests.fixtures import ON
from tests.fixtures.live import LiveServer

PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}
INVALID = "urn:ansvar:problem:invalid-request"
DAY = {"on": ON.isoformat()}
OPIOID = {"municipality": "aalborg", "event": "akutte_opioidabstinenser",
          "presents_at": "rusmiddelbehandling"}
DETOX = {"municipality": "aalborg", "event": "afrusning"}
ASSESSMENT = {"municipality": "rebild", "event": "udredning"}
GUARANTEE = "rusmiddelbehandling.behandlingsopstart_inden_14_dage"
ROUTER = ansvar.default_router()


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    with LiveServer(create_app()) as server:
        yield server


@pytest.fixture(scope="module")
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as http:
        yield http


def _problem(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    return body


def _complete(situation: dict[str, Any]) -> dict[str, Any]:
    """The situation with every fact of its event stated (the default where it gives none)."""
    facts = ROUTER.definitions[situation["event"]].facts
    return {**{name: spec.default_value for name, spec in facts.items()}, **situation}


# --- /route and /route-many carry what the answer does not know -------------------------------------------


def test_route_answers_carry_open_questions_assumptions_and_what_depends_on_them(client: httpx.Client) -> None:
    """The three cases of issue 12: each answer is the library's, with its open questions, assumptions and
    settled marks; /route-many answers the same."""
    cases = [OPIOID, DETOX, ASSESSMENT]
    answers = [client.post("/route", json=case, params=DAY) for case in cases]
    assert [a.status_code for a in answers] == [200, 200, 200]
    bodies = [a.json() for a in answers]
    assert bodies == [ansvar.route(case, on=ON).model_dump(mode="json") for case in cases]
    many = client.post("/route-many", json=cases, params=DAY)
    assert many.json() == bodies
    opioid, detox, assessment = bodies
    assert "laegekonsulent_present" in [q["fact"] for q in opioid["open_questions"]]
    away = next(s for s in opioid["steps"] if s["action"] == "kontakt_laegekonsulent_telefonisk")
    assert (away["settled"], away["depends_on"]) == (False, ["laegekonsulent_present"])
    assert "laegekonsulent_present" in [a["fact"] for a in opioid["assumed"]]
    assert detox["responsible_settled"] is False
    assert "wants_medical_help" in detox["responsible_depends_on"]
    assert "wants_medical_help" in [q["fact"] for q in detox["open_questions"]]
    guarantee = next(s for s in assessment["steps"] if f"{s['actor']}.{s['action']}" == GUARANTEE)
    assert (guarantee["due"], guarantee["due_from"], guarantee["due_after"], guarantee["settled"]) == (
        None, "clarifying_conversation_on", "14 dage", False)
    (date,) = [q for q in assessment["open_questions"] if q["fact"] == "clarifying_conversation_on"]
    assert (date["type"], date["values"], date["deadlines"]) == ("date", [], [GUARANTEE])
    settled = client.post("/route", json=_complete(OPIOID), params=DAY).json()
    assert (settled["open_questions"], settled["assumed"], settled["responsible_settled"]) == ([], [], True)
    assert all(s["settled"] and s["depends_on"] == [] for s in settled["steps"])


def test_openapi_documents_the_new_fields_and_operation(client: httpx.Client) -> None:
    """The Decision schema has the new fields; /next-question answers NextQuestion (an OpenQuestion or
    null, and settled) with an English summary; /route takes `complete` and documents its 422."""
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {"open_questions", "assumed", "responsible_settled", "responsible_depends_on"} <= set(
        schemas["Decision"]["properties"])
    assert {"settled", "depends_on", "due_from", "due_after"} <= set(schemas["Step"]["properties"])
    assert {"settled", "depends_on"} <= set(schemas["DecisionWarning"]["properties"])
    operation = spec["paths"]["/next-question"]["post"]
    assert operation["summary"].isascii()
    assert operation["tags"] == ["routing"]
    assert [p["name"] for p in operation["parameters"]] == ["on"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    routed = spec["paths"]["/route"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert (body["oneOf"], body["discriminator"]) == (routed["oneOf"], routed["discriminator"])
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/NextQuestion"}
    answer = schemas["NextQuestion"]
    assert set(answer["required"]) == {"question", "settled"}
    assert {"$ref": "#/components/schemas/OpenQuestion"} in answer["properties"]["question"]["anyOf"]
    for status in ("404", "409", "413", "415", "422", "500"):
        assert list(operation["responses"][status]["content"]) == [PROBLEM], status
    route = spec["paths"]["/route"]["post"]
    (complete,) = [p for p in route["parameters"] if p["name"] == "complete"]
    assert (complete["in"], complete["required"], complete["schema"]["type"]) == ("query", False, "boolean")
    assert "IncompleteSituationError" in route["responses"]["422"]["description"]
    assert "IncompleteSituationError" in schemas["InvalidRequest"]["properties"]["error"]["enum"]


# --- POST /next-question -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [OPIOID, DETOX, ASSESSMENT], ids=["opioid", "detox", "assessment"])
def test_next_question_is_the_librarys(client: httpx.Client, case: dict[str, Any]) -> None:
    """POST /next-question answers `ansvar.next_question` for the same situation and day, not settled."""
    response = client.post("/next-question", json=case, params=DAY)
    assert response.status_code == 200
    expected = ansvar.next_question(case, on=ON)
    assert expected is not None
    assert response.json() == {"question": expected.model_dump(mode="json"), "settled": False}


def test_next_question_of_a_settled_answer_is_null(client: httpx.Client) -> None:
    """Nothing left that would change the answer: question null, settled true."""
    response = client.post("/next-question", json=_complete(OPIOID), params=DAY)
    assert response.json() == {"question": None, "settled": True}


def _answer(question: dict[str, Any]) -> Any:  # noqa: ANN401 - any value a fact takes
    """A value to give for an open question: its first value (a date range's first day; a date only a
    deadline needs: the routing day)."""
    if not question["values"]:
        return ON.isoformat()
    first = question["values"][-1]  # not the assumed default: the interview then goes elsewhere
    return first["minimum"] if first["value"] is None and first["minimum"] is not None else first["value"]


@pytest.mark.parametrize("case", [OPIOID, DETOX, ASSESSMENT], ids=["opioid", "detox", "assessment"])
def test_following_next_question_ends_settled_and_complete_routes(client: httpx.Client,
                                                                  case: dict[str, Any]) -> None:
    """Answering each question asked reaches a settled answer within as many questions as the event has
    facts; then /route?complete=true answers, as the library does for that situation."""
    situation = dict(case)
    facts = len(ROUTER.definitions[case["event"]].facts)
    for _ in range(facts + 1):
        body = client.post("/next-question", json=situation, params=DAY).json()
        if body["settled"]:
            break
        question = body["question"]
        assert question["fact"] not in situation  # never asks what was stated
        situation[question["fact"]] = _answer(question)
    else:
        pytest.fail(f"no settled answer after {facts} questions")
    assert body == {"question": None, "settled": True}
    routed = client.post("/route", json=situation, params={**DAY, "complete": "true"})
    assert routed.status_code == 200
    assert routed.json() == ansvar.route(situation, on=ON, complete=True).model_dump(mode="json")
    assert routed.json()["open_questions"] == []


# --- /route?complete=true ----------------------------------------------------------------------------------


def test_complete_refuses_an_answer_on_assumptions_listing_the_open_questions(client: httpx.Client) -> None:
    """A 422 problem (IncompleteSituationError): one error per open question at body.<fact>, its Danish
    question as the message; what the library raises for the same situation."""
    stated = {**ASSESSMENT, "clarifying_conversation_on": "2026-11-20", "substance": "alkohol"}
    with pytest.raises(ansvar.IncompleteSituationError) as caught:
        ansvar.route(stated, on=ON, complete=True)
    response = client.post("/route", json=stated, params={**DAY, "complete": "true"})
    body = _problem(response, 422, "IncompleteSituationError")
    assert body["type"] == INVALID
    questions = caught.value.questions
    assert body["count"] == len(questions) == len(body["errors"])
    assert body["errors"] == [{"loc": ["body", q.fact], "msg": f"ikke oplyst: {q.question}", "type": "not_stated"}
                              for q in questions]
    assert {q.fact for q in questions} == {q.fact for q in ansvar.route(stated, on=ON).open_questions}
    assert body["detail"].startswith("incomplete situation: ")
    for value in ("2026-11-20", "20.11.2026", "alkohol"):  # no value of the situation
        assert value not in response.text
    for fact in stated.keys() - {"municipality", "event"}:
        assert fact not in [e["loc"][-1] for e in body["errors"]]


def test_complete_answers_a_settled_situation_and_false_is_the_default(client: httpx.Client) -> None:
    """complete=true with every fact stated: the Decision; complete=false or absent: an answer either way."""
    full = _complete(OPIOID)
    assert client.post("/route", json=full, params={**DAY, "complete": "true"}).json() == \
        ansvar.route(full, on=ON).model_dump(mode="json")
    for params in (DAY, {**DAY, "complete": "false"}):
        response = client.post("/route", json=OPIOID, params=params)
        assert response.status_code == 200
        assert response.json()["open_questions"]


def test_complete_waits_for_the_date_a_deadline_needs(client: httpx.Client) -> None:
    """Every fact but the date the guarantee counts from: complete=true refuses, naming that date alone."""
    situation = _complete(ASSESSMENT)
    del situation["clarifying_conversation_on"]
    body = _problem(client.post("/route", json=situation, params={**DAY, "complete": "true"}), 422,
                    "IncompleteSituationError")
    question = ROUTER.definitions["udredning"].facts["clarifying_conversation_on"].question
    assert body["errors"] == [{"loc": ["body", "clarifying_conversation_on"], "msg": f"ikke oplyst: {question}",
                               "type": "not_stated"}]


def test_complete_is_a_checked_query(client: httpx.Client) -> None:
    """complete given twice, or not a boolean, is a 422 at query.complete (not a silent last one)."""
    twice = client.post(f"/route?on={ON}&complete=true&complete=false", json=OPIOID)
    assert _problem(twice, 422, "SituationError")["errors"] == [
        {"loc": ["query", "complete"], "msg": "given more than once", "type": "duplicate"}]
    wrong = client.post("/route", json=OPIOID, params={**DAY, "complete": "sometimes"})
    (error,) = _problem(wrong, 422, "SituationError")["errors"]
    assert error["loc"] == ["query", "complete"]
    assert "sometimes" not in wrong.text


# --- /next-question gets the guards every body does ---------------------------------------------------------


def test_next_question_refuses_what_route_refuses(client: httpx.Client) -> None:
    """A duplicate key, a fact of the wrong type, an unknown one, `on` twice or not a date: 422; a body not
    sent as JSON: 415; too large: 413; an unknown municipality: 404; a pack not in force: 409."""
    path = "/next-question"
    twice = '{"municipality": "aalborg", "event": "afrusning", "seizures": true, "seizures": false}'
    errors = _problem(client.post(path, content=twice, headers=JSON), 422, "SituationError")["errors"]
    assert errors == [{"loc": ["body", "seizures"], "msg": "duplicate key 'seizures'",
                       "type": "json_duplicate_key"}]
    wrong = _problem(client.post(path, json={**DETOX, "seizures": "010190-1234"}), 422, "SituationError")
    assert [e["loc"] for e in wrong["errors"]] == [["body", "seizures"]]
    assert "010190-1234" not in json.dumps(wrong)
    unknown = _problem(client.post(path, json={**DETOX, "seizurs": True}), 422, "SituationError")
    assert "seizures" in unknown["errors"][0]["msg"]  # the library's suggestion
    on_twice = _problem(client.post(f"{path}?on=2026-11-23&on=2019-01-01", json=DETOX), 422, "SituationError")
    assert on_twice["errors"] == [{"loc": ["query", "on"], "msg": "given more than once", "type": "duplicate"}]
    bad_on = _problem(client.post(path, json=DETOX, params={"on": "2026-11-23T00:00"}), 422, "SituationError")
    assert bad_on["errors"][0]["loc"] == ["query", "on"]
    _problem(client.post(path, content=b"{}", headers={"content-type": "text/plain"}), 415,
             "UnsupportedMediaType")
    _problem(client.post(path, content=b" " * (MAX_BODY_BYTES + 1), headers=JSON), 413, "RequestTooLarge")
    missing = _problem(client.post(path, json={**DETOX, "municipality": "odense"}), 404, "UnknownEventError")
    assert (missing["what"], missing["value"]) == ("municipality", None)
    early = client.post(path, json=DETOX, params={"on": "2019-01-01"})
    _problem(early, 409, "RoutingError")


def test_next_question_logs_its_route_not_the_situation(live: LiveServer, client: httpx.Client) -> None:
    """The access line names POST /next-question and the status; no query or value of the situation."""
    live.records.lines.clear()
    client.post("/next-question", json={**ASSESSMENT, "clarifying_conversation_on": "2025-08-05"},
                params={"on": "2026-01-02"})
    client.post("/route", json={**ASSESSMENT, "clarifying_conversation_on": "2025-08-05"},
                params={"on": "2026-01-02", "complete": "true"})
    time.sleep(0.05)  # the access line is written after the response is sent
    text = live.records.text
    assert '"POST /next-question HTTP/1.1" 200' in text
    assert '"POST /route HTTP/1.1" 422' in text
    for value in ("2025-08-05", "2026-01-02", "complete=", "udredning", "rebild"):
        assert value not in text
    assert dt.date(2026, 1, 2).isoformat() not in text
