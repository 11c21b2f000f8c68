"""ansvar at scale (issue 15, item 4): many municipalities in one process, many rules per event, big batches.

    python benchmarks/scale.py [--towns 98] [--quick] [--json scale.json]

1. Municipalities: `--towns` synthetic municipalities, copies of the shipped Aalborg and Rebild layers
   (alternately) under new names, beside the shipped Danmark and Region Nordjylland layers, in a temporary
   rules directory. Load time (wall and CPU) and RSS after the load; RSS after routing every pack of every
   town; then route latency on the same afrusning traffic with 1 town loaded and with all of them
   (interleaved, CPU µs per route, median [min–max]); RSS given back when the big router is dropped.
2. Rules per event: a synthetic town whose afrusning pack adds N rules (`administrations_per_day == k`, one
   fires when k is drawn) to the region's; route and the raw C floor (bench.py's) per situation, interleaved.
   The largest N is the engine's limit: N + the region's 4 alternatives + the catch-all = 400 engine rules.
3. Batches: route_many on afrusning over batches of 1 … 100k situations (the whole space, shuffled, cycled):
   CPU µs per situation and the peak RSS growth during the batch (Linux: the peak is reset before each).

Every timed figure is CPU time (`time.process_time_ns`); latency cells are median [min–max] over repetitions.
Caches are in steady state (a warm-up pass first).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench

import ansvar
from ansvar.packs.compiler import to_ruleset
from ansvar.routing.build import engine_fact

ON = bench.ON
REGION_ALTERNATIVES = 4  # region_nordjylland's afrusning: 1 + 3 alternatives
ENGINE_LIMIT = 400


def status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))
    except OSError:
        return None


def rss_mib() -> float:
    gc.collect()
    found = status_kib("VmRSS")
    return found / 1024 if found is not None else float("nan")


def shown(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.1f} [{min(values):.1f}–{max(values):.1f}]"


def copy_town(source: Path, target: Path, name: str) -> None:
    """A shipped municipality's folder under another name: its `layer:` lines say the new name."""
    target.mkdir(parents=True)
    old = source.name
    for path in source.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(rf"^(\s*)layer: {old}\s*$", rf"\1layer: {name}", text, flags=re.MULTILINE)
        (target / path.name).write_text(text, encoding="utf-8")


def rules_dir(root: Path, towns: int) -> tuple[Path, list[tuple[str, str]]]:
    """`root` with the shipped national and regional layers and `towns` copies of Aalborg and Rebild."""
    shipped = ansvar.shipped_rules()
    root.mkdir(parents=True, exist_ok=True)
    for layer in ("danmark", "region_nordjylland"):
        shutil.copytree(shipped / layer, root / layer)
    made = []
    for number in range(towns):
        source = ("aalborg", "rebild")[number % 2]
        name = f"by{number + 1:03d}"
        copy_town(shipped / source, root / name, name)
        made.append((name, source))
    return root, made


def spaces(router: ansvar.Router) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every shipped pack's whole space, complete situations (by shipped municipality and event)."""
    return {(m, e): bench.whole_space(router, m, e) for m in router.municipalities() for e in router.events(m)}


def as_town(situations: Sequence[dict[str, Any]], town: str) -> list[dict[str, Any]]:
    return [{**s, "municipality": town} for s in situations]


