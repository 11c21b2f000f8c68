"""The only module that imports durable_rules, and the one place it is made safe.

durable_rules 2.0.28 crashes the process when misused (see docs/durable-rules.md). This module drives its C
extension directly, which removes the traps of the stock Python wrapper (`Host` starts two timer threads that
call into the engine outside any lock; actions' exceptions are swallowed into the state), and holds to the
safe pattern:

1. one process-wide lock around every engine call, creation and deletion included;
2. rulesets come from `ansvar.packs.compiler` and pass `check_ruleset` (here) before the engine sees them;
3. facts are sanitised here (names, types, sizes) before they are serialised;
4. per call, under the lock: a fresh session id, `assert_fact`, every fired rule's name collected, and the
   session deleted whatever happens; nothing of a citizen stays in the engine after a call;
5. every ruleset is primed with one whole session when it is made, which makes deleting any later session
   safe, even one where no rule started (see `_prime`: the engine's session slots start uninitialised);
6. after an engine error, the session is deleted and the ruleset replaced by a fresh copy (made at the next
   evaluation; the old one is unloaded). After an error while rules fire, or running out of memory on an
   assert, the session is in an unknown state and deleting it could crash the process: it is never touched,
   and goes with its copy of the ruleset (`delete_ruleset` never reads sessions), its memory left behind;
   after `MAX_ABANDONED` of those a ruleset is refused. The compiler's limits keep every known engine error
   out of reach.

Interrupts. A session enters the bookkeeping (`_live_sessions`) before the engine sees it, `assert_fact`
itself runs inside the `try`, and the `finally` goes straight to `delete_state` (deleting an id never made
answers 309, harmless); whatever lands after the delete is settled by a few retries. An asynchronous
exception (KeyboardInterrupt from a signal, `PyThreadState_SetAsyncExc`) is raised only where CPython checks
for one: after a call returns, at a backward jump, at a Python function's entry; there is none between the
start of the `finally` and the delete, so no such interrupt, however many, leaves a session in the engine.
What Python leaves: a trace function (a debugger, the fault-injection test) raises at line events, and one
raised on the line before the delete leaves the session, still in the bookkeeping, to the next engine call,
which deletes every session an interrupted call left (as does `live_sessions()`) before anything else; one
raised just as `create_ruleset` returns loses that fresh ruleset (a few hundred KiB, only while loading or
replacing a ruleset). The lock is taken by `_locked`, which no single exception, from a trace function or
not, keeps held; and no `try:` line stands alone inside a handler, where such an exception would leave the
exception being handled as the thread's own for good (see the session's `finally`).

Forks. `os.fork` takes the lock first (an `os.register_at_fork` hook) and the parent and the child each
release it after: a child is never made while another thread is inside the engine, so it inherits neither a
held lock nor a session in flight, only sessions an interrupt left, which its first engine call deletes in
its own copy of the engine's memory. A fork waits for the evaluation in progress, if any, to end.

Python 3.13. The extension calls `PyEval_CallObject`, which Python 3.13 removed, from exactly five C
callbacks (src/rulespy/rules.c of durable_rules 2.0.28: the store, delete, queue, queued-messages and
idle-state callbacks). The engine calls them only once `set_<that>_callback` registered a Python callable for
a ruleset (src/rules/rete.c initialises them to NULL). On 3.13 the extension is therefore imported with lazy
symbol binding, which leaves that one symbol unresolved instead of refusing the import, and on every Python
those five setters are replaced, on the extension module itself, by functions that raise `EngineError`: no
caller (ansvar, or the stock durable_rules wrapper in the same process) can register a callback, so no path
leads to the missing function. tests/unit/test_engine.py proves both halves.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import re
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, NoReturn, TypeVar

from ansvar.errors import ID_PATTERN, EngineError

#: Ruleset shapes the engine evaluates safely (see docs/durable-rules.md): kept with a margin, refused before
#: the engine sees a ruleset (the loader turns the refusal into a RuleError at the rule it shows at, where
#: `EngineLimitError.rule` names one, else at the pack's rules).
MAX_ENGINE_RULES = 400  # > 512 distinct children under one node makes create_ruleset loop forever
MAX_NON_EQUALITY_TESTS = 60  # distinct non-equality tests in one event (a coarse bound; the next is exact)
MAX_TESTS_AT_ONCE = 60  # the engine's walk of matching tests holds 64 at most: past it, error 303
MAX_RULES_PER_CONDITION = 200  # one test ends at most 255 engine rules: 256 misfire, 257 are error 108
MAX_EXPRESSION_DEPTH = 8
MAX_PRIORITY = 65_534  # `pri` is an unsigned short; 65,535 is the catch-all's
#: Every pattern tests that the engine's own state fact is absent, so only asserted facts match.
STATE_GUARD: Final[dict[str, Any]] = {"$nex": {"$s": 1}}
_ENGINE_OPS = frozenset({"$and", "$or", "$neq", "$lt", "$lte", "$gt", "$gte", "$ex", "$nex"})

#: Keys durable_rules reads as its own (session id, fact id, state marker): never fact names.
RESERVED_NAMES: Final = frozenset({"sid", "id", "$s"})

#: One lock for the whole process: durable_rules is not thread-safe, across rulesets either.
LOCK: Final = threading.RLock()

#: Engine errors raised while parsing a fact, before any session exists: the input was bad.
_PARSE_ERRORS: Final = frozenset({202, 204, 302, 313, 314})
_ERROR_CODE = re.compile(r"error code: (\d+)")
_FACT_NAME = re.compile(ID_PATTERN)
MAX_FACTS = 200  # the engine fails past ~251 fields in one fact
MAX_STRING_BYTES = 4096  # strings longer than 65,535 bytes compare wrongly; ours are short enum values
MAX_INT = 2**53  # exact in JSON and in the engine's double arithmetic
MAX_BATCH = 1000  # facts asserted in one session by evaluate_many
_ID_FIELD: Final = '"id": "'
#: `json.dumps(data, ensure_ascii=False, allow_nan=False)`, without making an encoder per call.
_ENCODE: Final = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
_SHORT_STRING = MAX_STRING_BYTES // 4  # characters: at most 4 bytes each in UTF-8

MAX_ABANDONED = 8  # engine failures while rules fire (each leaves a session behind) before a refusal
_SETTLE_ATTEMPTS = 8
_GONE: Final = frozenset({309, 111})  # no such session; no such ruleset

FactValue = bool | int | str
_T = TypeVar("_T")
_last_session = [0]  # sessions are numbered 1, 2, …; a list so the lock-holder can bump it in place
#: The bookkeeping (see the module doc), all under LOCK: sessions that may exist in the engine, entered before
#: the engine sees them and left once deleted; handles whose sessions must never be touched again; handles to
#: unload (with delete_ruleset, which never reads sessions) once no Ruleset holds them.
_live_sessions: set[tuple[int, str]] = set()
_tainted: set[int] = set()
_graveyard: set[int] = set()
_GOOD_NAMES: set[str] = set()  # fact names that passed the check (a few dozen in all)

#: The extension's functions that register a Python callback; the C side of each calls PyEval_CallObject.
CALLBACK_SETTERS: Final = ("set_store_message_callback", "set_delete_message_callback",
                           "set_queue_message_callback", "set_get_queued_messages_callback",
                           "set_get_idle_state_callback")


def _refused(name: str) -> Callable[..., NoReturn]:
    def refuse(*_args: object) -> NoReturn:
        msg = (f"durable_rules_engine.{name} is disabled by ansvar: its callback calls a C function that "
               "Python 3.13 removed, and ansvar evaluates without stores, queues or idle-state callbacks")
        raise EngineError(msg)

    refuse.__name__ = refuse.__qualname__ = name
    return refuse


def _load_engine() -> Any:  # noqa: ANN401 - the C extension has no type information
    """Import the C extension (lazily bound on Python 3.13, see above) with its callback setters disabled."""
    flags = sys.getdlopenflags() if hasattr(sys, "getdlopenflags") else None
    if flags is not None and sys.version_info >= (3, 13):
        sys.setdlopenflags((flags & ~os.RTLD_NOW) | os.RTLD_LAZY)
    try:
        import durable_rules_engine  # noqa: PLC0415 - imported here, with the binding set above
    except ImportError as exc:
        if sys.version_info >= (3, 13):
            exc.add_note("On Python 3.13 ansvar imports durable_rules 2.0.28 with lazy symbol binding (is "
                         "LD_BIND_NOW set?); or build it with "
                         "CPPFLAGS=-DPyEval_CallObject=PyObject_CallObject")
        raise
    finally:
        if flags is not None:
            sys.setdlopenflags(flags)
    for name in CALLBACK_SETTERS:
        setattr(durable_rules_engine, name, _refused(name))
    return durable_rules_engine


_dre = _load_engine()
if hasattr(os, "register_at_fork"):
    # See the module doc: no child is made while another thread is inside the engine.
    os.register_at_fork(before=LOCK.acquire, after_in_parent=LOCK.release, after_in_child=LOCK.release)


def sanitise(fact: Mapping[str, object]) -> dict[str, FactValue]:
    """Check a fact before it reaches the engine; drop nulls (the compiled rules test null by absence).

    >>> sanitise({"seizures": True, "enrolled_in": None, "administrations_per_day": 3})
    {'seizures': True, 'administrations_per_day': 3}
    >>> sanitise({"sid": "1"})
    Traceback (most recent call last):
    ...
    ansvar.errors.EngineError: fact name 'sid' is reserved or malformed
    """
    if len(fact) > MAX_FACTS:
        msg = f"a fact with {len(fact)} fields; at most {MAX_FACTS}"
        raise EngineError(msg)
    clean: dict[str, FactValue] = {}
    for name, value in fact.items():
        if name not in _GOOD_NAMES:
            if name in RESERVED_NAMES or not _FACT_NAME.match(name):
                msg = f"fact name {name!r} is reserved or malformed"
                raise EngineError(msg)
            _GOOD_NAMES.add(name)
        if value is None:
            continue
        # The common values pass here without a call; every other value (and every refusal) is `_checked`'s.
        if type(value) is bool or (type(value) is int and -MAX_INT < value < MAX_INT) or (
                type(value) is str and len(value) <= _SHORT_STRING and "\x00" not in value):
            clean[name] = value
        else:
            clean[name] = _checked(name, value)
    return clean


def _checked(name: str, value: object) -> FactValue:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -MAX_INT < value < MAX_INT:
            msg = f"fact {name!r}: integer out of range"
            raise EngineError(msg)
        return value
    if isinstance(value, str):
        if len(value.encode("utf-8")) > MAX_STRING_BYTES or "\x00" in value:
            msg = f"fact {name!r}: string too long or holds NUL"
            raise EngineError(msg)
        return value
    msg = f"fact {name!r}: {type(value).__name__} cannot reach the engine"
    raise EngineError(msg)


class EngineLimitError(ValueError):
    """A ruleset past one of the engine's limits; `rule` names the engine rule it shows at, where one does."""

    def __init__(self, message: str, rule: str | None = None) -> None:
        self.rule = rule
        super().__init__(message)


