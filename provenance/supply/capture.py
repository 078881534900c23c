"""EPCIS 2.0 capture: a signed document's events become custody operations in one log entry."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from provenance.epcis.document import EpcisEvent, epc_gtin_lot_serial, parse_epcis_document
from provenance.epcis.epc_index import event_epcs
from provenance.epcis.errors import BadEpcis
from provenance.epcis.hash import normalise_epc
from provenance.epcis.query import EPCIS_PAYLOAD_TYPE, LOG_HEADER
from provenance.errors import BadJSON, Error
from provenance.gs1 import keys as gs1
from provenance.gs1.keys import GLN, GTIN, Lot, Serial
from provenance.log.canonical import parse_json
from provenance.log.errors import Conflict
from provenance.log.kinds import KindRule, Pending, View
from provenance.log.ledger import Ledger
from provenance.log.personality import PayloadCodec
from provenance.log.signing import Envelope
from provenance.log.statements import Statement, format_timestamp
from provenance.supply import operations, shipments
from provenance.supply.rows import EPCIS_EPC, EPCIS_EVENT, PACK

KIND = "epcis.capture"
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


Identified = tuple[GTIN, Lot | None, Serial | None]
#: What an event moves, by batch (GTIN, lot): (quantity, serials).
Groups = dict[tuple[GTIN, Lot], tuple[int, list[Serial]]]


@functools.lru_cache(maxsize=1 << 16)
def _identify(epc: str) -> Identified | None:
    """EPC → (GTIN, lot, serial), parsed once for prefetching and grouping."""
    ident = epc_gtin_lot_serial(epc)
    if ident is None:
        return None
    gtin, lot, serial = ident
    return GTIN(gtin), None if lot is None else Lot(lot), None if serial is None else Serial(serial)


def _batch_of(ledger: Ledger, epc: str, event_lot: str | None) -> Identified | None:
    """(GTIN, lot, serial) of an EPC; a serial's lot comes from the EPC, its pack, or the ilmd."""
    ident = _identify(epc)
    if ident is None:
        return None
    gtin, lot, serial = ident
    if lot is None and serial is not None:
        pack = PACK.get(ledger, (gtin, serial))
        if pack is not None:
            lot = pack["lot"]
        elif event_lot is not None:
            lot = Lot(event_lot)
    return gtin, lot, serial


def _groups(ledger: Ledger, event: EpcisEvent) -> Groups:
    """EPCs and quantities of the event, by batch (GTIN, lot): (quantity, serials)."""
    groups: Groups = {}
    for epc in event.epcs:
        found = _batch_of(ledger, epc, event.lot)
        if found is None:
            continue
        gtin, lot, serial = found
        if lot is None:
            if event.biz_step == "commissioning":
                raise BadEpcis(
                    "commissioning needs ilmd lotNumber",
                    event=event.position,
                )
            raise Conflict(f"EPC {epc} is not a pack commissioned in this log", epc=epc)
        quantity, serials = groups.get((gtin, lot), (0, []))
        groups[(gtin, lot)] = (quantity, [*serials, serial] if serial else serials)
    for epc_class, amount, _uom in event.quantities:
        ident = _identify(epc_class)
        if ident is None or ident[1] is None:
            continue
        if amount is None:
            # custody cannot balance an unknown amount, though EPCIS may record one
            raise BadEpcis("a custody event needs each quantity", event=event.position)
        if amount != int(amount) or amount <= 0:
            raise BadEpcis("quantity must be a whole number of packs", event=event.position)
        quantity, serials = groups.get((ident[0], ident[1]), (0, []))
        groups[(ident[0], ident[1])] = (quantity + int(amount), serials)
    return groups


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
    idents = (_identify(epc) for event in events for epc in event.epcs)
    ledger.prefetch("pack", [(i[0], i[2]) for i in idents if i is not None and i[2] is not None])
    for event in events:
        if EPCIS_EVENT.get(ledger, (event.hash_id,)) is not None:
            continue  # captured before (same Event Hash ID): a duplicate, not a new event
        try:
            moves = event.type == "ObjectEvent" and event.biz_step in ACTIONS
            groups = _groups(ledger, event) if moves else {}
            apply_event(ledger, view, party=party, event=event, groups=groups)
        except Error as exc:
            where = f"event {event.position} ({event.biz_step or event.type})"
            raise exc.with_context(f"{where}: {exc.detail}", event=event.position) from exc
        first = next(iter(groups), None) or next(
            filter(None, (_batch_of(ledger, e, event.lot) for e in event.epcs)), None
        )
        EPCIS_EVENT.put(
            ledger,
            {
                "hash_id": event.hash_id,
                "idx": ctx.index,
                "position": event.position,
                "event_type": event.type,
                "biz_step": event.biz_step,
                "event_time": event.event_time,
                "gtin": first[0] if first else None,
                "lot": first[1] if first else None,
                "epcs": " ".join(_epc_keys(event.epcs)),
                "event": json.dumps(dict(event.raw), separators=(",", ":")),
            },
        )
        for field, epc in event_epcs(event):
            EPCIS_EPC.put(ledger, {"hash_id": event.hash_id, "field": field, "epc": epc})
    return ledger.changes()


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
