"""Moved to `ansvar.analysis.space`; this import path keeps working (see docs/contract.md)."""

from ansvar.analysis.space import *  # noqa: F403 - the old path re-exports the module whole
