"""Moved to `ansvar.analysis.diff`; this import path keeps working (see docs/contract.md)."""

from ansvar.analysis.diff import *  # noqa: F403 - the old path re-exports the module whole
