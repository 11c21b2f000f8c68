"""The engine wrapper: every route goes through durable_rules, safely, leaving nothing behind."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import ansvar
from ansvar import engine
from ansvar.engine import check_ruleset
from ansvar.packs.compiler import to_ruleset
from ansvar.errors import EngineError
from ansvar.packs.names import CATCH_ALL
from tests.fixtures import ON

DT = {"municipality": "aalborg", "event": "afrusning", "withdrawal_symptoms": True, "delirium_tremens": True}


class CountingEngine:
    """Wraps the C extension module and counts calls by name."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.real, name)
        if not callable(attribute) or isinstance(attribute, type):
            return attribute

        def counted(*args: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return attribute(*args)

        return counted


def test_every_route_asserts_into_durable_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each route is one assert_fact and one delete_state on the durable_rules C engine."""
    router = ansvar.default_router()
    counting = CountingEngine(engine._dre)
    monkeypatch.setattr(engine, "_dre", counting)
    situations = [DT, {"municipality": "aalborg", "event": "afrusning"},
                  {"municipality": "aalborg", "event": "afrusning", "wants_medical_help": True}]
    answers = [router.route(s, on=ON).responsible for s in situations]
    assert answers == ["region_akutmodtagelse", "borger", "egen_laege"]
    assert counting.calls["assert_fact"] == 3
    assert counting.calls["delete_state"] == 3
    assert counting.calls["start_action_for_state"] == 3


def test_answer_comes_from_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the engine fired nothing, routing has no answer: there is no Python fallback."""

    class Silent(CountingEngine):
        def __getattr__(self, name: str) -> Any:
            if name == "start_action_for_state":
                return lambda *_: None
            return super().__getattr__(name)

    monkeypatch.setattr(engine, "_dre", Silent(engine._dre))
    with pytest.raises(ansvar.NoResponsibleError):
        ansvar.default_router().route(DT, on=ON)
    assert engine.live_sessions() == 0


def test_no_session_outlives_a_route() -> None:
    """After a route the engine itself no longer holds the session."""
    router = ansvar.default_router()
    router.route(DT, on=ON)
    sid = str(engine.last_session_id())
    assert engine.live_sessions() == 0
    assert not engine.session_exists(router.pack("aalborg", "afrusning").ruleset, sid)


def test_exception_in_a_firing_callback_is_raised_and_cleaned_up() -> None:
    """A callback raising while rules fire propagates; the session is gone; the next call is right."""
    ruleset = ansvar.default_router().pack("aalborg", "afrusning").ruleset

    def boom(_: str) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        ruleset.evaluate({"seizures": True, "wants_medical_help": False}, boom)
    assert engine.live_sessions() == 0
    assert not engine.session_exists(ruleset, str(engine.last_session_id()))
    assert ansvar.default_router().route(DT, on=ON).responsible == "region_akutmodtagelse"


def test_sanitise_refuses_reserved_and_odd_values() -> None:
    """Reserved keys, floats, nested values and huge strings never reach the engine."""
    for bad in ({"sid": "x"}, {"id": 1}, {"$s": 1}, {"x": 1.5}, {"x": {"y": 1}}, {"x": [1]},
                {"x": "a" * 5000}, {"x": 2**60}, {"Bad": True}, {f"f{i}": True for i in range(201)}):
        with pytest.raises(EngineError):
            engine.sanitise(bad)


@pytest.mark.parametrize("definition", [
    {"r": {"all": [{"m": {"x": 1, "y": 2}}], "pri": 0}},                  # multi-key object
    {"r": {"all": [{"m": {"$contains": {"x": 1}}}], "pri": 0}},           # unknown operator
    {"r": {"all": [{"m": {"x": 1}}, {"n": {"y": 1}}], "pri": 0}},        # more than one pattern
    {"r": {"all": [{"m": {"sid": "1"}}], "pri": 0}},                      # reserved key
    {"r": {"all": [{"m": {"x": 1.5}}], "pri": 0}},                        # float constant
    {"r": {"all": [{"m": {"x": {"$m": "y"}}}], "pri": 0}},                # object as value (a reference)
    {"r": {"all": [{"m": {"x": 1}}], "pri": -1}},                         # negative pri
    {"r": {"all": [], "pri": 0}},                                          # never fires
    {"r": {"any": [{"m": {"x": 1}}], "pri": 0}},                          # `any` pattern
    {f"r{i}": {"all": [{"m": {"x": i}}], "pri": 0} for i in range(401)},  # fan-out
    {f"r{i}": {"all": [{"m": {"$lt": {"x": i}}}], "pri": 0} for i in range(61)},  # error 303 territory
])
def test_check_ruleset_refuses_shapes_the_engine_misreads(definition: dict[str, Any]) -> None:
    """Shapes durable_rules misreads or crashes on are refused before it sees them."""
    with pytest.raises(ValueError):  # noqa: PT011 - each message names its own shape
        check_ruleset(definition)


def test_compiled_rulesets_pass_the_check() -> None:
    """Every shipped pack compiles to a shape the check accepts, with a catch-all rule."""
    router = ansvar.default_router()
    for municipality in router.municipalities():
        for event in router.events(municipality):
            pack = router.pack(municipality, event)
            definition = to_ruleset(list(pack.compiled.values()))
            check_ruleset(definition)
            assert "__ansvar_catch_all__" in definition


def test_eight_threads_route_at_once() -> None:
    """8 threads routing concurrently get the serial answers, and no session survives."""
    router = ansvar.default_router()
    situations = [
        DT,
        {"municipality": "aalborg", "event": "afrusning", "wants_medical_help": True, "residence": "forsorgshjem"},
        {"municipality": "aalborg", "event": "afrusning"},
        {"municipality": "aalborg", "event": "afrusning", "home_nursing_requested": True,
         "administrations_per_day": 5},
    ]
    serial = [router.route(s, on=ON) for s in situations]
    errors: list[BaseException] = []
    wrong: list[int] = []

    def work(offset: int) -> None:
        try:
            for i in range(300):
                k = (i + offset) % len(situations)
                if router.route(situations[k], on=ON) != serial[k]:
                    wrong.append(k)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert not wrong
    assert engine.live_sessions() == 0


def test_five_thousand_routes_in_a_row() -> None:
    """5,000 routes in a row: no crash, same answer, no session left."""
    router = ansvar.default_router()
    first = router.route(DT, on=ON)
    before = engine.last_session_id()
    for _ in range(5000):
        assert router.route(DT, on=ON).responsible == first.responsible
    assert engine.last_session_id() - before == 5000
    assert engine.live_sessions() == 0
    ruleset = router.pack("aalborg", "afrusning").ruleset
    assert not any(engine.session_exists(ruleset, str(sid)) for sid in range(before, before + 5001, 250))


def test_closed_ruleset_refuses() -> None:
    """A ruleset unloaded from the engine cannot be evaluated by accident."""
    ruleset = engine.Ruleset("test:closed", to_ruleset([]))
    ruleset.close()
    ruleset.close()
    with pytest.raises(EngineError, match="closed"):
        ruleset.evaluate({}, lambda _: None)


def test_no_engine_threads() -> None:
    """Loading and routing start no background threads (the stock Host starts two per instance)."""
    before = threading.active_count()
    router = ansvar.Router()
    router.route(DT, on=ON)
    assert threading.active_count() == before


def failing_assert(code: int) -> CountingEngine:
    """The real engine, except that assert_fact raises the engine's error `code`."""
    real = engine._dre

    class Failing(CountingEngine):
        def __getattr__(self, name: str) -> Any:
            if name == "assert_fact":
                def fail(*_: Any) -> Any:
                    raise real.error(f"Could not assert fact, error code: {code}")
                return fail
            return super().__getattr__(name)

    return Failing(real)


def test_engine_error_rebuilds_the_ruleset(monkeypatch: pytest.MonkeyPatch) -> None:
    """After an engine error mid-evaluation the old handle is abandoned and a fresh ruleset serves."""
    ruleset = engine.Ruleset("test:rebuild", to_ruleset([]), silent=(CATCH_ALL,))
    old = ruleset._handle
    with monkeypatch.context() as patch:
        patch.setattr(engine, "_dre", failing_assert(303))
        with pytest.raises(EngineError, match="error 303"):
            ruleset.evaluate({"x": True}, lambda _: None)
    assert ruleset._handle != old
    fired: list[str] = []
    ruleset.evaluate({"x": True}, fired.append)
    assert fired == []
    assert engine.live_sessions() == 0
    ruleset.close()


def test_parse_error_is_bad_input_and_keeps_the_ruleset(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fact the engine cannot parse (error 202) is an EngineError; the ruleset stays as it was."""
    ruleset = engine.Ruleset("test:parse", to_ruleset([]))
    old = ruleset._handle
    monkeypatch.setattr(engine, "_dre", failing_assert(202))
    with pytest.raises(EngineError, match="error 202"):
        ruleset.evaluate({"x": True}, lambda _: None)
    assert ruleset._handle == old
    monkeypatch.undo()
    ruleset.close()


@pytest.mark.parametrize("name", sorted(engine.RESERVED_NAMES - {"$s"}))
def test_reserved_fact_names_cannot_be_defined(tmp_path: Path, name: str) -> None:
    """An event file with a fact named like an engine key is refused at that fact, when the rules load."""
    town = tmp_path / "nordby"
    (town / "events").mkdir(parents=True)
    (town / "layer.yaml").write_text("layer: nordby\nkind: municipality\nname: Nordby\n", encoding="utf-8")
    (town / "events" / "ny.yaml").write_text(
        f"event: ny\ntitle: Ny\nfacts:\n  {name}:\n    type: boolean\n    label: X\n    question: X?\n",
        encoding="utf-8")
    with pytest.raises(ansvar.RuleError) as caught:
        ansvar.Router([town])
    assert (caught.value.path, caught.value.line, caught.value.column) == (town / "events" / "ny.yaml", 4, 3)
    assert "reserves" in caught.value.message


def test_engine_error_while_firing_never_deletes_the_broken_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine error while rules fire: no delete_state on that session (it may crash); fresh ruleset."""
    router = ansvar.Router()
    ruleset = router.pack("aalborg", "afrusning").ruleset
    old = ruleset._handle
    real = engine._dre

    class BreaksMidway(CountingEngine):
        def __getattr__(self, name: str) -> Any:
            if name == "complete_and_start_action":
                def fail(*_: Any) -> Any:
                    raise real.error("Could not complete action, error code: 303")
                return fail
            return super().__getattr__(name)

    counting = BreaksMidway(real)
    with monkeypatch.context() as patch:
        patch.setattr(engine, "_dre", counting)
        with pytest.raises(EngineError, match="while rules fired"):
            router.route(DT, on=ON)
    assert "delete_state" not in counting.calls
    assert ruleset._handle != old
    assert engine.live_sessions() == 0
    assert router.route(DT, on=ON).responsible == "region_akutmodtagelse"


# --- Python 3.13: the one C function the extension misses is out of reach --------------------------------

_RAW_CALLBACK = """
import json, os, sys
{prelude}
if sys.version_info >= (3, 13):
    sys.setdlopenflags(os.RTLD_LAZY)
import durable_rules_engine as dre
handle = dre.create_ruleset("raw", json.dumps({{"r": {{"all": [{{"m": {{"$and": [{{"x": 1}}, {{"$nex": {{"$s": 1}}}}]}}}}]}}}}))
calls = []
try:
    dre.set_queue_message_callback(handle, lambda *args: calls.append(args[:2]) or 0)
except Exception as exc:
    print("refused:", type(exc).__name__, flush=True)
    raise SystemExit(0)
dre.assert_fact(handle, json.dumps({{"sid": "7", "x": 1}}))  # a fact for an unknown session is queued
print("called:", calls, flush=True)
"""


def _run_raw(prelude: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _RAW_CALLBACK.format(prelude=prelude)], capture_output=True,
                          text=True, timeout=60, check=False)


def _calls_a_missing_function() -> bool:
    """Whether the extension references PyEval_CallObject and this Python lacks it (3.13, plain build)."""
    references = b"PyEval_CallObject\x00" in Path(engine._dre.__file__).read_bytes()
    return references and not hasattr(ctypes.pythonapi, "PyEval_CallObject")


def test_callback_setters_are_the_only_gate_to_the_callbacks() -> None:
    """Without ansvar, registering a queue callback makes the engine call it on the next fact: on Python
    3.13 through the C function it removed, so the process dies; elsewhere the callback runs."""
    raw = _run_raw("")
    if _calls_a_missing_function():
        assert raw.returncode != 0
        assert "called:" not in raw.stdout
    else:
        assert raw.returncode == 0, raw.stderr
        assert raw.stdout.strip() == "called: [('raw', '7')]"


def test_ansvar_disables_every_callback_setter_of_the_extension() -> None:
    """Once ansvar's engine module is imported, no caller in the process can register an engine callback:
    every callback setter the extension has is replaced, and each raises EngineError."""
    guarded = _run_raw("import ansvar.engine")
    assert guarded.returncode == 0, guarded.stderr
    assert guarded.stdout.strip() == "refused: EngineError"
    setters = {name for name in dir(engine._dre) if "callback" in name}
    assert setters == set(engine.CALLBACK_SETTERS)
    for name in engine.CALLBACK_SETTERS:
        with pytest.raises(EngineError, match=name):
            getattr(engine._dre, name)(0, print)


def test_the_stock_wrapper_cannot_register_a_callback_either() -> None:
    """durable_rules' own Python wrapper reaches the extension through the same, disabled, functions."""
    import durable.engine  # noqa: PLC0415 - the stock wrapper, only to show it is guarded too

    class _Handle:
        _handle = 0

    with pytest.raises(EngineError):
        durable.engine.Ruleset.set_store_message_callback(_Handle(), print)  # type: ignore[arg-type]


@pytest.mark.skipif(sys.version_info < (3, 13), reason="only Python 3.13 removed PyEval_CallObject")
def test_on_python_313_the_function_is_missing_and_ansvar_routes() -> None:
    """On 3.13 the process has no PyEval_CallObject, yet ansvar's engine imported and routes."""
    assert not hasattr(ctypes.pythonapi, "PyEval_CallObject")
    assert ansvar.route(DT, on=ON).responsible == "region_akutmodtagelse"
