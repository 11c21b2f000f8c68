"""pytest plugin: every scenario of a scenario file is a test (see `ansvar.testing.scenarios` for the format).

Registered as the `pytest11` entry point `ansvar`, so it loads in every project that installs ansvar. It
collects a YAML file only if a directory of its path (below the rootdir) is named `scenarios` and the file
has a top-level `scenarios:` key; every other file is left alone, and nothing is parsed or routed before a
scenario file is found. Switch it off with the ini option `ansvar_scenarios = false`.

A failing scenario shows the scenario, its situation, each mismatch (expected and actual) and the answer
with its fired rules, without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ansvar.testing.files import SUFFIXES, has_scenarios

if TYPE_CHECKING:
    from ansvar.testing import scenarios

INI_OPTION = "ansvar_scenarios"
SCENARIO_DIR = "scenarios"


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ini option that switches scenario collection off."""
    parser.addini(INI_OPTION, "collect YAML scenario files under scenarios/ directories as tests",
                  type="bool", default=True)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    """A scenario file under a `scenarios` directory, or None for every other file."""
    if file_path.suffix not in SUFFIXES:
        return None
    try:
        folders = file_path.relative_to(parent.config.rootpath).parts[:-1]
    except ValueError:
        folders = file_path.parts[:-1]
    if SCENARIO_DIR not in folders or not parent.config.getini(INI_OPTION):
        return None
    if not has_scenarios(file_path):
        return None
    file: ScenarioFile = ScenarioFile.from_parent(parent, path=file_path)
    return file


class ScenarioFile(pytest.File):
    """A scenario file: one item per scenario; a malformed file is a collection error at file:line:col."""

    def collect(self) -> Iterator[ScenarioItem]:
        """One `ScenarioItem` per scenario, in file order."""
        from ansvar.testing import scenarios  # noqa: PLC0415 - the router loads only once a scenario file is found

        try:
            found = scenarios.load(self.path)
        except scenarios.ScenarioFileError as exc:
            raise self.CollectError(str(exc)) from None
        for scenario in found:
            yield ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario)


class ScenarioFailedError(AssertionError):
    """A scenario got another answer than it expects; carries the `Failure`."""

    def __init__(self, failure: scenarios.Failure) -> None:
        self.failure = failure
        super().__init__(failure.summary())


class ScenarioItem(pytest.Item):
    """One scenario, routed on the engine when run."""

    def __init__(self, *, scenario: scenarios.Scenario, **kwargs: Any) -> None:  # noqa: ANN401 - pytest's own
        super().__init__(**kwargs)
        self.scenario = scenario

    def runtest(self) -> None:
        """Route the scenario; a wrong answer raises `ScenarioFailedError`."""
        from ansvar.testing import scenarios  # noqa: PLC0415 - see ScenarioFile.collect

        failure = scenarios.run(self.scenario)
        if failure is not None:
            raise ScenarioFailedError(failure)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> Any:  # noqa: ANN401 - pytest's TracebackStyle and TerminalRepr
        """The failure's report, without a traceback."""
        if isinstance(excinfo.value, ScenarioFailedError):
            failure = excinfo.value.failure
            crash = _Crash(str(self.path), self.scenario.line, _first_mismatch(failure))
            brief = self.config.getoption("tbstyle", "auto") == "line"  # --tb=line: the crash line alone
            return _ScenarioRepr("" if brief else failure.report(), crash)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        """The file, the scenario's (0-based) line and its name."""
        return self.path, self.scenario.line - 1, self.scenario.name


def _first_mismatch(failure: scenarios.Failure) -> str:
    more = len(failure.mismatches) - 1
    return failure.mismatches[0] + (f" (+{more} more)" if more else "")


@dataclass(frozen=True)
class _Crash:
    """Where and what, for pytest's one-line summaries (`-rf`, `--tb=line`, JUnit XML): its `reprcrash`."""

    path: str
    lineno: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}: {self.message}"


@dataclass(frozen=True)
class _ScenarioRepr:
    """A failure's report as pytest shows it (a `TerminalRepr` by duck typing), with its one-line crash."""

    text: str
    reprcrash: _Crash

    def toterminal(self, tw: Any) -> None:  # noqa: ANN401 - pytest's TerminalWriter, not public
        """Write the report."""
        for line in self.text.splitlines():
            tw.line(line)

    def __str__(self) -> str:
        return self.text
