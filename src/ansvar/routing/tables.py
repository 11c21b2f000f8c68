"""A pack's outcome table kept on disk, so that a fresh process does not evaluate the whole grid again.

The table (`ansvar.routing.unknowns.OutcomeTable`) is the answer at every point of a pack's grid, computed
from the pack alone: it holds no situation of anybody, only the pack's own leads, steps and warnings. A
process that builds one keeps it in ansvar's cache folder (`ansvar._cache`: `ANSVAR_CACHE_DIR`, set empty
to keep nothing on disk), and the next process reads it instead.

Safe to lose, never trusted blindly. The entry's name is a hash of everything the table is computed from:
the pack's content hash (its event file, layers and rule files), its compiled engine rules, its event's
facts (the common ones included), its grid, and the source of ansvar itself, so a changed pack or another
ansvar version never reads another's table. Past the checks every entry gets (written whole, format, name,
digest), a table is read only if the size of the grid and every outcome check out (actors of the pack,
ids of the outcome list). Anything else is ignored: the table is evaluated as before.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ansvar import _cache

if TYPE_CHECKING:
    from ansvar.packs.loader import Pack

FORMAT = 1
KIND = "tables"
_DEFECTS = frozenset({None, "NoResponsibleError", "ConflictError"})

#: One outcome as kept: lead, defect, steps, warnings, done steps (the fields of `unknowns.Outcome`).
Row = tuple[str | None, str | None, tuple[str, ...], tuple[str, ...], tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Key:
    """What a table is computed from, as this module needs it.

    The pack, its grid (each dimension's name, values, ranges and default) and the number of points.
    """

    pack: Pack
    grid: tuple[tuple[object, ...], ...]
    size: int


@functools.cache
def _code_digest() -> str:
    """A digest of ansvar's own source: a table computed by other code is never read."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def table_key(table: Key) -> str:
    """The name of a table's file: a hash of everything the table is computed from."""
    pack = table.pack
    material = {
        "format": FORMAT, "code": _code_digest(), "pack": pack.content_hash,
        "rules": hashlib.sha256(pack.ruleset._json.encode()).hexdigest(),  # noqa: SLF001 - its compiled rules
        "facts": {name: spec.model_dump(mode="json") for name, spec in pack.definition.facts.items()},
        "grid": [list(map(repr, dim)) for dim in table.grid], "size": table.size,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def load(table: Key) -> tuple[list[Row], list[int]] | None:
    """The table's outcomes and the outcome id at each point, as a process stored them; None if none fits."""
    if _cache.cache_dir() is None:  # nothing kept on disk: not even the key is worth computing
        return None
    try:
        body = _cache.read(KIND, table_key(table), FORMAT)
        if body is None:
            return None
        data = json.loads(body)
        outcomes = [_outcome(item, table) for item in data["outcomes"]]
        values = data["table"]
        # Every value an outcome id: checked in C (a table has up to 100,000 of them).
        if (not isinstance(values, list) or len(values) != table.size
                or (values and (set(map(type, values)) != {int} or min(values) < 0
                                or max(values) >= len(outcomes)))):
            return None
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RuntimeError):
        return None
    return outcomes, values


def _outcome(item: Any, table: Key) -> Row:  # noqa: ANN401 - JSON data
    responsible, defect, steps, warnings, done = item
    actors = table.pack.actors
    if (responsible is not None and responsible not in actors) or defect not in _DEFECTS:
        raise ValueError
    parts = (steps, warnings, done)
    if not all(isinstance(p, list) and all(isinstance(s, str) for s in p) for p in parts):
        raise ValueError
    return responsible, defect, tuple(steps), tuple(warnings), tuple(done)


def store(table: Key, outcomes: Sequence[Row], values: list[int]) -> None:
    """Keep a table on disk for the next process (`ansvar._cache.write`: any failure is ignored)."""
    if _cache.cache_dir() is None:
        return
    try:
        key = table_key(table)
        body = json.dumps({"outcomes": [list(row) for row in outcomes], "table": values}, ensure_ascii=False,
                          separators=(",", ":")).encode()
    except (OSError, ValueError, TypeError, RuntimeError):
        return
    _cache.write(KIND, key, FORMAT, body)
