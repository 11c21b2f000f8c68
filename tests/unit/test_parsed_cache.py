"""Rule and event files parsed once, then read back from disk: the same values at the same places, or parsed.

A fresh process reads a file's parsed form from ansvar's cache folder (`ansvar._yaml.parsed`) instead of
composing the YAML again. What it reads must be what parsing gives, down to the line and column of every
key and value (every schema error points there), a damaged entry must never be believed, and no situation
is ever written.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ansvar
from ansvar import RuleError, _cache, _yaml
from tests.fixtures import ON, expected_error
from tests.unit.test_rule_errors import make_pack

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted([*(ROOT / "rules").rglob("*.yaml"), *(ROOT / "events").rglob("*.yaml")])
INVALID = sorted((ROOT / "tests" / "invalid_rules").glob("*.yaml"))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("ANSVAR_CACHE_DIR", str(folder))
    return folder


def same(parsed: Any, read: Any, where: str = "") -> None:
    """Equal values of the same types, and every mapping and list at the same positions, all the way down."""
    assert type(read) is type(parsed), where
    if isinstance(parsed, _yaml.LocatedDict):
        assert list(read) == list(parsed), where
        assert read.position == parsed.position, where
        assert read.positions == parsed.positions, where
        assert read.key_positions == parsed.key_positions, where
        for key in parsed:
            same(parsed[key], read[key], f"{where}.{key}")
    elif isinstance(parsed, _yaml.LocatedList):
        assert len(read) == len(parsed), where
        assert (read.position, read.positions) == (parsed.position, parsed.positions), where
        for number, (one, other) in enumerate(zip(parsed, read, strict=True)):
            same(one, other, f"{where}[{number}]")
    else:
        assert read == parsed, where


def _entries(cache: Path) -> list[Path]:
    folder = cache / "parsed"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def _parse_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, composing YAML fails the test: what is read must come from disk."""
    def refused(_text: object) -> None:
        pytest.fail("parsed again instead of read from the cache folder")
    monkeypatch.setattr(_yaml, "load", refused)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_file_reads_back_as_parsed(path: Path, cache: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = _yaml.SpecFile(path).data
    assert len(_entries(cache)) == 1
    _parse_refused(monkeypatch)
    same(fresh, _yaml.SpecFile(path).data)


def test_a_fresh_process_routes_the_same_from_the_cache(cache: Path) -> None:
    situation = {"municipality": "aalborg", "event": "afrusning", "withdrawal_symptoms": True,
                 "delirium_tremens": True}
    code = ("import json, sys, datetime, ansvar; "
            "d = ansvar.route(json.loads(sys.argv[1]), on=datetime.date(2026, 11, 23)); "
            "print(d.model_dump_json())")
    answers = [subprocess.run([sys.executable, "-c", code, json.dumps(situation)], capture_output=True,
                              text=True, check=True, env=_env(cache)).stdout for _ in range(2)]
    assert {path.stem for path in _entries(cache)} == {_yaml.parsed_key(p.read_bytes()) for p in SHIPPED}
    assert answers[0] == answers[1]
    assert json.loads(answers[0]) == json.loads(ansvar.route(situation, on=ON).model_dump_json())


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "ANSVAR_CACHE_DIR": str(cache)}


