"""Events as data: every event is one YAML file, and everything about its situations derives from it."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ansvar
from ansvar.model import situation as shipped
from ansvar.model.events import EventDefinitions, load_events, shipped_events
from ansvar.render import docs
from ansvar.testing import scenarios, situations
from tests.fixtures import ON, expected_error

FIXTURES = sorted((Path(__file__).parents[1] / "invalid_events").glob("*.yaml"))

# A made-up municipality whose guide has an event no other has: its layer, its event, its rules. YAML only.
HEDEBY_LAYER = """layer: hedeby
kind: municipality
name: Hedeby Kommune
inherits: region_nordjylland
actors:
  hjemmesygepleje: {name: Hjemmesygeplejen i Hedeby, contact: {phone: "1234 5678"}}
  rusmiddelbehandling: {name: Rusmiddelcenter Hedeby}
"""
HEDEBY_EVENT = """event: hjemmebesoeg
title: Hjemmebesøg efter udskrivning
description: Borgeren er udskrevet efter afrusning og skal have besøg i hjemmet.
facts:
  visit_kind:
    type: enum
    values:
      sygepleje: Sygeplejebesøg
      samtale: Opfølgende samtale
    label: Besøgets art
    question: Hvilket besøg skal borgeren have?
  visits_per_week:
    type: integer
    minimum: 0
    maximum: 14
    label: Besøg pr. uge
    question: Hvor mange besøg om ugen?
  discharged_on:
    type: date
    label: Udskrevet
    question: Hvilken dag blev borgeren udskrevet?
  lives_alone:
    type: boolean
    label: Bor alene
    question: Bor borgeren alene?
"""
HEDEBY_PACK = """pack:
  layer: hedeby
  event: hjemmebesoeg
  title: Hjemmebesøg efter udskrivning
  document: Hedeby Kommunes samarbejdsaftale
  version: "1"
  valid_from: 2026-01-01
  review_by: null
  section: Hjemmebesøg
rules:
  - id: sygepleje_besoeger
    when: {visit_kind: sygepleje}
    responsible: hjemmesygepleje
    steps:
      - actor: hjemmesygepleje
        action: foerste_besoeg
        text: Hjemmesygeplejen aflægger første besøg senest tre dage efter udskrivningen.
        contact: hjemmesygepleje
        due: {days: 3, from: [discharged_on, on]}
    source: {section: Sygepleje, passage: Hjemmesygeplejen aflægger første besøg inden tre dage.}
  - id: samtale_i_centret
    when:
      any:
        - visit_kind: samtale
        - visit_kind: null
    responsible: rusmiddelbehandling
    source: {section: Samtale, passage: Rusmiddelcentret holder den opfølgende samtale.}
  - id: alene_mange_besoeg
    when: {lives_alone: true, visits_per_week: {ge: 5}}
    warnings:
      - id: mange_besoeg_alene
        text: Borgeren bor alene og skal have mange besøg; aftal nøgleordning.
    source: {section: Sygepleje, passage: "Ved mange ugentlige besøg hos borgere, der bor alene, aftales nøgle."}
"""
HEDEBY_SCENARIOS = """rules: [shipped, rules]
scenarios:
  - name: Sygeplejebesøg tre dage efter udskrivningen
    cites: Hjemmesygeplejen aflægger første besøg inden tre dage.
    situation: {municipality: hedeby, event: hjemmebesoeg, visit_kind: sygepleje, discharged_on: 2026-11-20}
    expect:
      responsible: hjemmesygepleje
      steps: [hjemmesygepleje.foerste_besoeg]
      due: {hjemmesygepleje.foerste_besoeg: 2026-11-23}
  - name: Uden oplyst besøgsart holder centret samtalen
    cites: Rusmiddelcentret holder den opfølgende samtale.
    situation: {municipality: hedeby, event: hjemmebesoeg, lives_alone: true, visits_per_week: 7}
    expect:
      responsible: rusmiddelbehandling
      warnings: [mange_besoeg_alene]
"""


def write_hedeby(root: Path) -> Path:
    """Hedeby's layer, its own event and its pack under `root`/rules; the rules folder."""
    town = root / "rules" / "hedeby"
    (town / "events").mkdir(parents=True)
    (town / "layer.yaml").write_text(HEDEBY_LAYER, encoding="utf-8")
    (town / "events" / "hjemmebesoeg.yaml").write_text(HEDEBY_EVENT, encoding="utf-8")
    (town / "hjemmebesoeg.yaml").write_text(HEDEBY_PACK, encoding="utf-8")
    return root / "rules"


@pytest.fixture(scope="module")
def hedeby(tmp_path_factory: pytest.TempPathFactory) -> ansvar.Router:
    return ansvar.Router([ansvar.shipped_rules(), write_hedeby(tmp_path_factory.mktemp("hedeby"))])


