"""What every monitoring check shares: column roles, minimum sizes, trial data and records."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

import pandas as pd

from trials.monitoring.stats import rank_sites

# Column roles, by the names CDISC SDTM uses and the names of the demo extracts.
SUBJECT_NAMES = ("USUBJID", "SUBJECT", "SUBJID")
SITE_NAMES = ("SITEID", "SITE")
VISIT_NAMES = ("VISIT", "VISITNUM")
VISIT_DATE_NAMES = ("VISITDT", "SVSTDTC")
AE_START_NAMES = ("AESTDT", "AESTDTC")
#: When a record was keyed rather than what it says: lag is measured from it, and a difference
#: in it alone does not make two records near-duplicates.
CREATED_NAMES = ("CREATED",)
#: Identifiers and sequence numbers are numeric but are not measurements.
ID_SUFFIXES = ("ID", "SEQ", "NUM")
#: Numeric but not measured: identifiers, study days (--DY, --STDY, --ENDY), reference ranges
#: (--ORNRLO/HI, --STNRLO/HI) and visit days.
NOT_MEASURED_SUFFIXES = (*ID_SUFFIXES, "DY", "NRLO", "NRHI", "VISITDY")

#: Sites below these sizes are listed with their figures but never flagged.
MIN_VALUES = 20  # values of one measurement column, for terminal digits (2 expected per digit)
MIN_SUBJECTS = 5  # subjects, for site means and spreads and for the AE funnel
MIN_RECORDS = 20  # records or visit pages, for duplicates, date anomalies and entry lag
#: A measurement column needs this many distinct values for its last digit to say anything.
MIN_DISTINCT = 10


@dataclass(frozen=True)
class TrialData:
    """One trial's latest datasets by domain (cells str or None), its roster and consents.

    `roster` has subject and site of the enrolled subjects; `consent` has subject and
    consented, the ISO date consent was first given.
    """

    datasets: Mapping[str, pd.DataFrame]
    roster: pd.DataFrame
    consent: pd.DataFrame


_MEMO: dict[tuple[int, str], tuple[weakref.ref[TrialData], object]] = {}
_MEMO_LOCK = threading.Lock()
T = TypeVar("T")


def memo(data: TrialData, name: str, build: Callable[[], T]) -> T:
    """`build()` once per trial data object: several checks read the same derived tables
    (findings, subject sites), and the data never changes under them (frozen, read-only)."""
    key = (id(data), name)
    with _MEMO_LOCK:  # reports may run in several threads of one server
        hit = _MEMO.get(key)
        if hit is not None and hit[0]() is data:
            return cast(T, hit[1])
        for stale in [k for k, (ref, _) in _MEMO.items() if ref() is None]:
            del _MEMO[stale]
    value = build()
    with _MEMO_LOCK:
        _MEMO[key] = (weakref.ref(data), value)
    return value


def role(frame: pd.DataFrame, names: Sequence[str]) -> str | None:
    return next((name for name in names if name in frame.columns), None)


def dates(values: pd.Series) -> pd.Series:
    """ISO dates or datetimes as day-precision Timestamps; partial or missing dates are NaT."""
    text = values.map(lambda v: v[:10] if isinstance(v, str) else None)
    return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")


def records(data: TrialData, domain: str) -> pd.DataFrame:
    """A dataset plus `subject` and `site` columns (the roster's site where the record has none);
    rows keep the dataset's index, so index + 1 is the data row number. Computed once per
    trial data and domain (memo); callers must not change it in place."""
    return memo(data, f"records {domain}", lambda: _records(data, domain))


def _records(data: TrialData, domain: str) -> pd.DataFrame:
    frame = data.datasets[domain]
    subject = role(frame, SUBJECT_NAMES)
    if subject is None:
        raise ValueError(f"dataset {domain} has no subject column ({', '.join(SUBJECT_NAMES)})")
    out = frame.assign(subject=frame[subject])
    enrolled_at = out["subject"].map(subject_sites(data))
    site = role(frame, SITE_NAMES)
    out["site"] = enrolled_at if site is None else frame[site].fillna(enrolled_at)
    return out[out["site"].notna()].assign(site=lambda f: f["site"].astype(str))


def subject_sites(data: TrialData) -> pd.Series:
    """Each subject's site: the enrolment roster's, else DM's SITEID (an SDTM trial may have
    been submitted without enrolment records)."""
    return memo(data, "subject sites", lambda: _subject_sites(data))


def _subject_sites(data: TrialData) -> pd.Series:
    sites = by_subject(data.roster, "site") if len(data.roster) else pd.Series(dtype=object)
    dm = data.datasets.get("DM")
    subject = role(dm, SUBJECT_NAMES) if dm is not None else None
    site = role(dm, SITE_NAMES) if dm is not None else None
    if dm is not None and subject and site:
        fallback = dm.drop_duplicates(subject).set_index(subject)[site]
        sites = sites.combine_first(fallback) if len(sites) else fallback
    return sites


def by_subject(frame: pd.DataFrame, column: str) -> pd.Series:
    """`column` of each subject's first row, indexed by subject."""
    return frame.drop_duplicates("subject").set_index("subject")[column]


def visits(data: TrialData) -> pd.DataFrame:
    """SV records: subject, site, visit, and visit_date and created as day Timestamps (or NaT)."""
    sv = records(data, "SV")
    raw = data.datasets["SV"]
    visit, visit_date, created = (
        role(raw, names) for names in (VISIT_NAMES, VISIT_DATE_NAMES, CREATED_NAMES)
    )
    blank = pd.Series(None, index=sv.index, dtype=object)
    return pd.DataFrame(
        {
            "subject": sv["subject"],
            "site": sv["site"],
            "visit": sv[visit] if visit else blank,
            "visit_date": dates(sv[visit_date] if visit_date else blank),
            "created": dates(sv[created] if created else blank),
        }
    )


def measurement_columns(frame: pd.DataFrame) -> list[str]:
    """Numeric measurement columns: every value a number, at least MIN_DISTINCT distinct values,
    and not an identifier (subject, site, or a name ending in ID, SEQ or NUM)."""
    keys = {role(frame, SUBJECT_NAMES), role(frame, SITE_NAMES)}
    out = []
    for column in map(str, frame.columns):
        values = frame[column].dropna()
        derived = column.endswith(NOT_MEASURED_SUFFIXES)
        if column in keys or derived or values.nunique() < MIN_DISTINCT:
            continue
        if pd.to_numeric(values, errors="coerce").notna().all():
            out.append(column)
    return out


def empty_sites(by: list[str], extras: list[str]) -> pd.DataFrame:
    """A check's site table with no rows but all its columns, for a trial lacking the data."""
    columns = [*by, "site", "n", "statistic", "effect", "z", "p", "eligible", *extras]
    return rank_sites(pd.DataFrame(columns=columns), pd.Series(dtype=float), True, by)
