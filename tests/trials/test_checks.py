"""Trial checks R1–R9: each rule on small hand-made frames, on clindata, and on the demo trial."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from matplotlib.figure import Figure
from sqlalchemy import text

from provenance.log.store.engine import read_connection, write_transaction
from provenance.reports.model import Params, Report
from provenance.web.context import service
from tests.conftest import run_named_report, seeded_demo_app
from tests.parties import Authority, register_party, register_person, send, signed
from trials import checks
from trials.demo import clindata
from trials.demo.story import TRIAL_ID

# --- hand-made frames ------------------------------------------------------------------------


def frame(rows: list[Any], columns: str) -> pd.DataFrame:
    """A frame from dicts or tuples; `columns` is space-separated."""
    return pd.DataFrame.from_records(rows, columns=columns.split())


def outcome(oid: str, kind: str = "primary", time_frame: str = "12 months", title: str = "") -> Any:
    return {"id": oid, "title": title or f"Outcome {oid}", "type": kind, "time_frame": time_frame}


def protocols(*versions: tuple[int, int, list[dict[str, str]], str | None, bool]) -> pd.DataFrame:
    """(version, committed_index, outcomes, reason, reconsent) rows of trial T."""
    return frame(
        [
            dict(
                trial_id="T",
                version=v,
                committed_index=i,
                outcomes=json.dumps(o),
                reason=r,
                reconsent=int(c),
            )
            for v, i, o, r, c in versions
        ],
        "trial_id version committed_index outcomes reason reconsent",
    )


def enrolments(*rows: tuple[str, str, str, int]) -> pd.DataFrame:
    """(subject, site, enrolled, enrolled_index) rows of trial T."""
    return frame(
        [
            dict(trial_id="T", subject=s, site=site, enrolled=d, enrolled_index=i)
            for s, site, d, i in rows
        ],
        "trial_id subject site enrolled enrolled_index",
    )


def results(*reports: tuple[int, list[dict[str, str]], str]) -> pd.DataFrame:
    return frame(
        [dict(idx=i, trial_id="T", outcomes=json.dumps(o), reported_at=at) for i, o, at in reports],
        "idx trial_id outcomes reported_at",
    )


def trials(registered_at: str, primary_completion: str = "2020-06-30") -> pd.DataFrame:
    return frame(
        [
            dict(
                trial_id="T",
                registered_index=1,
                registered_at=registered_at,
                primary_completion=primary_completion,
            )
        ],
        "trial_id registered_index registered_at primary_completion",
    )


DATASETS = "trial_id dataset version submitted_index reason"
EVENTS = "trial_id idx action reason"


def kinds(result: pd.DataFrame, *columns: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in result[["finding", *columns]].itertuples(index=False)]


def test_every_findings_frame_has_the_stable_columns_even_when_empty() -> None:
    no_trials, no_protocols, no_enrolment = trials("2020-01-01").iloc[:0], protocols(), enrolments()
    no_data, no_events = frame([], DATASETS), frame([], EVENTS)
    no_consent = frame([], "trial_id subject consented")
    no_sites = frame([], "trial_id site activated")
    no_refs = frame([], "table key trial_id idx log_kind signer key_id")
    no_payloads = frame([], "commitment sha256 size stored")
    no_uses = frame([], "trial_id table key payload")
    for result, columns in (
        (checks.r1_registration(no_trials, no_protocols, no_enrolment), checks.R1_COLUMNS),
        (
            checks.r9_contemporaneous(
                checks.dated_entries(no_enrolment, consent_records(), frame([], "idx logged_at"))
            ),
            checks.R9_COLUMNS,
        ),
        (checks.r2_compare(no_protocols, no_enrolment, results()), checks.R2_COLUMNS),
        (checks.r3_outcome_changes(no_protocols, no_data), checks.R3_COLUMNS),
        (checks.r4_amendments(no_protocols, no_data, no_events), checks.R4_COLUMNS),
        (checks.r5_results_due(no_trials, results(), date(2024, 1, 1)), checks.R5_COLUMNS),
        (
            checks.r6_consent(no_enrolment, no_consent, consent_records(), no_protocols),
            checks.R6_COLUMNS,
        ),
        (checks.r7_site_activation(no_enrolment, no_sites), checks.R7_COLUMNS),
        (
            checks.r8_chain(no_refs, no_payloads, frame([], "payload trial_id"), no_uses),
            checks.R8_COLUMNS,
        ),
    ):
        assert list(result.columns) == columns and result.empty
        assert columns[:5] == ["rule", "severity", "trial_id", "finding", "what"]


def test_r1_protocol_first_and_registration_within_21_days() -> None:
    v1 = protocols((1, 5, [outcome("P")], None, False))
    on_time = checks.r1_registration(
        trials("2020-01-22T09:00:00.000Z"), v1, enrolments(("S-1", "1", "2020-01-01", 6))
    )
    assert kinds(on_time, "severity") == [
        ("protocol-before-enrolment", "ok"),
        ("registered-in-time", "ok"),
    ]
    late = checks.r1_registration(
        trials("2020-01-23T09:00:00.000Z"), v1, enrolments(("S-1", "1", "2020-01-01", 4))
    )
    assert kinds(late, "severity", "days_after_first_enrolment") == [
        ("enrolment-before-protocol", "high", 22),
        ("late-registration", "high", 22),
    ]


def test_r2_compare_categories_against_the_version_in_force_at_first_enrolment() -> None:
    v1 = [outcome("P"), outcome("S", "secondary"), outcome("X", "secondary")]
    v2 = [outcome("P", time_frame="6 months"), outcome("S", "secondary")]
    # v2 was committed before the first enrolment (entry 10), so it is the pre-specification.
    history = protocols((1, 2, v1, None, False), (2, 3, v2, "Outcome X dropped", False))
    reported = results(
        (20, [{"id": "P", "summary": "x", "type": "primary", "time_frame": "12 months"}], "2021"),
        (21, [{"id": "S", "summary": "y", "type": "primary"}, {"id": "N", "summary": "z"}], "2021"),
    )
    result = checks.r2_compare(history, enrolments(("S-1", "1", "2020-01-01", 10)), reported)
    assert kinds(result, "outcome", "prespecified_version", "severity") == [
        ("time-frame-changed", "P", 2, "high"),
        ("switched", "S", 2, "high"),
        ("added", "N", 2, "medium"),
    ]
    assert result["category"].tolist() == ["time frame changed", "switched", "added"]
    assert result["reported_time_frame"].iloc[0] == "12 months"
    # Reported as pre-specified, ignoring case and spacing; without a type it cannot be judged.
    item = {"id": "P", "summary": "x", "time_frame": "6  Months"}
    prespecified = protocols((1, 2, [outcome("P", time_frame="6 months")], None, False))
    exact = checks.r2_compare(prespecified, enrolments(), results((20, [item], "2021")))
    assert kinds(exact, "outcome", "severity") == [("cannot-assess", "P", "low")]
    typed = results((20, [dict(item, type="primary")], "2021"))
    exact = checks.r2_compare(prespecified, enrolments(), typed)
    assert kinds(exact, "outcome", "severity") == [("correct", "P", "ok")]


def test_r2_names_the_amendment_that_made_the_reported_form() -> None:
    v1 = [outcome("P"), outcome("S", "secondary")]
    v2 = [outcome("P"), outcome("S")]
    history = protocols((1, 2, v1, None, False), (2, 30, v2, "S promoted to primary", False))
    reported = results(
        (40, [{"id": "P", "summary": "x"}, {"id": "S", "summary": "y", "type": "primary"}], "2021")
    )
    result = checks.r2_compare(history, enrolments(("S-1", "1", "2020-01-01", 10)), reported)
    # P is reported with neither type nor time frame: nothing to confirm it by.
    assert kinds(result, "outcome", "amended_in") == [
        ("cannot-assess", "P", None),
        ("switched", "S", 2),
    ]


def test_r3_hidden_and_disclosed_changes_and_changes_after_data() -> None:
    title = "Rate of hepatic adverse events"
    v1 = [outcome("P"), outcome("S", "secondary", title=title)]
    steps = (
        (
            2,
            20,
            [outcome("P", time_frame="24 months"), v1[1]],
            "Extended follow-up to two years for P",
        ),
        (
            3,
            30,
            [outcome("P", time_frame="24 months"), outcome("S", title=title)],
            "Hepatic adverse events rate is now primary",
        ),
        (
            4,
            40,
            [outcome("P", time_frame="36 months"), outcome("S", title=title)],
            "Sponsor decision after review",
        ),
        (
            5,
            50,
            [outcome("P", time_frame="48 months"), outcome("S", title=title)],
            "Primary endpoint follow-up extended",
        ),
    )
    history = protocols((1, 10, v1, None, False), *((*s, False) for s in steps))
    datasets = frame(
        [dict(trial_id="T", dataset="AE", version=1, submitted_index=35, reason=None)], DATASETS
    )
    result = checks.r3_outcome_changes(history, datasets)
    assert kinds(result, "version", "outcome", "disclosure", "after_data", "severity") == [
        ("disclosed-outcome-change", 2, "P", "disclosed", False, "ok"),  # names the id
        ("disclosed-outcome-change", 3, "S", "disclosed", False, "ok"),  # names the title
        ("hidden-outcome-change", 4, "P", "hidden", True, "high"),
        ("change-after-data", 5, "P", "disclosed", True, "medium"),  # "endpoint"
    ]
    assert result["from_value"].tolist()[:2] == ["12 months", "secondary"]
    assert checks.discloses("The PFS endpoints X1 and X2 were merged", "X1", [])
    assert not checks.discloses("The PFS endpoints were merged", "X1", [])  # which ones?
    assert not checks.discloses("Endpoints unchanged; visits moved", "P", ["Overall survival"])
    assert not checks.discloses("Typo fixed in the schedule of visits", "O12", ["Overall survival"])
    assert not checks.discloses(None, "P", ["P"])


def test_r4_boilerplate_reasons_and_amendments_after_lock() -> None:
    history = protocols(
        (1, 1, [outcome("P")], None, False),
        (2, 3, [outcome("P")], "Updated.", False),
        (3, 9, [outcome("P")], "Visit window widened to 7 days after site feedback", False),
    )
    datasets = frame(
        [
            ("T", "AE", 1, 2, None),
            ("T", "AE", 2, 4, "AE term coded to MedDRA 26.1"),
            ("T", "AE", 3, 8, "Two AE grades corrected after SDV"),
        ],
        DATASETS,
    )
    events = frame(
        [
            dict(trial_id="T", idx=6, action="lock", reason="Last patient last visit"),
            dict(trial_id="T", idx=7, action="unlock", reason="Late query answers from site 3"),
        ],
        EVENTS,
    )
    result = checks.r4_amendments(history, datasets, events)
    assert kinds(result, "item", "severity") == [
        ("boilerplate-reason", "protocol v2", "medium"),
        ("amendment", "dataset AE v2", "ok"),
        ("after-lock", "dataset AE v3", "high"),
        ("after-lock", "protocol v3", "high"),
    ]
    assert result["unlock_reason"].tolist()[2:] == ["Late query answers from site 3"] * 2


def test_r5_late_on_time_overdue_and_not_yet_due() -> None:
    def due(reported: list[str], as_of: date, completion: str = "2020-06-30") -> Any:
        made = results(*((i, [], at) for i, at in enumerate(reported)))
        row = checks.r5_results_due(trials("2019-01-01", completion), made, as_of).iloc[0]
        return row["finding"], row["severity"], row["days_after_due"]

    assert due(["2021-06-30T10:00:00.000Z"], date(2030, 1, 1)) == ("on-time", "ok", 0)
    assert due(["2021-07-01T10:00:00.000Z", "2021-05-01"], date(2030, 1, 1)) == (
        "on-time",
        "ok",
        -60,
    )
    assert due(["2021-07-01T10:00:00.000Z"], date(2030, 1, 1)) == ("late-results", "high", 1)
    assert due([], date(2021, 6, 30)) == ("not-yet-due", "ok", 0)
    assert due([], date(2021, 7, 2)) == ("overdue", "high", 2)
    assert checks.one_year_after(date(2024, 2, 29)) == date(2025, 2, 28)


def consent_records(*rows: tuple[int, str, str, int | None, str]) -> pd.DataFrame:
    """(idx, subject, kind, protocol_version, dated) consent records of trial T at site 1."""
    return frame(
        [
            dict(
                idx=i, seq=0, trial_id="T", subject=s, kind=k, site="1", protocol_version=v, dated=d
            )
            for i, s, k, v, d in rows
        ],
        "idx seq trial_id subject kind site protocol_version dated",
    )


def test_r6_consent_to_an_old_version_after_a_reconsent_version() -> None:
    history = protocols(
        (1, 1, [outcome("P")], None, False),
        (2, 10, [outcome("P")], "New hepatotoxicity signal: re-consent", True),
    )
    records = consent_records(
        (2, "A", "consent", 1, "2020-01-01"),
        (3, "B", "consent", 1, "2020-01-02"),
        (4, "C", "consent", 1, "2020-01-02"),
        (5, "D", "consent", 2, "2020-01-03"),  # v2 was not yet committed at entry 5
        (11, "B", "consent", 2, "2020-03-01"),
        (12, "C", "withdrawal", None, "2020-03-02"),
    )
    enrolled = enrolments(
        ("A", "1", "2020-01-01", 6), ("B", "1", "2020-01-01", 7), ("E", "1", "2020-01-05", 8)
    )
    result = checks.r6_consent(enrolled, checks.consent_given(records), records, history)
    assert kinds(result, "subject", "protocol_version", "in_force") == [
        ("enrolled-before-consent", "B", None, None),
        ("no-consent", "E", None, None),
        ("consent-to-wrong-version", "D", 2, 1),
        ("not-reconsented", "A", 1, 2),
    ]
    # B was enrolled on 1 January, a day before the earliest of its consents.
    assert result["consented"].iloc[0] == "2020-01-02"


def test_r7_enrolment_before_activation_or_at_an_unknown_site() -> None:
    sites = frame(
        [
            dict(trial_id="T", site="1", activated="2020-01-10"),
            dict(trial_id="T", site="2", activated=None),
        ],
        "trial_id site activated",
    )
    enrolled = enrolments(
        ("A", "1", "2020-01-09", 1),
        ("B", "1", "2020-01-10", 2),
        ("C", "2", "2020-01-10", 3),
        ("D", "9", "2020-01-10", 4),
    )
    result = checks.r7_site_activation(enrolled, sites)
    # Site 2's missing date is said once for the site, with how many enrolments it leaves.
    assert kinds(result, "subject", "site", "subjects", "severity") == [
        ("enrolled-before-activation", "A", "1", 1, "high"),
        ("unknown-site", "D", "9", 1, "high"),
        ("activation-not-recorded", None, "2", 1, "low"),
    ]


def test_r8_entries_signers_payloads_and_erasures() -> None:
    refs = frame(
        [
            ("trial", "T", "T", 1, "trial.register", "k", None),
            ("enrolment", "T/A", "T", 2, "attestation", "k", None),
            ("results_report", "3", "T", 3, None, None, None),
            ("trial_event", "4/0", "T", 4, "trial.lock", "k", "j"),
        ],
        "table key trial_id idx log_kind signer key_id",
    )
    good = checks.payload_digests(bytes(32), b"protocol")
    digests = (good["actual_commitment"], good["actual_sha256"], 8)
    payloads = frame(
        [
            (good["actual_commitment"], good["actual_sha256"], 8, True, *digests),
            ("aa", good["actual_sha256"], 8, True, *digests),  # not its bytes, and erased
            ("bb", None, 8, False, None, None, None),
            ("cc", None, 8, False, None, None, None),
        ],
        "commitment sha256 size stored actual_commitment actual_sha256 actual_size",
    )
    erasures = frame(
        [dict(payload="aa", trial_id="T"), dict(payload="cc", trial_id="T")], "payload trial_id"
    )
    uses = frame(
        [
            ("T", "protocol_version", "v1", good["actual_commitment"]),
            ("T", "dataset_version", "AE v1", "dd"),
        ],
        "trial_id table key payload",
    )
    result = checks.r8_chain(refs, payloads, erasures, uses)
    assert kinds(result, "key", "payload") == [
        ("wrong-kind", "T/A", None),
        ("missing-entry", "3", None),
        ("wrong-signer", "4/0", None),
        ("erasure-not-applied", "aa", "aa"),
        ("commitment-mismatch", "aa", "aa"),
        ("emptied-without-erasure", "bb", "bb"),
        ("payload-missing", "AE v1", "dd"),
    ]


# --- the raw clindata tables --------------------------------------------------------------


def facts() -> dict[str, int]:
    text = (clindata.DEFAULT_DIR / "facts.txt").read_text()
    numbers = {
        "no-consent": r"no consent record: (\d+)",
        "enrolled-before-consent": r"enrolled before consent date: (\d+)",
        "enrolled-before-activation": r"enrolled before site activation date: (\d+)",
    }
    found = {kind: re.search(rx, text) for kind, rx in numbers.items()}
    return {kind: int(match.group(1)) for kind, match in found.items() if match}


def test_clindata_consent_and_activation_findings_equal_the_published_facts() -> None:
    enrolment = clindata.load_enrolment()
    consent = checks.r6_consent(enrolment, clindata.load_consent())
    activation = checks.r7_site_activation(enrolment, clindata.load_sites())
    found = pd.concat([consent, activation])["finding"].value_counts().to_dict()
    assert facts() == {
        "no-consent": 4,
        "enrolled-before-consent": 16,
        "enrolled-before-activation": 0,
    }
    assert {kind: found.get(kind, 0) for kind in facts()} == facts()
    assert len(activation) == 0  # no activation is missing and no site is unknown either


# --- the demo trial on the log -------------------------------------------------------------


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with seeded_demo_app(tmp_path_factory.mktemp("checks"), 0, ("trials",)) as app:
        yield app


def run(app: Flask, **params: Any) -> Report:
    return run_named_report(app, "trial-checks", Params(**params))


@pytest.fixture(scope="module")
def report(seeded: Flask) -> Report:
    return run(seeded, as_of=date(2026, 1, 1))


def test_demo_report_has_a_section_per_rule(report: Report) -> None:
    assert [s.title[:2] for s in report.sections] == [f"R{n}" for n in range(1, 10)]
    results = {f"R{n}": report.metric(f"R{n} result").value for n in range(1, 10)}
    assert results == {
        "R1": "3 findings",
        "R2": "4 findings",
        "R3": "pass",
        "R4": "pass",
        "R5": "1 finding",
        "R6": "20 findings",
        "R7": "pass",
        "R8": "pass",
        "R9": "1 finding",  # entered retrospectively, said once
    }
    assert report.log_size > 2600
    for chart in report.charts():
        figure = Figure()
        chart.draw(figure)
        assert figure.axes and chart.alt
    assert [c.name for c in report.charts()] == ["r2_compare_categories", "r6_consent_lag"]


def test_demo_registered_long_after_the_first_enrolment(report: Report) -> None:
    r1 = report.table("r1").frame
    # In log order protocol v1 comes first, but it was logged in 2026, 23 years after the
    # first enrolment's date; consent follows enrolment for the 20 subjects R6 names.
    assert kinds(r1, "severity", "first_enrolled") == [
        ("enrolled-before-protocol-date", "high", "2003-09-05"),
        ("late-registration", "high", "2003-09-05"),
        ("consent-after-enrolment", "high", "2003-09-05"),
    ]
    assert r1["protocol_logged"].iloc[0] > "2026"
    assert r1["days_after_first_enrolment"].iloc[1] > 21
    consent = r1.iloc[2]
    assert (consent["enrolled_before_consent_date"], consent["without_consent"]) == (16, 4)


def test_demo_compare_categories(report: Report) -> None:
    r2 = report.table("r2").frame
    assert kinds(r2, "outcome", "category", "amended_in") == [
        ("correct", "O1", "correct", None),
        ("switched", "O2", "switched", 2),  # secondary in v1; v2 made it primary (R3: disclosed)
        ("time-frame-changed", "O2", "time frame changed", None),  # 12 → 24 months, nowhere
        ("not-reported", "O3", "not reported", None),
        ("added", "O4", "added", None),
    ]
    assert set(r2["prespecified_version"]) == {1}
    assert {c: report.metric(f"R2 {c}").value for c in checks.CATEGORIES} == dict(
        dict.fromkeys(checks.CATEGORIES, "1"), **{"cannot assess": "0"}
    )


def test_demo_outcome_change_was_disclosed_and_amendments_explained(report: Report) -> None:
    r3 = report.table("r3").frame
    assert kinds(
        r3, "version", "outcome", "from_value", "to_value", "disclosure", "after_data"
    ) == [("disclosed-outcome-change", 2, "O2", "secondary", "primary", "disclosed", False)]
    r4 = report.table("r4").frame
    assert kinds(r4, "item", "locked_before") == [
        ("amendment", "protocol v2", False),
        ("amendment", "dataset AE v2", False),
    ]


def test_demo_was_entered_retrospectively_which_r9_says_once(report: Report) -> None:
    """The demo logs in 2026 a study run from 2003: every enrolment and consent is late, so
    R9 says so once instead of listing 2,598 late entries."""
    r9 = report.table("r9").frame
    assert kinds(r9, "late_entries", "entries", "severity") == [
        ("retrospective-entry", 2598, 2598, "medium")
    ]
    lags = report.table("r9_lags").frame
    assert dict(zip(lags["kind"], lags["entries"], strict=True)) == {
        "consent": 1297,
        "enrolment": 1301,
    }
    assert (lags["late"] == lags["entries"]).all()
    assert report.metric("R9 trials entered retrospectively").value == "1"


def test_demo_results_are_late(report: Report) -> None:
    r5 = report.table("r5").frame
    assert kinds(r5, "primary_completion", "due") == [("late-results", "2016-12-31", "2017-12-31")]


def test_demo_consent_and_activation_match_clindata_facts(report: Report) -> None:
    r6 = report.table("r6").frame
    assert r6["finding"].value_counts().to_dict() == {
        "enrolled-before-consent": 16,
        "no-consent": 4,
    }
    assert report.metric("R6 enrolled without consent").value == "4"
    assert report.metric("R6 enrolled before consent").value == "16"
    assert (r6["consented"].isna() == (r6["finding"] == "no-consent")).all()
    assert report.table("r7").frame.empty
    assert report.metric("R7 enrolled before site activation").value == "0"


def test_trial_filter(seeded: Flask, report: Report) -> None:
    one = run(seeded, as_of=date(2026, 1, 1), trial=TRIAL_ID)
    for table in report.tables():
        assert one.table(table.name).frame.equals(table.frame), table.name
    assert one.metric("R8 payloads checked").value == "6"
    other = run(seeded, trial="NCT00000000")
    assert all(t.frame.empty for t in other.tables())
    assert {s.metrics[0].value for s in other.sections} == {"pass"}


def test_tampered_payload_is_named(seeded: Flask) -> None:
    with seeded.app_context(), read_connection(service().engine) as conn:
        ((payload, data),) = conn.execute(
            text(
                "SELECT p.commitment, p.data FROM trial_payload p JOIN dataset_version d "
                "ON d.payload = p.commitment WHERE d.dataset = 'DM'"
            )
        ).all()
    middle = len(data) // 2
    tampered = bytes(data[:middle]) + bytes([data[middle] ^ 1]) + bytes(data[middle + 1 :])
    update = text("UPDATE trial_payload SET data = :data WHERE commitment = :payload")
    with seeded.app_context(), write_transaction(service().engine) as conn:
        conn.execute(update, {"data": tampered, "payload": payload})
    try:
        r8 = run(seeded).table("r8").frame
    finally:
        with seeded.app_context(), write_transaction(service().engine) as conn:
            conn.execute(update, {"data": bytes(data), "payload": payload})
    assert kinds(r8, "payload", "trial_id", "severity") == [
        ("commitment-mismatch", payload, TRIAL_ID, "high"),
        ("sha256-mismatch", payload, TRIAL_ID, "high"),
    ]
    assert payload in r8["what"].iloc[0]
    assert run(seeded).metric("R8 result").value == "pass"


def test_rows_pointing_at_missing_or_wrong_entries_are_named(seeded: Flask) -> None:
    """R8 reads each row's entry from the log: an index past the log, an entry of another kind
    and an audit-trail key that did not sign it are each a finding."""
    with seeded.app_context(), read_connection(service().engine) as conn:
        size = conn.execute(text("SELECT count(*) FROM log_entry")).scalar_one()
        ((subject, enrolled_index),) = conn.execute(
            text("SELECT subject, enrolled_index FROM enrolment ORDER BY subject LIMIT 1")
        ).all()
        ((registered_index,),) = conn.execute(text("SELECT registered_index FROM trial")).all()
        ((idx, seq, key_id),) = conn.execute(
            text("SELECT idx, seq, key_id FROM trial_event ORDER BY idx, seq LIMIT 1")
        ).all()
    changes = [
        ("UPDATE enrolment SET enrolled_index = :to WHERE subject = :subject", size + 7),
        ("UPDATE trial SET registered_index = :to", 0),
        ("UPDATE trial_event SET key_id = :to WHERE idx = :idx AND seq = :seq", "not-a-key"),
    ]
    undo = [enrolled_index, registered_index, key_id]
    keys = {"subject": subject, "idx": idx, "seq": seq}
    with seeded.app_context(), write_transaction(service().engine) as conn:
        for sql, value in changes:
            conn.execute(text(sql), {**keys, "to": value})
    try:
        r8 = run(seeded).table("r8").frame
    finally:
        with seeded.app_context(), write_transaction(service().engine) as conn:
            for (sql, _), value in zip(changes, undo, strict=True):
                conn.execute(text(sql), {**keys, "to": value})
    assert kinds(r8, "table", "key", "idx") == [
        ("wrong-kind", "trial", TRIAL_ID, 0),
        ("missing-entry", "enrolment", f"{TRIAL_ID}/{subject}", size + 7),
        ("wrong-signer", "trial_event", f"{idx}/{seq}", idx),
    ]
    assert list(r8["log_kind"].fillna("none")) == ["log.genesis", "none", "trial.register"]
    assert set(r8["trial_id"]) == {TRIAL_ID}
    assert run(seeded).metric("R8 result").value == "pass"


# --- results with type and time frame, and a lock, through the API ----------------------


SIG = {"meaning": "approval"}
QOL = "Quality of life (EQ-5D)"


def test_results_carry_type_and_time_frame_and_amendments_after_lock_are_found(
    app: Flask, client: FlaskClient, authority: Authority
) -> None:
    sponsor = register_person(
        client,
        register_party(client, authority, "Sponsor", "5412345000051", ["sponsor"]),
        "P-1",
        "Dr. A. Sponsor",
        "medical director",
    )
    trial = "NCT01234567"
    # Registered (at the log's clock) on the day of the first enrolment, five days before the
    # site was activated.
    today = datetime.now(UTC).date()
    registration = {
        "trial": trial,
        "title": "A trial",
        "phase": "3",
        "planned_enrolment": 10,
        "primary_completion": "2030-06-30",
        "signature": SIG,
        "sites": [{"site": "001", "name": "Site one", "activated": str(today + timedelta(days=5))}],
    }
    send(client, sponsor, "trial.register", registration)
    url, document = "/api/v1/trials/payloads", b"protocol text"
    upload = client.post(
        url,
        data=document,
        headers={
            **signed(sponsor, "POST", url, document),
            "X-Salt": "11" * 32,
            "Content-Type": "text/plain",
        },
    ).get_json()
    protocol = {
        "trial": trial,
        "version": 1,
        "payload": upload["commitment"],
        "document": upload["sha256"],
        "outcomes": [outcome("P1", time_frame="24 months"), outcome("S1", "secondary", title=QOL)],
        "reconsent": False,
        "signature": SIG,
    }
    send(client, sponsor, "protocol.commit", protocol)
    enrol = {
        "trial": trial,
        "subject": "S-1",
        "site": "001",
        "enrolled": str(today),
        "signature": SIG,
    }
    consent = dict(enrol, consented=enrol["enrolled"], protocol_version=1)
    del consent["enrolled"]
    send(client, sponsor, "consent.record", consent)
    send(client, sponsor, "subject.enrol", enrol)
    lock = {"trial": trial, "reason": "Database lock after the last visit", "signature": SIG}
    send(client, sponsor, "trial.lock", lock)
    why = "Quality of life promoted to primary on regulator advice (ref 2026/17)"
    amended = dict(
        protocol,
        version=2,
        reason=why,
        outcomes=[outcome("P1", time_frame="24 months"), outcome("S1", title=QOL)],
    )
    # A locked trial takes no amendment: the sponsor unlocks it, saying why, first.
    send(client, sponsor, "protocol.commit", amended, status=409)
    unlock = dict(lock, reason="Reopened for the protocol amendment the regulator asked for")
    send(client, sponsor, "trial.unlock", unlock)
    send(client, sponsor, "protocol.commit", amended)
    report = {"trial": trial, "signature": SIG}
    for bad in ({"type": "tertiary"}, {"time_frame": ""}, {"notes": "x"}):
        item = {"id": "P1", "summary": "HR 0.8", **bad}
        send(client, sponsor, "results.report", dict(report, outcomes=[item]), status=422)
    send(
        client,
        sponsor,
        "results.report",
        dict(
            report,
            outcomes=[
                {"id": "P1", "summary": "HR 0.8", "type": "primary", "time_frame": "24 months"},
                {"id": "S1", "summary": "QoL +4", "type": "primary"},
                {"id": "X1", "summary": "plain {id, summary} stays valid"},
            ],
        ),
    )
    made = run(app, trial=trial)
    assert kinds(made.table("r2").frame, "outcome", "amended_in") == [
        ("correct", "P1", None),
        ("switched", "S1", 2),
        ("added", "X1", None),
    ]
    assert kinds(made.table("r3").frame, "disclosure") == [
        ("disclosed-outcome-change", "disclosed")
    ]
    assert kinds(made.table("r4").frame, "item") == [("after-lock", "protocol v2")]
    assert made.metric("R7 result").value == "1 finding"  # enrolled before site activation
    assert made.metric("R1 result").value == "pass"
    assert made.metric("R9 result").value == "pass"  # everything logged on its day
    assert made.metric("R8 result").value == "pass"
    with app.app_context(), read_connection(service().engine) as conn:
        ((stored,),) = conn.execute(text("SELECT outcomes FROM results_report")).all()
    assert json.loads(stored)[1] == {"id": "S1", "summary": "QoL +4", "type": "primary"}