def check_ruleset(definition: Mapping[str, Any]) -> None:
    """Refuse any ruleset shape the engine misreads or crashes on; raises ValueError naming the rule.

    The compiler only produces safe shapes; this check holds it to that, whatever the rules say.

    How the engine evaluates, and so what the limits count (durable_rules 2.0.28, src/rules/rete.c and
    events.c): each engine rule's `$and` becomes a chain of test nodes, shared with every rule whose chain
    starts with the same tests (a tree). A fact walks that tree depth first on a stack of 64 entries: it
    pushes every child test of a node that holds at once, so the deepest the stack gets is, along some path,
    the sum of the tests holding together under each node of it. `_check_test_tree` bounds that sum over
    every fact (error 303 past 64, after which the session is garbage), which also keeps the null tests under
    one node (all hold when their facts are absent) within the engine's list of 128; and the rules ending at
    one node (a list of 256 entries without a terminator: 256 misfire, 257 are error 108 at creation).
    """
    if len(definition) > MAX_ENGINE_RULES:
        msg = f"{len(definition)} engine rules; at most {MAX_ENGINE_RULES} per event"
        raise ValueError(msg)
    non_equality: set[str] = set()
    for name, rule in definition.items():
        if set(rule) != {"all", "pri"} or not isinstance(rule["all"], list) or len(rule["all"]) != 1:
            msg = f"{name}: an engine rule must be one `all` pattern and a `pri`"
            raise ValueError(msg)
        pri = rule["pri"]
        if not isinstance(pri, int) or isinstance(pri, bool) or not 0 <= pri <= MAX_PRIORITY + 1:
            msg = f"{name}: pri must be an integer in 0..{MAX_PRIORITY + 1}"
            raise ValueError(msg)
        (pattern,) = rule["all"]
        if set(pattern) != {"m"}:
            msg = f"{name}: a pattern must bind exactly `m`"
            raise ValueError(msg)
        _check_expression(name, pattern["m"], non_equality, depth=0)
    if len(non_equality) > MAX_NON_EQUALITY_TESTS:
        msg = (f"{len(non_equality)} distinct non-equality tests in one event; at most "
               f"{MAX_NON_EQUALITY_TESTS} (the engine fails past 64)")
        raise ValueError(msg)
    _check_test_tree(definition)


