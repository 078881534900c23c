"""HTML pages: the log's front page with its checkpoint, parties and latest entries."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from provenance.log import reader
from provenance.log.append import ENTRY_TABLE
from provenance.log.store.engine import read_connection
from provenance.log.store.projection import DbView
from provenance.supply import queries as supply_queries
from provenance.web import service

bp = Blueprint("pages", __name__, template_folder="templates")
LATEST = 25


@bp.get("/")
def index() -> str:
    with read_connection(service().engine) as conn:
        latest = reader.latest_checkpoint(conn)
        view = DbView(conn)
        parties = view.parties()
        names = {k.key_id: p.name for p in parties for k in view.keys_of(p.gln)}
        batches = supply_queries.batches(conn, limit=LATEST)
        open_alerts = supply_queries.open_alert_count(conn)
        rows = conn.execute(
            select(
                ENTRY_TABLE.c.idx,
                ENTRY_TABLE.c.kind,
                ENTRY_TABLE.c.signer,
                ENTRY_TABLE.c.logged_at,
                ENTRY_TABLE.c.leaf_hash,
            )
            .order_by(ENTRY_TABLE.c.idx.desc())
            .limit(LATEST)
        ).all()
    entries = [
        {
            "index": r[0],
            "kind": r[1],
            "signer": names.get(r[2], r[2][:16]),
            "logged_at": r[3],
            "leaf_hash": bytes(r[4]).hex(),
        }
        for r in rows
    ]
    return render_template(
        "index.html",
        origin=service().settings.origin,
        checkpoint=latest,
        verifier_key=service().verifier_key() if latest else None,
        parties=parties,
        entries=entries,
        batches=batches,
        open_alerts=open_alerts,
    )
