"""Privacy: a citizen's identifiers given in a situation appear in no log, trace, repr or error message, and
nothing of a situation stays in the engine after a call."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ansvar
from ansvar import cli, engine
from ansvar.model.situation import Behandlingsforloeb
from tests.fixtures import ON

ROUTER = ansvar.default_router()
CPR = "010203-1234"
NAME = "Jens Ærbø Hansen"
SECRETS = (CPR, "0102031234", NAME, "Ærbø")

LEAKS: list[tuple[str, dict[str, Any]]] = [
    ("unknown field", {"municipality": "aalborg", "event": "afrusning", "cpr": CPR, "name": NAME}),
    ("in a boolean", {"municipality": "aalborg", "event": "afrusning", "seizures": CPR}),
    ("in an enum", {"municipality": "aalborg", "event": "afrusning", "residence": NAME}),
    ("in a count", {"municipality": "aalborg", "event": "afrusning", "administrations_per_day": CPR}),
    ("in a date", {"municipality": "rebild", "event": "udredning", "clarifying_conversation_on": CPR}),
    ("as the municipality", {"municipality": CPR, "event": "afrusning"}),
    ("as the event", {"municipality": "aalborg", "event": NAME}),
    ("as a key", {"municipality": "aalborg", "event": "afrusning", CPR: True}),
]


def _assert_clean(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked into: {text[:200]}"


@pytest.mark.parametrize(("where", "situation"), LEAKS, ids=[leak[0] for leak in LEAKS])
def test_identifiers_appear_in_no_error_log_or_repr(where: str, situation: dict[str, Any],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """A CPR number or a name slipped into a situation shows up in no exception text, repr or log line."""
    caplog.set_level(logging.DEBUG)
    for call in (lambda: ROUTER.route(situation, on=ON),
                 lambda: ROUTER.route_many([situation], on=ON),
                 lambda: ROUTER.outline(situation, on=ON),
                 lambda: ROUTER.why_not(situation, "borger", on=ON)):
        with pytest.raises(ansvar.AnsvarError) as caught:
            call()
        error = caught.value
        details = json.dumps(getattr(error, "errors", None), default=str)
        _assert_clean(str(error), repr(error), details, caught.exconly())
    _assert_clean(caplog.text)
    assert engine.live_sessions() == 0, where


def test_identifiers_in_a_situation_file_stay_out_of_the_cli_output(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI's one-line errors carry no value of the file: neither for YAML nor for JSON."""
    for name, text in (("s.yaml", f"municipality: aalborg\nevent: afrusning\ncpr: '{CPR}'\nname: {NAME}\n"),
                       ("s.json", json.dumps({"municipality": "aalborg", "event": "afrusning", "seizures": CPR}))):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        assert cli.main(["route", str(path)]) == 2
        out, err = capsys.readouterr()
        _assert_clean(out, err)


class _CaseRecord(Behandlingsforloeb):
    """A caller's own situation model: the event's facts plus the citizen's identifiers, routed as is."""

    cpr: str
    name: str


def test_a_valid_decision_and_its_renderings_hold_no_situation_model() -> None:
    """The Decision, its JSON, text card and explanation name rules and passages, not the situation: neither
    the identifiers a caller's model carries beside the facts nor the facts' own values appear in any."""
    situation = _CaseRecord(municipality="rebild", event="behandlingsforloeb",
                            treatment_ended_on=dt.date(2026, 1, 31), cpr=CPR, name=NAME)
    _assert_clean(repr(situation))
    assert "2026" not in repr(situation)
    decision = ROUTER.route(situation, on=ON)
    fields = set(decision.model_dump())
    assert fields == {"municipality", "event", "on", "responsible", "responsible_name", "steps", "warnings",
                      "sources", "trace", "pack", "responsible_settled", "responsible_depends_on",
                      "open_questions", "assumed", "responsible_interpretation"}
    renderings = (decision.model_dump_json(), str(decision), decision.explain(), repr(decision),
                  decision._repr_html_())
    _assert_clean(*renderings)
    ended = situation.treatment_ended_on
    assert ended is not None
    for text in renderings:
        assert ended.isoformat() not in text
        assert f"{ended:%d.%m.%Y}" not in text
    dues = {step.due for step in decision.steps if step.due is not None}  # counted from that date: shown
    assert dues
    assert all(f"{due:%d.%m.%Y}" in str(decision) for due in dues)


def test_nothing_stays_in_the_engine_after_a_call() -> None:
    """After route and route_many, the engine itself holds no session of the calls (error 309: no such sid)."""
    pack = ROUTER.pack("aalborg", "afrusning")
    ROUTER.route({"municipality": "aalborg", "event": "afrusning", "seizures": True}, on=ON)
    single = engine.last_session_id()
    ROUTER.route_many([{"municipality": "aalborg", "event": "afrusning"}] * 5, on=ON)
    batch = engine.last_session_id()
    assert not engine.session_exists(pack.ruleset, str(single))
    assert not engine.session_exists(pack.ruleset, str(batch))
    assert engine.live_sessions() == 0


def _identifying(text: str) -> bool:
    # A CPR number, or a name (capitals, spaces, digits first): never an id's shape, which messages may quote.
    return bool(text.strip()) and re.fullmatch(r"[a-z][a-z0-9_]{0,63}", text) is None


@settings(max_examples=200)
@given(secret=st.from_regex(r"\A[0-3][0-9][01][0-9]{3}-?[0-9]{4}\Z") | st.text(min_size=6, max_size=30).filter(
           _identifying),
       field=st.sampled_from(["cpr", "navn", "seizures", "residence", "administrations_per_day", "municipality",
                              "event", "enrolled_in", "held_on"]))
def test_no_identifier_shape_leaks_from_any_field(secret: str, field: str) -> None:
    """Whatever identifier-like string sits in whichever field, errors never repeat it."""
    def error_text(value: str) -> str:
        try:
            ROUTER.route({"municipality": "aalborg", "event": "afrusning", field: value}, on=ON)
        except ansvar.AnsvarError as error:
            return f"{error} {error!r} {json.dumps(getattr(error, 'errors', None), default=str)}"
        return ""

    text = error_text(secret)
    known = {field, "afrusning", "aalborg", *ansvar.situation_schema("afrusning")["properties"]}
    # Words every such error has (its class's name, the message's own): a secret among them is no leak.
    if not any(secret in k for k in known) and secret not in error_text("\x00" * 6):
        assert secret not in text
    assert engine.live_sessions() == 0
