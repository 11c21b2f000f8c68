"""`ansvar route | events | diff | check | test | docs | serve`.

Errors print one clear line on stderr and exit non-zero: 2 for bad input or usage, 3 for a defect in the
rule packs, 4 for an engine failure, 5 when `serve` cannot start its server. `diff` exits 1 when the
municipalities answer differently, as diff(1); `check` exits 1 when it finds any problem; `test` 1 when a
scenario fails, 2 when a file is malformed.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ansvar import _yaml, docsgen, scenarios
from ansvar.analysis import check
from ansvar.compare import compare
from ansvar.display import render_comparison
from ansvar.errors import (
    AnsvarError,
    ConflictError,
    EngineError,
    NoResponsibleError,
    RuleError,
    SituationError,
    shown,
)
from ansvar.router import Router, shipped_rules

EXIT_INPUT, EXIT_RULES, EXIT_ENGINE, EXIT_SERVER = 2, 3, 4, 5
MAX_INPUT_BYTES = 1_000_000


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ansvar", description="Who is responsible, and what happens next.")
    parser.add_argument("--rules", action="append", type=Path, metavar="DIR",
                        help="rule directory to use instead of the shipped packs (repeatable)")
    parser.add_argument("--add-rules", action="append", type=Path, default=[], metavar="DIR",
                        help="rule directory to load beside the shipped packs, e.g. a municipality "
                             "inheriting region_nordjylland (repeatable)")
    commands = parser.add_subparsers(dest="command", required=True)
    route = commands.add_parser("route", help="route one situation (YAML or JSON file, or - for stdin)")
    route.add_argument("file", help="situation file, or - to read standard input")
    route.add_argument("--on", type=dt.date.fromisoformat, metavar="YYYY-MM-DD",
                       help="the date to answer for (default today)")
    route.add_argument("--json", action="store_true", help="print the Decision as JSON")
    events = commands.add_parser("events", help="list municipalities, or the events one of them covers")
    events.add_argument("municipality", nargs="?")
    events.add_argument("--json", action="store_true", help="print JSON")
    diff = commands.add_parser("diff", help="where two municipalities answer differently, for situations "
                                            "both cover")
    diff.add_argument("first")
    diff.add_argument("second")
    diff.add_argument("event", nargs="?", help="one event (default: every event both cover)")
    diff.add_argument("--on", type=dt.date.fromisoformat, metavar="YYYY-MM-DD",
                      help="the date to answer for (default today)")
    diff.add_argument("--json", action="store_true", help="print JSON")
    test = commands.add_parser("test", help="run scenario files: the answers a guide's text demands")
    test.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                      help="scenario file, or directory searched for them (each file names its own rules:)")
    docs = commands.add_parser("docs", help="write HTML documentation of the rule packs, with routing "
                                            "diagrams (needs Graphviz's dot)")
    docs.add_argument("out", type=Path, metavar="OUT",
                      help="folder for index.html and <municipality>/<event>.html (unchanged files are kept)")
    check = commands.add_parser("check", help="every load error, then gaps, conflicts, unreachable and "
                                              "shadowed rules, found exhaustively")
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                       help="rule directories to check (loaded beside the others); default: all loaded")
    check.add_argument("--on", type=dt.date.fromisoformat, metavar="YYYY-MM-DD",
                       help="the date to analyse for (default today)")
    check.add_argument("--json", action="store_true", help="print JSON")
    serve = commands.add_parser("serve", help="serve routing over HTTP (needs the server extra: "
                                              "pip install 'ansvar[server]')")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    return parser


def _serve(dirs: list[Path], args: argparse.Namespace) -> int:
    try:
        from ansvar.server import serve  # noqa: PLC0415 - fastapi and uvicorn come with the server extra only
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in {"fastapi", "starlette", "uvicorn"}:
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
    known = {d.resolve() for d in dirs}
    report = check([*dirs, *(p for p in args.paths if p.resolve() not in known)], only=args.paths, on=args.on)
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
        verdict = "ok" if report.ok else f"{len(report.findings)} problem(s)"
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
    where = "<stdin>" if name == "-" else name
    if name == "-":
        raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    else:
        try:
            with Path(name).open("rb") as handle:
                raw = handle.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise SituationError([{"loc": (), "msg": f"cannot read: {exc.strerror}", "type": "os_error"}],
                                 where=where) from None
    if len(raw) > MAX_INPUT_BYTES:
        raise SituationError([{"loc": (), "msg": f"larger than {MAX_INPUT_BYTES} bytes", "type": "too_long"}],
                             where=where)
    if raw.lstrip()[:1] in {b"{", b"["}:
        return _read_json(raw, where)
    try:
        return _yaml.load(raw)
    except _yaml.YamlProblem as exc:
        at = f":{exc.line}:{exc.column}" if exc.line else ""
        raise SituationError([{"loc": (), "msg": exc.message, "type": "yaml"}], where=where + at) from None


def _read_json(raw: bytes, where: str) -> Any:  # noqa: ANN401
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        duplicate = next((k for k in keys if keys.count(k) > 1), None)
        if duplicate is not None:
            raise ValueError(f"duplicate key {shown(duplicate)}")
        return dict(pairs)

    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    except UnicodeDecodeError as exc:
        problem, at = f"not UTF-8 text (byte {exc.start})", ""
    except json.JSONDecodeError as exc:
        problem, at = f"JSON syntax error: {exc.msg}", f":{exc.lineno}:{exc.colno}"
    except RecursionError:
        problem, at = "nested too deeply", ""
    except ValueError as exc:
        problem, at = str(exc), ""
    raise SituationError([{"loc": (), "msg": problem, "type": "json"}], where=where + at)


def _route(router: Router, args: argparse.Namespace) -> int:
    decision = router.route(_read_situation(args.file), on=args.on)
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
    args = _parser().parse_args(argv)
    dirs = [*(args.rules or [shipped_rules()]), *args.add_rules]
    # Commands that load the rule packs themselves, and those that route on a loaded Router.
    own: dict[str, Callable[[list[Path], argparse.Namespace], int]] = {
        "check": _check, "test": lambda _dirs, a: scenarios.main(a.paths, sys.stdout),
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
