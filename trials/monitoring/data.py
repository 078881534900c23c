"""The monitoring report's data: each trial's latest datasets and every check's result on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from provenance.reports.model import Params, Step
from provenance.reports.source import Source
from trials import monitoring as mon
from trials.dataset_files import parse_dataset
from trials.demo import clindata
from trials.queries import payload_bytes


def clindata_trial(directory: Path = clindata.DEFAULT_DIR) -> mon.TrialData:
    """The clindata study shaped like the demo trial's submissions, with raw subject ids."""
    datasets = {domain: clindata.load_extract(domain, directory) for domain in clindata.EXTRACTS}
    roster, consent = clindata.load_enrolment(directory), clindata.load_consent(directory)
    return mon.TrialData(datasets, roster, consent)


def trial_data(source: Source, trial: str) -> tuple[mon.TrialData, pd.DataFrame]:
    """A trial's latest dataset versions (keyed by domain), enrolment and first consents, and a
    table of the versions read; an erased payload, or one without a subject column, is skipped."""
    versions = source.frame(
        "SELECT dataset, version, domain, format, payload, row_count FROM dataset_version "
        "WHERE trial_id = ? ORDER BY dataset, version",
        (trial,),
    ).drop_duplicates("dataset", keep="last")
    by_domain = not versions["domain"].duplicated().any()
    datasets: dict[str, pd.DataFrame] = {}
    used = []
    for row in versions.itertuples():
        data, status = payload_bytes(source.conn, str(row.payload)), "erased"
        if data is not None:
            parsed = parse_dataset(data, str(row.format))
            frame = pd.DataFrame(list(parsed.rows), columns=list(parsed.columns), dtype=object)
            status = "no subject column"
            if mon.role(frame, mon.SUBJECT_NAMES) is not None:
                datasets[str(row.domain if by_domain else row.dataset).upper()] = frame
                status = "analysed"
        used.append([trial, row.dataset, row.version, row.format, row.row_count, status])
    roster = source.frame("SELECT subject, site FROM enrolment WHERE trial_id = ?", (trial,))
    consent = source.frame(
        "SELECT subject, MIN(dated) AS consented FROM consent_record "
        "WHERE trial_id = ? AND kind = 'consent' GROUP BY subject",
        (trial,),
    )
    columns = ["trial", "dataset", "version", "format", "rows", "status"]
    return mon.TrialData(datasets, roster, consent), pd.DataFrame(used, columns=columns)


@dataclass
class Analysis:
    """Every check's result for one trial, filled in stage by stage."""

    data: mon.TrialData
    versions: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    funnel: mon.Funnel | None = None
    lags: pd.DataFrame = field(default_factory=pd.DataFrame)


#: The checks' site tables by key, with their section titles.
CHECK_TITLES = {
    "digits": "Terminal-digit preference",
    "outliers": "Site mean and spread outliers",
    "ae": "AE under-reporting",
    "duplicates": "Duplicate and near-duplicate records",
    "dates": "Date anomalies",
    "lag": "Data-entry lag",
}


def analyse(source: Source, params: Params, step: Step) -> dict[str, Analysis]:
    """Every check on each trial (the one in `params`, or all with datasets), stage by stage;
    `step` is called after each of the seven stages."""
    if params.trial:
        trials = [params.trial]
    else:
        found = source.frame("SELECT DISTINCT trial_id FROM dataset_version")["trial_id"]
        trials = sorted(str(t) for t in found)
    runs = {t: Analysis(*trial_data(source, t)) for t in trials}
    step("read the latest version of each dataset")
    for a in runs.values():
        a.tables["digits"] = mon.terminal_digits(a.data)
    step("compared terminal digits")
    for a in runs.values():
        a.tables["outliers"] = mon.site_outliers(mon.subject_aggregates(a.data))
        a.funnel = mon.ae_funnel(a.data)
        a.tables["ae"] = a.funnel.table
    step("compared site means, spreads and AE rates")
    for a in runs.values():
        a.tables["duplicate records"] = mon.duplicate_records(a.data)
        a.tables["duplicates"] = mon.duplicate_sites(a.data, a.tables["duplicate records"])
    step("looked for duplicate records")
    for a in runs.values():
        a.tables["dates"], a.tables["date records"] = mon.date_anomalies(a.data)
    step("checked dates against consent and entry")
    for a in runs.values():
        a.lags = mon.entry_lags(a.data)
        a.tables["lag"] = mon.entry_lag(a.lags, params.days)
    step("measured data-entry lag")
    for a in runs.values():
        a.tables["sites"] = mon.site_summary({t: a.tables[k] for k, t in CHECK_TITLES.items()})
    step("ranked sites across checks")
    return runs


def stack(runs: dict[str, Analysis], key: str) -> pd.DataFrame:
    """One table of every trial's `key` table, the trial first."""
    parts = [a.tables[key].assign(trial=t) for t, a in runs.items()]
    if not parts:
        return pd.DataFrame({"trial": pd.Series(dtype=object)})
    out = pd.concat(parts, ignore_index=True)
    return out[["trial", *[c for c in out.columns if c != "trial"]]]
