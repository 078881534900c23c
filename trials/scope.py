"""How much of a trial's subject-level data a reader sees: all of it, or its own sites' subjects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from provenance.access.principal import Principal
from provenance.log.store.engine import query
from trials.access import trial_sponsor

#: Audit-trail actions about one subject (the others are about the trial, its protocol or data).
SUBJECT_ACTIONS = frozenset({"enrol", "consent", "withdraw"})


@dataclass(frozen=True)
class Scope:
    """A site party's view of a trial: the subjects enrolled, or consented, at its sites. The
    sponsor and regulators see every subject (`gln` None)."""

    gln: str | None = None
    sites: frozenset[str] = frozenset()

    @property
    def everything(self) -> bool:
        return self.gln is None

    def subjects(self, conn: Connection, trial_id: str) -> frozenset[str] | None:
        """The subjects this reader sees; None for all of them."""
        if self.everything:
            return None
        if not self.sites:
            return frozenset()
        sites = tuple(sorted(self.sites))
        marks = ", ".join("?" * len(sites))
        rows = query(
            conn,
            f"SELECT subject FROM enrolment WHERE trial_id = ? AND site IN ({marks}) UNION "
            f"SELECT subject FROM consent_record WHERE trial_id = ? AND site IN ({marks})",
            (trial_id, *sites, trial_id, *sites),
        )
        return frozenset(str(subject) for (subject,) in rows)

    def history(
        self, conn: Connection, trial_id: str, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The audit trail without what other sites' subjects did; a party always sees what it
        signed itself."""
        subjects = self.subjects(conn, trial_id)
        if subjects is None:
            return rows
        subject_of = {
            int(idx): str(subject)
            for idx, subject in query(
                conn,
                "SELECT enrolled_index, subject FROM enrolment WHERE trial_id = ? UNION "
                "SELECT idx, subject FROM consent_record WHERE trial_id = ?",
                (trial_id, trial_id),
            )
        }
        return [
            row
            for row in rows
            if row["action"] not in SUBJECT_ACTIONS
            or row["party"] == self.gln
            or subject_of.get(int(row["idx"])) in subjects
        ]


def scope_of(who: Principal, conn: Connection, trial_id: str) -> Scope:
    """A reader the route's rule admitted: the sponsor or a regulator sees every subject, a party
    listed for some of the trial's sites those of its sites."""
    if who.gln is None:
        return Scope("", frozenset())  # no subjects (no route's rule admits anonymous readers)
    if who.regulator or trial_sponsor(conn, trial_id) == who.gln:
        return Scope()
    sites = query(
        conn,
        "SELECT site FROM trial_site_party WHERE trial_id = ? AND gln = ?",
        (trial_id, who.gln),
    )
    return Scope(who.gln, frozenset(str(site) for (site,) in sites))
