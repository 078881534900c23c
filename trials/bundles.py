"""The entries of a trial and of one data submission, for proof bundles
(`Personality.bundle_subjects`)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection

from provenance.access.rules import MAX_INDEX
from provenance.errors import NotFound
from provenance.log.store.engine import query
from trials import queries


def trial_entries(conn: Connection, params: Mapping[str, str]) -> list[int]:
    """Every entry of a trial: its registration and each entry its audit trail records."""
    trial_id = params["trial_id"]
    registered = int(queries.trial(conn, trial_id)["registered_index"])
    rows = query(conn, "SELECT DISTINCT idx FROM trial_event WHERE trial_id = ?", (trial_id,))
    return sorted({registered, *(int(index) for (index,) in rows)})


def submission_trial(conn: Connection, index: object) -> str | None:
    """The trial of the dataset version submitted by entry `index`; None if it submitted none."""
    if not isinstance(index, int) or not 0 <= index < MAX_INDEX:
        return None
    found = query(conn, "SELECT trial_id FROM dataset_version WHERE submitted_index = ?", (index,))
    return str(found[0][0]) if found else None


def submission_entries(conn: Connection, params: Mapping[str, str]) -> list[int]:
    """One dataset version's entry (a submission or an amendment) and its trial's
    registration."""
    index = int(params["index"])
    trial_id = submission_trial(conn, index)
    if trial_id is None:
        raise NotFound(f"entry {index} submits no dataset")
    return sorted({index, int(queries.trial(conn, trial_id)["registered_index"])})


SUBJECTS = {"trial": trial_entries, "submission": submission_entries}