def municipalities(args: argparse.Namespace, shipped: dict[tuple[str, str], list[dict[str, Any]]],
                   tmp: Path, out: dict[str, Any]) -> None:
    rng = random.Random("scale:towns")
    root, made = rules_dir(tmp / "towns", args.towns)
    one_root, one_made = rules_dir(tmp / "one", 1)
    base = rss_mib()
    wall, cpu = time.perf_counter(), time.process_time()
    big = ansvar.Router([root])
    load_wall, load_cpu = time.perf_counter() - wall, time.process_time() - cpu
    after_load = rss_mib()
    packs = sum(len(big.events(m)) for m in big.municipalities())
    print(f"{args.towns} municipalities ({packs} packs, {len(big.municipalities())} municipalities loaded): "
          f"load {load_wall:.1f} s wall, {load_cpu:.1f} s CPU; RSS {base:.0f} -> {after_load:.0f} MiB "
          f"(+{after_load - base:.0f})")
    # Route everywhere: every pack of every town, a sample of its own space each.
    wall = time.perf_counter()
    routed = 0
    for town, source in made:
        for event in big.events(town):
            space = shipped[(source, event)]
            for s in as_town(space if len(space) <= args.per_pack else rng.sample(space, args.per_pack), town):
                big.route(s, on=ON)
                routed += 1
    everywhere = time.perf_counter() - wall
    after_routing = rss_mib()
    print(f"  routed {routed:,} situations over every pack ({everywhere:.1f} s wall): RSS {after_routing:.0f} MiB "
          f"(+{after_routing - after_load:.0f} after the load: caches)")
    # Latency: the same afrusning traffic in a 1-town router and in the big one, interleaved.
    small = ansvar.Router([one_root])
    town = one_made[0][0]  # by001, an Aalborg copy: in both routers
    traffic = as_town(bench.traffic(rng.sample(shipped[("aalborg", "afrusning")], args.latency_sample), 0, rng),
                      town)
    far = as_town(traffic, made[-2][0])  # another Aalborg copy, only in the big router

    def passing(router: ansvar.Router, situations: list[dict[str, Any]]) -> Callable[[], int]:
        def run() -> int:
            for s in situations:
                router.route(s, on=ON)
            return len(situations)
        return run

    variants = {"1 town": passing(small, traffic), f"{args.towns} towns, {town}": passing(big, traffic),
                f"{args.towns} towns, {made[-2][0]}": passing(big, far)}
    for run in variants.values():
        run()
    timings = bench.interleaved(variants, args.repeats)
    print(f"  route latency, afrusning, {len(traffic)} varied situations a pass, CPU µs (median [min–max] of "
          f"{args.repeats}):")
    for name, values in timings.items():
        print(f"    {name:28} {shown(values)}")
    del big, variants, small
    dropped = rss_mib()
    try:  # a module-level cache of weighing tables (ansvar.routing.unknowns) may hold packs of a dropped router
        from ansvar.routing import unknowns  # noqa: PLC0415
        tables_held = len(unknowns._tables)  # noqa: SLF001
    except (ImportError, AttributeError):
        tables_held = None
    print(f"  dropping the {args.towns}-town router: RSS {dropped:.0f} MiB (gave back {after_routing - dropped:.0f}; "
          f"weighing tables still held process-wide: {tables_held})")
    out["municipalities"] = {
        "towns": args.towns, "packs": packs, "load_wall_s": load_wall, "load_cpu_s": load_cpu,
        "rss_before_mib": base, "rss_after_load_mib": after_load, "rss_after_routing_mib": after_routing,
        "routed": routed, "route_everywhere_wall_s": everywhere, "rss_after_drop_mib": dropped, "tables_held_after_drop": tables_held,
        "latency_us": {k: bench.spread(v) for k, v in timings.items()}, "raw": timings}


