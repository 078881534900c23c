"""Trial integrity checks R1–R8: pure pandas functions from projection frames to findings."""

from __future__ import annotations

from trials.checks.chain import EXPECTED_KINDS, TRIAL_KINDS, payload_digests, r8_chain
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
    "REGISTRATION_DAYS",
    "SEVERITIES",
    "TRIAL_KINDS",
    "consent_given",
    "discloses",
    "findings",
    "in_force",
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
    "records",
    "reported_outcomes",
]
