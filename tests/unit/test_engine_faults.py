"""Engine limits: what durable_rules cannot evaluate is refused at load, at the rule that shows it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

import ansvar
from ansvar import cli, engine
from ansvar.engine import STATE_GUARD, check_ruleset
from ansvar.packs.names import CATCH_ALL

ON = dt.date(2026, 11, 23)

LAYER = "layer: testby\nkind: municipality\nname: Testby\nactors:\n  borger: {name: Borger}\n"
HEADER = ("pack: {layer: testby, event: afrusning, title: T, document: D, version: '1', "
          "valid_from: 2020-01-01, review_by: null, section: S}\n")
BASE_RULE = "  - {id: a, responsible: borger, source: {section: S}}\n"
BOOLEANS = ("seizures", "delirium_tremens", "withdrawal_symptoms", "complicated_course_suspected",
            "wants_medical_help", "home_nursing_requested")


def town(tmp_path: Path, rules: list[str]) -> Path:
    """A rule directory with one municipality, testby, whose afrusning pack holds `rules` after a base one."""
    folder = tmp_path / "testby"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "layer.yaml").write_text(LAYER, encoding="utf-8")
    (folder / "afrusning.yaml").write_text(HEADER + "rules:\n" + BASE_RULE + "".join(rules), encoding="utf-8")
    return tmp_path


def threshold_rules() -> list[str]:
    """360 rules: 60 `gt` thresholds of one count under each of 6 booleans (error 303 when all hold)."""
    return [f"  - {{id: r{j}_{i}, when: {{{flag}: true, administrations_per_day: {{gt: {i}}}}}, "
            f"warnings: [{{id: w{i}, text: T}}], source: {{section: S}}}}\n"
            for j, flag in enumerate(BOOLEANS) for i in range(60)]


def same_condition_rules(count: int) -> list[str]:
    """`count` rules with one and the same condition (the engine links at most 255 rules to one test)."""
    return [f"  - {{id: s{i}, when: {{seizures: true}}, warnings: [{{id: w, text: T}}], "
            f"source: {{section: S}}}}\n" for i in range(count)]


# --- What the engine cannot evaluate is refused at load, at the rule ----------------------------------------

def test_a_pack_where_too_many_tests_hold_at_once_is_refused_at_its_rule(tmp_path: Path) -> None:
    """360 threshold rules pass every per-rule limit, yet with every boolean true 65 tests hold at once on the
    engine's 64-entry walk (error 303, each failure leaking a session): refused at load, at a rule's line."""
    with pytest.raises(ansvar.RuleError) as caught:
        ansvar.Router([town(tmp_path, threshold_rules())])
    error = caught.value
    assert error.path is not None
    assert error.path.name == "afrusning.yaml"
    assert (error.line, error.column) == (4, 5)  # the first threshold rule, on the deepest chain of tests
    assert "65 tests can hold at once" in error.message
    assert "at most 60" in error.message


def test_a_pack_just_within_the_walk_loads_and_routes_every_threshold(tmp_path: Path) -> None:
    """The same rules under 1 boolean (60 tests at once at most) load, and the engine fires all 60."""
    rules = [rule for rule in threshold_rules() if "{seizures:" in rule]
    router = ansvar.Router([town(tmp_path, rules)])
    decision = router.route({"municipality": "testby", "event": "afrusning", "seizures": True,
                             "administrations_per_day": 100}, on=ON)
    assert decision.responsible == "borger"
    assert len(decision.warnings) == 60


@pytest.mark.parametrize("count", [201, 256, 260])
def test_many_rules_with_one_condition_are_refused_at_the_rule_past_the_limit(tmp_path: Path,
                                                                              count: int) -> None:
    """Past 200 rules with the same condition (256 misfire in the engine, 257 make it refuse the ruleset with
    error 108): a RuleError at the 201st such rule, never a raw engine exception."""
    with pytest.raises(ansvar.RuleError) as caught:
        ansvar.Router([town(tmp_path, same_condition_rules(count))])
    error = caught.value
    assert (error.line, error.column) == (3 + 201, 5)  # header, `rules:`, the base rule, then the 201st
    assert f"{201} engine rules test exactly the same" in error.message


def test_two_hundred_rules_with_one_condition_all_fire(tmp_path: Path) -> None:
    """At the limit every rule with the shared condition fires, once."""
    router = ansvar.Router([town(tmp_path, same_condition_rules(200))])
    decision = router.route({"municipality": "testby", "event": "afrusning", "seizures": True}, on=ON)
    assert [entry.rule for entry in decision.trace] == ["a", *(f"s{i}" for i in range(200))]


def _one_line(err: str, path: Path, line: int) -> None:
    assert err.count("\n") == 1, err
    assert err.startswith("ansvar: rule error: "), err
    assert f"{path}:{line}:5: the rules exceed what durable_rules evaluates safely" in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(("rules", "line"), [(threshold_rules(), 4), (same_condition_rules(260), 204)],
                         ids=["303", "108"])
def test_the_cli_says_an_engine_limit_in_one_line_at_the_rule(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str],
                                                              rules: list[str], line: int) -> None:
    """`ansvar check DIR`, `route --rules DIR`, `route --add-rules DIR`: file:line:col, no traceback."""
    rule_dir = town(tmp_path / "rules", rules)
    pack = rule_dir / "testby" / "afrusning.yaml"
    situation = tmp_path / "situation.json"
    situation.write_text(json.dumps({"municipality": "testby", "event": "afrusning", "seizures": True}))
    assert cli.main(["check", str(rule_dir), "--on", "2026-11-23"]) == 1
    said = [row for row in capsys.readouterr().out.splitlines() if row.startswith(f"{pack}:{line}:5: ")]
    assert len(said) == 1
    assert "the rules exceed what durable_rules evaluates safely" in said[0]
    for option in ("--rules", "--add-rules"):
        assert cli.main(["route", option, str(rule_dir), str(situation)]) == cli.EXIT_RULES
        _one_line(capsys.readouterr().err, pack, line)


def test_check_ruleset_refuses_the_shapes_its_tree_does_not_model() -> None:
    """Only the compiler's shape (one flat `$and` per rule) is accepted: the test tree is that shape's."""
    nested = {"r": {"all": [{"m": {"$and": [STATE_GUARD, {"$and": [{"x": 1}]}]}}], "pri": 0}}
    either = {"r": {"all": [{"m": {"$or": [{"x": 1}, {"x": 2}]}}], "pri": 0}}
    for definition in (nested, either):
        with pytest.raises(ValueError, match="not a shape the compiler writes"):
            check_ruleset(definition)


def test_check_ruleset_bounds_a_null_test_fan_out_by_the_walk() -> None:
    """61 null tests under one test all hold for a fact without those fields: over the walk's bound (which so
    also keeps under the engine's list of 127 null tests per test)."""
    definition = {f"r{i}": {"all": [{"m": {"$and": [STATE_GUARD, {"$nex": {f"f{i}": 1}}]}}], "pri": 0}
                  for i in range(61)}
    definition[CATCH_ALL] = {"all": [{"m": STATE_GUARD}], "pri": 65_535}
    with pytest.raises(ValueError, match="61 tests can hold at once"):
        engine._check_test_tree(definition)
