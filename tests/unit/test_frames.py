"""Decisions as a pandas DataFrame (ansvar.render.frames.to_dataframe): one row per decision, typed columns."""

from __future__ import annotations

import datetime as dt
import sys

import pandas as pd
import pytest

import ansvar
from ansvar.render.frames import COLUMNS, to_dataframe
from tests.fixtures import ON

DELIRIUM = {"municipality": "aalborg", "event": "afrusning",
            "withdrawal_symptoms": True, "delirium_tremens": True}
REBILD = [
    # the 14-day guarantee from 9 February passed on 23 February: overdue on 1 March
    {"municipality": "rebild", "event": "udredning", "substance": "stoffer",
     "clarifying_conversation_on": "2026-02-09"},
    # treatment started after the guarantee: done late (frist_ikke_overholdt), nothing pending
    {"municipality": "rebild", "event": "behandlingsforloeb", "substance": "alkohol",
     "clarifying_conversation_on": "2025-08-04", "treatment_started_on": "2025-08-25"},
    {"municipality": "rebild", "event": "paaroerendesamtale"},
]


def test_one_row_per_decision_in_order_with_the_documented_columns() -> None:
    """Columns in order, values taken from each Decision: lead, step count, first step, earliest due, hash."""
    decisions = [ansvar.route(DELIRIUM, on=ON), *ansvar.route_many(REBILD, on=dt.date(2026, 3, 1))]
    frame = to_dataframe(decisions)
    assert tuple(frame.columns) == COLUMNS
    assert list(frame["event"]) == ["afrusning", "udredning", "behandlingsforloeb", "paaroerendesamtale"]
    first = frame.iloc[0]
    delirium = decisions[0]
    assert first["municipality"] == "aalborg"
    assert first["on"] == pd.Timestamp(ON)
    assert first["responsible"] == "region_akutmodtagelse"
    assert first["responsible_name"] == "Regionen (Akutmodtagelsen / skadestuen)"
    assert first["steps"] == len(delirium.steps) == 6
    assert first["first_step"] == f"{delirium.steps[0].actor}.{delirium.steps[0].action}"
    assert first["earliest_due"] == pd.Timestamp(ON)
    assert first["warnings"] == ",".join(w.id for w in delirium.warnings)
    assert first["content_hash"] == delirium.pack.content_hash
    assert list(frame["overdue"]) == [False, True, False, False]
    assert frame.loc[1, "earliest_due"] == pd.Timestamp(2026, 2, 23)
    assert "frist_ikke_overholdt" in frame.loc[2, "warnings"].split(",")
    assert pd.isna(frame.loc[3, "earliest_due"])


def test_column_types_allow_filtering_and_date_arithmetic() -> None:
    """on and earliest_due are datetime64, steps int64, overdue bool: usable in .loc and .dt."""
    frame = to_dataframe(ansvar.route_many(REBILD, on=dt.date(2026, 3, 1)))
    assert pd.api.types.is_datetime64_any_dtype(frame["on"])
    assert pd.api.types.is_datetime64_any_dtype(frame["earliest_due"])
    assert frame["steps"].dtype == "int64"
    assert frame["overdue"].dtype == bool
    late = frame.loc[frame["overdue"]]
    assert list(late["event"]) == ["udredning"]
    assert (late["on"] - late["earliest_due"]).dt.days.tolist() == [6]


def test_empty_input_and_a_single_decision() -> None:
    """No decisions: no rows, same columns and types; one Decision alone is one row (not its fields)."""
    empty = to_dataframe([])
    assert tuple(empty.columns) == COLUMNS
    assert len(empty) == 0
    assert pd.api.types.is_datetime64_any_dtype(empty["earliest_due"])
    single = to_dataframe(ansvar.route(DELIRIUM, on=ON))
    assert len(single) == 1
    assert single.loc[0, "responsible"] == "region_akutmodtagelse"


def test_anything_but_decisions_is_refused() -> None:
    """A situation dict among the decisions is a TypeError naming its index."""
    with pytest.raises(TypeError, match="decision 1 is a dict"):
        to_dataframe([ansvar.route(DELIRIUM, on=ON), DELIRIUM])  # type: ignore[list-item]


def test_missing_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without pandas, the ImportError says which extra to install."""
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'ansvar\[notebook\]'"):
        to_dataframe([])
