"""Moved: a Decision's HTML card is `ansvar.model.decision.render_html`; this import path keeps working."""

from ansvar.model.decision import OVERDUE_WARNINGS, render_html

__all__ = ["OVERDUE_WARNINGS", "render_html"]
