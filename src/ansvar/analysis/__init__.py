"""Analysis of packs over every case their rules tell apart: `check` (gaps, conflicts, dead rules), diffs.

`ansvar.analysis.check` and its `Finding` and `Report` are named here, as before the package existed.
"""

from ansvar.analysis.audit import Finding, Kind, Report, Severity, analyse, check

__all__ = ["Finding", "Kind", "Report", "Severity", "analyse", "check"]
