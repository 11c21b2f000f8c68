"""`ansvar route | ask | events | diff | check | test | docs | serve`.

Errors print one clear line on stderr and exit non-zero: 2 for bad input or usage, 3 for a defect in the
rule packs, 4 for an engine failure, 5 when `serve` cannot start its server. `ask` exits 2 when its input
ends before the interview does, 130 on Ctrl-C, as a shell reports SIGINT. `diff` exits 1 when the
municipalities answer differently, as diff(1); `check` exits 1 when it finds any problem (checking nothing
is one; a warning is none); `test` 1 when a scenario fails, 2 when a file is malformed or none is found.
Output cut short by its reader (`ansvar route … | head -1`) ends the command quietly, with 141 as a shell
reports SIGPIPE.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import gc
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ansvar import _yaml
from ansvar.errors import (
    AnsvarError,
    ConflictError,
    EngineError,
    NoResponsibleError,
    RuleError,
    SituationError,
    UnknownEventError,
    shown,
)
from ansvar.model.events import EARLIEST_DATE, LATEST_DATE
from ansvar.routing.router import Router, routing_date, shipped_rules

if TYPE_CHECKING:
    from ansvar.model.decision import Decision
    from ansvar.model.events import FactSpec
    from ansvar.model.unknowns import OpenQuestion

EXIT_INPUT, EXIT_RULES, EXIT_ENGINE, EXIT_SERVER = 2, 3, 4, 5
EXIT_PIPE = 128 + 13  # as a shell reports a program ended by SIGPIPE
EXIT_INTERRUPT = 128 + 2  # `ask` stopped by Ctrl-C, as a shell reports a program ended by SIGINT
MAX_INPUT_BYTES = 1_000_000
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line like every other error of the command line."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"ansvar: {message} (see {self.prog} --help)\n")


class _Version(argparse.Action):
    """`--version`: the installed package's version, read only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:  # noqa: A002 - argparse's name
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kwargs: object) -> None:
        import ansvar  # noqa: PLC0415 - the package itself, for its version

        print(f"ansvar {ansvar.__version__}")
        parser.exit(0)


def _date(text: str) -> dt.date:
    """A date given as YYYY-MM-DD that exists in the calendar."""
    try:
        if _ISO_DATE.fullmatch(text):
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    msg = "must be a date that exists in the calendar, as YYYY-MM-DD"
    raise argparse.ArgumentTypeError(msg)


def _port(text: str) -> int:
    """A TCP port number."""
    if text.isdigit() and int(text) <= 65535:
        return int(text)
    msg = "must be a port number from 0 to 65535"
    raise argparse.ArgumentTypeError(msg)


