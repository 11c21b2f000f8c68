"""System tools some tests need (Graphviz's `dot`, Chromium): skipped with a reason where missing, except
where the environment says they must be there.

The README's test command passes on a machine with pip alone: a test needing a tool that is not installed
skips and says which tool and how to get it. CI (`.ci/run`) installs the tools and sets
`ANSVAR_REQUIRE_TOOLS` (e.g. `dot chromium`): there a missing tool fails the test instead, so CI always runs
these tests.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

#: Each tool: the names it is found by on PATH, and how to install it on Debian/Ubuntu.
TOOLS: dict[str, tuple[tuple[str, ...], str]] = {
    "dot": (("dot",), "apt-get install graphviz"),
    "chromium": (("chromium", "chromium-browser"), "apt-get install chromium"),
}
REQUIRE = "ANSVAR_REQUIRE_TOOLS"


def required() -> frozenset[str]:
    """The tools this environment must have (from `ANSVAR_REQUIRE_TOOLS`, space- or comma-separated)."""
    return frozenset(os.environ.get(REQUIRE, "").replace(",", " ").split())


def find(name: str) -> Path | None:
    """Where a tool is installed, or None."""
    names, _ = TOOLS[name]
    found = next((shutil.which(n) for n in names if shutil.which(n)), None)
    return Path(found) if found else None


def system_tool(name: str) -> Path:
    """The path of a system tool; skips the calling test where it is missing (fails where it is required)."""
    found = find(name)
    if found is not None:
        return found
    _, how = TOOLS[name]
    reason = f"{name} is not installed ({how}); this test needs it"
    if name in required():
        pytest.fail(f"{reason}, and {REQUIRE} says it must be there")
    pytest.skip(reason)
