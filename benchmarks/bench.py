"""ansvar's speed, next to durable_rules' own floor, a peer engine and plain Python, all measured in one run.

    pip install -c constraints.txt -e '.[bench]'   # zen-engine, the peer (benchmark only)
    python benchmarks/bench.py [--n 20000] [--top-pad]

Rows (afrusning, Aalborg: 14 rules, 4 situations in turn):
  stock durable_rules   the engine's stock Python API (a Host without timer threads; assert_fact +
                        delete_state) on the very ruleset ansvar compiles: the floor a user of durable_rules
                        pays for "evaluate one situation".
  C extension           the same ruleset through durable_rules_engine directly (ansvar.engine; no
                        validation, no Decision).
  zen-engine            GoRules' engine (Rust core) evaluating an equivalent decision table, generated from
                        the same compiled rules (collect hit policy: the rules that hold).
  plain Python          a hand-written afrusning function returning the lead: the lower bound.
  ansvar.route          the whole call: validation, engine, hit policy, Decision.
  ansvar.route_many     the same Decisions for a batch of 4,000, per situation.
Then every shipped (municipality, event): route and route_many over a spread of its cases. Then cold start
(a fresh interpreter: import ansvar and load every shipped pack) and peak memory.

`--top-pad` adds the engine rows after raising glibc's M_TOP_PAD (mallopt): once a dozen rulesets are
loaded, glibc trims the heap top each time delete_state frees a session and the next assert_fact faults
the pages back in. ansvar does not change a host's allocator; route_many sidesteps it by batching.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import ctypes.util
import datetime as dt
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import ansvar
from ansvar.packs.compiler import Test, engine_value, to_ruleset
from ansvar.model.situation import parse_situation
from ansvar.analysis.space import SituationSpace

ON = dt.date(2026, 11, 23)
SITUATIONS: list[dict[str, Any]] = [
    {"municipality": "aalborg", "event": "afrusning", "withdrawal_symptoms": True, "delirium_tremens": True},
    {"municipality": "aalborg", "event": "afrusning"},
    {
        "municipality": "aalborg",
        "event": "afrusning",
        "wants_medical_help": True,
        "residence": "forsorgshjem",
        "home_nursing_requested": True,
        "fixed_in_fmk": True,
        "administrations_per_day": 3,
    },
    {
        "municipality": "aalborg",
        "event": "afrusning",
        "wants_medical_help": True,
        "prescription_channel": "telefon",
        "wants_treatment_after": True,
    },
]
TARGETS = {"route within 1.2x the stock floor": 1.2, "cold start (ms)": 150.0}


def per_call_us(function: Callable[[int], object], n: int, repeats: int = 5) -> float:
    """Median over `repeats` runs of the mean µs per call of `function(i)` for i in range(n)."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(n):
            function(i)
        runs.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(runs)


def per_item_us(function: Callable[[], object], items: int, repeats: int = 5) -> float:
    """Median over `repeats` runs of µs per item of one call handling `items` items."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        runs.append((time.perf_counter() - start) / items * 1e6)
    return statistics.median(runs)


def stock_durable_rules(definition: dict[str, Any], facts: list[dict[str, Any]]) -> Callable[[int], object]:
    """assert_fact + delete_state through durable_rules' stock Python API, timer threads disabled."""
    from durable import engine as stock  # noqa: PLC0415 - benchmark only; ansvar never imports it

    fired: list[str] = []

    class QuietHost(stock.Host):  # type: ignore[misc]
        def _run(self) -> None:  # no background timer threads racing the benchmark
            pass

        def get_action(self, action_name: str) -> Callable[[Any], None]:
            return lambda _c: fired.append(action_name)

    rules = copy.deepcopy(definition)
    for name, rule in rules.items():
        rule["run"] = name
    host = QuietHost()
    host.register_rulesets({"bench_afrusning": rules})

    def call(i: int) -> object:
        fact = dict(facts[i % len(facts)], sid=str(i))
        host.assert_fact("bench_afrusning", fact)
        host.delete_state("bench_afrusning", str(i))
        return fired

    return call


def _zen_cell(test: Test) -> str:
    value = engine_value(test.value)
    if value is None:
        return "$ == null" if test.op == "eq" else "$ != null"
    literal = json.dumps(value)
    return {
        "eq": f"$ == {literal}",
        "ne": f"$ != {literal}",
        "lt": f"$ < {literal}",
        "le": f"$ <= {literal}",
        "gt": f"$ > {literal}",
        "ge": f"$ >= {literal}",
    }[test.op]


