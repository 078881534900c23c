"""Who may write into a trial (rules 2): its sponsor, the parties listed for its sites."""

from __future__ import annotations

from typing import Any

from provenance.log import body as f
from provenance.log.errors import BadStatement, Conflict, WrongRole
from provenance.log.kinds import Op
from trials.rows import (
    ENROLMENT,
    PAYLOAD_TRIAL,
    TRIAL_PARTY,
    TRIAL_SITE_PARTY,
    PayloadTrialRow,
    TrialPartyRow,
    TrialRow,
    TrialSitePartyRow,
)

#: The first rules under which a trial's data is written only by its sponsor and listed sites.
WRITERS_RULES = 2
#: The members a registered site may have; `gln` only under rules 2.
SITE_FIELDS = frozenset({"site", "name", "activated"})


def site_fields(op: Op) -> frozenset[str]:
    return SITE_FIELDS | {"gln"} if op.rules >= WRITERS_RULES else SITE_FIELDS


def site_party(op: Op, site: dict[str, Any]) -> str | None:
    """The registered site party a listed site names (`gln`), if it names one."""
    if "gln" not in site:
        return None
    gln = f.gln(site, "gln")
    party = op.view.party(gln)
    if party is None:
        raise Conflict(f"site party {gln} is not a registered party", gln=gln)
    if "site" not in party.roles:
        raise BadStatement(f"site party {gln} does not have the role site", gln=gln)
    return gln


def list_site_party(op: Op, *, trial_id: str, site: str, gln: str) -> None:
    """Record that `gln` acts for `site` of the trial, and that it is one of its site parties."""
    TRIAL_SITE_PARTY.put(op.ledger, TrialSitePartyRow(trial_id=trial_id, site=site, gln=gln))
    listed = TRIAL_PARTY.get(op.ledger, (trial_id, gln))
    if listed is None:
        TRIAL_PARTY.put(op.ledger, TrialPartyRow(trial_id=trial_id, gln=gln, sites=1))
    else:
        listed["sites"] += 1
        TRIAL_PARTY.touch(op.ledger, listed)


def _acts_for(op: Op, trial_id: str, site: str | None) -> bool:
    if site is None:
        return TRIAL_PARTY.get(op.ledger, (trial_id, op.party)) is not None
    link = TRIAL_SITE_PARTY.get(op.ledger, (trial_id, site))
    return link is not None and link["gln"] == op.party


def require_writer(op: Op, trial: TrialRow, site: str | None = None) -> None:
    """The signer is the trial's sponsor, or the party listed for `site` (None: for any site of
    the trial). Rules 1 let any sponsor or site write into any trial, and replay so."""
    if op.rules < WRITERS_RULES or trial["sponsor"] == op.party:
        return
    if not _acts_for(op, trial["trial_id"], site):
        where = f"site {site}" if site is not None else "one of its sites"
        raise WrongRole(
            f"only trial {trial['trial_id']}'s sponsor or the party listed for {where} may do this",
            trial=trial["trial_id"],
        )


def require_subject_writer(op: Op, trial: TrialRow, subject: str) -> None:
    """For a statement about a subject that names no site: the party of the site the subject
    is enrolled at, or, before enrolment, a party listed for any site of the trial."""
    enrolled = ENROLMENT.get(op.ledger, (trial["trial_id"], subject))
    require_writer(op, trial, enrolled["site"] if enrolled is not None else None)


def claim_payload(op: Op, trial_id: str, payload: str) -> None:
    """Under rules 2 a payload belongs to the first trial that names it: another trial cannot
    name it too, and so cannot erase it as its own."""
    if op.rules < WRITERS_RULES:
        return
    owner = PAYLOAD_TRIAL.get(op.ledger, (payload,))
    if owner is None:
        row = PayloadTrialRow(payload=payload, trial_id=trial_id, first_index=op.ledger.index)
        PAYLOAD_TRIAL.put(op.ledger, row)
    elif owner["trial_id"] != trial_id:
        raise Conflict(
            f"payload {payload} belongs to trial {owner['trial_id']}: upload the bytes again "
            "with a new salt",
            trial=owner["trial_id"],
        )


def require_own_payload(op: Op, trial_id: str, payload: str) -> None:
    """Under rules 2 an erasure names a payload that a protocol or dataset version of the same
    trial names."""
    if op.rules < WRITERS_RULES:
        return
    owner = PAYLOAD_TRIAL.get(op.ledger, (payload,))
    if owner is None or owner["trial_id"] != trial_id:
        raise WrongRole(f"payload {payload} is not a payload of trial {trial_id}", trial=trial_id)