def _check_expression(name: str, expression: object, non_equality: set[str], depth: int) -> None:
    if not isinstance(expression, dict) or len(expression) != 1:
        msg = f"{name}: every engine expression must be an object with exactly one key"
        raise ValueError(msg)
    if depth > MAX_EXPRESSION_DEPTH:
        msg = f"{name}: expression nested deeper than {MAX_EXPRESSION_DEPTH}"
        raise ValueError(msg)
    ((key, operand),) = expression.items()
    if key == "$or" or (key == "$and" and depth > 0):
        # The compiler writes one flat `$and` per engine rule: the test tree checked below is that shape's.
        msg = f"{name}: {'a nested $and' if key == '$and' else '$or'} is not a shape the compiler writes"
        raise ValueError(msg)
    if key == "$and":
        if not isinstance(operand, list) or not operand:
            msg = f"{name}: {key} needs a non-empty list"
            raise ValueError(msg)
        for item in operand:
            _check_expression(name, item, non_equality, depth + 1)
    elif key.startswith("$"):
        if key not in _ENGINE_OPS or not isinstance(operand, dict) or len(operand) != 1:
            msg = f"{name}: operator {key!r} is not allowed, or its operand is not one field"
            raise ValueError(msg)
        ((field, value),) = operand.items()
        if expression != STATE_GUARD:
            non_equality.add(f"{key}:{field}:{value!r}")
        _check_comparison(name, field, value)
    else:
        _check_comparison(name, key, operand)


