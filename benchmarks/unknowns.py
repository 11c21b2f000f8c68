"""What weighing the unknown facts costs: open questions against a plain route, and next_question, per pack.

    python benchmarks/unknowns.py [--situations 300] [--repeats 7] [--json results.json]

Every row is CPU time (`time.process_time`) per call, median [min–max] over `--repeats` passes; the variants
of a row are interleaved pass by pass (their order alternating), in one process, over the same situations.
The situations are drawn from each pack's own situation space (`ansvar.analysis.space.SituationSpace`), with
every fact stated ("complete"); "open ≤ 4" is the same situation with up to 4 of the facts its pack's rules
read left out (as many as the pack has, chosen at random). Before each pass the router's caches of Decisions
and weighed situations are emptied, so a pass measures the work, not a lookup (the packs' outcome tables,
built once per pack from the pack alone, are built before timing; their build time is its own row).

Targets (issue 12): open questions with up to 4 unstated facts ≤ 2× a plain route; next_question ≤ 5 ms.
The interview rows follow next_question from nothing stated to a settled answer for every drawn situation
and report the questions asked on average, against the facts a form would ask.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import ansvar
from ansvar.analysis.space import SituationSpace
from ansvar.routing import unknowns

ON = dt.date(2026, 11, 23)


def _complete(router: ansvar.Router, situation: dict[str, Any]) -> dict[str, Any]:
    return router.parse_situation(situation).model_dump()


def _draw(router: ansvar.Router, municipality: str, event: str, count: int,
          rng: random.Random) -> list[dict[str, Any]]:
    space = list(SituationSpace([router.pack(municipality, event)], ON))
    chosen = space if len(space) <= count else rng.sample(space, count)
    return [_complete(router, {"municipality": municipality, **s}) for s in chosen]


def _forget(router: ansvar.Router, complete: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    answers = router._answers(router.pack(complete["municipality"], complete["event"]))  # noqa: SLF001
    names = sorted(unknowns.table_for(answers).names)
    dropped = set(rng.sample(names, min(4, len(names))))
    return {k: v for k, v in complete.items() if k not in dropped}


def _empty_caches(router: ansvar.Router) -> None:
    for answers in router._loaded.answers.values():  # noqa: SLF001
        answers.decisions.clear()
        unknowns.table_for(answers)._grids.clear()  # noqa: SLF001


def _passes(variants: dict[str, Callable[[], int]], repeats: int, router: ansvar.Router) -> dict[str, list[float]]:
    """µs per call of each variant, one list per variant, variants interleaved and their order alternating."""
    found: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for number in range(repeats):
        for name in names if number % 2 == 0 else reversed(names):
            _empty_caches(router)
            start = time.process_time()
            calls = variants[name]()
            found[name].append((time.process_time() - start) / calls * 1e6)
    return found


def _shown(values: Sequence[float]) -> str:
    return f"{statistics.median(values):8.1f} [{min(values):.1f}–{max(values):.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--situations", type=int, default=300, help="situations drawn per pack")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    rng = random.Random(12)
    router = ansvar.Router()
    packs = [(m, e) for m in router.municipalities() for e in router.events(m)]
    results: dict[str, Any] = {"on": ON.isoformat(), "repeats": args.repeats, "packs": {}}
    print("pack                                        table ms | route µs complete    | open ≤ 4 µs"
          "          ratio | next_question µs     | questions / facts")
    for municipality, event in packs:
        drawn = _draw(router, municipality, event, args.situations, rng)
        partial = [_forget(router, s, rng) for s in drawn]
        answers = router._answers(router.pack(municipality, event))  # noqa: SLF001
        start = time.process_time()
        unknowns.table_for(answers).lookup([0])  # the pack's outcome table: built once, timed alone
        table_ms = (time.process_time() - start) * 1e3
        # The states an interview passes through, from nothing stated to settled.
        states: list[dict[str, Any]] = []
        lengths: list[int] = []
        for complete in drawn:
            state: dict[str, Any] = {"municipality": municipality, "event": event}
            asked = 0
            while (question := router.next_question(state, on=ON)) is not None:
                states.append(dict(state))
                state[question.fact] = complete[question.fact]
                asked += 1
            lengths.append(asked)

        def route_all(situations: list[dict[str, Any]]) -> Callable[[], int]:
            def run() -> int:
                for situation in situations:
                    router.route(situation, on=ON)
                return len(situations)
            return run

        def ask_all() -> int:
            for state in states:
                router.next_question(state, on=ON)
            return len(states)

        timed = _passes({"complete": route_all(drawn), "open": route_all(partial)}, args.repeats, router)
        asking = _passes({"next": ask_all}, args.repeats, router)["next"] if states else [0.0]
        ratio = statistics.median(timed["open"]) / statistics.median(timed["complete"])
        facts = len(router.definitions[event].facts)
        average = statistics.mean(lengths)
        print(f"{municipality + '/' + event:42} {table_ms:8.1f} | {_shown(timed['complete'])} | "
              f"{_shown(timed['open'])} {ratio:5.2f}× | {_shown(asking)} | {average:4.2f} / {facts}")
        results["packs"][f"{municipality}/{event}"] = {
            "table_ms": table_ms, "route_complete_us": timed["complete"], "route_open_us": timed["open"],
            "ratio": ratio, "next_question_us": asking, "questions_mean": average, "questions_max": max(lengths),
            "facts": facts, "situations": len(drawn), "interview_states": len(states)}
    ratios = [p["ratio"] for p in results["packs"].values()]
    slowest = max(statistics.median(p["next_question_us"]) for p in results["packs"].values())
    print(f"\nopen questions ≤ 2× route: {'met' if max(ratios) <= 2 else 'missed'} (worst {max(ratios):.2f}×); "
          f"next_question ≤ 5 ms: {'met' if slowest <= 5000 else 'missed'} (slowest median {slowest:.0f} µs)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(results, out, indent=1)


if __name__ == "__main__":
    main()