def test_a_new_municipality_with_a_new_event_is_yaml_alone(hedeby: ansvar.Router) -> None:
    """Hedeby's own event routes, with deadlines from its own date fact and its warning."""
    assert hedeby.events("hedeby")["hjemmebesoeg"] == "Hjemmebesøg efter udskrivning"
    decision = hedeby.route({"municipality": "hedeby", "event": "hjemmebesoeg", "visit_kind": "sygepleje",
                             "discharged_on": "2026-11-10"}, on=ON)
    assert decision.responsible == "hjemmesygepleje"
    assert decision.steps[0].due == dt.date(2026, 11, 13)
    assert "frist_overskredet" in {w.id for w in decision.warnings}
    many = hedeby.route({"municipality": "hedeby", "event": "hjemmebesoeg", "lives_alone": True,
                         "visits_per_week": 5}, on=ON)
    assert (many.responsible, [w.id for w in many.warnings]) == ("rusmiddelbehandling", ["mange_besoeg_alene"])
    # The shipped municipalities keep their answers, and the shipped router does not know the new event.
    assert hedeby.route({"municipality": "aalborg", "event": "afrusning"}, on=ON) == ansvar.route(
        {"municipality": "aalborg", "event": "afrusning"}, on=ON)
    with pytest.raises(ansvar.UnknownEventError):
        ansvar.parse_situation({"municipality": "hedeby", "event": "hjemmebesoeg"})


def test_the_new_event_is_as_strict_as_the_shipped_ones(hedeby: ansvar.Router) -> None:
    """Unknown facts, values outside the enum or bounds, a number for a boolean: SituationError."""
    base = {"municipality": "hedeby", "event": "hjemmebesoeg"}
    for wrong in ({"visit_kind": "ukendt"}, {"visits_per_week": 15}, {"visits_per_week": True},
                  {"lives_alone": 1}, {"lives_alne": True}, {"discharged_on": 0}):
        with pytest.raises(ansvar.SituationError):
            hedeby.route({**base, **wrong}, on=ON)


def test_the_new_event_has_its_schema_and_its_docs_page(hedeby: ansvar.Router, tmp_path: Path) -> None:
    """Its JSON Schema carries the Danish labels and questions; the docs have a page showing them."""
    schema = hedeby.situation_schema("hjemmebesoeg")
    kind = schema["properties"]["visit_kind"]
    assert (kind["title"], kind["description"]) == ("Besøgets art", "Hvilket besøg skal borgeren have?")
    assert {"enum": ["sygepleje", "samtale"], "type": "string"} in kind["anyOf"]  # or null: not known yet
    assert kind["x-labels"] == {"sygepleje": "Sygeplejebesøg", "samtale": "Opfølgende samtale"}
    assert {"maximum": 14, "minimum": 0, "type": "integer"} in schema["properties"]["visits_per_week"]["anyOf"]
    assert schema["additionalProperties"] is False
    pages = docs.render(hedeby)
    page = next(text for name, text in pages.items() if "hedeby" in str(name) and "hjemmebesoeg" in str(name))
    for shown in ("Besøgets art", "Hvor mange besøg om ugen?", "sygepleje (Sygeplejebesøg)", "discharged_on"):
        assert shown in page


def test_the_new_event_has_scenarios_and_strategies(hedeby: ansvar.Router, tmp_path: Path) -> None:
    """Scenario files and the hypothesis strategies work for it as for the shipped events."""
    write_hedeby(tmp_path)
    file = tmp_path / "hedeby.yaml"
    file.write_text(HEDEBY_SCENARIOS, encoding="utf-8")
    loaded = scenarios.load(file)
    assert [scenarios.run(s) for s in loaded] == [None, None]

    @settings(max_examples=40, deadline=None)
    @given(situations("hjemmebesoeg", router=hedeby))
    def routes(situation: dict[str, object]) -> None:
        assert situation["municipality"] == "hedeby"
        assert hedeby.route(situation, on=ON).responsible in {"hjemmesygepleje", "rusmiddelbehandling"}

    routes()


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_broken_event_file_names_file_line_column(fixture: Path, tmp_path: Path) -> None:
    """The fixture's `# expect: LINE:COL: message` is what loading a layer holding it raises."""
    text, line, column, message = expected_error(fixture)
    town = tmp_path / "testkommune"
    (town / "events").mkdir(parents=True)
    (town / "layer.yaml").write_text("layer: testkommune\nkind: municipality\nname: Test\n", encoding="utf-8")
    (town / "events" / fixture.name).write_text(text, encoding="utf-8")
    with pytest.raises(ansvar.RuleError) as caught:
        ansvar.Router([town])
    error = caught.value
    assert error.path == town / "events" / fixture.name
    assert (error.line, error.column) == (line, column), str(error)
    assert message in error.message


