"""R8 chain integrity: projection rows against log entries, payloads against commitments."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd

from trials.checks.frames import R8_COLUMNS, _frame, _missing, _row, records
from trials.payloads import commitment

#: The statement kinds whose entries may make each trial projection row.
EXPECTED_KINDS: dict[str, frozenset[str]] = {
    "trial": frozenset({"trial.register"}),
    "protocol_version": frozenset({"protocol.commit"}),
    "dataset_version": frozenset({"dataset.submit", "dataset.amend"}),
    "enrolment": frozenset({"subject.enrol"}),
    "consent_record": frozenset({"consent.record", "consent.withdraw"}),
    "results_report": frozenset({"results.report"}),
    "erasure": frozenset({"payload.erase"}),
    "trial_payload": frozenset({"payload.erase"}),
}
TRIAL_KINDS = frozenset().union(*EXPECTED_KINDS.values()) | {"trial.lock", "trial.unlock"}
EXPECTED_KINDS["trial_event"] = TRIAL_KINDS


def payload_digests(salt: bytes, data: bytes) -> dict[str, Any]:
    """What a stored payload's bytes hash to now, to compare with what was recorded."""
    return {
        "actual_commitment": commitment(salt, data),
        "actual_sha256": hashlib.sha256(data).hexdigest(),
        "actual_size": len(data),
    }


def r8_chain(
    refs: pd.DataFrame, payloads: pd.DataFrame, erasures: pd.DataFrame, uses: pd.DataFrame
) -> pd.DataFrame:
    """R8: each projection row's index is a log entry of a kind that makes such rows (and the
    audit trail's key signed it); stored payloads still match their commitment and SHA-256;
    emptied ones have an erasure record; every payload a trial names is stored or erased.

    `refs`: table, key, trial_id, idx, log_kind, signer, key_id. `payloads`: commitment,
    stored, sha256, size and `payload_digests` columns. `uses`: trial_id, table, key, payload.
    """
    rows: list[dict[str, Any]] = []
    for r in records(refs):
        where = dict(table=r["table"], key=r["key"], idx=r["idx"], log_kind=r["log_kind"])
        tid, at = r["trial_id"], f"{r['table']} {r['key']} → entry {r['idx']}"
        if _missing(r["log_kind"]):
            rows.append(_row("R8", "high", tid, "missing-entry", f"{at}: no such entry", **where))
        elif r["log_kind"] not in EXPECTED_KINDS[r["table"]]:
            what = f"{at} is a {r['log_kind']} entry"
            rows.append(_row("R8", "high", tid, "wrong-kind", what, **where))
        elif not _missing(r.get("key_id")) and r["key_id"] != r["signer"]:
            what = f"{at} was signed by {r['signer']}, not {r['key_id']}"
            rows.append(_row("R8", "high", tid, "wrong-signer", what, **where))
    erased = {e["payload"]: e["trial_id"] for e in records(erasures)}
    owner = dict(zip(uses["payload"], uses["trial_id"], strict=True)) | erased
    for p in records(payloads):
        key, tid = p["commitment"], owner.get(p["commitment"])
        where = dict(table="trial_payload", key=key, idx=None, log_kind=None, payload=key)
        if not p["stored"]:
            if key not in erased:
                what = f"payload {key} has no bytes and no erasure record"
                rows.append(_row("R8", "high", tid, "emptied-without-erasure", what, **where))
            continue
        if key in erased:
            what = f"payload {key} is recorded as erased but its bytes are still stored"
            rows.append(_row("R8", "high", tid, "erasure-not-applied", what, **where))
        for field, recorded in (("commitment", key), ("sha256", p["sha256"]), ("size", p["size"])):
            if p[f"actual_{field}"] != recorded:
                what = f"payload {key}: its bytes no longer match the recorded {field}"
                rows.append(_row("R8", "high", tid, f"{field}-mismatch", what, **where))
    known = set(payloads["commitment"]) | set(erased)
    for u in records(uses[~uses["payload"].isin(known)]):
        what = f"{u['table']} {u['key']} names payload {u['payload']}, neither stored nor erased"
        where = dict(table=u["table"], key=u["key"], idx=None, log_kind=None, payload=u["payload"])
        rows.append(_row("R8", "high", u["trial_id"], "payload-missing", what, **where))
    return _frame(rows, R8_COLUMNS)
