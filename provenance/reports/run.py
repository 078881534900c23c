"""Running a report by name over one snapshot, and reading its parameters from text."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from provenance.errors import BadParameter, NotFound
from provenance.log.service import Service
from provenance.reports.model import Params, Report, ReportKind, Step

MAX_DAYS = 3650


def parse_params(values: Mapping[str, str | None]) -> Params:
    """Params from query-string or command-line text; anything unparsable is a BadParameter."""
    out = Params()
    as_of, days, trial = values.get("as_of"), values.get("days"), values.get("trial") or None
    if as_of:
        try:
            out = Params(as_of=date.fromisoformat(as_of))
        except ValueError:
            raise BadParameter(f"as_of must be a date YYYY-MM-DD, not {as_of!r}") from None
    number = out.days
    if days:
        if not days.isdigit() or not 0 < int(days) <= MAX_DAYS:
            raise BadParameter(f"days must be a whole number from 1 to {MAX_DAYS}, not {days!r}")
        number = int(days)
    if trial is not None and (len(trial) > 40 or not trial.strip()):
        raise BadParameter("trial must be a trial id of at most 40 characters")
    return Params(as_of=out.as_of, days=number, trial=trial.strip() if trial else None)


#: The projection table whose rows a `trial` parameter names (the trials personality's).
TRIAL_TABLE = "trial"


def require_trial(service: Service, params: Params) -> None:
    """NotFound when `params` name a trial the log never registered: a report over no data would
    read as a clean bill ("0 flagged"). A report run without a trial covers every trial."""
    if params.trial is None:
        return
    from provenance.log.store.engine import query, read_connection

    if TRIAL_TABLE not in service.registry.projection:
        raise NotFound(f"no trial {params.trial}: this installation keeps no trials")
    with read_connection(service.engine) as conn:
        found = query(conn, "SELECT 1 FROM trial WHERE trial_id = ?", (params.trial,))
    if not found:
        raise NotFound(f"no trial {params.trial}")


def run_report(
    service: Service, kind: ReportKind, params: Params, step: Step | None = None
) -> Report:
    """Build a report over one consistent read snapshot of the projection."""
    from provenance.reports.source import open_source

    with open_source(service) as source:
        report = kind.build(source, params, step or (lambda _label: None))
        report.log_size = source.size
    return report
