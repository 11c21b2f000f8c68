"""Plain-text rendering of a comparison of two municipalities (`ansvar diff`)."""

from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ansvar.analysis.diff import EventComparison

WIDTH = 100


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=" " * len(indent)) or [indent]


def render_comparison(comparisons: Sequence[EventComparison], first: str, second: str) -> str:
    """Where two municipalities answer differently: per event, each difference with a situation to route."""
    if not comparisons:
        return f"{first} og {second} dækker ingen fælles begivenheder."
    lines: list[str] = []
    for comparison in comparisons:
        count = len(comparison.differences)
        lines.append(f"{comparison.event}: {comparison.situations} situationer sammenlignet, "
                     f"{count} {'forskel' if count == 1 else 'forskelle'}")
        for difference in comparison.differences:
            if difference.kind == "responsible":
                what = f"ansvarlig: {first} {difference.first}, {second} {difference.second}"
            else:
                only = first if difference.first == "yes" else second
                what = f"skridt {difference.step}: kun {only}"
            many = "situation" if difference.situations == 1 else "situationer"
            lines += _wrap(f"{what} ({difference.situations} {many})", "  - ")
            # One line, unwrapped, so it can be pasted into `ansvar route -`.
            example = {"municipality": first, **difference.example}
            lines.append("      fx " + json.dumps(example, ensure_ascii=False))
        lines.append("")
    return "\n".join(lines).rstrip()
