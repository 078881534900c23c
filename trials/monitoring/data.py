"""The monitoring report's data: each trial's latest datasets and every check's result on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from provenance.reports.model import Params, Step
from provenance.reports.source import Source
from trials import monitoring as mon
from trials.dataset_files import parse_dataset
from trials.datasets import Dataset
from trials.demo import clindata
from trials.monitoring.checks import CHECK_TITLES, combine, run_checks
from trials.monitoring.indicators import kri_red_flags, kri_tables, kri_trend
from trials.monitoring.kri_inputs import TrialHistory, read_history
from trials.monitoring.trend import cut_dates, trend
from trials.queries import payload_bytes

__all__ = ["CHECK_TITLES", "Analysis", "analyse", "clindata_trial", "stack", "trial_data"]


def clindata_trial(directory: Path = clindata.DEFAULT_DIR) -> mon.TrialData:
    """The clindata study shaped like the demo trial's submissions, with raw subject ids."""
    datasets = {domain: clindata.load_extract(domain, directory) for domain in clindata.EXTRACTS}
    roster, consent = clindata.load_enrolment(directory), clindata.load_consent(directory)
    return mon.TrialData(datasets, roster, consent)


def trial_data(source: Source, trial: str) -> tuple[mon.TrialData, pd.DataFrame]:
    """A trial's latest dataset versions (keyed by domain), enrolment and first consents, and a
    table of the versions read; an erased payload, or one without a subject column, is skipped."""
    every = source.frame(
        "SELECT dataset, version, domain, format, payload, row_count, submitted_at "
        "FROM dataset_version WHERE trial_id = ? ORDER BY dataset, version",
        (trial,),
    )
    versions = every.drop_duplicates("dataset", keep="last")
    parts: dict[str, list[pd.DataFrame]] = {}
    latest: dict[str, Dataset] = {}
    used = []
    for row in versions.itertuples():
        data, status = payload_bytes(source.conn, str(row.payload)), "erased"
        if data is not None:
            parsed = latest[str(row.dataset)] = parse_dataset(data, str(row.format))
            frame = pd.DataFrame(list(parsed.rows), columns=list(parsed.columns), dtype=object)
            status = "no subject column"
            if mon.role(frame, mon.SUBJECT_NAMES) is not None:
                # Datasets of one domain (LB split in two files) are one table to every check.
                domain = str(row.domain or row.dataset).upper()
                parts.setdefault(domain, []).append(frame)
                status = "analysed"
        used.append([trial, row.dataset, row.version, row.format, row.row_count, status])
    datasets = {d: combine_frames(frames) for d, frames in parts.items()}
    roster = source.frame("SELECT subject, site FROM enrolment WHERE trial_id = ?", (trial,))
    consent = source.frame(
        "SELECT subject, MIN(dated) AS consented FROM consent_record "
        "WHERE trial_id = ? AND kind = 'consent' GROUP BY subject",
        (trial,),
    )
    columns = ["trial", "dataset", "version", "format", "rows", "status"]
    # Amendments' changed cells and every data point, for the data change rate (kri0011).
    points = read_history(source, every, latest)
    history = TrialHistory(datasets, roster, consent, points)
    return history, pd.DataFrame(used, columns=columns)


def combine_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One domain's datasets as one table: rows in submission order, the union of columns
    (a column one file lacks is empty in its rows), numbered from 0."""
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True, sort=False).astype(object)


@dataclass
class Analysis:
    """Every check's result for one trial, filled in stage by stage."""

    data: mon.TrialData
    versions: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    funnel: mon.Funnel | None = None
    lags: pd.DataFrame = field(default_factory=pd.DataFrame)


def analyse(source: Source, params: Params, step: Step) -> dict[str, Analysis]:
    """Every check on each trial (the one in `params`, or all with datasets), stage by stage;
    `step` is called after each of the seven stages. A trial lacking a domain or consent
    records is analysed as far as it can be; the coverage table says what was not and why."""
    if params.trial:
        trials = [params.trial]
    else:
        found = source.frame("SELECT DISTINCT trial_id FROM dataset_version")["trial_id"]
        trials = sorted(str(t) for t in found)
    runs = {t: Analysis(*trial_data(source, t)) for t in trials}
    step("read the latest version of each dataset")
    results = {t: run_checks(a.data, params.days) for t, a in runs.items()}
    for label in (
        "compared terminal digits and lab and vital-sign distributions",
        "looked for copied values and duplicate records",
        "compared site means, spreads, AE rates, missing results and categories",
        "checked dates against consent and entry",
    ):
        step(label)
    for trial, a in runs.items():
        result = results[trial]
        a.tables.update(result.tables)
        a.funnel, a.lags = result.funnel, result.lags
        kri = kri_tables(a.data, params)
        a.tables["kri"] = kri
        a.tables["sites"] = combine(result, kri_red_flags(kri))
        a.tables["coverage"] = result.coverage_table()
    step("ranked sites across checks")
    for a in runs.values():
        a.tables["trend"] = trend(a.data, params.as_of)
        a.tables["kri trend"] = kri_trend(a.data, cut_dates(a.data, params.as_of))
    step("computed per-site trends at earlier as-of dates")
    return runs


def stack(runs: dict[str, Analysis], key: str) -> pd.DataFrame:
    """One table of every trial's `key` table, the trial first."""
    parts = [a.tables[key].assign(trial=t) for t, a in runs.items()]
    if not parts:
        return pd.DataFrame({"trial": pd.Series(dtype=object)})
    out = pd.concat(parts, ignore_index=True)
    return out[["trial", *[c for c in out.columns if c != "trial"]]]
