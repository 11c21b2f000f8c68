"""route_many over worker processes, for large batches on all cores.

Each worker loads the rule packs once (from the same directories) and routes whole chunks with the
batched engine path; the Decisions come back pickled, in order. Workers start with `spawn`: forking a
process while another thread holds the engine's lock would leave the child's copy locked forever.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ansvar.model.decision import Decision
    from ansvar.model.situation import SituationBase
    from ansvar.routing.router import Router

_router: list[Router] = []  # the worker's own router, set once by _start


def _start(rule_dirs: Sequence[Path]) -> None:
    from ansvar.routing.router import Router  # noqa: PLC0415 - in the worker

    _router.append(Router(rule_dirs))


def _route(chunk: list[dict[str, Any]], on: dt.date) -> list[Decision]:
    return _router[0].route_many(chunk, on)


def route_many(rule_dirs: Sequence[Path], situations: Sequence[SituationBase], on: dt.date, processes: int,
               chunk: int) -> list[Decision]:
    """Route validated situations in `processes` spawned workers, `chunk` at a time; same order."""
    plain = [s.model_dump() for s in situations]
    chunks = [plain[start:start + chunk] for start in range(0, len(plain), chunk)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context, initializer=_start,
                             initargs=(tuple(rule_dirs),)) as executor:
        results = executor.map(_route, chunks, [on] * len(chunks))
        return [decision for part in results for decision in part]
