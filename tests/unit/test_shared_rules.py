"""Shared texts and rules: `texts:` and `rules:` of layer.yaml, taken by the layer's packs (and `use:`).

A town's packs say alike what its guide says once: one text per action, one body per shared rule. Each
error is one RuleError at the file, line and column where it is fixed. Over the shipped rules, every action
has exactly one text down each layer's chain, so a pasted step with another text cannot slip in.
"""

from __future__ import annotations

import collections
import datetime as dt
import shutil
from pathlib import Path

import pytest

import ansvar
from ansvar import RuleError, _yaml
from ansvar.analysis.space import SituationSpace
from ansvar.packs import loader

ON = dt.date(2026, 3, 2)

LAND = """\
layer: testland
kind: national
name: Testland
actors:
  borger: {name: Borger}
  egen_laege: {name: Egen læge}
  rusmiddelbehandling: {name: Rusmiddelbehandlingen}
texts:
  borger.kontakt_egen_laege: Borgeren kontakter egen læge.
  egen_laege.vurder: Egen læge vurderer borgeren.
"""

TOWN_HEAD = """\
layer: sydby
kind: municipality
name: Sydby Kommune
inherits: testland
actors:
  rusmiddelbehandling: {name: Rusmiddelcentret, contact: {phone: "1234 5678"}}
"""

TOWN = TOWN_HEAD + """\
texts:
  egen_laege.vurder: Egen læge i Sydby vurderer borgeren.
  rusmiddelbehandling.send_medcom: Rusmiddelcentret sender besked til egen læge via MedCom.
rules:
  medcom:
    source:
      section: Indledning
      in_event: false
      passage: Rusmiddelcentret sender besked via MedCom, når borgeren har givet samtykke.
    steps:
      - {actor: rusmiddelbehandling, action: send_medcom, contact: rusmiddelbehandling}
  ingen_medcom:
    source: {section: Indledning, in_event: false, passage: Kun med samtykke.}
    warnings:
      - {id: ingen_medcom_uden_samtykke, text: Uden samtykke sendes ingen besked via MedCom.}
"""

PACK_HEAD = """\
pack:
  layer: sydby
  event: afrusning
  title: Borger ønsker afrusning
  document: Sydbys vejledning
  version: "1"
  valid_from: 2024-01-01
  review_by: null
  section: Afrusning
rules:
"""

PACK = PACK_HEAD + """\
  - id: egen_laege_vurderer
    responsible: egen_laege
    source: {section: Læge, passage: Egen læge vurderer.}
    steps:
      - {actor: borger, action: kontakt_egen_laege}
      - {actor: egen_laege, action: vurder}
  - id: medcom_ved_opstart
    use: medcom
    when: {consent_medcom: true, wants_treatment_after: true}
  - id: ingen_medcom_uden_samtykke
    use: ingen_medcom
    when: {consent_medcom: false, wants_treatment_after: true}
    source: {section: Efter afrusningen, passage: Uden samtykke ingen besked.}
"""

#: The same pack with every shared text and body written out in it, as before layer.yaml could share.
PASTED = PACK_HEAD + """\
  - id: egen_laege_vurderer
    responsible: egen_laege
    source: {section: Læge, passage: Egen læge vurderer.}
    steps:
      - {actor: borger, action: kontakt_egen_laege, text: Borgeren kontakter egen læge.}
      - {actor: egen_laege, action: vurder, text: Egen læge i Sydby vurderer borgeren.}
  - id: medcom_ved_opstart
    when: {consent_medcom: true, wants_treatment_after: true}
    source:
      section: Indledning
      in_event: false
      passage: Rusmiddelcentret sender besked via MedCom, når borgeren har givet samtykke.
    steps:
      - actor: rusmiddelbehandling
        action: send_medcom
        text: Rusmiddelcentret sender besked til egen læge via MedCom.
        contact: rusmiddelbehandling
  - id: ingen_medcom_uden_samtykke
    when: {consent_medcom: false, wants_treatment_after: true}
    source: {section: Efter afrusningen, passage: Uden samtykke ingen besked.}
    warnings:
      - {id: ingen_medcom_uden_samtykke, text: Uden samtykke sendes ingen besked via MedCom.}
"""


