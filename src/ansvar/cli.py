"""`ansvar route | events | diff | check | test | docs | serve`.

Errors print one clear line on stderr and exit non-zero: 2 for bad input or usage, 3 for a defect in the
rule packs, 4 for an engine failure, 5 when `serve` cannot start its server. `diff` exits 1 when the
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
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ansvar import _yaml
from ansvar.analysis.audit import check
from ansvar.analysis.diff import compare
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
from ansvar.render import docs as docsgen
from ansvar.render.comparison import render_comparison
from ansvar.routing.router import Router, shipped_rules
from ansvar.testing import scenarios

EXIT_INPUT, EXIT_RULES, EXIT_ENGINE, EXIT_SERVER = 2, 3, 4, 5
EXIT_PIPE = 128 + 13  # as a shell reports a program ended by SIGPIPE
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

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _rule_options(sub, "_after")
        return sub

    route = command("route", "route one situation (YAML or JSON file, or - for stdin)")
    route.add_argument("file", help="situation file, or - to read standard input")
    route.add_argument("--on", type=_date, metavar="YYYY-MM-DD",
                       help="the date to answer for (default today)")
    route.add_argument("--json", action="store_true", help="print the Decision as JSON")
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
    serve = command("serve", "serve routing over HTTP (needs the server extra: pip install 'ansvar[server]')")
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


def _check(dirs: list[Path], args: argparse.Namespace) -> int:
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
        print(f"{verdict}: {len(report.analysed)} packs, {situations} situations analysed in {seconds:.1f} s")
    return 0 if report.ok else 1


def _diff(router: Router, args: argparse.Namespace) -> int:
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
        decision = router.route(_read_situation(args.file), on=args.on)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader stopped reading (`| head -1`): stop too, quietly. Point stdout at /dev/null so that
        # the interpreter's last flush does not fail again on the way out.
        with contextlib.suppress(OSError, ValueError):  # a stdout with no file behind it: nothing to do
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    rules = [*(args.rules or []), *(getattr(args, "rules_after", None) or [])]
    added = [*(args.add_rules or []), *(getattr(args, "add_rules_after", None) or [])]
    dirs = [*(rules or [shipped_rules()]), *added]
    # Commands that load the rule packs themselves, and those that route on a loaded Router.
    own: dict[str, Callable[[list[Path], argparse.Namespace], int]] = {
        "check": _check, "test": lambda d, a: scenarios.main(a.paths, sys.stdout, d),
        "docs": lambda d, a: docsgen.main(d, a.out), "serve": _serve}
    routed: dict[str, Callable[[Router, argparse.Namespace], int]] = {
        "diff": _diff, "route": _route, "events": _events}
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
