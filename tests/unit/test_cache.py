"""What ansvar keeps between calls is bounded, and forgets the least recently used first."""

from __future__ import annotations

import datetime as dt

import ansvar
from ansvar.routing import build, unknowns
from ansvar.routing.cache import LRU

ON = dt.date(2026, 11, 23)


def test_a_full_cache_drops_the_least_recently_used_entry_only() -> None:
    cache: LRU[int, str] = LRU(3)
    for key in range(3):
        cache.put(key, str(key))
    assert cache.get(0) == "0"  # 0 is now the most recently used
    cache.put(3, "3")
    assert list(cache) == [2, 0, 3]
    assert 1 not in cache
    assert cache.get(1) is None
    for key in range(100):
        cache.put(key + 10, "x")
    assert len(cache) == 3


def test_the_router_caches_are_bounded_lrus() -> None:
    router = ansvar.Router()
    router.route({"municipality": "aalborg", "event": "afrusning"}, on=ON)
    answers = router._answers(router.pack("aalborg", "afrusning"))
    table = unknowns.table_for(answers)
    for cache in (answers.decisions, answers._due, table._grids, table.questions):
        assert isinstance(cache, LRU)
        assert cache.size in {build.MAX_CACHED, unknowns.MAX_GRIDS}


def test_a_kept_weighed_decision_still_evaluates_and_answers_as_a_fresh_router() -> None:
    """Routes kept whole by (rules fired, grid classes, date, unstated dates) answer as a fresh router does,
    the engine still evaluates every route, and a key holds rule and fact names, classes and the date only."""
    from ansvar import engine  # noqa: PLC0415

    router = ansvar.Router()
    situations = [{"municipality": "aalborg", "event": "afrusning", "administrations_per_day": n,
                   "residence": "forsorgshjem"} for n in (2, 3, 4, 5, 40)]
    first = [router.route(s, on=ON) for s in situations]
    sessions = engine.last_session_id()
    again = [router.route(s, on=ON) for s in situations]
    assert engine.last_session_id() == sessions + len(situations)  # one engine session per route
    assert again == first == [ansvar.Router().route(s, on=ON) for s in situations]
    assert router.route_many(situations, on=ON) == first
    kept = router._loaded.routes[("aalborg", "afrusning")].kept
    assert 0 < len(kept) <= build.MAX_CACHED
    for fired, classes, on, unstated in kept:
        assert all(isinstance(name, str) for name in fired)
        assert all(isinstance(k, int) for k in classes)
        assert on == ON
        assert all(isinstance(name, str) for name in unstated)
        assert not {"forsorgshjem", 40} & set(classes)  # class numbers, never the values


def test_route_many_holds_one_chunk_of_situations_at_a_time() -> None:
    """A large batch keeps its Decisions, not every situation's validated model and engine fact at once."""
    import weakref  # noqa: PLC0415

    from ansvar.routing import router as routing  # noqa: PLC0415

    router = ansvar.Router()
    batch = [{"municipality": "aalborg", "event": "koerekort_alkohol"}] * (5 * routing.ROUTE_CHUNK)
    alive: weakref.WeakSet[object] = weakref.WeakSet()
    most = [0]
    parse = router.parse_situation

    def counting(data: object, **kwargs: object) -> object:
        parsed = parse(data, **kwargs)  # type: ignore[arg-type]
        alive.add(parsed)  # a model holds no cycle: freed as soon as nothing refers to it
        most[0] = max(most[0], len(alive))
        return parsed

    router.parse_situation = counting  # type: ignore[assignment, method-assign]
    decisions = router.route_many(batch, on=ON)
    assert len(decisions) == len(batch)
    assert most[0] <= routing.ROUTE_CHUNK + 1


def test_a_decision_that_reads_a_citizens_date_keeps_only_the_hit_policys_result_by_rule_names() -> None:
    """Built for each call (its deadline counts from the citizen's own date), answering as a fresh router;
    what is kept is the resolution, keyed by the names of the rules that fired, and never a pack defect."""
    router = ansvar.Router()
    situations = [{"municipality": "rebild", "event": "behandlingsforloeb", "treatment_ended_on": day,
                   "consent_medcom": True} for day in ("2026-01-31", "2026-02-28", "2026-10-30", "2026-11-20")]
    first = [router.route(s, on=ON) for s in situations]
    assert [router.route(s, on=ON) for s in situations] == first == [ansvar.Router().route(s, on=ON)
                                                                       for s in situations]
    dues = [{step.due for step in decision.steps if step.due_from == "treatment_ended_on"} for decision in first]
    assert all(dues) and len(set().union(*dues)) == sum(map(len, dues))  # each from its own date, none shared
    assert all(due > dt.date.fromisoformat(s["treatment_ended_on"]) for s, its in zip(situations, dues) for due in its)
    answers = router._answers(router.pack("rebild", "behandlingsforloeb"))
    assert isinstance(answers.resolutions, LRU) and answers.resolutions.size == build.MAX_CACHED
    assert 0 < len(answers.resolutions)
    rules = set(router.pack("rebild", "behandlingsforloeb").rules)
    for fired, resolution in answers.resolutions.items():
        assert all(isinstance(name, str) for name in fired)
        assert set(resolution.fired) <= rules and resolution.defect is None
    nobody = answers.resolution(frozenset())  # no rule fired: nobody is responsible, a defect
    assert nobody.defect is not None
    assert frozenset() not in answers.resolutions
