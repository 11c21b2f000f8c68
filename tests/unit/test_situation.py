"""Typed situations: strict, complete, and silent about the citizen."""

from __future__ import annotations

import datetime as dt

import pytest

import ansvar
from ansvar.model.situation import MODELS, fact_types, parse_situation
from tests.fixtures import ON

CONTRACT_EVENTS = {
    "koerekort_alkohol", "koerekort_stoffer", "afrusning", "antabus_campral", "opioid_substitution",
    "udtrapning_ordineret_opioid", "udtrapning_illegal_benzodiazepin", "udtrapning_ordineret_benzodiazepin",
    "anden_medicin_substitution", "behandlingstilbud", "akutte_opioidabstinenser", "afklarende_samtale",
    "udredning", "behandlingsforloeb", "paaroerendesamtale",
}


def test_every_contract_event_has_a_model() -> None:
    """The contract's events are exactly the situation models."""
    assert set(MODELS) == CONTRACT_EVENTS


def test_common_facts_default_false() -> None:
    """consent_medcom, anonymous and minor_children default to false on every event."""
    for event in MODELS:
        situation = parse_situation({"municipality": "aalborg", "event": event})
        assert (situation.consent_medcom, situation.anonymous, situation.minor_children) == (False,) * 3


@pytest.mark.parametrize(("facts", "field"), [
    ({"delirum_tremens": True}, "delirum_tremens"),
    ({"seizures": "yes"}, "seizures"),
    ({"seizures": 1}, "seizures"),
    ({"seizures": "true"}, "seizures"),
    ({"administrations_per_day": "3"}, "administrations_per_day"),
    ({"administrations_per_day": -1}, "administrations_per_day"),
    ({"administrations_per_day": True}, "administrations_per_day"),
    ({"residence": "hjemme"}, "residence"),
    ({"consent_medcom": None}, "consent_medcom"),
    ({"municipality": "Aalborg Kommune"}, "municipality"),
])
def test_bad_facts_name_their_field(facts: dict[str, object], field: str) -> None:
    """A misspelt fact or a wrong type is a SituationError naming the field."""
    data = {"municipality": "aalborg", "event": "afrusning", **facts}
    with pytest.raises(ansvar.SituationError) as caught:
        ansvar.route(data)
    assert any(e["loc"][:1] == (field,) for e in caught.value.errors), caught.value.errors
    assert field in str(caught.value)


def test_missing_or_unknown_event() -> None:
    """No event, or one the contract lacks, is an error listing the known events."""
    with pytest.raises(ansvar.SituationError, match="event: missing; known events: .*afrusning"):
        ansvar.route({"municipality": "aalborg"})
    with pytest.raises(ansvar.UnknownEventError, match="known: .*afrusning"):
        ansvar.route({"municipality": "aalborg", "event": "afruzning"})
    with pytest.raises(ansvar.SituationError):
        ansvar.route(["not", "a", "mapping"])  # type: ignore[arg-type]


def test_unknown_municipality_lists_known() -> None:
    """A municipality without packs is an UnknownEventError listing the known ones."""
    with pytest.raises(ansvar.UnknownEventError, match="^unknown municipality; known: aalborg"):
        ansvar.route({"municipality": "aarhus", "event": "afrusning"})


def test_event_of_another_municipality() -> None:
    """A contract event Aalborg does not cover lists Aalborg's events."""
    with pytest.raises(ansvar.UnknownEventError, match="known: .*afrusning"):
        ansvar.route({"municipality": "aalborg", "event": "paaroerendesamtale"})


def test_typed_situation_routes_like_a_dict() -> None:
    """A typed Situation model and the same dict give the same Decision."""
    data = {"municipality": "aalborg", "event": "afrusning", "seizures": True}
    model = parse_situation(data)
    assert ansvar.route(model, on=ON) == ansvar.route(data, on=ON)


def test_an_unvalidated_model_with_a_date_in_a_boolean_fact_gets_no_answer() -> None:
    """A situation built without validation cannot slip a date into a fact that is none: one error, no answer.

    Only a date fact's value is turned into a day number for the engine; a date anywhere else used to be
    one too, and routed as a number the rules never compare a boolean with.
    """
    model = type(parse_situation({"municipality": "aalborg", "event": "afrusning"}))
    unchecked = model.model_construct(municipality="aalborg", event="afrusning", seizures=dt.date(2026, 1, 5))
    with pytest.raises(ansvar.EngineError) as caught:
        ansvar.route(unchecked, on=ON)
    assert "seizures" in str(caught.value)
    assert "2026" not in str(caught.value)


def test_situation_is_frozen() -> None:
    """A validated situation cannot be changed after validation."""
    situation = parse_situation({"municipality": "aalborg", "event": "afrusning"})
    with pytest.raises(Exception):  # noqa: B017, PT011 - pydantic's frozen error
        situation.seizures = True  # type: ignore[misc]


def test_no_citizen_data_in_reprs_or_errors() -> None:
    """Reprs and error messages name fields, never the values a citizen gave."""
    situation = parse_situation({"municipality": "aalborg", "event": "afrusning", "seizures": True,
                                 "administrations_per_day": 2})
    assert "True" not in repr(situation)
    assert "2" not in repr(situation).replace("aalborg", "")
    with pytest.raises(ansvar.SituationError) as caught:
        ansvar.route({"municipality": "aalborg", "event": "afrusning", "residence": "Jens Hansen 010203-1234"})
    assert "Jens" not in str(caught.value)
    assert "1234" not in str(caught.value)
    assert "Jens" not in repr(caught.value.errors)