def test_an_event_defined_twice_is_refused_at_the_second(tmp_path: Path) -> None:
    """A layer's event with the id of a shipped one: a RuleError naming where the first lives."""
    town = tmp_path / "testkommune"
    (town / "events").mkdir(parents=True)
    (town / "layer.yaml").write_text("layer: testkommune\nkind: municipality\nname: Test\n", encoding="utf-8")
    (town / "events" / "afrusning.yaml").write_text("event: afrusning\ntitle: Igen\nfacts: {}\n",
                                                    encoding="utf-8")
    with pytest.raises(ansvar.RuleError) as caught:
        ansvar.Router([town])
    assert (caught.value.line, caught.value.column) == (1, 8)
    assert "already defined in" in caught.value.message
    assert str(shipped_events() / "afrusning.yaml") in caught.value.message


def test_a_pack_for_an_event_nobody_defines_says_where_its_file_goes(tmp_path: Path) -> None:
    """The loader's message for an unknown event names the event file that would define it."""
    town = write_hedeby(tmp_path)
    (town / "hedeby" / "events" / "hjemmebesoeg.yaml").unlink()
    with pytest.raises(ansvar.RuleError, match=r"hedeby/events/hjemmebesoeg\.yaml"):
        ansvar.Router([ansvar.shipped_rules(), town])


def test_the_shipped_models_derive_from_the_event_files() -> None:
    """Each shipped event file is a model importable under its name, with every fact and its default."""
    events = load_events(shipped_events())
    assert set(events) == set(shipped.MODELS)
    for event, definition in events.items():
        model = getattr(shipped, definition.model.__name__)
        assert model is shipped.MODELS[event]
        fields = {name: field.default for name, field in model.model_fields.items()
                  if name not in {"municipality", "event"}}
        assert fields == {name: fact.default_value for name, fact in definition.facts.items()}
        schema = ansvar.situation_schema(event)["properties"]
        for name, fact in definition.facts.items():
            assert (schema[name]["title"], schema[name]["description"]) == (fact.label, fact.question)
            assert fact.question.endswith("?")  # a question a caseworker can answer
    assert events.common == shipped_definitions_common()
    from ansvar.situation import Afrusning  # the old import path
    assert Afrusning is shipped.MODELS["afrusning"]


def shipped_definitions_common() -> object:
    return ansvar.default_router().definitions.common


def test_definitions_are_a_mapping_of_the_router() -> None:
    """Router.definitions knows every event its packs route, and nothing else is needed to parse."""
    router = ansvar.default_router()
    assert isinstance(router.definitions, EventDefinitions)
    covered = {e for m in router.municipalities() for e in router.events(m)}
    assert covered <= set(router.definitions)


@pytest.mark.parametrize("value", [0, "0", 0.0, 1767225600, "1767225600", 1767225600.0, 1767225600000,
                                   dt.datetime(2026, 1, 31), "2026-01-31T00:00:00", "2026-01-31T00:00:00+05:00",
                                   "2026-1-31", "20260131", "2026-02-30", True, [2026, 1, 31]])
def test_a_date_is_iso_text_or_a_date_and_nothing_else(value: object) -> None:
    """Numbers, datetimes and other spellings are refused as dates: `0` is not 1 January 1970."""
    with pytest.raises(ansvar.SituationError) as caught:
        ansvar.route({"municipality": "rebild", "event": "udredning", "clarifying_conversation_on": value},
                     on=ON)
    assert caught.value.errors[0]["loc"] == ("clarifying_conversation_on",)
    assert caught.value.errors[0]["msg"] == "must be a date (YYYY-MM-DD)"


@given(st.dates(dt.date(1900, 1, 1), dt.date(2199, 12, 31)))
def test_an_iso_date_and_a_date_object_are_the_same_date(day: dt.date) -> None:
    """Both forms a date may take give the same situation."""
    as_text = ansvar.parse_situation({"municipality": "rebild", "event": "udredning",
                                      "clarifying_conversation_on": day.isoformat()})
    as_date = ansvar.parse_situation({"municipality": "rebild", "event": "udredning",
                                      "clarifying_conversation_on": day})
    assert as_text == as_date


def test_the_shipped_event_files_ship_with_the_package(tmp_path: Path) -> None:
    """A copy of the events folder loads alone: the definitions need nothing but their files."""
    shutil.copytree(shipped_events(), tmp_path / "events")
    assert set(load_events(tmp_path / "events")) == set(shipped.MODELS)


def test_a_situation_error_carries_no_trace_of_pydantics_error() -> None:
    """Neither cause nor context: pydantic's error holds the input, a citizen's facts."""
    with pytest.raises(ansvar.SituationError) as caught:
        ansvar.parse_situation({"municipality": "aalborg", "event": "afrusning", "seizures": "3112901234"})
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
