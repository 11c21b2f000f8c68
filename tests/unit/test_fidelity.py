"""What the guide says, apart from what ansvar infers (issue 13): interpretations, notices, sources in force.

A rule, step or warning marked `basis: fortolkning` is the pack's reading where the guide is silent; each
carries its reason into the Decision, and every rendering (text card, explain(), HTML card, the docs pages)
marks it, so a caseworker can tell the guide's words from ansvar's. `ansvar check` lists every one. A guide
that says of itself that it is advisory has that notice on every Decision it answers. Sources name the
document that binds the municipality, and the guide they are quoted through.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

import ansvar
from ansvar.analysis.audit import Report, check
from ansvar.errors import RuleError
from ansvar.model.decision import Decision
from ansvar.render.docs import _PackPage
from ansvar.routing.router import Router, shipped_rules

ON = dt.date(2026, 11, 23)
AALBORG = "Vejledning for samarbejdet mellem Almen Praksis (AP) og Rusmiddelafsnittet i Aalborg Kommune"
NOTICE = "Vejledningen er ikke forpligtende, men har til formål at understøtte samarbejdet."
FERLE = {"municipality": "aalborg", "event": "koerekort_stoffer"}


@pytest.fixture(scope="module")
def report() -> Report:
    """`ansvar check` of the shipped packs, once for this module."""
    return check([shipped_rules()])


def _route(situation: dict[str, object]) -> Decision:
    return ansvar.route(situation, on=ON)


def test_an_interpreted_lead_carries_its_reason_and_every_rendering_marks_it() -> None:
    decision = _route(FERLE)
    reason = decision.responsible_interpretation
    assert reason is not None
    assert "kan informere" in reason  # why: the guide only says the GP and the unit may inform
    step = next(s for s in decision.steps if s.action == "kontakt_ferle")
    assert step.interpretation
    informing = [s for s in decision.steps if s.action == "informer_om_ferle"]
    assert informing
    assert all(s.interpretation is None for s in informing)  # the guide's own words
    assert next(t for t in decision.trace if t.responsible == "ferle").interpretation == reason
    first_words = reason.split(":")[0]
    for rendering in (str(decision), decision.explain(), decision._repr_html_()):
        assert "Fortolkning (ikke vejledningens ord)" in rendering
        assert first_words in rendering
    assert "[fortolkning]" in str(decision)  # the trace line of the interpreting rule


def test_a_decision_from_the_guides_words_alone_marks_nothing() -> None:
    decision = _route({"municipality": "aalborg", "event": "afrusning", "delirium_tremens": True,
                       "wants_medical_help": True})
    assert decision.responsible_interpretation is None
    assert not any(s.interpretation for s in decision.steps)
    assert not any(w.interpretation for w in decision.warnings)
    for rendering in (str(decision), decision.explain(), decision._repr_html_()):
        assert "Fortolkning" not in rendering


def test_a_lead_named_by_the_guide_in_one_rule_is_not_an_interpretation() -> None:
    """Where an interpreting rule and a rule quoting the guide name the same lead, the guide names it."""
    decision = _route({"municipality": "aalborg", "event": "udtrapning_illegal_benzodiazepin",
                       "enrolled_in": "substitution"})
    assert decision.responsible == "rusmiddelbehandling"
    assert decision.responsible_interpretation is None


def test_the_advisory_notice_is_on_every_aalborg_decision_and_no_rebild_one() -> None:
    router = ansvar.default_router()
    for municipality in router.municipalities():
        for event in router.events(municipality):
            decision = router.route({"municipality": municipality, "event": event}, on=ON)
            if municipality == "aalborg":
                assert decision.pack.notice == NOTICE, event
                for rendering in (str(decision), decision.explain(), decision._repr_html_()):
                    assert NOTICE in " ".join(rendering.split()), event
            else:
                assert decision.pack.notice is None, (municipality, event)
                assert "Vejledningens status" not in str(decision)


@pytest.mark.parametrize("event", ["afrusning", "akutte_opioidabstinenser"])
def test_rebild_decisions_never_cite_aalborgs_guide_as_their_own(event: str) -> None:
    """Rebild's answers rest on the regional agreement and the law; they say so, and that they quote them
    through Aalborg's guide."""
    fact = {"delirium_tremens": True} if event == "afrusning" else {"presents_at": "rusmiddelbehandling"}
    decision = _route({"municipality": "rebild", "event": event, **fact})
    cited = [*decision.sources, *(s.source for s in decision.steps), *(w.source for w in decision.warnings)]
    assert cited
    for source in cited:
        assert source.document != AALBORG
        if source.passage:
            assert source.quoted_in == AALBORG
    assert f"citeret efter {AALBORG}" in " ".join(str(decision).split())
    assert f"citeret efter {AALBORG}" in " ".join(decision.explain().split())