def test_schema_per_event() -> None:
    """Each event's JSON Schema lists its facts and forbids others."""
    for event in MODELS:
        schema = ansvar.situation_schema(event)
        assert schema["additionalProperties"] is False
        assert set(fact_types(event)) <= set(schema["properties"])
    assert ansvar.situation_schema("behandlingstilbud")["properties"]["form"]["anyOf"][0]["enum"] == [
        "ambulant", "doegn", "efterbehandling", "substitution"]
    with pytest.raises(ansvar.UnknownEventError):
        ansvar.situation_schema("nope")


def test_on_must_be_a_date() -> None:
    """`on` is a date; a datetime or string is refused rather than guessed."""
    import datetime as dt

    with pytest.raises(ansvar.SituationError, match="on"):
        ansvar.route({"municipality": "aalborg", "event": "afrusning"}, on=dt.datetime(2026, 1, 1))  # noqa: DTZ001
    with pytest.raises(ansvar.SituationError):
        ansvar.route({"municipality": "aalborg", "event": "afrusning"}, on="2026-01-01")  # type: ignore[arg-type]


def test_before_valid_from_is_an_error() -> None:
    """Routing on a date before the guide is in force is an error, not an answer."""
    import datetime as dt

    with pytest.raises(ansvar.RoutingError, match="in force from 2019-07-01"):
        ansvar.route({"municipality": "aalborg", "event": "afrusning"}, on=dt.date(2019, 6, 30))


def test_route_many_keeps_order_and_names_the_bad_index() -> None:
    """route_many answers in order; a bad situation raises naming its index, with no partial answers."""
    batch = [{"municipality": "aalborg", "event": "afrusning", "seizures": True},
             {"municipality": "aalborg", "event": "afrusning"}]
    assert [d.responsible for d in ansvar.route_many(batch, on=ON)] == ["region_akutmodtagelse", "borger"]
    with pytest.raises(ansvar.SituationError, match="situation 1: "):
        ansvar.route_many([batch[0], {"municipality": "aalborg", "event": "afrusning", "x": 1}], on=ON)


def test_a_misspelt_fact_gets_a_suggestion() -> None:
    """A fact name close to one the event reads says which it may have meant; one that is no id does not."""
    with pytest.raises(ansvar.SituationError, match=r"withdrawl_symptoms: unknown fact of event 'afrusning' "
                                                    r"\(did you mean 'withdrawal_symptoms'\?\)"):
        ansvar.route({"municipality": "aalborg", "event": "afrusning", "withdrawl_symptoms": True})
    with pytest.raises(ansvar.SituationError) as caught:
        ansvar.route({"municipality": "aalborg", "event": "afrusning", "Withdrawl Symptoms": True})
    assert "did you mean" not in str(caught.value)


def test_messages_are_ansvars_own_words() -> None:
    """Type errors are said in ansvar's words (by pydantic's error type), never pydantic's sentences."""
    with pytest.raises(ansvar.SituationError) as caught:
        ansvar.route({"municipality": "aalborg", "event": "afrusning", "seizures": "yes",
                      "administrations_per_day": -1, "residence": "hjemme"})
    assert [(e["loc"], e["msg"]) for e in caught.value.errors] == [
        (("seizures",), "must be true or false"),
        (("residence",), "must be one of 'eget_hjem', 'forsorgshjem' or 'opholdssted'"),
        (("administrations_per_day",), "must be at least 0"),
    ]
    with pytest.raises(ansvar.SituationError, match="expected a mapping of facts .*got nothing"):
        ansvar.route(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("on", "message"), [
    ("2026-01-01", r"on: must be a datetime.date, not str: datetime.date.fromisoformat\('YYYY-MM-DD'\)"),
    (20260101, "on: must be a datetime.date, not int"),
    (__import__("datetime").datetime(2026, 1, 1, 9, 30), "on: must be a date, not a datetime"),
])
def test_on_that_is_no_date_says_what_it_is(on: object, message: str) -> None:
    """`route(on=...)` with a string, a number or a datetime says what was given and what to give."""
    with pytest.raises(ansvar.SituationError, match=message):
        ansvar.route({"municipality": "aalborg", "event": "afrusning"}, on=on)  # type: ignore[arg-type]


@pytest.mark.parametrize(("second", "what"), [
    ({"municipality": "aarhus", "event": "afrusning"}, "unknown municipality"),
    ({"municipality": "aalborg", "event": "afruzning"}, "unknown event (did you mean 'afrusning'?)"),
    ({"municipality": "rebild", "event": "behandlingstilbud"},
     "unknown event for rebild (did you mean 'behandlingsforloeb'?)"),
])
def test_route_many_names_the_situation_no_pack_covers(second: dict[str, str], what: str) -> None:
    """In a batch, an unknown municipality or event names the index of the situation, as a bad fact does."""
    batch = [{"municipality": "aalborg", "event": "afrusning"}, second]
    with pytest.raises(ansvar.UnknownEventError) as caught:
        ansvar.route_many(batch)
    assert str(caught.value).startswith(f"situation 1: {what}; known: ")
    assert caught.value.where == "situation 1"


def test_top_level_route_many_takes_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ansvar.route_many(..., processes=N)` is the documented call: passed on to the router."""
    seen: dict[str, object] = {}
    router = ansvar.default_router()

    def spy(situations: object, on: object = None, *, processes: int | None = None) -> list[object]:
        seen["processes"] = processes
        return []

    monkeypatch.setattr(router, "route_many", spy)
    assert ansvar.route_many([], processes=2) == []
    assert seen == {"processes": 2}
