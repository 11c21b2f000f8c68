"""The outcome table and its classes: what the weighing of unknown facts rests on."""

from __future__ import annotations

import datetime as dt

import pytest

import ansvar
from ansvar.model.events import FactSpec
from ansvar.routing import unknowns
from tests.fixtures import ON


def test_an_integer_fact_is_cut_at_the_constants_its_rules_compare_it_with() -> None:
    spec = FactSpec(type="integer", label="Antal", question="Hvor mange?", minimum=0, maximum=1000)
    dim = unknowns.dimension("n", spec, {3, 10, None})
    assert dim.ranges == ((None, None), (0, 2), (3, 3), (4, 9), (10, 10), (11, 1000))
    assert dim.labels == ("Ikke oplyst", "0–2", "3", "4–9", "10", "11–1000")
    assert [dim.index(v) for v in (None, 0, 2, 3, 4, 9, 10, 11, 1000)] == [0, 1, 1, 2, 3, 3, 4, 5, 5]
    assert dim.default == 0


def test_a_date_without_constants_is_given_or_not() -> None:
    spec = FactSpec(type="date", label="Dato", question="Hvilken dag?")
    dim = unknowns.dimension("d", spec, {None})
    assert dim.labels == ("Ingen dato", "En dato")
    assert (dim.index(None), dim.index(dt.date(2026, 1, 1))) == (0, 1)
    assert dim.shown(1) is None


def test_a_pack_too_large_to_table_weighs_each_situation_alone_with_the_same_answer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_TABLE points a pack is not tabled: each situation's completions are evaluated for that call
    (nothing kept), and the open questions are those the table gives; too many open facts is a SituationError:
    the caller states more."""
    situation = {"municipality": "aalborg", "event": "afrusning", "withdrawal_symptoms": True,
                 "seizures": False, "delirium_tremens": False, "complicated_course_suspected": False}
    tabled = ansvar.Router().route(situation, on=ON)
    monkeypatch.setattr(unknowns, "MAX_TABLE", 0)
    router = ansvar.Router([ansvar.shipped_rules()])
    monkeypatch.setattr(unknowns, "_tables", {})
    alone = router.route(situation, on=ON)
    assert alone == tabled
    assert alone.open_questions
    table = unknowns.table_for(router._answers(router.pack("aalborg", "afrusning")))  # noqa: SLF001
    assert table._table is None and not table._grids  # noqa: SLF001
    monkeypatch.setattr(unknowns, "MAX_COMPLETIONS", 10)
    with pytest.raises(ansvar.SituationError, match="too many facts left open"):
        router.route({"municipality": "aalborg", "event": "afrusning"}, on=ON)


def test_routers_that_loaded_the_same_pack_share_its_table() -> None:
    one, two = ansvar.Router(), ansvar.Router()
    pack_one, pack_two = one.pack("rebild", "udredning"), two.pack("rebild", "udredning")
    assert pack_one is not pack_two
    assert unknowns.table_for(one._answers(pack_one)) is unknowns.table_for(two._answers(pack_two))  # noqa: SLF001
