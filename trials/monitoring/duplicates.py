"""Duplicate and near-duplicate records by row hashing: one pass per column, no pairwise search."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from trials.monitoring.findings import findings, findings_domains
from trials.monitoring.frames import CREATED_NAMES, SUBJECT_NAMES, TrialData, records, role

_ISO_DATE = r"\d{4}-\d{2}-\d{2}.*"
#: Derived from other columns, so never compared: sequence numbers and study days differ
#: between a record and its copy without saying anything.
DERIVED_SUFFIXES = ("SEQ", "DY")
#: Columns that describe when or where a record was taken rather than what it says.
DESIGN = ("STUDYID", "DOMAIN", "SITEID", "SITE", "VISIT", "VISITNUM", "EPOCH", "CREATED")
#: A record counts as copied to another subject only with this many filled content cells:
#: two subjects' visit records on the same day differ only in the subject by design.
MIN_CONTENT = 2
#: A subject's findings on one date count as a copied visit with this many numeric results.
MIN_VISIT_RESULTS = 3
LISTING = ["dataset", "kind", "field", "group", "row", "subject", "site", "record", "chance"]
#: A match that chance would produce this often (expected count) is listed but not counted
#: against its site: a subject's recurrent headache, two patients' same-day mild nausea.
LIKELY_CHANCE = 0.05


def _cell_hashes(raw: pd.DataFrame, columns: list[str]) -> dict[str, np.ndarray]:
    """Per column, each cell's 64-bit hash times an odd constant of the column: summing a
    row's cells gives a row hash, and subtracting one cell gives the row without that column."""
    out = {}
    for column in columns:
        values = raw[column].astype(object).where(raw[column].notna(), "\x00").astype(str)
        constant = int.from_bytes(hashlib.sha256(column.encode()).digest()[:8], "big") | 1
        hashed = pd.util.hash_array(values.to_numpy(dtype=object))
        out[column] = hashed * np.uint64(constant)
    return out


def _content(raw: pd.DataFrame, columns: list[str]) -> np.ndarray:
    content = [c for c in columns if c not in DESIGN and not c.endswith(("DTC", "DT"))]
    filled = raw[content].notna() & (raw[content].astype(str) != "")
    return filled.sum(axis=1).to_numpy()


def duplicate_records(data: TrialData) -> pd.DataFrame:
    """Exact duplicate rows, and near-duplicates: rows equal in every column but one.

    Sequence numbers and study days are not compared. The differing column names the kind: the
    subject ("copied to another subject", only for records with MIN_CONTENT filled content
    cells, not for findings, whose single results coincide by chance and are compared as runs,
    nor for one-row-per-subject datasets, whose few demographic values coincide too),
    a date ("date shifted") or another field ("one field differs"); a difference in CREATED
    alone does not count. Findings also count a subject's whole set of results on one date
    that another subject has too ("visit copied to another subject"). `chance` estimates how
    many such matches the dataset holds by chance (see _Chance). Linear in the rows.
    """
    parts = []
    findings_set = set(findings_domains(data))
    for domain in sorted(data.datasets):
        raw = data.datasets[domain]
        frame = records(data, domain)
        raw = raw.loc[frame.index]
        columns = [str(c) for c in raw.columns if not str(c).endswith(DERIVED_SUFFIXES)]
        cells = _cell_hashes(raw, columns)
        total = np.asarray(np.sum(np.vstack(list(cells.values())), axis=0, dtype=np.uint64))
        exact = pd.Series(total).duplicated(keep=False).to_numpy()
        parts.append(_group(frame, exact, total, domain, "exact duplicate", ""))
        subject = role(raw, SUBJECT_NAMES)
        odds = _Chance(raw, columns, cells, subject)
        for column in [c for c in columns if c not in CREATED_NAMES and len(columns) > 1]:
            if column == subject and (
                domain in findings_set or not raw[subject].duplicated().any()
            ):
                # Findings copies are compared as runs (copies.py); in a one-row-per-subject
                # dataset (DM) age, sex and arm coincide between patients by chance.
                continue
            rest = total - cells[column]
            key = pd.DataFrame({"rest": rest, "cell": cells[column]})
            candidate = key.duplicated("rest", keep=False).to_numpy()
            if not candidate.any():
                continue
            varies = key[candidate].groupby("rest")["cell"].transform("nunique") > 1
            near = np.zeros(len(key), dtype=bool)
            near[np.flatnonzero(candidate)[varies.to_numpy()]] = True
            chance = np.full(len(key), np.nan)
            if column == subject:
                kind = "copied to another subject"
                near &= _content(raw, columns) >= MIN_CONTENT
                chance = odds.expected(odds.dates)
            elif raw[column].dropna().astype(str).str.fullmatch(_ISO_DATE).all():
                kind = "date shifted"
                chance = odds.expected(odds.subjects)
            else:
                kind = "one field differs"
            parts.append(_group(frame, near, rest, domain, kind, column, chance))
    parts.append(copied_visits(data))
    found = [p for p in parts if len(p)]
    if not found:
        return pd.DataFrame(columns=LISTING)
    listing = pd.concat(found, ignore_index=True)
    return listing.sort_values(["dataset", "group", "row"], kind="stable", ignore_index=True)