def zen_decision(pack: Any) -> Any:
    """A zen-engine decision table equivalent to the pack's compiled rules: one row per alternative."""
    import zen  # noqa: PLC0415 - benchmark only

    facts = sorted(pack.facts)
    inputs = [{"id": f"in_{f}", "name": f, "field": f} for f in facts]
    rows = []
    for compiled in pack.compiled.values():
        for index, alternative in enumerate(compiled.alternatives):
            row: dict[str, str] = {
                "_id": compiled.engine_name(index),
                "out_rule": json.dumps(compiled.rule_id),
            }
            for test in alternative:
                cell = _zen_cell(test)
                key = f"in_{test.fact}"
                row[key] = f"({row[key]}) and ({cell})" if key in row else cell
            rows.append(row)
    content = {
        "nodes": [
            {"id": "input", "type": "inputNode", "name": "Request", "position": {"x": 0, "y": 0}},
            {
                "id": "table",
                "type": "decisionTableNode",
                "name": "Rules",
                "position": {"x": 200, "y": 0},
                "content": {
                    "hitPolicy": "collect",
                    "inputs": inputs,
                    "outputs": [{"id": "out_rule", "name": "rule", "field": "rule"}],
                    "rules": rows,
                },
            },
            {"id": "output", "type": "outputNode", "name": "Response", "position": {"x": 400, "y": 0}},
        ],
        "edges": [
            {"id": "e1", "sourceId": "input", "targetId": "table", "type": "edge"},
            {"id": "e2", "sourceId": "table", "targetId": "output", "type": "edge"},
        ],
    }
    return zen.ZenEngine().create_decision(json.dumps(content))


def afrusning_plain(s: Mapping[str, Any]) -> str:
    """Aalborg's afrusning lead, by hand: the lower bound of "who is responsible"."""
    if s.get("seizures") or s.get("delirium_tremens") or s.get("complicated_course_suspected"):
        return "region_akutmodtagelse"
    if (
        s.get("wants_medical_help")
        or s.get("withdrawal_symptoms")
        or s.get("home_nursing_requested")
        or s.get("fixed_in_fmk")
        or s.get("prescription_channel") in {"telefon", "korrespondance"}
    ):
        return "egen_laege"
    return "borger"


