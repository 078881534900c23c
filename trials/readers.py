"""Who reads a trial statement's entry besides its signer: the sponsor, and the site parties."""

from __future__ import annotations

from sqlalchemy import Connection

from provenance.log.statements import Statement
from provenance.log.store.engine import query
from trials.access import trial_sponsor

#: Statements about one subject: only the party listed for the subject's site reads them (and
#: the sponsor), as the trial's audit trail shows a site only its own subjects.
SUBJECT_KINDS = frozenset({"subject.enrol", "consent.record", "consent.withdraw"})


def trial_readers(statement: Statement, conn: Connection) -> list[str]:
    """The trial's sponsor and, for a subject's statement, the parties of the subject's site;
    for any other, every party listed for the trial's sites (they read the whole trial)."""
    trial_id = statement.body.get("trial")
    if not isinstance(trial_id, str):
        return []
    sponsor = trial_sponsor(conn, trial_id)
    readers = [sponsor] if sponsor else []
    if statement.kind in SUBJECT_KINDS:
        rows = query(
            conn,
            "SELECT gln FROM trial_site_party WHERE trial_id = ? AND site IN ("
            "SELECT site FROM enrolment WHERE trial_id = ? AND subject = ? UNION "
            "SELECT site FROM consent_record WHERE trial_id = ? AND subject = ? "
            "AND site IS NOT NULL)",
            (trial_id, trial_id, statement.body.get("subject"), trial_id,
             statement.body.get("subject")),
        )  # fmt: skip
    else:
        rows = query(conn, "SELECT gln FROM trial_party WHERE trial_id = ?", (trial_id,))
    return readers + [str(gln) for (gln,) in rows]
