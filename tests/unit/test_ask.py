"""`ansvar ask`: the interview in a real pseudo-terminal (pexpect), and `--json` driven by a program.

Every interview runs `python -m ansvar.cli ask` as a separate process (as test_cli.py runs the command
line), with the `ansvar` this test imported first on PYTHONPATH, and every wait for it is bounded: a test
fails with what the terminal showed, it never hangs.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import queue
import random
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import ansvar
from ansvar import cli
from ansvar.analysis.space import SituationSpace

if sys.platform == "win32":  # pragma: no cover - pexpect's spawn needs a POSIX pseudo-terminal
    pytest.skip("pexpect drives a POSIX pseudo-terminal", allow_module_level=True)

import pexpect

ON = dt.date(2026, 11, 23)
TIMEOUT = 60  # seconds any one wait for the interview may take
PROMPT = re.compile(r"Svar \(([^)\r\n]*)\): ")
CHOICE = re.compile(r"^ +(\d+)\. (.+?)\r?$", re.MULTILINE)
ROUTER = ansvar.default_router()


def _env() -> dict[str, str]:
    """This environment, the `ansvar` imported here first on PYTHONPATH (a src folder, or site-packages)."""
    env = dict(os.environ)
    here = str(Path(ansvar.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    env["PYTHONIOENCODING"] = "utf-8"
    env["TERM"] = "dumb"
    return env


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ansvar.cli", "ask", *args, "--on", ON.isoformat()]


class Terminal:
    """`ansvar ask` in a pseudo-terminal; every wait bounded by TIMEOUT."""

    def __init__(self, *args: str) -> None:
        command = _command(*args)
        self.child = pexpect.spawn(command[0], command[1:], env=_env(), encoding="utf-8", timeout=TIMEOUT,
                                   dimensions=(50, 250))
        self.shown = ""  # everything the terminal showed so far

    def expect(self, *patterns: str | re.Pattern[str]) -> int:
        """Wait for one of the patterns (str: exact text); which one came."""
        compiled = [re.compile(re.escape(p)) if isinstance(p, str) else p for p in patterns]
        try:
            index = self.child.expect(compiled)
        except pexpect.TIMEOUT:
            pytest.fail(f"`ansvar ask` showed none of {patterns} within {TIMEOUT} s; the terminal showed:\n"
                        f"{self.shown + str(self.child.before)}")
        except pexpect.EOF:
            self.child.close()
            pytest.fail(f"`ansvar ask` ended (status {self.child.exitstatus}) before showing any of "
                        f"{patterns}; the terminal showed:\n{self.shown + str(self.child.before)}")
        self.shown += self.child.before + self.child.after
        return int(index)

    @property
    def before(self) -> str:
        return str(self.child.before)

    def end(self) -> tuple[int, str]:
        """Wait for the interview to end: its exit status, and what it showed after the last wait."""
        try:
            self.child.expect(pexpect.EOF)
        except pexpect.TIMEOUT:
            pytest.fail(f"`ansvar ask` did not end within {TIMEOUT} s; the terminal showed:\n"
                        f"{self.shown + str(self.child.before)}")
        rest = str(self.child.before)
        self.shown += rest
        self.child.close()
        status = self.child.exitstatus
        assert status is not None, f"ended by signal {self.child.signalstatus}"
        return status, rest


@pytest.fixture
def terminal() -> Iterator[Callable[..., Terminal]]:
    """Start `ansvar ask ARGS` in a pseudo-terminal; every one started is closed at the end."""
    started: list[Terminal] = []

    def start(*args: str) -> Terminal:
        started.append(Terminal(*args))
        return started[-1]

    yield start
    for session in started:
        session.child.close(force=True)


def _fact_asked(shown: str, event: str) -> str:
    """The fact whose Danish question the terminal shows (each fact of an event has its own question)."""
    found = [name for name, spec in ROUTER.definitions[event].facts.items() if spec.question in shown]
    assert len(found) == 1, f"not one question of {event} in: {shown!r}"
    return found[0]


def _choice_number(shown: str, label: str) -> str:
    """The number the terminal shows before a choice's label."""
    numbers = {text.strip(): number for number, text in CHOICE.findall(shown)}
    assert label in numbers, f"no choice {label!r} among {sorted(numbers)}"
    return numbers[label]