def _check_comparison(name: str, field: str, value: object) -> None:
    if field in RESERVED_NAMES - {"$s"} or (field.startswith("$") and field != "$s"):
        msg = f"{name}: field {field!r} is reserved by the engine"
        raise ValueError(msg)
    if isinstance(value, dict | list | float) or value is None:
        msg = f"{name}: {field} is compared with {type(value).__name__}; only booleans, integers, strings"
        raise ValueError(msg)


#: A node of the engine's test tree, by what it tests: (operator, field, JSON type, JSON value).
_TestKey = tuple[str, str, str, str]


class _TestNode:
    __slots__ = ("children", "rules")

    def __init__(self) -> None:
        self.children: dict[_TestKey, _TestNode] = {}
        self.rules: list[str] = []  # the engine rules whose chain ends here


def _test_key(expression: Mapping[str, Any]) -> _TestKey:
    ((key, operand),) = expression.items()
    if key.startswith("$"):
        ((name, value),) = operand.items()
        return key, name, type(value).__name__, json.dumps(value)
    return "$eq", key, type(operand).__name__, json.dumps(operand)


def _check_test_tree(definition: Mapping[str, Any]) -> None:
    """Refuse a ruleset whose tree of tests the engine overruns for some fact.

    The tree is the engine's own (rete.c `findAlpha`): a test node is shared by every rule whose chain of
    tests starts alike.
    """
    root = _TestNode()
    for name, rule in definition.items():
        pattern = rule["all"][0]["m"]
        node = root
        for test in pattern.get("$and", [pattern]):
            node = node.children.setdefault(_test_key(test), _TestNode())
        node.rules.append(name)
        if len(node.rules) > MAX_RULES_PER_CONDITION:
            msg = (f"{len(node.rules)} engine rules test exactly the same; at most {MAX_RULES_PER_CONDITION} "
                   "(the engine links 255 to one test)")
            raise EngineLimitError(msg, name)
    depth, rule = _stack_depth(root)
    if depth > MAX_TESTS_AT_ONCE:
        msg = (f"up to {depth} tests can hold at once along one chain of tests that share their start; at "
               f"most {MAX_TESTS_AT_ONCE} (the engine fails past 64): test fewer thresholds of one fact, or "
               "let fewer rules start alike")
        raise EngineLimitError(msg, rule)


def _stack_depth(node: _TestNode) -> tuple[int, str | None]:
    """The most entries the engine's walk (events.c `handleAlpha`) can hold below `node`, and a rule there.

    This holds for any fact and any order of children. A node pushes every child test that holds; the last
    pushed is walked first, with the others still on the stack: at most (children holding at once - 1) + the
    deepest child's own depth (at least 1). Measured exact at the limit: 64 entries pass, 65 are error 303.
    """
    if not node.children:
        return 0, node.rules[0] if node.rules else None
    deepest, rule = max((_stack_depth(child) for child in node.children.values()), key=lambda found: found[0])
    return _holding_at_once(node.children) - 1 + max(1, deepest), rule


