"""route_many(processes=N): the workers evaluate exactly the packs the parent holds, never the disk."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import ansvar
from ansvar.analysis.space import SituationSpace
from ansvar.routing.router import PROCESS_CHUNK
from tests.fixtures import ON


def test_workers_answer_from_the_parents_packs_after_the_files_changed(tmp_path: Path) -> None:
    """Files edited (one changed, one broken) after loading, without reload(): workers answer as the parent."""
    rules = tmp_path / "rules"
    shutil.copytree(ansvar.shipped_rules(), rules)
    router = ansvar.Router([rules])
    cases = [{"municipality": "aalborg", **s}
             for event in ("afrusning", "antabus_campral")
             for s in SituationSpace([router.pack("aalborg", event)], ON)]
    situations = list(itertools.islice(itertools.cycle(cases), 2 * PROCESS_CHUNK))
    expected = router.route_many(situations, on=ON)

    antabus = rules / "aalborg" / "antabus_campral.yaml"
    antabus.write_text(antabus.read_text(encoding="utf-8").replace("egen_laege", "vagtlaege"), encoding="utf-8")
    (rules / "aalborg" / "afrusning.yaml").write_text("pack: [broken", encoding="utf-8")
    assert ansvar.Router([rules], problems=[]).events("aalborg") != router.events("aalborg")  # the disk changed

    assert router.route_many(situations, on=ON, processes=2) == expected