class _Chance:
    """How many records like each one a dataset holds by chance in the same context: the share
    of records with its content (not subject, dates or design columns) times the records of
    the same subject (a recurrent event) or of the same dates (two subjects' events)."""

    def __init__(
        self,
        raw: pd.DataFrame,
        columns: list[str],
        cells: dict[str, np.ndarray],
        subject: str | None,
    ) -> None:
        dated = [c for c in columns if c.endswith(("DTC", "DT"))]
        content = [c for c in columns if c not in DESIGN and c not in dated and c != subject]
        zero = np.zeros(len(raw), dtype=np.uint64)

        def key(names: list[str]) -> pd.Series:
            if not names:
                return pd.Series(zero)
            return pd.Series(np.sum(np.vstack([cells[c] for c in names]), axis=0, dtype=np.uint64))

        content_key = key(content)
        self.share = (content_key.map(content_key.value_counts()) / max(1, len(raw))).to_numpy()
        self.dates = key(dated).map(key(dated).value_counts()).to_numpy(dtype=np.float64)
        by_subject = key([subject] if subject else [])
        self.subjects = by_subject.map(by_subject.value_counts()).to_numpy(dtype=np.float64)

    def expected(self, context: np.ndarray) -> np.ndarray:
        return np.asarray((context - 1) * self.share, dtype=np.float64)


def _group(
    frame: pd.DataFrame,
    hit: np.ndarray,
    key: np.ndarray,
    domain: str,
    kind: str,
    field: str,
    chance: np.ndarray | None = None,
) -> pd.DataFrame:
    """Listing rows for the records `hit` marks; `group` ties together records of one key;
    `chance` is how many such matches the dataset would hold by chance (NaN: not estimated)."""
    if not hit.any():
        return pd.DataFrame(columns=LISTING)
    odds = np.full(len(hit), np.nan) if chance is None else chance
    rows = frame[hit]
    number = pd.Series(key[hit]).factorize()[0]
    values = rows.drop(columns=["subject", "site"])
    text = values.astype(object).where(values.notna(), "").astype(str)
    record = text.apply(lambda r: "; ".join(f"{k}={v}" for k, v in r.items()), axis=1)
    return pd.DataFrame(
        {
            "dataset": domain,
            "kind": kind,
            "field": field,
            "group": [f"{domain}/{field or 'all'}/{g + 1}" for g in number],
            "row": rows.index + 1,
            "subject": rows["subject"].astype(str).to_numpy(),
            "site": rows["site"].to_numpy(),
            "record": record.str.replace(r"[\r\n]+", " ", regex=True).to_numpy(),
            "chance": odds[hit],
        }
    )


def copied_visits(data: TrialData) -> pd.DataFrame:
    """Subjects whose complete findings of one domain and date (at least MIN_VISIT_RESULTS
    numeric results) equal another subject's on the same date: a copied visit. One listing row
    per subject and date (its first record)."""
    values = findings(data)
    values = values[values["value"].notna() & values["date"].notna()]
    if values.empty:
        return pd.DataFrame(columns=LISTING)
    values = values.sort_values(["domain", "subject", "date", "test", "row"])
    cell = pd.util.hash_pandas_object(values[["test", "unit", "text"]], index=False)
    visit = values.assign(cell=cell.to_numpy()).groupby(["domain", "subject", "date"], sort=False)
    profile = visit.agg(
        first=("row", "min"),
        site=("site", "first"),
        results=("cell", "size"),
        signature=("cell", lambda c: hash(tuple(c))),
    ).reset_index()
    profile = profile[profile["results"] >= MIN_VISIT_RESULTS]
    hit = profile.duplicated(["domain", "date", "signature"], keep=False)
    found = profile[hit]
    if found.empty:
        return pd.DataFrame(columns=LISTING)
    number = found.groupby(["domain", "date", "signature"], sort=False).ngroup()
    return pd.DataFrame(
        {
            "dataset": found["domain"],
            "kind": "visit copied to another subject",
            "field": found["domain"] + "DTC",
            "group": [f"{d}/visit/{g + 1}" for d, g in zip(found["domain"], number, strict=True)],
            "row": found["first"],
            "subject": found["subject"],
            "site": found["site"],
            "record": [
                f"{r} results on {d:%Y-%m-%d}"
                for r, d in zip(found["results"], found["date"], strict=True)
            ],
        }
    )
