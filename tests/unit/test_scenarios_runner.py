"""Scenario files of a project that is not ansvar, run by the pytest plugin and by `ansvar test`."""

from __future__ import annotations

import io
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from ansvar.testing import scenarios
from ansvar.testing.scenarios import ScenarioFileError
from tests.fixtures.towns import SYDBY, SYDBY_AFRUSNING, write_town

pytest_plugins = ["pytester"]

PASSING = """\
  - name: Uncomplicated detox -> Sydby's own detox place within 2 days
    cites: Kommunen har egne afrusningspladser.
    on: 2026-11-23
    situation: {municipality: sydby, event: afrusning, withdrawal_symptoms: true}
    expect:
      responsible: rusmiddelbehandling
      steps: [rusmiddelbehandling.tilbyd_afrusningsplads]
      due: {rusmiddelbehandling.tilbyd_afrusningsplads: 2}
      contact: {rusmiddelbehandling.tilbyd_afrusningsplads: {phone: "1234 5678"}}
"""

FAILING = """\
  - name: Delirium tremens -> wrongly expected to stay in Sydby
    cites: Kommunen har egne afrusningspladser.
    situation: {municipality: sydby, event: afrusning, delirium_tremens: true}
    expect:
      responsible: rusmiddelbehandling
"""


def project(root: Path, *scenario_texts: str, name: str = "sydby.yaml") -> Path:
    """A downstream project: rules/sydby/ beside the shipped layers, tests/scenarios/<name>."""
    write_town(root / "rules", "sydby", SYDBY, {"afrusning": SYDBY_AFRUSNING})
    folder = root / "tests" / "scenarios"
    folder.mkdir(parents=True, exist_ok=True)
    text = "rules: [shipped, ../../rules]\nscenarios:\n" + "".join(scenario_texts)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def plugin_args() -> list[str]:
    """`-p ansvar.testing.pytest_plugin` unless the entry point loads it already (loading it twice is an error)."""
    installed = any(ep.value == "ansvar.testing.pytest_plugin" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "ansvar.testing.pytest_plugin"]


def test_the_plugin_runs_a_towns_scenarios(pytester: pytest.Pytester) -> None:
    """One test per scenario; a failure shows the scenario, situation, expected vs actual and fired rules."""
    project(pytester.path, PASSING, FAILING)
    result = pytester.runpytest(*plugin_args())
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "tests/scenarios/sydby.yaml::Uncomplicated detox" not in out  # passed: no report
    assert "sydby.yaml:12: Delirium tremens -> wrongly expected to stay in Sydby" in out
    assert '"delirium_tremens": true' in out
    assert "responsible: expected rusmiddelbehandling, actual region_akutmodtagelse" in out
    assert "region_ansvar_kompliceret_afrusning [region_nordjylland, priority 20]" in out
    assert "delirium_tremens == true" in out
    assert "Traceback" not in out
    assert "def runtest" not in out


def test_the_plugin_collects_nothing_else(pytester: pytest.Pytester) -> None:
    """Only YAML with top-level `scenarios:` under scenarios/ is collected; the ini option stops even that."""
    folder = project(pytester.path, PASSING)
    (folder / "data.yaml").write_text("items:\n  scenarios: 1\n", encoding="utf-8")
    (pytester.path / "other.yaml").write_text((folder / "sydby.yaml").read_text(encoding="utf-8"),
                                             encoding="utf-8")
    result = pytester.runpytest(*plugin_args(), "--collect-only", "-q")
    assert [line for line in result.stdout.lines if "::" in line] == [
        "tests/scenarios/sydby.yaml::Uncomplicated detox -> Sydby's own detox place within 2 days"]
    pytester.makeini("[pytest]\nansvar_scenarios = false\n")
    result = pytester.runpytest(*plugin_args())
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_the_plugin_reports_a_malformed_file_at_its_line(pytester: pytest.Pytester) -> None:
    """A malformed scenario file is a collection error naming file:line:col, without a traceback."""
    project(pytester.path, PASSING.replace("      due:", "      deu:"))
    result = pytester.runpytest(*plugin_args())
    result.assert_outcomes(errors=1)
    assert "sydby.yaml:10:7: unknown expect key 'deu'" in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


