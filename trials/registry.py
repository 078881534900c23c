"""Trial registration, protocol versions, database locks, results and payload erasure."""

from __future__ import annotations

import json
from typing import Any

from provenance.log import body as f
from provenance.log.errors import BadStatement, Conflict
from provenance.log.kinds import KindRule, Op, Operation, ledger_kind
from provenance.log.ledger import SetColumns
from trials.rules import (
    PHASES,
    REGISTRIES,
    audit,
    check_payload,
    date,
    latest_protocol,
    reason,
    require_sponsor,
    require_trial,
)


@ledger_kind("trial.register", frozenset({"sponsor"}), "a sponsor registers a trial")
def register(op: Op) -> None:
    ledger, party, b = op.ledger, op.party, op.body
    f.members(
        b,
        {
            "trial",
            "title",
            "phase",
            "sites",
            "planned_enrolment",
            "primary_completion",
            "signature",
        },
    )
    trial_id = f.text(b, "trial", 40)
    registry = next((name for name, rx in REGISTRIES if rx.match(trial_id)), None)
    if registry is None:
        raise BadStatement("body.trial must be an NCT, EudraCT or CTIS (EU CT) number")
    if b["phase"] not in PHASES:
        raise BadStatement(f"body.phase must be one of {sorted(PHASES)}")
    if ledger.get("trial", trial_id) is not None:
        raise Conflict(f"trial {trial_id} is already registered")
    sites = b["sites"]
    if not isinstance(sites, list) or not sites or len(sites) > 5000:
        raise BadStatement("body.sites must be a list of 1-5000 sites")
    for site in sites:
        if not isinstance(site, dict) or not {"site", "name"} <= set(site) <= {
            "site",
            "name",
            "activated",
        }:
            raise BadStatement("each site is {site, name, activated?}")
        key = f.text(site, "site", 40)
        if ledger.get("trial_site", trial_id, key) is not None:
            raise BadStatement(f"site {key} is listed twice")
        ledger.put(
            "trial_site",
            {
                "trial_id": trial_id,
                "site": key,
                "name": f.text(site, "name"),
                "activated": date(site, "activated") if site.get("activated") else None,
            },
        )
    ledger.put(
        "trial",
        {
            "trial_id": trial_id,
            "registry_name": registry,
            "sponsor": party,
            "title": f.text(b, "title", 1000),
            "phase": b["phase"],
            "planned_enrolment": f.count(b, "planned_enrolment"),
            "primary_completion": date(b, "primary_completion"),
            "registered_index": ledger.index,
            "registered_at": ledger.logged_at,
            "locked": 0,
        },
    )
    audit(ledger, b, trial_id, "register", f"{registry} {trial_id}", party)


def outcomes(b: dict[str, Any]) -> list[dict[str, str]]:
    items = b.get("outcomes")
    if not isinstance(items, list) or not items:
        raise BadStatement("body.outcomes must be a non-empty list")
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict) or set(item) != {"id", "title", "type", "time_frame"}:
            raise BadStatement("each outcome is exactly {id, title, type, time_frame}")
        if item["type"] not in ("primary", "secondary"):
            raise BadStatement("outcome type must be primary or secondary")
        oid = f.text(item, "id", 40)
        f.text(item, "title", 500)
        f.text(item, "time_frame", 200)
        if oid in seen:
            raise BadStatement(f"outcome id {oid} is listed twice")
        seen.add(oid)
    if not any(item["type"] == "primary" for item in items):
        raise BadStatement("a protocol pre-specifies at least one primary outcome")
    return items


@ledger_kind("protocol.commit", frozenset({"sponsor"}), "commit a protocol version (bytes off-log)")
def commit_protocol(op: Op) -> None:
    ledger, party, b = op.ledger, op.party, op.body
    f.members(
        b,
        {"trial", "version", "document", "payload", "outcomes", "reconsent", "signature"},
        {"reason"},
    )
    trial = require_trial(ledger, b.get("trial"))
    require_sponsor(trial, party)
    version = f.count(b, "version")
    latest = latest_protocol(ledger, trial["trial_id"])
    if version != latest + 1:
        raise Conflict(
            f"the next protocol version is {latest + 1}; versions are only added", latest=latest
        )
    why = reason(b) if version > 1 else None
    if version == 1 and b.get("reason") is not None:
        raise BadStatement("the first protocol version has no reason for change")
    if not isinstance(b["reconsent"], bool):
        raise BadStatement("body.reconsent must be true or false")
    document = f.text(b, "document", 64)
    stored = check_payload(ledger, f.text(b, "payload", 64))
    if stored is not None and stored["sha256"] != document:
        raise BadStatement("body.document is not the SHA-256 of the uploaded protocol")
    ledger.put(
        "protocol_version",
        {
            "trial_id": trial["trial_id"],
            "version": version,
            "document_sha256": document,
            "payload": b["payload"],
            "outcomes": json.dumps(outcomes(b)),
            "reason": why,
            "reconsent": int(b["reconsent"]),
            "committed_index": ledger.index,
            "committed_at": ledger.logged_at,
        },
    )
    audit(ledger, b, trial["trial_id"], "protocol", f"protocol v{version}", party, why)


