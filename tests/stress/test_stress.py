"""Stress and soak: many threads, a long run, failures in between, worker processes. Short by default;
`pytest tests/stress --soak` runs the full sizes (16 threads x 10,000 routes; 1,000,000 routes)."""

from __future__ import annotations

import datetime as dt
import itertools
import multiprocessing
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest

import ansvar
from ansvar import engine
from ansvar.analysis.space import SituationSpace
from tests.fixtures import ON

pytestmark = pytest.mark.stress

Corpus = list[dict[str, Any]]


@pytest.fixture(scope="module")
def router() -> ansvar.Router:
    """The router over the shipped packs."""
    return ansvar.default_router()


@pytest.fixture(scope="module")
def corpus(router: ansvar.Router) -> Corpus:
    """Situations of every shipped pack, a spread of each one's cases, interleaved across packs."""
    per_pack = []
    for municipality in router.municipalities():
        for event in router.events(municipality):
            space = SituationSpace([router.pack(municipality, event)], ON)
            step = max(1, space.size // 120)
            per_pack.append([{"municipality": municipality, **s} for s in itertools.islice(space, 0, None, step)])
    return [s for group in itertools.zip_longest(*per_pack) for s in group if s is not None]


@pytest.fixture(scope="module")
def serial(router: ansvar.Router, corpus: Corpus) -> list[ansvar.Decision]:
    """The corpus routed one by one in this thread: the answers every other way of routing must give."""
    return [router.route(s, on=ON) for s in corpus]


def _rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_corpus_spans_every_pack(router: ansvar.Router, corpus: Corpus) -> None:
    """The stress corpus holds situations of every shipped (municipality, event)."""
    covered = {(s["municipality"], s["event"]) for s in corpus}
    assert covered == {(m, e) for m in router.municipalities() for e in router.events(m)}
    assert len(corpus) > 300


def test_sixteen_threads_agree_with_the_serial_answers(router: ansvar.Router, corpus: Corpus,
                                                       serial: list[ansvar.Decision], soak: bool) -> None:
    """16 threads routing mixed situations (single, batched, outlined) get exactly the serial answers."""
    per_thread = 10_000 if soak else 250
    wrong: list[str] = []

    def work(offset: int) -> None:
        for n in range(per_thread):
            i = (offset * 7919 + n) % len(corpus)
            if n % 10 == 0:  # a small batch
                batch = [(i + k) % len(corpus) for k in range(5)]
                got = router.route_many([corpus[k] for k in batch], on=ON)
                if got != [serial[k] for k in batch]:
                    wrong.append(f"route_many at {i}")
            elif n % 10 == 1:
                if router.outline(corpus[i], ON).responsible != serial[i].responsible:
                    wrong.append(f"outline at {i}")
            elif router.route(corpus[i], on=ON) != serial[i]:
                wrong.append(f"route at {i}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    assert engine.live_sessions() == 0


def test_a_long_run_keeps_memory_flat_and_no_session(router: ansvar.Router, corpus: Corpus,
                                                     soak: bool, capsys: pytest.CaptureFixture[str]) -> None:
    """Routes in one process (1,000,000 with --soak): resident memory stays flat, no session stays behind."""
    total = 1_000_000 if soak else 20_000
    router.route_many(corpus * 3, on=ON)  # warm every cache first
    for situation in corpus:
        router.route(situation, on=ON)
    before = _rss_mib()
    first_sid = engine.last_session_id()
    done = 0
    while done < total:
        chunk = corpus[: min(len(corpus), total - done)]
        if (done // len(corpus)) % 2:
            router.route_many(chunk, on=ON)
        else:
            for situation in chunk[:200]:
                router.route(situation, on=ON)
            router.route_many(chunk[200:], on=ON)
        done += len(chunk)
    after = _rss_mib()
    with capsys.disabled():
        print(f"\n  {total} routes: RSS {before:.1f} MiB before, {after:.1f} MiB after "
              f"({after - before:+.1f} MiB); sessions opened {engine.last_session_id() - first_sid}, "
              f"live {engine.live_sessions()}")
    assert engine.live_sessions() == 0
    assert after - before < (64 if soak else 24)
    last = str(engine.last_session_id())
    pack = router.pack(corpus[-1]["municipality"], corpus[-1]["event"])
    assert not engine.session_exists(pack.ruleset, last)


def _raising(name: str) -> None:
    raise RuntimeError(name)


FAILURES: list[tuple[str, Callable[[ansvar.Router, Corpus], object], type[BaseException]]] = [
    ("a string for a boolean", lambda router, corpus: router.route({**corpus[0], "anonymous": "ja"}, on=ON),
     ansvar.SituationError),
    ("an unknown fact", lambda router, corpus: router.route({**corpus[1], "cpr": "010203-1234"}, on=ON),
     ansvar.SituationError),
    ("an unknown municipality",
     lambda router, corpus: router.route({**corpus[2], "municipality": "hjoerring"}, on=ON),
     ansvar.UnknownEventError),
    ("before the guide", lambda router, _: router.route({"municipality": "rebild", "event": "udredning"},
                                                        on=dt.date(2024, 1, 1)), ansvar.RoutingError),
    ("a bad one inside a batch",
     lambda router, corpus: router.route_many([*corpus[:50], {"event": "x"}, *corpus[50:99]], on=ON),
     ansvar.AnsvarError),
    ("an action that raises", lambda router, _: router.pack("aalborg", "afrusning").ruleset.evaluate(
        {"seizures": True}, _raising), RuntimeError),
    ("an action that raises in a batch",
     lambda router, _: router.pack("aalborg", "afrusning").ruleset.evaluate_many(
         [{"seizures": True}] * 20, lambda _i, name: _raising(name)), RuntimeError),
]


@pytest.mark.parametrize("failure", FAILURES, ids=[f[0] for f in FAILURES])
def test_failures_in_between_leave_nothing_behind(failure: tuple[str, Callable[[ansvar.Router, Corpus], object],
                                                                 type[BaseException]],
                                                  router: ansvar.Router, corpus: Corpus,
                                                  serial: list[ansvar.Decision], soak: bool) -> None:
    """Each failure raises its own error, leaves no session, and the next routes are right."""
    what, fail, error = failure
    for round_ in range(200 if soak else 20):
        with pytest.raises(error):
            fail(router, corpus)
        assert engine.live_sessions() == 0, what
        i = (round_ * 31) % len(corpus)
        assert router.route(corpus[i], on=ON) == serial[i]
        assert router.route_many(corpus[i:i + 3], on=ON) == serial[i:i + 3]


def _route_in_worker(situations: Corpus) -> list[tuple[str, frozenset[str]]]:
    router = ansvar.default_router()
    return [(router.route(situation, on=ON).responsible,
             frozenset(f"{s.actor}.{s.action}" for s in router.route(situation, on=ON).steps))
            for situation in situations]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_worker_processes_route_correctly(method: str, corpus: Corpus, serial: list[ansvar.Decision]) -> None:
    """Workers started by fork (sharing the loaded engine) and by spawn (loading anew) answer as here."""
    sample = list(range(0, len(corpus), max(1, len(corpus) // 60)))
    chunks = [sample[k::3] for k in range(3)]
    with multiprocessing.get_context(method).Pool(2) as pool:
        results = pool.map(_route_in_worker, [[corpus[i] for i in chunk] for chunk in chunks])
    for chunk, got in zip(chunks, results, strict=True):
        assert got == [(serial[i].responsible, frozenset(f"{s.actor}.{s.action}" for s in serial[i].steps))
                       for i in chunk]
    assert engine.live_sessions() == 0


def test_route_many_over_processes_equals_serial(router: ansvar.Router, corpus: Corpus,
                                                 serial: list[ansvar.Decision]) -> None:
    """route_many(processes=2) gives the same Decisions, in order, as routing each situation here."""
    situations = (corpus * (4000 // len(corpus) + 1))[:4000]
    expected = [serial[i % len(corpus)] for i in range(4000)]
    assert router.route_many(situations, on=ON, processes=2) == expected
