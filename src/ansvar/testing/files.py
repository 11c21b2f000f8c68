"""Which files are scenario files: cheap enough for the pytest plugin to ask of every file it sees."""

from __future__ import annotations

import re
from pathlib import Path

SUFFIXES = frozenset({".yaml", ".yml"})
_HAS_SCENARIOS = re.compile(rb"^scenarios[ \t]*:", re.MULTILINE)


def has_scenarios(path: Path) -> bool:
    """Cheap test that a file is a scenario file: a YAML name and a top-level `scenarios:` line."""
    if path.suffix not in SUFFIXES:
        return False
    try:
        return _HAS_SCENARIOS.search(path.read_bytes()) is not None
    except OSError:
        return False
