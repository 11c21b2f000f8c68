"""The caseworker's page: choose municipality and event, answer what the answer still depends on, see who.

`ansvar serve` serves it at `/` (see `ansvar.server`). It is plain server-rendered HTML in Danish that works
without JavaScript: the interview is one POST form, and the answers so far travel in it as hidden fields, so
the page's state lives in the page: no cookie, no session, nothing kept on the server. Each answer is posted
with the others; the page asks the fact `next_question` gives (one at a time, "Ved ikke" passed on as
`unknown=`), and shows the Decision as it stands from the first answer on: the responsible actor, the
next steps in order with deadlines and contacts, warnings, open questions and assumptions, the guide
passages behind each conclusion (folded), the explanation ("Forklar") and the text card for the journal.

The wording is the Decision's own (`render_text`, `explain`, and the helper the cards share for what an
answer does not know); the markup is this page's, with classes for `page.css` instead of the HTML card's
inline styles, which the page's Content-Security-Policy would refuse. `page.js` only enhances (copy to the
clipboard, print); every value the page shows is escaped.

A form that cannot be read (too large, not UTF-8, a field that is no fact of the event, a value that does
not fit it) gives the page again with one Danish line naming the field by its Danish label, never the value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from html import escape
from importlib import resources
from typing import Any, Final
from urllib.parse import parse_qsl

from ansvar.errors import AnsvarError, SituationError, UnknownEventError
from ansvar.model.decision import (
    OVERDUE_WARNINGS,
    REVIEW_WARNING,
    Contact,
    Decision,
    DecisionWarning,
    Source,
    Step,
    _Unknown,
    cited_as,
    explain,
    interpreted,
    notice,
    render_text,
)
from ansvar.model.events import EARLIEST_DATE, LATEST_DATE, FactSpec
from ansvar.model.unknowns import OpenQuestion
from ansvar.routing.router import Router

#: The largest page form read, in bytes, and the most fields: an event has a few dozen facts.
MAX_FORM_BYTES: Final = 64 * 1024
MAX_FORM_FIELDS: Final = 500
#: The files `page.html` links, shipped in the package (`ansvar/render/static/`): name -> media type.
STATIC_FILES: Final = {"page.css": "text/css; charset=utf-8", "page.js": "text/javascript; charset=utf-8",
                       "icon.svg": "image/svg+xml"}

#: The form's field names (English: code); what the person sees is Danish.
FACT_PREFIX: Final = "fact."  # an answer so far: `fact.<fact>` = the value as JSON
_UNKNOWN_FIELD = "unknown"  # a fact answered "Ved ikke" (repeated)
_ASKED_FIELD = "asked"  # the fact the form asked
_ANSWER_FIELD = "answer"  # its answer: a choice's value as JSON, "?" for "Ved ikke", or the typed text
_ACTION_FIELD = "action"  # which button: answer, unknown, empty, skip, resume, undo.<fact>
_SKIPPED_FIELD = "skipped"  # "1": the person asked for the decision without more questions
_PACK_FIELD = "pack"  # the start page's choice: municipality/event
_UNKNOWN_ANSWER = "?"

_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DANISH_PHONE = re.compile(r"[0-9]{8}")


class FormError(ValueError):
    """A form the page cannot use: `message` is one Danish line naming the field, never its value."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclasses.dataclass(slots=True)
class _State:
    """What the page carries from one answer to the next: the pack, the answers, the facts not known."""

    municipality: str
    event: str
    answers: dict[str, Any] = dataclasses.field(default_factory=dict)
    unknown: list[str] = dataclasses.field(default_factory=list)
    skipped: bool = False

    def situation(self, **more: Any) -> dict[str, Any]:  # noqa: ANN401 - a fact's value
        return {"municipality": self.municipality, "event": self.event, **self.answers, **more}


def static_file(name: str) -> bytes:
    """One of `STATIC_FILES`, from the package."""
    if name not in STATIC_FILES:
        raise KeyError(name)
    return (resources.files("ansvar.render") / "static" / name).read_bytes()


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _date(day: dt.date) -> str:
    return f"{day:%d.%m.%Y}"


