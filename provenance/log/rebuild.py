"""Rebuild the projection from the log alone, and fingerprint it to show the result is identical."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from provenance.errors import Error, IntegrityError
from provenance.log import kinds as rules
from provenance.log.append import open_entry
from provenance.log.canonical import parse_json
from provenance.log.identity import EntryContext
from provenance.log.store.engine import query, query_dicts, write_transaction
from provenance.log.store.projection import DbView
from provenance.supply.custody import PRIMARY_KEYS


def projection_tables() -> dict[str, tuple[str, ...]]:
    """Every projection table with the columns that order it (kinds registered so far); the
    log tables and off-log payloads are never touched."""
    kept = {t: k for t, k in PRIMARY_KEYS.items() if t not in OFF_LOG_TABLES}
    return {"party": ("gln",), "party_key": ("key_id",), **kept}


#: Tables keyed like projection rows whose contents do not come from the log (payload bytes).
OFF_LOG_TABLES = frozenset({"trial_payload"})
PAGE = 2000


@dataclass(frozen=True)
class RebuildReport:
    entries: int
    before: str
    after: str

    @property
    def identical(self) -> bool:
        return self.before == self.after


def projection_digest(conn: Connection) -> str:
    """SHA-256 over every projection row in key order (bytes as hex, so both databases agree)."""
    digest = hashlib.sha256()
    for table, order in projection_tables().items():
        for row in query_dicts(conn, f"SELECT * FROM {table} ORDER BY {', '.join(order)}"):
            values = {
                k: v.hex() if isinstance(v, bytes | memoryview) else v
                for k, v in sorted(row.items())
            }
            digest.update(table.encode() + json.dumps(values, default=str).encode() + b"\n")
    return digest.hexdigest()


def rebuild(engine: Engine, progress: Callable[[int], None] | None = None) -> RebuildReport:
    """Empty the projection and replay every entry through the rules, in one transaction."""
    with write_transaction(engine) as conn:
        before = projection_digest(conn)
        for table in reversed(projection_tables()):
            conn.exec_driver_sql(f"DELETE FROM {table}")
        view = DbView(conn)
        done, last = 0, -1
        while True:
            rows = query(
                conn,
                f"SELECT idx, data FROM log_entry WHERE idx > ? ORDER BY idx LIMIT {PAGE}",
                (last,),
            )
            if not rows:
                break
            for idx, data in rows:
                entry = parse_json(bytes(data))
                _, statement = open_entry(conn, entry)
                ctx = EntryContext(int(idx), str(entry["logged_at"]))
                try:
                    view.apply(rules.evaluate(view, statement, ctx))
                except Error as exc:
                    raise IntegrityError(
                        f"entry {idx} no longer applies on replay: {exc.detail}", index=int(idx)
                    ) from exc
                last = int(idx)
            done += len(rows)
            if progress is not None:
                progress(len(rows))
        after = projection_digest(conn)
    return RebuildReport(done, before, after)
