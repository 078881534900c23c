"""Reads over the supply-chain projection: batch pages, scan lookups, alerts (EPCIS events:
`event_queries`).

Each read takes the `reader` it answers (a Principal) and gives it only what it may see (see
`readers`); None is the operator's own tools, which see everything.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection

from provenance.access.principal import Principal
from provenance.errors import Error
from provenance.gs1 import keys as gs1
from provenance.gs1.keys import GTIN, Lot, Serial
from provenance.log.canonical import parse_json
from provenance.log.store import logdb
from provenance.log.store.engine import query, query_dicts
from provenance.supply import custody, verdict
from provenance.supply.readers import HANDLED_BY, limited_to
from provenance.supply.rows import BatchRow, PackRow, ProductRow
from provenance.supply.scanned_rows import SCANNED, Found, prefixed, unprefixed


@dataclass(kw_only=True)
class Lookup:
    """What the log knows about a scanned pack, and the verdict on it."""

    gtin: GTIN
    lot: Lot | None
    serial: Serial | None
    expiry: str | None
    verdict: verdict.Verdict
    product: ProductRow | None = None
    manufacturer_name: str | None = None
    batch: BatchRow | None = None
    pack: PackRow | None = None
    timeline: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    holdings: list[dict[str, Any]] = field(default_factory=list)
    in_transit: int = 0
    #: Whether the reader sees the batch's custody; if not, the answer is the public one.
    full: bool = True

    def to_json(self, stem: str) -> dict[str, Any]:
        """The verdict and the public facts; the batch's custody too if the reader sees it."""
        batch = self.batch
        answer: dict[str, Any] = {
            **self.verdict.to_json(full=self.full),
            "view": "full" if self.full else "public",
            "gtin": self.gtin,
            "lot": self.lot,
            "serial": self.serial,
            "digital_link": gs1.digital_link_uri(stem, self.gtin, self.lot, self.serial),
            # A product's facts come from its public registration, its maker's name with them.
            "product": None
            if self.product is None
            else {**self.product, "manufacturer_name": self.manufacturer_name},
            # What is printed on the pack, and whether the batch is recalled.
            "batch": None
            if batch is None
            else {
                "expiry": batch["expiry"],
                "status": batch["status"],
                "recall_reason": batch["recall_reason"],
            },
        }
        return {**answer, **self._custody(answer["batch"])} if self.full else answer

    def _custody(self, public: dict[str, Any] | None) -> dict[str, Any]:
        """The batch's counts, the pack's state and holder, holdings, timeline and alerts."""
        batch, pack = self.batch, self.pack
        held = sum(h["quantity"] for h in self.holdings)
        written_off = sum(e["quantity"] for e in self.timeline if e["action"] == "write-off")
        return {
            "batch": None
            if batch is None
            else {
                **(public or {}),
                "commissioned": batch["quantity"],
                "serialised": bool(batch["serialised"]),
                "held": held,
                "in_transit": self.in_transit,
                "dispensed": batch["dispensed"],
                "destroyed": batch["destroyed"],
                "written_off": written_off,
                "conserved": custody.conservation(batch, held, self.in_transit, written_off),
            },
            "pack": None
            if pack is None
            else {
                "state": pack["state"],
                "holder": pack["holder"],
                "state_by": pack["state_by"],
                "state_at": pack["state_at"],
            },
            "holdings": self.holdings,
            "timeline": self.timeline,
            "alerts": self.alerts,
        }


def lookup(
    conn: Connection,
    gtin: GTIN,
    lot: Lot | None,
    serial: Serial | None,
    *,
    expiry: str | None = None,
    today: datetime | None = None,
    reader: Principal | None = None,
) -> Lookup:
    """The verdict for a GTIN, batch and optional serial (read-only), with the batch's custody
    timeline for a reader that may see it."""
    gln = None if reader is None else reader.gln
    (row,) = query_dicts(
        conn, SCANNED, (gtin, serial, gln, gln, gln, gtin, gtin, serial, gtin, lot)
    )
    rows = Found(
        {t: unprefixed(row, a, t) for a, t in (("p", "product"), ("k", "pack"), ("b", "batch"))}
    )
    scanned = verdict.judge_scan(
        rows,
        gtin=gtin,
        lot=lot,
        serial=serial,
        scanned_expiry=expiry,
        today=(today or datetime.now(UTC)).date(),
        lot_from_pack=True,
        duplicate_alerts=int(row["duplicates"]),
    )
    lot = scanned.lot
    found = Lookup(
        gtin=gtin,
        lot=lot,
        serial=serial,
        expiry=expiry,
        verdict=scanned.verdict,
        product=scanned.product,
        manufacturer_name=None if scanned.product is None else row["maker_name"],
        batch=scanned.batch,
        pack=scanned.pack,
        full=reader is None or reader.regulator or (lot is not None and bool(row["handled"])),
    )
    if scanned.batch is not None and found.full:
        # The names come with the rows that name the parties: no read of the party table whole.
        found.timeline = [
            {**e, "serials": json.loads(e["serials"])}
            for e in query_dicts(
                conn,
                "SELECT e.idx, e.seq, e.action, e.party, e.counterparty, e.quantity, e.serials, "
                "e.detail, e.at, e.key_id, a.name AS party_name, c.name AS counterparty_name "
                "FROM custody_event e LEFT JOIN party a ON a.gln = e.party "
                "LEFT JOIN party c ON c.gln = e.counterparty "
                "WHERE e.gtin = ? AND e.lot = ? ORDER BY e.idx, e.seq",
                (gtin, lot),
            )
        ]
        found.alerts = alerts(conn, gtin=gtin, lot=lot)
        found.holdings = query_dicts(
            conn,
            "SELECT h.gln, h.quantity, p.name FROM holding h LEFT JOIN party p ON p.gln = h.gln "
            "WHERE h.gtin = ? AND h.lot = ? AND h.quantity > 0 ORDER BY h.first_index",
            (gtin, lot),
        )
        found.in_transit = int(row["in_transit"])
    return found