class Page:
    """The page over one router: the same rule packs (`--rules`, `--add-rules`) as the HTTP API."""

    def __init__(self, router: Router, *, static: str = "/static") -> None:
        self.router = router
        self.static = static.rstrip("/")

    # --- the requests ---

    def start(self, error: str | None = None) -> str:
        """The start page: each municipality's events, to choose one."""
        groups = []
        for municipality in self.router.municipalities():
            name = self._municipality_name(municipality)
            items = []
            for event, title in self.router.events(municipality).items():
                value = f"{municipality}/{event}"
                ident = f"pakke-{municipality}-{event}"
                items.append(f'<li><input type="radio" name="{_PACK_FIELD}" id="{_e(ident)}" '
                             f'value="{_e(value)}"> <label for="{_e(ident)}">{_e(title)}</label></li>')
            groups.append(f'<fieldset class="kommune"><legend>{_e(name)}</legend>'
                          f'<ul class="valg">{"".join(items)}</ul></fieldset>')
        body = [
            "<h1>Hvem har ansvaret, og hvad sker der nu?</h1>",
            ('<p class="indledning">Vælg kommune og hændelse. Siden stiller derefter kun de spørgsmål, '
            "svaret stadig afhænger af, og viser hvem der har ansvaret, de næste skridt med frister og "
            "kontakter, og de afsnit i vejledningen, svaret bygger på.</p>"),
            _error(error),
            (f'<form method="post" action="/" class="start">{"".join(groups)}'
            '<p class="knapper"><button type="submit" class="primaer">Start</button></p></form>'),
        ]
        return self._document("Hvem har ansvaret?", body)

    def answer(self, body: bytes) -> tuple[int, str]:
        """The page after a POST of its form: status (400 for a form it cannot use) and HTML."""
        try:
            form = _read_form(body)
            state = self._state(form)
        except FormError as refused:
            return 400, self.start(refused.message)
        error = None
        try:
            self._apply(state, form)
        except FormError as refused:
            error = refused.message
        try:
            return 200, self._interview(state, error)
        except AnsvarError:  # a pack defect or engine failure: said in one line, never its details
            message = ("Der kunne ikke gives et svar på denne situation (fejl i regelsættet eller "
                       "regelmotoren); serverens log siger hvor.")
            return 500, self.start(message)

    # --- reading the form ---

    def _state(self, form: Mapping[str, list[str]]) -> _State:
        """The pack and the answers so far; `FormError` for any that is not the event's or does not fit."""
        chosen = _one(form, _PACK_FIELD)
        if chosen is not None:
            municipality, _, event = chosen.partition("/")
        else:
            municipality, event = _one(form, "municipality") or "", _one(form, "event") or ""
        try:
            facts = self.router.pack(municipality, event).definition.facts
        except UnknownEventError:
            raise FormError("Vælg en kommune og en hændelse.") from None
        state = _State(municipality, event, skipped=_one(form, _SKIPPED_FIELD) == "1")
        _read_answers(form, facts, state)
        self._check(state, facts)
        return state

    def _check(self, state: _State, facts: Mapping[str, FactSpec]) -> None:
        """The answers validate as a situation of the event; else `FormError` naming the first field."""
        try:
            self.router.parse_situation(state.situation())
        except SituationError as exc:
            raise FormError(_problem(exc, facts)) from None

    def _apply(self, state: _State, form: Mapping[str, list[str]]) -> None:
        """The button pressed: an answer, "Ved ikke", no value, skip, resume, or undo an answer."""
        action = _one(form, _ACTION_FIELD) or "answer"
        if _navigate(state, action):
            return
        asked = _one(form, _ASKED_FIELD)
        if asked is None:  # the start page's choice: nothing asked yet
            return
        facts = self.router.pack(state.municipality, state.event).definition.facts
        if asked not in facts:
            raise FormError(_NOT_A_FACT)
        value = _given(facts[asked], action, form)
        if value == _UNKNOWN_ANSWER:
            if asked not in state.unknown:
                state.unknown.append(asked)
            state.answers.pop(asked, None)
            return
        try:
            self.router.parse_situation(state.situation(**{asked: value}))
        except SituationError as exc:
            raise FormError(_problem(exc, facts)) from None
        state.answers[asked] = value
        if asked in state.unknown:
            state.unknown.remove(asked)

    # --- the interview page ---

    def _interview(self, state: _State, error: str | None) -> str:
        pack = self.router.pack(state.municipality, state.event)
        facts = pack.definition.facts
        situation = state.situation()
        decision = self.router.route(situation)
        question = None if state.skipped else self.router.next_question(situation, unknown=state.unknown)
        started = bool(state.answers or state.unknown) or question is None
        title = pack.meta.title
        body = [
            f"<h1>{_e(title)}</h1>",
            f'<p class="undertitel">{_e(pack.municipality.spec.name)} · svar pr. {_date(decision.on)}</p>',
            *_notice(decision),
            _error(error),
            '<div class="spalter">',
            '<form method="post" action="/" class="interview">',
            *_hidden(state),
            *_question(question, facts.get(question.fact) if question else None, state),
            *_answered(state, facts),
            "</form>",
            *(_decision(decision) if started else []),
            "</div>",
        ]
        return self._document(f"{title} — ansvar", body)

    # --- the document around it ---

    def _document(self, title: str, body: Sequence[str]) -> str:
        static = self.static
        return "\n".join([
            "<!DOCTYPE html>",
            '<html lang="da">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="referrer" content="no-referrer">',
            f"<title>{_e(title)}</title>",
            f'<link rel="stylesheet" href="{static}/page.css">',
            f'<link rel="icon" href="{static}/icon.svg" type="image/svg+xml">',
            f'<script src="{static}/page.js" defer></script>',
            "</head>",
            "<body>",
            '<a class="spring" href="#indhold">Gå til indhold</a>',
            ('<header class="top"><a href="/" class="brand">ansvar</a> '
            '<span>Hvem har ansvaret, og hvad sker der nu?</span> '
            '<a href="/" class="forfra">Start forfra</a></header>'),
            '<main id="indhold">',
            *body,
            "</main>",
            ('<footer class="bund">Intet gemmes: svarene findes kun på denne side, og serveren hverken '
            "gemmer eller logger dem. Svaret bygger på kommunens vejledning; det erstatter ikke en faglig "
            "vurdering.</footer>"),
            "</body>",
            "</html>",
        ])

    def _municipality_name(self, municipality: str) -> str:
        first = next(iter(self.router.events(municipality)))
        return self.router.pack(municipality, first).municipality.spec.name


