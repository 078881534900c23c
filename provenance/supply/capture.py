"""EPCIS 2.0 capture: a signed document's events become custody operations in one log entry."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

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
from provenance.log.ledger import Ledger, PutRow
from provenance.log.personality import PayloadCodec
from provenance.log.signing import Envelope
from provenance.log.statements import Statement, format_timestamp
from provenance.supply import epcis_batches, operations, shipments
from provenance.supply.epcis_batches import Groups
from provenance.supply.rows import CAPTURE_JOB, EPCIS_EVENT, EpcisEventRow

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
    # Validated, hashed and made ready to store here, outside the append lock.
    events = prepare(parse_epcis_document(doc), doc)
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


def _party_of(entries: Iterable[tuple[str, str]]) -> GLN | None:
    by_type = dict(entries)
    for kind in _PARTY_TYPES:
        if kind in by_type and (gln := party_gln(by_type[kind])):
            return gln
    return None


def _counterparty(entries: Iterable[tuple[str, str]], what: str, position: int) -> GLN:
    gln = _party_of(entries)
    if gln is None:
        raise BadEpcis(
            f"a {what} needs a GLN (owning_party, possessing_party or location)",
            event=position,
        )
    return gln


@dataclass(frozen=True, slots=True)
class Prepared:
    """One event and what capturing it stores, worked out from its document alone, before the
    append lock: only what depends on the log's state is left for the lock."""

    event: EpcisEvent
    #: The custody operation its bizStep stands for (None: stored and queryable, moves nothing).
    action: str | None
    #: Its EPCs parsed (GTIN, lot, serial), in the order of `event.epcs`.
    idents: tuple[epcis_batches.Identified | None, ...]
    #: The party a shipment goes to or a receipt comes from, if its event names one by GLN.
    counterparty: GLN | None
    #: Its shipment's reference (before a per-batch suffix; see `_shipment_ref`).
    ref: str
    #: Its JSON as stored: compact, with the namespaces of its document its extensions use.
    stored: str
    epcs: str  # its EPCs as given and in canonical form, space-separated
    index: tuple[PutRow, ...]  # its epcis_epc rows


class Captured(tuple[EpcisEvent, ...]):
    """A capture document's events, as `parse_epcis_document` gives them, each with what
    capturing it stores (`prepared`, in the same order)."""

    prepared: tuple[Prepared, ...]


def prepare(events: Sequence[EpcisEvent], doc: Any) -> Captured:
    """The document's events made ready to store (see `Prepared`); refuses events that carry
    the members only this log sets."""
    context = doc.get("@context") if isinstance(doc, dict) else None
    namespaces = document_namespaces(context)
    prepared = []
    for event in events:
        raw = event.raw
        # The namespaces its extensions use go with it, for readers of it outside its document.
        spaces = event_namespaces(raw, namespaces)
        stored = _compact(_with_namespaces(raw, spaces))
        # One JSON copy serves the check and the store unless namespaces were added to it. In
        # any case: a stored mark is counted by a LIKE, which ignores case on SQLite.
        if UNVERIFIED_UPSTREAM.lower() in (_compact(raw) if spaces else stored).lower():
            raise BadEpcis(f"{UNVERIFIED_UPSTREAM} is set by this log only", event=event.position)
        if NAMESPACES_MEMBER in raw:
            raise BadEpcis(f"{NAMESPACES_MEMBER} is set by this log only", event=event.position)
        action = ACTIONS.get(event.biz_step or "") if event.type == "ObjectEvent" else None
        counterparty = None
        if action in ("ship", "receive"):
            counterparty = _party_of(event.destinations if action == "ship" else event.sources)
        refs = dict(event.biz_transactions)
        hash_id = event.hash_id
        index = tuple(
            PutRow(
                "epcis_epc", (hash_id, field, epc), {"hash_id": hash_id, "field": field, "epc": epc}
            )
            for field, epc in event_epcs(event)
        )
        prepared.append(
            Prepared(
                event,
                action,
                tuple(epcis_batches.identify(epc) for epc in event.epcs),
                counterparty,
                refs.get("desadv") or refs.get("bol") or refs.get("po") or hash_id[-40:],
                stored,
                " ".join(_epc_keys(event.epcs)),
                index,
            )
        )
    captured = Captured(events)
    captured.prepared = tuple(prepared)
    return captured


def _shipment_ref(item: Prepared, groups: Groups, gtin: GTIN, lot: Lot) -> str:
    return item.ref if len(groups) == 1 else f"{item.ref}#{gtin}/{lot}"


