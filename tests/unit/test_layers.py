"""Layers: national law and the regional agreement once, inherited by each municipality; a town from YAML alone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import ansvar
from ansvar import RuleError
from tests.fixtures import ON
from tests.fixtures.towns import NORDBY, NORDBY_AFRUSNING, write_town


@pytest.fixture
def nordby(tmp_path: Path) -> ansvar.Router:
    write_town(tmp_path / "mine", "nordby", NORDBY, {"afrusning": NORDBY_AFRUSNING})
    return ansvar.Router([ansvar.shipped_rules(), tmp_path / "mine"])


def test_third_municipality_from_yaml_alone(nordby: ansvar.Router) -> None:
    """A town added with two YAML files routes: its own rule, the region's and the law's, each cited."""
    assert "nordby" in nordby.municipalities()
    assert set(nordby.events("nordby")) == {"afrusning", "akutte_opioidabstinenser"}
    own = nordby.route({"municipality": "nordby", "event": "afrusning"}, on=ON)
    assert own.responsible == "rusmiddelbehandling"
    assert own.responsible_name == "Rusmiddelcentret i Nordby"
    (step,) = own.steps
    assert step.due == ON + dt.timedelta(days=2)
    assert step.contact is not None
    assert step.contact.phone == "1234 5678"
    assert step.source.document == "Nordbys vejledning om afrusning"
    assert [info.layer for info in own.pack.layers] == ["region_nordjylland", "nordby"]
    assert own.trace[0].layer == "nordby"
    region = nordby.route({"municipality": "nordby", "event": "afrusning", "delirium_tremens": True}, on=ON)
    assert region.responsible == "region_akutmodtagelse"
    assert region.responsible_name == "Region Nordjylland (Akutmodtagelsen / skadestuen)"
    assert "Sundhedsaftalen" in region.warnings[0].text
    law = nordby.route({"municipality": "nordby", "event": "akutte_opioidabstinenser",
                        "presents_at": "rusmiddelbehandling"}, on=ON)
    assert law.responsible == "rusmiddelbehandling"
    assert law.steps[0].actor_name == "Rusmiddelcentret i Nordby"
    assert law.pack.layers[0].document.startswith("Autorisationsloven § 41")


def test_a_town_does_not_cover_an_event_only_a_non_standalone_law_pack_speaks_to(nordby: ansvar.Router) -> None:
    """The 14-day guarantee alone names no one: Nordby does not cover `udredning` and says so."""
    with pytest.raises(ansvar.UnknownEventError) as caught:
        nordby.route({"municipality": "nordby", "event": "udredning"}, on=ON)
    assert "afrusning" in caught.value.known


def test_shipped_municipalities_share_the_law_and_region_layers() -> None:
    """Aalborg and Rebild cite the same § 41 rule and the same regional rule, written once."""
    router = ansvar.default_router()
    for town in ("aalborg", "rebild"):
        pack = router.pack(town, "akutte_opioidabstinenser")
        assert pack.origin["alle_har_pligt_at_behandle"].layer.id == "danmark"
        pack = router.pack(town, "afrusning")
        assert pack.origin["region_ansvar_kompliceret_afrusning"].layer.id == "region_nordjylland"
    aalborg = router.pack("aalborg", "akutte_opioidabstinenser")
    assert aalborg.origin["rusmiddelbehandlingen_har_ansvaret"].layer.id == "aalborg"
    assert "ambulant_afrusning_i_primaersektoren" not in router.pack("aalborg", "afrusning").rules


def broken(tmp_path: Path, rule: str, *, header: str = "", layer: str = NORDBY) -> RuleError:
    pack = NORDBY_AFRUSNING.split("rules:\n")[0].replace("section: Afrusning\n", f"section: Afrusning\n{header}")
    write_town(tmp_path / "mine", "nordby", layer, {"afrusning": pack + "rules:\n" + rule})
    with pytest.raises(RuleError) as caught:
        ansvar.Router([ansvar.shipped_rules(), tmp_path / "mine"])
    return caught.value


RULE = """\
  - id: {id}
    {extra}
    responsible: rusmiddelbehandling
    source: {{section: S, passage: P}}