def _label(question: ansvar.OpenQuestion, value: object) -> str:
    return next(v.label for v in question.values if v.value == value and type(v.value) is type(value))


def _lead_to_warnings(card: str) -> str:
    """A text card's lead, steps (with deadlines) and warnings: from `Ansvarlig:` up to `Kilder:`."""
    card = card.replace("\r\n", "\n")
    return card[card.index("Ansvarlig:"):card.index("\nKilder:")]


def _complete(municipality: str, event: str, **facts: object) -> dict[str, Any]:
    """A situation stating every fact of the event: those given, the rest their defaults."""
    spec = ROUTER.definitions[event].facts
    return {"municipality": municipality, "event": event,
            **{name: facts.get(name, fact.default_value) for name, fact in spec.items()}}


# --- in a terminal ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("facts", [
    {"presents_at": "rusmiddelbehandling", "laegekonsulent_present": False,
     "acute_assessment_indicated": True},
    {"presents_at": "egen_laege", "acute_assessment_indicated": False, "consent_medcom": True},
], ids=["at_the_unit_acute", "at_the_gp"])
def test_a_full_interview_reaches_the_routed_decision(terminal: Callable[..., Terminal],
                                                      facts: dict[str, object]) -> None:
    """Aalborg, acute opioid withdrawal: the terminal asks what next_question asks, in its order, each
    answered by its choice's number; the card it ends with leads, steps and warns as routing the complete
    situation does, and the interview exits 0."""
    complete = _complete("aalborg", "akutte_opioidabstinenser", **facts)
    session = terminal("aalborg", "akutte_opioidabstinenser")
    partial: dict[str, Any] = {"municipality": "aalborg", "event": "akutte_opioidabstinenser"}
    asked = []
    while (question := ROUTER.next_question(partial, on=ON)) is not None:
        assert session.expect(PROMPT, "Ansvarlig:") == 0, f"the interview ended; {question.fact} was open"
        assert _fact_asked(session.before, "akutte_opioidabstinenser") == question.fact
        value = complete[question.fact]
        session.child.sendline(_choice_number(session.before, _label(question, value)))
        partial[question.fact] = value
        asked.append(question.fact)
    assert asked, "nothing was asked"
    session.expect("Ansvarlig:")
    status, rest = session.end()
    assert status == 0, session.shown
    expected = ROUTER.route(complete, on=ON)
    assert _lead_to_warnings("Ansvarlig:" + rest) == _lead_to_warnings(str(expected))
    assert "Traceback" not in session.shown
    assert "Besvaret »ved ikke«" not in rest  # nothing left open


def test_municipality_and_event_are_chosen_by_number(terminal: Callable[..., Terminal]) -> None:
    """Without arguments the interview asks the municipality, then the event, each from a numbered list of
    Danish names; then the first question is the event's own."""
    session = terminal()
    session.expect(PROMPT)
    assert "Aalborg Kommune" in session.before
    session.child.sendline(_choice_number(session.before, "Aalborg Kommune"))
    session.expect(PROMPT)
    title = ROUTER.events("aalborg")["akutte_opioidabstinenser"]
    session.child.sendline(_choice_number(session.before, title))
    session.expect(PROMPT)
    first = ROUTER.next_question({"municipality": "aalborg", "event": "akutte_opioidabstinenser"}, on=ON)
    assert first is not None
    assert _fact_asked(session.before, "akutte_opioidabstinenser") == first.fact
    session.child.sendeof()
    status, _ = session.end()
    assert status == cli.EXIT_INPUT


def test_a_bad_answer_is_asked_again_without_repeating_it(terminal: Callable[..., Terminal]) -> None:
    """A number out of range, a word no choice has, a lone dash: each answered by a short Danish message that
    does not repeat what was typed, and the same question again; a good answer then moves on."""
    session = terminal("aalborg", "akutte_opioidabstinenser")
    session.expect(PROMPT)
    first = session.before
    fact = _fact_asked(first, "akutte_opioidabstinenser")
    assert fact == "presents_at"
    for bad in ("hemmelig-4711", "99", "0", "-"):
        session.child.sendline(bad)
        session.expect(PROMPT)
        # What the terminal shows after the echo of the typed line: the message, then the prompt again.
        echo, _, message = session.before.partition("\n")
        assert bad in echo
        assert "Ugyldigt svar" in message
        assert bad not in message
        assert all(spec.question not in message for spec in ROUTER.definitions["akutte_opioidabstinenser"]
                   .facts.values())  # not a new question: the same one, asked again
    session.child.sendline(_choice_number(first, "Rusmiddelafsnittet"))  # more is asked then
    assert session.expect(PROMPT, "Ansvarlig:") == 0
    assert _fact_asked(session.before, "akutte_opioidabstinenser") != fact
    assert "Traceback" not in session.shown