def product_lookup(conn: Connection, gtin: GTIN) -> Lookup:
    """The answer to a GTIN alone: the product's public facts, if it is registered."""
    found = query_dicts(
        conn,
        "SELECT "
        + ", ".join(prefixed("p", "product"))
        + ", m.name AS maker_name FROM product p LEFT JOIN party m ON m.gln = p.manufacturer "
        "WHERE p.gtin = ?",
        (gtin,),
    )
    product = None if not found else cast(ProductRow, unprefixed(found[0], "p", "product"))
    return Lookup(
        gtin=gtin,
        lot=None,
        serial=None,
        expiry=None,
        verdict=verdict.judge_product(product),
        product=product,
        manufacturer_name=found[0]["maker_name"] if found else None,
        full=False,
    )


def leaflet(conn: Connection, product: ProductRow) -> str | None:
    """The patient leaflet's address the product's registration carries, if any: read from the
    registration entry itself, which anyone may read (`product.register` is a public kind)."""
    data = logdb.entry_data(conn, product["registered_index"])
    if data is None:
        return None
    try:
        payload = parse_json(data)["envelope"]["payload"]
        statement = parse_json(base64.b64decode(payload, validate=True))
    except (Error, KeyError, TypeError, ValueError, binascii.Error):
        return None  # a detached payload: registrations are never stored that way
    body = statement.get("body") if isinstance(statement, dict) else None
    link = body.get("leaflet") if isinstance(body, dict) else None
    return link if isinstance(link, str) else None


#: Where a page of alerts ended: (entry index, position in the entry) of its last alert.
AlertKey = tuple[int, int]
#: Where a page of batches ended: (commissioning entry, GTIN, lot) of its last batch.
BatchKey = tuple[int, str, str]


def alerts(
    conn: Connection,
    *,
    gtin: str | None = None,
    lot: str | None = None,
    open_only: bool = False,
    limit: int | None = None,
    after: AlertKey | None = None,
    reader: Principal | None = None,
) -> list[dict[str, Any]]:
    """Alerts, newest first, after the alert `after` names; a party reads those raised at it, a
    regulator all."""
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    for column, value in (("gtin", gtin), ("lot", lot), ("party", limited_to(reader))):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if open_only:
        where.append("resolved_index IS NULL")
    if after is not None:
        where.append("(idx < ? OR (idx = ? AND seq < ?))")
        params += [after[0], after[0], after[1]]
    rows = query_dicts(
        conn,
        f"SELECT * FROM alert WHERE {' AND '.join(where)} ORDER BY idx DESC, seq DESC"
        + ("" if limit is None else f" LIMIT {int(limit)}"),
        tuple(params),
    )
    return [{"id": f"{r['idx']}-{r['seq']}", **r} for r in rows]


def alert_key(alert: dict[str, Any]) -> AlertKey:
    return int(alert["idx"]), int(alert["seq"])


def open_alert_count(conn: Connection, reader: Principal | None = None) -> int:
    """How many alerts are open: at the reader's party, or (regulators) anywhere."""
    gln = limited_to(reader)
    where, params = ("", ()) if gln is None else (" AND party = ?", (gln,))
    sql = f"SELECT count(*) FROM alert WHERE resolved_index IS NULL{where}"
    ((count,),) = query(conn, sql, params)
    return int(count)


def batches(
    conn: Connection,
    limit: int = 200,
    reader: Principal | None = None,
    after: BatchKey | None = None,
) -> list[dict[str, Any]]:
    """The newest batches, after the batch `after` names; a party reads those it handled, a
    regulator all."""
    gln = limited_to(reader)
    where: list[str] = [] if gln is None else [HANDLED_BY]
    params: list[Any] = [] if gln is None else [gln, gln, gln]
    if after is not None:
        # Several batches may be commissioned by one entry (an EPCIS capture): GTIN and lot
        # order them within it.
        where.append("(b.commissioned_index, b.gtin, b.lot) < (?, ?, ?)")
        params += list(after)
    condition = f"WHERE {' AND '.join(where)} " if where else ""
    return query_dicts(
        conn,
        "SELECT b.gtin, b.lot, b.expiry, b.quantity, b.status, b.serialised, p.name, "
        f"b.commissioned_index FROM batch b JOIN product p ON p.gtin = b.gtin {condition}"
        "ORDER BY b.commissioned_index DESC, b.gtin DESC, b.lot DESC "
        f"LIMIT {int(limit)}",
        tuple(params),
    )


def batch_key(batch: dict[str, Any]) -> BatchKey:
    return int(batch["commissioned_index"]), str(batch["gtin"]), str(batch["lot"])


def serials_of(
    conn: Connection, gtin: str, lot: str, limit: int, after: str | None = None
) -> list[str]:
    """Up to `limit` serials of a batch, in order, after the serial `after`."""
    where, params = ("", (gtin, lot)) if after is None else (" AND serial > ?", (gtin, lot, after))
    return [
        s
        for (s,) in query(
            conn,
            f"SELECT serial FROM pack WHERE gtin = ? AND lot = ?{where} "
            f"ORDER BY serial LIMIT {int(limit)}",
            params,
        )
    ]