def test_open_questions_carry_the_guides_definition() -> None:
    decision = _route({"municipality": "aalborg", "event": "afrusning", "wants_medical_help": True})
    question = next(q for q in decision.open_questions if q.fact == "complicated_course_suspected")
    assert question.description is not None
    assert "puls, temperatur, motorisk uro, sved, tremor, orientering, angst og hallucinationer" in (
        question.description)


def test_check_lists_every_interpretation_once_with_its_place_and_reason(report: Report) -> None:
    assert report.ok
    listed = report.interpretations
    rules = {(f.path.name if f.path else None, f.rule) for f in listed}
    assert ("koerekort_stoffer.yaml", "ferle_foretager_urinproever") in rules
    assert ("koerekort_alkohol.yaml", "borger_indhenter_attesteringer_selv") in rules
    assert ("udtrapning_illegal_benzodiazepin.yaml", "egen_laege_indtil_indskrivning") in rules
    assert ("udtrapning_ordineret_opioid.yaml", "rusmiddelafsnittet_behandler_afhaengighed_sideloebende") in (
        rules)
    # A region's rule that two municipalities inherit is listed once.
    places = [(f.path, f.line, f.column) for f in listed]
    assert len(places) == len(set(places))
    region = [f for f in listed if f.path and f.path.parent.name == "region_nordjylland"]
    assert len(region) == 1
    for finding in listed:
        assert finding.severity == "note"
        assert finding.line is not None
        assert "the pack's reading, not the guide's words" in finding.message
        assert json.dumps(finding.as_json(), ensure_ascii=False)


def test_every_shipped_interpretation_is_in_its_docs_page(report: Report) -> None:
    router = ansvar.default_router()
    pages = {(m, e): _PackPage(router.pack(m, e)).render("<svg></svg>")
             for m in router.municipalities() for e in router.events(m)}
    for finding in report.interpretations:
        page = pages[finding.municipality, finding.event]
        assert "<h2>Fortolkninger</h2>" in page
        assert f"<code>{finding.rule}</code></a>" in page
    assert "Vejledningens status" in pages["aalborg", "afrusning"]


@pytest.mark.parametrize(("extra", "words"), [
    ({"basis": "fortolkning"}, "needs `reason:`"),
    ({"reason": "fordi"}, "needs `basis: fortolkning`"),
    ({"basis": "gæt", "reason": "fordi"}, "basis"),
])
def test_an_interpretation_says_why(tmp_path: pytest.TempPathFactory, extra: dict[str, str],
                                    words: str) -> None:
    rules = tmp_path / "rules"  # type: ignore[operator]
    (rules / "town").mkdir(parents=True)
    (rules / "town" / "layer.yaml").write_text("layer: town\nkind: municipality\nname: Town\n")
    rule = {"id": "r", "responsible": "borger", "source": {"section": "S"}, **extra}
    pack = {"pack": {"layer": "town", "event": "koerekort_stoffer", "title": "T", "document": "D",
                     "version": "1", "valid_from": "2020-01-01", "review_by": None, "section": "S"},
            "rules": [rule]}
    (rules / "town" / "koerekort_stoffer.yaml").write_text(json.dumps(pack))
    with pytest.raises(RuleError, match="koerekort_stoffer.yaml") as caught:
        Router([rules])
    assert words in str(caught.value)
