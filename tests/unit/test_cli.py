"""The command line: routes example situations, prints one clear line on errors, exits non-zero."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import ansvar
from ansvar import cli
from tests.fixtures.towns import write_town

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_routes_every_example(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every file in examples/ routes, as text and as JSON."""
    assert cli.main(["route", str(example), "--on", "2026-11-23"]) == 0
    text = capsys.readouterr().out
    assert "Ansvarlig:" in text
    assert cli.main(["route", str(example), "--on", "2026-11-23", "--json"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["responsible"]
    assert decision["on"] == "2026-11-23"


def test_examples_cover_every_event() -> None:
    """examples/ has an example for every event the shipped packs cover, in any municipality."""
    import ansvar

    covered = set()
    from ansvar import _yaml

    for example in EXAMPLES:
        covered.add(_yaml.load(example.read_bytes())["event"])
    router = ansvar.default_router()
    assert covered >= {e for m in router.municipalities() for e in router.events(m)}


def test_readme_example(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's example (examples/afrusning.yaml) sends delirium tremens to Akutmodtagelsen."""
    assert cli.main(["route", str(ROOT / "examples" / "afrusning.yaml"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["responsible"] == "region_akutmodtagelse"


@pytest.mark.parametrize(("text", "code", "message"), [
    ('{"municipality": "aalborg", "event": "afrusning", "seizures": "yes"}', 2, "seizures"),
    ("municipality: aalborg\nevent: afrusning\nseizures: yes\n", 2, "seizures"),
    ("municipality: aalborg\nevent: afrusning\nseizures: true\nseizures: false\n", 2, "duplicate key"),
    ('{"municipality": "aalborg", "event": "afrusning",', 2, "<stdin>:1:"),
    ('{"municipality": "aalborg", "event": "afruzning"}', 2, "unknown event"),
    ('{"municipality": "aarhus", "event": "afrusning"}', 2, "unknown municipality"),
    ("- a\n", 2, "expected a mapping"),
    ("a: !!python/object:os.system x\n", 2, "unsupported tag"),
])
def test_errors_print_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                               text: str, code: int, message: str) -> None:
    """Bad input: one line on stderr naming the problem, nothing on stdout, exit 2."""
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    assert cli.main(["route", "-"]) == code
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert message in err


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    """A file that does not exist is one line and exit 2."""
    assert cli.main(["route", "/nonexistent/situation.yaml"]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_broken_rules_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A broken rule directory is exit 3 with file:line:col."""
    write_town(tmp_path, "x", "layer: x\nkind: municipality\nname: X\nactors:\n  borger: {name: B}\n"
                              "  bad: {name: C}\n")
    assert cli.main(["--rules", str(tmp_path), "events"]) == 3
    assert "layer.yaml:6:" in capsys.readouterr().err


def test_events_listing(capsys: pytest.CaptureFixture[str]) -> None:
    """`ansvar events` lists municipalities; with one, its events and Danish titles."""
    assert cli.main(["events"]) == 0
    assert "aalborg" in capsys.readouterr().out.split()
    assert cli.main(["events", "aalborg", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["afrusning"].startswith("Borger ønsker afrusning")
    assert cli.main(["events", "aarhus"]) == 2


def test_console_script_runs() -> None:
    """`python -m ansvar.cli` works as a program (the installed `ansvar` script calls the same main)."""
    result = subprocess.run([sys.executable, "-m", "ansvar.cli", "events"], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0
    assert "aalborg" in result.stdout


def test_importing_ansvar_and_its_pytest_plugin_is_light() -> None:
    """Every pytest run of a project that installs ansvar loads its plugin: that must not load the engine."""
    import subprocess
    import sys

    code = ("import sys, ansvar, ansvar.testing.pytest_plugin; "
            "print(sorted(m for m in ('pydantic', 'durable_rules_engine', 'ansvar.routing.router') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_routing_loads_no_tooling_it_does_not_use() -> None:
    """`ansvar route` and `ansvar.route` load neither the docs, check, diff or scenario tooling, nor the
    server's or the frames' dependencies: what a route does not need is imported when asked for."""
    import subprocess
    import sys

    heavy = ("ansvar.render.docs", "ansvar.analysis.audit", "ansvar.analysis.diff", "ansvar.testing.scenarios",
             "ansvar.render.comparison", "ansvar.server", "fastapi", "uvicorn", "pandas")
    code = ("import sys, io, contextlib, ansvar, ansvar.cli; "
            "ansvar.route({'municipality': 'aalborg', 'event': 'afrusning', 'seizures': True}); "
            "out = io.StringIO(); ctx = contextlib.redirect_stdout(out); ctx.__enter__(); "
            "code = ansvar.cli.main(['route', '-']); ctx.__exit__(None, None, None); "
            f"print(code, sorted(m for m in {heavy!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], input="municipality: aalborg\nevent: afrusning\n",
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0 []"


# --- rough edges a new user meets ------------------------------------------------------------------------

TOWN_LAYER = "layer: nordby\nkind: municipality\nname: Nordby\nactors:\n  borger: {name: Borger}\n"
TOWN_PACK = """\
pack: {layer: nordby, event: afrusning, title: Afrusning i Nordby, document: Nordbys vejledning, version: "1",
       valid_from: 2020-01-01, review_by: null, section: Afrusning}
rules:
  - {id: borger_leder, responsible: borger, source: {section: S, passage: P}}
"""


def _town(tmp_path: Path) -> Path:
    (tmp_path / "nordby.yaml").write_text("municipality: nordby\nevent: afrusning\n", encoding="utf-8")
    return write_town(tmp_path / "mine", "nordby", TOWN_LAYER, {"afrusning": TOWN_PACK})


@pytest.mark.parametrize("command", [
    ["diff", "aalborg", "rebild", "--json"],
    ["route", str(ROOT / "examples" / "afrusning.yaml"), "--json"],
    ["check", "--json", "--on", "2026-11-23"],
], ids=lambda command: command[0])
def test_output_cut_short_by_its_reader_ends_quietly(command: list[str]) -> None:
    """`ansvar … | head -1`: when the reader goes away, the command stops with 141 and no traceback."""
    process = subprocess.Popen([sys.executable, "-m", "ansvar.cli", *command], stdout=subprocess.PIPE,  # noqa: S603
                               stderr=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before the first line is written
    _, err = process.communicate(timeout=120)
    assert err.decode() == ""
    assert process.returncode == cli.EXIT_PIPE


def _usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as caught:
        cli.main(list(argv))
    assert caught.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("ansvar: ")
    assert err.count("\n") == 1, err
    return err


def test_an_impossible_on_date_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """`--on 2026-02-30` (or not a date at all) is one line naming --on and the form a date takes."""
    for day in ("2026-02-30", "30.01.2026", "tomorrow", "2026-1-1"):
        err = _usage_error(capsys, "route", str(EXAMPLES[0]), "--on", day)
        assert "--on" in err
        assert "YYYY-MM-DD" in err


def test_a_port_out_of_range_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """`ansvar serve --port 99999` is a one-line usage error, not a traceback from the socket."""
    err = _usage_error(capsys, "serve", "--port", "99999")
    assert "--port" in err
    assert "65535" in err


def test_rule_options_are_accepted_after_the_command(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`--rules` and `--add-rules` work after the command as before it, and both places add up."""
    mine = _town(tmp_path)
    situation = str(tmp_path / "nordby.yaml")
    assert cli.main(["route", "--add-rules", str(mine), situation, "--on", "2026-11-23", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["municipality"] == "nordby"
    assert cli.main(["events", "--rules", str(mine)]) == 0
    assert capsys.readouterr().out.split() == ["nordby"]
    assert cli.main(["--rules", str(mine), "events", "--add-rules", str(ansvar.shipped_rules())]) == 0
    assert capsys.readouterr().out.split() == sorted([*ansvar.default_router().municipalities(), "nordby"])


def test_version_is_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    """`ansvar --version` and `ansvar.__version__` say the installed package's version."""
    version = importlib.metadata.version("ansvar")
    assert ansvar.__version__ == version
    with pytest.raises(SystemExit) as caught:
        cli.main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out == f"ansvar {version}\n"


def test_a_misspelt_fact_is_named_with_a_suggestion_and_the_file(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A misspelt fact: one line naming the file, the fact, and what it may have meant."""
    path = tmp_path / "situation.yaml"
    path.write_text("municipality: aalborg\nevent: afrusning\nwithdrawl_symptoms: true\n", encoding="utf-8")
    assert cli.main(["route", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ansvar: {path}: ")
    assert "withdrawl_symptoms" in err
    assert "did you mean 'withdrawal_symptoms'?" in err
    assert err.count("\n") == 1


def test_an_unknown_municipality_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A situation file for a municipality no pack covers: one line naming the file and the known ones."""
    path = tmp_path / "situation.yaml"
    path.write_text("municipality: aarhus\nevent: afrusning\n", encoding="utf-8")
    assert cli.main(["route", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"ansvar: {path}: unknown municipality; known: ")


@pytest.mark.parametrize("content", ["", "\n\n", "# only a comment\n"])
def test_an_empty_situation_file_says_so(tmp_path: Path, content: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """An empty file (or one of comments only) says it holds no situation, naming the file."""
    path = tmp_path / "situation.yaml"
    path.write_text(content, encoding="utf-8")
    assert cli.main(["route", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ansvar: {path}: ")
    assert "holds no situation" in err
    assert "NoneType" not in err


def test_readme_lists_every_exit_status() -> None:
    """README's CLI paragraph names each exit status the command line can end with."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sentence = readme[readme.index("Errors print one line"):]
    sentence = sentence[:sentence.index("\n\n")]
    for code in (1, cli.EXIT_INPUT, cli.EXIT_RULES, cli.EXIT_ENGINE, cli.EXIT_SERVER, cli.EXIT_INTERRUPT,
                 cli.EXIT_PIPE):
        assert re.search(rf"\b{code}\b", sentence), code


def test_test_takes_the_rule_options_for_files_that_name_no_rules(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`ansvar test --add-rules DIR FILE`: a scenario file without `rules:` routes with them (they were
    silently ignored); a file's own `rules:` still wins."""
    mine = _town(tmp_path)
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "nordby.yaml").write_text(
        "scenarios:\n  - name: borgeren leder\n    cites: S\n    on: 2026-11-23\n"
        "    situation: {municipality: nordby, event: afrusning}\n    expect: {responsible: borger}\n",
        encoding="utf-8")
    assert cli.main(["test", str(scenarios)]) == 1  # the shipped packs know no nordby
    capsys.readouterr()
    assert cli.main(["test", "--add-rules", str(mine), str(scenarios)]) == 0
    assert capsys.readouterr().out.strip().endswith("1 passed, 0 failed")
    assert cli.main(["--rules", str(mine), "--add-rules", str(ansvar.shipped_rules()), "test",
                     str(scenarios)]) == 0


def test_route_complete_refuses_to_assume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ansvar route --complete`: a situation leaving facts open is one line naming them with their Danish
    questions, exit 2; the same situation with every fact stated routes."""
    import datetime as dt

    on = dt.date(2026, 11, 23)
    router = ansvar.default_router()
    partial = {"municipality": "aalborg", "event": "afrusning"}
    path = tmp_path / "situation.json"
    path.write_text(json.dumps(partial), encoding="utf-8")
    assert cli.main(["route", str(path), "--complete", "--on", on.isoformat()]) == cli.EXIT_INPUT
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"ansvar: {path}: incomplete situation")
    open_questions = router.route(partial, on=on).open_questions
    assert open_questions
    for question in open_questions[:3]:
        assert f"{question.fact}: {question.question}" in err
    facts = router.definitions["afrusning"].facts
    path.write_text(json.dumps({**partial, **{name: fact.default_value for name, fact in facts.items()}}),
                    encoding="utf-8")
    assert cli.main(["route", str(path), "--complete", "--on", on.isoformat(), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["open_questions"] == []