def rules(tmp_path: Path, town: str = TOWN, pack: str = PACK, land: str = LAND) -> Path:
    """A rule directory: the national layer `testland` and the town `sydby` with its afrusning pack."""
    for folder, files in {"testland": {"layer.yaml": land},
                          "sydby": {"layer.yaml": town, "afrusning.yaml": pack}}.items():
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (tmp_path / folder / name).write_text(text, encoding="utf-8")
    return tmp_path


def at(text: str, needle: str) -> tuple[int, int]:
    """The 1-based line and column where `needle` begins in `text` (it occurs once)."""
    assert text.count(needle) == 1, needle
    before = text[:text.index(needle)]
    return before.count("\n") + 1, len(before) - before.rfind("\n")


def refused(base: Path) -> RuleError:
    with pytest.raises(RuleError) as caught:
        ansvar.Router([base])
    return caught.value


def assert_at(error: RuleError, file: str, where: tuple[int, int], message: str) -> None:
    assert error.path is not None
    assert error.path.parent.name + "/" + error.path.name == file, str(error)
    assert (error.line, error.column) == where, str(error)
    assert message in error.message, str(error)
    assert len(error.all or [error]) == 1, [str(e) for e in error.all]


def route(router: ansvar.Router, **facts: object) -> ansvar.Decision:
    return router.route({"municipality": "sydby", "event": "afrusning", **facts}, on=ON)


# --- what shared texts and rules answer ------------------------------------------------------------------

def test_steps_take_the_nearest_layers_text(tmp_path: Path) -> None:
    """A step without `text:` takes its layer's text, else the text of the layer above."""
    decision = route(ansvar.Router([rules(tmp_path)]))
    texts = {f"{s.actor}.{s.action}": s.text for s in decision.steps}
    assert texts == {"borger.kontakt_egen_laege": "Borgeren kontakter egen læge.",
                     "egen_laege.vurder": "Egen læge i Sydby vurderer borgeren."}


def test_a_rule_using_a_shared_body_concludes_it_under_its_own_id(tmp_path: Path) -> None:
    """`use:` gives the pack's rule the body's steps, cited in the pack's document, traced by its own id."""
    router = ansvar.Router([rules(tmp_path)])
    decision = route(router, consent_medcom=True, wants_treatment_after=True)
    medcom = next(s for s in decision.steps if s.action == "send_medcom")
    assert medcom.text == "Rusmiddelcentret sender besked til egen læge via MedCom."
    assert medcom.rule == "medcom_ved_opstart"
    assert medcom.contact is not None
    assert medcom.contact.phone == "1234 5678"
    assert (medcom.source.document, medcom.source.section) == ("Sydbys vejledning", "Indledning")
    fired = {entry.rule: entry.layer for entry in decision.trace}
    assert fired["medcom_ved_opstart"] == "sydby"
    assert not decision.warnings


def test_a_using_rule_may_cite_its_own_events_passage(tmp_path: Path) -> None:
    """A rule with `use:` and its own `source:` cites its event's passage for the shared conclusions."""
    decision = route(ansvar.Router([rules(tmp_path)]), consent_medcom=False, wants_treatment_after=True)
    [warning] = decision.warnings
    assert warning.id == "ingen_medcom_uden_samtykke"
    assert warning.text == "Uden samtykke sendes ingen besked via MedCom."
    assert warning.source.section == "Afrusning — Efter afrusningen"
    assert warning.source.passage == "Uden samtykke ingen besked."


def test_shared_and_pasted_rules_answer_alike(tmp_path: Path) -> None:
    """Every situation the pack tells apart gets the same Decision as with the bodies and texts pasted."""
    shared = ansvar.Router([rules(tmp_path / "shared")])
    pasted = ansvar.Router([rules(tmp_path / "pasted", town=TOWN_HEAD, pack=PASTED,
                                  land=LAND.split("texts:", maxsplit=1)[0])])
    situations = list(SituationSpace([shared.pack("sydby", "afrusning")], ON))
    assert len(situations) == 4  # consent_medcom x wants_treatment_after
    for situation in situations:
        one, other = (route(r, **situation).model_dump(mode="json") for r in (shared, pasted))
        for answer in (one, other):
            answer["pack"].pop("content_hash")  # the files differ, so their hash does
        assert one == other, situation


