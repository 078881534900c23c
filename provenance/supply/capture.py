"""EPCIS 2.0 capture: a signed document's events become custody operations in one log entry."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from provenance.epcis.document import EpcisEvent, parse_epcis_document
from provenance.epcis.epc_index import event_epcs
from provenance.epcis.errors import BadEpcis
from provenance.epcis.hash import normalise_epc
from provenance.epcis.query import (
    EPCIS_PAYLOAD_TYPE,
    LOG_HEADER,
    NAMESPACES_MEMBER,
    document_namespaces,
    event_namespaces,
)
from provenance.errors import BadJSON, Error
from provenance.gs1 import keys as gs1
from provenance.gs1.keys import GLN, GTIN, Lot
from provenance.log.canonical import parse_json
from provenance.log.kinds import KindRule, Pending, View
from provenance.log.ledger import Ledger
from provenance.log.personality import PayloadCodec
from provenance.log.signing import Envelope
from provenance.log.statements import Statement, format_timestamp
from provenance.supply import epcis_batches, operations, shipments
from provenance.supply.epcis_batches import Groups
from provenance.supply.rows import CAPTURE_JOB, EPCIS_EPC, EPCIS_EVENT

KIND = "epcis.capture"
#: Extension member this log adds to a stored event whose packs it never commissioned: the
#: capturing party's signed claim, kept and queryable, that moves no custody.
UNVERIFIED_UPSTREAM = "tag:provenance.local,2026:unverifiedUpstream"
#: How the member reads in the stored event JSON (compact, as `_plan` writes it).
UNVERIFIED_MARK = json.dumps({UNVERIFIED_UPSTREAM: True}, separators=(",", ":"))[1:-1]
_SGLN = re.compile(r"^urn:epc:id:(sgln|pgln):(\d+)\.(\d*)(?:\.[^.]+)?$")
_DL_GLN = re.compile(r"^https?://[^/]+(?:/.*)?/(414|417)/(\d{13})(?:/.*)?$")
#: bizStep → custody action; other steps are stored and queryable but move nothing.
ACTIONS = {
    "commissioning": "commission",
    "shipping": "ship",
    "receiving": "receive",
    "dispensing": "dispense",
    "retail_selling": "dispense",
    "destroying": "destroy",
    "decommissioning": "destroy",
}
_PARTY_TYPES = ("owning_party", "possessing_party", "location")


def capture_statement(envelope: Envelope) -> Statement:
    """The statement an EPCIS envelope makes: the document, signed at its creationDate."""
    try:
        doc = parse_json(envelope.payload)
    except BadJSON as exc:
        raise BadEpcis(f"the payload is not JSON: {exc.detail}") from None
    if not isinstance(doc, dict):
        raise BadEpcis("an EPCIS document is a JSON object")
    created = doc.get("creationDate")
    try:
        moment = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    except ValueError:
        raise BadEpcis(f"creationDate must be an ISO 8601 date-time, got {created!r}") from None
    if moment.tzinfo is None:
        raise BadEpcis("creationDate must carry a time zone offset")
    issued_at = format_timestamp(moment.astimezone(UTC))
    events = parse_epcis_document(doc)  # validated here, outside the append lock
    for event in events:
        # In any case: a stored mark is counted by a LIKE, which ignores case on SQLite.
        if UNVERIFIED_UPSTREAM.lower() in _compact(event.raw).lower():
            raise BadEpcis(f"{UNVERIFIED_UPSTREAM} is set by this log only", event=event.position)
        if NAMESPACES_MEMBER in event.raw:
            raise BadEpcis(f"{NAMESPACES_MEMBER} is set by this log only", event=event.position)
    header = doc.get("epcisHeader")
    log = header.get(LOG_HEADER) if isinstance(header, dict) else None
    if log is not None and not isinstance(log, str):
        raise BadEpcis(f"epcisHeader {LOG_HEADER} must be the origin of a log")
    signer = envelope.signatures[0].keyid
    return Statement(KIND, doc, issued_at, signer, log=log, decoded=events)


def party_gln(uri: str) -> GLN | None:
    """GLN of an SGLN/PGLN URN or a Digital Link /414/ or /417/ URI."""
    match = _SGLN.match(uri)
    if match:
        digits = match.group(2) + match.group(3)
        return GLN(gs1.with_check_digit(digits)) if len(digits) == 12 else None
    dl = _DL_GLN.match(uri)
    return GLN(dl.group(2)) if dl and gs1.is_valid_gln(dl.group(2)) else None


def _counterparty(entries: Iterable[tuple[str, str]], what: str, position: int) -> GLN:
    by_type = dict(entries)
    for kind in _PARTY_TYPES:
        if kind in by_type and (gln := party_gln(by_type[kind])):
            return gln
    raise BadEpcis(
        f"a {what} needs a GLN (owning_party, possessing_party or location)",
        event=position,
    )


def _shipment_ref(event: EpcisEvent, groups: Groups, gtin: GTIN, lot: Lot) -> str:
    refs = dict(event.biz_transactions)
    ref = refs.get("desadv") or refs.get("bol") or refs.get("po") or event.hash_id[-40:]
    return ref if len(groups) == 1 else f"{ref}#{gtin}/{lot}"


def apply_event(
    ledger: Ledger, view: View, *, party: GLN, event: EpcisEvent, groups: Groups
) -> None:
    """Run the custody operation an event's bizStep stands for, per batch it names."""
    action = ACTIONS.get(event.biz_step or "")
    if action is None or event.type != "ObjectEvent":
        return
    for (gtin, lot), (quantity, serials) in groups.items():
        if action == "commission":
            if event.action != "ADD" or event.expiry is None:
                raise BadEpcis("commissioning is ADD with ilmd itemExpirationDate")
            expiry = event.expiry[2:4] + event.expiry[5:7] + event.expiry[8:10]
            operations.commission(
                ledger,
                party=party,
                gtin=gtin,
                lot=lot,
                expiry=expiry,
                quantity=quantity,
                serials=serials,
            )
        elif action == "ship":
            to = _counterparty(event.destinations, "shipping event", event.position)
            ref = _shipment_ref(event, groups, gtin, lot)
            refs = dict(event.biz_transactions)
            shipments.ship(
                ledger,
                view,
                party=party,
                shipment_id=ref,
                gtin=gtin,
                lot=lot,
                to=to,
                quantity=quantity,
                serials=serials,
                po=refs.get("po"),
                despatch=refs.get("desadv"),
            )
        elif action == "receive":
            sender = _counterparty(event.sources, "receiving event", event.position)
            ref = _shipment_ref(event, groups, gtin, lot)
            shipments.receive(
                ledger,
                party=party,
                sender=sender,
                shipment_id=ref,
                quantity=quantity,
                serials=serials,
            )
        elif action == "dispense":
            operations.dispense(
                ledger,
                party=party,
                gtin=gtin,
                lot=lot,
                quantity=quantity,
                serials=serials,
                today=ledger.logged_at,
            )
        else:
            operations.destroy(
                ledger,
                party=party,
                gtin=gtin,
                lot=lot,
                quantity=quantity,
                serials=serials,
                reason=f"EPCIS {event.biz_step}",
            )


