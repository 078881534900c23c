"""What a scan station shows beside a verdict: the action, an alert reference, the expiry as a
date, the batch's effective state, the pack's own history and the names of the parties named."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import date
from typing import Any

from provenance.gs1 import dates
from provenance.supply import verdict

#: A GLN where reasons and alerts name a party: 13 digits standing alone.
GLN_IN_TEXT = re.compile(r"(?<!\d)\d{13}(?!\d)")


def effective_status(batch: dict[str, Any] | None, expiry: dates.Expiry | None) -> str | None:
    """The state a batch is in today: its recorded status, or expired once its date passed."""
    if batch is None:
        return None
    if batch["status"] == "active" and expiry is not None and expiry.expired:
        return "expired"
    return str(batch["status"])


def alert_reference(body: dict[str, Any], scanned_at: str, origin: str) -> str:
    """A reference for a suspect scan, as EMVS gives one: the same for the same scan (its
    content, verdict and millisecond time at this log), hard to guess without all of them."""
    material = "\n".join(
        (
            origin,
            scanned_at,
            str(body["verdict"]),
            str(body["gtin"]),
            str(body.get("lot") or ""),
            str(body.get("serial") or ""),
            str(body.get("expiry") or ""),
        )
    )
    digest = base64.b32encode(hashlib.sha256(material.encode()).digest()).decode()
    return f"ALR-{digest[0:4]}-{digest[4:8]}-{digest[8:12]}"


def pack_history(timeline: list[dict[str, Any]], serial: str | None) -> list[dict[str, Any]]:
    """The events that concern one pack: those naming its serial, and the batch-level ones
    (commissioning, a recall, counts without serials) that covered every pack of the batch."""
    if serial is None:
        return []
    return [e for e in timeline if not e["serials"] or serial in e["serials"]]


def glns_named(body: dict[str, Any]) -> set[str]:
    """The GLNs the answer mentions: in its reasons, alerts, timeline and pack."""
    texts: list[str] = [*body.get("reasons", [])]
    for alert in body.get("alerts") or []:
        texts += [str(alert.get("party") or ""), str(alert.get("detail") or "")]
    for event in body.get("timeline") or []:
        texts += [str(event.get("party") or ""), str(event.get("counterparty") or "")]
    pack = body.get("pack") or {}
    texts += [str(pack.get("holder") or ""), str(pack.get("state_by") or "")]
    return {gln for text in texts for gln in GLN_IN_TEXT.findall(text)}


def names_given(body: dict[str, Any]) -> dict[str, str | None]:
    """The party names the answer already carries, GLN to name (None: no such party), read
    with the rows that name them."""
    given: dict[str, str | None] = {}
    for event in body.get("timeline") or []:
        given[str(event["party"])] = event.get("party_name")
        if event.get("counterparty"):
            given[str(event["counterparty"])] = event.get("counterparty_name")
    for holding in body.get("holdings") or []:
        given[str(holding["gln"])] = holding.get("name")
    product = body.get("product") or {}
    if product.get("manufacturer"):
        given[str(product["manufacturer"])] = product.get("manufacturer_name")
    return given


def named_parties(body: dict[str, Any], names: dict[str, str]) -> dict[str, str]:
    """The names of the parties whose GLNs the answer mentions, GLN to name."""
    return {gln: names[gln] for gln in sorted(glns_named(body)) if gln in names}


def present(
    body: dict[str, Any],
    *,
    names: dict[str, str],
    today: date,
    scanned_at: str,
    origin: str,
    scanned_expiry: str | None = None,
) -> dict[str, Any]:
    """The answer with what a station shows: `action`, `icon`, `product_only`, `expiry`
    (scanned, else the batch's), `expiry_info`, `effective_status`, `alert_reference`,
    `pack_timeline`, `logged_alerts`, `parties`, and `printed_expiry_info` when the pack's
    printed expiry is not its batch's; the answer's own fields are kept as they were."""
    code = body["verdict"]
    batch = body.get("batch")
    printed = scanned_expiry or body.get("expiry") or (batch or {}).get("expiry")
    batch_expiry = None if batch is None else dates.expiry(batch["expiry"], today)
    shown = batch_expiry or (None if printed is None else dates.expiry(printed, today))
    symbol, label = verdict.ICONS.get(code, ("!", "warning"))
    answer = {
        **body,
        "action": verdict.ACTIONS.get(code, ""),
        "icon": {"symbol": symbol, "label": label},
        "product_only": code in verdict.PRODUCT_ANSWERS,
        "expiry": printed,
        "expiry_info": None if shown is None else shown.to_json(),
        "effective_status": effective_status(batch, batch_expiry),
        "scanned_at": scanned_at,
        "alert_reference": alert_reference({**body, "expiry": printed}, scanned_at, origin)
        if code in verdict.ALERTING
        else None,
        "parties": named_parties(body, names),
    }
    if batch is not None and scanned_expiry and scanned_expiry != batch["expiry"]:
        on_pack = dates.expiry(scanned_expiry, today)
        answer["printed_expiry_info"] = None if on_pack is None else on_pack.to_json()
    if "alerts" in body:
        # The open alerts the log already holds on this pack (raised by signed scans), which a
        # report should name beside the reference.
        serial = body.get("serial")
        answer["logged_alerts"] = [
            a["id"]
            for a in body["alerts"]
            if serial is not None and a.get("serial") == serial and a.get("resolved_index") is None
        ]
    if "timeline" in body:
        answer["pack_timeline"] = pack_history(body["timeline"], body.get("serial"))
    return answer