# --- reading a form --------------------------------------------------------------------------------------

def _read_form(body: bytes) -> dict[str, list[str]]:
    """An `application/x-www-form-urlencoded` body: each field's values; `FormError` if it cannot be read."""
    if len(body) > MAX_FORM_BYTES:
        raise FormError("Formularen er for stor.")
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=False,
                          encoding="utf-8", errors="strict", max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise FormError("Formularen kunne ikke læses.") from None
    form: dict[str, list[str]] = {}
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    return form


_NOT_A_FACT = "Formularen indeholder et felt, som hændelsen ikke har."


def _read_answers(form: Mapping[str, list[str]], facts: Mapping[str, FactSpec], state: _State) -> None:
    """The answers so far (`fact.<fact>`, JSON) and the facts answered "Ved ikke", into `state`."""
    for name, values in form.items():
        if not name.startswith(FACT_PREFIX):
            continue
        fact = name.removeprefix(FACT_PREFIX)
        if fact not in facts:
            raise FormError(_NOT_A_FACT)
        if len(values) != 1:
            raise FormError(f"Svaret på »{facts[fact].label}« er givet mere end én gang.")
        try:
            state.answers[fact] = json.loads(values[0])
        except ValueError:
            raise FormError(f"Svaret på »{facts[fact].label}« kunne ikke læses.") from None
    for fact in form.get(_UNKNOWN_FIELD, []):
        if fact not in facts:
            raise FormError(_NOT_A_FACT)
        if fact not in state.unknown and fact not in state.answers:
            state.unknown.append(fact)


def _navigate(state: _State, action: str) -> bool:
    """Skip the questions, resume them, or take back an answer; False for an answer to the question."""
    if action in {"skip", "resume"}:
        state.skipped = action == "skip"
        return True
    if action.startswith("undo."):
        fact = action.removeprefix("undo.")
        state.answers.pop(fact, None)
        if fact in state.unknown:
            state.unknown.remove(fact)
        state.skipped = False
        return True
    return False


def _given(spec: FactSpec, action: str, form: Mapping[str, list[str]]) -> Any:  # noqa: ANN401 - a value
    """The value the pressed button gives the question's fact, or `_UNKNOWN_ANSWER` ("Ved ikke")."""
    if action == "unknown":
        return _UNKNOWN_ANSWER
    if action == "empty" and spec.may_be_null:
        return None
    if action == "answer":
        return _typed(spec, _one(form, _ANSWER_FIELD))
    raise FormError("Formularen indeholder en knap, siden ikke kender.")