def _holding_at_once(children: Mapping[_TestKey, _TestNode]) -> int:
    """How many of these tests can hold for one fact (an upper bound).

    Per field: the null tests (`$nex`: the field is absent) or all the others (it is present), and of the
    equalities with values of one type only one.
    """
    per_field: dict[str, list[_TestKey]] = {}
    for key in children:
        per_field.setdefault(key[1], []).append(key)
    total = 0
    for tests in per_field.values():
        absent = sum(1 for op, *_ in tests if op == "$nex")
        equal = [kind for op, _, kind, _ in tests if op == "$eq"]
        present = sum(1 for op, *_ in tests if op not in {"$nex", "$eq"})
        present += (1 if len(set(equal)) == 1 else len(equal))  # values of several types may coerce alike
        total += max(absent, present)
    return total


class RulesetRefusedError(EngineError, ValueError):
    """durable_rules refused to load or to evaluate with a ruleset (a ValueError: the loader says where)."""


class Ruleset:
    """A compiled ruleset loaded into the engine; evaluates one fact at a time under the lock.

    `silent`: rules whose firing is not reported (a catch-all that makes every fact fire something).
    """

    def __init__(self, name: str, definition: Mapping[str, Any], *, silent: Iterable[str] = ()) -> None:
        check_ruleset(definition)
        self.name = name
        self._silent = frozenset(silent)
        self._json = json.dumps(definition, ensure_ascii=False, allow_nan=False, sort_keys=True)
        self._handle: int | None = None  # None: closed, or a fresh copy is made at the next evaluation
        self._closed = False
        self._abandoned = 0  # sessions left in the engine after it failed while rules fired
        _locked(self._load)

    def _load(self) -> None:
        _RULESETS.add(self)  # under the lock, as every reader of it
        self._renew()

    def _renew(self) -> int:
        """Evaluate on a fresh, primed copy of the ruleset from now on; the old copy is unloaded."""
        if self._closed:
            msg = f"ruleset {self.name!r} is closed"
            raise EngineError(msg)
        if self._abandoned >= MAX_ABANDONED:
            msg = (f"ruleset {self.name!r} is refused: durable_rules failed {self._abandoned} times while "
                   "its rules fired, each time leaving a session it could not delete; load the rules anew")
            raise EngineError(msg)
        old = self._handle
        if old is not None:
            _graveyard.add(old)  # first: a handle in the graveyard is never used again, even if still held
            self._handle = None
        handle = _create(self.name, self._json)
        self._handle = handle
        _graveyard.discard(handle)  # primed and owned: in use from here on
        if _graveyard:
            _tidy()
        return handle

    def close(self) -> None:
        """Unload the ruleset from the engine (idempotent)."""
        _locked(self._close)

    def _close(self) -> None:
        self._closed = True
        if self._handle is not None:
            _graveyard.add(self._handle)
            self._handle = None
        _tidy()

    def __del__(self) -> None:
        # At interpreter shutdown the engine module, and even contextlib, may be gone already.
        try:  # noqa: SIM105 - contextlib itself may be gone at shutdown
            self.close()
        except Exception:  # noqa: BLE001, S110 - nothing to report to at shutdown
            pass

    def __repr__(self) -> str:
        return f"Ruleset({self.name!r})"

    def evaluate(self, fact: Mapping[str, object], on_fire: Callable[[str], None]) -> None:
        """Assert `fact` in a fresh session, call `on_fire(rule_name)` for each rule fired, in firing order.

        The catch-all rule is not reported. The session is deleted before this returns or raises.
        """
        clean = sanitise(fact)
        self._session(lambda sid: (_dre.assert_fact, {"sid": sid, **clean}), on_fire, indexed=False)

    def evaluate_many(self, facts: Sequence[Mapping[str, object]],
                      on_fire: Callable[[int, str], None]) -> None:
        """Assert `facts` together in one fresh session; call `on_fire(index, rule_name)` for each firing.

        One session, one JSON document and one delete for the whole batch (at most `MAX_BATCH` facts): the
        rules read one fact each, so a fact fires exactly the rules it would fire alone. The session is
        deleted before this returns or raises, as in `evaluate`.
        """
        if len(facts) > MAX_BATCH:
            msg = f"a batch of {len(facts)} facts; at most {MAX_BATCH}"
            raise EngineError(msg)
        clean = [sanitise(fact) for fact in facts]
        # `sid` and `id` first: the engine echoes each fact as given, so a firing names its fact early.
        def batch(sid: str) -> tuple[Callable[[int, str], tuple[int, int]], object]:
            return _dre.assert_facts, [{"sid": sid, "id": str(i), **fact} for i, fact in enumerate(clean)]

        self._session(batch, on_fire, indexed=True)

    def _session(self, payload: Callable[[str], tuple[Callable[[int, str], tuple[int, int]], object]],
                 on_fire: Callable[..., None], *, indexed: bool) -> None:
        """One session, start to end, under the lock: assert, fire every rule, delete whatever happens.

        `payload(sid)` gives the engine call (assert_fact or assert_facts) and what it asserts; `on_fire` is
        called with each firing's rule name, after its fact's index where `indexed`.
        """
        _locked(lambda: self._locked_session(payload, on_fire, indexed))

    def _locked_session(self, payload: Callable[[str], tuple[Callable[[int, str], tuple[int, int]], object]],
                        on_fire: Callable[..., None], indexed: bool) -> None:  # noqa: FBT001 - private
        # The session is in the bookkeeping before the engine sees it, and the engine call is inside the
        # `try`: wherever an exception lands, the `finally` deletes the session (see the module doc).
        if _live_sessions or _graveyard:
            _tidy(nested=self._handle)
        handle = self._handle
        if handle is None or handle in _tainted or handle in _graveyard:
            handle = self._renew()
        _last_session[0] += 1
        sid = str(_last_session[0])
        assert_call, data = payload(sid)
        text = _ENCODE(data)
        entry = (handle, sid)
        renew = False
        try:
            _live_sessions.add(entry)
            try:
                _code, state = assert_call(handle, text)
            except MemoryError:
                _tainted.add(handle)  # first: the session may be half made; touching it could crash
                msg = "durable_rules ran out of memory or sessions; a fresh copy of the rules serves next"
                raise EngineError(msg) from None
            except _dre.error as exc:
                code = _error_code(exc)
                renew = code not in _PARSE_ERRORS
                msg = f"durable_rules refused the fact (error {code})"
                raise EngineError(msg) from None
            self._fire(handle, state, on_fire, indexed)
        finally:
            # Straight to the engine: no Python call (where an interrupt could land) before the delete. The
            # `try` and the delete share a line: a `try:` line of its own is an instruction outside every
            # handler, the finally's own cleanup included, so an exception a trace function raised there left
            # the exception this finally runs for as the thread's handled exception for good (the next
            # exception anywhere chained to this session's frames; CPython 3.11-3.13, measured).
            if handle not in _tainted:
                try: _dre.delete_state(handle, sid)  # noqa: E701 - on one line, see above
                except BaseException as exc:  # noqa: BLE001 - 309 (never made), or an interrupt: settled
                    _settle(entry, exc)
                else:
                    _live_sessions.discard(entry)
            if renew:  # the session is deleted: only a precaution, after an error that is not the input's
                _tainted.add(handle)
            if handle in _tainted:
                self._detach(handle, entry)

    def _fire(self, handle: int, state: int, on_fire: Callable[..., None], indexed: bool) -> None:  # noqa: FBT001
        # Each message is read once: its rule name (see `_rule_name`), and where `indexed` its fact's index
        # after it (see `_fact_index`); the engine's next step is called here, not through `_step`.
        silent = self._silent
        result = self._step(_dre.start_action_for_state, handle, state)
        message: str | None = result[1] if result else None
        while message:
            end = message.index('"', 2)
            name = message[2:end]
            if name not in silent:
                if indexed:
                    start = message.index(_ID_FIELD, end) + len(_ID_FIELD)
                    on_fire(int(message[start:message.index('"', start)]), name)
                else:
                    on_fire(name)
            try:
                message = _dre.complete_and_start_action(handle, state)
            except (_dre.error, MemoryError) as exc:
                self._failed(exc, handle)

    def _step(self, call: Callable[[int, int], Any], handle: int, state: int) -> Any:  # noqa: ANN401
        try:
            return call(handle, state)
        except (_dre.error, MemoryError) as exc:
            self._failed(exc, handle)

    def _failed(self, exc: BaseException, handle: int) -> NoReturn:
        # The session is in an unknown state: deleting it may crash the process. Never touch it, nor its
        # copy of the ruleset, again; its memory stays behind (so at most MAX_ABANDONED times).
        _tainted.add(handle)
        self._abandoned += 1
        msg = f"durable_rules failed while rules fired ({_describe(exc)})"
        raise EngineError(msg) from None

    def _detach(self, handle: int, finished: tuple[int, str] | None = None) -> None:
        """After an engine failure: stop using `handle` (a fresh copy is made at the next evaluation)."""
        _graveyard.add(handle)  # first: a handle in the graveyard is never used again, even if still held
        if self._handle == handle:
            self._handle = None
        if finished is not None:
            _tidy(finished=finished)


