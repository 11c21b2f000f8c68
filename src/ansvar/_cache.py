"""ansvar's folder on disk for what a fresh process would otherwise compute again, from packs alone.

Two kinds of entry are kept, each in a subfolder of its own: outcome tables (`ansvar.routing.tables`) and
parsed rule and event files (`ansvar._yaml.SpecFile`). Neither ever holds a situation: both are computed
from the packs' own files. The folder is `ANSVAR_CACHE_DIR` (set empty: nothing is kept on disk), else
`$XDG_CACHE_HOME/ansvar`, `~/.cache/ansvar`, or `%LOCALAPPDATA%/ansvar` on Windows.

Safe to lose, never trusted blindly. An entry's name is a hash of everything it is computed from (the caller
says what), so a changed file or another ansvar never reads another's entry. It is written whole under a
temporary name, then renamed into place, and starts with a line holding its format, its own name and a
digest of the rest: it is read only if all three check out. Anything else (no folder, unwritable,
unreadable, damaged, another format, larger than `MAX_ENTRY_BYTES`) reads as no entry at all; the caller
then computes it as before. At most `MAX_ENTRIES` of a kind are kept: those written longest ago go first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

#: An entry larger than this is not read (the largest shipped outcome table is ~0.2 MB, a parsed file ~0.02).
MAX_ENTRY_BYTES = 64 * 2**20
#: At most this many entries of each kind are kept; past it, those written longest ago are removed.
MAX_ENTRIES = 4096


def cache_dir() -> Path | None:
    """The folder entries are kept in, or None when `ANSVAR_CACHE_DIR` is set empty."""
    configured = os.environ.get("ANSVAR_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured else None
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return Path(base) / "ansvar" if base else None
    base = os.environ.get("XDG_CACHE_HOME") or ""
    return (Path(base) if base else Path.home() / ".cache") / "ansvar"


def entry_path(kind: str, key: str) -> Path | None:
    """Where the entry `key` of `kind` (a subfolder) is kept, or None with no cache folder."""
    folder = cache_dir()
    return folder / kind / f"{key}.json" if folder is not None else None


def read(kind: str, key: str, fmt: int) -> bytes | None:
    """The body of an entry whose header checks out (format, name and digest), else None (or if too large)."""
    try:
        path = entry_path(kind, key)
        if path is None:
            return None
        with path.open("rb") as file:
            raw = file.read(MAX_ENTRY_BYTES + 1)
        if len(raw) > MAX_ENTRY_BYTES:
            return None
        header, _, body = raw.partition(b"\n")
        meta = json.loads(header)
        if (not isinstance(meta, dict) or meta.get("format") != fmt or meta.get("key") != key
                or meta.get("digest") != hashlib.sha256(body).hexdigest()):
            return None
    except (OSError, ValueError, RuntimeError):
        return None
    return body


def write(kind: str, key: str, fmt: int, body: bytes) -> None:
    """Keep an entry for the next process: written whole, then renamed into place; any failure is ignored."""
    try:
        path = entry_path(kind, key)
        if path is None:
            return
        header = json.dumps({"format": fmt, "key": key, "digest": hashlib.sha256(body).hexdigest()})
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(header.encode() + b"\n" + body)
            Path(temporary).replace(path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _prune(path.parent)
    except (OSError, ValueError, TypeError, RuntimeError):
        return


def _prune(folder: Path) -> None:
    """Keep at most `MAX_ENTRIES` entries in `folder`: a folder of edited rule files would grow for ever."""
    entries = list(folder.glob("*.json"))
    if len(entries) <= MAX_ENTRIES:
        return
    written: list[tuple[float, Path]] = []
    for entry in entries:
        with contextlib.suppress(OSError):  # another process removed it already
            written.append((entry.stat().st_mtime, entry))
    written.sort()
    for _, entry in written[:len(written) - MAX_ENTRIES]:
        entry.unlink(missing_ok=True)