def _one(form: Mapping[str, list[str]], name: str) -> str | None:
    """The one value of a field (None if missing); `FormError` if given more than once."""
    values = form.get(name, [])
    if len(values) > 1:
        raise FormError("Formularen indeholder et felt mere end én gang.")
    return values[0] if values else None


def _typed(spec: FactSpec, answer: str | None) -> Any:  # noqa: ANN401 - the fact's value
    """The value an answer gives, or `_UNKNOWN_ANSWER`; `FormError` (naming the fact) if it gives none."""
    if answer is None or answer.strip() == "":
        what = "et svar" if spec.type in {"boolean", "enum"} else (
            "en dato" if spec.type == "date" else "et tal")
        raise FormError(f"Vælg eller skriv {what} som svar på »{spec.label}«.")
    answer = answer.strip()
    if answer == _UNKNOWN_ANSWER:
        return _UNKNOWN_ANSWER
    if spec.type in {"boolean", "enum"}:
        try:
            return json.loads(answer)
        except ValueError:
            raise FormError(f"Svaret på »{spec.label}« kunne ikke læses.") from None
    if spec.type == "integer":
        if _WHOLE_NUMBER.fullmatch(answer):
            return int(answer)
        raise FormError(f"Svaret på »{spec.label}« skal være et helt tal.")
    if _ISO_DATE.fullmatch(answer):
        try:
            return dt.date.fromisoformat(answer).isoformat()
        except ValueError:
            pass
    raise FormError(f"Svaret på »{spec.label}« skal være en dato, der findes (ÅÅÅÅ-MM-DD).")


def _problem(exc: SituationError, facts: Mapping[str, FactSpec]) -> str:
    """The first problem of a situation, in one Danish line naming the fact by its label."""
    error = exc.errors[0] if exc.errors else {}
    loc = error.get("loc") or ("",)
    fact = str(loc[0])
    if fact not in facts:
        return _NOT_A_FACT
    label = facts[fact].label
    if error.get("type") == "date_order":
        earlier = " eller ".join(f"»{facts[f].label}«" for f in facts[fact].not_before if f in facts)
        return f"Datoen for »{label}« kan ikke ligge før {earlier or 'en anden dato'}."
    return f"Svaret på »{label}« passer ikke til spørgsmålet."


# --- pieces of the page ----------------------------------------------------------------------------------

def _error(error: str | None) -> str:
    return f'<p class="fejl" role="alert">{_e(error)}</p>' if error else ""


def _hidden(state: _State) -> list[str]:
    """The page's state, as hidden fields of its form."""
    out = [f'<input type="hidden" name="municipality" value="{_e(state.municipality)}">',
           f'<input type="hidden" name="event" value="{_e(state.event)}">']
    out += [f'<input type="hidden" name="{FACT_PREFIX}{_e(fact)}" value="{_e(json.dumps(value))}">'
            for fact, value in state.answers.items()]
    out += [f'<input type="hidden" name="{_UNKNOWN_FIELD}" value="{_e(fact)}">' for fact in state.unknown]
    if state.skipped:
        out.append(f'<input type="hidden" name="{_SKIPPED_FIELD}" value="1">')
    return out


#: What an answer can change, in Danish.
_CHANGES: Final = {"ansvarlig": "hvem der har ansvaret", "skridt": "de næste skridt",
                   "advarsler": "advarslerne", "frist": "en frist"}


