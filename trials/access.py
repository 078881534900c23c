"""Who reads a trial and its payloads: its sponsor, the parties listed for its sites, regulators."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from provenance.access.principal import Principal
from provenance.access.rules import Facts, Rule, roles
from provenance.log.store.engine import query
from trials.uploads import uploaded_by


def trial_sponsor(conn: Connection, trial_id: object) -> str | None:
    """The GLN of the trial's sponsor; None if there is no such trial."""
    if not isinstance(trial_id, str):
        return None
    found = query(conn, "SELECT sponsor FROM trial WHERE trial_id = ?", (trial_id,))
    return str(found[0][0]) if found else None


def is_trial_party(conn: Connection, trial_id: str, gln: str, sponsor: str | None = None) -> bool:
    """The trial's sponsor (`sponsor`, when the caller has read it), or a party listed for one
    of its sites (rules 2 list them)."""
    if (sponsor or trial_sponsor(conn, trial_id)) == gln:
        return True
    listed = "SELECT 1 FROM trial_party WHERE trial_id = ? AND gln = ?"
    return bool(query(conn, listed, (trial_id, gln)))


def payload_trials(conn: Connection, commitment: str) -> set[str]:
    """The trials whose statements name a payload: its one trial under rules 2 (`payload_trial`),
    any trial whose protocol or dataset versions name it under rules 1."""
    rows = query(
        conn,
        "SELECT trial_id FROM payload_trial WHERE payload = ? "
        "UNION SELECT trial_id FROM protocol_version WHERE payload = ? "
        "UNION SELECT trial_id FROM dataset_version WHERE payload = ?",
        (commitment, commitment, commitment),
    )
    return {str(trial_id) for (trial_id,) in rows}


def _trial_reader(who: Principal, facts: Facts) -> bool:
    if who.regulator:
        return True
    if who.gln is None:
        return False
    trial_id = facts.args.get("trial_id")
    sponsor = trial_sponsor(facts.conn, trial_id)
    if sponsor is None:
        return True  # no such trial: the route answers 404 (registrations are public anyway)
    return is_trial_party(facts.conn, str(trial_id), who.gln, sponsor)


def _payload_reader(who: Principal, facts: Facts) -> bool:
    if who.regulator:
        return True
    if who.gln is None:
        return False
    commitment = str(facts.args.get("commitment"))
    trials = payload_trials(facts.conn, commitment)
    if trials:
        return any(is_trial_party(facts.conn, trial_id, who.gln) for trial_id in trials)
    if uploaded_by(facts.conn, commitment, who.gln):
        return True
    stored = query(facts.conn, "SELECT 1 FROM trial_payload WHERE commitment = ?", (commitment,))
    return not stored  # nothing under that commitment: the route answers 404


TRIAL_READERS = Rule(
    "the trial's sponsor, the parties listed for its sites, and regulators", _trial_reader
)
PAYLOAD_READERS = Rule(
    "the sponsor and site parties of the payload's trial, and regulators; before a statement "
    "names it, its uploader",
    _payload_reader,
)
UPLOADERS = roles("sponsor", "site")


def trial_sponsor_report(who: Principal, params: dict[str, Any], conn: Connection) -> bool:
    """A trial report's readers besides regulators: the trial's sponsor, run over its own trial
    (`trial` given; across all trials the report would show others')."""
    trial = params.get("trial")
    if who.gln is None or not who.has("sponsor") or not isinstance(trial, str):
        return False
    # The report strips the parameter the same way (`parse_params`).
    return bool(trial.strip()) and trial_sponsor(conn, trial.strip()) == who.gln
