"""Hostile rule files and situation files: each is one clear AnsvarError, found in bounded time and memory,
that repeats nothing of the file but ids. Never a hang, an exhausted memory, a RecursionError, a megabyte
error line, or a CPR number or name in a message."""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ansvar
from ansvar import _yaml, cli
from ansvar._yaml import MAX_FILE_BYTES
from ansvar.engine import MAX_ENGINE_RULES
from ansvar.errors import MAX_LISTED
from ansvar.model.situation import fact_types
from ansvar.packs.compiler import MAX_ALTERNATIVES_PER_RULE, ConditionError, parse_condition
from ansvar.packs.loader import Problems, load
from tests import fixtures

LAYER = "layer: testby\nkind: municipality\nname: Testby\nactors:\n  borger: {name: Borger}\n"
HEADER = ("pack: {layer: testby, event: afrusning, title: T, document: D, version: '1',"
          " valid_from: 2020-01-01, review_by: null, section: S}\n")
RULE = "rules:\n  - {id: a, responsible: borger, source: {section: S}}\n"
AFRUSNING = {"municipality": "aalborg", "event": "afrusning"}


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail, rather than hang, when a step takes far longer than bounded work can (20 s; ~1 s is usual)."""
    with fixtures.deadline(20, "the work is not bounded"):
        yield


@pytest.fixture(scope="module")
def router() -> ansvar.Router:
    return ansvar.default_router()


@pytest.fixture
def route(router: ansvar.Router, monkeypatch: pytest.MonkeyPatch,
          capsys: pytest.CaptureFixture[str]) -> Any:
    """`ansvar route PATH` on the shipped packs (loaded once): its exit status and its stderr."""
    monkeypatch.setattr(cli, "Router", lambda _dirs: router)

    def run(path: Path | str) -> tuple[int, str]:
        code = cli.main(["route", str(path), "--on", "2026-11-23"])
        return code, capsys.readouterr().err

    return run


def _town(tmp_path: Path, pack: str | None = None, *, layer: str = LAYER) -> Path:
    folder = tmp_path / "rules" / "testby"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "layer.yaml").write_text(layer, encoding="utf-8")
    if pack is not None:
        (folder / "afrusning.yaml").write_text(pack, encoding="utf-8")
    return tmp_path / "rules"


def _rule_error(rules: Path) -> ansvar.RuleError:
    with pytest.raises(ansvar.RuleError) as caught:
        ansvar.Router([rules])
    return caught.value


# 1. Work bounded before it is done ------------------------------------------------------------------------

IN_30 = "{administrations_per_day: {in: [" + ", ".join(map(str, range(30))) + "]}}"
EITHER = "{any: [{seizures: true}, {seizures: false}]}"
EXPLODING = {
    "twelve in-lists of 30 in an all": "{all: [" + ", ".join([IN_30] * 12) + "]}",
    "forty two-way anys in an all": "{all: [" + ", ".join([EITHER] * 40) + "]}",
    "products nested in anys": "{any: [" + ", ".join(["{all: [" + ", ".join([IN_30] * 6) + "]}"] * 8) + "]}",
    "in-lists among a fact's operators, in an all": "{all: [" + ", ".join(
        ["{administrations_per_day: {in: [" + ", ".join(map(str, range(30))) + "], ne: 3}}"] * 10) + "]}",
    "a conjunction of 2**30 alternatives of 60 tests": "{all: [" + ", ".join(
        ["{any: [{seizures: true, delirium_tremens: true}, {seizures: false}]}"] * 30) + "]}",
}


@pytest.mark.parametrize("when", EXPLODING.values(), ids=EXPLODING.keys())
def test_a_condition_is_counted_before_it_is_multiplied_out(tmp_path: Path, when: str,
                                                            deadline: None) -> None:
    """A condition of a few KB whose normal form has billions of alternatives is refused by counting (counts
    multiply across `all`, add across `any`/`in`), not after building them (which exhausted the memory)."""
    assert len(when) < 8_000  # a few kilobytes
    with pytest.raises(ConditionError, match="alternatives; at most"):
        parse_condition(_yaml.load(f"when: {when}")["when"], fact_types("afrusning"))
    error = _rule_error(_town(tmp_path, f"{HEADER}rules:\n  - {{id: a, responsible: borger, "
                                        f"source: {{section: S}}, when: {when}}}\n"))
    assert f"condition expands to more than {MAX_ALTERNATIVES_PER_RULE}" not in error.message
    assert "alternatives; at most 32" in error.message
    assert (error.line, error.column) == (3, 62)  # the rule's `when`


def test_the_count_of_alternatives_and_tests_is_exact_below_its_cap() -> None:
    """The refusal still says how many alternatives, or tests in one, a condition would have."""
    facts = fact_types("afrusning")
    with pytest.raises(ConditionError, match="expands to 60 alternatives"):
        parse_condition({"all": [{"any": [{"seizures": True}, {"seizures": False}]},
                                 {"administrations_per_day": {"in": list(range(30))}}]}, facts)
    with pytest.raises(ConditionError, match="expands to more than 999,999,999 alternatives"):
        parse_condition({"all": [{"administrations_per_day": {"in": list(range(30))}}] * 12}, facts)
    with pytest.raises(ConditionError, match="alternative holds 33 tests"):
        parse_condition({"all": [{"seizures": True}] * 33}, facts)
    both = parse_condition({"all": [{"any": [{"seizures": True}, {"delirium_tremens": True}]}] * 5}, facts)
    assert len(both) == MAX_ALTERNATIVES_PER_RULE  # at the limit: built, in order
    assert [str(t) for t in both[0]] == ["seizures == true"] * 5


def _tiny_rules(count: int) -> str:
    return HEADER + "rules:\n" + "".join(f"- {{id: r{i}, responsible: borger, source: {{section: S}}}}\n"
                                         for i in range(count))


def test_a_two_megabyte_file_of_tiny_rules_is_refused_quickly(tmp_path: Path, deadline: None) -> None:
    """33,500 one-line rules (2 MB) took 127 s before their RuleError; the work is bounded now."""
    text = _tiny_rules(33_500)
    assert len(text) < MAX_FILE_BYTES
    error = _rule_error(_town(tmp_path, text))
    assert error.path is not None
    assert error.path.name == "afrusning.yaml"
    assert error.line is not None


def test_a_file_of_more_rules_than_an_event_holds_is_refused_at_rules(tmp_path: Path, deadline: None) -> None:
    """More rules than an event's pack can hold in the engine: refused at `rules:`, before each is checked."""
    error = _rule_error(_town(tmp_path, _tiny_rules(MAX_ENGINE_RULES + 1)))
    assert error.message.startswith(f"{MAX_ENGINE_RULES + 1} rules in one file; at most {MAX_ENGINE_RULES}")
    assert (error.line, error.column) == (2, 1)