def _question(question: OpenQuestion | None, spec: FactSpec | None, state: _State) -> list[str]:
    """The question to answer now, or what to do when there is none."""
    out = ['<section class="spoergsmaal" aria-labelledby="spoergsmaal-titel">',
           '<h2 id="spoergsmaal-titel">Spørgsmål</h2>']
    if question is None or spec is None:
        if state.skipped:
            out += [("<p>Du har sprunget de resterende spørgsmål over. Afgørelsen bygger på de antagelser, "
                    "den nævner.</p>"),
                    (f'<p class="knapper"><button type="submit" name="{_ACTION_FIELD}" value="resume">'
                    "Fortsæt med spørgsmålene</button></p>")]
        else:
            out.append('<p class="faerdig">Der er ikke flere spørgsmål: svaret afhænger ikke af mere, end '
                       "der er svaret på (bortset fra det, der er svaret »Ved ikke« til).</p>")
        out.append("</section>")
        return out
    changes = ", ".join(_CHANGES.get(c, c) for c in question.changes)
    out += [f'<input type="hidden" name="{_ASKED_FIELD}" value="{_e(question.fact)}">',
            f'<fieldset class="svar" data-fact="{_e(question.fact)}" data-type="{_e(spec.type)}">',
            f"<legend>{_e(question.question)}</legend>"]
    if spec.description:
        out.append(f'<p class="hjaelp">{_e(spec.description)}</p>')
    if changes:
        out.append(f'<p class="hjaelp">Svaret kan ændre {_e(changes)}.</p>')
    buttons = ['<button type="submit" class="primaer" name="action" value="answer">Svar</button>']
    if spec.type in {"boolean", "enum"}:
        choices = [(v.value, v.label) for v in question.values] or _choices(spec)
        out.append('<ul class="valg">')
        for number, (value, label) in enumerate([*((json.dumps(v), t) for v, t in choices),
                                                  (_UNKNOWN_ANSWER, "Ved ikke")]):
            ident = f"svar-{number}"
            focus = " autofocus" if number == 0 else ""
            out.append(f'<li><input type="radio" name="{_ANSWER_FIELD}" id="{ident}" value="{_e(value)}"'
                       f'{focus}> <label for="{ident}">{_e(label)}</label></li>')
        out.append("</ul>")
    else:
        kind, low, high = (("number", spec.minimum, spec.maximum) if spec.type == "integer" else
                           ("date", EARLIEST_DATE.isoformat(), LATEST_DATE.isoformat()))
        bounds = "".join(f' {n}="{_e(v)}"' for n, v in (("min", low), ("max", high)) if v is not None)
        ranges = [v.label for v in question.values if v.minimum is not None or v.maximum is not None]
        numeric = ' step="1" inputmode="numeric"' if kind == "number" else ""
        out.append(f'<p><label for="svar-felt">{_e(spec.label)}</label> '
                   f'<input type="{kind}" name="{_ANSWER_FIELD}" id="svar-felt"{bounds}{numeric} autofocus>'
                   "</p>")
        if spec.type == "integer" and len(ranges) > 1:
            out.append(f'<p class="hjaelp">Reglerne skelner mellem: {_e(", ".join(ranges))}.</p>')
        if spec.may_be_null:
            empty = next((v.label for v in question.values if v.value is None and v.minimum is None),
                         "Ingen dato" if spec.type == "date" else "Ikke oplyst")
            buttons.append(f'<button type="submit" name="{_ACTION_FIELD}" value="empty">{_e(empty)}</button>')
        buttons.append(f'<button type="submit" name="{_ACTION_FIELD}" value="unknown">Ved ikke</button>')
    out += ["</fieldset>", (f'<p class="knapper">{" ".join(buttons)} '
            f'<button type="submit" name="{_ACTION_FIELD}" value="skip" class="sekundaer">'
            "Spring over / vis afgørelse</button></p>"), "</section>"]
    return out


def _choices(spec: FactSpec) -> list[tuple[Any, str]]:
    if spec.type == "boolean":
        return [(False, "Nej"), (True, "Ja")]
    return list((spec.values or {}).items())


def _value_label(spec: FactSpec, value: object) -> str:
    """An answer as the page shows it: the event's label for a value, a date as dd.mm.åååå."""
    if value is None:
        return "Ingen dato" if spec.type == "date" else "Ikke oplyst"
    if spec.type == "boolean":
        return "Ja" if value else "Nej"
    if spec.type == "enum":
        return (spec.values or {}).get(str(value), str(value))
    if spec.type == "date":
        return _date(dt.date.fromisoformat(str(value)))
    return str(value)


def _answered(state: _State, facts: Mapping[str, FactSpec]) -> list[str]:
    """The answers so far, each with a button to ask it again."""
    if not state.answers and not state.unknown:
        return []
    rows = []
    for fact in [*state.answers, *state.unknown]:
        spec = facts[fact]
        shown = _value_label(spec, state.answers[fact]) if fact in state.answers else "Ved ikke"
        rows.append(f'<li><span class="etiket">{_e(spec.label)}:</span> <strong>{_e(shown)}</strong> '
                    f'<button type="submit" class="lille" name="{_ACTION_FIELD}" value="undo.{_e(fact)}" '
                    f'aria-label="Ret svaret på {_e(spec.label)}">Ret</button></li>')
    return ['<section class="svarene" aria-labelledby="svarene-titel">',
            '<h2 id="svarene-titel">Dine svar</h2>', f'<ul>{"".join(rows)}</ul>', "</section>"]


