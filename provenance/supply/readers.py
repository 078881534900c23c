"""Who reads what of the supply chain: its public kinds, the parties a statement names, and the
parties that handled a batch."""

from __future__ import annotations

from sqlalchemy import Connection

from provenance.access.principal import Principal
from provenance.epcis.document import parse_epcis_document
from provenance.errors import Error
from provenance.log.statements import Statement
from provenance.log.store.engine import query
from provenance.supply import capture

#: Kinds whose entries anyone may read: what they say is meant for everyone.
PUBLIC_KINDS = frozenset(
    {
        # Which manufacturer holds a GS1 company prefix: anyone checking a product's registration
        # needs it, as anyone checking a signature needs the parties' keys.
        "prefix.assign",
        # A product's name, form, strength and NDC are printed on every pack of it.
        "product.register",
        # A recall must reach whoever holds a pack, in the chain or not (patients too).
        "batch.recall",
    }
)

#: The body member that names the other party of a statement, by kind.
_COUNTERPARTY = {
    "custody.ship": "to",
    "custody.return": "to",
    "custody.receive": "from",
    "custody.receive-remainder": "from",
    "custody.recall-return": "to",
}


def named_parties(statement: Statement, conn: Connection | None = None) -> list[str]:
    """The GLNs a supply statement names besides its signer: a shipment's recipient, a receipt's
    sender, the source and destination parties of a captured EPCIS document's events."""
    if statement.kind == capture.KIND:
        try:
            events = statement.decoded or parse_epcis_document(statement.body)
        except Error:
            return []  # not an EPCIS document: it names nobody
        uris = (uri for event in events for _, uri in (*event.sources, *event.destinations))
        return [gln for uri in uris if (gln := capture.party_gln(uri)) is not None]
    member = _COUNTERPARTY.get(statement.kind)
    return [str(statement.body[member])] if member else []


#: A batch `b` that the party (the parameter, given three times) took part in: it made the
#: batch, held some of it (a holding stays, at 0, once a party held any) or was shipped some. A
#: signed scan alone does not count: any party may sign a scan of any pack.
HANDLED_BY = (
    "(b.manufacturer = ? "
    "OR EXISTS (SELECT 1 FROM holding h WHERE h.gtin = b.gtin AND h.lot = b.lot AND h.gln = ?) "
    "OR EXISTS (SELECT 1 FROM shipment s WHERE s.gtin = b.gtin AND s.lot = b.lot "
    "AND s.recipient = ?))"
)


def limited_to(reader: Principal | None) -> str | None:
    """The party whose own rows a list shows `reader`: None (everything) for regulators and the
    operator's tools; for anyone else its GLN, or one no party has."""
    if reader is None or reader.regulator:
        return None
    return reader.gln or ""


def handled(conn: Connection, gln: str, gtin: str, lot: str) -> bool:
    """Whether the party handled the batch (see HANDLED_BY): three lookups by key."""
    sql = f"SELECT 1 FROM batch b WHERE b.gtin = ? AND b.lot = ? AND {HANDLED_BY}"
    return bool(query(conn, sql, (gtin, lot, gln, gln, gln)))


def sees_custody(conn: Connection, who: Principal, gtin: str, lot: str | None) -> bool:
    """Whether `who` reads a batch's custody (timeline, holdings, alerts, shipments): regulators
    and the parties that handled it."""
    if who.regulator:
        return True
    return who.gln is not None and lot is not None and handled(conn, who.gln, gtin, lot)


def made(conn: Connection, gln: str, gtin: str, lot: str) -> bool:
    """Whether the party is the batch's manufacturer."""
    sql = "SELECT 1 FROM batch WHERE gtin = ? AND lot = ? AND manufacturer = ?"
    return bool(query(conn, sql, (gtin, lot, gln)))
