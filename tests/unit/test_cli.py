"""The command line: routes example situations, prints one clear line on errors, exits non-zero."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ansvar import cli

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted((ROOT / "events").glob("*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_routes_every_example(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every file in events/ routes, as text and as JSON."""
    assert cli.main(["route", str(example), "--on", "2026-11-23"]) == 0
    text = capsys.readouterr().out
    assert "Ansvarlig:" in text
    assert cli.main(["route", str(example), "--on", "2026-11-23", "--json"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["responsible"]
    assert decision["on"] == "2026-11-23"


def test_examples_cover_every_event() -> None:
    """events/ has an example for every event the shipped packs cover, in any municipality."""
    import ansvar

    covered = set()
    from ansvar import _yaml

    for example in EXAMPLES:
        covered.add(_yaml.load(example.read_bytes())["event"])
    router = ansvar.default_router()
    assert covered >= {e for m in router.municipalities() for e in router.events(m)}


def test_readme_example(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's example (events/afrusning.yaml) sends delirium tremens to Akutmodtagelsen."""
    assert cli.main(["route", str(ROOT / "events" / "afrusning.yaml"), "--json"]) == 0
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
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "layer.yaml").write_text(
        "layer: x\nkind: municipality\nname: X\nactors:\n  borger: {name: B}\n  bad: {name: C}\n")
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


def test_only_engine_module_imports_durable_rules() -> None:
    """Exactly one module of ansvar imports the durable_rules engine."""
    sources = (ROOT / "src" / "ansvar").glob("*.py")
    importers = [p.name for p in sources if "import durable" in p.read_text(encoding="utf-8")]
    assert importers == ["engine.py"]


def test_importing_ansvar_and_its_pytest_plugin_is_light() -> None:
    """Every pytest run of a project that installs ansvar loads its plugin: that must not load the engine."""
    import subprocess
    import sys

    code = ("import sys, ansvar, ansvar.pytest_plugin; "
            "print(sorted(m for m in ('pydantic', 'durable_rules_engine', 'ansvar.router') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
