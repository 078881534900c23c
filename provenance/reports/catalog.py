"""Every report kind, registered by importing the modules that define them."""

from __future__ import annotations

import importlib

from provenance.reports.model import REPORTS, ReportKind

_MODULES = (
    "provenance.reports.ledger",
    "provenance.supply.reports.report",
    # The trial reports live with the trials package, which builds on this one.
    "trials.checks.report",
    "trials.monitoring.report",
)


#: A report run outside the web application (the `provenance report` command) must know every
#: statement kind the application knows, or verification would call trial entries unknown.
_STATEMENT_KINDS = ("trials.registry", "trials.submissions")


def all_reports() -> dict[str, ReportKind]:
    for module in (*_STATEMENT_KINDS, *_MODULES):
        importlib.import_module(module)
    return REPORTS
