"""Pack-level statements: EU FMD pack states and undo, signed scans, alert resolution (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from provenance.gs1.keys import GLN, GTIN, Lot, Serial
from provenance.log.errors import BadStatement, Conflict, WrongRole
from provenance.log.ledger import Ledger
from provenance.log.statements import parse_timestamp
from provenance.supply import custody, verdict
from provenance.supply.custody import SETTABLE_STATES, set_pack_state, undo_pack_state
from provenance.supply.rows import ALERT, BATCH, HOLDING, PACK, require_batch


def pack_state(
    ledger: Ledger,
    *,
    party: GLN,
    gtin: GTIN,
    lot: Lot,
    serials: Sequence[Serial],
    state: str,
) -> None:
    """Set an EU FMD state on held packs, or undo one (`state` = "active")."""
    batch = require_batch(ledger, gtin, lot)
    if not batch["serialised"]:
        raise BadStatement("pack states apply to serialised packs")
    undone: list[str] = []
    for serial in serials:
        pack = PACK.get(ledger, (gtin, serial))
        if pack is None or pack["lot"] != lot:
            raise Conflict(f"serial {serial} is not a pack of batch {gtin}/{lot}", serial=serial)
        if state == "active":
            undone.append(undo_pack_state(ledger, pack, party))
            if undone[-1] == "supplied":  # an undone supply returns the pack to stock
                batch["dispensed"] -= 1
                BATCH.touch(ledger, batch)
                take = HOLDING.get(ledger, (gtin, lot, party))
                assert take is not None
                take["quantity"] += 1
                HOLDING.touch(ledger, take)
            continue
        if state not in SETTABLE_STATES:
            raise BadStatement(
                f"body.state must be active (undo) or one of {sorted(SETTABLE_STATES)}"
            )
        if pack["holder"] != party:
            raise Conflict(f"party {party} does not hold pack {serial}", serial=serial)
        if pack["state"] != "active":
            raise Conflict(f"pack {serial} is {pack['state']}, not active", serial=serial)
        set_pack_state(ledger, pack, state, party)
    change = "undo " + "/".join(sorted(set(undone))) if state == "active" else state
    custody.event(
        ledger,
        gtin=gtin,
        lot=lot,
        action=change,
        party=party,
        quantity=len(serials),
        serials=serials,
    )


def scan(
    ledger: Ledger,
    *,
    party: GLN,
    gtin: GTIN,
    lot: Lot | None,
    serial: Serial | None,
    expiry: str | None,
    today: str,
) -> verdict.Verdict:
    """A party's signed scan: judged against the projection; anything wrong becomes an alert."""
    found = verdict.judge_scan(
        ledger,
        gtin=gtin,
        lot=lot,
        serial=serial,
        scanned_expiry=expiry,
        today=parse_timestamp(today).date(),
    )
    result = found.verdict
    batch_lot = lot if found.batch is not None else None  # a batch is only found by its lot
    alerts = list(result.alerts)
    if batch_lot is not None and HOLDING.get(ledger, (gtin, batch_lot, party)) is None:
        alerts.append(("never-received", f"party {party} never received batch {gtin}/{lot}"))
    for kind, detail in alerts:
        custody.alert(
            ledger, kind=kind, gtin=gtin, lot=lot, serial=serial, party=party, detail=detail
        )
    if batch_lot is not None:
        custody.event(
            ledger,
            gtin=gtin,
            lot=batch_lot,
            action="scan",
            party=party,
            serials=[serial] if serial else [],
            detail=result.code,
        )
    return result


def resolve_alert(
    ledger: Ledger, *, party: GLN, roles: Sequence[str], alert_id: str, resolution: str
) -> None:
    try:
        idx, seq = (int(part) for part in alert_id.split("-"))
    except ValueError:
        raise BadStatement("body.alert must be an alert id like 1234-0") from None
    alert = ALERT.get(ledger, (idx, seq))
    if alert is None:
        raise Conflict(f"no alert {alert_id}")
    if alert["party"] != party and "regulator" not in roles:
        raise WrongRole("an alert is resolved by the party it was raised at or a regulator")
    if alert["resolved_index"] is not None:
        raise Conflict(f"alert {alert_id} was already resolved at entry {alert['resolved_index']}")
    alert.update({"resolved_index": ledger.index, "resolved_by": party, "resolution": resolution})
    ALERT.touch(ledger, alert)
