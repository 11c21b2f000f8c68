"""The answer: who is responsible, what happens next, why, and on which passage of which guide.

All models are frozen; `Decision.model_dump(mode="json")` is the JSON other systems receive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Frozen):
    """A passage of a guide (or law) that a conclusion rests on."""

    document: str
    section: str
    passage: str | None = Field(default=None, description="the guide's own words")


class Contact(_Frozen):
    """How to reach an actor, as the municipality's pack gives it."""

    actor: str
    name: str = Field(description="Danish display name")
    phone: str | None = None
    address: str | None = None
    online: str | None = None
    note: str | None = None


class Step(_Frozen):
    """One next step: who does what, by when, whom to contact, and where the guide says so."""

    actor: str
    actor_name: str = Field(description="Danish display name of the actor")
    action: str = Field(description="stable id of the action")
    text: str = Field(description="what to do, in Danish")
    due: dt.date | None = None
    contact: Contact | None = None
    source: Source
    rule: str = Field(description="the rule that concluded this step")


class DecisionWarning(_Frozen):
    """Something the reader must not miss; `id` is stable, `text` Danish."""

    id: str
    text: str
    source: Source
    rule: str | None = Field(default=None, description="the rule that raised it; None for the pack's own")
    step: str | None = Field(default=None, description=(
        "`frist_overskredet`, `frist_ikke_overholdt`: the step whose deadline passed, as actor.action"))
    due: dt.date | None = Field(default=None, description="the deadline that passed")
    days_overdue: int | None = Field(default=None, description=(
        "days past the deadline: to the routing date (pending), or to the day it was done (late)"))


class TraceEntry(_Frozen):
    """One rule that fired, in firing order, with the conditions that held for it."""

    rule: str
    priority: int
    layer: str | None = Field(default=None, description="the layer whose pack holds the rule")
    responsible: str | None = Field(description="the actor this rule claims the lead for, if any")
    overridden: bool = Field(default=False, description="its lead claim was outranked: steps dropped")
    conditions: tuple[str, ...] = Field(description="the tests that held; empty for a rule that always holds")
    source: Source


class LayerInfo(_Frozen):
    """One layer's pack that contributed rules: whose document, which version, in force when."""

    layer: str
    kind: str = Field(description="national, region or municipality")
    document: str
    version: str
    valid_from: dt.date
    review_by: dt.date | None


class PackInfo(_Frozen):
    """The rule pack that answered, so the answer can be replayed.

    document, version and dates are those of the most specific layer's pack (the municipality's own,
    where it has one); `layers` lists every layer's pack that contributed, top (national law) first.
    """

    municipality: str
    event: str
    title: str
    document: str
    version: str
    valid_from: dt.date
    review_by: dt.date | None
    content_hash: str = Field(description="sha256 of every layer and rule file the answer rests on")
    layers: tuple[LayerInfo, ...] = ()


class Decision(_Frozen):
    """Who is responsible for a citizen's situation, and what happens next."""

    municipality: str
    event: str
    on: dt.date = Field(description="the date the answer is for: picks rule versions, computes deadlines")
    responsible: str = Field(description="the actor holding the primary responsibility")
    responsible_name: str = Field(description="Danish display name of the responsible actor")
    steps: tuple[Step, ...]
    warnings: tuple[DecisionWarning, ...]
    sources: tuple[Source, ...]
    trace: tuple[TraceEntry, ...]
    pack: PackInfo

    def __str__(self) -> str:
        """A plain-text card, as the CLI prints it."""
        from ansvar.render.text import render_text  # noqa: PLC0415 - display depends on this module

        return render_text(self)

    def _repr_html_(self) -> str:
        """The Decision as an HTML card, for notebooks."""
        from ansvar.render.html import render_html  # noqa: PLC0415 - html depends on this module

        return render_html(self)

    def _repr_mimebundle_(self, include: Collection[str] | None = None,
                          exclude: Collection[str] | None = None) -> dict[str, str]:
        """Plain text and HTML, as IPython and Jupyter ask for them (they filter by include/exclude)."""
        del include, exclude
        from ansvar.render.html import render_html  # noqa: PLC0415 - html depends on this module

        return {"text/plain": str(self), "text/html": render_html(self)}

    def explain(self) -> str:
        """Why, in Danish: the lead's rule, then every rule that fired, its tests, layer and passage."""
        from ansvar.render.explain import explain  # noqa: PLC0415 - explain depends on this module

        return explain(self)


@dataclass(frozen=True, slots=True)
class Answer:
    """A decision's outline: the lead and steps (actor.action), or the pack defect that prevented one.

    It also lists the fired rules, in order, and those whose lead claim was outranked.

    `Router.outline` computes it without building a Decision, for bulk comparison and analysis.
    """

    responsible: str | None
    steps: frozenset[str]
    error: str | None = None
    fired: tuple[str, ...] = ()
    overridden: frozenset[str] = frozenset()

    def describe(self) -> str:
        """The lead actor, or the error raised."""
        return self.error or str(self.responsible)
