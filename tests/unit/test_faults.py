"""Fault and bad-input matrix: every kind of bad rule file or situation is one clear AnsvarError, never a
crash, a hang, another exception, or a partial answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ansvar
from ansvar import cli, engine
from ansvar.model.situation import MODELS
from tests.fixtures import ON
from tests.fixtures.towns import write_town

ROUTER = ansvar.default_router()
LAYER = "layer: testby\nkind: municipality\nname: Testby\nactors:\n  borger: {name: Borger}\n"
HEADER = ("pack: {layer: testby, event: afrusning, title: T, document: D, version: '1', valid_from: 2020-01-01,"
          " review_by: null, section: S}\n")
RULE = "rules:\n  - {id: a, responsible: borger, source: {section: S}}\n"


RULE_FILES: list[tuple[str, bytes | str, str]] = [
    ("malformed YAML", HEADER + "rules:\n  - {id: a, responsible: borger\n", "YAML syntax error"),
    ("python object tag", HEADER + "rules: !!python/object/apply:os.system ['true']\n", "unsupported tag"),
    ("python name tag", HEADER + "rules:\n  - !!python/name:os.system {}\n", "unsupported tag"),
    ("custom tag", HEADER + "rules: !mytag [1]\n", "unsupported tag"),
    ("set tag", HEADER + "rules: !!set {a: null}\n", "unsupported tag"),
    ("billion laughs", HEADER + "x: &a [1, 1]\ny: [*a, *a]\n" + RULE, "aliases"),
    ("deep nesting", HEADER + "rules: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 64 levels"),
    ("huge file", HEADER + RULE + "# " + "x" * 2_100_000 + "\n", "larger than"),
    ("non-UTF-8 bytes", HEADER.encode() + b"rules: \xff\xfe\n", "not UTF-8"),
    ("NUL byte", HEADER + RULE + "\x00", "unacceptable character #x0000"),
    ("Danish rule id", HEADER + "rules:\n  - {id: afrus_på_egen_hånd, responsible: borger, source: {section: S}}\n",
     "rules.0.id"),
    ("Danish fact name", HEADER + "rules:\n  - {id: a, when: {kramper: true}, responsible: borger, "
     "source: {section: S}}\n", "unknown fact 'kramper'"),
    ("Danish value outside the enum", HEADER + "rules:\n  - {id: a, when: {residence: forsorgshjemmet}, "
     "responsible: borger, source: {section: S}}\n", "not a possible value"),
    ("a date for a boolean", HEADER + "rules:\n  - {id: a, when: {seizures: 2026-01-01}, responsible: borger, "
     "source: {section: S}}\n", "not a possible value"),
    ("an out-of-range valid_from", HEADER.replace("2020-01-01", "2020-13-01") + RULE, "not a valid date"),
    ("empty file", "", "the file must hold a mapping"),
    ("a list at the top", "- 1\n", "the file must hold a mapping"),
]


@pytest.mark.parametrize(("what", "content", "message"), RULE_FILES, ids=[r[0] for r in RULE_FILES])
def test_bad_rule_files_are_rule_errors(tmp_path: Path, what: str, content: bytes | str, message: str) -> None:
    """Each bad rule file is a RuleError naming the file (and line where there is one), nothing else."""
    with pytest.raises(ansvar.RuleError) as caught:
        ansvar.Router([write_town(tmp_path, "testby", LAYER, {"afrusning": content})])
    assert caught.value.path is not None
    assert caught.value.path.name == "afrusning.yaml", what
    assert message in caught.value.message, (what, caught.value.message)


def test_danish_file_and_folder_names_are_errors_not_crashes(tmp_path: Path) -> None:
    """A pack file or layer folder named with æ/ø/å is refused with its name, not skipped or crashed on."""
    with pytest.raises(ansvar.RuleError, match="must live in afrusning.yaml"):
        ansvar.Router([write_town(tmp_path, "testby", LAYER, {"afrusning_æøå": HEADER + RULE})])
    write_town(tmp_path / "other", "rødby", LAYER.replace("testby", "rødby"))
    with pytest.raises(ansvar.RuleError, match="layer"):
        ansvar.Router([tmp_path / "other"])


AFRUSNING = {"municipality": "aalborg", "event": "afrusning"}
SITUATIONS: list[tuple[str, Any, type[ansvar.AnsvarError]]] = [
    ("a string for a boolean", {**AFRUSNING, "seizures": "true"}, ansvar.SituationError),
    ("1 for true", {**AFRUSNING, "seizures": 1}, ansvar.SituationError),
    ("a float for a count", {**AFRUSNING, "administrations_per_day": 2.5}, ansvar.SituationError),
    ("a negative count", {**AFRUSNING, "administrations_per_day": -1}, ansvar.SituationError),
    ("a huge count", {**AFRUSNING, "administrations_per_day": 10**30}, ansvar.SituationError),
    ("an unknown fact", {**AFRUSNING, "delirum_tremens": True}, ansvar.SituationError),
    ("a Danish fact name", {**AFRUSNING, "kramper": True}, ansvar.SituationError),
    ("a Danish enum value", {**AFRUSNING, "residence": "forsorgshjemmet"}, ansvar.SituationError),
    ("a Danish municipality", {**AFRUSNING, "municipality": "ålborg"}, ansvar.SituationError),
    ("an unknown municipality", {**AFRUSNING, "municipality": "hjoerring"}, ansvar.UnknownEventError),
    ("an unknown event", {"municipality": "aalborg", "event": "afrusning_ø"}, ansvar.UnknownEventError),
    ("no event", {"municipality": "aalborg"}, ansvar.SituationError),
    ("not a mapping", ["afrusning"], ansvar.SituationError),
    ("year 1", {"municipality": "rebild", "event": "udredning", "clarifying_conversation_on": "0001-01-01"},
     ansvar.SituationError),
    ("year 9999", {"municipality": "rebild", "event": "udredning", "clarifying_conversation_on": "9999-12-31"},
     ansvar.SituationError),
    ("30 February", {"municipality": "rebild", "event": "udredning", "clarifying_conversation_on": "2026-02-30"},
     ansvar.SituationError),
    ("a datetime for a date", {"municipality": "rebild", "event": "udredning",
                               "clarifying_conversation_on": "2026-02-01T10:00:00"}, ansvar.SituationError),
    ("a huge string", {**AFRUSNING, "residence": "x" * 5_000_000}, ansvar.SituationError),
    ("NUL in a value", {**AFRUSNING, "residence": "eget_hjem\x00"}, ansvar.SituationError),
    ("a nested object", {**AFRUSNING, "seizures": {"$ne": False}}, ansvar.SituationError),
    ("engine-reserved key", {**AFRUSNING, "sid": "1"}, ansvar.SituationError),
]


@pytest.mark.parametrize(("what", "situation", "error"), SITUATIONS, ids=[s[0] for s in SITUATIONS])
def test_bad_situations_are_clear_errors(what: str, situation: Any, error: type[ansvar.AnsvarError]) -> None:  # noqa: ANN401
    """Each bad situation raises its error type, for route and route_many alike, and leaves no session."""
    with pytest.raises(error):
        ROUTER.route(situation, on=ON)
    with pytest.raises(error):
        ROUTER.route_many([AFRUSNING, situation, AFRUSNING], on=ON)
    assert engine.live_sessions() == 0


@pytest.mark.parametrize(("raw", "message"), [
    (b"\xff\xfe{", "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b"{" + b'"a": {' * 50_000 + b"}" * 50_001, "nested too deeply"),
    (b"municipality: aalborg\n" + b"x: " + b"[" * 5000 + b"]" * 5000, "nested more than 64"),
    (b"event: !!python/object/apply:os.system ['true']\n", "unsupported tag"),
    (b'{"event": "afrusning", "event": "x"}', "duplicate key"),
    (b"event: afrusning\nevent: x\n", "duplicate"),
    ("kommune: ålborg\nbegivenhed: afrusning\n".encode(), "missing"),
])
def test_bad_situation_files_through_the_cli(tmp_path: Path, raw: bytes, message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI answers each bad file with one line on stderr and exit 2, never a traceback."""
    path = tmp_path / "situation.yaml"
    path.write_bytes(raw)
    assert cli.main(["route", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ansvar: ")
    assert err.count("\n") == 1
    assert message in err


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
                    | st.dates().map(str), lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=6)
FACT_NAMES = sorted({name for model in MODELS.values() for name in model.model_fields})


@settings(max_examples=300)
@given(base=st.sampled_from([(m, e) for m in ROUTER.municipalities() for e in ROUTER.events(m)]),
       fields=st.dictionaries(st.sampled_from(FACT_NAMES) | st.text(max_size=12), JSON, max_size=5))
def test_fuzzed_situations_route_or_raise_an_ansvar_error(base: tuple[str, str], fields: dict[str, Any]) -> None:
    """Any JSON-shaped input routes to a whole Decision or raises an AnsvarError; nothing else escapes."""
    situation = {"municipality": base[0], "event": base[1], **fields}
    try:
        decision = ROUTER.route(situation, on=ON)
    except ansvar.AnsvarError:
        pass
    else:
        assert decision.responsible
        json.dumps(decision.model_dump(mode="json"))
    assert engine.live_sessions() == 0


SITUATION_TEXT = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8")),
    st.lists(st.sampled_from(["municipality: aalborg\n", "event: afrusning\n", "seizures: true\n", "{", "[",
                              "on: yes\n", "a: 2026-13-01\n", "- x\n", "!!set {a}\n", "\x00", "æøå: 1\n",
                              '"residence": "eget_hjem"', ": :\n", "&a x\n", "*a\n"]),
             max_size=8).map(lambda parts: "".join(parts).encode("utf-8")))


@settings(max_examples=300)
@given(raw=SITUATION_TEXT)
def test_fuzzed_situation_files_never_crash_the_cli(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    """Arbitrary bytes as a situation file: exit 0 (a valid situation) or 2, never an exception."""
    path = tmp_path_factory.mktemp("fuzz") / "s.yaml"
    path.write_bytes(raw)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "Router", lambda _dirs: ROUTER)  # the packs load once, not per example
        assert cli.main(["route", str(path), "--on", "2026-11-23"]) in {0, 2}