def test_ansvar_test_reports_failures_and_exits_1(tmp_path: Path) -> None:
    """`ansvar test`: each failure's report, a FAILED line, the counts, exit 1."""
    folder = project(tmp_path, PASSING, FAILING)
    out = io.StringIO()
    assert scenarios.main([folder], out) == 1
    text = out.getvalue()
    assert "responsible: expected rusmiddelbehandling, actual region_akutmodtagelse" in text
    assert "  fired rules:\n    region_ansvar_kompliceret_afrusning [region_nordjylland" in text
    assert "FAILED " in text
    assert "sydby.yaml:12: Delirium tremens" in text
    assert text.endswith("1 passed, 1 failed\n")


def test_ansvar_test_passes_and_exits_0(tmp_path: Path) -> None:
    """Only passing scenarios: no report, exit 0."""
    out = io.StringIO()
    assert scenarios.main([project(tmp_path, PASSING)], out) == 0
    assert out.getvalue() == "1 passed, 0 failed\n"


def test_ansvar_test_exits_2_without_scenarios_or_on_a_malformed_file(tmp_path: Path) -> None:
    """No scenario file found, a missing path, or a malformed file: one line, exit 2."""
    (tmp_path / "empty").mkdir()
    out = io.StringIO()
    assert scenarios.main([tmp_path / "empty"], out) == 2
    assert "no scenario files" in out.getvalue()
    assert scenarios.main([tmp_path / "missing"], io.StringIO()) == 2
    out = io.StringIO()
    assert scenarios.main([project(tmp_path, PASSING.replace("    cites:", "    cite:"))], out) == 2
    assert "sydby.yaml:4:5: unknown scenario key 'cite'" in out.getvalue()


def test_exceptions_are_failures_not_crashes(tmp_path: Path) -> None:
    """An unknown municipality or a rule pack that does not load fails the scenario with the exception."""
    unknown = FAILING.replace("municipality: sydby", "municipality: oestby")
    (failure,) = [scenarios.run(sc) for sc in scenarios.load(project(tmp_path, unknown) / "sydby.yaml")]
    assert failure is not None
    assert "exception: UnknownEventError: unknown municipality; known: " in failure.report()
    broken = project(tmp_path / "broken", PASSING) / "sydby.yaml"
    write_town(tmp_path / "broken" / "rules", "sydby", SYDBY.replace("kind:", "knd:"))
    (failure,) = [scenarios.run(sc) for sc in scenarios.load(broken)]
    assert failure is not None
    assert failure.mismatches == ["error: raised RuleError"]
    assert "RuleError: " in failure.report()
    assert "rules/sydby/layer.yaml:1:1: kind: required" in failure.report()


def test_expected_errors_pass_and_missing_errors_fail(tmp_path: Path) -> None:
    """`error:` passes when routing raises that error, and fails when a decision comes back."""
    raises = FAILING.replace("delirium_tremens: true", "delirium_tremens: 1").replace(
        "responsible: rusmiddelbehandling", "error: SituationError")
    answers = PASSING.replace("      responsible: rusmiddelbehandling\n", "      error: RoutingError\n")
    answers = answers.split("      steps:")[0]
    raising, answering = scenarios.load(project(tmp_path, raises, answers) / "sydby.yaml")
    assert scenarios.run(raising) is None
    failure = scenarios.run(answering)
    assert failure is not None
    assert failure.mismatches == ["error: expected RoutingError, got a decision"]


def scenario_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenarios" / "bad.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """\
scenarios:
  - name: Default
    cites: passage
    situation: {municipality: aalborg, event: afrusning}
    expect: {responsible: borger}
"""


