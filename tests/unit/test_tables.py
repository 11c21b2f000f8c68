"""Outcome tables kept on disk: the same answers as evaluated ones, and anything doubtful is ignored."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import ansvar
from ansvar.routing import tables, unknowns

ON = dt.date(2026, 11, 23)
OPEN = {"municipality": "rebild", "event": "afrusning"}  # every fact unstated: the whole grid is weighed


def _fresh_table(router: ansvar.Router) -> unknowns.OutcomeTable:
    return unknowns.OutcomeTable(router._answers(router.pack("rebild", "afrusning")))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ANSVAR_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_a_stored_table_is_read_back_as_evaluated(cache: Path) -> None:
    router = ansvar.Router()
    built = _fresh_table(router)
    values = built.lookup(range(built.size))
    (stored,) = (cache / "tables").iterdir()
    assert stored.name == f"{tables.table_key(built.disk)}.json"
    read = _fresh_table(router)
    calls: list[object] = []
    read._evaluate = lambda *args: calls.append(args)  # type: ignore[method-assign]
    assert [read.outcome(v) for v in read.lookup(range(read.size))] == [built.outcome(v) for v in values]
    assert not calls  # read from disk, not evaluated


@pytest.mark.parametrize("damage", [
    lambda raw: raw[:-10],  # cut short
    lambda raw: raw.replace(b'"table":[', b'"table":[0,'),  # the digest no longer fits
    lambda raw: b"not json\n" + raw,
    lambda raw: b"",
])
def test_a_damaged_file_is_ignored_and_the_table_evaluated(cache: Path, damage: object) -> None:
    router = ansvar.Router()
    built = _fresh_table(router)
    expected = [built.outcome(v) for v in built.lookup(range(built.size))]
    (stored,) = (cache / "tables").iterdir()
    stored.write_bytes(damage(stored.read_bytes()))  # type: ignore[operator]
    assert tables.load(_fresh_table(router).disk) is None
    read = _fresh_table(router)
    assert [read.outcome(v) for v in read.lookup(range(read.size))] == expected


def test_no_cache_folder_or_an_unwritable_one_changes_nothing(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder would be")
    router = ansvar.Router()
    answers = []
    for setting in ("", str(blocked / "cache")):
        monkeypatch.setenv("ANSVAR_CACHE_DIR", setting)
        table = _fresh_table(router)
        answers.append([table.outcome(v) for v in table.lookup(range(table.size))])
        assert tables.load(_fresh_table(router).disk) is None
    assert answers[0] == answers[1]
    assert router.route(OPEN, on=ON) == ansvar.Router().route(OPEN, on=ON)


def test_another_pack_or_grid_gets_another_key(cache: Path) -> None:
    router = ansvar.Router()
    one = _fresh_table(router)
    other = unknowns.OutcomeTable(router._answers(router.pack("aalborg", "afrusning")))
    assert tables.table_key(one.disk) != tables.table_key(other.disk)
