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
5. a callback that raises while rules fire abandons the action, deletes the session, and re-raises;
6. after an engine error that leaves a session in an unknown state (any error but a parse error), the
   ruleset is rebuilt and the old handle is never touched again: deleting that session could crash the
   process. Such errors are kept out of reach by the compiler's limits; none has been seen in testing.

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

import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, NoReturn

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

FactValue = bool | int | str
_last_session = [0]  # sessions are numbered 1, 2, …; a list so the lock-holder can bump it in place
_live_sessions: set[tuple[int, str]] = set()
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
        if value is not None:
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


class Ruleset:
    """A compiled ruleset loaded into the engine; evaluates one fact at a time under the lock.

    `silent`: rules whose firing is not reported (a catch-all that makes every fact fire something).
    """

    def __init__(self, name: str, definition: Mapping[str, Any], *, silent: Iterable[str] = ()) -> None:
        check_ruleset(definition)
        self.name = name
        self._silent = frozenset(silent)
        self._json = json.dumps(definition, ensure_ascii=False, allow_nan=False, sort_keys=True)
        self._handle: int | None = None
        with LOCK:
            self._handle = self._create()

    def _create(self) -> int:
        handle: int = _dre.create_ruleset(self.name, self._json)
        return handle

    def close(self) -> None:
        """Unload the ruleset from the engine (idempotent)."""
        with LOCK:
            if self._handle is not None:
                handle, self._handle = self._handle, None
                _dre.delete_ruleset(handle)

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
        self._session(lambda sid: (_dre.assert_fact, {"sid": sid, **clean}),
                      lambda message: on_fire(_rule_name(message)))

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

        self._session(batch, lambda message: on_fire(_fact_index(message), _rule_name(message)))

    def _session(self, payload: Callable[[str], tuple[Callable[[int, str], tuple[int, int]], object]],
                 on_message: Callable[[str], None]) -> None:
        """One session, start to end, under the lock: assert, fire every rule, delete whatever happens.

        `payload(sid)` gives the engine call (assert_fact or assert_facts) and what it asserts.
        """
        with LOCK:
            handle = self._handle
            if handle is None:
                msg = f"ruleset {self.name!r} is closed"
                raise EngineError(msg)
            _last_session[0] += 1
            sid = str(_last_session[0])
            assert_call, data = payload(sid)
            try:
                _code, state = assert_call(handle, json.dumps(data, ensure_ascii=False, allow_nan=False))
            except _dre.error as exc:
                code = _error_code(exc)
                if code not in _PARSE_ERRORS:
                    self._rebuild()
                msg = f"durable_rules refused the fact (error {code})"
                raise EngineError(msg) from None
            _live_sessions.add((handle, sid))
            broken = False
            try:
                self._fire(handle, state, on_message, self._silent)
            except _dre.error as exc:
                # The session is in an unknown state: deleting it may crash the process. Never touch this
                # handle again (its memory, and this session with it, is unreachable from here on).
                broken = True
                self._rebuild()
                msg = f"durable_rules failed while rules fired (error {_error_code(exc)})"
                raise EngineError(msg) from None
            finally:
                _live_sessions.discard((handle, sid))
                if not broken:
                    _dre.delete_state(handle, sid)

    @staticmethod
    def _fire(handle: int, state: int, on_fire: Callable[[str], None], silent: frozenset[str]) -> None:
        result = _dre.start_action_for_state(handle, state)
        message: str | None = result[1] if result else None
        while message:
            if _rule_name(message) not in silent:
                try:
                    on_fire(message)
                except BaseException:
                    _dre.abandon_action(handle, state)
                    raise
            message = _dre.complete_and_start_action(handle, state)

    def _rebuild(self) -> None:
        # After an engine error the session is in an unknown state; touching it again may crash. Leave the
        # old handle alone for good and evaluate on a fresh copy of the ruleset.
        self._handle = self._create()


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
    """Sessions asserted and not yet deleted, over all rulesets: 0 whenever no call is running."""
    with LOCK:
        return len(_live_sessions)


def session_exists(ruleset: Ruleset, sid: str) -> bool:
    """Ask the engine itself whether it still holds session `sid` (for tests; error 309 means no)."""
    with LOCK:
        if ruleset._handle is None:  # noqa: SLF001 - same module
            return False
        try:
            _dre.get_state(ruleset._handle, sid)  # noqa: SLF001
        except _dre.error as exc:
            if _error_code(exc) == 309:
                return False
            raise
        return True


def last_session_id() -> int:
    """The highest session id handed out so far (sessions are numbered 1, 2, …)."""
    with LOCK:
        return _last_session[0]
