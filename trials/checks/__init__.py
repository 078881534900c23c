"""Trial integrity checks R1–R9: pure pandas functions from projection frames to findings."""

from __future__ import annotations

from trials.checks.chain import EXPECTED_KINDS, TRIAL_KINDS, payload_digests, r8_chain
from trials.checks.contemporaneity import (
    CONTEMPORANEOUS_DAYS,
    dated_entries,
    lag_distribution,
    r9_contemporaneous,
)
from trials.checks.frames import (
    BASE,
    CATEGORIES,
    OK,
    R1_COLUMNS,
    R2_COLUMNS,
    R3_COLUMNS,
    R4_COLUMNS,
    R5_COLUMNS,
    R6_COLUMNS,
    R7_COLUMNS,
    R8_COLUMNS,
    R9_COLUMNS,
    R9_LAG_COLUMNS,
    REGISTRATION_DAYS,
    SEVERITIES,
    findings,
    in_force,
    one_year_after,
    records,
)
from trials.checks.outcomes import discloses, r2_compare, r3_outcome_changes, reported_outcomes
from trials.checks.subjects import consent_given, r6_consent, r7_site_activation
from trials.checks.timing import r1_registration, r4_amendments, r5_results_due

__all__ = [
    "BASE",
    "CATEGORIES",
    "CONTEMPORANEOUS_DAYS",
    "EXPECTED_KINDS",
    "OK",
    "R1_COLUMNS",
    "R2_COLUMNS",
    "R3_COLUMNS",
    "R4_COLUMNS",
    "R5_COLUMNS",
    "R6_COLUMNS",
    "R7_COLUMNS",
    "R8_COLUMNS",
    "R9_COLUMNS",
    "R9_LAG_COLUMNS",
    "REGISTRATION_DAYS",
    "SEVERITIES",
    "TRIAL_KINDS",
    "consent_given",
    "dated_entries",
    "discloses",
    "findings",
    "in_force",
    "lag_distribution",
    "one_year_after",
    "payload_digests",
    "r1_registration",
    "r2_compare",
    "r3_outcome_changes",
    "r4_amendments",
    "r5_results_due",
    "r6_consent",
    "r7_site_activation",
    "r8_chain",
    "r9_contemporaneous",
    "records",
    "reported_outcomes",
]
