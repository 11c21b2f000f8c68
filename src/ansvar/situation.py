"""Moved to `ansvar.model.situation`; this import path keeps working (see docs/contract.md)."""

from ansvar.model.situation import *  # noqa: F403 - the old path re-exports the module whole
from ansvar.model.situation import __getattr__  # noqa: F401 - the event models, built on first use