@pytest.mark.parametrize("filler", ["x: [" + "1, " * 150_000 + "1]\n", "x: [" + "[[[]]], " * 40_000 + "1]\n",
                                    "x:\n" + "".join(f"  k{i}: {{a: 1}}\n" for i in range(40_000))],
                         ids=["scalars", "nested lists", "mappings"])
def test_more_nodes_than_any_file_needs_are_refused_while_reading(tmp_path: Path, filler: str,
                                                                  deadline: None) -> None:
    """A file of too many tiny nodes is refused as it is read (building 1,000,000 took 6-20 s)."""
    error = _rule_error(_town(tmp_path, HEADER + RULE + filler))
    assert "more than 100,000 YAML nodes" in error.message
    assert error.line is not None
    assert error.column is not None


def test_a_flood_of_schema_errors_is_counted_not_worded(tmp_path: Path, deadline: None) -> None:
    """Each of a file's first schema errors is located and worded; the rest are counted."""
    text = HEADER + "rules:\n  - id: a\n    responsible: borger\n    source: {section: S}\n    steps:\n"
    error = _rule_error(_town(tmp_path, text + "      - {x: 1}\n" * 20_000))
    assert error.message.endswith("(and 79999 more)")  # four per step: actor, action, text, x
    assert len(error.all) == 101
    assert error.all[-1].message == "and 79900 more schema problems, not listed"
    problems = Problems(collect=True)
    load([_town(tmp_path, text + "      - {x: 1}\n" * 20_000)], problems)
    assert len(problems.found) == 101


