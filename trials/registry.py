"""Trial registration, protocol versions, database locks, results and payload erasure."""

from __future__ import annotations

import json
from typing import Any

from provenance.log import body as f
from provenance.log.errors import BadStatement, Conflict
from provenance.log.kinds import KindRule, Op, Operation, ledger_kind
from provenance.log.ledger import SetColumns
from trials.rows import (
    ERASURE,
    PROTOCOL_VERSION,
    RESULTS_REPORT,
    TRIAL,
    TRIAL_PAYLOAD,
    TRIAL_PAYLOAD_SUMMARY,
    TRIAL_SITE,
    ErasureRow,
    ProtocolVersionRow,
    ResultsReportRow,
    TrialRow,
    TrialSiteRow,
)
from trials.rules import (
    PHASES,
    REASON_AND_LOCK_RULES,
    REGISTRIES,
    audit,
    check_payload,
    date,
    latest_protocol,
    reason,
    require_unlocked,
    sponsored_trial,
)
from trials.writers import (
    claim_payload,
    list_site_party,
    require_own_payload,
    site_fields,
    site_party,
)


@ledger_kind("trial.register", frozenset({"sponsor"}), "a sponsor registers a trial")
def register(op: Op) -> None:
    ledger, body = op.ledger, op.body
    f.members(
        body,
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
    trial_id = f.text(body, "trial", 40)
    registry = next((name for name, rx in REGISTRIES if rx.match(trial_id)), None)
    if registry is None:
        raise BadStatement("body.trial must be an NCT, EudraCT or CTIS (EU CT) number")
    if body["phase"] not in PHASES:
        raise BadStatement(f"body.phase must be one of {sorted(PHASES)}")
    if TRIAL.get(ledger, (trial_id,)) is not None:
        raise Conflict(f"trial {trial_id} is already registered")
    sites = body["sites"]
    if not isinstance(sites, list) or not sites or len(sites) > 5000:
        raise BadStatement("body.sites must be a list of 1-5000 sites")
    fields = site_fields(op)
    for site in sites:
        if not isinstance(site, dict) or not {"site", "name"} <= set(site) <= fields:
            optional = ", ".join(f"{name}?" for name in sorted(fields - {"site", "name"}))
            raise BadStatement(f"each site is {{site, name, {optional}}}")
        key = f.text(site, "site", 40)
        if TRIAL_SITE.get(ledger, (trial_id, key)) is not None:
            raise BadStatement(f"site {key} is listed twice")
        TRIAL_SITE.put(
            ledger,
            TrialSiteRow(
                trial_id=trial_id,
                site=key,
                name=f.text(site, "name"),
                activated=date(site, "activated") if site.get("activated") else None,
            ),
        )
        gln = site_party(op, site)
        if gln is not None:
            list_site_party(op, trial_id=trial_id, site=key, gln=gln)
    TRIAL.put(
        ledger,
        TrialRow(
            trial_id=trial_id,
            registry_name=registry,
            sponsor=op.party,
            title=f.text(body, "title", 1000),
            phase=body["phase"],
            planned_enrolment=f.count(body, "planned_enrolment"),
            primary_completion=date(body, "primary_completion"),
            registered_index=ledger.index,
            registered_at=ledger.logged_at,
            locked=0,
        ),
    )
    audit(op, trial_id=trial_id, action="register", what=f"{registry} {trial_id}")


def outcomes(body: dict[str, Any]) -> list[dict[str, str]]:
    items = body.get("outcomes")
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
    ledger, body = op.ledger, op.body
    f.members(
        body,
        {"trial", "version", "document", "payload", "outcomes", "reconsent", "signature"},
        {"reason"},
    )
    trial = sponsored_trial(op)
    require_unlocked(op, trial)  # outcomes chosen once the data are locked are not pre-specified
    version = f.count(body, "version")
    latest = latest_protocol(ledger, trial["trial_id"])
    if version != latest + 1:
        raise Conflict(
            f"the next protocol version is {latest + 1}; versions are only added", latest=latest
        )
    why = reason(body, rules=op.rules) if version > 1 else None
    if version == 1 and body.get("reason") is not None:
        raise BadStatement("the first protocol version has no reason for change")
    if not isinstance(body["reconsent"], bool):
        raise BadStatement("body.reconsent must be true or false")
    document = f.text(body, "document", 64)
    payload = f.text(body, "payload", 64)
    stored = check_payload(ledger, payload)
    if stored is not None and stored["sha256"] != document:
        raise BadStatement("body.document is not the SHA-256 of the uploaded protocol")
    claim_payload(op, trial["trial_id"], payload)
    PROTOCOL_VERSION.put(
        ledger,
        ProtocolVersionRow(
            trial_id=trial["trial_id"],
            version=version,
            document_sha256=document,
            payload=payload,
            outcomes=json.dumps(outcomes(body)),
            reason=why,
            reconsent=int(body["reconsent"]),
            committed_index=ledger.index,
            committed_at=ledger.logged_at,
        ),
    )
    what = f"protocol v{version}"
    audit(op, trial_id=trial["trial_id"], action="protocol", what=what, why=why)


def _lock(locked: int) -> Operation:
    def operation(op: Op) -> None:
        f.exact_members(op.body, "trial", "reason", "signature")
        trial = sponsored_trial(op)
        if trial["locked"] == locked:
            raise Conflict(f"trial {trial['trial_id']} is already {'locked' if locked else 'open'}")
        trial["locked"] = locked
        TRIAL.put(op.ledger, trial)
        action = "lock" if locked else "unlock"
        why = reason(op.body, rules=op.rules)
        audit(op, trial_id=trial["trial_id"], action=action, what=f"database {action}", why=why)

    return operation


lock = ledger_kind("trial.lock", frozenset({"sponsor"}), "lock the trial database")(_lock(1))
unlock = ledger_kind(
    "trial.unlock", frozenset({"sponsor"}), "unlock the trial database, with a reason"
)(_lock(0))


REPORTED_FIELDS = frozenset({"id", "summary", "type", "time_frame"})
REPORTED_TYPES = ("primary", "secondary", "other")


@ledger_kind("results.report", frozenset({"sponsor"}), "report results by outcome id")
def report(op: Op) -> None:
    f.exact_members(op.body, "trial", "outcomes", "signature")
    # Taken while the database is locked too: results are analysed on, and reported from, the
    # locked data (the usual order), and a report adds a disclosure without changing them.
    trial = sponsored_trial(op)
    if latest_protocol(op.ledger, trial["trial_id"]) == 0:
        raise Conflict("results are reported against a committed protocol")
    items = op.body["outcomes"]
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
    RESULTS_REPORT.put(
        op.ledger,
        ResultsReportRow(
            idx=op.ledger.index,
            trial_id=trial["trial_id"],
            outcomes=json.dumps(items),
            reported_at=op.ledger.logged_at,
        ),
    )
    audit(op, trial_id=trial["trial_id"], action="results", what=f"{len(items)} outcomes")


@ledger_kind("payload.erase", frozenset({"sponsor"}), "erase an off-log payload (who, why)")
def erase(op: Op) -> None:
    ledger = op.ledger
    f.exact_members(op.body, "trial", "payload", "reason", "signature")
    trial = sponsored_trial(op)
    payload = f.text(op.body, "payload", 64)
    if ERASURE.get(ledger, (payload,)) is not None:
        raise Conflict(f"payload {payload} is already erased")
    if TRIAL_PAYLOAD.get(ledger, (payload,)) is None:
        raise Conflict(f"no payload {payload}")
    require_own_payload(op, trial["trial_id"], payload)
    require_unlocked(op, trial)  # the bytes are part of the locked data
    why = f.text(op.body, "reason", 1000)
    if op.rules >= REASON_AND_LOCK_RULES:
        why = reason(op.body, rules=op.rules)
    ERASURE.put(
        ledger,
        ErasureRow(
            payload=payload,
            trial_id=trial["trial_id"],
            reason=why,
            party=op.party,
            erased_index=ledger.index,
            erased_at=ledger.logged_at,
        ),
    )
    ledger.also(
        SetColumns(
            TRIAL_PAYLOAD.name,
            ("commitment",),
            (payload,),
            {"data": None, "salt": None, "sha256": None, "erased_index": ledger.index},
            "erased_index",
        )
    )
    blank = ("format", "content_commitment", "row_count", "column_count", "domains")
    ledger.also(
        SetColumns(
            TRIAL_PAYLOAD_SUMMARY.name,
            ("commitment",),
            (payload,),
            {**dict.fromkeys(blank), "erased_index": ledger.index},
            "erased_index",
        )
    )
    what = f"payload {payload[:16]}…"
    audit(op, trial_id=trial["trial_id"], action="erase", what=what, why=why)


#: The registry's statement kinds, in the order a trial uses them.
KINDS: tuple[KindRule, ...] = (register, commit_protocol, lock, unlock, report, erase)