# --- errors: one each, where it is fixed --------------------------------------------------------------------

def test_use_of_an_unknown_shared_rule(tmp_path: Path) -> None:
    """A misspelt `use:` names the shared rules the layer has, with a suggestion, at the `use:`."""
    pack = PACK.replace("use: medcom\n", "use: medkom\n")
    error = refused(rules(tmp_path, pack=pack))
    assert_at(error, "sydby/afrusning.yaml", at(pack, "medkom"), "shared rule 'medkom'")
    assert "did you mean 'medcom'?" in error.message


def test_use_with_its_own_steps_is_refused(tmp_path: Path) -> None:
    """A rule taking a body may not add or replace its conclusions: no silent merge."""
    own = "    steps: [{actor: borger, action: x, text: X}]\n"
    pack = PACK.replace("    use: medcom\n", "    use: medcom\n" + own)
    error = refused(rules(tmp_path, pack=pack))
    assert_at(error, "sydby/afrusning.yaml", at(pack, own.strip()), "cannot give its own `steps:`")


def test_a_step_contradicting_its_layers_text(tmp_path: Path) -> None:
    """A pack's step giving another text for an action its layer gives one is refused at that text."""
    pack = PACK.replace("action: vurder}", "action: vurder, text: Egen læge ser på det.}")
    error = refused(rules(tmp_path, pack=pack))
    assert_at(error, "sydby/afrusning.yaml", at(pack, "Egen læge ser på det."), "another text")
    assert f"sydby/layer.yaml:{at(TOWN, 'egen_laege.vurder')[0]}" in error.message


def test_a_step_contradicting_the_text_of_a_layer_above(tmp_path: Path) -> None:
    """The layer above's text binds too, and the error names where that text is written."""
    pack = PACK.replace("action: kontakt_egen_laege}", "action: kontakt_egen_laege, text: Ring.}")
    error = refused(rules(tmp_path, pack=pack))
    assert_at(error, "sydby/afrusning.yaml", at(pack, "Ring."), "layer 'testland'")
    assert f"testland/layer.yaml:{at(LAND, 'borger.kontakt_egen_laege')[0]}" in error.message


def test_a_step_repeating_its_layers_text_is_fine(tmp_path: Path) -> None:
    """Giving the very text the layer gives is no contradiction."""
    pack = PACK.replace("action: vurder}", "action: vurder, text: '  Egen læge i Sydby vurderer borgeren.'}")
    assert route(ansvar.Router([rules(tmp_path, pack=pack)])).responsible == "egen_laege"


def test_a_step_without_any_text(tmp_path: Path) -> None:
    """A step leaving out `text:` for an action no layer gives a text is refused at the step."""
    pack = PACK.replace("action: vurder}", "action: undersoeg}")
    error = refused(rules(tmp_path, pack=pack))
    step = "{actor: egen_laege, action: undersoeg}"
    assert_at(error, "sydby/afrusning.yaml", at(pack, step), "has no text")


def test_a_shared_step_contradicting_its_layers_text(tmp_path: Path) -> None:
    """A shared body's step is held to the layer's texts as a pack's step is, in layer.yaml."""
    town = TOWN.replace("rusmiddelbehandling}", "rusmiddelbehandling, text: MedCom sendes.}")
    error = refused(rules(tmp_path, town=town))
    assert_at(error, "sydby/layer.yaml", at(town, "MedCom sendes."), "another text")


@pytest.mark.parametrize(("old", "new", "token", "message"), [
    ("in_event: false, passage: Kun", "in_event: nej, passage: Kun", "nej", "must be true or false"),
    ("  ingen_medcom:\n", "  ingen_medcom:\n    when: {seizures: true}\n", "when:", "unknown key"),
    ("    warnings:\n      - {id: ingen", "    warnigs:\n      - {id: ingen", "warnigs",
     "unknown key (did you mean 'warnings'?)"),
], ids=["not_a_boolean", "when_belongs_to_the_pack", "misspelt_key"])
def test_a_malformed_shared_body(tmp_path: Path, old: str, new: str, token: str, message: str) -> None:
    """A broken body is reported in layer.yaml at its place, whether or not a pack uses it."""
    town = TOWN.replace(old, new)
    error = refused(rules(tmp_path, town=town))
    assert_at(error, "sydby/layer.yaml", at(town, token), message)