@pytest.mark.parametrize(("text", "line", "column", "message"), [
    (GOOD.replace("expect: {", "expect: {resposible: x, "), 5, 14, "unknown expect key 'resposible'"),
    (GOOD.replace("    cites: passage\n", ""), 2, 5, "`cites` is required"),
    (GOOD.replace("cites: passage", "cites: ''"), 3, 12, "`cites` is required"),
    (GOOD.replace("scenarios:", "scenarioz: 1\nscenarios:"), 1, 1, "unknown top-level key 'scenarioz'"),
    ("scenarios: {a: 1}\n", 1, 12, "`scenarios` must be a non-empty list"),
    ("scenarios:\n  - just a string\n", 2, 5, "a scenario must be a mapping"),
    (GOOD + "  - name: Default\n    cites: c\n    situation: {}\n    expect: {}\n", 6, 11,
     "duplicate scenario name 'Default' (first at line 2)"),
    (GOOD.replace("responsible: borger", "steps: borger.x"), 5, 21, "`steps` must be a list"),
    (GOOD.replace("responsible: borger", "due: {borger: 2}"), 5, 20, "'borger' is not a step"),
    (GOOD.replace("responsible: borger", "due: {a.b: soon}"), 5, 25, "`due` of a.b: expected days"),
    (GOOD.replace("responsible: borger", "contact: {a.b: {fone: '1'}}"), 5, 29, "`contact` of a.b"),
    (GOOD.replace("responsible: borger", "error: ValueError"), 5, 21, "must name an ansvar error class"),
    (GOOD.replace("responsible: borger", "error: SituationError, steps: []"), 5, 14, "`error` stands alone"),
    (GOOD.replace("    cites", "    on: tomorrow\n    cites"), 3, 9, "`on` must be a date"),
    ("rules: [nowhere]\n" + GOOD, 1, 9, "rule directory 'nowhere' does not exist"),
    ("scenarios:\n  - name: a\n  name: b\n", 3, 3, "YAML syntax error"),
    ("rules: [shipped]\n", 1, 1, "not a scenario file"),
])
def test_malformed_scenario_files_fail_at_their_position(tmp_path: Path, text: str, line: int, column: int,
                                                         message: str) -> None:
    """Each kind of malformed scenario file is a ScenarioFileError at file:line:col with a clear message."""
    path = scenario_file(tmp_path, text)
    with pytest.raises(ScenarioFileError) as caught:
        scenarios.load(path)
    error = caught.value
    assert (error.path, error.line, error.column) == (path, line, column), str(error)
    assert message in error.message
    assert str(error).startswith(f"{path}:{line}:{column}: ")


def test_a_scenario_file_with_its_own_rules_loads_them_relative_to_itself(tmp_path: Path) -> None:
    """`rules:` resolves against the file's folder; `shipped` is the shipped packs; routers are shared."""
    folder = project(tmp_path, PASSING)
    (sc,) = scenarios.load(folder / "sydby.yaml")
    assert sc.rules is not None
    assert sc.rules[1] == (tmp_path / "rules").resolve()
    assert scenarios.router_for(sc.rules) is scenarios.router_for(sc.rules)
    assert sc.id == f"{folder / 'sydby.yaml'}:3: Uncomplicated detox -> Sydby's own detox place within 2 days"


def test_discover_finds_scenario_files_only(tmp_path: Path) -> None:
    """Directories are searched for YAML with a top-level `scenarios:`; hidden folders are skipped."""
    folder = project(tmp_path, PASSING)
    (folder / "notes.yaml").write_text("title: x\n", encoding="utf-8")
    (folder / "notes.txt").write_text("scenarios:\n", encoding="utf-8")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "s.yaml").write_text("scenarios: []\n", encoding="utf-8")
    assert scenarios.discover([tmp_path]) == [folder / "sydby.yaml"]
    named = scenarios.discover([folder / "notes.yaml", folder])
    assert named == [folder / "notes.yaml", folder / "sydby.yaml"]