def _plan(pending: Pending) -> list[object]:
    statement, view, key, ctx = pending.statement, pending.view, pending.key, pending.entry
    events = statement.decoded or parse_epcis_document(statement.body)
    ledger = Ledger(view, ctx.index, ctx.logged_at, key.key_id)
    party = GLN(key.gln)
    # Two queries for the whole document instead of one per event and one per pack.
    ledger.prefetch("epcis_event", [(event.hash_id,) for event in events])
    idents = (epcis_batches.identify(epc) for event in events for epc in event.epcs)
    ledger.prefetch("pack", [(i[0], i[2]) for i in idents if i is not None and i[2] is not None])
    body = statement.body
    namespaces = document_namespaces(body.get("@context") if isinstance(body, dict) else None)
    for event in events:
        if EPCIS_EVENT.get(ledger, (event.hash_id,)) is not None:
            continue  # captured before (same Event Hash ID): a duplicate, not a new event
        try:
            moves = event.type == "ObjectEvent" and event.biz_step in ACTIONS
            groups, unknown = epcis_batches.groups_of(ledger, event) if moves else ({}, [])
            apply_event(ledger, view, party=party, event=event, groups=groups)
        except Error as exc:
            where = f"event {event.position} ({event.biz_step or event.type})"
            raise exc.with_context(f"{where}: {exc.detail}", event=event.position) from exc
        first = next(iter(groups), None) or next(
            filter(None, (epcis_batches.batch_of(ledger, e, event.lot) for e in event.epcs)), None
        )
        gtin, lot = (first[0], first[1]) if first else (None, None)
        # The namespaces its extensions use go with it, for readers of it outside its document.
        raw = _compact(_with_namespaces(event.raw, event_namespaces(event.raw, namespaces)))
        if unknown:
            # Filed under no batch of this log, so only its signer and regulators read it, even
            # once a batch of that GTIN and lot is commissioned here.
            lot = None
            raw = f"{raw[:-1]},{UNVERIFIED_MARK}}}"
        EPCIS_EVENT.put(
            ledger,
            {
                "hash_id": event.hash_id,
                "idx": ctx.index,
                "position": event.position,
                "event_type": event.type,
                "biz_step": event.biz_step,
                "event_time": event.event_time,
                "gtin": gtin,
                "lot": lot,
                "epcs": " ".join(_epc_keys(event.epcs)),
                "event": raw,
            },
        )
        for field, epc in event_epcs(event):
            EPCIS_EPC.put(ledger, {"hash_id": event.hash_id, "field": field, "epc": epc})
    CAPTURE_JOB.put(ledger, {"idx": ctx.index, "gln": party, "logged_at": ctx.logged_at})
    return ledger.changes()


def _with_namespaces(raw: Mapping[str, Any], spaces: dict[str, str]) -> Mapping[str, Any]:
    """The event as stored: with the namespaces of its document its extensions use, which the
    query answer gives in its @context."""
    return {**raw, NAMESPACES_MEMBER: spaces} if spaces else raw


def _compact(raw: Mapping[str, Any]) -> str:
    """An event's JSON as stored: compact, ASCII."""
    return json.dumps(dict(raw), separators=(",", ":"))


_canonical_epc = functools.lru_cache(maxsize=1 << 16)(normalise_epc)


def _epc_keys(epcs: Iterable[str]) -> list[str]:
    """Each EPC as given and in canonical Digital Link form, so either form finds the event."""
    keys = dict.fromkeys(epcs)
    for epc in list(keys):
        canonical = _canonical_epc(epc)
        if canonical:
            keys.setdefault(canonical)
    return list(keys)


CAPTURE = KindRule(
    KIND,
    operations.SUPPLY_ROLES,
    _plan,
    "an EPCIS 2.0 document, signed whole, captured",
    # Its issued_at is the document's creationDate: a week allows a batch sent once a week.
    max_age=timedelta(days=7),
)
#: EPCIS documents are signed whole, as JSON-LD, and outgrow a tile entry.
CODEC = PayloadCodec(EPCIS_PAYLOAD_TYPE, KIND, capture_statement, detached=True)