def _rule_options(parser: argparse.ArgumentParser, suffix: str = "") -> None:
    """--rules and --add-rules, accepted before the command and after it (`suffix` keeps them apart)."""
    parser.add_argument("--rules", action="append", type=Path, metavar="DIR", dest=f"rules{suffix}",
                        help="rule directory to use instead of the shipped packs (repeatable)")
    parser.add_argument("--add-rules", action="append", type=Path, metavar="DIR", dest=f"add_rules{suffix}",
                        help="rule directory to load beside the shipped packs, e.g. a municipality "
                             "inheriting region_nordjylland (repeatable)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ansvar", description="Who is responsible, and what happens next.")
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    _rule_options(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, epilog: str | None = None) -> argparse.ArgumentParser:
        if epilog is None:
            sub = commands.add_parser(name, help=help_text, description=help_text)
        else:  # an epilog keeps its own lines
            sub = commands.add_parser(name, help=help_text, description=help_text, epilog=epilog,
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
        _rule_options(sub, "_after")
        return sub

    route = command("route", "route one situation (YAML or JSON file, or - for stdin)")
    route.add_argument("file", help="situation file, or - to read standard input")
    route.add_argument("--on", type=_date, metavar="YYYY-MM-DD",
                       help="the date to answer for (default today)")
    route.add_argument("--json", action="store_true", help="print the Decision as JSON")
    route.add_argument("--complete", action="store_true",
                       help="refuse to answer on assumptions: exit 2 naming the facts not stated that the "
                            "answer depends on, with their Danish questions")
    ask = command("ask", "an interview: asks, one at a time, only the facts the answer still depends on, "
                         "then prints the Decision", ASK_EPILOG)
    ask.add_argument("municipality", nargs="?", help="asked for when not given")
    ask.add_argument("event", nargs="?", help="asked for when not given")
    ask.add_argument("--on", type=_date, metavar="YYYY-MM-DD", help="the date to answer for (default today)")
    ask.add_argument("--json", action="store_true",
                     help="for programs: questions and the Decision as JSON lines, answers as JSON values "
                          "(see below)")
    events = command("events", "list municipalities, or the events one of them covers")
    events.add_argument("municipality", nargs="?")
    events.add_argument("--json", action="store_true", help="print JSON")
    diff = command("diff", "where two municipalities answer differently, for situations both cover")
    diff.add_argument("first")
    diff.add_argument("second")
    diff.add_argument("event", nargs="?", help="one event (default: every event both cover)")
    diff.add_argument("--on", type=_date, metavar="YYYY-MM-DD", help="the date to answer for (default today)")
    diff.add_argument("--json", action="store_true", help="print JSON")
    test = command("test", "run scenario files: the answers a guide's text demands")
    test.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                      help="scenario file, or directory searched for them (a file's own rules: win over "
                           "--rules and --add-rules)")
    docs = command("docs", "write HTML documentation of the rule packs, with routing diagrams")
    docs.add_argument("out", type=Path, metavar="OUT",
                      help="folder for index.html and <municipality>/<event>.html (unchanged files are kept)")
    check = command("check", "every load error, then gaps, conflicts, unreachable and shadowed rules, found "
                             "exhaustively")
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                       help="rule directories to check (loaded beside the others); default: all loaded")
    check.add_argument("--on", type=_date, metavar="YYYY-MM-DD",
                       help="the date to analyse for (default today)")
    check.add_argument("--json", action="store_true", help="print JSON")
    serve = command("serve", "serve routing over HTTP, and the caseworker's page at / (needs the server "
                             "extra: pip install 'ansvar[server]')")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port to listen on (default 8000)")
    return parser


def _serve(dirs: list[Path], args: argparse.Namespace) -> int:
    try:
        from ansvar.server import serve  # noqa: PLC0415 - fastapi and uvicorn come with the server extra only
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in {"fastapi", "fastapi_swagger", "starlette", "uvicorn"}:
            raise
        print(f"ansvar: serve needs the server extra ({exc.name} is not installed): "
              "pip install 'ansvar[server]'", file=sys.stderr)
        return EXIT_INPUT
    try:
        serve(args.host, args.port, rule_dirs=dirs)
    except SystemExit as exc:  # uvicorn exits with 3 when it cannot start (the port is taken, say)
        if exc.code in {0, None}:
            return 0
        print(f"ansvar: the server could not start on {args.host}:{args.port} (see the message above)",
              file=sys.stderr)
        return EXIT_SERVER
    return 0


def _test(dirs: list[Path], args: argparse.Namespace) -> int:
    from ansvar.testing import scenarios  # noqa: PLC0415 - loaded when asked for

    return scenarios.main(args.paths, sys.stdout, dirs)


def _docs(dirs: list[Path], args: argparse.Namespace) -> int:
    from ansvar.render import docs as docsgen  # noqa: PLC0415 - loaded when asked for

    return docsgen.main(dirs, args.out)


def _check(dirs: list[Path], args: argparse.Namespace) -> int:
    from ansvar.analysis.audit import check  # noqa: PLC0415 - what `route` does not need loads when asked

    report = check([*dirs, *args.paths], only=args.paths, on=args.on)  # a folder given twice loads once
    if args.json:
        analysed = [{"municipality": m, "event": e, "situations": n, "seconds": round(t, 4)}
                    for (m, e), (n, t) in report.analysed.items()]
        print(json.dumps({"ok": report.ok, "findings": [f.as_json() for f in report.findings],
                          "analysed": analysed}, ensure_ascii=False, indent=2))
    else:
        for finding in report.findings:
            print(finding)
        situations = sum(n for n, _ in report.analysed.values())
        seconds = sum(t for _, t in report.analysed.values())
        verdict = "ok" if report.ok else f"{len(report.errors)} problem(s)"
        if report.warnings:
            verdict += f", {len(report.warnings)} warning(s)"
        listed = f"; {len(report.interpretations)} interpretation(s) listed" if report.interpretations else ""
        print(f"{verdict}: {len(report.analysed)} packs, {situations} situations analysed in {seconds:.1f} s"
              f"{listed}")
    return 0 if report.ok else 1