@pytest.mark.parametrize("fixture", INVALID, ids=lambda p: p.stem)
def test_a_broken_file_is_refused_at_the_same_place_when_read_back(fixture: Path, tmp_path: Path, cache: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Schema errors point into the file from the positions kept; a file that is no YAML is never kept."""
    text, line, column, message = expected_error(fixture)
    rules = make_pack(tmp_path / "rules", text)  # the fixtures' own town, as test_rule_errors writes it
    with pytest.raises(RuleError) as first:
        ansvar.Router([rules])
    kept = {path.name for path in _entries(cache)}
    raw = fixture.read_bytes()
    try:
        _yaml.load(raw)
    except _yaml.YamlProblem:
        assert _yaml.parsed_key(raw) + ".json" not in kept  # refused while parsing: nothing of it kept
        return
    assert _yaml.parsed_key(raw) + ".json" in kept
    _parse_refused(monkeypatch)
    with pytest.raises(RuleError) as again:
        ansvar.Router([rules])
    assert str(again.value) == str(first.value)
    assert (again.value.line, again.value.column) == (line, column)
    assert message in str(again.value)




DAMAGED = {
    "cut short": lambda body: body[:-7],
    "no JSON": lambda body: b"[not json",
    "a JSON object without its tag": lambda body: b'{"a": 1}',
    "a bare list": lambda body: b'["m", 1, 1]',
    "a bare list inside": lambda body: b'{"":["m",1,1,1,1,1,4],"a":[1,2]}',
    "an unknown tag": lambda body: re.sub(rb'\{"":\["m",', b'{"":["x",', body, count=1),
    "a position that is no number":
        lambda body: re.sub(rb'\{"":\["m",(\d+)', rb'{"":["m","\1"', body, count=1),
    "a position too few": lambda body: re.sub(rb'\{"":\["m",\d+,', b'{"":["m",', body, count=1),
    "a key twice": lambda body: b'{"":["m",1,1,1,1,1,4,2,1,2,4],"a":1,"a":2}',
    "a date that is none": lambda body: b'{"":["m",1,1,1,1,1,4],"a":{"":["d","Jens"]}}',
    "a list of another length": lambda body: b'{"":["m",1,1,1,1,1,4],"a":{"":["l",1,4,1,5],"i":[1,2]}}',
}


@pytest.mark.parametrize("damage", list(DAMAGED))
def test_a_damaged_entry_is_not_believed(damage: str, cache: Path) -> None:
    path = ROOT / "rules" / "aalborg" / "afrusning.yaml"
    fresh = _yaml.SpecFile(path).data
    (entry,) = _entries(cache)
    body = entry.read_bytes().partition(b"\n")[2]
    damaged = DAMAGED[damage](body)
    assert damaged != body
    _cache.write("parsed", entry.stem, 1, damaged)  # a header that checks out: only the body is wrong
    assert _cache.read("parsed", entry.stem, 1) == damaged
    same(fresh, _yaml.SpecFile(path).data)
    assert entry.read_bytes().partition(b"\n")[2] == body  # parsed again, and kept again whole


def test_an_entry_whose_digest_does_not_fit_is_ignored(cache: Path) -> None:
    path = ROOT / "rules" / "aalborg" / "afrusning.yaml"
    fresh = _yaml.SpecFile(path).data
    (entry,) = _entries(cache)
    header, _, body = entry.read_bytes().partition(b"\n")
    entry.write_bytes(header + b"\n" + body.replace(b"egen_laege", b"vagtlaege_", 1))
    assert _cache.read("parsed", entry.stem, 1) is None
    same(fresh, _yaml.SpecFile(path).data)


def test_no_cache_folder_keeps_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ANSVAR_CACHE_DIR=""`: nothing on disk, not in the home folder's cache either."""
    for variable in ("HOME", "XDG_CACHE_HOME", "LOCALAPPDATA"):
        monkeypatch.setenv(variable, str(tmp_path))
    monkeypatch.setenv("ANSVAR_CACHE_DIR", "")
    monkeypatch.chdir(tmp_path)
    decision = ansvar.Router().route({"municipality": "aalborg", "event": "afrusning",
                                      "withdrawal_symptoms": True, "delirium_tremens": True}, on=ON)
    assert decision.responsible is not None
    assert list(tmp_path.iterdir()) == []


def test_a_situation_is_never_kept(cache: Path, tmp_path: Path) -> None:
    """Routing a situation file from the CLI writes nothing of it: only the packs' own files are kept."""
    situation = tmp_path / "situation.yaml"
    situation.write_text("municipality: aalborg\nevent: afrusning\nwithdrawal_symptoms: true\n"
                         "delirium_tremens: false\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "ansvar.cli", "route", str(situation)], capture_output=True,
                   check=True, env=_env(cache))
    assert _entries(cache)
    assert _yaml.parsed_key(situation.read_bytes()) + ".json" not in {path.name for path in _entries(cache)}
    shipped = {_yaml.parsed_key(path.read_bytes()) for path in SHIPPED}
    assert {path.stem for path in _entries(cache)} <= shipped


# --- any YAML the loader builds --------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12),
    st.dates(), st.datetimes(timezones=st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=2))])),
)
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=20)


def _has_empty_key(value: Any) -> bool:
    if isinstance(value, dict):
        return "" in value or any(map(_has_empty_key, value.values()))
    return isinstance(value, list) and any(map(_has_empty_key, value))


@given(_values.filter(lambda v: isinstance(v, dict)), st.sampled_from(["block", "flow"]))
def test_any_parsed_file_reads_back_as_parsed(value: dict[str, Any], style: str) -> None:
    import yaml  # noqa: PLC0415 - the text is written by PyYAML; ansvar's own loader reads it

    text = yaml.safe_dump(value, default_flow_style=style == "flow", allow_unicode=True, width=40)
    try:
        fresh = _yaml.load(text)
    except _yaml.YamlProblem:
        return  # not a file ansvar loads (say, a key PyYAML writes bare that reads as a number)
    try:
        encoded = _yaml._encoded(fresh)
    except TypeError:
        assert _has_empty_key(fresh)  # only a mapping with the key "" is not kept
        return
    same(fresh, json.loads(json.dumps(encoded), object_pairs_hook=_yaml._decoded))


def test_a_file_with_the_key_nothing_is_parsed_each_time(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text('a:\n  "": 1\n', encoding="utf-8")
    assert _yaml.SpecFile(path).data == {"a": {"": 1}}
    assert _entries(cache) == []


def test_an_entry_larger_than_any_ansvar_writes_is_not_read(cache: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = ROOT / "rules" / "aalborg" / "afrusning.yaml"
    fresh = _yaml.SpecFile(path).data
    (entry,) = _entries(cache)
    assert _cache.read("parsed", entry.stem, 1) is not None
    monkeypatch.setattr(_cache, "MAX_ENTRY_BYTES", entry.stat().st_size - 1)
    assert _cache.read("parsed", entry.stem, 1) is None
    same(fresh, _yaml.SpecFile(path).data)


def test_the_cache_folder_keeps_a_bounded_number_of_entries(cache: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder of rule files edited again and again does not fill the disk: the oldest entries go."""
    monkeypatch.setattr(_cache, "MAX_ENTRIES", 3)
    for number in range(6):
        _cache.write("parsed", f"k{number}", 1, b"{}")
        os.utime(cache / "parsed" / f"k{number}.json", (1_000_000 + number, 1_000_000 + number))
    assert sorted(path.stem for path in _entries(cache)) == ["k3", "k4", "k5"]
    assert _cache.read("parsed", "k5", 1) == b"{}"
