"""The one family of errors ansvar raises; every one is an `AnsvarError`.

No error ever comes with a partial Decision: routing either answers whole or raises one of these.
Messages are English and quote the Danish values; none of them repeats a citizen's data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

#: The shape of every id ansvar knows (facts, events, municipalities, actors). Only a value of this shape
#: is ever repeated in a message: a CPR number or a person's name never has it.
_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")


def is_id(value: object) -> bool:
    """Whether a value has the shape of an id (a fact, event, municipality, actor): only such are quoted."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def shown(value: object) -> str:
    """A value as a message may quote it: an id as itself, anything else withheld (it may be health data).

    >>> shown("aarhus"), shown("010203-1234"), shown("Jens Hansen")
    ("'aarhus'", '(a value that is no id)', '(a value that is no id)')
    """
    return repr(value) if is_id(value) else "(a value that is no id)"


class AnsvarError(Exception):
    """Root of every error ansvar raises on purpose."""


class SituationError(AnsvarError, ValueError):
    """A situation that does not validate; `errors` holds one entry per field, as pydantic reports them.

    Only the location and the kind of each problem are kept, never the offending value: a situation is
    health data, and an exception message ends up in logs.
    """

    def __init__(self, errors: Sequence[Mapping[str, Any]], *, where: str | None = None) -> None:
        self.errors: list[dict[str, Any]] = [
            {"loc": tuple(_field(p) for p in e.get("loc", ())), "msg": str(e.get("msg", "")),
             "type": str(e.get("type", ""))}
            for e in errors
        ]
        self.where = where
        parts = [f"{_loc(e['loc'])}: {e['msg']}" for e in self.errors]
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}invalid situation: " + "; ".join(parts))


class UnknownEventError(AnsvarError, LookupError):
    """A municipality or event no loaded rule pack covers; lists the known ones.

    `value` is what was asked for; the message quotes it only when it has the shape of an id.
    """

    def __init__(self, what: str, value: str, known: Iterable[str]) -> None:
        self.what = what
        self.value = value
        self.known = sorted(known)
        super().__init__(f"unknown {what} {shown(value)}; known: {', '.join(self.known) or '(none)'}")


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
        where = str(self.path) if self.path is not None else "<rules>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where


class RoutingError(AnsvarError):
    """The rules loaded, but gave no single answer for a situation: a defect in the rule pack."""


class NoResponsibleError(RoutingError):
    """No fired rule named a responsible actor: 'nobody responsible' is never a silent empty answer."""


class ConflictError(RoutingError):
    """Two fired rules of the same priority name different responsible actors."""


class EngineError(AnsvarError):
    """durable_rules reported an error while evaluating; the session was discarded."""


def _field(part: object) -> object:
    # A location names fields and list indexes; an unknown key that is no id may itself be a CPR number.
    return part if isinstance(part, int) or is_id(part) else "(no id)"


def _loc(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc) or "(situation)"