def test_ved_ikke_is_not_asked_again_and_stays_open(terminal: Callable[..., Terminal]) -> None:
    """Aalborg afrusning: "?" to the first question, an empty line to the second, the rest answered with the
    last choice (or a number): neither is asked again, and the card ends listing the open questions that
    routing the answers leaves, with the defaults assumed: facts answered »ved ikke«, and only those."""
    session = terminal("aalborg", "afrusning")
    partial: dict[str, Any] = {"municipality": "aalborg", "event": "afrusning"}
    unknown = []
    while session.expect(PROMPT, "Ansvarlig:") == 0:
        fact = _fact_asked(session.before, "afrusning")
        assert fact not in unknown, f"{fact} was answered »ved ikke« and asked again"
        if len(unknown) < 2:
            session.child.sendline("?" if not unknown else "")
            unknown.append(fact)
            continue
        question = next(q for q in ROUTER.route(partial, on=ON).open_questions if q.fact == fact)
        if question.type == "integer":
            value = next(v.value for v in question.values if v.value is not None)
            session.child.sendline(str(value))
        else:
            value = question.values[-1].value
            session.child.sendline(_choice_number(session.before, question.values[-1].label))
        partial[fact] = value
    status, rest = session.end()
    assert status == 0, session.shown
    assert len(unknown) == 2
    expected = ROUTER.route(partial, on=ON)
    assert expected.open_questions, "the test answers so that some »ved ikke« still matters"
    assert {q.fact for q in expected.open_questions} <= set(unknown)
    section = rest[rest.index("Besvaret »ved ikke«"):]
    listed = re.findall(r"^  \? (.+?)\r?$", section, re.MULTILINE)
    assumed = {a.fact: a.value_label for a in expected.assumed}
    assert listed == [f"{q.label}: {q.question} (antaget: {assumed[q.fact]})"
                      for q in expected.open_questions]
    assert _lead_to_warnings("Ansvarlig:" + rest) == _lead_to_warnings(str(expected))