def _diff(router: Router, args: argparse.Namespace) -> int:
    from ansvar.analysis.diff import compare  # noqa: PLC0415 - loaded when asked for
    from ansvar.render.comparison import render_comparison  # noqa: PLC0415

    comparisons = compare(router, args.first, args.second, args.event, on=args.on)
    if args.json:
        report = [{"event": c.event, "situations": c.situations,
                   "differences": [dataclasses.asdict(d) for d in c.differences]} for c in comparisons]
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(render_comparison(comparisons, args.first, args.second))
    return 1 if any(c.differences for c in comparisons) else 0


def _read_situation(name: str) -> Any:  # noqa: ANN401 - whatever the file holds; the router validates it
    where = _where(name)
    if name == "-":
        raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    else:
        try:
            raw = _yaml.read(Path(name), MAX_INPUT_BYTES)  # a regular file only: a FIFO would hang here
        except OSError as exc:
            raise SituationError([{"loc": (), "msg": f"cannot read: {exc.strerror}", "type": "os_error"}],
                                 where=where) from None
    if len(raw) > MAX_INPUT_BYTES:
        raise SituationError([{"loc": (), "msg": f"larger than {MAX_INPUT_BYTES} bytes", "type": "too_long"}],
                             where=where)
    if raw.lstrip()[:1] in {b"{", b"["}:
        data = _read_json(raw, where)
    else:
        try:
            data = _yaml.load(raw)
        except _yaml.YamlProblem as exc:
            at = f":{exc.line}:{exc.column}" if exc.line else ""
            problem = {"loc": (), "msg": exc.message, "type": "yaml"}
            raise SituationError([problem], where=where + at) from None
    if data is None:
        raise SituationError([{"loc": (), "msg": "holds no situation: expected a mapping of facts "
                                                 "(municipality, event, ...)", "type": "empty"}], where=where)
    return data


def _where(name: str) -> str:
    return "<stdin>" if name == "-" else name


class _DuplicateKeyError(ValueError):
    """A JSON object naming a key twice."""


def _read_json(raw: bytes, where: str) -> Any:  # noqa: ANN401
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found = dict(pairs)
        if len(found) < len(pairs):  # some key came twice: name the first (if it is an id), in linear time
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    raise _DuplicateKeyError(f"duplicate key {shown(key)}")
                seen.add(key)
        return found

    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    except UnicodeDecodeError as exc:
        problem, at = f"not UTF-8 text (byte {exc.start})", ""
    except json.JSONDecodeError as exc:  # its words, up to any quoting of the text
        problem, at = f"JSON syntax error: {exc.msg.partition(':')[0]}", f":{exc.lineno}:{exc.colno}"
    except RecursionError:
        problem, at = "nested too deeply", ""
    except _DuplicateKeyError as exc:
        problem, at = str(exc), ""
    except ValueError:  # Python refuses an integer of more than 4,300 digits
        problem, at = "a number too long to read", ""
    raise SituationError([{"loc": (), "msg": problem, "type": "json"}], where=where + at)


