"""`ansvar diff`: where two municipalities answer differently, each difference shown by a situation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import ansvar
from ansvar import cli
from ansvar.analysis.diff import EventComparison, compare
from tests.fixtures import ON


@pytest.fixture(scope="module")
def shipped() -> list[EventComparison]:
    return compare(ansvar.default_router(), "aalborg", "rebild", on=ON)


def test_compares_the_events_both_cover(shipped: list[EventComparison]) -> None:
    """Aalborg and Rebild share afrusning (the region) and acute opioid withdrawal (the law)."""
    assert [c.event for c in shipped] == ["afrusning", "akutte_opioidabstinenser"]
    assert all(c.situations > 1 for c in shipped)


def test_every_difference_is_reproduced_by_its_example(shipped: list[EventComparison]) -> None:
    """Routing each example with both municipalities shows exactly the difference reported."""
    router = ansvar.default_router()
    for comparison in shipped:
        for difference in comparison.differences:
            first = router.route({"municipality": "aalborg", **difference.example}, on=ON)
            second = router.route({"municipality": "rebild", **difference.example}, on=ON)
            if difference.kind == "responsible":
                assert (first.responsible, second.responsible) == (difference.first, difference.second)
            else:
                steps = ({f"{s.actor}.{s.action}" for s in first.steps},
                         {f"{s.actor}.{s.action}" for s in second.steps})
                assert (difference.step in steps[0], difference.step in steps[1]) == (
                    difference.first == "yes", difference.second == "yes")


def test_the_guides_differences_are_found(shipped: list[EventComparison]) -> None:
    """Aalborg lets a citizen detox alone and sends acute withdrawal at the unit to Substitutionsbehandlingen."""
    afrusning, akutte = shipped
    responsible = {(d.first, d.second) for d in afrusning.differences if d.kind == "responsible"}
    assert ("borger", "egen_laege") in responsible
    assert ("region_akutmodtagelse", "region_akutmodtagelse") not in responsible
    steps = {d.step: (d.first, d.second) for d in akutte.differences if d.kind == "step"}
    assert steps["substitutionsbehandling.sygeplejerske_modtager"] == ("yes", "no")
    assert steps["rusmiddelbehandling.behandl_akutte_opioidabstinenser"] == ("no", "yes")
    leads = {(d.first, d.second) for d in akutte.differences if d.kind == "responsible"}
    assert ("substitutionsbehandling", "rusmiddelbehandling") in leads


def test_examples_are_the_simplest(shipped: list[EventComparison]) -> None:
    """The example of Aalborg's 'detox alone' is the bare situation: no fact needs setting."""
    (alone,) = [d for d in shipped[0].differences if d.step == "borger.afrus_selv"]
    assert alone.example == {"event": "afrusning"}


def test_a_municipality_equal_to_another_has_no_differences(tmp_path: Path) -> None:
    """A copy of Aalborg under another name answers every situation as Aalborg does."""
    rules = tmp_path / "rules"
    shutil.copytree(ansvar.shipped_rules(), rules)
    copy = rules / "aalborg_kopi"
    shutil.copytree(rules / "aalborg", copy)
    for path in copy.glob("*.yaml"):
        path.write_text(path.read_text(encoding="utf-8").replace("layer: aalborg", "layer: aalborg_kopi"),
                        encoding="utf-8")
    router = ansvar.Router([rules])
    result = compare(router, "aalborg", "aalborg_kopi", "akutte_opioidabstinenser", on=ON)
    assert [c.differences for c in result] == [()]
    assert cli.main(["--rules", str(rules), "diff", "aalborg", "aalborg_kopi", "koerekort_stoffer"]) == 0


def test_cli_diff_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    """`ansvar diff` exits 1 on differences (like diff), prints routable examples, and --json parses."""
    assert cli.main(["diff", "aalborg", "rebild", "akutte_opioidabstinenser", "--on", "2026-11-23"]) == 1
    out = capsys.readouterr().out
    assert "ansvarlig: aalborg substitutionsbehandling, rebild rusmiddelbehandling" in out
    example = next(line.split("fx ", 1)[1] for line in out.splitlines() if "fx " in line)
    assert ansvar.route(json.loads(example), on=ON).municipality == "aalborg"
    assert cli.main(["diff", "aalborg", "rebild", "akutte_opioidabstinenser", "--json", "--on", "2026-11-23"]) == 1
    (report,) = json.loads(capsys.readouterr().out)
    assert report["event"] == "akutte_opioidabstinenser"
    assert {"kind": "responsible", "first": "substitutionsbehandling", "second": "rusmiddelbehandling"}.items() <= \
        next(d for d in report["differences"] if d["first"] == "substitutionsbehandling").items()


def test_cli_diff_of_an_event_not_shared(capsys: pytest.CaptureFixture[str]) -> None:
    """An event only one of them covers is a usage error naming the shared ones."""
    assert cli.main(["diff", "aalborg", "rebild", "udredning"]) == 2
    assert "known: afrusning, akutte_opioidabstinenser" in capsys.readouterr().err