"""


def test_same_id_without_overrides_is_refused(tmp_path: Path) -> None:
    """Reusing an inherited rule's id silently would replace the regional agreement: it is an error."""
    error = broken(tmp_path, RULE.format(id="region_ansvar_kompliceret_afrusning", extra="priority: 1"))
    assert (error.line, error.column) == (11, 9)
    assert "already defined by layer 'region_nordjylland'" in error.message
    assert "region_nordjylland/afrusning.yaml:" in error.message
    assert "overrides: region_nordjylland" in error.message


def test_overrides_naming_the_wrong_layer_is_refused(tmp_path: Path) -> None:
    """`overrides:` must name the layer the rule really comes from."""
    error = broken(tmp_path, RULE.format(id="region_ansvar_kompliceret_afrusning", extra="overrides: danmark"))
    assert (error.line, error.column) == (12, 16)
    assert "comes from layer 'region_nordjylland'" in error.message


def test_overrides_of_nothing_is_refused(tmp_path: Path) -> None:
    """A rule that claims to replace an inherited rule which does not exist is an error (a typo)."""
    error = broken(tmp_path, RULE.format(id="region_ansvar_kompliceret", extra="overrides: region_nordjylland"))
    assert (error.line, error.column) == (12, 16)
    assert "no layer above defines a rule 'region_ansvar_kompliceret'" in error.message


def test_omit_of_an_unknown_rule_is_refused(tmp_path: Path) -> None:
    """`omit:` naming a rule no layer above defines is an error at that key."""
    error = broken(tmp_path, RULE.format(id="egen", extra="priority: 1"),
                   header="  omit:\n    ambulant_afrusning: typo\n")
    assert (error.line, error.column) == (11, 5)
    assert "omit names rule 'ambulant_afrusning'" in error.message


def test_omit_drops_the_inherited_rule(tmp_path: Path) -> None:
    """An omitted inherited rule is gone from the town's pack, and the town's own rule decides."""
    write_town(tmp_path / "mine", "nordby", NORDBY, {
        "afrusning": NORDBY_AFRUSNING.split("rules:\n")[0].replace(
            "section: Afrusning\n", "section: Afrusning\n  omit: {ambulant_afrusning_i_primaersektoren: own}\n")
        + "rules:\n" + RULE.format(id="egen", extra="priority: 1")})
    router = ansvar.Router([ansvar.shipped_rules(), tmp_path / "mine"])
    assert "ambulant_afrusning_i_primaersektoren" not in router.pack("nordby", "afrusning").rules
    assert router.route({"municipality": "nordby", "event": "afrusning"}, on=ON).responsible == "rusmiddelbehandling"


@pytest.mark.parametrize(("layer", "where", "message"), [
    (NORDBY.replace("region_nordjylland", "region_nordjyland"), (4, 11),
     "inherits unknown layer 'region_nordjyland' (did you mean 'region_nordjylland'?)"),
    (NORDBY.replace("kind: municipality", "kind: national"), (4, 11),
     "a national layer cannot inherit from the region layer 'region_nordjylland'"),
    (NORDBY.replace("inherits: region_nordjylland", "inherits: nordby"), (4, 11),
     "layers inherit in a circle: nordby -> nordby"),
    (NORDBY.replace("kind: municipality", "kind: town"), (2, 7), "kind: must be one of"),
])
def test_bad_layer_files(tmp_path: Path, layer: str, where: tuple[int, int], message: str) -> None:
    """layer.yaml errors name the file, line and column."""
    write_town(tmp_path / "mine", "nordby", layer)
    with pytest.raises(RuleError) as caught:
        ansvar.Router([ansvar.shipped_rules(), tmp_path / "mine"])
    assert caught.value.path is not None
    assert caught.value.path.name == "layer.yaml"
    assert (caught.value.line, caught.value.column) == where, str(caught.value)
    assert message in caught.value.message


def test_inheriting_needs_the_directory_of_the_layer_above(tmp_path: Path) -> None:
    """A town inheriting the shipped region, loaded without the shipped rules, says what to add."""
    write_town(tmp_path / "mine", "nordby", NORDBY)
    with pytest.raises(RuleError, match=r"shipped_rules\(\)"):
        ansvar.Router([tmp_path / "mine"])