def test_ctrl_d_ends_quietly(terminal: Callable[..., Terminal]) -> None:
    """Ctrl-D at a question: exit 2, one line saying the interview stopped, no traceback."""
    session = terminal("rebild", "udredning")
    session.expect(PROMPT)
    session.child.sendeof()
    status, rest = session.end()
    assert status == cli.EXIT_INPUT
    lines = [line for line in rest.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("ansvar: ")
    assert "Traceback" not in session.shown


def test_ctrl_c_ends_quietly(terminal: Callable[..., Terminal]) -> None:
    """Ctrl-C at a question: exit 130, one line, no traceback."""
    session = terminal("rebild", "udredning")
    session.expect(PROMPT)
    session.child.sendintr()
    status, rest = session.end()
    assert status == cli.EXIT_INTERRUPT == 130
    lines = [line for line in rest.splitlines() if line.strip() and line.strip() != "^C"]
    assert len(lines) == 1, lines
    assert lines[0].startswith("ansvar: ")
    assert "Traceback" not in session.shown


# --- typed answers, in process ---------------------------------------------------------------------------

def _typed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lines: list[str],
           *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    code = cli.main(["ask", *args, "--on", ON.isoformat()])
    out, err = capsys.readouterr()
    return code, out, err


def _script(municipality: str, event: str,
            answers: Mapping[str, str | list[str]]) -> tuple[list[str], dict[str, Any]]:
    """The lines to type, following next_question with `answers` (a list: refused ones, then the one taken),
    and the situation the answers taken give ("?": not stated)."""
    facts = ROUTER.definitions[event].facts
    lines: list[str] = []
    partial: dict[str, Any] = {"municipality": municipality, "event": event}
    unknown: set[str] = set()
    while (question := ROUTER.next_question(partial, on=ON, unknown=unknown)) is not None:
        typed = answers[question.fact]
        lines += typed if isinstance(typed, list) else [typed]
        final = typed[-1] if isinstance(typed, list) else typed
        if final == "?":
            unknown.add(question.fact)
        else:
            partial[question.fact] = _typed_value(question, facts[question.fact], final)
    return lines, partial


def _typed_value(question: ansvar.OpenQuestion, spec: Any, text: str) -> object:
    if text == "-":
        return None
    if spec.type == "integer":
        return int(text)
    if spec.type == "date":
        return dt.date.fromisoformat(text)
    return next(v.value for v in question.values
                if text.casefold() in {v.label.casefold(), str(v.value).casefold()})


def test_numbers_and_dates_are_typed_and_checked(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Rebild, the clarifying conversation: a number out of the fact's range and dates that do not exist are
    refused (without being repeated), a number and a date typed are taken; the Decision counts the 14-day
    guarantee from the date typed."""
    lines, partial = _script("rebild", "afklarende_samtale", {
        "minor_children": "nej", "anonymous": "ja", "substance": "Alkohol",
        "anonymous_conversations_held": ["1001", "-3", "tre", "2"],
        "held_on": ["2026-02-30", "30.11.2026", "2026-11-20"]})
    assert "held_on" in partial
    code, out, err = _typed(monkeypatch, capsys, lines, "rebild", "afklarende_samtale")
    assert code == 0, err
    interview = out[:out.index("Ansvarlig:")]
    for bad in ("1001", "-3", "tre", "2026-02-30", "30.11.2026"):
        assert bad not in interview
    assert out.count("Ugyldigt svar") == 5
    decision = ROUTER.route(partial, on=ON)
    assert _lead_to_warnings(out) == _lead_to_warnings(str(decision))
    guarantee = next(s for s in decision.steps if s.due_from == "held_on")
    assert guarantee.due == dt.date(2026, 12, 4)
    assert "(senest 04.12.2026)" in out


def test_ved_ikke_to_the_date_a_deadline_waits_for(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """"?" to the date the 14-day guarantee counts from (a question with no values): the interview ends, and
    the Decision leaves the deadline waiting for that date, which it lists as an open question."""
    lines, partial = _script("rebild", "afklarende_samtale", {
        "minor_children": "nej", "anonymous": "nej", "substance": "Alkohol", "held_on": "?"})
    assert "held_on" not in partial
    code, out, err = _typed(monkeypatch, capsys, lines, "rebild", "afklarende_samtale")
    assert code == 0, err
    decision = ROUTER.route(partial, on=ON)
    waiting = next(s for s in decision.steps if s.due_from == "held_on")
    assert waiting.due is None
    assert [q.fact for q in decision.open_questions] == ["held_on"]
    label = ROUTER.definitions["afklarende_samtale"].facts["held_on"].label
    assert f"  ? {label}: " in out
    assert "fristen venter på datoen" in out


def test_a_date_out_of_order_is_refused_naming_both(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Rebild, a course of treatment: a follow-up dated before the end of treatment already typed is refused,
    naming both facts (not the dates), and asked again; "-" gives a date fact no date."""
    lines, partial = _script("rebild", "behandlingsforloeb", {
        "treatment_ended_on": "2026-11-01", "clarifying_conversation_on": "2026-09-01", "treatment_started_on": "2026-09-10",
        "wants_residential": "nej",
        "follow_up_1_month_on": ["2026-10-01", "2026-11-20"], "follow_up_6_months_on": "-"})
    assert partial["follow_up_6_months_on"] is None
    code, out, err = _typed(monkeypatch, capsys, lines, "rebild", "behandlingsforloeb")
    assert code == 0, err
    facts = ROUTER.definitions["behandlingsforloeb"].facts
    later, earlier = facts["follow_up_1_month_on"].label, facts["treatment_ended_on"].label
    assert f"Datoen passer ikke med de andre svar: »{later}« kan ikke ligge før »{earlier}«." in out
    assert "2026-10-01" not in out
    assert _lead_to_warnings(out) == _lead_to_warnings(str(ROUTER.route(partial, on=ON)))


def test_an_unknown_municipality_or_event_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`ansvar ask aarhus`, `ansvar ask aalborg afruzning`: one line, exit 2, nothing asked."""
    for args in (("aarhus",), ("aalborg", "afruzning")):
        code, out, err = _typed(monkeypatch, capsys, [], *args)
        assert code == cli.EXIT_INPUT
        assert out == ""
        assert err.count("\n") == 1
        assert err.startswith("ansvar: unknown ")


# --- --json, driven by a program -------------------------------------------------------------------------

class Program:
    """`ansvar ask --json` on pipes, as a program drives it; every read and wait bounded by TIMEOUT."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(_command(*args, "--json"), stdin=subprocess.PIPE,  # noqa: S603
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
                                        encoding="utf-8")
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.read: list[dict[str, Any]] = []  # every message so far

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def message(self) -> dict[str, Any]:
        """The next line written, as JSON."""
        try:
            line = self.lines.get(timeout=TIMEOUT)
        except queue.Empty:
            pytest.fail(f"`ansvar ask --json` wrote no line within {TIMEOUT} s; it wrote: {self.read}")
        assert line is not None, f"`ansvar ask --json` ended before its decision; it wrote: {self.read}"
        message = json.loads(line)
        assert isinstance(message, dict), line
        self.read.append(message)
        return message

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def answer(self, value: object) -> None:
        self.send(json.dumps(value))

    def end(self) -> tuple[int, str]:
        """Close stdin and wait for the program to end: its exit status and what it wrote on stderr."""
        assert self.process.stdin is not None
        assert self.process.stderr is not None
        self.process.stdin.close()
        try:
            status = self.process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`ansvar ask --json` did not end within {TIMEOUT} s")
        self.reader.join(TIMEOUT)
        return status, self.process.stderr.read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=TIMEOUT)
        self.reader.join(TIMEOUT)
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def program() -> Iterator[Callable[..., Program]]:
    """Start `ansvar ask ARGS --json` on pipes; every one started is ended at the end."""
    started: list[Program] = []

    def start(*args: str) -> Program:
        started.append(Program(*args))
        return started[-1]

    yield start
    for one in started:
        one.close()


