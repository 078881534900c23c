"""R6 consent and R7 site activation, per enrolled subject."""

from __future__ import annotations

from typing import Any

import pandas as pd

from trials.checks.frames import (
    R6_COLUMNS,
    R7_COLUMNS,
    _day,
    _frame,
    _missing,
    _row,
    _versions,
    _with_trial,
    in_force,
    records,
)
from trials.consent import consent_findings


def consent_given(history: pd.DataFrame) -> pd.DataFrame:
    """Consent records (not withdrawals) as (trial_id, subject, consented, idx) for R1 and R6."""
    given = history[history["kind"] == "consent"]
    return pd.DataFrame(
        {
            "trial_id": given["trial_id"],
            "subject": given["subject"],
            "consented": given["dated"],
            "idx": given["idx"],
        }
    )


def _consent_row(
    tid: object,
    severity: str,
    finding: str,
    what: str,
    record: dict[str, Any],
    bound: int | None,
    expected: int | None,
) -> dict[str, Any]:
    return _row(
        "R6",
        severity,
        tid,
        finding,
        what,
        subject=record["subject"],
        site=record["site"],
        consented=record["dated"],
        protocol_version=bound,
        in_force=expected,
    )


def r6_consent(
    enrolment: pd.DataFrame,
    consent: pd.DataFrame,
    history: pd.DataFrame | None = None,
    protocols: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """R6 (ICH E6(R3) informed consent): enrolled with no consent or before it (via
    `trials.consent.consent_findings`); with consent records and protocols also each consent
    bound to the version in force when it was logged, and re-consent after a version that
    requires it."""
    enrolment, consent = _with_trial(enrolment), _with_trial(consent)
    rows: list[dict[str, Any]] = []
    for tid in sorted(set(enrolment["trial_id"])):
        mine = consent[consent["trial_id"] == tid]
        for f in consent_findings(enrolment[enrolment["trial_id"] == tid], mine):
            what = (
                f"subject {f.subject} enrolled {f.enrolled} with no consent record"
                if f.consented is None
                else f"subject {f.subject} enrolled {f.enrolled}, consented {f.consented}"
            )
            values = dict(subject=f.subject, site=f.site, enrolled=f.enrolled)
            rows.append(_row("R6", "high", tid, f.kind, what, consented=f.consented, **values))
    if history is None or protocols is None:
        return _frame(rows, R6_COLUMNS)
    for tid in sorted(set(history["trial_id"])):
        versions = _versions(protocols, tid)
        mine = history[history["trial_id"] == tid].sort_values(["idx", "seq"])
        for r in records(mine[mine["kind"] == "consent"]):
            bound = None if _missing(r["protocol_version"]) else int(r["protocol_version"])
            current = in_force(versions, int(r["idx"]))
            expected = int(current["version"]) if current else None
            if bound != expected:
                what = f"subject {r['subject']} consented to v{bound}; v{expected} was in force"
                rows.append(
                    _consent_row(tid, "high", "consent-to-wrong-version", what, r, bound, expected)
                )
        needed = max((int(v["version"]) for v in versions if v["reconsent"]), default=0)
        latest = mine.drop_duplicates("subject", keep="last")
        for r in records(latest[latest["kind"] == "consent"]):
            if needed and int(r["protocol_version"]) < needed:
                what = f"subject {r['subject']} has not re-consented to v{needed}"
                bound = int(r["protocol_version"])
                rows.append(_consent_row(tid, "medium", "not-reconsented", what, r, bound, needed))
    return _frame(rows, R6_COLUMNS)


def r7_site_activation(enrolment: pd.DataFrame, sites: pd.DataFrame) -> pd.DataFrame:
    """R7 (ICH E6(R3)): nobody is enrolled at a site before it is activated, or at a site the
    trial never registered. Where activation dates are missing the check cannot be made: said
    once for a trial that records none ("not assessed"), once per site otherwise (with how many
    subjects it enrolled), never once per subject."""
    enrolment, sites = _with_trial(enrolment), _with_trial(sites)
    activated = {(s["trial_id"], s["site"]): s["activated"] for s in records(sites)}
    dated = {tid for (tid, _), day in activated.items() if not _missing(day)}
    rows: list[dict[str, Any]] = []
    undated: dict[tuple[Any, Any], int] = {}
    for r in records(enrolment.sort_values(["trial_id", "subject"])):
        tid, site, enrolled = r["trial_id"], r["site"], r["enrolled"]
        values = dict(subject=r["subject"], site=site, enrolled=enrolled, subjects=1)
        if (tid, site) not in activated:
            what = f"subject {r['subject']} enrolled at site {site}, not a site of the trial"
            rows.append(_row("R7", "high", tid, "unknown-site", what, activated=None, **values))
            continue
        day, since = _day(enrolled), _day(activated[(tid, site)])
        values["activated"] = since.isoformat() if since else None
        if since is None:
            undated[(tid, site)] = undated.get((tid, site), 0) + 1
        elif day is not None and day < since:
            what = f"subject {r['subject']} enrolled {day}, site {site} activated {since}"
            rows.append(_row("R7", "high", tid, "enrolled-before-activation", what, **values))
    for tid in sorted({tid for tid, _ in undated} - dated):
        n = sum(count for (t, _), count in undated.items() if t == tid)
        what = f"not assessed: no site activation dates recorded ({n} enrolments unchecked)"
        rows.append(_row("R7", "low", tid, "activation-not-assessed", what, subjects=n))
    for (tid, site), n in sorted(undated.items()):
        if tid in dated:
            what = f"site {site} has no activation date: {n} enrolments there unchecked"
            values = dict(site=site, subjects=n)
            rows.append(_row("R7", "low", tid, "activation-not-recorded", what, **values))
    return _frame(rows, R7_COLUMNS)
