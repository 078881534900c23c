"""The trials' consent rule: who was enrolled with no consent, or before giving it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

NO_CONSENT = "no-consent"
ENROLLED_BEFORE_CONSENT = "enrolled-before-consent"


@dataclass(frozen=True)
class ConsentFinding:
    """An enrolled subject whose consent record is missing or dated after enrolment."""

    subject: str
    site: str
    enrolled: str
    consented: str | None
    kind: str


def iso_date(value: object) -> str | None:
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


def text_or_none(value: object) -> str | None:
    """A cell as stripped text; None if it is missing or blank."""
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


def _earliest_consent(consent: pd.DataFrame) -> dict[str, str]:
    """Each subject's first consent date; rows with no date, or a ``consyn`` other than "Y"
    where the frame carries one, are not consent."""
    has_flag = "consyn" in consent.columns
    earliest: dict[str, str] = {}
    for record in consent.to_dict("records"):
        subject = text_or_none(record["subject"])
        consented = iso_date(record["consented"])
        if subject is None or consented is None:
            continue
        if has_flag and text_or_none(record["consyn"]) != "Y":
            continue
        if subject not in earliest or consented < earliest[subject]:
            earliest[subject] = consented
    return earliest


def consent_findings(enrolment: pd.DataFrame, consent: pd.DataFrame) -> list[ConsentFinding]:
    """Enrolled subjects with no consent, or enrolled on a day before consent was given.

    Needs ``subject, site, enrolled`` and ``subject, consented``; dates may be ISO text or
    date-likes. Consent on the enrolment day is compliant. A consent row whose date is missing,
    or (if the frame still carries a raw ``consyn`` column) whose ``consyn`` is not "Y", does
    not count as consent. Sorted by (kind, subject).
    """
    _require(enrolment, ["subject", "site", "enrolled"], "enrolment frame")
    _require(consent, ["subject", "consented"], "consent frame")
    earliest = _earliest_consent(consent)
    findings: list[ConsentFinding] = []
    for record in enrolment.to_dict("records"):
        subject = text_or_none(record["subject"])
        enrolled = iso_date(record["enrolled"])
        if subject is None or enrolled is None:
            raise ValueError(f"enrolment row without subject or date: {record!r}")
        site = text_or_none(record["site"]) or ""
        consented = earliest.get(subject)
        if consented is None:
            findings.append(ConsentFinding(subject, site, enrolled, None, NO_CONSENT))
        elif enrolled < consented:
            findings.append(
                ConsentFinding(subject, site, enrolled, consented, ENROLLED_BEFORE_CONSENT)
            )
    return sorted(findings, key=lambda finding: (finding.kind, finding.subject))
