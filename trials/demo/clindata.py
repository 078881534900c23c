"""Tidy pandas views of the synthetic clindata trial tables."""

from __future__ import annotations

import hashlib
import hmac
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from trials.consent import iso_date, text_or_none

_CHECKOUT = Path(__file__).resolve().parents[2] / "data" / "clindata"
#: data/clindata of a source checkout; an installed wheel's copy is under <prefix>/share.
DEFAULT_DIR: Path = (
    _CHECKOUT if _CHECKOUT.is_dir() else Path(sys.prefix) / "share" / "provenance" / "clindata"
)

# The only consent category in the source data; other categories (e.g. optional sub-study
# consents) would not license enrolment, so they are ignored rather than mixed in.
MAIN_CONSENT = "MAINCONSENT"


@dataclass(frozen=True)
class Study:
    """Study-level plan from ``ctms_study``."""

    study_id: str
    title: str
    phase: str
    planned_sites: int
    planned_subjects: int
    first_patient_first_visit: str | None


def load_table(name: str, directory: Path = DEFAULT_DIR) -> pd.DataFrame:
    """Read ``<directory>/<name>.csv.gz`` with every column as ``object`` holding str or None.

    Everything stays text: subject ids such as ``"0496"`` keep their leading zeros, and no
    column's dtype depends on which values happen to be present, so re-reading is identical.
    """
    path = directory / f"{name}.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"no clindata table {name!r} in {directory}")
    # Only the empty field means "missing"; literal strings such as "NA" are data.
    frame = pd.read_csv(
        path,
        dtype="string",
        keep_default_na=False,
        na_values=[""],
        compression="gzip",
        encoding="utf-8",
    )
    # None (not pd.NA) so rows serialise straight to JSON for the log.
    frame = frame.astype(object)
    return frame.where(frame.notna(), None)


def _normalise_phase(raw: str) -> str:
    # CTMS writes phases as "P3"; bare "3" or "Phase 3" map to that same form so a study's
    # phase compares equal whichever system it came from.
    text = raw.strip().upper().replace("PHASE", "").strip()
    if text.startswith("P"):
        text = text[1:].strip()
    return f"P{text}"


def load_study(directory: Path = DEFAULT_DIR) -> Study:
    """The single study in ``ctms_study``; phase is normalised to the ``P<n>`` form (e.g. P3)."""
    frame = load_table("ctms_study", directory)
    if len(frame) != 1:
        raise ValueError(f"ctms_study has {len(frame)} rows; expected exactly one study")
    row = frame.iloc[0]
    return Study(
        study_id=str(row["protocol_number"]),
        title=str(row["protocol_title"]),
        phase=_normalise_phase(str(row["phase"])),
        planned_sites=int(row["num_plan_site"]),
        planned_subjects=int(row["num_plan_subj"]),
        first_patient_first_visit=iso_date(row["act_fpfv"]),
    )


def _site_order(column: pd.Series) -> pd.Series:
    # Site numbers are digit strings; pad so "10" sorts after "9" without converting to int.
    return column.str.zfill(12)


def load_sites(directory: Path = DEFAULT_DIR) -> pd.DataFrame:
    """Sites from ``ctms_site``: site, country, activated (ISO date or None), status."""
    raw = load_table("ctms_site", directory)
    frame = pd.DataFrame(
        {
            "site": raw["site_num"].map(text_or_none),
            "country": raw["country"].map(text_or_none),
            "activated": raw["site_active_dt"].map(iso_date),
            "status": raw["site_status"].map(text_or_none),
        },
        dtype=object,
    )
    return frame.sort_values("site", key=_site_order, kind="stable").reset_index(drop=True)


def load_enrolment(directory: Path = DEFAULT_DIR) -> pd.DataFrame:
    """Enrolled subjects (``enrollyn == "Y"``) from ``rawplus_enroll``: subject, site, enrolled.

    Screen failures are dropped: they carry no ``subjid`` and are never enrolled.
    """
    raw = load_table("rawplus_enroll", directory)
    enrolled = raw[raw["enrollyn"].map(text_or_none) == "Y"]
    frame = pd.DataFrame(
        {
            "subject": enrolled["subjid"].map(text_or_none),
            "site": enrolled["siteid"].map(text_or_none),
            "enrolled": enrolled["enroll_dt"].map(iso_date),
        },
        dtype=object,
    )
    return frame.sort_values("subject", kind="stable").reset_index(drop=True)


def load_consent(directory: Path = DEFAULT_DIR) -> pd.DataFrame:
    """Main consent given (``conscat == MAINCONSENT``, ``consyn == "Y"``): subject, consented.

    A ``consyn`` of "N" (refused or withdrawn) is not consent, so such rows are dropped and the
    subject counts as unconsented. With several qualifying records the earliest date is kept:
    that is when consent was first in force.
    """
    raw = load_table("rawplus_consent", directory)
    given = raw[
        (raw["conscat"].map(text_or_none) == MAIN_CONSENT)
        & (raw["consyn"].map(text_or_none) == "Y")
    ]
    frame = pd.DataFrame(
        {
            "subject": given["subjid"].map(text_or_none),
            "consented": given["consdt"].map(iso_date),
        },
        dtype=object,
    )
    frame = frame[frame["subject"].notna() & frame["consented"].notna()]
    # ISO dates sort chronologically as text, so the first row per subject is the earliest.
    frame = frame.sort_values(["subject", "consented"], kind="stable")
    return frame.drop_duplicates("subject", keep="first").reset_index(drop=True)


#: The DM, AE and SV extracts a sponsor submits from this study: our column ← clindata column.
#: No birth dates or initials leave the source tables.
EXTRACTS: dict[str, tuple[str, dict[str, str]]] = {
    "DM": (
        "rawplus_dm",
        {"SUBJECT": "subjid", "SITEID": "siteid", "SEX": "sex", "AGE": "agerep", "RACE": "race",
         "COUNTRY": "country", "CREATED": "mincreated_dts"},
    ),
    "AE": (
        "rawplus_ae",
        {"SUBJECT": "subjid", "SITEID": "siteid", "AETERM": "aeterm", "AESER": "aeser",
         "AESTDT": "aest_dt", "AEENDT": "aeen_dt", "AETOXGR": "aetoxgr",
         "CREATED": "mincreated_dts"},
    ),
    "SV": (
        "rawplus_visdt",
        {"SUBJECT": "subjid", "SITEID": "siteid", "VISIT": "foldername", "VISITDT": "visit_dt",
         "CREATED": "mincreated_dts"},
    ),
}  # fmt: skip


def load_extract(domain: str, directory: Path = DEFAULT_DIR) -> pd.DataFrame:
    """The `domain` extract of `EXTRACTS`, with the raw subject ids."""
    table, columns = EXTRACTS[domain]
    raw = load_table(table, directory)
    return pd.DataFrame({ours: raw[theirs] for ours, theirs in columns.items()}, dtype=object)


def pseudonym(subject: str, secret: bytes) -> str:
    """A stable public stand-in for a subject: ``"S-"`` + 12 hex of HMAC-SHA-256(secret, id).

    Only this value goes into the public log; the raw subject id never does. The secret stays
    with the sponsor (or site): subject numbers are few, so an unkeyed hash could be reversed
    by hashing every candidate number.
    """
    digest = hmac.new(secret, subject.encode(), hashlib.sha256).hexdigest()
    return f"S-{digest[:12]}"
