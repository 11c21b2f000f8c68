"""For testing with ansvar: scenario files, their pytest plugin, and hypothesis strategies of situations.

`situations`, `models` and `any_situation` (extra `ansvar[testing]`, which brings hypothesis) load on first
use, so the pytest plugin, which lives here too, imports neither hypothesis nor the engine.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["any_situation", "models", "situations"]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - whichever strategy is asked for
    if name in __all__:
        value = getattr(importlib.import_module("ansvar.testing.strategies"), name)
        globals()[name] = value
        return value
    msg = f"module 'ansvar.testing' has no attribute {name!r}"
    raise AttributeError(msg)
