"""A trial's data points and the amendments that changed them: gsm's kri0011 (and kri0008) input."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from provenance.reports.source import Source
from trials.dataset_diff import DatasetDiff, Version
from trials.dataset_files import parse_dataset
from trials.datasets import Dataset
from trials.monitoring.frames import SUBJECT_NAMES, TrialData
from trials.queries import payload_bytes

POINT_COLUMNS = ["subject", "points", "changed", "dated"]


@dataclass(frozen=True)
class TrialHistory(TrialData):
    """A trial's latest datasets with their data points: one row per subject and dataset
    (``points``: the subject's cells in the latest version) and one per subject, dataset and
    amendment (``changed``: cells that amendment changed first), ``dated`` by submission."""

    points: pd.DataFrame | None = None


@dataclass(frozen=True)
class Submitted:
    """One readable version of a dataset: its table and the day it was submitted."""

    dataset: Dataset
    dated: pd.Timestamp | None


def _day(text: object) -> pd.Timestamp | None:
    """The day a version was submitted; None (undated) when the log does not say."""
    return pd.Timestamp(text[:10]) if isinstance(text, str) and text else None


def _subject_at(columns: Sequence[str]) -> int | None:
    return next((columns.index(n) for n in SUBJECT_NAMES if n in columns), None)


def latest_points(latest: Dataset, dated: pd.Timestamp | None) -> pd.DataFrame:
    """Every cell of each subject's rows is a data point, blank or not: a field on the form
    (gsm counts the EDC's fields), so a changed cell is always one of them."""
    at = _subject_at(list(latest.columns))
    if at is None:
        return pd.DataFrame(columns=POINT_COLUMNS)
    subjects = pd.Series([row[at] for row in latest.rows], dtype=object).dropna().astype(str)
    rows = subjects.value_counts()
    return pd.DataFrame(
        {
            "subject": rows.index.astype(str),
            "points": rows.to_numpy(dtype=float) * len(latest.columns),
            "changed": 0.0,
            "dated": dated,
        }
    )


def changed_points(domain: str, versions: Sequence[Submitted]) -> pd.DataFrame:
    """Cells each amendment changed, per subject, from the diffs of consecutive versions. A cell
    (key, column) changed by several amendments counts once, at the first: gsm's numerator is
    data points with one or more changes. Rows added or removed change no existing data point."""
    seen: set[tuple[object, ...]] = set()
    found: list[tuple[str, pd.Timestamp | None]] = []
    for before, after in zip(versions, versions[1:], strict=False):
        diff = DatasetDiff(
            domain,
            Version(before.dataset.columns, before.dataset.rows),
            Version(after.dataset.columns, after.dataset.rows),
        )
        for change in diff.changes():
            if change.kind != "cell" or change.subject is None:
                continue
            cell = (tuple(change.key.items()) or change.to_row, change.column)
            if cell not in seen:
                seen.add(cell)
                found.append((str(change.subject), after.dated))
    if not found:
        return pd.DataFrame(columns=POINT_COLUMNS)
    frame = pd.DataFrame(found, columns=["subject", "dated"])
    counts = frame.groupby(["subject", "dated"]).size().rename("changed").reset_index()
    return counts.assign(points=0.0, changed=counts["changed"].astype(float))[POINT_COLUMNS]


def data_points(
    domains: Mapping[str, str], history: Mapping[str, Sequence[Submitted]]
) -> pd.DataFrame:
    """Data points and changed data points of every dataset whose versions are in `history`
    (oldest first; a version whose payload is erased is left out, so its neighbours are
    compared). A dataset never amended contributes its data points and no changes."""
    parts = []
    for name, versions in history.items():
        if not versions:
            continue
        parts.append(latest_points(versions[-1].dataset, versions[0].dated))
        if len(versions) > 1:
            parts.append(changed_points(domains.get(name, name), versions))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=POINT_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    return out.assign(dated=pd.to_datetime(out["dated"]))  # undated (None) is NaT


def read_history(
    source: Source, versions: pd.DataFrame, latest: Mapping[str, Dataset]
) -> pd.DataFrame:
    """`data_points` of a trial's datasets: `versions` lists every version (dataset, version,
    domain, format, payload, submitted_at; oldest first), `latest` the latest ones already read.
    Earlier versions are read as the latest are, from their stored payloads."""
    history: dict[str, list[Submitted]] = {}
    domains: dict[str, str] = {}
    last = versions.groupby("dataset")["version"].max().to_dict()
    for row in versions.itertuples():
        name = str(row.dataset)
        if name not in latest:
            continue  # the latest version is erased or unread: no data points to count
        domains[name] = str(row.domain or name).upper()
        if row.version == last[row.dataset]:  # already read
            table: Dataset | None = latest[name]
        else:
            data = payload_bytes(source.conn, str(row.payload))
            table = None if data is None else parse_dataset(data, str(row.format))
        if table is not None:
            history.setdefault(name, []).append(
                Submitted(table, _day(getattr(row, "submitted_at", None)))
            )
    return data_points(domains, history)
