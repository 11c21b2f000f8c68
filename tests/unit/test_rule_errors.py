"""Every kind of broken rule file fails at load time with its file, line and column."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import ansvar
from ansvar import RuleError
from tests.fixtures import expected_error
from tests.fixtures.towns import write_town

FIXTURES = sorted((Path(__file__).parents[1] / "invalid_rules").glob("*.yaml"))
ACTORS = """layer: testkommune
kind: municipality
name: Testkommune
actors:
  borger: {name: Borger}
  egen_laege: {name: Egen læge}
  visitation: {name: Visitation, contact: {phone: "9931 5740"}}
"""


def make_pack(tmp_path: Path, text: str | bytes, event: str = "afrusning") -> Path:
    return write_town(tmp_path, "testkommune", ACTORS, {event: text})


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_broken_fixture_names_file_line_column(fixture: Path, tmp_path: Path) -> None:
    """The fixture's `# expect: LINE:COL: message` is what loading it raises."""
    text, line, column, message = expected_error(fixture)
    with pytest.raises(RuleError) as caught:
        ansvar.Router([make_pack(tmp_path, text)])
    error = caught.value
    assert error.path is not None
    assert error.path.name == "afrusning.yaml"
    assert (error.line, error.column) == (line, column), str(error)
    assert f"afrusning.yaml:{line}:{column}: " in str(error)
    assert message in str(error)


def test_at_least_fifteen_kinds() -> None:
    """The fixtures cover many kinds of broken file, not a handful."""
    assert len(FIXTURES) >= 15


def test_layer_file_errors_name_line(tmp_path: Path) -> None:
    """An unknown actor id in layer.yaml is refused at its line."""
    write_town(tmp_path, "testkommune", ACTORS + "  egen_lage: {name: X}\n")
    with pytest.raises(RuleError, match=r"layer.yaml:8:\d+: unknown actor 'egen_lage'"):
        ansvar.Router([tmp_path])


def test_layer_file_must_match_folder(tmp_path: Path) -> None:
    """layer.yaml names the layer of its folder."""
    write_town(tmp_path, "testkommune", ACTORS.replace("layer: testkommune", "layer: x"))
    with pytest.raises(RuleError, match=r"layer.yaml:1:8: layer 'x' does not match its folder"):
        ansvar.Router([tmp_path])


def test_old_actors_file_is_named(tmp_path: Path) -> None:
    """A folder still holding the 0.1 actors.yaml is refused with the way to migrate, never skipped."""
    folder = tmp_path / "testkommune"
    folder.mkdir()
    (folder / "actors.yaml").write_text("municipality: testkommune\n", encoding="utf-8")
    with pytest.raises(RuleError, match=r"testkommune: a folder of rule files without layer.yaml \(actors.yaml"):
        ansvar.Router([tmp_path])


def test_event_must_live_in_its_file(tmp_path: Path) -> None:
    """A pack for `antabus_campral` stored as another file name is refused (a pack that takes nothing from
    its layer.yaml's shared texts or rules, so it reads the same in the test's layer)."""
    shipped = (ansvar.shipped_rules() / "aalborg" / "antabus_campral.yaml").read_text(encoding="utf-8")
    make_pack(tmp_path, shipped.replace("layer: aalborg", "layer: testkommune"),
              event="koerekort_stoffer")
    with pytest.raises(RuleError, match=r"koerekort_stoffer.yaml:\d+:\d+: event 'antabus_campral' must live"):
        ansvar.Router([tmp_path])


def test_non_utf8_file(tmp_path: Path) -> None:
    """A rule file that is not UTF-8 is a RuleError naming the file."""
    base = make_pack(tmp_path, b"pack: \xff\xfe\n")
    with pytest.raises(RuleError, match=r"afrusning.yaml: not UTF-8"):
        ansvar.Router([base])


def test_not_a_directory(tmp_path: Path) -> None:
    """A rule directory that does not exist is a RuleError."""
    with pytest.raises(RuleError, match="not a directory"):
        ansvar.Router([tmp_path / "missing"])


def test_shipped_pack_copied_loads(tmp_path: Path) -> None:
    """The shipped packs load from a copy, so the fixtures above fail for their defect alone."""
    shutil.copytree(ansvar.shipped_rules(), tmp_path / "rules")
    assert "aalborg" in ansvar.Router([tmp_path / "rules"]).municipalities()


def test_ne_and_not_in_hold_for_a_null_fact(tmp_path: Path) -> None:
    """A null fact differs from every value: `ne`/`not_in` hold for it, though the engine's `$neq` never
    matches a missing field (regression: the compiler used `$neq` alone)."""
    import datetime as dt

    pack = """pack: {layer: testkommune, event: akutte_opioidabstinenser, title: T, document: D, version: "1",
       valid_from: 2020-01-01, review_by: null, section: S}
rules:
  - {id: base, responsible: borger, source: {section: S}}
  - {id: ne, priority: 5, when: {presents_at: {ne: egen_laege}}, responsible: egen_laege, source: {section: S}}
  - {id: not_in, when: {presents_at: {not_in: [egen_laege]}}, warnings: [{id: w, text: W}], source: {section: S}}
"""
    router = ansvar.Router([make_pack(tmp_path, pack, event="akutte_opioidabstinenser")])
    expected = {None: ("egen_laege", True), "egen_laege": ("borger", False),
                "rusmiddelbehandling": ("egen_laege", True)}
    for presents_at, (lead, warned) in expected.items():
        decision = router.route({"municipality": "testkommune", "event": "akutte_opioidabstinenser",
                                 "presents_at": presents_at}, on=dt.date(2026, 1, 1))
        assert (decision.responsible, any(w.id == "w" for w in decision.warnings)) == (lead, warned), presents_at
