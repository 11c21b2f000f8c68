"""ansvar: in this citizen's situation, who is responsible, and what happens next.

Danish municipalities' guides for substance-abuse treatment, as YAML rule packs evaluated on durable_rules.

>>> import datetime
>>> decision = route({"municipality": "aalborg", "event": "afrusning",
...                   "withdrawal_symptoms": True, "delirium_tremens": True}, on=datetime.date(2026, 11, 23))
>>> decision.responsible
'region_akutmodtagelse'
"""

from __future__ import annotations

import datetime as _dt  # noqa: ICN001 - private alias keeps the public namespace clean
import importlib as _importlib
from collections.abc import Iterable as _Iterable
from collections.abc import Mapping as _Mapping
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from ansvar.errors import (
    AnsvarError,
    ConflictError,
    EngineError,
    IncompleteSituationError,
    NoResponsibleError,
    RoutingError,
    RuleError,
    SituationError,
    UnknownEventError,
)

if _TYPE_CHECKING:
    from ansvar.model.decision import Contact, Decision, DecisionWarning, PackInfo, Source, Step, TraceEntry
    from ansvar.model.situation import Situation, SituationBase, parse_situation, situation_schema
    from ansvar.model.unknowns import Assumption, OpenQuestion, OpenValue, stated_facts
    from ansvar.model.why_not import RuleWhyNot, WhyNot
    from ansvar.routing.router import Router, shipped_rules

# The models and the engine load on first use: importing ansvar (or its pytest plugin, which every pytest
# run of a project that installs ansvar loads) costs a few milliseconds, not pydantic's and the engine's.
_LAZY = {
    **dict.fromkeys(("Contact", "Decision", "DecisionWarning", "PackInfo", "Source", "Step", "TraceEntry"),
                    "ansvar.model.decision"),
    **dict.fromkeys(("RuleWhyNot", "WhyNot"), "ansvar.model.why_not"),
    **dict.fromkeys(("Assumption", "OpenQuestion", "OpenValue", "stated_facts"), "ansvar.model.unknowns"),
    **dict.fromkeys(("Router", "shipped_rules"), "ansvar.routing.router"),
    **dict.fromkeys(("Situation", "SituationBase", "parse_situation", "situation_schema"),
                    "ansvar.model.situation"),
}


def __getattr__(name: str) -> _Any:  # noqa: ANN401 - whichever public name is asked for
    if name == "__version__":
        value: _Any = _package_version()
        globals()[name] = value
        return value
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'ansvar' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"__version__"})


def _package_version() -> str:
    """The installed package's version (its metadata, from pyproject.toml): one version everywhere."""
    from importlib import metadata  # noqa: PLC0415 - only when asked: importing ansvar stays light

    try:
        return metadata.version("ansvar")
    except metadata.PackageNotFoundError:  # a source tree on sys.path, never installed
        return "0+unknown"


__all__ = [
    "AnsvarError",
    "Assumption",
    "ConflictError",
    "Contact",
    "Decision",
    "DecisionWarning",
    "EngineError",
    "IncompleteSituationError",
    "NoResponsibleError",
    "OpenQuestion",
    "OpenValue",
    "PackInfo",
    "Router",
    "RoutingError",
    "RuleError",
    "RuleWhyNot",
    "Situation",
    "SituationBase",
    "SituationError",
    "Source",
    "Step",
    "TraceEntry",
    "UnknownEventError",
    "WhyNot",
    "default_router",
    "events",
    "next_question",
    "parse_situation",
    "route",
    "route_many",
    "shipped_rules",
    "situation_schema",
    "stated_facts",
    "why_not",
]

def default_router() -> Router:
    """The router over the shipped rule packs, loaded on first use."""
    from ansvar.routing.router import default_router as default  # noqa: PLC0415 - loaded on first use

    return default()


def route(situation: SituationBase | _Mapping[str, _Any], on: _dt.date | None = None, *,
          complete: bool = False) -> Decision:
    """Who is responsible in this situation and what happens next, per the shipped rule packs.

    Facts not given are unknown: the Decision's `open_questions` and `assumed` say which would change the
    answer and what it assumed. `complete=True` refuses to answer on assumptions (`IncompleteSituationError`).
    """
    return default_router().route(situation, on=on, complete=complete)


def next_question(partial: SituationBase | _Mapping[str, _Any], on: _dt.date | None = None, *,
                  unknown: _Iterable[str] = ()) -> OpenQuestion | None:
    """The one fact to ask next (`.fact`, `.question`, `.values`), or None when the answer is settled.

    `unknown`: facts the caller cannot answer; not asked again (see `Router.next_question`).

    >>> import datetime
    >>> next_question({"municipality": "aalborg", "event": "akutte_opioidabstinenser",
    ...                "presents_at": "rusmiddelbehandling"}, on=datetime.date(2026, 11, 23)).fact
    'laegekonsulent_present'
    """
    return default_router().next_question(partial, on=on, unknown=unknown)


def route_many(situations: _Iterable[SituationBase | _Mapping[str, _Any]],
               on: _dt.date | None = None, *, processes: int | None = None) -> list[Decision]:
    """Route many situations: same order, one Decision each (see `Router.route_many`).

    `processes`: spread a large batch over that many spawned worker processes. They import the caller's
    main module, so a script that passes it routes under `if __name__ == "__main__":`.
    """
    return default_router().route_many(situations, on=on, processes=processes)


def why_not(situation: SituationBase | _Mapping[str, _Any], actor: str, on: _dt.date | None = None) -> WhyNot:
    """Why `actor` is not responsible here: each rule that could make it so, and what was missing.

    >>> import datetime
    >>> answer = why_not({"municipality": "aalborg", "event": "afrusning"}, "region_akutmodtagelse",
    ...                  on=datetime.date(2026, 11, 23))
    >>> [(r.rule, r.held, r.missing) for r in answer.rules][0]  # doctest: +NORMALIZE_WHITESPACE
    ('region_ansvar_kompliceret_afrusning', False,
     (('seizures == true',), ('delirium_tremens == true',), ('complicated_course_suspected == true',)))
    """
    return default_router().why_not(situation, actor, on=on)


def events(municipality: str) -> dict[str, str]:
    """The events a municipality's shipped rules cover, with their Danish titles."""
    return default_router().events(municipality)
