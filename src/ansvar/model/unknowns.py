"""What an answer does not know: the facts nobody stated that would change it, and what it assumed instead.

A situation knows which facts its caller gave (`stated_facts`; giving a fact its default value counts as
stating it). A fact that was not given is unknown, not false. Where the answer would differ with the value
of an unknown fact, the Decision lists it as an `OpenQuestion` (its Danish question, and for each of its
values how the answer would differ), and the default the answer used instead as an `Assumption`. A deadline
that counts from a date nobody gave is not counted: the step says from which date it runs, and the date is an
open question.

None of these models holds a value of the situation: a question, the possible values of a fact (from its
event file) and the default the answer assumed are the event's and the pack's, not the citizen's.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ansvar.model.events import STRUCTURE, SituationBase

FactKind = Literal["boolean", "enum", "integer", "date"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def stated_facts(situation: SituationBase) -> frozenset[str]:
    """The facts the caller gave (explicitly giving a fact its default counts); `municipality`, `event` aside.

    >>> import ansvar
    >>> sorted(stated_facts(ansvar.parse_situation(
    ...     {"municipality": "aalborg", "event": "afrusning", "seizures": False})))
    ['seizures']
    """
    return frozenset(situation.model_fields_set.difference(STRUCTURE))


class OpenValue(_Frozen):
    """One value (or range of values) an open fact may have, and how the answer would differ with it.

    The difference is to the Decision's answer, the other unknown facts keeping the defaults it assumed.
    For an integer or date fact one entry stands for every value the rules treat alike (`minimum` to
    `maximum`); `value` is one of them (for a date range: None, give a date of the range).
    """

    value: bool | int | str | None = Field(description="a value to give; None: the fact is null")
    label: str = Field(description="the value in Danish, as a form shows it")
    minimum: int | dt.date | None = Field(default=None, description="integer, date: the range's first")
    maximum: int | dt.date | None = Field(default=None, description="integer, date: the range's last")
    assumed: bool = Field(default=False, description="the value the Decision's answer assumed")
    responsible: str | None = Field(description="who leads with this value (None: the pack gives no lead)")
    defect: str | None = Field(default=None, description=(
        "with this value the pack gives no single lead: NoResponsibleError or ConflictError"))
    steps_added: tuple[str, ...] = Field(default=(), description="steps (actor.action) this value adds")
    steps_dropped: tuple[str, ...] = Field(default=(), description="steps (actor.action) this value drops")
    warnings_added: tuple[str, ...] = Field(default=(), description="warning ids this value adds")
    warnings_dropped: tuple[str, ...] = Field(default=(), description="warning ids this value drops")


class OpenQuestion(_Frozen):
    """A fact nobody stated whose value would change the lead, a step, a warning or a deadline."""

    fact: str = Field(description="the fact's id, as a situation names it")
    label: str = Field(description="the fact's Danish label")
    question: str = Field(description="the Danish question to ask")
    type: FactKind
    values: tuple[OpenValue, ...] = Field(description=(
        "each value the rules tell apart, with its effect on the answer; empty for a date that only a "
        "deadline needs"))
    changes: tuple[Literal["ansvarlig", "skridt", "advarsler", "frist"], ...] = Field(description=(
        "what its answer can change: the lead, the steps, the warnings, a deadline"))
    deadlines: tuple[str, ...] = Field(default=(), description=(
        "the steps (actor.action) whose deadline counts from this date and waits for it"))
    description: str | None = Field(default=None, description=(
        "what the fact means, in Danish (e.g. the guide's definition), where the event file says"))


class Assumption(_Frozen):
    """A default the answer used for an unknown fact that matters: the answer holds only if it is so."""

    fact: str
    label: str = Field(description="the fact's Danish label")
    value: bool | int | str | None = Field(description="the default the answer assumed")
    value_label: str = Field(description="the assumed value in Danish")
