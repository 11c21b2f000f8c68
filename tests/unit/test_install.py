"""A fresh machine is reproducibly green: constraints.txt pins what pyproject asks for, and a test that needs
a system tool skips where it is missing, except where the environment requires it (as CI does)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests import tools

ROOT = Path(__file__).parents[2]


def _pins() -> dict[str, list[tuple[str, str | None]]]:
    """Each package pinned in constraints.txt: its versions, each with the marker it holds under."""
    pins: dict[str, list[tuple[str, str | None]]] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        found = re.match(r"([A-Za-z0-9._-]+)==([^ ;]+)(?:\s*;\s*(.+))?$", line.strip())
        if found:
            pins.setdefault(canonicalize_name(found[1]), []).append((found[2], found[3]))
    return pins


def test_constraints_pin_every_requirement_of_every_extra_within_its_range() -> None:
    """Every requirement of pyproject (core and each extra) is pinned in constraints.txt for this Python,
    at a version its range admits: a dependency added without refreshing the pins fails here."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    pins = _pins()
    environment = default_environment()
    checked = 0
    for text in wanted:
        requirement = Requirement(text)
        if canonicalize_name(requirement.name) == "ansvar":  # an extra naming other extras
            continue
        versions = [version for version, marker in pins.get(canonicalize_name(requirement.name), [])
                    if marker is None or Marker(marker).evaluate(environment)]
        assert len(versions) == 1, (requirement.name, versions)
        assert requirement.specifier.contains(versions[0], prereleases=True), (text, versions[0])
        checked += 1
    assert checked >= len(project["dependencies"])


def test_readme_commands_install_with_the_constraints() -> None:
    """Both README commands a new user runs install through constraints.txt."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for marker in ("<!-- route-command -->", "<!-- test-command -->"):
        block = readme[readme.index(marker):]
        command = next(line for line in block.splitlines() if line.startswith("python3 "))
        assert "pip install -c constraints.txt " in command, command


def test_a_missing_tool_skips_with_its_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Where a system tool is missing, a test needing it skips and says what to install."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(tools.REQUIRE, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"chromium is not installed \(apt-get install chromium\)"):
        tools.system_tool("chromium")


def test_a_missing_required_tool_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Where the environment requires a tool (CI sets ANSVAR_REQUIRE_TOOLS), its absence fails the test."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv(tools.REQUIRE, "dot chromium")
    with pytest.raises(pytest.fail.Exception, match="dot is not installed"):
        tools.system_tool("dot")


def test_a_tool_on_path_is_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A tool on PATH is returned as its path."""
    program = tmp_path / "dot"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert tools.system_tool("dot") == program
