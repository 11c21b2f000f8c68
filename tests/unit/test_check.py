"""`ansvar check`: every load error at once, and gaps, conflicts, unreachable and shadowed rules found."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import ansvar
from ansvar import cli
from ansvar.analysis.audit import Report, check
from tests.fixtures import ON
from tests.fixtures.towns import write_town

FIXTURES = sorted((Path(__file__).parents[1] / "invalid_rules").glob("*.yaml"))

LAYER = """\
layer: {town}
kind: municipality
name: Testkommune
actors:
  borger: {{name: Borger}}
  egen_laege: {{name: Egen læge}}
  visitation: {{name: Visitation, contact: {{phone: "9931 5740"}}}}
"""

HEADER = """\
pack:
  layer: testby
  event: afrusning
  title: Test
  document: Testvejledning
  version: "1"
  valid_from: 2020-01-01
  review_by: null
  section: Test
rules:
"""


def town(tmp_path: Path, rules: str, name: str = "testby") -> Path:
    return write_town(tmp_path / "rules", name, LAYER.format(town=name), {"afrusning": HEADER + rules})


def findings(report: Report, kind: str) -> list[ansvar.analysis.audit.Finding]:
    return [f for f in report.findings if f.kind == kind]


BASE = """\
  - id: borger_leder
    when: {seizures: false}
    responsible: borger
    source: {section: S, passage: P}
"""


def test_shipped_packs_are_clean_and_afrusning_takes_seconds() -> None:
    """No finding in the shipped packs; afrusning's every case is routed, in seconds not minutes."""
    report = check([ansvar.shipped_rules()], on=ON)
    assert report.errors == []
    assert report.warnings == []
    assert {f.kind for f in report.findings} == {"interpretation"}  # notes: listed, never a failure
    situations, seconds = report.analysed["aalborg", "afrusning"]
    assert situations > 10_000
    assert seconds < 60
    assert ("rebild", "behandlingsforloeb") in report.analysed


def test_seeded_gap_is_found_with_a_routable_example(tmp_path: Path) -> None:
    """A pack that names nobody when the citizen has seizures: a gap, at the pack, with that situation."""
    rules = town(tmp_path, BASE)
    report = check([rules], on=ON)
    (gap,) = findings(report, "gap")
    assert gap.example == {"municipality": "testby", "event": "afrusning", "seizures": True}
    assert (gap.path, gap.line, gap.column) == (rules / "testby" / "afrusning.yaml", 10, 1)
    assert gap.situations == 1
    with pytest.raises(ansvar.NoResponsibleError):
        ansvar.Router([rules]).route(gap.example, on=ON)


def test_seeded_conflict_names_both_rules(tmp_path: Path) -> None:
    """Two rules of equal priority naming different actors under delirium tremens: a conflict at the second."""
    rules = town(tmp_path, BASE + """\
  - id: laegen_leder
    when: {seizures: true}
    responsible: egen_laege
    source: {section: S, passage: P}
  - id: borger_leder_ved_delir
    when: {seizures: true, delirium_tremens: true}
    responsible: borger
    source: {section: S, passage: P}
""")
    report = check([rules], on=ON)
    (conflict,) = findings(report, "conflict")
    assert findings(report, "shadowed") == []  # nothing outranks borger_leder_ved_delir: it ties
    assert conflict.rule == "borger_leder_ved_delir"
    assert (conflict.line, conflict.column) == (19, 5)
    assert "laegen_leder -> egen_laege, borger_leder_ved_delir -> borger" in conflict.message
    assert conflict.example == {"municipality": "testby", "event": "afrusning", "delirium_tremens": True,
                                "seizures": True}
    with pytest.raises(ansvar.ConflictError):
        ansvar.Router([rules]).route(conflict.example, on=ON)