def _notice(decision: Decision) -> list[str]:
    """At the top of the page: the guide's review-date warning, prominent, and its word on its standing."""
    out = [f'<div class="revision" role="note"><strong>Bemærk:</strong> {_e(w.text)}</div>'
           for w in decision.warnings if w.id == REVIEW_WARNING]
    if decision.pack.notice:
        out.append(f'<p class="notits">{_e(notice(decision.pack.notice))}</p>')
    return out


def _interpretation(reason: str | None) -> str:
    """A conclusion that is the pack's reading, not the guide's words: marked, with why."""
    return f'<p class="fortolkning">{_e(interpreted(reason))}</p>' if reason else ""


def _tel(phone: str) -> str:
    digits = re.sub(r"[^0-9+]", "", phone)
    return f"tel:+45{digits}" if _DANISH_PHONE.fullmatch(digits) else f"tel:{digits}"


def _contact(contact: Contact) -> str:
    parts = [f"<strong>{_e(contact.name)}</strong>"]
    if contact.phone:
        parts.append(f'tlf. <a href="{_e(_tel(contact.phone))}">{_e(contact.phone)}</a>')
    parts += [_e(p) for p in (contact.address, contact.online, contact.note) if p]
    return ", ".join(parts)


_PART = " — "  # between the parts of a section's path, as the packs write them


def _shared(sources: Sequence[Source]) -> int:
    """How many leading parts of a section every cited source shares (each keeps at least its last part)."""
    paths = [s.section.split(_PART) for s in sources]
    if len(paths) < 2:
        return 0
    shared = 0
    while all(len(p) > shared + 1 for p in paths) and len({p[shared] for p in paths}) == 1:
        shared += 1
    return shared


def _source(source: Source, shared: int) -> str:
    """The passage behind a conclusion, folded.

    Shown: the part of its section that tells it apart; inside: the guide's words and the whole reference.
    """
    section = _PART.join(source.section.split(_PART)[shared:])
    quote = f"<blockquote>{_e(source.passage)}</blockquote>" if source.passage else ""
    return (f'<details class="kilde"><summary>Kilde: {_e(section)}</summary>{quote}'
            f'<p class="dokument">{_e(cited_as(source))}</p></details>')


def _depends(text: str) -> str:
    return f'<p class="afhaenger">? {_e(text)}</p>'


def _step(step: Step, unknown: _Unknown, late: frozenset[str], shared: int) -> str:
    key = f"{step.actor}.{step.action}"
    due = unknown.due(step)
    due_class = "frist sen" if key in late else "frist"
    shown_due = f'<span class="{due_class}">{_e(due)}</span>' if due else ""
    parts = [(f'<li class="skridt" data-step="{_e(key)}" data-due="{_e(step.due or "")}" '
             f'data-settled="{str(step.settled).lower()}">'),
             (f'<p><strong class="aktoer">{_e(step.actor_name)}</strong>: <span class="tekst">{_e(step.text)}'
             f"</span> {shown_due}</p>")]
    if unknown.shows_depends(step):
        parts.append(_depends(unknown.depends(unknown.step_depends(step))))
    parts.append(_interpretation(step.interpretation))
    if step.contact:
        parts.append(f'<p class="kontakt">Kontakt: {_contact(step.contact)}</p>')
    parts += [_source(step.source, shared), "</li>"]
    return "".join(parts)


def _warning(warning: DecisionWarning, unknown: _Unknown, shared: int) -> str:
    kind = "advarsel sen" if warning.id in OVERDUE_WARNINGS else "advarsel"
    parts = [(f'<li class="{kind}" data-warning="{_e(warning.id)}" '
             f'data-settled="{str(warning.settled).lower()}"><p><span class="tekst">{_e(warning.text)}</span>'
             f"</p>")]
    if not warning.settled:
        parts.append(_depends(unknown.depends(warning.depends_on)))
    parts.append(_interpretation(warning.interpretation))
    parts += [_source(warning.source, shared), "</li>"]
    return "".join(parts)