#: Every Ruleset alive, to tell a handle in use from an abandoned one.
_RULESETS: weakref.WeakSet[Ruleset] = weakref.WeakSet()
_SESSION_CODE: Final = Ruleset._locked_session.__code__  # noqa: SLF001 - to find the sessions still running


def _locked(call: Callable[[], _T]) -> _T:
    """`call()` under LOCK, which is released whatever is raised, wherever.

    The `with` is one line, and `call` never raises inside it: CPython runs a `with`'s exit on a line event
    of its own (and, on 3.12, its exception handler on another), and a `try:` line's instruction lies
    outside every handler, the enclosing `with`'s included; an exception a trace function raises at such a
    point (a debugger's quit, the fault-injection test) skips the release, and every later call would hang.
    Measured on 3.11, 3.12 and 3.13: with this shape no single such exception, at any event, keeps the lock.
    """
    with LOCK: outcome = _outcome(call)  # noqa: E701 - on one line, see above
    if outcome[1] is not None:
        raise outcome[1]
    return outcome[0]  # type: ignore[return-value]  # set whenever no exception is


def _outcome(call: Callable[[], _T]) -> tuple[_T | None, BaseException | None]:
    try:
        return call(), None
    except BaseException as exc:  # noqa: BLE001 - raised again by _locked, once the lock is released
        return None, exc


