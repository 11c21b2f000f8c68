"""decision.explain() and ansvar.why_not(): why the answer is what it is, and why another actor is not."""

from __future__ import annotations

import itertools

import pytest

import ansvar
from ansvar.analysis.space import SituationSpace
from tests.fixtures import ON

ROUTER = ansvar.default_router()
DELIRIUM = {"municipality": "aalborg", "event": "afrusning", "withdrawal_symptoms": True, "delirium_tremens": True}


def test_explain_names_the_lead_rule_its_layer_tests_and_passage() -> None:
    """The explanation says who leads by which rule, in which layer, on which facts, quoting the guide."""
    text = ansvar.route(DELIRIUM, on=ON).explain()
    assert text.splitlines()[1].startswith("Regionen (Akutmodtagelsen / skadestuen) er ansvarlig efter reglen")
    assert "»region_ansvar_kompliceret_afrusning« (prioritet 20, lag region_nordjylland)" in " ".join(text.split())
    assert "fordi delirium_tremens == true" in " ".join(text.split())
    assert "har ansvar for kompliceret afrusning, der kræver indlæggelse" in " ".join(text.split())


def test_explain_lists_every_fired_rule_and_marks_the_outranked() -> None:
    """Every fired rule appears, in order; the outranked GP rule says its steps were dropped."""
    decision = ansvar.route(DELIRIUM, on=ON)
    text = " ".join(decision.explain().split())
    positions = [text.index(f"{entry.rule} [{entry.layer}]") for entry in decision.trace]
    assert positions == sorted(positions)
    assert "gør egen_laege ansvarlig, men tilsidesættes af højere prioritet" in text
    assert "skridt: egen_laege.henvis_til_akutmodtagelse" in text


def test_explain_shows_router_warnings() -> None:
    """Warnings no rule raised (a guide past its review date) are explained too."""
    decision = ansvar.route({"municipality": "rebild", "event": "paaroerendesamtale"}, on=ON)
    assert "skulle have været revideret senest 31.05.2026" in " ".join(decision.explain().split())


def test_why_not_lists_the_missing_conditions_per_alternative() -> None:
    """Why not the Region for plain detox: each of its rules needs seizures, delirium or a complicated course."""
    answer = ansvar.why_not({"municipality": "aalborg", "event": "afrusning"}, "region_akutmodtagelse", on=ON)
    assert answer.responsible == "borger"
    assert [(r.rule, r.layer, r.held) for r in answer.rules] == [
        ("region_ansvar_kompliceret_afrusning", "region_nordjylland", False),
        ("region_kompliceret_afrusning", "aalborg", False)]
    assert answer.rules[0].missing == (("seizures == true",), ("delirium_tremens == true",),
                                       ("complicated_course_suspected == true",))
    text = " ".join(str(answer).split())
    assert "den ville gælde, hvis ét af følgende holdt: 1) seizures == true 2) delirium_tremens == true" in text


def test_why_not_names_the_rule_that_outranks() -> None:
    """Why not the GP under delirium tremens: its rule holds, but the Region's outranks it."""
    answer = ansvar.why_not(DELIRIUM, "egen_laege", on=ON)
    gp = next(r for r in answer.rules if r.rule == "egen_laege_vurderer_afrusning")
    assert (gp.held, gp.missing) == (True, ())
    # The other rule naming the GP, for a refusal of medical help, does not hold: nobody said no.
    refusal = next(r for r in answer.rules if r.rule == "kompliceret_forloeb_uden_oenske_om_laegehjaelp")
    assert not refusal.held
    assert [r.rule for r in answer.rules if r.held] == ["egen_laege_vurderer_afrusning"]
    assert gp.outranked_by in {"region_ansvar_kompliceret_afrusning", "region_kompliceret_afrusning"}
    assert "tilsidesættes af" in str(answer)


def test_why_not_the_responsible_actor_and_an_actor_no_rule_names() -> None:
    """The actor who leads is said to lead; an actor no rule can make responsible is said so; typos fail."""
    assert "er ansvarlig i denne situation" in str(ansvar.why_not(DELIRIUM, "region_akutmodtagelse", on=ON))
    nobody = ansvar.why_not(DELIRIUM, "cfh", on=ON)
    assert nobody.rules == ()
    assert "Ingen regel i pakken gør" in str(nobody)
    with pytest.raises(ansvar.UnknownEventError, match="region_akutmodtagelse"):
        ansvar.why_not(DELIRIUM, "regionen", on=ON)


def test_missing_conditions_agree_with_the_engine_on_every_pack() -> None:
    """A rule naming an actor fired in the engine exactly when some alternative misses no test, in every
    case the packs tell apart (a sample of the large afrusning space)."""
    for municipality in ROUTER.municipalities():
        for event in ROUTER.events(municipality):
            pack = ROUTER.pack(municipality, event)
            actors = {r.responsible for r in pack.rules.values() if r.responsible is not None}
            space = SituationSpace([pack], ON)
            step = max(1, space.size // 300)
            for situation in itertools.islice(space, 0, None, step):
                example = {"municipality": municipality, **situation}
                fired = set(ROUTER.outline(example, ON).fired)
                for actor in actors:
                    for why in ansvar.why_not(example, actor, on=ON).rules:
                        assert why.held == (why.rule in fired), (example, why)
                        if not why.held:
                            assert all(why.missing), (example, why)
