"""Moved to `ansvar.testing.scenarios`; this import path keeps working (see docs/contract.md)."""

from ansvar.testing.scenarios import *  # noqa: F403 - the old path re-exports the module whole