def _create(name: str, definition: str) -> int:  # its local `handle` is read by _in_use
    """Load a ruleset into the engine and prime it: its handle, in the graveyard until its owner takes it."""
    try:
        handle: int = _dre.create_ruleset(name, definition)
    except _dre.error as exc:
        msg = f"durable_rules refused the ruleset ({_describe(exc)})"
        raise RulesetRefusedError(msg) from None
    except MemoryError:
        msg = "durable_rules ran out of memory loading a ruleset"
        raise EngineError(msg) from None
    _graveyard.add(handle)  # not primed yet: only delete_ruleset may touch it, once this call is over
    try:
        _prime(handle)
    except BaseException:
        _unload(handle)
        raise
    return handle


def _prime(handle: int) -> None:
    """Run one whole session on a new ruleset, so that deleting any later session is safe.

    The engine allocates its session slots without initialising them, and `delete_state` frees two pointers
    of the slot (its action context) that only an action started there sets: deleting a session in which no
    action started (interrupted after `assert_fact`, or failed in it with error 303) frees garbage on a slot
    never used before (SIGSEGV or abort, measured). Deleting a session sets them NULL, and the engine reuses
    the slot last freed; with at most one session per ruleset at a time (`_tidy` deletes what an interrupted
    call left before the next is made), every session after this one is made in this slot.
    """
    _last_session[0] += 1
    sid = str(_last_session[0])
    try:
        _code, state = _dre.assert_fact(handle, json.dumps({"sid": sid}))
        started = _dre.start_action_for_state(handle, state)
    except (_dre.error, MemoryError) as exc:
        msg = f"durable_rules cannot evaluate with the ruleset ({_describe(exc)})"
        raise RulesetRefusedError(msg) from None
    if not started:
        msg = "no rule fires for an empty fact: the ruleset lacks its catch-all rule"
        raise RulesetRefusedError(msg)
    _dre.delete_state(handle, sid)


def _settle(entry: tuple[int, str], raised: BaseException) -> None:
    """Finish deleting a session after `raised` came up around its deletion; re-raise it if an interrupt.

    `raised` is the engine's 309 (the session was never made: the interrupt landed before `assert_fact`),
    or an exception that landed after the delete; a few more attempts survive more interrupts landing here.
    """
    interrupt = None if isinstance(raised, _dre.error) else raised
    if isinstance(raised, _dre.error) and _error_code(raised) not in _GONE:
        _tainted.add(entry[0])  # the engine could not delete it: never touch that ruleset's sessions again
    for _attempt in range(_SETTLE_ATTEMPTS):
        try:
            _delete(entry)
            break
        except BaseException as exc:  # noqa: BLE001 - another interrupt: try again, raise the first after
            interrupt = interrupt or exc
    if interrupt is not None:
        raise interrupt


def _delete(entry: tuple[int, str]) -> None:
    """Delete a session if the bookkeeping still has it and its ruleset may be touched; forget it."""
    handle, sid = entry
    if entry in _live_sessions and handle not in _tainted:
        try:
            _dre.delete_state(handle, sid)
        except _dre.error as exc:
            if _error_code(exc) not in _GONE:
                _tainted.add(handle)
    _live_sessions.discard(entry)