# 2. Only regular files are read ---------------------------------------------------------------------------

needs_mkfifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="this platform has no FIFOs (os.mkfifo)")


@needs_mkfifo
@pytest.mark.parametrize("name", ["afrusning.yaml", "layer.yaml"])
def test_a_fifo_among_the_rule_files_is_refused_not_waited_on(tmp_path: Path, name: str,
                                                              deadline: None) -> None:
    """A FIFO named like a rule file blocked open() for ever; now it is a RuleError naming it."""
    rules = _town(tmp_path, HEADER + RULE)
    (rules / "testby" / name).unlink()
    os.mkfifo(rules / "testby" / name)
    error = _rule_error(rules)
    assert error.path == rules / "testby" / name
    assert error.message == "cannot read: not a regular file"


def test_a_folder_named_like_a_rule_file_is_refused(tmp_path: Path) -> None:
    """A folder is no rule file either."""
    rules = _town(tmp_path)
    (rules / "testby" / "afrusning.yaml").mkdir()
    assert _rule_error(rules).message == "cannot read: not a regular file"


@needs_mkfifo
def test_a_fifo_given_as_the_situation_file_is_refused(tmp_path: Path, route: Any, deadline: None) -> None:
    """`ansvar route FIFO` hung; now it says the file is no regular file and exits 2."""
    os.mkfifo(tmp_path / "situation.yaml")
    code, err = route(tmp_path / "situation.yaml")
    assert code == 2
    assert "cannot read: not a regular file" in err
    assert err.count("\n") == 1


