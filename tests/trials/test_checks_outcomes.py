"""R2 with time frames read as time points and untyped outcomes not assessed; R3 reasons that
say what changed; R7 missing activation dates said once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.trials.test_checks import enrolments, frame, kinds, outcome, protocols, results
from trials import checks
from trials.timeframes import same_time_frame, time_points

# --- time frames ---------------------------------------------------------------------------

SAME = [
    ("Week 24", "24 weeks"),
    ("Week 24", "week 24"),
    ("24 weeks", "24 wk"),
    ("24-week", "Week 24"),
    ("Day 1 to Week 24", "Week 24"),
    ("From baseline to week 24", "24 weeks"),
    ("168 days", "Week 24"),
    ("12 months", "1 year"),
    ("one year", "12 Months"),
    ("Weeks 12 and 24", "week 12, week 24"),
    ("8 hours post-dose", "480 minutes"),
    ("End of study", "end of  study"),
]
DIFFERENT = [
    ("Week 24", "Week 12"),
    ("12 months", "24 months"),
    ("6 months", "26 weeks"),  # a month is not a whole number of days
    ("Day 28", "Week 24"),
    ("Weeks 12 and 24", "Week 24"),
    ("End of study", "Week 24"),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_the_same_time_frame_written_differently(a: str, b: str) -> None:
    assert same_time_frame(a, b) and same_time_frame(b, a)


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_time_frames(a: str, b: str) -> None:
    assert not same_time_frame(a, b)


def test_time_points_by_scale() -> None:
    assert time_points("Day 1 to Week 24") == {("days", 168)}
    assert time_points("two years") == {("months", 24)}
    assert time_points("end of treatment") == frozenset()


def reported(**item: Any) -> Any:
    return results((20, [{"id": "P", "summary": "x", **item}], "2021"))


def test_r2_does_not_flag_week_24_reported_as_24_weeks() -> None:
    pre = protocols((1, 2, [outcome("P", time_frame="Week 24")], None, False))
    same = checks.r2_compare(pre, enrolments(), reported(type="primary", time_frame="24 weeks"))
    assert kinds(same, "outcome", "severity") == [("correct", "P", "ok")]
    moved = checks.r2_compare(pre, enrolments(), reported(type="primary", time_frame="Week 12"))
    assert kinds(moved, "category", "severity") == [
        ("time-frame-changed", "time frame changed", "high")
    ]


@pytest.mark.parametrize(
    ("item", "missing"),
    [
        ({}, "type or time frame"),
        ({"time_frame": "Week 24"}, "type"),
        ({"type": "primary"}, "time frame"),
    ],
)
def test_r2_an_outcome_reported_without_type_or_time_frame_cannot_be_assessed(
    item: dict[str, str], missing: str
) -> None:
    pre = protocols((1, 2, [outcome("P", time_frame="Week 24")], None, False))
    result = checks.r2_compare(pre, enrolments(), reported(**item))
    assert kinds(result, "category", "severity") == [("cannot-assess", "cannot assess", "low")]
    assert result["what"].iloc[0] == f"P reported without its {missing}"
    assert "cannot assess" in checks.CATEGORIES


def test_r2_a_discrepancy_is_still_found_when_the_time_frame_is_missing() -> None:
    pre = protocols((1, 2, [outcome("P", "secondary")], None, False))
    result = checks.r2_compare(pre, enrolments(), reported(type="primary"))
    assert kinds(result, "category") == [("switched", "switched")]


# --- R3 ------------------------------------------------------------------------------------


def r3(reason: str) -> list[tuple[Any, ...]]:
    v1 = [outcome("P", time_frame="12 months", title="Overall survival")]
    v2 = [outcome("P", time_frame="24 months", title="Overall survival")]
    history = protocols((1, 1, v1, None, False), (2, 2, v2, reason, False))
    empty = frame([], "trial_id dataset version submitted_index reason")
    return kinds(checks.r3_outcome_changes(history, empty), "disclosure", "severity")


def test_r3_endpoints_unchanged_is_not_a_disclosure() -> None:
    assert r3("Endpoints unchanged") == [("hidden-outcome-change", "hidden", "high")]
    assert r3("No change to outcomes; visit schedule revised") == [
        ("hidden-outcome-change", "hidden", "high")
    ]
    assert r3("Overall survival now assessed at 24 months") == [
        ("disclosed-outcome-change", "disclosed", "ok")
    ]
    assert r3("Endpoints revised after the end-of-phase-2 meeting") == [
        ("vaguely-disclosed-outcome-change", "vague", "medium")
    ]


# --- R7 ------------------------------------------------------------------------------------


def test_r7_a_trial_without_activation_dates_is_not_assessed_once() -> None:
    """255 enrolments at sites that record no activation date: one row, not 255."""
    sites = frame(
        [dict(trial_id="T", site=str(n), activated=None) for n in range(1, 6)],
        "trial_id site activated",
    )
    enrolled = enrolments(*((f"S-{n}", str(n % 5 + 1), "2020-01-10", n) for n in range(255)))
    result = checks.r7_site_activation(enrolled, sites)
    assert kinds(result, "subjects", "severity") == [("activation-not-assessed", 255, "low")]
    assert result["what"].iloc[0].startswith("not assessed: no site activation dates")


# --- R4 ------------------------------------------------------------------------------------


def test_r4_judges_erasure_reasons_by_the_same_rule() -> None:
    """A log written under rules 1 could hold an erasure whose reason is "x"."""
    events = frame(
        [dict(trial_id="T", idx=5, action="lock", reason="Last patient last visit")],
        "trial_id idx action reason",
    )
    erasures = frame(
        [
            dict(trial_id="T", payload="ab" * 32, erased_index=3, reason="x"),
            dict(trial_id="T", payload="cd" * 32, erased_index=4, reason="GDPR art. 17 request"),
            dict(
                trial_id="T",
                payload="ef" * 32,
                erased_index=6,
                reason="Erased at the ethics board's request",
            ),
        ],
        "trial_id payload erased_index reason",
    )
    no_protocols = protocols()
    no_data = frame([], "trial_id dataset version submitted_index reason")
    result = checks.r4_amendments(no_protocols, no_data, events, erasures)
    assert kinds(result, "index", "severity") == [
        ("boilerplate-reason", 3, "medium"),
        ("amendment", 4, "ok"),
        ("after-lock", 6, "high"),
    ]
    assert result["what"].iloc[0].endswith("(it is boilerplate or a placeholder)")