def _unload(handle: int) -> None:
    """Delete a ruleset from the engine (its sessions untouched: `delete_ruleset` never reads them)."""
    with contextlib.suppress(_dre.error):  # 111: unloaded already (handles are reused only ~131,000 later)
        _dre.delete_ruleset(handle)
    for entry in [e for e in _live_sessions if e[0] == handle]:
        _live_sessions.discard(entry)
    _tainted.discard(handle)
    _graveyard.discard(handle)  # last: until here, the next tidy tries again


def _tidy(nested: int | None = None, finished: tuple[int, str] | None = None) -> None:
    """Finish what interrupted calls left behind: delete their sessions, unload abandoned rulesets.

    What a call further up this thread's stack uses is left alone (only this thread holds the lock, but it
    holds it re-entrantly: a finalizer may close a ruleset, and so tidy, at any allocation). `nested`: refuse
    a new session on that handle if a running one is on it (the engine would make it in a slot never
    primed). `finished`: a session whose call is past using it and its ruleset.
    """
    sessions, making = _in_use() if _live_sessions or _graveyard else (set(), set())
    active = sessions - {finished}
    if nested is not None and any(handle == nested for handle, _ in active & _live_sessions):
        msg = "a ruleset cannot be evaluated from inside its own firing callback"
        raise EngineError(msg)
    for entry in [e for e in _live_sessions if e not in active]:
        _delete(entry)
    running = {handle for handle, _ in active}
    for ruleset in list(_RULESETS):
        handle = ruleset._handle  # noqa: SLF001 - this module's own
        if handle is not None and handle in _tainted and handle not in running:
            ruleset._detach(handle)  # noqa: SLF001
    if _graveyard:
        held = {ruleset._handle for ruleset in _RULESETS} | running | making  # noqa: SLF001
        for handle in [h for h in _graveyard if h not in held]:
            _unload(handle)


def _in_use() -> tuple[set[tuple[int, str]], set[int]]:
    """What the calls on this thread's stack use: the sessions evaluating, the rulesets being made."""
    sessions: set[tuple[int, str]] = set()
    handles: set[int] = set()
    frame = inspect.currentframe()
    while frame is not None:
        if frame.f_code is _SESSION_CODE:
            entry = frame.f_locals.get("entry")
            if isinstance(entry, tuple):
                sessions.add(entry)
        elif frame.f_code in _MAKING_CODES:
            handle = frame.f_locals.get("handle")
            if isinstance(handle, int):
                handles.add(handle)
        frame = frame.f_back
    return sessions, handles


_MAKING_CODES: Final = frozenset({_create.__code__, Ruleset._renew.__code__})  # noqa: SLF001 - see _in_use


def _describe(exc: BaseException) -> str:
    code = _error_code(exc)
    return "out of memory" if isinstance(exc, MemoryError) else f"error {code}"


def _rule_name(message: str) -> str:
    # A message is `{"<rule name>": {"m": {<the fact>}}}`; names are compiler-made identifiers, never escaped.
    return message[2:message.index('"', 2)]


def _fact_index(message: str) -> int:
    # The fact is echoed as asserted: `"sid": "<n>", "id": "<index>", ...` (see evaluate_many).
    start = message.index(_ID_FIELD) + len(_ID_FIELD)
    return int(message[start:message.index('"', start)])


def _error_code(exc: BaseException) -> int | None:
    found = _ERROR_CODE.search(str(exc))
    return int(found.group(1)) if found else None


def live_sessions() -> int:
    """Sessions asserted and not yet deleted, over all rulesets: 0 whenever no call is running.

    Sessions an interrupted call left behind are deleted first (as at the start of every evaluation).
    """
    return _locked(_count_live)


def _count_live() -> int:
    if _live_sessions or _graveyard:
        _tidy()
    return len(_live_sessions)


def session_exists(ruleset: Ruleset, sid: str) -> bool:
    """Ask the engine itself whether it still holds session `sid` (for tests; error 309 means no)."""
    return _locked(lambda: _exists(ruleset._handle, sid))  # noqa: SLF001 - same module


def _exists(handle: int | None, sid: str) -> bool:
    if handle is None:
        return False
    try:
        _dre.get_facts(handle, sid)  # its facts, as they stand: unlike get_state, safe in any session
    except _dre.error as exc:
        if _error_code(exc) in _GONE:
            return False
        raise
    return True


def last_session_id() -> int:
    """The highest session id handed out so far (sessions are numbered 1, 2, …)."""
    return _last_session[0]
