"""µs per route for ansvar, next to durable_rules' own floor measured in the same run.

    python benchmarks/bench.py [--n 20000]

Rows:
  stock durable_rules  the engine's stock Python API (a Host without timer threads; assert_fact +
                       delete_state) on the very ruleset ansvar compiles for `afrusning`: the floor a
                       user of durable_rules pays for "evaluate one situation".
  C extension          the same ruleset through durable_rules_engine directly (ansvar.engine, no
                       validation, no Decision).
  validate             pydantic validation of the situation alone.
  ansvar.route         the whole call: validation, engine, hit policy, Decision.

Then the engine rows again after raising glibc's M_TOP_PAD (via mallopt). Measured here: once a dozen or
so rulesets are loaded, glibc trims the heap top each time delete_state frees a session, and the next
assert_fact faults those pages back in, making every engine call about 5x slower. ansvar does not change
the host process's allocator on its own; this row shows what a host that does would get.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import ctypes.util
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import ansvar
from ansvar.compiler import to_ruleset
from ansvar.situation import parse_situation

ON = dt.date(2026, 11, 23)
SITUATIONS: list[dict[str, Any]] = [
    {"municipality": "aalborg", "event": "afrusning", "withdrawal_symptoms": True, "delirium_tremens": True},
    {"municipality": "aalborg", "event": "afrusning"},
    {"municipality": "aalborg", "event": "afrusning", "wants_medical_help": True, "residence": "forsorgshjem",
     "home_nursing_requested": True, "fixed_in_fmk": True, "administrations_per_day": 3},
    {"municipality": "aalborg", "event": "afrusning", "wants_medical_help": True,
     "prescription_channel": "telefon", "wants_treatment_after": True},
]


def per_call_us(function: Callable[[int], object], n: int, repeats: int = 5) -> float:
    """Median over `repeats` runs of the mean µs per call of `function(i)` for i in range(n)."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(n):
            function(i)
        runs.append((time.perf_counter() - start) / n * 1e6)
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


def raise_top_pad(megabytes: int = 64) -> bool:
    """mallopt(M_TOP_PAD): keep this much free memory at the heap top instead of trimming it (glibc)."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    m_top_pad = -2
    return bool(ctypes.CDLL(name).mallopt(m_top_pad, megabytes << 20))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000, help="calls per measurement")
    n = parser.parse_args().n

    started = time.perf_counter()
    router = ansvar.Router()
    cold = (time.perf_counter() - started) * 1e3
    pack = router.pack("aalborg", "afrusning")
    models = [parse_situation(s) for s in SITUATIONS]
    facts = [{name: getattr(m, name) for name in pack.facts} for m in models]
    engine_facts = [{k: v for k, v in f.items() if v is not None} for f in facts]

    definition = to_ruleset(list(pack.compiled.values()))
    stock = stock_durable_rules(definition, engine_facts)
    rows = [
        ("stock durable_rules: assert_fact + delete_state", per_call_us(stock, n)),
        ("C extension via ansvar.engine (no validation, no Decision)",
         per_call_us(lambda i: pack.ruleset.evaluate(engine_facts[i % 4], lambda _: None), n)),
        ("pydantic validation alone", per_call_us(lambda i: parse_situation(SITUATIONS[i % 4]), n)),
        ("ansvar.route (validation + engine + Decision)",
         per_call_us(lambda i: router.route(SITUATIONS[i % 4], on=ON), n)),
    ]
    if raise_top_pad():
        rows += [
            ("  with M_TOP_PAD 64 MiB: stock durable_rules", per_call_us(stock, n)),
            ("  with M_TOP_PAD 64 MiB: ansvar.route", per_call_us(lambda i: router.route(SITUATIONS[i % 4], on=ON), n)),
        ]
    floor = rows[0][1]
    print(f"Python {sys.version.split()[0]}, afrusning pack: {len(pack.rules)} rules, "
          f"{len(definition) - 1} engine rules; {n} calls x 5 runs, median of means")
    print(f"{'':60} {'µs/call':>9} {'calls/s':>10} {'vs stock':>9}")
    for name, us in rows:
        print(f"{name:60} {us:9.1f} {1e6 / us:10,.0f} {us / floor:8.2f}x")
    print(f"cold start (Router(): load, validate and compile all shipped packs): {cold:.1f} ms")


if __name__ == "__main__":
    main()
