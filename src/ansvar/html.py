"""Moved to `ansvar.render.html`; this import path keeps working (see docs/contract.md)."""

from ansvar.render.html import *  # noqa: F403 - the old path re-exports the module whole
