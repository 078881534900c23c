"""Rebuild the projection from the log alone, and fingerprint it to show the result is identical."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.exc import SQLAlchemyError

from provenance.errors import Error
from provenance.log.canonical import parse_json
from provenance.log.entries import open_entry
from provenance.log.errors import IntegrityError, ReadOnly
from provenance.log.personality import IDENTITY_TABLES, Registry
from provenance.log.profile import LogProfile, entry_context, genesis_profile
from provenance.log.store import logdb, shadow
from provenance.log.store.engine import (
    exclusive_transaction,
    is_read_only,
    query_dicts,
    read_connection,
)
from provenance.log.store.projection import DbView
from provenance.log.store.tables import METADATA

PAGE = 2000
#: Rounds that replay what was appended during the previous one before the lock is taken.
UNLOCKED_ROUNDS = 4


def projection_tables(registry: Registry) -> dict[str, tuple[str, ...]]:
    """Every projection table with the columns that order it: the identity tables, then each
    personality's; the log tables and off-log tables are never touched."""
    return {**IDENTITY_TABLES, **registry.projection}


@dataclass(frozen=True)
class RebuildReport:
    entries: int
    before: str
    after: str
    #: Entries replayed with the append lock held: those appended after the last unlocked round.
    caught_up: int = 0
    #: How long appends had to wait for the rebuild (replaying those entries and the swap).
    locked_seconds: float = 0.0

    @property
    def identical(self) -> bool:
        return self.before == self.after


def projection_digest(
    conn: Connection, registry: Registry, stored_as: Mapping[str, str] | None = None
) -> str:
    """SHA-256 over every projection row in key order (bytes as hex, so both databases agree);
    `stored_as` names tables stored under another name (a rebuild's shadow tables)."""
    digest = hashlib.sha256()
    names = stored_as or {}
    for table, order in projection_tables(registry).items():
        stored = names.get(table, table)
        for row in query_dicts(conn, f"SELECT * FROM {stored} ORDER BY {', '.join(order)}"):
            values = {
                k: v.hex() if isinstance(v, bytes | memoryview) else v
                for k, v in sorted(row.items())
            }
            digest.update(table.encode() + json.dumps(values, default=str).encode() + b"\n")
    return digest.hexdigest()


def rebuild(
    engine: Engine,
    registry: Registry,
    progress: Callable[[int], None] | None = None,
    *,
    page: int = PAGE,
) -> RebuildReport:
    """Replay every entry through the rules into shadow tables, then swap them in.

    The entries the log holds when the rebuild starts, then those appended meanwhile, are
    replayed while appends go on; the append lock is taken only to replay the last few and to
    make each projection table equal its shadow, in one transaction: readers see the old
    projection until it commits, then the new one. `progress` is called between transactions
    with the number of entries replayed since; whatever raises (a rule, `progress`) leaves the
    live projection as it was and drops the shadow tables.
    """
    if is_read_only(engine):  # before the replay, not after it
        raise ReadOnly("a read-only server cannot rebuild its projection")
    tables = shadow.definitions((METADATA, *registry.metadata), projection_tables(registry))
    with engine.connect() as conn:
        try:
            return _rebuild(engine, conn, registry, tables, progress, page)
        finally:
            _drop_shadow(conn, tables)