def test_a_shared_body_concluding_nothing(tmp_path: Path) -> None:
    """A body must conclude something, like any rule."""
    town = TOWN.replace("""    warnings:
      - {id: ingen_medcom_uden_samtykke, text: Uden samtykke sendes ingen besked via MedCom.}
""", "")
    error = refused(rules(tmp_path, town=town))
    body = "source: {section: Indledning, in_event: false, passage: Kun"
    assert_at(error, "sydby/layer.yaml", at(town, body), "must conclude something")


def test_a_shared_body_naming_an_unknown_actor(tmp_path: Path) -> None:
    town = TOWN.replace("{actor: rusmiddelbehandling, action: send_medcom", "{actor: rusmidelbehandling, "
                        "action: send_medcom, text: T")
    error = refused(rules(tmp_path, town=town))
    assert_at(error, "sydby/layer.yaml", at(town, "rusmidelbehandling"), "unknown actor 'rusmidelbehandling'")


def test_a_shared_step_showing_a_contact_the_town_lacks(tmp_path: Path) -> None:
    """In a municipality the actors are final, so a body's contact without details is an error there."""
    town = TOWN.replace("contact: rusmiddelbehandling}", "contact: borger}")
    error = refused(rules(tmp_path, town=town))
    assert_at(error, "sydby/layer.yaml", at(town, "borger}"), "no contact details")


def test_a_text_for_an_unknown_actor(tmp_path: Path) -> None:
    town = TOWN.replace("  egen_laege.vurder:", "  egen_lage.vurder:")
    error = refused(rules(tmp_path, town=town))
    assert_at(error, "sydby/layer.yaml", at(town, "egen_lage.vurder"), "unknown actor 'egen_lage'")


def test_a_text_key_that_is_no_action(tmp_path: Path) -> None:
    town = TOWN.replace("  egen_laege.vurder:", "  vurder:")
    error = refused(rules(tmp_path, town=town))
    assert_at(error, "sydby/layer.yaml", (at(town, "Egen læge i Sydby")[0], 3), "actor.action")  # the key


def test_what_depends_on_the_event_is_reported_at_the_use(tmp_path: Path) -> None:
    """A body's deadline counting from a date this event lacks is an error of the use, at `use:`."""
    town = TOWN.replace("rusmiddelbehandling}", "rusmiddelbehandling, due: {from: held_on}}")
    error = refused(rules(tmp_path, town=town))
    line, column = at(PACK, "use: medcom\n")
    assert_at(error, "sydby/afrusning.yaml", (line, column + len("use: ")), "'held_on'")


def test_check_reports_every_broken_use_of_a_file(tmp_path: Path) -> None:
    """Collecting (`ansvar check`), both broken rules of one pack are reported."""
    pack = PACK.replace("use: medcom\n", "use: medkom\n").replace("vurder}", "vurder, text: X}")
    problems = loader.Problems(collect=True)
    loader.load([rules(tmp_path, pack=pack)], problems)
    assert [(e.path.name if e.path else None, e.line) for e in problems.found] == [
        ("afrusning.yaml", at(pack, "vurder, text: X}")[0]), ("afrusning.yaml", at(pack, "medkom")[0])]


# --- the shipped rules: one text per action down every chain ---------------------------------------------

def texts_by_chain(rule_dirs: list[Path]) -> dict[str, dict[str, set[str]]]:
    """For each layer: every text each action (`actor.action`) and warning (`warning:id`) is given across
    all the packs its chain composes (inherited, replaced and dropped rules as the layer sees them)."""
    catalogue = loader.load(rule_dirs)
    found: dict[str, dict[str, set[str]]] = {}
    for layer in catalogue.layers.values():
        texts: dict[str, set[str]] = collections.defaultdict(set)
        chain = [x.id for x in layer.chain()]
        for event in sorted({e for (owner, e) in catalogue.layer_packs if owner in chain}):
            parts = [catalogue.layer_packs[x, event] for x in chain if (x, event) in catalogue.layer_packs]
            composed, _ = loader.compose(parts)
            for rule in composed.values():
                for step in rule.steps:
                    texts[f"{step.actor}.{step.action}"].add(step.text)
                for warning in rule.warnings:
                    texts[f"warning:{warning.id}"].add(warning.text)
        found[layer.id] = texts
    return found