def _open(unknown: _Unknown) -> list[str]:
    """Open questions, each with what its answers would change, and the assumptions: the cards' words."""
    decision = unknown.decision
    out: list[str] = []
    if decision.open_questions:
        out += ["<h3>Åbne spørgsmål</h3>", '<ul class="aabne">']
        for question in decision.open_questions:
            answers = [f"{unknown.value_label(v)}: {unknown.effect(v)}" for v in question.values]
            answers += [w for w in (unknown.waiting(question),) if w]
            items = "".join(f"<li>{_e(a)}</li>" for a in answers)
            out.append(f'<li data-open="{_e(question.fact)}"><strong>{_e(question.label)}</strong>: '
                       f"{_e(question.question)}<ul>{items}</ul></li>")
        out.append("</ul>")
    if decision.assumed:
        out += ["<h3>Antagelser</h3>", "<p>Svaret gælder kun, hvis de holder:</p>", '<ul class="antaget">']
        out += [f"<li>{_e(a.label)} = <strong>{_e(a.value_label)}</strong></li>" for a in decision.assumed]
        out.append("</ul>")
    return out


def _lead_source(decision: Decision) -> Source | None:
    lead = next((t for t in decision.trace if t.responsible == decision.responsible and not t.overridden),
                None)
    return lead.source if lead is not None else None


def _decision(decision: Decision) -> list[str]:
    """The Decision as it stands: lead, steps, warnings, what is open, explanation, the journal text."""
    unknown = _Unknown(decision)
    late = frozenset(w.step for w in decision.warnings if w.id in OVERDUE_WARNINGS and w.step)
    status = ("Afgjort: svaret afhænger ikke af flere oplysninger." if decision.settled else
              f"Foreløbigt: svaret afhænger af {len(decision.open_questions)} åbne spørgsmål (se nedenfor).")
    lead = _lead_source(decision)
    shared = _shared([*(s.source for s in decision.steps), *(w.source for w in decision.warnings),
                      *([lead] if lead else [])])
    out = [
        (f'<section class="afgoerelse" id="afgoerelse" aria-labelledby="afgoerelse-titel" '
        f'data-responsible="{_e(decision.responsible)}" data-settled="{str(decision.settled).lower()}">'),
        '<h2 id="afgoerelse-titel">Afgørelse</h2>',
        f'<p class="status {"afgjort" if decision.settled else "foreloebig"}" role="status">{_e(status)}</p>',
        (f'<div class="ansvarlig"><p>Ansvarlig: <strong class="navn">{_e(decision.responsible_name)}</strong>'
        "</p>"),
    ]
    if not decision.responsible_settled:
        out.append(_depends(unknown.depends(decision.responsible_depends_on)))
    out.append(_interpretation(decision.responsible_interpretation))
    if lead is not None:
        out.append(_source(lead, shared))
    out += ["</div>", "<h3>Næste skridt</h3>"]
    if decision.steps:
        out += ['<ol class="skridt">', *(_step(s, unknown, late, shared) for s in decision.steps), "</ol>"]
    else:
        out.append("<p>Ingen næste skridt.</p>")
    if decision.warnings:
        ordered = sorted(decision.warnings, key=lambda w: w.id not in OVERDUE_WARNINGS)
        out += ["<h3>Advarsler</h3>", '<ul class="advarsler">',
                *(_warning(w, unknown, shared) for w in ordered), "</ul>"]
    out += _open(unknown)
    pack = decision.pack
    layers = " → ".join(layer.layer for layer in pack.layers)
    out += [
        (f'<p class="regelsaet">Regelsæt: {_e(pack.document)}, version {_e(pack.version)}'
        f'{" · lag: " + _e(layers) if layers else ""} · sha256 {_e(pack.content_hash[:12])}</p>'),
        '<details class="forklar"><summary>Forklar</summary>',
        f'<pre class="forklaring">{_e(explain(decision))}</pre></details>',
        '<details class="journal"><summary>Tekst til journalen</summary>',
        '<p><label for="journaltekst">Afgørelsen som tekst, til at sætte ind i journalen:</label></p>',
        f'<textarea id="journaltekst" readonly rows="12" cols="80">{_e(render_text(decision))}</textarea>',
        "</details>",
        ('<p class="knapper handlinger"><button type="button" id="kopier" hidden>Kopiér som tekst</button> '
        '<button type="button" id="udskriv" hidden>Udskriv</button> '
        '<span id="kopieret" role="status"></span></p>'),
        "</section>",
    ]
    return out

