"""Moved to `ansvar.render.docs`; this import path keeps working (see docs/contract.md)."""

from ansvar.render.docs import *  # noqa: F403 - the old path re-exports the module whole