def raise_top_pad(megabytes: int = 64) -> bool:
    """mallopt(M_TOP_PAD): keep this much free memory at the heap top instead of trimming it (glibc)."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    m_top_pad = -2
    return bool(ctypes.CDLL(name).mallopt(m_top_pad, megabytes << 20))


def cold_start_ms(repeats: int = 5) -> tuple[float, float]:
    """Median ms to import ansvar and load every shipped pack in a fresh interpreter, and its peak MiB.

    With bytecode compiled, as an installed package has it: a first, untimed run writes the .pyc files
    even where PYTHONDONTWRITEBYTECODE is set (this machine sets it).
    """
    code = (
        "import time, resource; t = time.perf_counter(); import ansvar; ansvar.default_router(); "
        "print((time.perf_counter() - t) * 1e3, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
        .stdout.split()
        for _ in range(repeats + 1)
    ][1:]
    return statistics.median(float(r[0]) for r in runs), statistics.median(int(r[1]) for r in runs) / 1024


def _spread(router: ansvar.Router, municipality: str, event: str, size: int) -> list[dict[str, Any]]:
    space = SituationSpace([router.pack(municipality, event)], ON)
    cases = [
        {"municipality": municipality, **s}
        for s in itertools.islice(space, 0, None, max(1, space.size // size))
    ]
    return (cases * (size // len(cases) + 1))[:size]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000, help="calls per measurement")
    parser.add_argument("--top-pad", action="store_true", help="also measure with glibc M_TOP_PAD raised")
    args = parser.parse_args()
    n = args.n

    router = ansvar.default_router()
    pack = router.pack("aalborg", "afrusning")
    models = [parse_situation(s) for s in SITUATIONS]
    facts = [{name: engine_value(getattr(m, name)) for name in pack.facts} for m in models]
    engine_facts = [{k: v for k, v in f.items() if v is not None} for f in facts]
    definition = to_ruleset(list(pack.compiled.values()))

    # The peers must answer as ansvar does before they are timed.
    decisions = [router.route(s, on=ON) for s in SITUATIONS]
    assert [afrusning_plain(s) for s in SITUATIONS] == [d.responsible for d in decisions]
    try:
        zen = zen_decision(pack)
    except ImportError:
        zen = None
    if zen is not None:
        for fact, decision in zip(facts, decisions, strict=True):
            got = {row["rule"] for row in zen.evaluate(fact)["result"]}
            assert got == {t.rule for t in decision.trace}, (got, decision.trace)

    stock = stock_durable_rules(definition, engine_facts)
    batch = (SITUATIONS * 1000)[:4000]
    rows = [
        ("stock durable_rules: assert_fact + delete_state", per_call_us(stock, n)),
        (
            "C extension via ansvar.engine (no validation, no Decision)",
            per_call_us(lambda i: pack.ruleset.evaluate(engine_facts[i % 4], lambda _: None), n),
        ),
    ]
    if zen is not None:
        rows.append(
            (
                "zen-engine: equivalent decision table (collect)",
                per_call_us(lambda i: zen.evaluate(facts[i % 4]), n),
            )
        )
    rows += [
        (
            "plain Python: hand-written afrusning lead",
            per_call_us(lambda i: afrusning_plain(SITUATIONS[i % 4]), n),
        ),
        ("pydantic validation alone", per_call_us(lambda i: parse_situation(SITUATIONS[i % 4]), n)),
        (
            "ansvar.route (validation + engine + Decision)",
            per_call_us(lambda i: router.route(SITUATIONS[i % 4], on=ON), n),
        ),
        (
            "ansvar.route_many, batch of 4,000, per situation",
            per_item_us(lambda: router.route_many(batch, on=ON), len(batch)),
        ),
    ]
    if args.top_pad and raise_top_pad():
        rows += [
            ("  with M_TOP_PAD 64 MiB: stock durable_rules", per_call_us(stock, n)),
            (
                "  with M_TOP_PAD 64 MiB: ansvar.route",
                per_call_us(lambda i: router.route(SITUATIONS[i % 4], on=ON), n),
            ),
        ]
    floor = rows[0][1]
    print(
        f"Python {sys.version.split()[0]}, afrusning (aalborg): {len(pack.rules)} rules, "
        f"{len(definition) - 1} engine rules; {n} calls x 5 runs, median of means"
    )
    print(f"{'':62} {'µs/call':>9} {'calls/s':>11} {'vs stock':>9}")
    for name, us in rows:
        print(f"{name:62} {us:9.2f} {1e6 / us:11,.0f} {us / floor:8.2f}x")

    print(
        f"\nEvery shipped event: µs per situation over a spread of its cases "
        f"({n // 4} calls; batches of 2,000)"
    )
    print(f"{'':48} {'route':>8} {'routes/s':>10} {'route_many':>11} {'routes/s':>10}")
    for municipality in router.municipalities():
        for event in router.events(municipality):
            cases = _spread(router, municipality, event, 2000)
            single = per_call_us(lambda i, c=cases: router.route(c[i % len(c)], on=ON), n // 4, repeats=3)
            many = per_item_us(lambda c=cases: router.route_many(c, on=ON), len(cases), repeats=3)
            print(
                f"{municipality + '/' + event:48} {single:8.1f} {1e6 / single:10,.0f} {many:11.1f} "
                f"{1e6 / many:10,.0f}"
            )

    cold, cold_peak = cold_start_ms()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        "\ncold start (fresh interpreter, bytecode compiled: import ansvar, load and compile all shipped packs): "
        f"{cold:.0f} ms, "
        f"peak RSS {cold_peak:.0f} MiB"
    )
    print(f"peak RSS of this benchmark process: {peak:.0f} MiB")

    route_us = next(us for name, us in rows if name.startswith("ansvar.route "))
    many_us = next(us for name, us in rows if name.startswith("ansvar.route_many"))
    print("\nTargets:")
    print(
        f"  route / stock floor = {route_us / floor:.2f} (target <= 1.2): "
        f"{'met' if route_us <= 1.2 * floor else 'MISSED'}"
    )
    if zen is not None:
        zen_us = next(us for name, us in rows if name.startswith("zen-engine"))
        print(
            f"  route_many per situation {many_us:.1f} µs vs zen-engine {zen_us:.1f} µs (target <=): "
            f"{'met' if many_us <= zen_us else 'MISSED'}"
        )
    print(f"  cold start {cold:.0f} ms (target <= 150): {'met' if cold <= 150 else 'MISSED'}")


if __name__ == "__main__":
    main()
