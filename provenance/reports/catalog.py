"""The report kinds of an installation: the ledger report and those of its plug-ins."""

from __future__ import annotations

from provenance.errors import NotFound
from provenance.plugins import Installed
from provenance.reports.ledger import ledger_report
from provenance.reports.model import ReportKind


def catalog(installed: Installed) -> dict[str, ReportKind]:
    kinds = [ledger_report, *(kind for plugin in installed.plugins for kind in plugin.reports())]
    found: dict[str, ReportKind] = {}
    for kind in kinds:
        if kind.name in found:
            raise ValueError(f"two reports are named {kind.name!r}")
        found[kind.name] = kind
    return found


def report_kind(kinds: dict[str, ReportKind], name: str) -> ReportKind:
    kind = kinds.get(name)
    if kind is None:
        raise NotFound(f"no report {name!r}; reports are: {', '.join(sorted(kinds))}")
    return kind
