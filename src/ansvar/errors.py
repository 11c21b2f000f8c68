"""The one family of errors ansvar raises; every one is an `AnsvarError`.

No error ever comes with a partial Decision: routing either answers whole or raises one of these.
Messages are English and quote the Danish values; none of them repeats a citizen's data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

#: The shape of every id ansvar knows (facts, events, municipalities, actors). Only a value of this shape
#: is ever repeated in a message: a CPR number or a person's name never has it.
ID_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
_ID = re.compile(ID_PATTERN)
#: A message lists this many of a situation's problems, then counts the rest (`errors` holds every one).
MAX_LISTED = 10


def is_id(value: object) -> bool:
    """Whether a value has the shape of an id (a fact, event, municipality, actor): only such are quoted."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def shown(value: object) -> str:
    """A value as a message may quote it: an id as itself, anything else withheld (it may be health data).

    >>> shown("aarhus"), shown("010203-1234"), shown("Jens Hansen")
    ("'aarhus'", '(a value that is no id)', '(a value that is no id)')
    """
    return repr(value) if is_id(value) else "(a value that is no id)"


def suggest(name: object, known: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for a misspelt id, or nothing (a value that is no id is never echoed).

    >>> suggest("withdrawl_symptoms", ["withdrawal_symptoms", "seizures"])
    " (did you mean 'withdrawal_symptoms'?)"
    >>> suggest("010203-1234", ["seizures"])
    ''
    """
    if not is_id(name):
        return ""
    import difflib  # noqa: PLC0415 - only on the error path; importing ansvar stays light

    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _pattern(ctx: Mapping[str, Any]) -> str:
    pattern = str(ctx.get("pattern", ""))
    if pattern == ID_PATTERN:
        return "must be an id: lower-case ASCII letters, digits and _, starting with a letter, at most 64"
    if pattern == rf"{ID_PATTERN.removesuffix('$')}\.{ID_PATTERN.removeprefix('^')}":
        return "must be `actor.action`: two ids joined by a dot"
    if pattern.strip("^$") == rf"{_ID.pattern}\.{_ID.pattern}":
        return "must be `actor.action`: two ids joined by a dot"
    return f"must match {pattern}"


#: ansvar's words for pydantic's error types. The types are pydantic's documented, stable ids; its messages
#: are not ansvar's to promise, so none reaches a user.
_WORDS: dict[str, Any] = {
    "missing": "required",
    **dict.fromkeys(("bool_type", "bool_parsing"), "must be true or false"),
    **dict.fromkeys(("int_type", "int_parsing", "int_from_float"), "must be a whole number"),
    "string_type": "must be a string",
    "literal_error": lambda ctx: f"must be one of {ctx.get('expected', '(see the schema)')}",
    "greater_than_equal": lambda ctx: f"must be at least {ctx.get('ge')}",
    "less_than_equal": lambda ctx: f"must be at most {ctx.get('le')}",
    "greater_than": lambda ctx: f"must be more than {ctx.get('gt')}",
    "less_than": lambda ctx: f"must be less than {ctx.get('lt')}",
    "string_pattern_mismatch": _pattern,
    "string_too_short": lambda ctx: "must not be empty" if ctx.get("min_length") == 1 else
    f"must be at least {ctx.get('min_length')} characters",
    "string_too_long": lambda ctx: f"must be at most {ctx.get('max_length')} characters",
    "too_short": lambda ctx: f"must hold at least {ctx.get('min_length')} item(s)",
    "too_long": lambda ctx: f"must hold at most {ctx.get('max_length')} item(s)",
    **dict.fromkeys(("date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact",
                     "date_future", "date_past"), "must be a date (YYYY-MM-DD)"),
    **dict.fromkeys(("dict_type", "model_type", "model_attributes_type", "mapping_type"),
                    "must be a mapping"),
    **dict.fromkeys(("list_type", "tuple_type", "set_type", "frozen_set_type"), "must be a list"),
    **dict.fromkeys(("value_error", "assertion_error"), lambda ctx: str(ctx.get("error", "invalid"))),
}


def describe(error: Mapping[str, Any], known: Iterable[str] = (), unknown: str = "unknown key") -> str:
    """The message ansvar gives for one pydantic error, by its `type`; never the value that was given.

    `known`: for an unknown key, the keys it may have meant; `unknown`: what such a key is called.

    >>> describe({"type": "greater_than_equal", "loc": ("n",), "ctx": {"ge": 0}})
    'must be at least 0'
    >>> describe({"type": "extra_forbidden", "loc": ("seizurs",)}, ["seizures"], "unknown fact")
    "unknown fact (did you mean 'seizures'?)"
    """
    kind = str(error.get("type", ""))
    if kind == "extra_forbidden":
        loc = tuple(error.get("loc", ()))
        return unknown + (suggest(loc[-1], known) if loc else "")
    words = _WORDS.get(kind)
    if words is None:
        return str(error.get("msg", "invalid"))
    return words(error.get("ctx") or {}) if callable(words) else str(words)


class AnsvarError(Exception):
    """Root of every error ansvar raises on purpose."""


class SituationError(AnsvarError, ValueError):
    """A situation that does not validate; `errors` holds one entry per field, as pydantic reports them.

    Only the location and the kind of each problem are kept, never the offending value: a situation is
    health data, and an exception message ends up in logs.
    """

    def __init__(self, errors: Sequence[Mapping[str, Any]], *, where: str | None = None) -> None:
        self.errors: list[dict[str, Any]] = [
            {"loc": tuple(field(p) for p in e.get("loc", ())), "msg": str(e.get("msg", "")),
             "type": str(e.get("type", ""))}
            for e in errors
        ]
        self.where = where
        parts = [f"{_loc(e['loc'])}: {e['msg']}" for e in self.errors[:MAX_LISTED]]
        more = f" (and {len(self.errors) - MAX_LISTED} more)" if len(self.errors) > MAX_LISTED else ""
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}invalid situation: " + "; ".join(parts) + more)

    def at(self, where: str) -> SituationError:
        """The same error, said of the situation at `where` (a file, or an index of a batch)."""
        return SituationError(self.errors, where=_within(where, self.where))


class IncompleteSituationError(SituationError):
    """Refused to answer on assumptions (`route(..., complete=True)`): facts that matter were not stated.

    `questions` holds the open questions (`ansvar.OpenQuestion`); `errors` one entry per fact, its Danish
    question as the message. Neither holds a value of the situation.
    """

    def __init__(self, questions: Sequence[Any], *, where: str | None = None) -> None:
        self.questions = tuple(questions)
        super().__init__([{"loc": (q.fact,), "msg": f"ikke oplyst: {q.question}", "type": "not_stated"}
                          for q in self.questions], where=where)
        shown = "; ".join(f"{q.fact}: {q.question}" for q in self.questions[:MAX_LISTED])
        more = f" (and {len(self.questions) - MAX_LISTED} more)" if len(self.questions) > MAX_LISTED else ""
        prefix = f"{where}: " if where else ""
        self.args = (f"{prefix}incomplete situation: the answer depends on facts not stated: {shown}{more}",)

    def at(self, where: str) -> IncompleteSituationError:
        """The same error, said of the situation at `where`."""
        return IncompleteSituationError(self.questions, where=_within(where, self.where))


class UnknownEventError(AnsvarError, LookupError):
    """A municipality or event no loaded rule pack covers; lists the known ones.

    `value` is what was asked for. The message never quotes it, id-shaped or not (a person's name in lower
    case has the shape of an id): it names the known ones, and for a near miss the known one meant
    (`unknown municipality (did you mean 'aalborg'?); known: aalborg, rebild`). Nor do `args` or `repr` hold
    it. `where`: which situation asked (e.g. `situation 3` of a batch, or a file), when known.
    """

    def __init__(self, what: str, value: str, known: Iterable[str], *, where: str | None = None) -> None:
        self.what = what
        self.value = value
        self.known = sorted(known)
        self.where = where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}unknown {what}{suggest(value, self.known)}; "
                         f"known: {', '.join(self.known) or '(none)'}")

    def at(self, where: str) -> UnknownEventError:
        """The same error, said of the situation at `where` (outside any place it named already)."""
        return UnknownEventError(self.what, self.value, self.known, where=_within(where, self.where))

    def __reduce__(self) -> tuple[Any, ...]:
        # `args` holds the message alone: rebuilt from the members (a worker's error reaches its parent)
        return _unknown_event, (self.what, self.value, self.known, self.where)


def _unknown_event(what: str, value: str, known: list[str], where: str | None) -> UnknownEventError:
    return UnknownEventError(what, value, known, where=where)


class UnknownActorError(UnknownEventError):
    """An actor the contract does not know (`why_not`); an `UnknownEventError`, as before it had a name."""


class RuleError(AnsvarError):
    """A rule file that does not load; carries the file, line and column (1-based) of the problem."""

    def __init__(self, message: str, path: Path | str | None, line: int | None = None,
                 column: int | None = None) -> None:
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line
        self.column = column
        #: When one step of loading found several problems (a file's schema errors): every one of them.
        self.all: list[RuleError] = []
        super().__init__(f"{self.location}: {message}")

    @property
    def location(self) -> str:
        """`file:line:column` as editors and compilers print it."""
        return location(self.path, self.line, self.column)


class RoutingError(AnsvarError):
    """The rules loaded, but gave no single answer for a situation: a defect in the rule pack.

    `message`: what went wrong; `where`: which situation (e.g. `situation 3` of a batch), when known.
    """

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)

    def at(self, where: str) -> Self:
        """The same error, of the same class, said of the situation at `where` (outside any place named)."""
        return type(self)(self.message, where=_within(where, self.where))


class NoResponsibleError(RoutingError):
    """No fired rule named a responsible actor: 'nobody responsible' is never a silent empty answer."""


class ConflictError(RoutingError):
    """Two fired rules of the same priority name different responsible actors."""


class EngineError(AnsvarError):
    """durable_rules reported an error while evaluating; the session was discarded."""


def _within(outer: str, inner: str | None) -> str:
    return outer if inner is None else f"{outer}: {inner}"


def location(path: Path | None, line: int | None = None, column: int | None = None) -> str:
    """`file:line:column` as editors print it (`<rules>` for no file; a part left out when unknown).

    >>> location(Path("rules/aalborg/afrusning.yaml"), 12, 5), location(None)
    ('rules/aalborg/afrusning.yaml:12:5', '<rules>')
    """
    where = str(path) if path is not None else "<rules>"
    if line is not None:
        where += f":{line}"
        if column is not None:
            where += f":{column}"
    return where


def field(part: object) -> str | int:
    """A part of a location as a message shows it: a field, an index, or `(no id)` (may be a CPR number)."""
    if isinstance(part, int):
        return part
    return part if isinstance(part, str) and is_id(part) else "(no id)"


def _loc(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc) or "(situation)"
