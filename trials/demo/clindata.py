"""Tidy pandas views of the synthetic clindata trial tables, and consent checks over them."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd

DEFAULT_DIR: Path = Path(__file__).resolve().parents[2] / "data" / "clindata"

NO_CONSENT = "no-consent"
ENROLLED_BEFORE_CONSENT = "enrolled-before-consent"

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


@dataclass(frozen=True)
class ConsentFinding:
    """An enrolled subject whose consent record is missing or dated after enrolment."""

    subject: str
    site: str
    enrolled: str
    consented: str | None
    kind: str


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


def _iso_date(value: object) -> str | None:
    """ISO text, date, datetime or Timestamp as ``YYYY-MM-DD``; None if missing."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, datetime):  # includes pd.Timestamp; checked before its base class date
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        # datetime.fromisoformat accepts both "2013-11-26" and "2013-11-26T00:00:00".
        return datetime.fromisoformat(text).date().isoformat()
    if pd.isna(value):  # type: ignore[call-overload]
        return None
    raise TypeError(f"not a date: {value!r}")


def _text(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) and pd.isna(value):  # type: ignore[call-overload]
        return None
    text = str(value).strip()
    return text or None


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks columns {missing}")


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
        first_patient_first_visit=_iso_date(row["act_fpfv"]),
    )


def _site_order(column: pd.Series) -> pd.Series:
    # Site numbers are digit strings; pad so "10" sorts after "9" without converting to int.
    return column.str.zfill(12)


def load_sites(directory: Path = DEFAULT_DIR) -> pd.DataFrame:
    """Sites from ``ctms_site``: site, country, activated (ISO date or None), status."""
    raw = load_table("ctms_site", directory)
    frame = pd.DataFrame(
        {
            "site": raw["site_num"].map(_text),
            "country": raw["country"].map(_text),
            "activated": raw["site_active_dt"].map(_iso_date),
            "status": raw["site_status"].map(_text),
        },
        dtype=object,
    )
    return frame.sort_values("site", key=_site_order, kind="stable").reset_index(drop=True)


def load_enrolment(directory: Path = DEFAULT_DIR) -> pd.DataFrame:
    """Enrolled subjects (``enrollyn == "Y"``) from ``rawplus_enroll``: subject, site, enrolled.

    Screen failures are dropped: they carry no ``subjid`` and are never enrolled.
    """
    raw = load_table("rawplus_enroll", directory)
    enrolled = raw[raw["enrollyn"].map(_text) == "Y"]
    frame = pd.DataFrame(
        {
            "subject": enrolled["subjid"].map(_text),
            "site": enrolled["siteid"].map(_text),
            "enrolled": enrolled["enroll_dt"].map(_iso_date),
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
    given = raw[(raw["conscat"].map(_text) == MAIN_CONSENT) & (raw["consyn"].map(_text) == "Y")]
    frame = pd.DataFrame(
        {
            "subject": given["subjid"].map(_text),
            "consented": given["consdt"].map(_iso_date),
        },
        dtype=object,
    )
    frame = frame[frame["subject"].notna() & frame["consented"].notna()]
    # ISO dates sort chronologically as text, so the first row per subject is the earliest.
    frame = frame.sort_values(["subject", "consented"], kind="stable")
    return frame.drop_duplicates("subject", keep="first").reset_index(drop=True)


def consent_findings(enrolment: pd.DataFrame, consent: pd.DataFrame) -> list[ConsentFinding]:
    """Enrolled subjects with no consent, or enrolled on a day before consent was given.

    Needs ``subject, site, enrolled`` and ``subject, consented``; dates may be ISO text or
    date-likes. Consent on the enrolment day is compliant. A consent row whose date is missing,
    or (if the frame still carries a raw ``consyn`` column) whose ``consyn`` is not "Y", does
    not count as consent. Sorted by (kind, subject).
    """
    _require(enrolment, ["subject", "site", "enrolled"], "enrolment frame")
    _require(consent, ["subject", "consented"], "consent frame")
    has_flag = "consyn" in consent.columns
    earliest: dict[str, str] = {}
    for record in consent.to_dict("records"):
        subject = _text(record["subject"])
        consented = _iso_date(record["consented"])
        if subject is None or consented is None:
            continue
        if has_flag and _text(record["consyn"]) != "Y":
            continue
        if subject not in earliest or consented < earliest[subject]:
            earliest[subject] = consented
    findings: list[ConsentFinding] = []
    for record in enrolment.to_dict("records"):
        subject = _text(record["subject"])
        enrolled = _iso_date(record["enrolled"])
        if subject is None or enrolled is None:
            raise ValueError(f"enrolment row without subject or date: {record!r}")
        site = _text(record["site"]) or ""
        consented = earliest.get(subject)
        if consented is None:
            findings.append(ConsentFinding(subject, site, enrolled, None, NO_CONSENT))
        elif enrolled < consented:
            findings.append(
                ConsentFinding(subject, site, enrolled, consented, ENROLLED_BEFORE_CONSENT)
            )
    return sorted(findings, key=lambda finding: (finding.kind, finding.subject))


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
