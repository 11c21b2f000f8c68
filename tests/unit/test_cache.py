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


def _counting_models(router: ansvar.Router) -> tuple[list[int], list[int]]:
    """Count the models `router.parse_situation` makes: the most alive at once, and how many in all."""
    import weakref  # noqa: PLC0415

    alive, most, made = [0], [0], [0]
    parse = router.parse_situation

    def freed() -> None:
        alive[0] -= 1

    def counting(data: object, **kwargs: object) -> object:
        parsed = parse(data, **kwargs)  # type: ignore[arg-type]
        # Counted by identity (a WeakSet would count equal models once): a model holds no cycle, so it is
        # freed, and counted out, as soon as nothing refers to it.
        weakref.finalize(parsed, freed)
        alive[0] += 1
        made[0] += 1
        most[0] = max(most[0], alive[0])
        return parsed

    router.parse_situation = counting  # type: ignore[assignment, method-assign]
    return most, made


def test_route_many_holds_one_chunk_of_situations_at_a_time() -> None:
    """A large batch keeps its Decisions, not every situation's validated model and engine fact at once."""
    from ansvar.routing import router as routing  # noqa: PLC0415

    router = ansvar.Router()
    batch = [{"municipality": "aalborg", "event": "koerekort_alkohol"}] * (routing.KEEP_VALIDATED + 1)
    most, _made = _counting_models(router)
    decisions = router.route_many(batch, on=ON)
    assert len(decisions) == len(batch)
    assert most[0] <= routing.ROUTE_CHUNK + 1


def test_a_batch_within_the_bound_validates_each_situation_once_and_answers_as_route() -> None:
    from ansvar.routing import router as routing  # noqa: PLC0415

    router = ansvar.Router()
    batch = [{"municipality": "aalborg", "event": "koerekort_alkohol", "wants_treatment": wants, **consent}
             for wants in (True, False) for consent in ({"consent_medcom": True}, {"consent_medcom": False}, {})]
    batch *= routing.ROUTE_CHUNK // 2
    most, made = _counting_models(router)
    decisions = router.route_many(batch, on=ON)
    assert made[0] == len(batch)
    assert most[0] == len(batch)  # within the bound every validated model is kept until it is routed
    fresh = ansvar.Router()
    assert decisions == [fresh.route(s, on=ON) for s in batch]


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


def _dates_in(value: object) -> set[dt.date]:
    """Every date reachable from a kept plan: its dataclasses, models and tuples, walked."""
    import dataclasses  # noqa: PLC0415

    from pydantic import BaseModel  # noqa: PLC0415

    if isinstance(value, dt.date):
        return {value}
    if isinstance(value, BaseModel):
        return _dates_in(tuple(getattr(value, name) for name in type(value).model_fields))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _dates_in(tuple(getattr(value, f.name) for f in dataclasses.fields(value)))
    if isinstance(value, tuple | list | frozenset | set):
        return set().union(*map(_dates_in, value)) if value else set()
    return set()


def test_a_dated_decision_is_its_kept_plan_dated_per_call_and_the_plan_holds_no_date() -> None:
    """Situations that set the same dates share one plan; each gets the deadlines, the late and the overdue
    warnings of its own dates, as a fresh router gives them; no date of any of them is kept."""
    router = ansvar.Router()
    days = ["2026-03-31", "2026-05-29", "2026-10-01"]
    situations = [{"municipality": "rebild", "event": "behandlingsforloeb", "treatment_ended_on": day,
                   "follow_up_1_month_on": follow_up, "consent_medcom": True}
                  for day, follow_up in zip(days, ["2026-04-20", "2026-07-15", "2026-10-20"], strict=True)]
    first = [router.route(s, on=ON) for s in situations]
    assert first == [ansvar.Router().route(s, on=ON) for s in situations]
    answers = router._answers(router.pack("rebild", "behandlingsforloeb"))
    assert isinstance(answers.plans, LRU)
    assert len(answers.plans) == 1  # one plan: each sets the same dates
    kept = _dates_in(tuple(answers.plans.values()))
    assert not kept  # not the citizens' dates, nor a deadline counted from one
    late = [{w.step for w in d.warnings if w.id == "frist_ikke_overholdt"} for d in first]
    assert late == [set(), {"behandler.telefonisk_opfoelgning_1_maaned"}, set()]  # due 29.06, done 15.07
    assert [w.days_overdue for w in first[1].warnings if w.id == "frist_ikke_overholdt"] == [16]
    overdue = [{w.step for w in d.warnings if w.id == "frist_overskredet"} for d in first]
    six_months = {"behandler.telefonisk_opfoelgning_6_maaneder", "behandler.afslut_nexus"}  # due 30.09.2026
    assert overdue == [six_months, set(), set()]
    done = [{s.action for s in d.steps} for d in first]
    assert all("telefonisk_opfoelgning_1_maaned" not in actions for actions in done)  # done: left out