def test_seeded_unreachable_rule(tmp_path: Path) -> None:
    """A rule whose conditions contradict (more than 3 and fewer than 2 a day) never fires: unreachable."""
    rules = town(tmp_path, BASE + """\
  - id: laegen_leder
    when: {seizures: true}
    responsible: egen_laege
    source: {section: S, passage: P}
  - id: umulig
    when: {administrations_per_day: {gt: 3, lt: 2}}
    warnings: [{id: w, text: T}]
    source: {section: S, passage: P}
""")
    report = check([rules], on=ON)
    (unreachable,) = findings(report, "unreachable")
    assert unreachable.rule == "umulig"
    assert (unreachable.line, unreachable.column) == (19, 5)
    # A rule that never fires decides nothing about the facts it tests: said once, as unreachable (not
    # again as a fact no question reaches).
    assert [f.kind for f in report.findings] == ["unreachable"]
    assert report.findings[0].severity == "error"
    assert unreachable.example is None
    assert len(report.findings) == 1


def test_seeded_shadowed_rule(tmp_path: Path) -> None:
    """A lead rule always outranked where it fires never leads: shadowed, naming who outranks it."""
    rules = town(tmp_path, BASE + """\
  - id: laegen_leder
    priority: 10
    when: {seizures: true}
    responsible: egen_laege
    source: {section: S, passage: P}
  - id: borger_ved_kramper
    priority: 5
    when: {seizures: true}
    responsible: borger
    steps: [{actor: borger, action: vent, text: Vent}]
    source: {section: S, passage: P}
""")
    (shadowed,) = findings(check([rules], on=ON), "shadowed")
    assert shadowed.rule == "borger_ved_kramper"
    assert "'laegen_leder'" in shadowed.message
    assert shadowed.example == {"municipality": "testby", "event": "afrusning", "seizures": True}


def test_every_broken_file_at_once_each_at_its_line(tmp_path: Path) -> None:
    """All the broken-file fixtures, each in its own town, are reported in one run, each at its position."""
    expected = {}
    for number, fixture in enumerate(FIXTURES):
        name = f"testkomm{number:03d}"  # as long as "testkommune": columns stay
        text = fixture.read_text(encoding="utf-8").replace("layer: testkommune", f"layer: {name}")
        write_town(tmp_path / "rules", name, LAYER.format(town=name), {"afrusning": text})
        match = re.match(r"# expect: (\d+):(\d+): (.*)\n", text)
        assert match
        expected[name] = (int(match[1]), int(match[2]), match[3].replace("testkommune", name))
    report = check([tmp_path / "rules"], on=ON)
    loads = findings(report, "load")
    assert len(expected) >= 15
    for name, (line, column, message) in expected.items():
        mine = [f for f in loads if f.path is not None and f.path.parent.name == name]
        assert any((f.line, f.column) == (line, column) and message in f.message for f in mine), (name, mine)


def test_every_broken_rule_of_one_file(tmp_path: Path) -> None:
    """Three broken rules in one file are three findings, not the first alone; schema errors all listed."""
    rules = town(tmp_path, BASE + """\
  - id: a
    when: {seizurs: true}
    responsible: borger
    source: {section: S, passage: P}
  - id: b
    responsible: egen_lage
    source: {section: S, passage: P}
  - id: c
    when: {residence: hjemme}
    responsible: borger
    source: {section: S, passage: P}
""")
    loads = findings(check([rules], on=ON), "load")
    assert [(f.line, f.column) for f in loads] == [(16, 12), (20, 18), (23, 23)]
    schema = town(tmp_path / "two", "  - id: x\n    priority: high\n    colour: red\n    source: {section: S}\n")
    loads = findings(check([schema], on=ON), "load")
    assert {f.message.split(":")[0] for f in loads} == {"rules.0.priority", "rules.0.colour"}


def test_only_limits_analysis_to_the_given_paths(tmp_path: Path) -> None:
    """`ansvar check my_rules` analyses only my municipalities, with the shipped layers loaded as parents."""
    rules = town(tmp_path, BASE)
    report = check([ansvar.shipped_rules(), rules], only=[rules], on=ON)
    assert {m for m, _ in report.analysed} == {"testby"}


