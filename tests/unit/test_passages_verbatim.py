"""Every passage a shipped pack quotes is the guide's own words: verbatim, in the guide it names.

The guides are the specification. Their text, as the project received it, lies in `docs/guides/` (and is
checked equal to the seeds it came from, where those are at hand: `../shared/seeds/`). A passage is compared
modulo whitespace, words hyphenated across a line break, and the guide's bullet marks; `(...)` marks an
elision, so the pieces around it must appear in the guide in that order. A passage from a document ansvar
does not hold (a law, the regional agreement) is quoted through a guide that cites it (`quoted_in`), and is
checked in that guide. So a misquote cannot land.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import ansvar
from ansvar.model.decision import Source
from ansvar.routing.build import cite

ROOT = Path(__file__).resolve().parents[2]
GUIDES = ROOT / "docs" / "guides"
SEEDS = ROOT.parent / "shared" / "seeds"
#: Each guide the packs quote, by the document name the packs give it.
DOCUMENTS = {
    "Vejledning for samarbejdet mellem Almen Praksis (AP) og Rusmiddelafsnittet i Aalborg Kommune":
        "aalborg-vejledning-almen-praksis.txt",
    "Rebild Kommune, Rusmiddelteamet: Hvem er ansvarlig for hvad i et behandlingsforløb "
    "(Arbejdsgangsbeskrivelse)": "rebild-arbejdsgangsbeskrivelse.txt",
}
ELISION = "(...)"


def normalise(text: str) -> str:
    """The words of a text: bullets dropped, a word hyphenated across lines joined, whitespace single."""
    text = re.sub(r"[•\uf0b7]", " ", text)
    text = re.sub(r"(?<=\w)-\n\s*(?=[a-zæøå])", "", text)  # "be-\nhandling": one word (not "udredning- ")
    return " ".join(text.split())


def _guide(name: str) -> str:
    return normalise((GUIDES / name).read_text(encoding="utf-8"))


def found_in(passage: str, guide: str) -> bool:
    """Whether the passage's pieces (between elisions) appear in the guide, in order."""
    at = 0
    for piece in (p.strip() for p in normalise(passage).split(ELISION)):
        if not piece:
            continue
        found = guide.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    return True


def _sources() -> dict[str, Source]:
    """Every Source of every shipped pack (rules, steps, warnings), by where it is."""
    router = ansvar.Router()
    found: dict[str, Source] = {}
    for municipality in router.municipalities():
        for event in router.events(municipality):
            pack = router.pack(municipality, event)
            for rule_id, rule in pack.rules.items():
                part = pack.origin[rule_id]
                refs = [rule.source, *(s.source for s in rule.steps if s.source),
                        *(w.source for w in rule.warnings if w.source)]
                for n, ref in enumerate(refs):
                    found[f"{part.path.relative_to(ROOT)}:{rule_id}#{n}"] = cite(part, ref)
    return found


SOURCES = _sources()


def test_the_guides_are_the_seeds_they_came_from() -> None:
    if not SEEDS.is_dir():
        pytest.skip(f"the seeds are not at hand here ({SEEDS})")
    seeds = {p.read_bytes() for p in SEEDS.glob("*.txt")}
    for name in DOCUMENTS.values():
        assert (GUIDES / name).read_bytes() in seeds, name


@pytest.mark.parametrize("where", sorted(w for w, s in SOURCES.items() if s.passage))
def test_every_passage_is_verbatim_in_the_guide_it_names(where: str) -> None:
    source = SOURCES[where]
    assert source.passage is not None
    document = source.quoted_in or source.document
    assert document in DOCUMENTS, (
        f"{where}: the passage is quoted from {document!r}, which is no guide ansvar holds: name the guide "
        "it is quoted through (`quoted_in`)")
    assert found_in(source.passage, _guide(DOCUMENTS[document])), f"{where}: not verbatim: {source.passage!r}"


UNHEADED = "(uden overskrift i vejledningen)"


@pytest.mark.parametrize("where", sorted(SOURCES))
def test_every_section_a_source_names_is_a_heading_of_its_guide(where: str) -> None:
    """'event — section' names headings the guide has (a passage under no heading says so)."""
    source = SOURCES[where]
    document = source.quoted_in or source.document
    if document not in DOCUMENTS:
        return  # a law's or agreement's own section, quoted through no guide we hold
    guide = _guide(DOCUMENTS[document])
    for heading in source.section.split(" — "):
        if heading.endswith(UNHEADED):
            continue
        assert normalise(heading) in guide, f"{where}: {heading!r} is no heading of the guide"


def test_a_source_names_the_document_in_force_not_the_guide_it_is_quoted_through() -> None:
    """Region and national packs quote the agreement or the law through Aalborg's guide: never as if that
    guide bound another municipality. So their sources name their own document and say where they quote."""
    for where, source in SOURCES.items():
        if where.startswith(("rules/region_nordjylland/", "rules/danmark/")) and source.passage:
            assert source.document not in DOCUMENTS, where
            assert source.quoted_in in DOCUMENTS, where


def test_notices_are_verbatim() -> None:
    router = ansvar.Router()
    seen = 0
    for municipality in router.municipalities():
        for event in router.events(municipality):
            pack = router.pack(municipality, event)
            for layer in pack.municipality.chain():
                if layer.spec.notice:
                    seen += 1
                    assert found_in(layer.spec.notice, _guide(DOCUMENTS[pack.parts[-1].meta.document]))
    assert seen


@pytest.mark.parametrize(("passage", "verbatim"), [
    ("Den primære behandling tilbyder individuelle samtaler", True),  # "be-\nhandling" across lines
    ("Afrusning er ikke en akut behandlingsindikation, men abstinenser er en akut behandlingskrævende "
     "tilstand.", True),
    ("Alkohol (...) Ekstern døgnbehandling", True),
    ("Stof-Efterbehandling har (...) Ambulant alkoholbehandling har", False),  # pieces out of order
    ("Den primære behandling tilbyder individuelle samtaler.", False),  # a full stop the guide lacks
    ("Egen læge er forpligtet til at attestere ædruelighed.", False),
])
def test_the_comparison_itself(passage: str, verbatim: bool) -> None:  # noqa: FBT001
    assert found_in(passage, _guide(DOCUMENTS[
        "Vejledning for samarbejdet mellem Almen Praksis (AP) og Rusmiddelafsnittet i Aalborg Kommune"])) \
        is verbatim
