"""The engine's names for a pack's rules: the one place that knows how they are spelt.

Each alternative of a rule's condition (its disjunctive normal form) is one engine rule, named
`<rule id>__<alternative>`, so the engine itself reports which alternative held; `CATCH_ALL` is the rule
that makes every asserted fact fire something (the engine crashes deleting a session where nothing fired),
and is never reported.

>>> decode(encode("region_ansvar", 2))
('region_ansvar', 2)
"""

from __future__ import annotations

from typing import Final

SEPARATOR: Final = "__"
CATCH_ALL: Final = "__ansvar_catch_all__"


def encode(rule_id: str, alternative: int) -> str:
    """The engine rule name of alternative `alternative` of rule `rule_id`."""
    return f"{rule_id}{SEPARATOR}{alternative}"


def decode(name: str) -> tuple[str, int]:
    """The rule id and alternative an engine rule name stands for (`ValueError` for the catch-all)."""
    rule_id, separator, alternative = name.rpartition(SEPARATOR)
    if not separator or not rule_id or not alternative.isdigit():
        msg = f"not the engine name of a rule alternative: {name!r}"
        raise ValueError(msg)
    return rule_id, int(alternative)
