"""What a report is made of (figures, tables, charts), and what declares a kind of report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from sqlalchemy import Connection

    from provenance.access.principal import Principal
    from provenance.reports.source import Source


@dataclass(frozen=True)
class Params:
    """What a report run is asked: the reference date, a threshold in days and a trial filter."""

    as_of: date = field(default_factory=lambda: datetime.now(UTC).date())
    days: int = 14  # e.g. shipments not received after this many days
    trial: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "days": self.days, "trial": self.trial}


@dataclass(frozen=True)
class Metric:
    """A headline number; `flag` marks one a reader should look at first."""

    label: str
    value: str
    flag: bool = False


@dataclass(frozen=True)
class Table:
    """One result table; written as `<name>.csv` and `<name>.json`."""

    name: str
    title: str
    frame: pd.DataFrame
    note: str = ""
    #: Column headers in words, by column name, where the generic reading of a name is not enough.
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Chart:
    """A picture drawn onto a fresh matplotlib figure; `alt` says in words what it shows."""

    name: str
    title: str
    draw: Callable[[Figure], None]
    alt: str


@dataclass
class Section:
    title: str
    text: str = ""
    metrics: list[Metric] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)


@dataclass
class Report:
    name: str
    title: str
    params: Params
    sections: list[Section] = field(default_factory=list)
    generated_at: str = field(
        default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    log_size: int = 0  # the tree size of the snapshot the report was run over

    def tables(self) -> list[Table]:
        return [table for section in self.sections for table in section.tables]

    def charts(self) -> list[Chart]:
        return [chart for section in self.sections for chart in section.charts]

    def table(self, name: str) -> Table:
        for table in self.tables():
            if table.name == name:
                return table
        raise KeyError(name)

    def metric(self, label: str) -> Metric:
        for section in self.sections:
            for item in section.metrics:
                if item.label == label:
                    return item
        raise KeyError(label)


#: step(label) is called once per step a report declares, so a caller can show progress.
Step = Callable[[str], None]
Build = Callable[["Source", Params, Step], Report]


@dataclass(frozen=True)
class ReportKind:
    name: str
    title: str
    description: str
    steps: int
    build: Build
    #: Whom the report admits besides regulators: (principal, query parameters, a read
    #: connection) -> allowed; e.g. a trial's sponsor for its own trial.
    also_for: Callable[[Principal, dict[str, Any], Connection], bool] | None = None


def report_kind(
    name: str,
    title: str,
    description: str,
    steps: int,
    *,
    also_for: Callable[[Principal, dict[str, Any], Connection], bool] | None = None,
) -> Callable[[Build], ReportKind]:
    """Declare a report builder as the report `name` (for the CLI and `/reports/<name>`); a
    plug-in lists its report kinds in its `Plugin`. Regulators may run every report; `also_for`
    admits others."""

    def declare(build: Build) -> ReportKind:
        return ReportKind(name, title, description, steps, build, also_for)

    return declare
