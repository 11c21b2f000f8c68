"""Decisions as pandas DataFrames for notebooks and bulk analysis: one row per decision, or one per step.

pandas is an optional dependency (`pip install 'ansvar[notebook]'`); it is imported only when a frame is
built, so importing ansvar never needs it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ansvar.model.decision import OVERDUE_WARNING, Decision

if TYPE_CHECKING:
    import pandas as pd

#: The columns, in order.
COLUMNS = ("municipality", "event", "on", "responsible", "responsible_name", "steps", "first_step",
           "earliest_due", "warnings", "overdue", "content_hash", "settled", "responsible_settled",
           "open_questions", "assumed")

#: The columns of the step frame, in order.
STEP_COLUMNS = ("decision", "municipality", "event", "on", "number", "step", "actor", "action", "rule",
                "due", "due_from", "due_after", "overdue", "settled", "depends_on")

#: The warning that a step's deadline lies before the routing date.
OVERDUE = OVERDUE_WARNING


def _row(decision: Decision) -> dict[str, Any]:
    dues = [step.due for step in decision.steps if step.due is not None]
    first = decision.steps[0] if decision.steps else None
    return {
        "municipality": decision.municipality,
        "event": decision.event,
        "on": decision.on,
        "responsible": decision.responsible,
        "responsible_name": decision.responsible_name,
        "steps": len(decision.steps),
        "first_step": f"{first.actor}.{first.action}" if first else None,
        "earliest_due": min(dues) if dues else None,
        "warnings": ",".join(w.id for w in decision.warnings),
        "overdue": any(w.id == OVERDUE for w in decision.warnings),
        "content_hash": decision.pack.content_hash,
        "settled": decision.settled,
        "responsible_settled": decision.responsible_settled,
        "open_questions": ",".join(q.fact for q in decision.open_questions),
        "assumed": ",".join(a.fact for a in decision.assumed),
    }


def _step_rows(index: int, decision: Decision) -> list[dict[str, Any]]:
    late = {w.step for w in decision.warnings if w.id == OVERDUE and w.step}
    return [{
        "decision": index,
        "municipality": decision.municipality,
        "event": decision.event,
        "on": decision.on,
        "number": number,
        "step": f"{step.actor}.{step.action}",
        "actor": step.actor,
        "action": step.action,
        "rule": step.rule,
        "due": step.due,
        "due_from": step.due_from,
        "due_after": step.due_after,
        "overdue": f"{step.actor}.{step.action}" in late,
        "settled": step.settled,
        "depends_on": ",".join(step.depends_on),
    } for number, step in enumerate(decision.steps, 1)]


def _need_pandas(function: str) -> None:
    """Raise an ImportError naming the extra, where pandas is not installed."""
    try:
        import pandas as pd  # noqa: F401, PLC0415 - optional dependency, loaded only here
    except ImportError as exc:
        msg = f"ansvar.render.frames.{function} needs pandas: pip install 'ansvar[notebook]'"
        raise ImportError(msg, name="pandas") from exc


def _decisions(decisions: Iterable[Decision] | Decision) -> list[Decision]:
    items = [decisions] if isinstance(decisions, Decision) else list(decisions)
    for index, item in enumerate(items):
        if not isinstance(item, Decision):
            msg = f"decision {index} is a {type(item).__name__}, not an ansvar.Decision"
            raise TypeError(msg)
    return items


def to_dataframe(decisions: Iterable[Decision] | Decision) -> pd.DataFrame:
    """One row per decision, in order; `on` and `earliest_due` are datetime64 columns (NaT: no deadline).

    Columns: municipality, event, on, responsible, responsible_name, steps (how many), first_step
    (actor.action), earliest_due (the earliest step deadline), warnings (ids, comma-joined), overdue (a step's
    deadline lies before `on`: the warning `frist_overskredet`), content_hash (the rules that answered),
    settled (no fact nobody stated would change the answer), responsible_settled (the lead stands whatever
    they are), open_questions (the facts that would change it, comma-joined; empty when settled), assumed
    (the facts whose default the answer used, comma-joined).
    """
    _need_pandas("to_dataframe")
    import pandas as pd  # noqa: PLC0415 - optional dependency, loaded only here

    frame = pd.DataFrame([_row(d) for d in _decisions(decisions)], columns=list(COLUMNS))
    for column in ("on", "earliest_due"):
        frame[column] = pd.to_datetime(frame[column])
    frame["steps"] = frame["steps"].astype("int64")
    for column in ("overdue", "settled", "responsible_settled"):
        frame[column] = frame[column].astype("bool")
    return frame


def to_steps_dataframe(decisions: Iterable[Decision] | Decision) -> pd.DataFrame:
    """One row per step of each decision, in order; `on` and `due` are datetime64 columns (NaT: no deadline).

    Columns: decision (its index among `decisions`, the row of `to_dataframe`), municipality, event, on,
    number (1 for a decision's first step), step (actor.action), actor, action, rule (the rule that
    concluded it), due, due_from (the fact or `on` its deadline counts from; with `due` NaT, the date nobody
    gave yet), due_after (the deadline in Danish: '14 dage'), overdue (its deadline lies before `on`),
    settled (it stands whatever the facts nobody stated are), depends_on (the open questions it depends
    on, comma-joined).
    """
    _need_pandas("to_steps_dataframe")
    import pandas as pd  # noqa: PLC0415 - optional dependency, loaded only here

    rows = [row for index, d in enumerate(_decisions(decisions)) for row in _step_rows(index, d)]
    frame = pd.DataFrame(rows, columns=list(STEP_COLUMNS))
    for column in ("on", "due"):
        frame[column] = pd.to_datetime(frame[column])
    for column in ("decision", "number"):
        frame[column] = frame[column].astype("int64")
    for column in ("overdue", "settled"):
        frame[column] = frame[column].astype("bool")
    return frame
