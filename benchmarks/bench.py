"""ansvar's speed beside durable_rules' raw floor, the stock Host, zen-engine and plain Python: one fair run.

    python benchmarks/bench.py [--quick] [--json results.json] [--src DIR] [--python EXE] [--ansvar EXE]

    # another source tree (its children import it too):
    PYTHONPATH=/work/wt-i15b/src python benchmarks/bench.py --src /work/wt-i15b/src

How it measures (issue 15):
- One process; every row of a table is timed in the same repetition, interleaved (round robin over the
  variants, the order rotated each repetition), CPU time (`time.process_time_ns`: every thread of the process,
  so a peer's worker threads count), `--repeats` repetitions (default 7); each cell is the median [min–max]
  over the repetitions of µs per situation.
- Situations: per pack, a fixed-seed sample (`--seed`) of distinct situations drawn from the pack's WHOLE
  situation space (`ansvar.analysis.space.SituationSpace`; up to `--sample` per pack, the whole space where
  it is smaller), each with every fact stated ("complete"). A pass goes over the sample (repeated up to
  `--min-calls` calls for packs with tiny spaces) in a shuffled order. "open" rows: the same situations with
  up to 4 of the facts the pack's rules read left unstated (as real traffic has): another path in ansvar
  (open questions), so a separate row, not compared with the peers; the first `--open-calls` of a pass.
- Caches: steady state. One untimed warm-up pass over every sample, then the timed passes; ansvar's caches
  are never emptied. The Decision cache (bounded, cleared when full) meets as many distinct fired-rule keys
  as the sample holds: the bench prints that count beside the cache's size and the miss rate of a diagnostic
  pass after timing, so a sample that fits the cache (and so flatters route) shows.
- Rows: floor = the raw C calls on the very ruleset ansvar compiles (`to_ruleset`), loaded as a ruleset of
  its own: `json.dumps` + `assert_fact` + read every fired rule (`start_action_for_state` /
  `complete_and_start_action`) + `delete_state`; no lock, no sanitising, no Decision. floor batch = the same
  raw calls with `assert_facts`, one session per `ROUTE_CHUNK` facts as route_many asserts them (reading each
  firing's fact index too): what the engine alone costs a batched caller, so whether a route_many target is
  within the engine's reach shows. stock Host = the
  durable_rules Python API (a Host with its timer threads off; the first `--stock-calls` of a pass: it has
  no cache, and is slow). zen = GoRules zen-engine as its docs
  recommend: one `ZenEngine` with a loader returning pre-compiled `ZenDecisionContent`, `engine.evaluate(key,
  input)`; zen batch = `engine.evaluate_batch` over the pass. The decision table is generated from the same
  compiled rules (collect hit policy, one row per alternative). plain Python = a hand-written afrusning
  lead (aalborg only). route = `Router.route` per situation; route_many = one `Router.route_many` call over
  the pass, per situation.
- Checked before timing, failing loudly: over the WHOLE space of every pack, each peer's set of rule
  alternatives that hold equals the one ansvar's engine reports, route's trace holds exactly those rules,
  plain Python's lead equals route's on afrusning, and route_many's Decisions equal route's on the sample.
- Cold start: fresh processes (`--cold-runs`, default 10, 5 at most for the rows with facts left open, which
  take seconds; after one untimed warm-up that compiles bytecode),
  wall time around the whole process: interpreter start-up, import, route, teardown.
- Memory: peak RSS growth of one route_many batch of 100k situations, in a child process.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import itertools
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ansvar
from ansvar.analysis.space import SituationSpace
from ansvar.packs import names as rule_names
from ansvar.packs.compiler import Test, engine_value, to_ruleset
from ansvar.routing.build import engine_fact

ON = dt.date(2026, 11, 23)
HERE = Path(__file__).resolve().parent
ROUTE_OVER_FLOOR = 1.5  # issue 15: route <= 1.5x the raw C floor on every shipped pack
CLI_MS = 250.0
PYTHON_C_MS = 200.0
Timed = Callable[[], int]  # one pass: returns how many situations it handled
ID_FIELD = '"id": "'  # a batch's fact echoed in a firing: `"sid": "<n>", "id": "<index>", ...`
try:  # situations route_many asserts in one engine session (a tree from before it was named: 100)
    from ansvar.routing.router import ROUTE_CHUNK
except ImportError:
    ROUTE_CHUNK = 100


# ---------------------------------------------------------------------------------------------- timing


def interleaved(variants: Mapping[str, Timed], repeats: int) -> dict[str, list[float]]:
    """µs of CPU per situation of each variant, one value per repetition; variants round robin, rotated."""
    found: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    for number in range(repeats):
        shift = number % len(order)
        for name in order[shift:] + order[:shift]:
            start = time.process_time_ns()
            count = variants[name]()
            found[name].append((time.process_time_ns() - start) / count / 1e3)
    return found


def spread(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def shown(cell: Mapping[str, float] | None, width: int = 22) -> str:
    if cell is None:
        return f"{'–':>{width}}"
    text = f"{cell['median']:.1f} [{cell['min']:.1f}–{cell['max']:.1f}]"
    return f"{text:>{width}}"


# ---------------------------------------------------------------------------------------------- situations


def complete(router: ansvar.Router, situation: Mapping[str, Any]) -> dict[str, Any]:
    """The situation with every fact of its event stated (its defaults given explicitly)."""
    return router.parse_situation(situation).model_dump()


def whole_space(router: ansvar.Router, municipality: str, event: str,
                limit: int | None = None) -> list[dict[str, Any]]:
    """The pack's whole situation space, complete; `limit`: every n-th only, about that many (tests)."""
    space = SituationSpace([router.pack(municipality, event)], ON)
    chosen = space if limit is None else itertools.islice(space, 0, None, max(1, space.size // limit))
    return [complete(router, {"municipality": municipality, **s}) for s in chosen]


def with_open_facts(router: ansvar.Router, situation: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The situation with up to 4 of the facts its pack's rules read left unstated."""
    pack = router.pack(situation["municipality"], situation["event"])
    read = sorted({t.fact for c in pack.compiled.values() for a in c.alternatives for t in a})
    dropped = set(rng.sample(read, min(4, len(read))))
    return {k: v for k, v in situation.items() if k not in dropped}


def traffic(sample: Sequence[Any], min_calls: int, rng: random.Random) -> list[Any]:
    """The sample repeated up to `min_calls` items (tiny spaces), shuffled once."""
    items = list(sample) * max(1, -(-min_calls // len(sample)))
    rng.shuffle(items)
    return items


# ---------------------------------------------------------------------------------------------- peers


class Floor:
    """The raw C calls on a pack's compiled ruleset, loaded into the engine as a ruleset of its own."""

    def __init__(self, name: str, definition: Mapping[str, Any]) -> None:
        from ansvar import engine  # noqa: PLC0415 - the C module as ansvar imports it (3.13: lazily bound)

        self.dre = engine._dre  # noqa: SLF001
        self.handle = self.dre.create_ruleset(name, json.dumps(definition, sort_keys=True))
        self.sid = 0
        self.evaluate({})  # prime the session slot (the catch-all fires: an action starts)

    def evaluate(self, fact: Mapping[str, Any]) -> list[str]:
        dre, handle = self.dre, self.handle
        self.sid += 1
        sid = str(self.sid)
        _code, state = dre.assert_fact(handle, json.dumps({"sid": sid, **fact}))
        fired = []
        started = dre.start_action_for_state(handle, state)
        message = started[1] if started else None
        while message:
            fired.append(message[2:message.index('"', 2)])
            message = dre.complete_and_start_action(handle, state)
        dre.delete_state(handle, sid)
        return fired

    def evaluate_many(self, facts: Sequence[Mapping[str, Any]]) -> list[tuple[int, str]]:
        """One session for the batch, as route_many asserts it: each firing's fact index and rule name."""
        dre, handle = self.dre, self.handle
        self.sid += 1
        sid = str(self.sid)
        _code, state = dre.assert_facts(handle, json.dumps(
            [{"sid": sid, "id": str(i), **fact} for i, fact in enumerate(facts)]))
        fired = []
        started = dre.start_action_for_state(handle, state)
        message = started[1] if started else None
        while message:
            end = message.index('"', 2)
            start = message.index(ID_FIELD, end) + len(ID_FIELD)
            fired.append((int(message[start:message.index('"', start)]), message[2:end]))
            message = dre.complete_and_start_action(handle, state)
        dre.delete_state(handle, sid)
        return fired


def batches(items: Sequence[Any]) -> list[Sequence[Any]]:
    """`items` in sessions of the size route_many asserts together."""
    return [items[start:start + ROUTE_CHUNK] for start in range(0, len(items), ROUTE_CHUNK)]


def stock_host(definitions: Mapping[str, Mapping[str, Any]]) -> tuple[Any, list[str]]:
    """A durable_rules stock Host (timer threads off) with every ruleset; actions record the rule fired."""
    from durable import engine as stock  # noqa: PLC0415 - benchmark only; ansvar never imports it

    fired: list[str] = []

    class QuietHost(stock.Host):  # type: ignore[misc]
        def _run(self) -> None:  # no background timer threads racing the benchmark
            pass

        def get_action(self, action_name: str) -> Callable[[Any], None]:
            return lambda _c: fired.append(action_name)

    host = QuietHost()
    for name, definition in definitions.items():
        rules = copy.deepcopy(dict(definition))
        for rule_name, rule in rules.items():
            rule["run"] = rule_name
        host.register_rulesets({name: rules})
    return host, fired


def _zen_cell(test: Test) -> str:
    value = engine_value(test.value)
    if value is None:
        return "$ == null" if test.op == "eq" else "$ != null"
    literal = json.dumps(value)
    return {"eq": f"$ == {literal}", "ne": f"$ != {literal}", "lt": f"$ < {literal}",
            "le": f"$ <= {literal}", "gt": f"$ > {literal}", "ge": f"$ >= {literal}"}[test.op]


def zen_table(pack: Any) -> str:
    """A JDM graph with one decision table equivalent to the pack's compiled rules: a row per alternative,
    collect hit policy, output `rule`: the engine name of the alternative that holds."""
    inputs = [{"id": f"in_{f}", "name": f, "field": f} for f in sorted(pack.facts)]
    rows = []
    for compiled in pack.compiled.values():
        for index, alternative in enumerate(compiled.alternatives):
            row: dict[str, str] = {"_id": compiled.engine_name(index),
                                   "out_rule": json.dumps(compiled.engine_name(index))}
            for test in alternative:
                cell, key = _zen_cell(test), f"in_{test.fact}"
                row[key] = f"({row[key]}) and ({cell})" if key in row else cell
            rows.append(row)
    return json.dumps({
        "nodes": [
            {"id": "input", "type": "inputNode", "name": "Request", "position": {"x": 0, "y": 0}},
            {"id": "table", "type": "decisionTableNode", "name": "Rules", "position": {"x": 200, "y": 0},
             "content": {"hitPolicy": "collect", "inputs": inputs,
                         "outputs": [{"id": "out_rule", "name": "rule", "field": "rule"}], "rules": rows}},
            {"id": "output", "type": "outputNode", "name": "Response", "position": {"x": 400, "y": 0}},
        ],
        "edges": [{"id": "e1", "sourceId": "input", "targetId": "table", "type": "edge"},
                  {"id": "e2", "sourceId": "table", "targetId": "output", "type": "edge"}],
    })


def zen_engine(packs: Mapping[str, Any]) -> Any | None:
    """One ZenEngine whose loader returns pre-compiled ZenDecisionContent, by key (zen-engine's docs)."""
    try:
        import zen  # noqa: PLC0415 - benchmark only
    except ImportError:
        return None
    contents = {key: zen.ZenDecisionContent(zen_table(pack)) for key, pack in packs.items()}
    return zen.ZenEngine({"loader": lambda key: contents[key]})


def zen_fired(response: Mapping[str, Any]) -> set[str]:
    result = response["result"]
    rows = result if isinstance(result, list) else [result] if result else []
    return {row["rule"] for row in rows}


def afrusning_plain(s: Mapping[str, Any]) -> str:
    """Aalborg's afrusning lead, by hand: the lower bound of "who is responsible"."""
    if s.get("seizures") or s.get("delirium_tremens") or s.get("complicated_course_suspected"):
        # a stated no to medical help leaves it to the doctor's clinical judgement (the region's pack)
        return "egen_laege" if s.get("wants_medical_help") is False else "region_akutmodtagelse"
    if (
        s.get("wants_medical_help")
        or s.get("withdrawal_symptoms")
        or s.get("home_nursing_requested")
        or s.get("fixed_in_fmk")
        or s.get("prescription_channel") in {"telefon", "korrespondance"}
    ):
        return "egen_laege"
    return "borger"


# ---------------------------------------------------------------------------------------------- one pack


class PackBench:
    """Everything measured on one (municipality, event): its situations, facts and peers."""

    def __init__(self, router: ansvar.Router, municipality: str, event: str, args: argparse.Namespace,
                 host: Any, host_fired: list[str], zen: Any) -> None:
        self.router, self.key = router, f"{municipality}/{event}"
        self.pack = pack = router.pack(municipality, event)
        self.space = whole_space(router, municipality, event, getattr(args, "space_limit", None))
        rng = random.Random(f"{args.seed}:{self.key}")
        sample = self.space if len(self.space) <= args.sample else rng.sample(self.space, args.sample)
        self.sample = sample
        self.situations = traffic(sample, args.min_calls, rng)
        self.open = [with_open_facts(router, s, rng) for s in self.situations]
        self.facts = [self.fact(s) for s in self.situations]
        self.clean = [{k: v for k, v in f.items() if v is not None} for f in self.facts]
        self.definition = to_ruleset(list(pack.compiled.values()))
        self.floor = Floor(f"floor_{municipality}_{event}", self.definition)
        self.host, self.host_fired, self.host_name = host, host_fired, f"stock_{municipality}_{event}"
        self.zen = zen
        self.stock_sid = 0
        self.stock_calls = args.stock_calls
        self.open_calls = getattr(args, "open_calls", None) or len(self.open)
        self.check_space = self.space if args.check == "space" else self.sample

    def fact(self, situation: Mapping[str, Any]) -> dict[str, Any]:
        return engine_fact(self.pack, self.router.parse_situation(situation))

    def ansvar_fired(self, fact: Mapping[str, Any]) -> set[str]:
        fired: list[str] = []
        self.pack.ruleset.evaluate(fact, fired.append)
        return set(fired)

    def stock(self, fact: Mapping[str, Any]) -> list[str]:
        self.stock_sid += 1
        sid = str(self.stock_sid)
        self.host.assert_fact(self.host_name, {**fact, "sid": sid})
        self.host.delete_state(self.host_name, sid)
        return self.host_fired

    def check(self, plain: Callable[[Mapping[str, Any]], str] | None) -> dict[str, int]:
        """Every peer answers as ansvar does on the whole space (raises AssertionError naming the case)."""
        catch_all = rule_names.CATCH_ALL
        facts = [self.fact(s) for s in self.check_space]
        zen_batch = (self.zen.evaluate_batch([{"key": self.key, "context": f} for f in facts])
                     if self.zen is not None else None)
        cleans = [{k: v for k, v in fact.items() if v is not None} for fact in facts]
        in_batch: list[set[str]] = [set() for _ in cleans]
        for first, batch in zip(range(0, len(cleans), ROUTE_CHUNK), batches(cleans), strict=True):
            for at, name in self.floor.evaluate_many(batch):
                in_batch[first + at].add(name)
        for index, (situation, fact) in enumerate(zip(self.check_space, facts, strict=True)):
            clean = cleans[index]
            want = self.ansvar_fired(fact)
            where = f"{self.key} situation {situation}"
            floor = set(self.floor.evaluate(clean)) - {catch_all}
            assert floor == want, f"floor {floor} != ansvar {want}: {where}"
            assert in_batch[index] - {catch_all} == want, f"batch floor {in_batch[index]} != ansvar {want}: {where}"
            self.host_fired.clear()
            stock = set(self.stock(clean)) - {catch_all}
            assert stock == want, f"stock Host {stock} != ansvar {want}: {where}"
            if self.zen is not None:
                got = zen_fired(self.zen.evaluate(self.key, fact))
                assert got == want, f"zen {got} != ansvar {want}: {where}"
                batch = zen_batch[index]
                assert batch.get("success", True), f"zen batch failed: {batch}: {where}"
                got = zen_fired(batch["data"])
                assert got == want, f"zen batch {got} != ansvar {want}: {where}"
            decision = self.router.route(situation, on=ON)
            held = {rule_names.decode(name)[0] for name in want}
            traced = {t.rule for t in decision.trace}
            assert traced == held, f"route's trace {traced} != the rules that hold {held}: {where}"
            if plain is not None:
                assert plain(situation) == decision.responsible, (
                    f"plain Python {plain(situation)} != route {decision.responsible}: {where}")
        many = self.router.route_many(self.sample, on=ON)
        assert many == [self.router.route(s, on=ON) for s in self.sample], f"route_many != route: {self.key}"
        return {"space": len(self.space), "sample": len(self.sample), "checked": len(self.check_space)}

    def distinct_keys(self) -> int:
        """Distinct sets of fired alternatives in the sample (what the Decision cache keys on)."""
        return len({frozenset(self.ansvar_fired(self.fact(s))) for s in self.sample})

    def variants(self, plain: bool) -> dict[str, Timed]:
        router, situations, facts, clean = self.router, self.situations, self.facts, self.clean
        floor, key, zen = self.floor, self.key, self.zen

        def floor_pass() -> int:
            for f in clean:
                floor.evaluate(f)
            return len(clean)

        clean_batches = batches(clean)

        def floor_batch_pass() -> int:
            for batch in clean_batches:
                floor.evaluate_many(batch)
            return len(clean)

        stock_facts = clean[:self.stock_calls]

        def stock_pass() -> int:
            for f in stock_facts:
                self.stock(f)
            self.host_fired.clear()
            return len(stock_facts)

        def zen_pass() -> int:
            for f in facts:
                zen.evaluate(key, f)
            return len(facts)

        def zen_batch_pass() -> int:
            zen.evaluate_batch([{"key": key, "context": f} for f in facts])
            return len(facts)

        def plain_pass() -> int:
            for s in situations:
                afrusning_plain(s)
            return len(situations)

        def route_pass() -> int:
            for s in situations:
                router.route(s, on=ON)
            return len(situations)

        def many_pass() -> int:
            router.route_many(situations, on=ON)
            return len(situations)

        open_situations = self.open[:self.open_calls]

        def open_pass() -> int:
            for s in open_situations:
                router.route(s, on=ON)
            return len(open_situations)

        found: dict[str, Timed] = {"floor": floor_pass, "floor_batch": floor_batch_pass, "stock": stock_pass}
        if zen is not None:
            found |= {"zen": zen_pass, "zen_batch": zen_batch_pass}
        if plain:
            found["plain"] = plain_pass
        found |= {"route": route_pass, "route_many": many_pass, "route_open": open_pass}
        return found


# ---------------------------------------------------------------------------------------------- cache


def cache_misses(router: ansvar.Router, situations: Sequence[Mapping[str, Any]]) -> float | None:
    """Share of route calls that built their Decision anew (a diagnostic pass, after timing; steady state)."""
    try:
        from ansvar.routing.build import Answers  # noqa: PLC0415
    except ImportError:
        return None
    name = "dated" if hasattr(Answers, "dated") else "build"  # every Decision is built by it
    original = getattr(Answers, name, None)
    if original is None:
        return None
    built = [0]

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        built[0] += 1
        return original(self, *args, **kwargs)

    setattr(Answers, name, counting)
    try:
        for s in situations:
            router.route(s, on=ON)
    finally:
        setattr(Answers, name, original)
    return built[0] / len(situations)


def cache_size() -> int | None:
    try:
        from ansvar.routing.build import MAX_CACHED  # noqa: PLC0415
    except ImportError:
        return None
    return MAX_CACHED


# ---------------------------------------------------------------------------------------------- children


def child_env(src: str | None, pycache_prefix: str | None) -> dict[str, str]:
    """The children's environment: bytecode written (as an installed package has it), `src` imported first."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if pycache_prefix:
        env["PYTHONPYCACHEPREFIX"] = pycache_prefix
    if src:
        env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    return env


def wall_runs(command: Sequence[str], runs: int, env: Mapping[str, str]) -> dict[str, Any]:
    """ms of wall time of `runs` fresh processes, each whole (start-up to teardown), after one warm-up; and
    each child's CPU ms (user + system, from RUSAGE_CHILDREN: less hurt by other load on the machine)."""
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)  # writes the bytecode
    wall, cpu = [], []
    for _ in range(runs):
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter_ns()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        wall.append((time.perf_counter_ns() - start) / 1e6)
        now = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((now.ru_utime - used.ru_utime + now.ru_stime - used.ru_stime) * 1e3)
    return spread(wall) | {"cpu": spread(cpu), "wall_runs": wall, "cpu_runs": cpu}


def cold_start(args: argparse.Namespace, env: Mapping[str, str], situation: Mapping[str, Any],
               workdir: Path) -> dict[str, Any]:
    python, cli = args.python, args.ansvar
    literal = json.dumps(situation)
    complete_file = workdir / "afrusning_complete.json"
    complete_file.write_text(literal, encoding="utf-8")
    example = HERE.parent / "examples" / "afrusning.yaml"
    open_situation = {"municipality": "aalborg", "event": "afrusning", "withdrawal_symptoms": True,
                      "delirium_tremens": True}  # the README's examples/afrusning.yaml: facts left open
    commands: dict[str, list[str]] = {
        "python -c pass (the interpreter alone)": [python, "-c", "pass"],
        "python -c 'import ansvar'": [python, "-c", "import ansvar"],
        "python -c 'import ansvar; ansvar.route({complete afrusning})'":
            [python, "-c", f"import ansvar; ansvar.route({situation!r})"],
        "ansvar route afrusning_complete.json (every fact stated)": [cli, "route", str(complete_file)],
        "python -c '...ansvar.route({examples/afrusning.yaml})' (facts left open)":
            [python, "-c", f"import ansvar; ansvar.route({open_situation!r})"],
    }
    if not args.cold_open:
        del commands["python -c '...ansvar.route({examples/afrusning.yaml})' (facts left open)"]
    elif example.exists():
        commands["ansvar route examples/afrusning.yaml (facts left open)"] = [cli, "route", str(example)]
    # The facts-left-open rows take seconds each: at most 5 runs of them.
    return {name: wall_runs(command, min(args.cold_runs, 5) if "left open" in name else args.cold_runs, env)
            | {"command": command} for name, command in commands.items()}


MEMORY_CHILD = r"""
import json, resource, sys, time, datetime as dt
import ansvar
from ansvar.analysis.space import SituationSpace
size = int(sys.argv[1])
router = ansvar.default_router()
space = [router.parse_situation({"municipality": "aalborg", **s}).model_dump()
         for s in SituationSpace([router.pack("aalborg", "afrusning")], dt.date(2026, 11, 23))]
batch = (space * (size // len(space) + 1))[:size]
router.route_many(batch[:2000], on=dt.date(2026, 11, 23))
del space

def status(field):  # kB, from /proc/self/status (Linux)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

try:  # reset the peak (VmHWM) to the current RSS, so building the space above does not hide the batch's
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    reset = True
except OSError:
    reset = False
before = status("VmRSS")
start = time.process_time_ns()
decisions = router.route_many(batch, on=dt.date(2026, 11, 23))
cpu = time.process_time_ns() - start
after = status("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
held = status("VmRSS")
print(json.dumps({"size": size, "rss_before_mib": before / 1024, "rss_peak_mib": after / 1024,
                  "rss_after_mib": held / 1024, "peak_reset": reset,
                  "growth_mib": (after - before) / 1024, "us_per_situation": cpu / size / 1e3,
                  "decisions": len(decisions), "distinct_decision_objects": len({id(d) for d in decisions})}))
"""


def memory(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, Any]:
    done = subprocess.run([args.python, "-c", MEMORY_CHILD, str(args.memory_batch)], env=env, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.splitlines()[-1])


# ---------------------------------------------------------------------------------------------- report


def machine(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, Any]:
    src = args.src or str(Path(ansvar.__file__).resolve().parents[1])
    imported = subprocess.run([args.python, "-c", "import ansvar; print(ansvar.__file__)"], env=env,
                              check=True, capture_output=True, text=True).stdout.strip()

    def git(*words: str) -> str:
        done = subprocess.run(["git", "-C", src, *words], capture_output=True, text=True, check=False)
        return done.stdout.strip()

    versions = {}
    for name in ("durable_rules", "zen-engine", "pydantic"):
        try:
            from importlib.metadata import version  # noqa: PLC0415
            versions[name] = version(name)
        except Exception:  # noqa: BLE001
            versions[name] = None
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "python": sys.version.split()[0],
        "platform": platform.platform(), "cpus": os.cpu_count(), "ansvar_in_bench": ansvar.__file__,
        "ansvar_in_children": imported, "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain")), "versions": versions, "argv": sys.argv,
    }


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:  # noqa: C901, PLR0912, PLR0915 - one script, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run (< 60 s): fewer situations and runs")
    parser.add_argument("--repeats", type=int, help="interleaved repetitions per table (default 7; quick 3)")
    parser.add_argument("--sample", type=int,
                        help="distinct situations per pack (default 25000: every shipped space whole; quick 600)")
    parser.add_argument("--min-calls", type=int, help="calls per pass at least (default 1000; quick 300)")
    parser.add_argument("--stock-calls", type=int, default=2000,
                        help="calls per pass of the (slow, cacheless) stock Host row: the pass's first ones")
    parser.add_argument("--open-calls", type=int,
                        help="calls per pass of the route_open row: the pass's first ones (default 5000, more "
                             "than the weighing cache's 4096, so its misses show; quick 300)")
    parser.add_argument("--check", choices=["space", "sample"],
                        help="check the peers on each pack's whole space (default) or its sample (quick)")
    parser.add_argument("--seed", default="issue-15")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write every figure as JSON here")
    parser.add_argument("--src", help="source tree the child processes import (prepended to PYTHONPATH)")
    parser.add_argument("--pycache-prefix", metavar="DIR",
                        help="children write their bytecode here, not beside the sources (a tree not to touch)")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the cold-start rows")
    parser.add_argument("--ansvar", default=str(Path(sys.executable).with_name("ansvar")),
                        help="the `ansvar` command for the CLI cold-start rows")
    parser.add_argument("--cold-runs", type=int, help="fresh processes per cold-start row (default 10; quick 3)")
    parser.add_argument("--memory-batch", type=int, help="route_many batch for peak RSS (default 100000)")
    parser.add_argument("--no-cold", action="store_true", help="skip cold start and memory (child processes)")
    parser.add_argument("--cold-open", action=argparse.BooleanOptionalAction,
                        help="also time cold starts of a situation with facts left open (default: not in --quick)")
    args = parser.parse_args()
    quick = args.quick
    args.repeats = args.repeats or (3 if quick else 7)
    args.sample = args.sample or (600 if quick else 25_000)
    args.min_calls = args.min_calls or (300 if quick else 1000)
    args.check = args.check or ("sample" if quick else "space")
    args.open_calls = args.open_calls or (300 if quick else 5000)
    args.cold_runs = args.cold_runs or (3 if quick else 10)
    args.cold_open = (not quick) if args.cold_open is None else args.cold_open
    args.memory_batch = args.memory_batch or (10_000 if quick else 100_000)
    env = child_env(args.src, args.pycache_prefix)
    began = time.perf_counter()
    phases: dict[str, float] = {}

    def lap(name: str) -> None:
        phases[name] = time.perf_counter() - began - sum(phases.values())

    router = ansvar.default_router()
    keys = [(m, e) for m in router.municipalities() for e in router.events(m)]
    definitions = {f"stock_{m}_{e}": to_ruleset(list(router.pack(m, e).compiled.values())) for m, e in keys}
    host, host_fired = stock_host(definitions)
    zen = zen_engine({f"{m}/{e}": router.pack(m, e) for m, e in keys})
    benches = [PackBench(router, m, e, args, host, host_fired, zen) for m, e in keys]
    info = machine(args, env)
    lap("setup")
    print(f"ansvar bench, {info['date']}, Python {info['python']}, {info['cpus']} CPUs, {info['platform']}")
    print(f"ansvar from {info['ansvar_in_bench']} (children: {info['ansvar_in_children']}), "
          f"commit {info['git_commit'][:12]}{' (dirty)' if info['git_dirty'] else ''}; {info['versions']}")
    if zen is None:
        print("zen-engine is not installed: its rows are left out (pip install -e '.[bench]')")

    # The peers must answer as ansvar does, on the whole space, before anything is timed.
    checks = {}
    for bench in benches:
        plain = afrusning_plain if bench.key == "aalborg/afrusning" else None
        checks[bench.key] = bench.check(plain)
    print(f"checked: floor, stock Host{', zen, zen batch' if zen else ''} fire the same alternatives as ansvar, "
          f"route's trace holds them, plain Python's lead is route's, route_many == route, over the {'whole space' if args.check == 'space' else 'sample'} "
          f"of all {len(benches)} packs ({sum(c['checked'] for c in checks.values()):,} situations)")

    lap("checks")
    # Warm-up: every variant once, so the caches stand as they would in a serving process; that first pass
    # is kept (caches cold), not counted in the rows.
    first_pass: dict[str, dict[str, float]] = {}
    for bench in benches:
        first_pass[bench.key] = {name: values[0] for name, values in interleaved(
            bench.variants(plain=bench.key == "aalborg/afrusning"), 1).items()}

    results: dict[str, Any] = {"machine": info, "settings": {k: str(v) for k, v in vars(args).items()},
                               "checks": checks, "packs": {}, "mixed": {}}
    columns = ["floor", "floor_batch", "stock", "zen", "zen_batch", "route", "route_many", "route_open"]
    print(f"\nPer pack: CPU µs per situation, median [min–max] of {args.repeats} interleaved repetitions; "
          f"steady state (one warm-up pass); samples of up to {args.sample} distinct situations of each "
          f"pack's whole space, every fact stated; route_open: up to 4 facts unstated")
    print(f"{'pack':38} {'rules':>5} {'space':>6} {'keys':>5}" + "".join(f"{c:>22}" for c in columns)
          + f"{'route/floor':>12}")
    for bench in benches:
        plain = bench.key == "aalborg/afrusning"
        timings = interleaved(bench.variants(plain), args.repeats)
        cells = {name: spread(values) for name, values in timings.items()}
        ratios = [r / f for r, f in zip(timings["route"], timings["floor"], strict=True)]
        keys_in_sample = bench.distinct_keys()
        entry = {"first_pass_caches_cold": first_pass[bench.key], "rules": len(bench.pack.rules), "engine_rules": len(bench.definition) - 1,
                 "space": len(bench.space), "sample": len(bench.sample), "calls_per_pass": len(bench.situations),
                 "distinct_fired_keys_in_sample": keys_in_sample, "rows": cells, "raw": timings,
                 "route_over_floor": spread(ratios)}
        results["packs"][bench.key] = entry
        print(f"{bench.key:38} {len(bench.pack.rules):5} {len(bench.space):6} {keys_in_sample:5}"
              + "".join(shown(cells.get(c)) for c in columns)
              + f"{statistics.median(ratios):11.2f}x")
    afrusning = next(b for b in benches if b.key == "aalborg/afrusning")
    cold_pass = first_pass["aalborg/afrusning"]
    print(f"  afrusning's first (warm-up) pass, caches cold: route {cold_pass['route']:.1f}, route_many "
          f"{cold_pass['route_many']:.1f}, route_open {cold_pass['route_open']:.1f} µs per situation")
    plain_cell = results["packs"]["aalborg/afrusning"]["rows"]["plain"]
    print(f"  plain Python (hand-written afrusning lead, aalborg): {shown(plain_cell, 0)} µs")
    size = cache_size()
    misses = cache_misses(router, afrusning.situations)
    results["cache"] = {"max_cached": size, "afrusning_distinct_keys": results["packs"]["aalborg/afrusning"][
        "distinct_fired_keys_in_sample"], "afrusning_route_miss_rate": misses}
    print(f"  Decision cache: holds {size} per pack; the afrusning sample fires "
          f"{results['cache']['afrusning_distinct_keys']} distinct keys; a diagnostic route pass after timing "
          f"built {'n/a' if misses is None else f'{misses:.0%}'} of its Decisions anew (steady state misses)")

    lap("packs")
    # A mixed batch of every pack: real traffic spans events.
    rng = random.Random(f"{args.seed}:mixed")
    per_pack = min(500, args.sample)
    mixed = [(b, i) for b in benches for i in rng.sample(range(len(b.situations)), min(per_pack, len(b.situations)))]
    rng.shuffle(mixed)
    m_situations = [b.situations[i] for b, i in mixed]
    m_facts = [(b.key, b.facts[i]) for b, i in mixed]
    m_clean = [(b.floor, b.clean[i]) for b, i in mixed]
    by_floor: dict[int, tuple[Floor, list[dict[str, Any]]]] = {}
    for floor, fact in m_clean:  # grouped by pack, as route_many groups a batch
        by_floor.setdefault(id(floor), (floor, []))[1].append(fact)
    m_batches = [(floor, batch) for floor, group in by_floor.values() for batch in batches(group)]

    def m_floor() -> int:
        for floor, fact in m_clean:
            floor.evaluate(fact)
        return len(m_clean)

    def m_floor_batch() -> int:
        for floor, batch in m_batches:
            floor.evaluate_many(batch)
        return len(m_clean)

    def m_zen() -> int:
        for key, fact in m_facts:
            zen.evaluate(key, fact)
        return len(m_facts)

    def m_zen_batch() -> int:
        zen.evaluate_batch([{"key": key, "context": fact} for key, fact in m_facts])
        return len(m_facts)

    def m_route() -> int:
        for s in m_situations:
            router.route(s, on=ON)
        return len(m_situations)

    def m_many() -> int:
        router.route_many(m_situations, on=ON)
        return len(m_situations)

    m_variants: dict[str, Timed] = {"floor": m_floor, "floor_batch": m_floor_batch}
    if zen is not None:
        m_variants |= {"zen": m_zen, "zen_batch": m_zen_batch}
    m_variants |= {"route": m_route, "route_many": m_many}
    for run in m_variants.values():
        run()
    m_timings = interleaved(m_variants, args.repeats)
    m_cells = {name: spread(values) for name, values in m_timings.items()}
    results["mixed"] = {"situations": len(m_situations), "per_pack": per_pack, "rows": m_cells, "raw": m_timings}
    print(f"\nMixed batch of all {len(benches)} packs ({len(m_situations)} situations, up to {per_pack} a pack, "
          f"shuffled): CPU µs per situation")
    for name, cell in m_cells.items():
        print(f"  {name:12}{shown(cell)}")

    lap("mixed")
    if not args.no_cold:
        with tempfile.TemporaryDirectory() as tmp:
            situation = {k: v.isoformat() if isinstance(v, dt.date) else v
                         for k, v in afrusning.sample[0].items()}
            cold = cold_start(args, env, situation, Path(tmp))
        results["cold_start"] = cold
        print(f"\nCold start: ms of a fresh process, start-up and teardown included, median [min–max] of "
              f"{args.cold_runs} (after a warm-up run that compiles the bytecode); wall (the target) and CPU")
        print(f"  {'':76}{'wall ms':>24}{'CPU ms':>24}")
        for name, cell in cold.items():
            print(f"  {name:76}{shown(cell, 24)}{shown(cell['cpu'], 24)}")
        results["memory"] = mem = memory(args, env)
        print(f"\nMemory: route_many over {mem['size']:,} afrusning situations (the whole space, cycled) in a "
              f"child process: RSS {mem['rss_before_mib']:.0f} MiB before, peak {mem['rss_peak_mib']:.0f} MiB "
              f"(+{mem['growth_mib']:.0f} MiB), {mem['rss_after_mib']:.0f} MiB with the Decisions held; "
              f"{mem['us_per_situation']:.1f} µs per situation, "
              f"{mem['distinct_decision_objects']:,} distinct Decision objects")

        lap("children")
    # Targets, honestly.
    print("\nTargets (issue 15), ratios from one run over varied situations:")
    targets: list[dict[str, Any]] = []
    worst = max(results["packs"].items(), key=lambda kv: kv[1]["route_over_floor"]["median"])
    missed = [k for k, v in results["packs"].items() if v["route_over_floor"]["median"] > ROUTE_OVER_FLOOR]
    targets.append({"target": f"route <= {ROUTE_OVER_FLOOR}x raw C floor, every shipped pack",
                    "measured": f"worst {worst[0]} {worst[1]['route_over_floor']['median']:.2f}x; "
                                f"missed on {len(missed)} of {len(results['packs'])}",
                    "met": not missed, "missed_on": missed})
    if zen is not None:
        a_rows = results["packs"]["aalborg/afrusning"]["rows"]
        for where, rows in (("afrusning (aalborg)", a_rows), ("mixed batch of all packs", m_cells)):
            many, single = rows["route_many"]["median"], rows["zen"]["median"]
            engine = rows["floor_batch"]["median"]
            targets.append({"target": f"route_many per situation <= zen evaluate, {where}",
                            "measured": f"{many:.1f} µs vs {single:.1f} µs ({many / single:.2f}x)",
                            "met": many <= single})
            targets.append({"target": f"  (the engine alone, raw batch floor, {where})",
                            "measured": f"{engine:.1f} µs vs zen {single:.1f} µs ({engine / single:.2f}x)",
                            "met": None})
    if "cold_start" in results:
        for label, limit in (("ansvar route afrusning_complete.json", CLI_MS),
                             ("python -c 'import ansvar; ansvar.route", PYTHON_C_MS)):
            name = next(n for n in results["cold_start"] if n.startswith(label))
            value = results["cold_start"][name]["median"]
            targets.append({"target": f"{name} <= {limit:.0f} ms", "measured": f"{value:.0f} ms",
                            "met": value <= limit})
        targets.append({"target": "memory bounded: peak RSS growth of a route_many batch (no fixed bound)",
                        "measured": f"+{results['memory']['growth_mib']:.0f} MiB for "
                                    f"{results['memory']['size']:,}", "met": None})
    for target in targets:
        verdict = "info" if target["met"] is None else met(target["met"])
        print(f"  {target['target']:70} {target['measured']:44} {verdict}")
    results["targets"] = targets
    results["seconds"] = time.perf_counter() - began
    results["phases"] = phases
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{results['seconds']:.0f} s (" + ", ".join(f"{k} {v:.0f} s" for k, v in phases.items())
          + f"); peak RSS of this process {peak:.0f} MiB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
