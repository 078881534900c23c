"""Reads over the supply-chain projection: batch pages, scan lookups, alerts, EPCIS events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from provenance.gs1 import keys as gs1
from provenance.gs1.keys import GTIN, Lot, Serial
from provenance.log.store.engine import query, query_dicts
from provenance.log.store.projection import DbView
from provenance.supply import custody, verdict
from provenance.supply.rows import BatchRow, PackRow, ProductRow
from provenance.supply.tables import KEYS


def party_names(conn: Connection) -> dict[str, str]:
    return {gln: name for gln, name in query(conn, "SELECT gln, name FROM party")}


@dataclass(kw_only=True)
class Lookup:
    """What the log knows about a scanned pack, and the verdict on it."""

    gtin: GTIN
    lot: Lot | None
    serial: Serial | None
    expiry: str | None
    verdict: verdict.Verdict
    product: ProductRow | None = None
    batch: BatchRow | None = None
    pack: PackRow | None = None
    timeline: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    holdings: list[dict[str, Any]] = field(default_factory=list)
    in_transit: int = 0

    def to_json(self, stem: str) -> dict[str, Any]:
        batch, pack = self.batch, self.pack
        return {
            **self.verdict.to_json(),
            "gtin": self.gtin,
            "lot": self.lot,
            "serial": self.serial,
            "digital_link": gs1.digital_link_uri(stem, self.gtin, self.lot, self.serial),
            "product": self.product,
            "batch": None
            if batch is None
            else {
                "expiry": batch["expiry"],
                "commissioned": batch["quantity"],
                "serialised": bool(batch["serialised"]),
                "status": batch["status"],
                "recall_reason": batch["recall_reason"],
                "held": sum(h["quantity"] for h in self.holdings),
                "in_transit": self.in_transit,
                "dispensed": batch["dispensed"],
                "destroyed": batch["destroyed"],
                "conserved": custody.conservation(
                    batch, sum(h["quantity"] for h in self.holdings), self.in_transit
                ),
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
) -> Lookup:
    """The verdict and custody timeline for a GTIN, batch and optional serial (read-only)."""
    duplicates = 0
    if serial is not None:
        ((duplicates,),) = query(
            conn,
            "SELECT count(*) FROM alert WHERE gtin = ? AND serial = ? AND kind = ? "
            "AND resolved_index IS NULL",
            (gtin, serial, "duplicate-serial"),
        )
    scanned = verdict.judge_scan(
        DbView(conn, KEYS),
        gtin=gtin,
        lot=lot,
        serial=serial,
        scanned_expiry=expiry,
        today=(today or datetime.now(UTC)).date(),
        lot_from_pack=True,
        duplicate_alerts=int(duplicates),
    )
    lot = scanned.lot
    found = Lookup(
        gtin=gtin,
        lot=lot,
        serial=serial,
        expiry=expiry,
        verdict=scanned.verdict,
        product=scanned.product,
        batch=scanned.batch,
        pack=scanned.pack,
    )
    if scanned.batch is not None:
        names = party_names(conn)
        found.timeline = [
            {
                **e,
                "serials": json.loads(e["serials"]),
                "party_name": names.get(e["party"]),
                "counterparty_name": names.get(e["counterparty"] or ""),
            }
            for e in query_dicts(
                conn,
                "SELECT idx, seq, action, party, counterparty, quantity, serials, detail, at, "
                "key_id FROM custody_event WHERE gtin = ? AND lot = ? ORDER BY idx, seq",
                (gtin, lot),
            )
        ]
        found.alerts = alerts(conn, gtin=gtin, lot=lot)
        found.holdings = [
            {**h, "name": names.get(h["gln"])}
            for h in query_dicts(
                conn,
                "SELECT gln, quantity FROM holding WHERE gtin = ? AND lot = ? AND quantity > 0 "
                "ORDER BY first_index",
                (gtin, lot),
            )
        ]
        ((transit,),) = query(
            conn,
            "SELECT coalesce(sum(quantity - received), 0) FROM shipment "
            "WHERE gtin = ? AND lot = ? AND status <> 'received'",
            (gtin, lot),
        )
        found.in_transit = int(transit)
    return found


def alerts(
    conn: Connection,
    *,
    gtin: str | None = None,
    lot: str | None = None,
    open_only: bool = False,
    limit: int = 500,
) -> list[dict[str, Any]]:
    where, params = ["1 = 1"], []
    for column, value in (("gtin", gtin), ("lot", lot)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if open_only:
        where.append("resolved_index IS NULL")
    rows = query_dicts(
        conn,
        f"SELECT * FROM alert WHERE {' AND '.join(where)} ORDER BY idx DESC, seq DESC "
        f"LIMIT {int(limit)}",
        tuple(params),
    )
    return [{"id": f"{r['idx']}-{r['seq']}", **r} for r in rows]


def open_alert_count(conn: Connection) -> int:
    ((count,),) = query(conn, "SELECT count(*) FROM alert WHERE resolved_index IS NULL")
    return int(count)


def batches(conn: Connection, limit: int = 200) -> list[dict[str, Any]]:
    return query_dicts(
        conn,
        "SELECT b.gtin, b.lot, b.expiry, b.quantity, b.status, b.serialised, p.name "
        "FROM batch b JOIN product p ON p.gtin = b.gtin "
        f"ORDER BY b.commissioned_index DESC LIMIT {int(limit)}",
    )


def serials_of(conn: Connection, gtin: str, lot: str, limit: int = 1000) -> list[str]:
    return [
        s
        for (s,) in query(
            conn,
            "SELECT serial FROM pack WHERE gtin = ? AND lot = ? "
            f"ORDER BY serial LIMIT {int(limit)}",
            (gtin, lot),
        )
    ]


def epcis_events(
    conn: Connection,
    *,
    epc: str | None = None,
    gtin: str | None = None,
    lot: str | None = None,
    biz_step: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Captured events matching every given filter, oldest first."""
    where, params = ["1 = 1"], []
    for column, value in (("gtin", gtin), ("lot", lot), ("biz_step", biz_step)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if epc is not None:
        where.append("(' ' || epcs || ' ') LIKE ?")
        params.append(f"% {epc} %")
    if since is not None:
        where.append("event_time >= ?")
        params.append(since)
    if until is not None:
        where.append("event_time < ?")
        params.append(until)
    rows = query(
        conn,
        f"SELECT event, hash_id FROM epcis_event WHERE {' AND '.join(where)} "
        f"ORDER BY event_time, idx, position LIMIT {int(limit)}",
        tuple(params),
    )
    events = []
    for raw, hash_id in rows:
        event = json.loads(raw)
        event.setdefault("eventID", hash_id)
        events.append(event)
    return events


def events_captured(conn: Connection, index: int) -> int:
    """How many EPCIS events the entry at `index` captured (duplicates are not counted)."""
    ((count,),) = query(conn, "SELECT count(*) FROM epcis_event WHERE idx = ?", (index,))
    return int(count)
