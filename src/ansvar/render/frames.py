"""Decisions as a pandas DataFrame, one row per decision, for notebooks and bulk analysis.

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
           "earliest_due", "warnings", "overdue", "content_hash")

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
    }


def to_dataframe(decisions: Iterable[Decision] | Decision) -> pd.DataFrame:
    """One row per decision, in order; `on` and `earliest_due` are datetime64 columns (NaT: no deadline).

    Columns: municipality, event, on, responsible, responsible_name, steps (how many), first_step
    (actor.action), earliest_due (the earliest step deadline), warnings (ids, comma-joined), overdue (a step's
    deadline lies before `on`: the warning `frist_overskredet`), content_hash (the rules that answered).
    """
    try:
        import pandas as pd  # noqa: PLC0415 - optional dependency, loaded only here
    except ImportError as exc:
        msg = "ansvar.render.frames.to_dataframe needs pandas: pip install 'ansvar[notebook]'"
        raise ImportError(msg, name="pandas") from exc
    items = [decisions] if isinstance(decisions, Decision) else list(decisions)
    for index, item in enumerate(items):
        if not isinstance(item, Decision):
            msg = f"decision {index} is a {type(item).__name__}, not an ansvar.Decision"
            raise TypeError(msg)
    frame = pd.DataFrame([_row(d) for d in items], columns=list(COLUMNS))
    for column in ("on", "earliest_due"):
        frame[column] = pd.to_datetime(frame[column])
    frame["steps"] = frame["steps"].astype("int64")
    frame["overdue"] = frame["overdue"].astype("bool")
    return frame