def _rebuild(
    engine: Engine,
    conn: Connection,
    registry: Registry,
    tables: Mapping[str, Table],
    progress: Callable[[int], None] | None,
    page: int,
) -> RebuildReport:
    with conn.begin():
        stored_as = shadow.create(conn, tables)
    replay = _Replay(conn, registry, stored_as)
    # The log as it is now, then what was appended meanwhile, until a round finds nothing new:
    # the append lock is left for the entries of the last moments.
    for _ in range(UNLOCKED_ROUNDS):
        with conn.begin():
            size = logdb.tree_size(conn)
        if size == replay.next_index:
            break
        _replay_unlocked(conn, replay, size, progress, page)
    unlocked = replay.next_index
    with contextlib.ExitStack() as later:
        with exclusive_transaction(engine, conn):
            locked_at = time.perf_counter()
            for entries in logdb.entry_pages(conn, page, unlocked):
                replay.apply(entries)
            DbView(conn, registry.key_columns).apply(replay.off_log)
            changed = shadow.swap(conn, tables)
            replaced = None
            if changed:
                # The projection being replaced, read once the lock is released.
                replaced = later.enter_context(read_connection(engine))
                logdb.tree_size(replaced)  # takes the snapshot now
        locked = time.perf_counter() - locked_at
        caught_up = replay.next_index - unlocked
        if caught_up and progress is not None:
            progress(caught_up)
        with conn.begin():
            after = projection_digest(conn, registry, stored_as)
        before = after if replaced is None else projection_digest(replaced, registry)
    return RebuildReport(replay.next_index, before, after, caught_up, locked)


def _replay_unlocked(
    conn: Connection,
    replay: _Replay,
    end: int,
    progress: Callable[[int], None] | None,
    page: int,
) -> None:
    """Replay the entries up to `end` in a transaction a page: no snapshot stays open, no lock
    is taken on the log, and `progress` runs between them."""
    pages = logdb.entry_pages(conn, page, replay.next_index, end)
    while True:
        with conn.begin():
            entries = next(pages, None)
            if entries is not None:
                replay.apply(entries)
        if entries is None:
            return
        if progress is not None:
            progress(len(entries))


class _Replay:
    """Entries replayed in order into the shadow tables; changes to off-log tables are kept
    for the live tables, written only under the append lock."""

    def __init__(self, conn: Connection, registry: Registry, stored_as: Mapping[str, str]) -> None:
        self.conn = conn
        self.registry = registry
        self.view = _ShadowView(conn, registry.key_columns, stored_as)
        self.profile: LogProfile | None = None
        self.next_index = 0

    @property
    def off_log(self) -> list[object]:
        return self.view.off_log

    def apply(self, entries: Sequence[logdb.StoredEntry]) -> None:
        for idx, _leaf, data in entries:
            if idx != self.next_index:
                raise IntegrityError(f"entry {self.next_index} is missing", index=self.next_index)
            entry = parse_json(data)
            _, statement = open_entry(self.conn, entry, self.registry)
            ctx = entry_context(idx, str(entry["logged_at"]), self.profile, statement.body)
            try:
                self.view.apply(self.registry.evaluate(self.view, statement, ctx))
                if idx == 0:
                    self.profile = genesis_profile(statement.body)
            except Error as exc:
                raise IntegrityError(
                    f"entry {idx} no longer applies on replay: {exc.detail}", index=idx
                ) from exc
            self.next_index = idx + 1


class _ShadowView(DbView):
    """The projection as its shadow tables hold it; off-log tables are read live."""

    def __init__(
        self,
        conn: Connection,
        key_columns: Mapping[str, tuple[str, ...]],
        stored_as: Mapping[str, str],
    ) -> None:
        super().__init__(conn, dict(key_columns), stored_as)
        self.off_log: list[object] = []

    def apply(self, changes: Sequence[object]) -> None:
        # Off-log rows (an erasure emptying a trial payload) are not rebuilt: their changes are
        # made again to the live rows, where they are no-ops unless those rows had drifted.
        projection: list[object] = []
        for change in changes:
            table = getattr(change, "table", None)  # identity changes name none: projection
            if table is not None and table not in self.stored_as:
                self.off_log.append(change)
            else:
                projection.append(change)
        super().apply(projection)


def _drop_shadow(conn: Connection, tables: Mapping[str, Table]) -> None:
    try:
        with conn.begin():
            shadow.drop(conn, tables)
    except SQLAlchemyError:
        conn.invalidate()  # closing the connection drops its temporary tables
