"""R1 by claimed dates as well as log order, and R9: claimed dates against logging times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient

from provenance.reports.model import Params
from tests.conftest import run_named_report
from tests.parties import Authority
from tests.trials.test_checks import consent_records, enrolments, frame, kinds, outcome, protocols
from tests.trials.test_checks import trials as registered
from tests.trials.test_trials import SIG, TRIAL, Study
from trials import checks


def logged(*rows: tuple[int, str]) -> pd.DataFrame:
    """(idx, logged day) of entries, as log timestamps."""
    return frame([(i, f"{day}T10:00:00.000Z") for i, day in rows], "idx logged_at")


# --- R1 ------------------------------------------------------------------------------------


def test_r1_judges_the_first_enrolment_by_its_date_not_only_its_entry() -> None:
    """Protocol v1 is entry 5, before the first enrolment entry 6, but it was logged on 1 March
    while the subject's enrolment is dated 1 January: log order alone would pass it."""
    v1 = protocols((1, 5, [outcome("P")], None, False))
    enrolled = enrolments(("S-1", "1", "2020-01-01", 6))
    times = logged((5, "2020-03-01"), (6, "2020-03-01"))
    result = checks.r1_registration(registered("2020-01-10"), v1, enrolled, logged=times)
    assert kinds(result, "severity", "protocol_index", "first_enrolment_index") == [
        ("enrolled-before-protocol-date", "high", 5, 6),
        ("registered-in-time", "ok", 5, 6),
    ]
    assert result["protocol_logged"].iloc[0] == "2020-03-01"
    assert "in log order v1 (entry 5) comes first" in result["what"].iloc[0]
    # Logged on the day of the first enrolment, it passes on both counts.
    times = logged((5, "2020-01-01"), (6, "2020-01-01"))
    result = checks.r1_registration(registered("2020-01-10"), v1, enrolled, logged=times)
    assert kinds(result, "severity")[0] == ("protocol-before-enrolment", "ok")
    # Without logging times the protocol's own `committed_at` is used.
    v1 = v1.assign(committed_at="2020-02-01T09:00:00.000Z")
    result = checks.r1_registration(registered("2020-01-10"), v1, enrolled)
    assert kinds(result, "severity")[0] == ("enrolled-before-protocol-date", "high")


def test_r1_consent_date_on_or_before_enrolment_with_the_log_order_counted() -> None:
    v1 = protocols((1, 1, [outcome("P")], None, False))
    enrolled = enrolments(
        ("A", "1", "2020-01-05", 2), ("B", "1", "2020-01-05", 3), ("C", "1", "2020-01-06", 4)
    )
    history = consent_records(
        (5, "A", "consent", 1, "2020-01-05"),  # the enrolment day, logged after the enrolment
        (6, "B", "consent", 1, "2020-01-04"),
        (7, "C", "consent", 1, "2020-01-06"),
    )
    given = checks.consent_given(history)
    result = checks.r1_registration(registered("2020-01-05"), v1, enrolled, given)
    row = result[result["finding"].str.startswith("consent")].iloc[0]
    assert (row["finding"], row["severity"], row["subjects"]) == (
        "consent-before-enrolment",
        "ok",
        3,
    )
    assert row["consents_logged_after_enrolment"] == 3
    assert "3 consents were logged after the subject's enrolment entry" in row["what"]
    # C consents a day after being enrolled; D has no consent at all.
    late = consent_records(
        (5, "A", "consent", 1, "2020-01-05"),
        (6, "B", "consent", 1, "2020-01-04"),
        (7, "C", "consent", 1, "2020-01-07"),
    )
    more = pd.concat([enrolled, enrolments(("D", "1", "2020-01-06", 8))])
    result = checks.r1_registration(registered("2020-01-05"), v1, more, checks.consent_given(late))
    row = result[result["finding"].str.startswith("consent")].iloc[0]
    assert (row["finding"], row["severity"]) == ("consent-after-enrolment", "high")
    assert (row["enrolled_before_consent_date"], row["without_consent"]) == (1, 1)


# --- R9 ------------------------------------------------------------------------------------


def entries(times: pd.DataFrame, *consents: tuple[int, str, str, str]) -> pd.DataFrame:
    """Subjects A–D enrolled on 1 March (entries 1–4, logged that day) and their consents
    (idx, subject, kind, dated)."""
    enrolled = enrolments(*((s, "1", "2020-03-01", i) for i, s in enumerate("ABCD", start=1)))
    history = consent_records(*((i, s, k, 1, d) for i, s, k, d in consents))
    return checks.dated_entries(enrolled, history, times)