def test_a_layer_defined_twice_is_refused(tmp_path: Path) -> None:
    """Two folders claiming the same layer id (e.g. a copy of the shipped region) is an error."""
    write_town(tmp_path / "mine", "region_nordjylland",
               "layer: region_nordjylland\nkind: region\nname: Kopi\n")
    with pytest.raises(RuleError, match="layer 'region_nordjylland' is also defined in"):
        ansvar.Router([ansvar.shipped_rules(), tmp_path / "mine"])


def test_two_layers_giving_one_warning_two_texts_is_refused(tmp_path: Path) -> None:
    """A warning id means one thing across layers: a town re-using the region's id with new words errs."""
    rule = RULE.format(id="egen", extra="priority: 1") + (
        "    warnings: [{id: region_ansvar_kompliceret_afrusning, text: Noget andet}]\n")
    error = broken(tmp_path, rule)
    assert "warning 'region_ansvar_kompliceret_afrusning' is given two different texts" in error.message


DUE_RULE = """\
  - id: egen
    priority: 1
    when: {when}
    responsible: rusmiddelbehandling
    source: {{section: S, passage: P}}
    steps:
      - {{actor: rusmiddelbehandling, action: a, text: T, due: {due}}}
"""


@pytest.mark.parametrize(("when", "due", "message"), [
    ("{seizures: false}", "{days: 1, from: seizures}", "due counts from 'seizures', which is not a date fact"),
    ("{seizures: false}", "{days: 1, from: held_on}", "due counts from 'held_on', which is not a date fact"),
])
def test_due_from_must_be_a_date_of_the_event(tmp_path: Path, when: str, due: str, message: str) -> None:
    """A deadline counts from a date fact of the event or `on`; anything else is named at its line."""
    error = broken(tmp_path, DUE_RULE.format(when=when, due=due))
    assert error.line == 17
    assert message in error.message


def test_due_from_a_date_the_condition_does_not_guarantee_is_refused(tmp_path: Path) -> None:
    """A deadline from a date that may be null when the rule fires would be a silent gap: refused."""
    layer = NORDBY.replace("inherits: region_nordjylland\n", "").replace(
        "actors:\n", "actors:\n  behandler: {name: B}\n")
    pack = NORDBY_AFRUSNING.split("rules:\n")[0].replace("event: afrusning", "event: behandlingsforloeb")
    rule = DUE_RULE.format(when="{wants_residential: true}", due="{months: 1, from: treatment_ended_on}")
    write_town(tmp_path / "mine", "nordby", layer, {"behandlingsforloeb": pack + "rules:\n" + rule})
    with pytest.raises(RuleError) as caught:
        ansvar.Router([tmp_path / "mine"])
    assert caught.value.line == 17
    assert "may be null when rule 'egen' fires; add `treatment_ended_on: {ne: null}`" in caught.value.message
    guarded = rule.replace("{wants_residential: true}", "{wants_residential: true, treatment_ended_on: {ne: null}}")
    write_town(tmp_path / "mine", "nordby", packs={"behandlingsforloeb": pack + "rules:\n" + guarded})
    router = ansvar.Router([tmp_path / "mine"])
    decision = router.route({"municipality": "nordby", "event": "behandlingsforloeb", "wants_residential": True,
                             "treatment_ended_on": dt.date(2026, 1, 31)}, on=dt.date(2026, 2, 1))
    assert decision.steps[0].due == dt.date(2026, 2, 28)


def test_cli_add_rules_loads_a_town_beside_the_shipped_packs(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`ansvar --add-rules DIR` routes a municipality defined in DIR on top of the shipped layers."""
    from ansvar import cli

    write_town(tmp_path / "mine", "nordby", NORDBY, {"afrusning": NORDBY_AFRUSNING})
    situation = tmp_path / "s.yaml"
    situation.write_text("municipality: nordby\nevent: afrusning\n", encoding="utf-8")
    assert cli.main(["--add-rules", str(tmp_path / "mine"), "route", str(situation), "--on", "2026-11-23"]) == 0
    assert "Rusmiddelcentret i Nordby" in capsys.readouterr().out
