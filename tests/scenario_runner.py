"""Runs YAML scenario files (tests/scenarios/<municipality>/<event>.yaml) against a router.

A scenario file:

    scenarios:
      - name: Delirium tremens -> Akutmodtagelsen          # one line: what the guide says here
        cites: "Regionen (Akutmodtagelsen): Borgeren kan indlægges, når ..."   # the passage encoded
        on: 2026-11-23                                     # optional, default 2026-11-23
        situation: {municipality: aalborg, event: afrusning, delirium_tremens: true}
        expect:
          responsible: region_akutmodtagelse
          steps: [egen_laege.henvis_til_akutmodtagelse, ...]   # exactly these, in this order
          steps_include: [region_akutmodtagelse.vurder_indlaeggelse]   # present, in this relative order
          steps_exclude: [borger.afrus_selv]
          warnings: [...]            # exactly these ids, in this order
          warnings_include: [...]
          warnings_exclude: [...]
          due: {egen_laege.henvis_til_akutmodtagelse: 0}       # days after `on`, or a date; null: none
          overdue: {behandler.telefonisk_opfoelgning_1_maaned: 12}  # a `frist_overskredet` warning, days
          contact: {borger.kontakt_visitation: {phone: "9931 5740"}}   # subset of the step's contact
          text_contains: {ferle.udfoer_urinproever: ["495 kr"]}       # substrings of a step's text
          error: SituationError      # instead of the above: routing raises this ansvar error
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ansvar
from ansvar import _yaml

DEFAULT_ON = dt.date(2026, 11, 23)
KEYS = {"responsible", "steps", "steps_include", "steps_exclude", "warnings", "warnings_include",
        "warnings_exclude", "due", "overdue", "contact", "text_contains", "error"}


@dataclass
class Scenario:
    path: Path
    line: int
    name: str
    cites: str
    on: dt.date
    situation: dict[str, Any]
    expect: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.path.parent.name}/{self.path.stem}:{self.line}:{self.name}"


def load(path: Path) -> list[Scenario]:
    data = _yaml.load(path.read_bytes())
    out = []
    for i, item in enumerate(data["scenarios"]):
        line = data["scenarios"].positions[i][0]
        unknown = set(item) - {"name", "cites", "on", "situation", "expect"}
        assert not unknown, f"{path}:{line}: unknown scenario keys {unknown}"
        assert item.get("cites"), f"{path}:{line}: every scenario cites the guide passage it encodes"
        bad = set(item["expect"]) - KEYS
        assert not bad, f"{path}:{line}: unknown expect keys {bad}"
        out.append(Scenario(path, line, item["name"], item["cites"], item.get("on", DEFAULT_ON),
                            dict(item["situation"]), dict(item["expect"])))
    return out


def _pairs(decision: ansvar.Decision) -> list[str]:
    return [f"{s.actor}.{s.action}" for s in decision.steps]


def _in_order(wanted: list[str], actual: list[str]) -> bool:
    it = iter(actual)
    return all(w in it for w in wanted)


def check(router: ansvar.Router, sc: Scenario) -> None:
    expect = sc.expect
    if "error" in expect:
        error = getattr(ansvar, expect["error"])
        try:
            router.route(sc.situation, on=sc.on)
        except error:
            return
        raise AssertionError(f"{sc.id}: expected {expect['error']}, got a decision")
    d = router.route(sc.situation, on=sc.on)
    pairs = _pairs(d)
    warnings = [w.id for w in d.warnings]
    fired = [t.rule for t in d.trace]
    ctx = f"\n  {sc.id}\n  steps={pairs}\n  warnings={warnings}\n  fired={fired}"
    if "responsible" in expect:
        assert d.responsible == expect["responsible"], f"responsible {d.responsible!r}{ctx}"
    if "steps" in expect:
        assert pairs == list(expect["steps"]), f"steps differ{ctx}"
    if "steps_include" in expect:
        missing = [s for s in expect["steps_include"] if s not in pairs]
        assert not missing, f"missing steps {missing}{ctx}"
        assert _in_order(list(expect["steps_include"]), pairs), f"steps out of order{ctx}"
    for s in expect.get("steps_exclude", []):
        assert s not in pairs, f"unexpected step {s}{ctx}"
    if "warnings" in expect:
        assert warnings == list(expect["warnings"]), f"warnings differ{ctx}"
    missing = [w for w in expect.get("warnings_include", []) if w not in warnings]
    assert not missing, f"missing warnings {missing}{ctx}"
    for w in expect.get("warnings_exclude", []):
        assert w not in warnings, f"unexpected warning {w}{ctx}"
    steps = {f"{s.actor}.{s.action}": s for s in d.steps}
    for key, days in expect.get("due", {}).items():
        assert key in steps, f"no step {key}{ctx}"
        want = days if days is None or isinstance(days, dt.date) else sc.on + dt.timedelta(days=days)
        assert steps[key].due == want, f"{key} due {steps[key].due}, expected {want}{ctx}"
    overdue = {w.step: w.days_overdue for w in d.warnings if w.id == "frist_overskredet"}
    for key, days in expect.get("overdue", {}).items():
        assert overdue.get(key) == days, f"{key} overdue {overdue.get(key)}, expected {days}{ctx}"
    for key, fields in expect.get("contact", {}).items():
        assert key in steps, f"no step {key}{ctx}"
        contact = steps[key].contact
        assert contact is not None, f"{key} has no contact{ctx}"
        for field, value in fields.items():
            assert getattr(contact, field) == value, f"{key} contact {field}={getattr(contact, field)!r}{ctx}"
    for key, needles in expect.get("text_contains", {}).items():
        assert key in steps, f"no step {key}{ctx}"
        for needle in needles:
            assert needle in steps[key].text, f"{key} text lacks {needle!r}{ctx}"
    for step in d.steps:
        assert step.source.document and step.source.section, f"step {step.action} cites nothing{ctx}"
    for warning in d.warnings:
        assert warning.source.document and warning.source.section, f"warning {warning.id} cites nothing"