def _drive(program: Program, answer: Callable[[dict[str, Any]], object]) -> tuple[list[str], dict[str, Any]]:
    """Answer every question; the facts asked, in order, and the Decision."""
    asked = []
    while (message := program.message())["kind"] == "question":
        asked.append(message["fact"])
        program.answer(answer(message))
    assert message["kind"] == "decision", message
    status, err = program.end()
    assert (status, err) == (0, "")
    return asked, message["decision"]


def _outline(decision: Mapping[str, Any]) -> tuple[object, ...]:
    """Lead, steps (actor.action and deadline), warning ids: what routing must agree on."""
    return (decision["responsible"],
            [(f"{s['actor']}.{s['action']}", s["due"]) for s in decision["steps"]],
            [w["id"] for w in decision["warnings"]])


def _drawn(municipality: str, event: str) -> dict[str, Any]:
    """A complete situation drawn from the pack's situation space (the same one on every run), that routes."""
    pack = ROUTER.pack(municipality, event)
    situations = list(SituationSpace([pack], ON))
    random.Random(f"{municipality}/{event}").shuffle(situations)  # noqa: S311 - a fixed draw, not a secret
    for situation in situations:
        complete = _complete(municipality, event, **{k: v for k, v in situation.items() if k != "event"})
        try:
            ROUTER.route(complete, on=ON)
        except ansvar.AnsvarError:
            continue
        return complete
    pytest.fail(f"{municipality}/{event}: no situation of its space routes")


PACKS = [(m, e) for m in ROUTER.municipalities() for e in ROUTER.events(m)]


@pytest.mark.parametrize(("municipality", "event"), PACKS, ids=[f"{m}-{e}" for m, e in PACKS])
def test_json_interview_reaches_the_routed_decision(program: Callable[..., Program], municipality: str,
                                                    event: str) -> None:
    """For every shipped pack, a program answers `ansvar ask --json` from a complete situation drawn from the
    pack's situation space: it is asked each fact at most once, never more than the event has, and the
    Decision it gets is settled and leads, steps (with deadlines) and warns as routing the complete
    situation does."""
    complete = _drawn(municipality, event)
    asked, decision = _drive(program(municipality, event), lambda q: _json_value(complete[q["fact"]]))
    assert len(asked) == len(set(asked)) <= len(ROUTER.definitions[event].facts)
    expected = ROUTER.route(complete, on=ON).model_dump(mode="json")
    assert _outline(decision) == _outline(expected)
    assert decision["open_questions"] == []