def test_standard_input_is_still_read(route: Any, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`-` reads standard input, a pipe, as before."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(AFRUSNING).encode())))
    code, _ = route("-")
    assert code == 0


# 3. A flood of keys: linear, and a short line ------------------------------------------------------------


def _json_file(tmp_path: Path, keys: list[str], *, name: str = "situation.json") -> Path:
    pairs = [*(f'"{k}":1' for k in keys)]
    path = tmp_path / name
    text = '{"municipality":"aalborg","event":"afrusning",' + ",".join(pairs) + "}"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_duplicate_among_100000_json_keys_is_found_in_linear_time(tmp_path: Path, route: Any,
                                                                    deadline: None) -> None:
    """The duplicate-key check counted each key among all (100,000 keys: 249 s); now it is one pass."""
    keys = [f"k{i:x}" for i in range(90_000)]
    path = _json_file(tmp_path, [*keys, keys[-1]])  # a late duplicate: every key before it was counted
    assert path.stat().st_size < cli.MAX_INPUT_BYTES
    code, err = route(path)
    assert code == 2
    assert err.strip().endswith(f"duplicate key '{keys[-1]}'")
    code, err = route(_json_file(tmp_path, ["Jens", "Hansen", "Jens"]))
    assert code == 2
    assert "duplicate key (a value that is no id)" in err
    assert "Jens" not in err


@pytest.mark.parametrize("prefix", ["k", "K"], ids=["id-shaped", "no ids"])
def test_100000_unknown_keys_make_one_short_line(tmp_path: Path, route: Any, prefix: str,
                                                 deadline: None) -> None:
    """Every unknown key was listed: a 3.85 MB "one-line" error. Now the first 10, and how many more."""
    code, err = route(_json_file(tmp_path, [f"{prefix}{i:x}" for i in range(90_000)]))
    assert code == 2
    assert err.count("\n") == 1
    assert len(err) < 1_000
    assert err.strip().endswith(f"(and {90_000 - MAX_LISTED} more)")


def test_a_situation_error_keeps_every_problem_but_lists_ten(router: ansvar.Router) -> None:
    """`errors` still holds each problem; the message lists MAX_LISTED of them."""
    with pytest.raises(ansvar.SituationError) as caught:
        router.route({**AFRUSNING, **{f"x{i}": True for i in range(25)}})
    assert len(caught.value.errors) == 25
    assert str(caught.value).count("unknown fact") == MAX_LISTED
    assert str(caught.value).endswith(f"(and {25 - MAX_LISTED} more)")


# 4. Inheritance without recursion ------------------------------------------------------------------------


def _chain(tmp_path: Path, length: int, *, circle: bool) -> Path:
    rules = tmp_path / "rules"
    for number in range(length):
        folder = rules / f"l{number}"
        folder.mkdir(parents=True)
        above = f"l{number + 1}" if number + 1 < length else "l0" if circle else None
        (folder / "layer.yaml").write_text(f"layer: l{number}\nkind: municipality\nname: L\n"
                                           + (f"inherits: {above}\n" if above else ""), encoding="utf-8")
    return rules


@pytest.mark.parametrize("circle", [True, False], ids=["circle", "chain"])
def test_a_thousand_layers_inheriting_are_a_rule_error(tmp_path: Path, circle: bool, deadline: None) -> None:
    """1,000 layers each inheriting the next (in a circle or not) raised RecursionError; a RuleError at
    `inherits:` now, short, and reported once."""
    rules = _chain(tmp_path, 1_000, circle=circle)
    error = _rule_error(rules)
    assert (error.line, error.column) == (4, 11)
    assert len(str(error)) < 300
    if circle:
        assert error.message.startswith("layers inherit in a circle: l0 -> l1 -> l2 -> l3 -> ... (994 more) "
                                        "-> l998 -> l999 -> l0")
    else:
        assert error.message == "a municipality layer cannot inherit from the municipality layer 'l999'"
    problems = Problems(collect=True)
    load([rules], problems)
    assert [p.message for p in problems.found] == [error.message]


# 5. Nothing of the file is repeated but ids --------------------------------------------------------------

SECRETS = ("3112901234", "Jens", "Hansen", "010190-1234", "1990-01-01", "1990")  # 1990: in any form

#: YAML a rule file or situation file may hold, each refused while it is read, at a line and column.
YAML_LINES = {
    "a number as a key": "3112901234: true\n",
    "a list as a key": '? [Jens Hansen, "010190-1234"]\n: x\n',
    "a date as a key": "1990-01-01: x\n",
    "a local tag": "navn: !Jens Hansen\n",
    "a verbatim tag": "navn: !<tag:Jens,2000:x> Hansen\n",
    "an undefined tag handle": "navn: !Jens!x Hansen\n",
    "!!bool on a name": "navn: !!bool Jens\n",
    "!!int on a CPR number": "navn: !!int 010190-1234\n",
    "!!float on a name": "navn: !!float Jens\n",
    "!!timestamp on a name": "navn: !!timestamp Jens Hansen\n",
    "a backquote before a name": "navn: `Jens Hansen\n",
    "an unknown escape": 'navn: "\\qJens"\n',
    "an anchor twice": "navn: &Jens 1\ncpr: &Jens 2\n",
    "a tab before a name": "navn:\n\t- Jens\n",
    "an anchor of a letter outside ASCII": "navn: &Jensæ x\n",
    "a date that does not exist": "navn: 1990-02-30\n",
}


def _clean(tmp_path: Path, *texts: str) -> None:
    for text in texts:
        said = text.replace(str(tmp_path), "<tmp>")  # the folder pytest made may hold any digits
        for secret in SECRETS:
            assert secret not in said, f"{secret!r} leaked into: {said[:300]}"


@pytest.mark.parametrize("loader", _yaml._LOADERS, ids=lambda loader: loader.__name__)
@pytest.mark.parametrize("line", YAML_LINES.values(), ids=YAML_LINES.keys())
def test_no_key_tag_or_value_in_a_rule_file_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  loader: type, line: str) -> None:
    """In a rule file (either YAML loader): a RuleError at a line and column, repeating none of it."""
    monkeypatch.setattr(_yaml, "_LOADER", loader)
    error = _rule_error(_town(tmp_path, HEADER + RULE + line))
    _clean(tmp_path, str(error), error.message)
    assert error.line is not None
    assert error.column is not None
    assert f"afrusning.yaml:{error.line}:{error.column}: " in str(error)