def test_cli_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ansvar check PATH` prints file:line:col findings and exits 1; --json parses; clean packs exit 0."""
    rules = town(tmp_path, BASE)
    assert cli.main(["check", str(rules), "--on", "2026-11-23"]) == 1
    out = capsys.readouterr().out
    assert f"{rules / 'testby' / 'afrusning.yaml'}:10:1: gap: no rule names a responsible actor" in out
    assert cli.main(["check", str(rules), "--json", "--on", "2026-11-23"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["findings"][0]["example"] == {"municipality": "testby", "event": "afrusning", "seizures": True}
    assert cli.main(["check", "--on", "2026-11-23"]) == 0
    router = ansvar.default_router()
    packs = sum(len(router.events(m)) for m in router.municipalities())
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith(f"ok: {packs} packs, ")
    assert out[-1].endswith(" interpretation(s) listed")
    assert all(": note: interpretation: " in line for line in out[:-1])


def test_reload_picks_up_edits_atomically(tmp_path: Path) -> None:
    """An edited pack answers after reload(); a broken edit raises and the old packs keep serving."""
    rules = town(tmp_path, BASE + """\
  - id: laegen_leder
    when: {seizures: true}
    responsible: egen_laege
    source: {section: S, passage: P}
""")
    router = ansvar.Router([rules])
    situation = {"municipality": "testby", "event": "afrusning", "seizures": True}
    assert router.route(situation, on=ON).responsible == "egen_laege"
    pack = rules / "testby" / "afrusning.yaml"
    pack.write_text(pack.read_text(encoding="utf-8").replace("responsible: egen_laege", "responsible: borger"),
                    encoding="utf-8")
    assert router.route(situation, on=ON).responsible == "egen_laege"
    router.reload()
    assert router.route(situation, on=ON).responsible == "borger"
    pack.write_text(pack.read_text(encoding="utf-8").replace("responsible: borger\n    source: {section: S, "
                                                             "passage: P}\n  - id: laegen",
                                                             "responsible: borgr\n    source: {section: S, "
                                                             "passage: P}\n  - id: laegen"), encoding="utf-8")
    with pytest.raises(ansvar.RuleError, match=r"afrusning.yaml:13:18: unknown actor 'borgr'"):
        router.reload()
    assert router.route(situation, on=ON).responsible == "borger"
    assert router.route({**situation, "seizures": False}, on=ON).responsible == "borger"


@pytest.mark.parametrize("layout", ["empty folder", "rule files without layer.yaml", "a layer without packs",
                                    "no such path"])
def test_checking_nothing_fails(tmp_path: Path, layout: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`ansvar check DIR` that finds no pack to check fails (like a test run that collects no test)."""
    target = tmp_path / "mine"
    if layout != "no such path":
        target.mkdir()
    if layout == "rule files without layer.yaml":
        write_town(tmp_path, "mine", packs={"afrusning": HEADER + BASE})
    if layout == "a layer without packs":
        write_town(tmp_path, "mine", LAYER.format(town="mine"))
    report = check([ansvar.shipped_rules(), target], only=[target], on=ON)
    assert not report.ok
    (nothing,) = findings(report, "no_packs")
    assert nothing.path == target
    assert cli.main(["check", str(target), "--on", "2026-11-23"]) == 1
    out = capsys.readouterr().out
    assert f"{target}: no_packs: nothing to check" in out
    assert not out.startswith("ok")


def test_checking_a_shipped_layer_folder_by_a_relative_path(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """`ansvar check rules/aalborg` from the folder holding the shipped rules checks that layer, once."""
    shipped = ansvar.shipped_rules()
    monkeypatch.chdir(shipped.parent)
    assert cli.main(["check", f"{shipped.name}/aalborg", "--on", "2026-11-23"]) == 0
    out = capsys.readouterr().out
    assert "also defined in" not in out
    assert out.splitlines()[-1].startswith("ok: ")


def test_checking_an_inherited_layer_checks_every_municipality_below_it() -> None:
    """Checking the law's or the region's folder analyses the packs of every municipality inheriting it."""
    shipped = ansvar.shipped_rules()
    for layer in ("danmark", "region_nordjylland"):
        report = check([shipped], only=[shipped / layer], on=ON)
        assert report.ok
        assert {m for m, _ in report.analysed} == set(ansvar.default_router().municipalities())
    report = check([shipped], only=[shipped / "rebild"], on=ON)
    assert {m for m, _ in report.analysed} == {"rebild"}


# --- facts no question reaches ------------------------------------------------------------------------------

BOTH_WAYS = BASE + """\
  - id: laegen_leder
    when: {seizures: true}
    responsible: egen_laege
    source: {section: S, passage: P}
  - id: vent_med_hjaelp
    when: {withdrawal_symptoms: true}
    steps: [{actor: borger, action: vent, text: Vent}]
    source: {section: S, passage: P}
  - id: vent_uden_hjaelp
    when: {withdrawal_symptoms: false}
    steps: [{actor: borger, action: vent, text: Vent}]
    source: {section: S, passage: P}
"""


def test_a_fact_whose_tests_decide_nothing_is_a_warning(tmp_path: Path) -> None:
    """Two rules giving the same step whether or not the citizen has withdrawal symptoms: the fact is tested but
    changes no answer, so no question reaches it; a warning at the first rule testing it, not a failure."""
    rules = town(tmp_path, BOTH_WAYS)
    report = check([rules], on=ON)
    (unasked,) = findings(report, "unasked")
    assert (unasked.severity, unasked.rule, unasked.event) == ("warning", "vent_med_hjaelp", "afrusning")
    assert (unasked.path, unasked.line, unasked.column) == (rules / "testby" / "afrusning.yaml", 19, 5)
    assert "'withdrawal_symptoms'" in unasked.message
    assert "'vent_med_hjaelp', 'vent_uden_hjaelp'" in unasked.message
    assert report.ok
    assert report.warnings == [unasked]
    assert report.errors == []
    assert [f.kind for f in report.findings] == ["unasked"]  # seizures changes the lead: asked, not reported
    situation = {"municipality": "testby", "event": "afrusning"}
    router = ansvar.Router([rules])
    assert "withdrawal_symptoms" not in {q.fact for q in router.route(situation, on=ON).open_questions}
    assert router.next_question({**situation, "seizures": False}, on=ON) is None


def test_a_fact_that_changes_an_answer_somewhere_is_not_reported(tmp_path: Path) -> None:
    """The wish for medical help gives a step only where there are no seizures: it changes an answer in some
    situation, so some interview asks it: no finding."""
    rules = town(tmp_path, BASE + """\
  - id: laegen_leder
    when: {seizures: true}
    responsible: egen_laege
    source: {section: S, passage: P}
  - id: vent_med_hjaelp
    when: {wants_medical_help: true, seizures: false}
    steps: [{actor: borger, action: vent, text: Vent}]
    source: {section: S, passage: P}
""")
    report = check([rules], on=ON)
    assert report.findings == []


def test_cli_check_prints_a_warning_and_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ansvar check` prints the warning as file:line:col: warning: unasked: ..., exits 0 and says so in the
    verdict; --json gives its severity, ok true."""
    rules = town(tmp_path, BOTH_WAYS)
    assert cli.main(["check", str(rules), "--on", "2026-11-23"]) == 0
    out = capsys.readouterr().out
    assert f"{rules / 'testby' / 'afrusning.yaml'}:19:5: warning: unasked: fact 'withdrawal_symptoms'" in out
    assert out.splitlines()[-1].startswith("ok, 1 warning(s): 1 packs, ")
    assert cli.main(["check", str(rules), "--json", "--on", "2026-11-23"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert [(f["kind"], f["severity"]) for f in report["findings"]] == [("unasked", "warning")]
    gap = town(tmp_path / "gap", BASE)
    assert cli.main(["check", str(gap), "--json", "--on", "2026-11-23"]) == 1
    assert [f["severity"] for f in json.loads(capsys.readouterr().out)["findings"]] == ["error"]