def synthetic_town(root: Path, rules: int) -> str:
    """A town inheriting the region, whose afrusning adds `rules` rules, each `administrations_per_day == k`."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.fixtures.towns import town_layer  # noqa: PLC0415 - the tests' own town, reused

    town = f"regler{rules}"
    lines = [
        "pack:", f"  layer: {town}", "  event: afrusning", "  title: Borger ønsker afrusning",
        f"  document: Syntetisk vejledning med {rules} regler", '  version: "1"', "  valid_from: 2024-01-01",
        "  review_by: null", "  section: Afrusning", "rules:",
    ]
    for k in range(rules):
        lines += [f"  - id: syntetisk_regel_{k}", "    priority: 5", f"    when: {{administrations_per_day: {k}}}",
                  "    responsible: rusmiddelbehandling",
                  f"    source: {{section: Regel {k}, passage: Syntetisk regel nummer {k}.}}"]
    folder = root / town
    folder.mkdir(parents=True)
    (folder / "layer.yaml").write_text(town_layer(town), encoding="utf-8")
    (folder / "afrusning.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return town


def rules_per_event(args: argparse.Namespace, shipped: dict[tuple[str, str], list[dict[str, Any]]],
                    tmp: Path, out: dict[str, Any]) -> None:
    rng = random.Random("scale:rules")
    counts = [10, 50, 100, 200, ENGINE_LIMIT - REGION_ALTERNATIVES - 1]
    root = tmp / "rules"
    root.mkdir()
    for layer in ("danmark", "region_nordjylland"):
        shutil.copytree(ansvar.shipped_rules() / layer, root / layer)
    towns = {n: synthetic_town(root, n) for n in counts}
    router = ansvar.Router([root])
    base = rng.sample(shipped[("aalborg", "afrusning")], args.latency_sample)
    variants: dict[str, Callable[[], int]] = {}
    engine_rules = {}
    for n, town in towns.items():
        pack = router.pack(town, "afrusning")
        definition = to_ruleset(list(pack.compiled.values()))
        engine_rules[n] = len(definition)
        floor = bench.Floor(f"scale_floor_{n}", definition)
        # administrations_per_day drawn over 0..n+n/10: about one situation in eleven fires none of them.
        situations = [{**s, "municipality": town, "administrations_per_day": rng.randrange(n + n // 10 + 1)}
                      for s in base]
        facts = [{k: v for k, v in engine_fact(pack, router.parse_situation(s)).items() if v is not None}
                 for s in situations]

        def route_pass(situations: list[dict[str, Any]] = situations) -> int:
            for s in situations:
                router.route(s, on=ON)
            return len(situations)

        def many_pass(situations: list[dict[str, Any]] = situations) -> int:
            router.route_many(situations, on=ON)
            return len(situations)

        def floor_pass(facts: list[dict[str, Any]] = facts, floor: bench.Floor = floor) -> int:
            for f in facts:
                floor.evaluate(f)
            return len(facts)

        variants |= {f"{n}:route": route_pass, f"{n}:route_many": many_pass, f"{n}:floor": floor_pass}
    for run in variants.values():
        run()
    timings = bench.interleaved(variants, args.repeats)
    print(f"\nRules per event (a synthetic afrusning: N rules of its own + the region's; {args.latency_sample} "
          f"situations a pass; CPU µs per situation, median [min–max] of {args.repeats}):")
    print(f"  {'N rules':>8} {'engine rules':>12} {'route':>22} {'route_many':>22} {'raw C floor':>22}")
    found = {}
    for n in counts:
        cells = {kind: timings[f"{n}:{kind}"] for kind in ("route", "route_many", "floor")}
        found[n] = {"engine_rules": engine_rules[n], **{k: bench.spread(v) for k, v in cells.items()}}
        print(f"  {n:8} {engine_rules[n]:12} {shown(cells['route']):>22} {shown(cells['route_many']):>22} "
              f"{shown(cells['floor']):>22}")
    low, high = counts[0], counts[-1]
    for kind in ("route", "floor"):
        slope = ((found[high][kind]["median"] - found[low][kind]["median"])
                 / (engine_rules[high] - engine_rules[low]))
        print(f"  {kind}: {slope:.3f} µs per added engine rule ({low} -> {high} rules)")
        found[f"{kind}_us_per_rule"] = slope
    out["rules_per_event"] = found


def batches(args: argparse.Namespace, shipped: dict[tuple[str, str], list[dict[str, Any]]],
            out: dict[str, Any]) -> None:
    rng = random.Random("scale:batches")
    router = ansvar.default_router()
    space = list(shipped[("aalborg", "afrusning")])
    rng.shuffle(space)
    router.route_many(space, on=ON)  # warm
    print("\nroute_many batch size (afrusning, the whole space shuffled and cycled; CPU µs per situation, "
          "median [min–max]; peak RSS growth during one batch):")
    found = {}
    for size in args.sizes:
        batch = (space * (size // len(space) + 1))[:size]
        calls = max(1, args.batch_work // size)
        repeats = args.repeats if size < 100_000 else max(1, min(args.repeats, 3))
        values = []
        for _ in range(repeats):
            start = time.process_time_ns()
            for _call in range(calls):
                router.route_many(batch, on=ON)
            values.append((time.process_time_ns() - start) / (calls * size) / 1e3)
        # Memory in a fresh child: in this process, earlier batches' freed memory stays resident and hides it.
        child = subprocess.run([sys.executable, "-c", bench.MEMORY_CHILD, str(size)], check=True,
                               capture_output=True, text=True, env=bench.child_env(args.src, None))
        memory = json.loads(child.stdout.splitlines()[-1])
        found[size] = {"us": bench.spread(values), "calls_per_repeat": calls, "repeats": repeats,
                       "child": memory}
        print(f"  {size:>7,} {shown(values):>22} µs   peak RSS +{memory['growth_mib']:.1f} MiB "
              f"({memory['rss_before_mib']:.0f} -> {memory['rss_peak_mib']:.0f}; {memory['rss_after_mib']:.0f} "
              f"with the Decisions held)   ({calls} batches x {repeats})")
    out["batches"] = found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--towns", type=int)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10 towns, small batches")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--per-pack", type=int, default=50, help="situations routed per pack 'everywhere'")
    parser.add_argument("--latency-sample", type=int, default=2000, help="situations per latency pass")
    parser.add_argument("--batch-work", type=int, default=20_000, help="situations per repetition per size")
    parser.add_argument("--json", type=Path, metavar="PATH")
    parser.add_argument("--only", nargs="+", choices=["municipalities", "rules", "batches"],
                        default=["municipalities", "rules", "batches"], help="run these parts only")
    parser.add_argument("--src", help="source tree the memory children import (prepended to PYTHONPATH)")
    args = parser.parse_args()
    args.sizes = [1, 10, 100, 1_000, 10_000, 100_000]
    args.towns = args.towns or (10 if args.quick else 98)
    args.repeats = args.repeats or (3 if args.quick else 7)
    if args.quick:
        args.per_pack, args.latency_sample = 10, 300
        args.batch_work, args.sizes = 2000, [1, 10, 100, 1_000, 10_000]
    began = time.perf_counter()
    out: dict[str, Any] = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                           "argv": sys.argv, "python": sys.version.split()[0], "ansvar": ansvar.__file__}
    print(f"ansvar scale, {out['date']}, Python {out['python']}, ansvar from {out['ansvar']}")
    shipped = spaces(ansvar.default_router())
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if "municipalities" in args.only:
            municipalities(args, shipped, tmp, out)
        if "rules" in args.only:
            rules_per_event(args, shipped, tmp, out)
    if "batches" in args.only:
        batches(args, shipped, out)
    out["seconds"] = time.perf_counter() - began
    print(f"\n{out['seconds']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