@pytest.mark.parametrize("loader", _yaml._LOADERS, ids=lambda loader: loader.__name__)
@pytest.mark.parametrize("line", YAML_LINES.values(), ids=YAML_LINES.keys())
def test_no_key_tag_or_value_in_a_situation_file_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       route: Any, loader: type, line: str) -> None:
    """In a situation file given to `ansvar route` (either loader): one line, exit 2, at a line and column,
    repeating none of it."""
    monkeypatch.setattr(_yaml, "_LOADER", loader)
    path = tmp_path / "situation.yaml"
    path.write_text("municipality: aalborg\nevent: afrusning\n" + line, encoding="utf-8")
    code, err = route(path)
    assert code == 2
    assert err.startswith("ansvar: ")
    assert err.count("\n") == 1
    _clean(tmp_path, err)
    assert re.match(rf"ansvar: {re.escape(str(path))}:\d+:\d+: invalid situation: ", err), err


@pytest.mark.parametrize("text", [
    '{"municipality": "aalborg", "event": "afrusning", "3112901234": true, "Jens Hansen": 1}',
    '{"municipality": "aalborg", "event": "afrusning", "010190-1234": 1, "010190-1234": 2}',
    '{"municipality": "aalborg", "event": "afrusning", "navn": "\\qJens Hansen"}',
    '{"municipality": "aalborg", "event": "afrusning", "Jens Hansen": 1' + "0" * 5000 + "}",
], ids=["unknown keys", "a duplicate key", "an unknown escape", "an over-long number"])
def test_no_key_or_value_in_a_json_situation_error(tmp_path: Path, route: Any, text: str) -> None:
    """The same for a JSON situation file."""
    path = tmp_path / "situation.json"
    path.write_text(text, encoding="utf-8")
    code, err = route(path)
    assert code == 2
    assert err.count("\n") == 1
    _clean(tmp_path, err)


@pytest.mark.parametrize(("rule", "message"), [
    ("when: {Jens Hansen: true}", "unknown fact (a value that is no id)"),
    ("when: {seizures: {Jens: true}}", "unknown operator (a value that is no id)"),
    ("when: {residence: Jens Hansen}", "residence: (a value that is no id) is not a possible value"),
    ("Jens Hansen: 1", "rules.0.(no id): unknown key"),
], ids=["a fact", "an operator", "an enum value", "a rule key"])
def test_no_name_in_a_condition_or_schema_error(tmp_path: Path, rule: str, message: str) -> None:
    """A key of a rule or its condition that is no id is not repeated either; an id still is."""
    error = _rule_error(_town(tmp_path, f"{HEADER}rules:\n  - {{id: a, responsible: borger, "
                                        f"source: {{section: S}}, {rule}}}\n"))
    _clean(tmp_path, str(error))
    assert message in error.message
    assert error.line == 3


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.usefixtures("deadline")
def test_a_scenario_file_that_is_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    """`ansvar test` reads only regular files: a FIFO named like a scenario file is refused at once."""
    from ansvar.testing import scenarios  # noqa: PLC0415

    fifo = tmp_path / "afrusning.yaml"
    os.mkfifo(fifo)
    with pytest.raises(scenarios.ScenarioFileError, match="not a regular file"):
        scenarios.load(fifo)
