"""route_many over worker processes, for large batches on all cores.

The workers evaluate exactly the packs the parent holds: the parent hands them the bytes of every rule and
event file its packs were loaded from (a `Snapshot`), never the directories, so a file edited on disk
since the parent loaded (without `reload()`) changes nothing. Each worker writes the snapshot to a private
temporary folder, loads it once, removes the folder, and routes whole chunks with the batched engine path;
the Decisions come back pickled, in order, and the parent checks each answered from its own pack (content
hash). Workers start with `spawn`: the engine makes a fork wait for its lock (`ansvar.engine`), but a fork
of a process with threads may still copy some other lock held, which `spawn` never does.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ansvar.errors import EngineError
from ansvar.model.events import EventDefinitions, load_events

if TYPE_CHECKING:
    from ansvar.model.decision import Decision
    from ansvar.model.events import SituationBase


class _Routes(Protocol):
    def route_many(self, situations: Sequence[Mapping[str, Any]], on: dt.date) -> list[Decision]: ...


#: Makes the worker's router over folders of files and the events loaded from them (`Router._in_worker`).
Factory = Callable[[Sequence[Path], EventDefinitions], _Routes]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The bytes of every file a router's packs were loaded from, by the rule directory holding it."""

    rule_dirs: tuple[Path, ...]
    files: Mapping[Path, bytes]  # rule files, and event files (the shipped ones outside every rule dir)

    def write(self, root: Path) -> tuple[list[Path], Path]:
        """The files under `root`, each rule directory keeping its name: the rule dirs, the events' folder."""
        dirs = []
        for number, rule_dir in enumerate(self.rule_dirs):
            dirs.append(root / str(number) / rule_dir.name)
            dirs[-1].mkdir(parents=True)
        events = root / "events"
        events.mkdir()
        for path, raw in self.files.items():
            home = next(((d, t) for d, t in zip(self.rule_dirs, dirs, strict=True) if path.is_relative_to(d)),
                        None)
            target = home[1] / path.relative_to(home[0]) if home else events / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(raw)
        return dirs, events


_router: list[_Routes] = []  # the worker's own router, set once by _start


def _start(snapshot: Snapshot, factory: Factory) -> None:
    root = Path(tempfile.mkdtemp(prefix="ansvar-worker-"))
    try:
        dirs, events = snapshot.write(root)
        _router.append(factory(dirs, load_events(events)))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _route(chunk: list[dict[str, Any]], on: dt.date) -> list[Decision]:
    return _router[0].route_many(chunk, on)


@dataclass(frozen=True, slots=True)
class Workers:
    """What worker processes need: the parent's files, how to build a router, and its packs' hashes."""

    snapshot: Snapshot
    factory: Factory
    hashes: Mapping[tuple[str, str], str]  # content hash of each (municipality, event) pack of the parent

    def route_many(self, situations: Sequence[SituationBase], on: dt.date, processes: int,
                   chunk: int) -> list[Decision]:
        """Route validated situations in `processes` spawned workers, `chunk` at a time; same order.

        A worker's answer from another pack than the parent's is an `EngineError` (it cannot happen unless
        the snapshot is incomplete).
        """
        plain = [s.model_dump(exclude_unset=True) for s in situations]  # unstated stays unstated
        chunks = [plain[start:start + chunk] for start in range(0, len(plain), chunk)]
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(processes, mp_context=context, initializer=_start,
                                 initargs=(self.snapshot, self.factory)) as executor:
            results = executor.map(_route, chunks, [on] * len(chunks))
            decisions = [decision for part in results for decision in part]
        for decision in decisions:
            if self.hashes.get((decision.municipality, decision.event)) != decision.pack.content_hash:
                msg = "a worker process answered from other rule files than this router's"
                raise EngineError(msg)
        return decisions
