"""benchmarks/bench.py's peers answer as ansvar does, on a sample of each space (no timing is asserted).

The bench itself checks every peer on each pack's whole space before it times anything; this keeps that
check from rotting between runs: the raw C floor, the stock Host and zen-engine (as its docs recommend, and
its batch API) fire the same rule alternatives as ansvar, route's trace holds them, the hand-written
afrusning lead is route's, and route_many gives route's Decisions.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

import ansvar

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ansvar_bench", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# durable_rules' stock Python Host (a peer the bench measures, not ansvar's path) calls
# datetime.utcfromtimestamp, deprecated since Python 3.12.
@pytest.mark.filterwarnings("ignore:datetime.datetime.utcfromtimestamp:DeprecationWarning")
def test_the_bench_peers_answer_as_ansvar_does() -> None:
    pytest.importorskip("zen", reason="zen-engine (the bench extra) is not installed")
    pytest.importorskip("durable", reason="durable_rules' stock Python API is not installed")
    bench = _bench()
    router = ansvar.default_router()
    keys = [(m, e) for m in router.municipalities() for e in router.events(m)]
    definitions = {f"stock_{m}_{e}": bench.to_ruleset(list(router.pack(m, e).compiled.values()))
                   for m, e in keys}
    host, fired = bench.stock_host(definitions)
    zen = bench.zen_engine({f"{m}/{e}": router.pack(m, e) for m, e in keys})
    args = argparse.Namespace(seed="test", sample=150, min_calls=1, check="sample", stock_calls=10,
                              space_limit=600)
    checked = 0
    for municipality, event in keys:
        pack = bench.PackBench(router, municipality, event, args, host, fired, zen)
        plain = bench.afrusning_plain if (municipality, event) == ("aalborg", "afrusning") else None
        checked += pack.check(plain)["checked"]
    assert checked > 150