def several_texts(rule_dirs: list[Path]) -> dict[str, list[str]]:
    return {f"{layer}: {key}": sorted(texts) for layer, keys in texts_by_chain(rule_dirs).items()
            for key, texts in keys.items() if len(texts) > 1}


def test_shipped_actions_have_one_text_down_each_chain() -> None:
    """Within each layer's chain, every action and warning reads the same in every pack."""
    found = texts_by_chain([ansvar.shipped_rules()])
    assert {"danmark", "region_nordjylland", "aalborg", "rebild"} <= set(found)
    assert several_texts([ansvar.shipped_rules()]) == {}


def test_a_pasted_step_with_another_text_is_caught(tmp_path: Path) -> None:
    """The property has teeth: a paste into another pack with a new text fails it (or fails loading)."""
    shutil.copytree(ansvar.shipped_rules(), tmp_path / "rules")
    pack = tmp_path / "rules" / "aalborg" / "koerekort_stoffer.yaml"
    paste = """
  - id: indsat
    source: {section: Læge}
    steps:
      - {actor: egen_laege, action: tag_stilling_til_medicinordination, text: Egen læge ordinerer.}
"""
    pack.write_text(pack.read_text(encoding="utf-8").rstrip("\n") + "\n" + paste, encoding="utf-8")
    assert list(several_texts([tmp_path / "rules"])) == [
        "aalborg: egen_laege.tag_stilling_til_medicinordination"]
    # An action the layer gives a text is refused at load already.
    pack.write_text(pack.read_text(encoding="utf-8").replace(
        "tag_stilling_til_medicinordination, text: Egen læge ordinerer.",
        "henvis_til_visitation, text: Egen læge ringer til Visitationen."), encoding="utf-8")
    error = refused(tmp_path / "rules")
    assert error.path == pack
    assert "aalborg/layer.yaml:" in error.message


def test_shipped_shared_texts_and_rules_are_all_used() -> None:
    """No shipped `texts:` entry or shared rule is dead (a misspelt key would be)."""
    catalogue = loader.load([ansvar.shipped_rules()])
    for layer in catalogue.layers.values():
        below = [p for (owner, _), p in catalogue.layer_packs.items()
                 if layer in catalogue.layers[owner].chain()]
        named = {f"{s.actor}.{s.action}" for p in below for r in p.spec.rules for s in r.steps}
        used = {r.use for p in below if p.layer is layer for r in p.spec.rules}
        assert set(layer.spec.texts) <= named, layer.id
        assert set(layer.shared) <= used, layer.id


def test_the_aalborg_medcom_pair_is_written_once() -> None:
    """Every Aalborg pack that tells the GP via MedCom takes the pair from layer.yaml."""
    router = ansvar.Router()
    using = {event: {r.id: r.use for r in router.pack("aalborg", event).rules.values() if r.use}
             for event in router.events("aalborg")}
    pair = {"medcom_ved_opstart_og_afslutning": "medcom_ved_opstart_og_afslutning",
            "ingen_medcom_uden_samtykke": "ingen_medcom_uden_samtykke"}
    assert sorted(e for e, uses in using.items() if uses == pair) == [
        "afrusning", "behandlingstilbud", "koerekort_alkohol", "opioid_substitution",
        "udtrapning_illegal_benzodiazepin", "udtrapning_ordineret_benzodiazepin",
        "udtrapning_ordineret_opioid"]
    for path in (ansvar.shipped_rules() / "aalborg").glob("*.yaml"):
        if path.name != "layer.yaml":  # as written: no pack spells out the pair's step or warning itself
            for rule in _yaml.load(path.read_bytes())["rules"]:
                written = ({s["action"] for s in rule.get("steps", [])}
                           | {w["id"] for w in rule.get("warnings", [])})
                assert not written & {"send_medcom_ved_opstart_og_afslutning", "ingen_medcom_uden_samtykke"}
