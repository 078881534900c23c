"""The consent rule on hand-made frames: no consent, consent after enrolment, and its cells."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from trials.consent import (
    ENROLLED_BEFORE_CONSENT,
    NO_CONSENT,
    ConsentFinding,
    consent_findings,
    iso_date,
    text_or_none,
)


def enrol(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["subject", "site", "enrolled"], dtype=object)


def consents(*rows: tuple[str, object]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["subject", "consented"], dtype=object)


def test_consent_same_day_is_fine_and_after_is_a_violation() -> None:
    findings = consent_findings(
        enrol(("A", "1", "2020-01-10"), ("B", "1", "2020-01-10"), ("C", "2", "2020-01-10")),
        consents(("A", "2020-01-10"), ("B", "2020-01-11"), ("C", "2020-01-09")),
    )
    assert findings == [
        ConsentFinding("B", "1", "2020-01-10", "2020-01-11", ENROLLED_BEFORE_CONSENT)
    ]


def test_missing_consent_and_sort_order() -> None:
    findings = consent_findings(
        enrol(("Z", "1", "2020-01-10"), ("Y", "1", "2020-01-10"), ("X", "2", "2020-01-10")),
        consents(("Z", "2020-02-01"), ("X", None)),
    )
    assert findings == [
        ConsentFinding("Z", "1", "2020-01-10", "2020-02-01", ENROLLED_BEFORE_CONSENT),
        ConsentFinding("X", "2", "2020-01-10", None, NO_CONSENT),
        ConsentFinding("Y", "1", "2020-01-10", None, NO_CONSENT),
    ]


def test_earliest_consent_counts_and_dates_may_be_date_likes() -> None:
    findings = consent_findings(
        enrol(("A", "1", "2020-01-10T00:00:00")),
        consents(("A", pd.Timestamp("2020-03-01")), ("A", date(2020, 1, 10))),
    )
    assert findings == []


def test_consyn_n_is_not_consent_in_frames() -> None:
    consent = pd.DataFrame(
        [("A", "2020-01-01", "N"), ("B", "2020-01-01", "Y")],
        columns=["subject", "consented", "consyn"],
        dtype=object,
    )
    findings = consent_findings(enrol(("A", "1", "2020-01-10"), ("B", "1", "2020-01-10")), consent)
    assert findings == [ConsentFinding("A", "1", "2020-01-10", None, NO_CONSENT)]


def test_consent_findings_requires_columns() -> None:
    with pytest.raises(ValueError, match="enrolment"):
        consent_findings(pd.DataFrame({"subject": ["A"]}), consents())


def test_consent_frame_requires_columns() -> None:
    with pytest.raises(ValueError, match="consent frame"):
        consent_findings(enrol(("A", "1", "2020-01-10")), pd.DataFrame({"subject": ["A"]}))


def test_enrolment_without_a_date_is_an_error() -> None:
    with pytest.raises(ValueError, match="without subject or date"):
        consent_findings(enrol(("A", "1", " ")), consents(("A", "2020-01-01")))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2013-11-26", "2013-11-26"),
        (" 2013-11-26T00:00:00 ", "2013-11-26"),
        (date(2013, 11, 26), "2013-11-26"),
        (datetime(2013, 11, 26, 23, 59), "2013-11-26"),
        (pd.Timestamp("2013-11-26 12:00"), "2013-11-26"),
        (None, None),
        ("", None),
        (pd.NaT, None),
        (float("nan"), None),
    ],
)
def test_iso_date(value: object, expected: str | None) -> None:
    assert iso_date(value) == expected


def test_iso_date_rejects_what_is_not_a_date() -> None:
    with pytest.raises(TypeError, match="not a date"):
        iso_date(20131126)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(" 0496 ", "0496"), ("", None), ("  ", None), (None, None), (float("nan"), None), (7, "7")],
)
def test_text_or_none(value: object, expected: str | None) -> None:
    assert text_or_none(value) == expected