def _json_value(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.date) else value


def test_json_municipality_and_event_are_asked_and_ved_ikke_stays_open(
        program: Callable[..., Program]) -> None:
    """--json without arguments asks municipality and event as enum questions ("ved ikke" refused there);
    {"unknown": true} to the first fact of aalborg afrusning, the others answered with the defaults: that
    fact is never asked again and is the open question of the Decision, as routing the answers gives."""
    interview = program()
    first = interview.message()
    assert (first["kind"], first["fact"], first["type"]) == ("question", "municipality", "enum")
    assert "aalborg" in [v["value"] for v in first["values"]]
    interview.answer({"unknown": True})
    refused = interview.message()
    assert (refused["kind"], refused["fact"]) == ("error", "municipality")
    assert interview.message() == first  # asked again
    interview.answer("aalborg")
    second = interview.message()
    assert second["fact"] == "event"
    assert "afrusning" in [v["value"] for v in second["values"]]
    interview.answer("afrusning")
    unknown: list[str] = []
    answers: dict[str, Any] = {"municipality": "aalborg", "event": "afrusning"}

    def answer(question: dict[str, Any]) -> object:
        if not unknown:
            unknown.append(question["fact"])
            return {"unknown": True}
        value = answers[question["fact"]] = next(v["value"] for v in question["values"] if v["assumed"])
        return value

    asked, decision = _drive(interview, answer)
    assert asked.count(unknown[0]) == 1
    expected = ROUTER.route(answers, on=ON)
    assert [q["fact"] for q in decision["open_questions"]] == [q.fact for q in expected.open_questions] \
        == unknown
    assert [a["fact"] for a in decision["assumed"]] == unknown
    assert _outline(decision) == _outline(expected.model_dump(mode="json"))


@pytest.mark.parametrize(("answer", "kind"), [
    ("not json at all", "syntax"),
    ("", "an empty line"),
    ('"ja"', "a string for a boolean"),
    ("1", "a number for a boolean"),
    ("null", "null for a boolean"),
    ('{"unknown": 1}', "not exactly {unknown: true}"),
    ('{"unknown": true, "value": false}', "more than unknown"),
    ('"' + "x" * (cli.MAX_ANSWER_CHARS + 10) + '"', "too long"),
])
def test_json_bad_answers_are_refused_without_repeating_them(program: Callable[..., Program], answer: str,
                                                             kind: str) -> None:
    """Each bad answer to a boolean question: an error line naming the fact, in Danish, not repeating the
    answer; then the same question again, which a good answer then settles."""
    interview = program("rebild", "afklarende_samtale")
    question = interview.message()
    assert (question["kind"], question["type"]) == ("question", "boolean")
    interview.send(answer)
    error = interview.message()
    assert error["kind"] == "error", kind
    assert error["fact"] == question["fact"]
    assert "Ugyldigt svar" in error["message"]
    if answer:
        assert answer.strip('"') not in error["message"]
    assert interview.message() == question  # the same question again
    interview.answer(True)
    following = interview.message()
    assert following["kind"] in {"question", "decision"}
    assert following.get("fact") != question["fact"]


def test_json_ends_with_two_when_stdin_ends(program: Callable[..., Program]) -> None:
    """stdin closed before the decision: exit 2, one line on stderr, nothing but JSON lines on stdout."""
    interview = program("rebild", "udredning")
    assert interview.message()["kind"] == "question"
    status, err = interview.end()
    assert status == cli.EXIT_INPUT
    assert err.count("\n") == 1
    assert err.startswith("ansvar: ")
    while (line := interview.lines.get(timeout=TIMEOUT)) is not None:
        json.loads(line)


def test_help_documents_the_json_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    """`ansvar ask --help` says what a program reads and writes."""
    with pytest.raises(SystemExit):
        cli.main(["ask", "--help"])
    text = capsys.readouterr().out
    for part in ('"kind": "question"', '"kind": "error"', '"kind": "decision"', '{"unknown": true}',
                 "YYYY-MM-DD", "ved ikke"):
        assert part in text, part
