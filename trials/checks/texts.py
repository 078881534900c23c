"""What each trial check's section says: its title and the rule it applies, in words."""

from __future__ import annotations

from trials.checks.contemporaneity import CONTEMPORANEOUS_DAYS

#: rule → (section title, what the rule checks and why).
RULES = {
    "R1": (
        "R1 · Protocol before first enrolment; consent before enrolment; registration in time",
        "Protocol v1 must be on the log before the first enrolment, so outcomes cannot be chosen "
        "once subjects are in: judged by log order (v1's entry before the first enrolment entry) "
        "and by date (the day v1 was logged on or before the first enrolment's date). Every "
        "subject consents on or before the enrolment date (claimed dates; how many consents "
        "were logged after the enrolment entry is shown, and R9 judges them). ICMJE requires "
        "registration before the first enrolment; FDAAA 801 allows at most 21 days after it "
        "(the log's registration time against the first enrolment date).",
    ),
    "R2": (
        "R2 · Pre-specified vs reported outcomes (COMPare)",
        "Outcomes pre-specified in the protocol version in force at the first enrolment, "
        "against each outcome's latest reported result, in the COMPare categories: correct, not "
        "reported, added, switched (e.g. secondary reported as primary) and time frame changed, "
        "time frames compared as time points (Week 24 = 24 weeks = day 168; 12 months = 1 "
        "year; a baseline such as Day 1 is not a time point). An outcome reported without its "
        "type or time frame is 'cannot assess', not correct. `amended_in` names a later "
        "protocol version that made the reported form (see R3).",
    ),
    "R3": (
        "R3 · Hidden outcome changes across protocol versions",
        "Outcome changes between consecutive protocol versions are disclosed when a clause of "
        "the version's reason names the outcome (id, title, or 'endpoint' with its type) and "
        "says it changed; 'endpoints unchanged', 'no change' and other negations disclose "
        "nothing. A clause about outcomes in general is vague; otherwise the change is hidden. "
        "Changes logged after the first dataset submission were made once data could be seen.",
    ),
    "R4": (
        "R4 · Amendments and erasures: reasons and database locks",
        "Protocol amendments, dataset amendments and payload erasures must say why (21 CFR "
        "11.10(e), ICH E6(R3) ALCOA+): a reason is not boilerplate or a placeholder, has at "
        "least 12 letters and digits and two different words. Any made after the database was "
        "first locked need review.",
    ),
    "R5": (
        "R5 · Results within 12 months of primary completion",
        "FDAAA 801 (42 CFR 11.44): results are due no later than one year after the primary "
        "completion date; with none reported, the report's as-of date is the reference.",
    ),
    "R6": (
        "R6 · Informed consent",
        "ICH E6(R3): consent precedes enrolment and is given to the protocol version in force "
        "(checked at the consent's log entry, as the statement rule does); after a version that "
        "requires re-consent, subjects still on an older version are listed.",
    ),
    "R7": (
        "R7 · Enrolment and site activation",
        "No subject is enrolled at a site before its activation date, or at a site the trial "
        "did not register. Missing activation dates are said once: per trial when it records "
        "none (not assessed), else per site.",
    ),
    "R8": (
        "R8 · Chain integrity",
        "Every trial projection row points at a log entry of a kind that makes such rows, signed "
        "by the key its audit trail names; stored payloads still match their salted commitment, "
        "SHA-256 and size; payloads without bytes have an erasure record.",
    ),
    "R9": (
        "R9 · Contemporaneous entry",
        "ALCOA+ contemporaneous: each enrolment, consent and withdrawal date against the time "
        f"its entry was logged. Logged more than {CONTEMPORANEOUS_DAYS} days after its date is "
        "a late entry; a late consent dated on or before the enrolment but logged after the "
        "enrolment entry is possibly back-dated; a date after the logging day is impossible. "
        "A trial mostly entered late was entered retrospectively: said once.",
    ),
}