def test_r9_finds_a_back_dated_consent() -> None:
    """C is enrolled on 1 March; its consent, dated 1 February, is logged on 15 April, after
    the enrolment entry: a late entry that covers the enrolment, possibly back-dated. D's
    withdrawal is logged late too, but covers nothing."""
    times = logged(
        *((i, "2020-03-01") for i in range(1, 5)),
        (5, "2020-03-01"),
        (6, "2020-03-02"),
        (7, "2020-04-15"),
        (8, "2020-03-01"),
        (9, "2020-05-20"),
    )
    found = entries(
        times,
        (5, "A", "consent", "2020-03-01"),
        (6, "B", "consent", "2020-02-28"),
        (7, "C", "consent", "2020-02-01"),
        (8, "D", "consent", "2020-03-01"),
        (9, "D", "withdrawal", "2020-04-01"),
    )
    result = checks.r9_contemporaneous(found)
    # Lags of the consents: 0, 3 (B, over a leap day), 74 and 0 days.
    assert kinds(result, "subject", "kind", "lag_days", "severity") == [
        ("possibly-back-dated", "C", "consent", 74, "high"),
        ("late-entry", "D", "withdrawal", 49, "medium"),
    ]
    assert "after the enrolment entry 3 it predates" in result["what"].iloc[0]
    # The tolerance is the check's parameter: at 60 days only the consent is late.
    assert kinds(checks.r9_contemporaneous(found, tolerance_days=60), "subject") == [
        ("possibly-back-dated", "C")
    ]
    lags = checks.lag_distribution(found, checks.CONTEMPORANEOUS_DAYS)
    consent = lags[lags["kind"] == "consent"].iloc[0]
    assert (consent["entries"], consent["median_days"], consent["max_days"]) == (4, 1.5, 74)
    assert (consent["late"], consent["tolerance_days"]) == (1, 30)


def test_r9_a_consent_logged_late_but_after_enrolment_date_is_only_late() -> None:
    times = logged(*((i, "2020-03-01") for i in range(1, 5)), (5, "2020-05-01"))
    result = checks.r9_contemporaneous(entries(times, (5, "A", "consent", "2020-03-10")))
    assert kinds(result, "subject", "severity") == [("late-entry", "A", "medium")]


def test_r9_a_date_after_its_logging_day_is_impossible() -> None:
    times = logged(*((i, "2020-03-01") for i in range(1, 6)))
    # A day ahead is the clock (local date against UTC); three days is not.
    ahead = entries(times, (5, "A", "consent", "2020-03-02"))
    assert kinds(checks.r9_contemporaneous(ahead), "severity") == [("contemporaneous", "ok")]
    future = entries(times, (5, "A", "consent", "2020-03-04"))
    assert kinds(checks.r9_contemporaneous(future), "subject", "lag_days") == [
        ("dated-after-logging", "A", -3)
    ]


def test_r9_says_once_that_a_trial_was_entered_retrospectively() -> None:
    """Every entry logged years after its date (a migration): one finding, not one per entry."""
    times = logged(*((i, "2026-01-01") for i in range(1, 9)))
    found = entries(times, *((i + 4, s, "consent", "2020-02-01") for i, s in enumerate("ABCD", 1)))
    result = checks.r9_contemporaneous(found)
    assert kinds(result, "late_entries", "entries", "severity") == [
        ("retrospective-entry", 8, 8, "medium")
    ]


# --- through the API: a back-dated consent in the trial-checks report ------------------------


@pytest.fixture
def study(client: FlaskClient, authority: Authority) -> Study:
    return Study.with_protocol(client, authority)


def day(offset: int = 0) -> str:
    return str(datetime.now(UTC).date() + timedelta(days=offset))


def test_the_report_finds_a_consent_back_dated_to_cover_an_enrolment(
    app: Flask, study: Study
) -> None:
    """S-2 is enrolled today with no consent; a consent dated 40 days ago is logged after it
    to cover the enrolment. Its claimed date is before the enrolment, so R6 and R1 see nothing
    wrong: only the logging time gives it away."""
    base: dict[str, Any] = {"trial": TRIAL, "site": "001", "signature": SIG}
    consent = dict(base, protocol_version=1)
    study.send(study.site, "consent.record", dict(consent, subject="S-1", consented=day()))
    for subject in ("S-1", "S-2", "S-3"):
        study.send(study.site, "subject.enrol", dict(base, subject=subject, enrolled=day()))
    study.send(study.site, "consent.record", dict(consent, subject="S-3", consented=day()))
    study.send(study.site, "consent.record", dict(consent, subject="S-2", consented=day(-40)))
    report = run_named_report(app, "trial-checks", Params(trial=TRIAL))
    r9 = report.table("r9").frame
    assert kinds(r9, "subject", "lag_days", "severity") == [
        ("possibly-back-dated", "S-2", 40, "high")
    ]
    assert report.metric("R9 possibly back-dated consents").value == "1"
    assert report.metric("R9 tolerance (days)").value == "30"
    assert report.metric("R6 result").value == "pass"
    assert report.metric("R1 result").value == "pass"
    lags = report.table("r9_lags").frame
    assert dict(zip(lags["kind"], lags["late"], strict=True)) == {"consent": 1, "enrolment": 0}
