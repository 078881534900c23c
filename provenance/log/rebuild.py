"""Rebuild the projection from the log alone, and fingerprint it to show the result is identical."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from provenance.errors import Error
from provenance.log.canonical import parse_json
from provenance.log.entries import open_entry
from provenance.log.errors import IntegrityError
from provenance.log.personality import IDENTITY_TABLES, Registry
from provenance.log.profile import LogProfile, entry_context, genesis_profile
from provenance.log.store import logdb
from provenance.log.store.engine import query_dicts, write_transaction
from provenance.log.store.projection import DbView

PAGE = 2000


def projection_tables(registry: Registry) -> dict[str, tuple[str, ...]]:
    """Every projection table with the columns that order it: the identity tables, then each
    personality's; the log tables and off-log tables are never touched."""
    return {**IDENTITY_TABLES, **registry.projection}


@dataclass(frozen=True)
class RebuildReport:
    entries: int
    before: str
    after: str

    @property
    def identical(self) -> bool:
        return self.before == self.after


def projection_digest(conn: Connection, registry: Registry) -> str:
    """SHA-256 over every projection row in key order (bytes as hex, so both databases agree)."""
    digest = hashlib.sha256()
    for table, order in projection_tables(registry).items():
        for row in query_dicts(conn, f"SELECT * FROM {table} ORDER BY {', '.join(order)}"):
            values = {
                k: v.hex() if isinstance(v, bytes | memoryview) else v
                for k, v in sorted(row.items())
            }
            digest.update(table.encode() + json.dumps(values, default=str).encode() + b"\n")
    return digest.hexdigest()


def rebuild(
    engine: Engine, registry: Registry, progress: Callable[[int], None] | None = None
) -> RebuildReport:
    """Empty the projection and replay every entry through the rules, in one transaction."""
    with write_transaction(engine) as conn:
        before = projection_digest(conn, registry)
        for table in reversed(projection_tables(registry)):
            conn.exec_driver_sql(f"DELETE FROM {table}")
        view = DbView(conn, registry.key_columns)
        done = 0
        profile: LogProfile | None = None
        for page in logdb.entry_pages(conn, PAGE):
            for idx, _leaf, data in page:
                entry = parse_json(data)
                _, statement = open_entry(conn, entry, registry)
                ctx = entry_context(idx, str(entry["logged_at"]), profile, statement.body)
                try:
                    view.apply(registry.evaluate(view, statement, ctx))
                    if idx == 0:
                        profile = genesis_profile(statement.body)
                except Error as exc:
                    raise IntegrityError(
                        f"entry {idx} no longer applies on replay: {exc.detail}", index=idx
                    ) from exc
            done += len(page)
            if progress is not None:
                progress(len(page))
        after = projection_digest(conn, registry)
    return RebuildReport(done, before, after)