def _lock(locked: int) -> Operation:
    def operation(op: Op) -> None:
        ledger, party, b = op.ledger, op.party, op.body
        f.exact_members(b, "trial", "reason", "signature")
        trial = require_trial(ledger, b.get("trial"))
        require_sponsor(trial, party)
        if trial["locked"] == locked:
            raise Conflict(f"trial {trial['trial_id']} is already {'locked' if locked else 'open'}")
        trial["locked"] = locked
        ledger.touch("trial", trial)
        action = "lock" if locked else "unlock"
        audit(ledger, b, trial["trial_id"], action, f"database {action}", party, reason(b))

    return operation


lock = ledger_kind("trial.lock", frozenset({"sponsor"}), "lock the trial database")(_lock(1))
unlock = ledger_kind(
    "trial.unlock", frozenset({"sponsor"}), "unlock the trial database, with a reason"
)(_lock(0))


REPORTED_FIELDS = frozenset({"id", "summary", "type", "time_frame"})
REPORTED_TYPES = ("primary", "secondary", "other")


@ledger_kind("results.report", frozenset({"sponsor"}), "report results by outcome id")
def report(op: Op) -> None:
    ledger, party, b = op.ledger, op.party, op.body
    f.exact_members(b, "trial", "outcomes", "signature")
    trial = require_trial(ledger, b.get("trial"))
    require_sponsor(trial, party)
    if latest_protocol(ledger, trial["trial_id"]) == 0:
        raise Conflict("results are reported against a committed protocol")
    items = b["outcomes"]
    if not isinstance(items, list) or not items:
        raise BadStatement("body.outcomes must be a non-empty list of {id, summary}")
    for item in items:
        # type and time_frame, when given, let outcome switching be checked against the
        # pre-specified outcomes (COMPare); results that omit them stay valid.
        if not isinstance(item, dict) or not {"id", "summary"} <= set(item) <= REPORTED_FIELDS:
            raise BadStatement("each reported outcome is {id, summary, type?, time_frame?}")
        f.text(item, "id", 40)
        f.text(item, "summary", 2000)
        if "type" in item and item["type"] not in REPORTED_TYPES:
            raise BadStatement(f"a reported outcome's type is one of {list(REPORTED_TYPES)}")
        if "time_frame" in item:
            f.text(item, "time_frame", 200)
    ledger.put(
        "results_report",
        {
            "idx": ledger.index,
            "trial_id": trial["trial_id"],
            "outcomes": json.dumps(items),
            "reported_at": ledger.logged_at,
        },
    )
    audit(ledger, b, trial["trial_id"], "results", f"{len(items)} outcomes", party)


@ledger_kind("payload.erase", frozenset({"sponsor"}), "erase an off-log payload (who, why)")
def erase(op: Op) -> None:
    ledger, party, b = op.ledger, op.party, op.body
    f.exact_members(b, "trial", "payload", "reason", "signature")
    trial = require_trial(ledger, b.get("trial"))
    require_sponsor(trial, party)
    payload = f.text(b, "payload", 64)
    if ledger.get("erasure", payload) is not None:
        raise Conflict(f"payload {payload} is already erased")
    if ledger.get("trial_payload", payload) is None:
        raise Conflict(f"no payload {payload}")
    why = f.text(b, "reason", 1000)
    ledger.put(
        "erasure",
        {
            "payload": payload,
            "trial_id": trial["trial_id"],
            "reason": why,
            "party": party,
            "erased_index": ledger.index,
            "erased_at": ledger.logged_at,
        },
    )
    ledger.also(
        SetColumns(
            "trial_payload",
            ("commitment",),
            (payload,),
            {"data": None, "salt": None, "sha256": None, "erased_index": ledger.index},
            "erased_index",
        )
    )
    audit(ledger, b, trial["trial_id"], "erase", f"payload {payload[:16]}…", party, why)


#: The registry's statement kinds, in the order a trial uses them.
KINDS: tuple[KindRule, ...] = (register, commit_protocol, lock, unlock, report, erase)