def apply_event(ledger: Ledger, view: View, *, party: GLN, item: Prepared, groups: Groups) -> None:
    """Run the custody operation an event's bizStep stands for, per batch it names."""
    action, event = item.action, item.event
    if action is None:
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
            to = item.counterparty or _counterparty(
                event.destinations, "shipping event", event.position
            )
            refs = dict(event.biz_transactions)
            shipments.ship(
                ledger,
                view,
                party=party,
                shipment_id=_shipment_ref(item, groups, gtin, lot),
                gtin=gtin,
                lot=lot,
                to=to,
                quantity=quantity,
                serials=serials,
                po=refs.get("po"),
                despatch=refs.get("desadv"),
            )
        elif action == "receive":
            sender = item.counterparty or _counterparty(
                event.sources, "receiving event", event.position
            )
            shipments.receive(
                ledger,
                party=party,
                sender=sender,
                shipment_id=_shipment_ref(item, groups, gtin, lot),
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


def _prefetch(ledger: Ledger, party: GLN, prepared: Sequence[Prepared]) -> None:
    """Read the rows the document's operations will read in a few queries for the whole
    document, instead of one or more per event."""
    ledger.prefetch("epcis_event", [(item.event.hash_id,) for item in prepared])
    ledger.prefetch(
        "pack",
        [(i[0], i[2]) for p in prepared for i in p.idents if i is not None and i[2] is not None],
    )
    moving = [item for item in prepared if item.action is not None]
    batches = epcis_batches.batches_named(ledger, [(p.event, p.idents) for p in moving])
    ledger.prefetch("product", [(gtin,) for gtin in dict.fromkeys(g for g, _ in batches)])
    ledger.prefetch("batch", batches)
    ledger.prefetch("holding", [(gtin, lot, party) for gtin, lot in batches])
    ledger.prefetch(
        "shipment",
        [
            (party if item.action == "ship" else item.counterparty, item.ref)
            for item in moving
            if item.action == "ship" or (item.action == "receive" and item.counterparty)
        ],
    )


def _plan(pending: Pending) -> list[object]:
    statement, view, key, ctx = pending.statement, pending.view, pending.key, pending.entry
    captured = statement.decoded
    if not isinstance(captured, Captured):
        captured = prepare(parse_epcis_document(statement.body), statement.body)
    ledger = Ledger(view, ctx.index, ctx.logged_at, key.key_id)
    party = GLN(key.gln)
    _prefetch(ledger, party, captured.prepared)
    # The event rows go straight into the changes: no operation reads them back.
    stored: list[PutRow] = []
    index: list[PutRow] = []
    seen: set[str] = set()
    for item in captured.prepared:
        event = item.event
        hash_id = event.hash_id
        if hash_id in seen or EPCIS_EVENT.get(ledger, (hash_id,)) is not None:
            continue  # captured before (same Event Hash ID): a duplicate, not a new event
        seen.add(hash_id)
        try:
            groups, unknown = (
                epcis_batches.groups_of(ledger, event, item.idents) if item.action else ({}, [])
            )
            apply_event(ledger, view, party=party, item=item, groups=groups)
        except Error as exc:
            where = f"event {event.position} ({event.biz_step or event.type})"
            raise exc.with_context(f"{where}: {exc.detail}", event=event.position) from exc
        first = next(iter(groups), None) or next(
            filter(None, (epcis_batches.batch_of(ledger, i, event.lot) for i in item.idents)),
            None,
        )
        gtin, lot = (first[0], first[1]) if first else (None, None)
        raw = item.stored
        if unknown:
            # Filed under no batch of this log, so only its signer and regulators read it, even
            # once a batch of that GTIN and lot is commissioned here.
            lot = None
            raw = f"{raw[:-1]},{UNVERIFIED_MARK}}}"
        row: EpcisEventRow = {
            "hash_id": hash_id,
            "idx": ctx.index,
            "position": event.position,
            "event_type": event.type,
            "biz_step": event.biz_step,
            "event_time": event.event_time,
            "gtin": gtin,
            "lot": lot,
            "epcs": item.epcs,
            "event": raw,
        }
        stored.append(PutRow(EPCIS_EVENT.name, (hash_id,), cast(dict[str, Any], row)))
        index.extend(item.index)
    CAPTURE_JOB.put(ledger, {"idx": ctx.index, "gln": party, "logged_at": ctx.logged_at})
    return [*ledger.changes(), *stored, *index]


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