def _route(router: Router, args: argparse.Namespace) -> int:
    try:
        decision = router.route(_read_situation(args.file), on=args.on, complete=args.complete)
    except (SituationError, UnknownEventError) as exc:
        if exc.where is not None:
            raise
        raise exc.at(_where(args.file)) from None
    if args.json:
        print(json.dumps(decision.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        print(decision)
    return 0


def _events(router: Router, args: argparse.Namespace) -> int:
    if args.municipality is None:
        listing: Any = router.municipalities()
        print(json.dumps(listing) if args.json else "\n".join(listing))
        return 0
    listing = router.events(args.municipality)
    if args.json:
        print(json.dumps(listing, ensure_ascii=False, indent=2))
    else:
        width = max(map(len, listing), default=0)
        print("\n".join(f"{event:<{width}}  {title}" for event, title in listing.items()))
    return 0


# --- ask: the interview ---------------------------------------------------------------------------------

ASK_EPILOG = """\
Without MUNICIPALITY or EVENT the interview asks for them first. Then it asks one question at a time: the
fact nobody stated yet that best splits the answers still possible; when the answer no longer depends on
anything unstated, it prints the Decision.

In a terminal, answer with a choice's number (or its value or Danish label, e.g. ja); for a number or a
date, type it (YYYY-MM-DD); - for no value, where the fact may have none (Ikke oplyst, Ingen dato); ? or
an empty line for "ved ikke": the fact is not asked again, and the Decision assumes its default and lists
it as an open question. A bad answer is asked again. Ctrl-D stops the interview with exit status 2,
Ctrl-C with 130.

--json, for programs. Every line written on stdout is one JSON object whose "kind" says what it is:
  {"kind": "question", "fact": ID, "label": ..., "question": ..., "type": "boolean"|"enum"|"integer"|"date",
   "values": [{"value": ..., "label": ..., ...}, ...], "changes": [...], "deadlines": [...]}
      Answer it with one line on stdin holding one JSON value: true or false, one of the enum's values,
      an integer, a date as "YYYY-MM-DD", or null where the fact may be empty (a value listed with
      "value": null); or {"unknown": true} for "ved ikke". A question's fields are those of an open
      question of the Decision (ansvar.OpenQuestion): for an integer or a date, "values" are the ranges
      the rules tell apart ("minimum", "maximum"), not the only answers allowed; a date that a deadline
      waits for has no values. municipality and event, when not given, are asked first the same way
      (type "enum"; "ved ikke" is refused).
  {"kind": "error", "fact": ID, "message": ...}
      The answer was refused (the Danish message says why, without repeating it); the same question
      follows again.
  {"kind": "decision", "decision": {...}}
      The last line: the Decision, as `ansvar route --json` gives it; the facts answered "ved ikke" that
      still matter are its open_questions.
Exit status 0 after the decision; 2 when stdin ends first (or MUNICIPALITY or EVENT is unknown).
"""

#: An answer meaning "ved ikke": leave the fact unstated and do not ask it again.
UNKNOWN: Any = object()
#: The longest answer line read (`--json`).
MAX_ANSWER_CHARS = 10_000
_WHOLE_NUMBER = re.compile(r"-?\d{1,18}")


class _BadAnswerError(ValueError):
    """An answer that cannot be used; the message is Danish and never repeats the answer."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Question:
    """One question as the interview puts it: the open question, and how its answers are read."""

    fact: str
    question: str
    type: str
    choices: tuple[tuple[Any, str], ...]  # boolean and enum: the value each number picks, and its label
    classes: tuple[str, ...] = ()  # integer and date: the ranges the rules tell apart, for the reader
    empty: str | None = None  # the label of no value, where the fact may be empty (null)
    minimum: Any = None
    maximum: Any = None
    unknown_allowed: bool = True
    shown: dict[str, Any] = dataclasses.field(default_factory=dict)  # as --json writes it

    @classmethod
    def of(cls, question: OpenQuestion, spec: FactSpec) -> _Question:
        empty = None
        if spec.may_be_null:  # the label the event's classes give no value, as the Decision shows it
            empty = next((v.label for v in question.values if v.value is None and v.minimum is None),
                         "Ingen dato" if spec.type == "date" else "Ikke oplyst")
        shown = {"kind": "question", **question.model_dump(mode="json")}
        if spec.type in {"boolean", "enum"}:
            choices = tuple((v.value, v.label) for v in question.values)
            if not choices:  # every open boolean or enum question lists its values; the event's, else
                choices = ((False, "Nej"), (True, "Ja")) if spec.type == "boolean" else tuple(
                    (spec.values or {}).items())
            return cls(question.fact, question.question, spec.type, choices, shown=shown)
        classes = tuple(v.label for v in question.values if v.minimum is not None or v.maximum is not None)
        if spec.type == "integer":
            return cls(question.fact, question.question, spec.type, (), classes, empty, spec.minimum,
                       spec.maximum, shown=shown)
        return cls(question.fact, question.question, spec.type, (), classes, empty, EARLIEST_DATE,
                   LATEST_DATE, shown=shown)

    @classmethod
    def choice(cls, fact: str, label: str, question: str, choices: dict[str, str]) -> _Question:
        """Which municipality or event: one of the loaded packs', never "ved ikke"."""
        shown = {"kind": "question", "fact": fact, "label": label, "question": question, "type": "enum",
                 "values": [{"value": v, "label": t} for v, t in choices.items()], "changes": [],
                 "deadlines": []}
        return cls(fact, question, "enum", tuple(choices.items()), unknown_allowed=False, shown=shown)

    # --- a typed answer ---

    def hint(self) -> str:
        """What an answer to this question looks like, in Danish."""
        if self.choices:
            hint = f"et nummer fra 1 til {len(self.choices)}"
        elif self.type == "integer":
            hint = "et helt tal" + self._bounds()
        else:
            hint = "en dato som ÅÅÅÅ-MM-DD"
        if self.empty is not None:
            hint += f", - for {self.empty.lower()}"
        if self.unknown_allowed:
            hint += ", ? for ved ikke"
        return hint

    def _bounds(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f" fra {self.minimum} til {self.maximum}"
        if self.minimum is not None:
            return f" på mindst {self.minimum}"
        if self.maximum is not None:
            return f" på højst {self.maximum}"
        return ""

    def from_text(self, text: str) -> Any:  # noqa: ANN401 - the fact's value
        """The value a typed answer gives, or UNKNOWN; `_BadAnswerError` for one that gives none."""
        text = text.strip()
        if text in {"", "?"}:
            if self.unknown_allowed:
                return UNKNOWN
            raise _BadAnswerError(f"Vælg en af mulighederne: skriv {self.hint()}.")
        if self.choices:
            if text.isascii() and text.isdigit() and 1 <= int(text) <= len(self.choices):
                return self.choices[int(text) - 1][0]
            named = {str(value).casefold(): value for value, _ in self.choices if value is not None}
            named.update((label.casefold(), value) for value, label in self.choices)
            if text.casefold() in named:
                return named[text.casefold()]
        elif text == "-" and self.empty is not None:
            return None
        elif self.type == "integer" and _WHOLE_NUMBER.fullmatch(text):
            return self._in_range(int(text))
        elif self.type == "date" and _ISO_DATE.fullmatch(text):
            with contextlib.suppress(ValueError):
                return self._in_range(dt.date.fromisoformat(text))
        raise _BadAnswerError(f"Ugyldigt svar: skriv {self.hint()}.")

    def _in_range(self, value: Any) -> Any:  # noqa: ANN401 - an int or a date
        low, high = self.minimum, self.maximum
        if (low is None or value >= low) and (high is None or value <= high):
            return value
        if self.type == "date":
            raise _BadAnswerError(f"Ugyldigt svar: datoen skal ligge fra {self.minimum:%d.%m.%Y} til "
                           f"{self.maximum:%d.%m.%Y}.")
        raise _BadAnswerError(f"Ugyldigt svar: skriv et helt tal{self._bounds()}.")

    # --- a JSON answer ---

    def from_json(self, answer: Any) -> Any:  # noqa: ANN401 - the fact's value
        """The value a JSON answer gives, or UNKNOWN; `_BadAnswerError` for one that gives none."""
        if isinstance(answer, dict) and list(answer) == ["unknown"] and answer["unknown"] is True:
            if self.unknown_allowed:
                return UNKNOWN
            raise _BadAnswerError("Ugyldigt svar: her kan der ikke svares ved ikke; giv en af værdierne.")
        if answer is None and (self.empty is not None or any(v is None for v, _ in self.choices)):
            return None
        return self._json_choice(answer) if self.choices else self._json_scalar(answer)

    def _json_choice(self, answer: object) -> Any:  # noqa: ANN401 - a boolean or an enum value
        for value, _ in self.choices:
            if value is not None and type(answer) is type(value) and answer == value:
                return value
        if self.type == "boolean":
            raise _BadAnswerError("Ugyldigt svar: giv true eller false.")
        listed = ", ".join(json.dumps(v, ensure_ascii=False) for v, _ in self.choices)
        raise _BadAnswerError(f"Ugyldigt svar: giv en af værdierne {listed}.")

    def _json_scalar(self, answer: object) -> Any:  # noqa: ANN401 - an int or a date
        if self.type == "integer":
            if isinstance(answer, int) and not isinstance(answer, bool):
                return self._in_range(answer)
            raise _BadAnswerError(f"Ugyldigt svar: giv et helt tal{self._bounds()}.")
        if isinstance(answer, str) and _ISO_DATE.fullmatch(answer):
            with contextlib.suppress(ValueError):
                return self._in_range(dt.date.fromisoformat(answer))
        raise _BadAnswerError('Ugyldigt svar: giv en dato, der findes, som "ÅÅÅÅ-MM-DD".')


Check = Callable[[Any], str | None]


class _Terminal:
    """The interview for a person: the question, its choices numbered, an answer typed after a prompt."""

    def ask(self, question: _Question, check: Check) -> Any:  # noqa: ANN401 - the fact's value
        print()
        print(question.question)
        if question.shown.get("description"):
            print(f"  ({question.shown['description']})")
        for number, (_, label) in enumerate(question.choices, 1):
            print(f"  {number}. {label}")
        if len(question.classes) > 1:
            print(f"  (reglerne skelner mellem: {', '.join(question.classes)})")
        while True:
            try:
                value = question.from_text(input(f"Svar ({question.hint()}): "))
                problem = None if value is UNKNOWN else check(value)
            except _BadAnswerError as refused:
                problem = str(refused)
            if problem is None:
                return value
            print(f"  {problem}")

    def finish(self, decision: Decision, unknown: set[str]) -> None:
        print()
        print(decision)
        still = [q for q in decision.open_questions if q.fact in unknown]
        if still:
            assumed = {a.fact: a.value_label for a in decision.assumed}
            print()
            print("Besvaret »ved ikke« (åbne spørgsmål; svaret bygger på antagelser):")
            for open_question in still:
                note = (f"antaget: {assumed[open_question.fact]}" if open_question.fact in assumed
                        else "fristen venter på datoen")
                print(f"  ? {open_question.label}: {open_question.question} ({note})")

    def stopped(self) -> None:
        print()  # the prompt's line, ended


class _Machine:
    """The interview for a program: JSON lines out, one JSON value per line in (see ASK_EPILOG)."""

    @staticmethod
    def _write(message: dict[str, Any]) -> None:
        print(json.dumps(message, ensure_ascii=False), flush=True)

    def ask(self, question: _Question, check: Check) -> Any:  # noqa: ANN401 - the fact's value
        while True:
            self._write(question.shown)
            try:
                value = question.from_json(self._read())
                problem = None if value is UNKNOWN else check(value)
            except _BadAnswerError as refused:
                problem = str(refused)
            if problem is None:
                return value
            self._write({"kind": "error", "fact": question.fact, "message": problem})

    @staticmethod
    def _read() -> Any:  # noqa: ANN401 - one JSON value
        """One answer line, as JSON; EOFError when stdin has ended."""
        line = sys.stdin.readline(MAX_ANSWER_CHARS + 1)
        if not line:
            raise EOFError
        if len(line) > MAX_ANSWER_CHARS:
            while line and not line.endswith("\n"):  # the rest of the line is no answer either
                line = sys.stdin.readline(MAX_ANSWER_CHARS)
            raise _BadAnswerError(f"Ugyldigt svar: længere end {MAX_ANSWER_CHARS} tegn.")
        try:
            return json.loads(line)
        except (ValueError, RecursionError):
            raise _BadAnswerError("Ugyldigt svar: linjen er ikke én JSON-værdi.") from None

    def finish(self, decision: Decision, unknown: set[str]) -> None:
        del unknown  # the Decision's open questions say it
        self._write({"kind": "decision", "decision": decision.model_dump(mode="json")})

    def stopped(self) -> None:
        pass


def _ask(router: Router, args: argparse.Namespace) -> int:
    """`ansvar ask`: the interview, then the Decision."""
    face = _Machine() if args.json else _Terminal()
    try:
        decision, unknown = _interview(router, args.municipality, args.event, routing_date(args.on), face)
    except KeyboardInterrupt:
        face.stopped()
        print("ansvar: interviewet blev afbrudt (Ctrl-C)", file=sys.stderr)
        return EXIT_INTERRUPT
    except EOFError:
        face.stopped()
        print("ansvar: interviewet blev afbrudt: der kom ikke flere svar", file=sys.stderr)
        return EXIT_INPUT
    face.finish(decision, unknown)
    return 0


def _interview(router: Router, municipality: str | None, event: str | None, on: dt.date,
               face: _Terminal | _Machine) -> tuple[Decision, set[str]]:
    """Ask until the answer depends on nothing unstated but the facts answered "ved ikke"."""
    if municipality is None:
        names = {m: _municipality_name(router, m) for m in router.municipalities()}
        municipality = face.ask(_Question.choice("municipality", "Kommune", "Hvilken kommune?", names),
                                lambda _: None)
    events = router.events(municipality)  # an unknown municipality: UnknownEventError, exit 2
    if event is None:
        event = face.ask(_Question.choice("event", "Hændelse", "Hvad drejer det sig om?", events),
                         lambda _: None)
    facts = router.pack(municipality, event).definition.facts  # an unknown event: UnknownEventError
    partial: dict[str, Any] = {"municipality": municipality, "event": event}
    unknown: set[str] = set()
    while (found := _next_question(router, partial, unknown, on)) is not None:
        fact = found.fact

        def fits(value: object, fact: str = fact) -> str | None:
            return _fits(router, partial, fact, value)

        value = face.ask(_Question.of(found, facts[fact]), fits)
        if value is UNKNOWN:
            unknown.add(fact)
        else:
            partial[fact] = value
    return router.route(partial, on=on), unknown


def _next_question(router: Router, partial: dict[str, Any], unknown: set[str],
                   on: dt.date) -> OpenQuestion | None:
    """The most informative question left, past the facts answered "ved ikke"."""
    return router.next_question(partial, on=on, unknown=unknown)


def _fits(router: Router, partial: dict[str, Any], fact: str, value: object) -> str | None:
    """Why an answer does not fit the answers so far (dates out of order), in Danish; None if it fits."""
    given = {**partial, fact: value}
    try:
        router.parse_situation(given)
    except SituationError as exc:
        facts = router.definitions[partial["event"]].facts
        for error in exc.errors:
            later = str(error["loc"][0]) if error.get("type") == "date_order" and error.get("loc") else ""
            if later in facts:
                earlier = [f"»{facts[f].label}«" for f in facts[later].not_before
                           if f in facts and _before(given.get(later), given.get(f))]
                return (f"Datoen passer ikke med de andre svar: »{facts[later].label}« kan ikke ligge før "
                        f"{' eller '.join(earlier) or 'en anden dato'}.")
        return "Svaret passer ikke med de andre svar."
    return None


def _before(one: object, other: object) -> bool:
    return isinstance(one, dt.date) and isinstance(other, dt.date) and one < other


def _municipality_name(router: Router, municipality: str) -> str:
    """The municipality's Danish name, as its layer gives it."""
    first = next(iter(router.events(municipality)))
    return router.pack(municipality, first).municipality.spec.name


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    As the `ansvar` program (no `argv`), every object left is frozen out of the garbage collector before
    the interpreter exits: its last collections would only walk them (the rule packs, the models), the
    largest part of a short command's teardown.
    """
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader stopped reading (`| head -1`): stop too, quietly. Point stdout at /dev/null so that
        # the interpreter's last flush does not fail again on the way out.
        with contextlib.suppress(OSError, ValueError):  # a stdout with no file behind it: nothing to do
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
    finally:
        if argv is None:
            gc.freeze()


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    rules = [*(args.rules or []), *(getattr(args, "rules_after", None) or [])]
    added = [*(args.add_rules or []), *(getattr(args, "add_rules_after", None) or [])]
    dirs = [*(rules or [shipped_rules()]), *added]
    # Commands that load the rule packs themselves, and those that route on a loaded Router.
    own: dict[str, Callable[[list[Path], argparse.Namespace], int]] = {
        "check": _check, "test": _test, "docs": _docs, "serve": _serve}
    routed: dict[str, Callable[[Router, argparse.Namespace], int]] = {
        "diff": _diff, "route": _route, "events": _events, "ask": _ask}
    try:
        if args.command in own:
            return own[args.command](dirs, args)
        return routed[args.command](Router(dirs), args)
    except AnsvarError as exc:
        code, label = _failure(exc)
        print(f"ansvar: {label}{exc}", file=sys.stderr)
        return code


def _failure(exc: AnsvarError) -> tuple[int, str]:
    """The exit status and the label of an error."""
    if isinstance(exc, RuleError):
        return EXIT_RULES, "rule error: "
    if isinstance(exc, ConflictError | NoResponsibleError):
        return EXIT_RULES, "rule pack defect: "
    if isinstance(exc, EngineError):
        return EXIT_ENGINE, "engine error: "
    return EXIT_INPUT, ""


if __name__ == "__main__":
    sys.exit(main())
