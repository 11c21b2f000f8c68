"""Moved to `ansvar.render.frames`; this import path keeps working (see docs/contract.md)."""

from ansvar.render.frames import *  # noqa: F403 - the old path re-exports the module whole
