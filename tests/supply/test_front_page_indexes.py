"""The front page's batch list and open-alert count read indexes: their cost does not grow with
the number of batches or alerts, and a database made by an earlier release gains the indexes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect

from provenance.access.principal import Principal
from provenance.log.store.schema import migrate_schema
from provenance.supply import queries
from provenance.supply.tables import METADATA

REGULATOR = Principal(key_id="k", gln="0000000000017", roles=frozenset({"regulator"}))
PARTY = Principal(key_id="k", gln="0000000000003", roles=frozenset({"pharmacy"}))


def fill(conn: Any) -> None:
    conn.exec_driver_sql(
        "INSERT INTO product (gtin, name, manufacturer, form, strength, registered_index) "
        "VALUES ('09506000134352', 'P', '0000000000001', 'f', 's', 1)"
    )
    conn.exec_driver_sql(
        "INSERT INTO batch (gtin, lot, manufacturer, expiry, quantity, serialised, dispensed, "
        "destroyed, status, commissioned_index, commissioned_at) "
        "VALUES ('09506000134352', ?, ?, '281130', 10, 0, 0, 0, 'active', ?, 't')",
        [(f"L{i:05d}", f"{i % 5:013d}", i) for i in range(2000)],
    )
    conn.exec_driver_sql(
        "INSERT INTO alert (idx, seq, kind, gtin, lot, party, detail, raised_at, resolved_index) "
        "VALUES (?, 0, 'k', '09506000134352', 'L', ?, 'd', 't', ?)",
        [(i, f"{i % 5:013d}", None if i % 10 else i + 1) for i in range(2000)],
    )


def plans(conn: Any, run: Any) -> list[str]:
    """The SQLite query plans of every statement `run` makes."""
    seen: list[tuple[str, Any]] = []

    def spy(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not statement.startswith("EXPLAIN"):
            seen.append((statement, parameters))

    event.listen(conn, "before_cursor_execute", spy)
    try:
        run()
    finally:
        event.remove(conn, "before_cursor_execute", spy)
    return [
        " | ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, p))
        for sql, p in seen
    ]


def test_the_newest_batches_and_open_alerts_are_read_from_indexes(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'front.db'}")
    METADATA.create_all(engine)
    with engine.begin() as conn:
        fill(conn)
        newest = queries.batches(conn, limit=3, reader=REGULATOR)
        assert [b["commissioned_index"] for b in newest] == [1999, 1998, 1997]
        assert queries.open_alert_count(conn, REGULATOR) == 1800
        assert queries.open_alert_count(conn, PARTY) == 400
        for reader in (REGULATOR, PARTY):
            for plan in plans(conn, lambda r=reader: queries.batches(conn, limit=3, reader=r)):
                # Read newest first along the index; no sort of every batch.
                assert "TEMP B-TREE" not in plan, plan
                assert "batch_newest" in plan, plan
            for plan in plans(conn, lambda r=reader: queries.open_alert_count(conn, r)):
                assert "alert_open" in plan and "SCAN alert" not in plan, plan


def test_migrating_an_older_database_adds_the_indexes_it_lacks(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate_schema(engine, [METADATA])
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX batch_newest")
        conn.exec_driver_sql("DROP INDEX alert_open")
    assert "batch_newest" not in {i["name"] for i in inspect(engine).get_indexes("batch")}
    migrate_schema(engine, [METADATA])
    assert "batch_newest" in {i["name"] for i in inspect(engine).get_indexes("batch")}
    assert "alert_open" in {i["name"] for i in inspect(engine).get_indexes("alert")}
    migrate_schema(engine, [METADATA])  # and again: nothing to do
