"""What a Decision cites and prints: only the conclusions that stand, and no empty headings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import ansvar
from ansvar import AnsvarError, Decision
from ansvar.analysis.space import SituationSpace
from tests.fixtures import ON

ROUTER = ansvar.default_router()
PACKS = [(m, e) for m in ROUTER.municipalities() for e in ROUTER.events(m)]


def _decisions(municipality: str, event: str) -> Iterator[Decision]:
    """A Decision for every case the pack's rules tell apart (pack defects are check's business)."""
    situations = [{"municipality": municipality, **s} for s in SituationSpace([ROUTER.pack(municipality, event)],
                                                                               ON)]
    for situation in situations:
        try:
            yield ROUTER.route(situation, on=ON)
        except AnsvarError:
            continue


@pytest.mark.parametrize(("municipality", "event"), PACKS, ids=[f"{m}/{e}" for m, e in PACKS])
def test_sources_cite_only_conclusions_that_stand(municipality: str, event: str) -> None:
    """Decision.sources holds exactly the passages of the rules whose conclusions stand and of their steps
    and warnings; a rule whose lead was outranked stays in the trace but is not cited. (The review-date
    warning is the pack's own, about its document, not a rule's conclusion.)"""
    for decision in _decisions(municipality, event):
        standing = {entry.source for entry in decision.trace if not entry.overridden}
        standing |= {step.source for step in decision.steps}
        standing |= {w.source for w in decision.warnings if w.rule is not None}
        assert set(decision.sources) == standing
        assert len(decision.sources) == len(set(decision.sources))


def test_delirium_tremens_cites_nothing_of_the_citizen_detoxing_alone() -> None:
    """Delirium tremens: the Region leads; the citizen-detoxes-alone rule is outranked and not cited."""
    decision = ansvar.route({"municipality": "aalborg", "event": "afrusning", "withdrawal_symptoms": True,
                             "delirium_tremens": True}, on=ON)
    (alone,) = [entry for entry in decision.trace if entry.rule == "borger_afruser_selv"]
    assert alone.overridden
    assert alone.source not in decision.sources
    assert all(source.section != alone.source.section or source.passage != alone.source.passage
               for source in decision.sources)


def test_no_steps_means_no_empty_heading() -> None:
    """A Decision without steps says so in one line instead of printing an empty "Næste skridt:" heading."""
    decision = ansvar.route({"municipality": "aalborg", "event": "behandlingstilbud"}, on=ON)
    assert decision.steps == ()
    text = str(decision)
    assert "Næste skridt:" not in text
    assert "Ingen næste skridt." in text
    with_steps = str(ansvar.route({"municipality": "aalborg", "event": "afrusning", "delirium_tremens": True},
                                  on=ON))
    assert "Næste skridt:\n  1. " in with_steps
