"""One lookup before the verdict: a signed scan and the resolver read and judge rows alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Connection, create_engine

from provenance.gs1.keys import GLN, GTIN, Lot, Serial
from provenance.log.ledger import Ledger, RowView
from provenance.log.store.projection import DbView, MemoryView
from provenance.supply import operations, pack_events, verdict
from provenance.supply.tables import KEYS, METADATA
from tests.supply.replay import KEY_ID, Replay

PRODUCT = GTIN("09506000134352")
UNREGISTERED = GTIN("00307773105025")
MAKER = GLN("5412345000013")
AT = "2026-11-01T00:00:00.000Z"
TODAY = date(2026, 11, 1)


@pytest.fixture(scope="module")
def projection() -> MemoryView:
    """A batch with a dispensed, a stolen and two plain packs; another batch; a recalled and an
    expired unserialised batch."""
    replay = Replay(AT)
    replay.register_product(PRODUCT, MAKER)
    batches = {
        "L1": ("301231", ["S0", "S1", "S2", "S3"]),
        "L2": ("301231", ["T0"]),
        "R1": ("301231", []),
        "OLD": ("200131", []),
    }
    for lot, (expiry, serials) in batches.items():
        assert replay.run(
            operations.commission,
            party=MAKER,
            gtin=PRODUCT,
            lot=Lot(lot),
            expiry=expiry,
            quantity=0 if serials else 5,
            serials=[Serial(s) for s in serials],
        )
    assert replay.run(
        operations.recall,
        party=MAKER,
        roles=("manufacturer",),
        gtin=PRODUCT,
        lot=Lot("R1"),
        reason="sterility",
    )
    moved = {"gtin": PRODUCT, "lot": Lot("L1"), "party": MAKER}
    assert replay.run(operations.dispense, **moved, quantity=0, serials=[Serial("S0")], today=AT)
    assert replay.run(pack_events.pack_state, **moved, serials=[Serial("S1")], state="stolen")
    return replay.view


@pytest.fixture(scope="module")
def database(projection: MemoryView) -> Iterator[Connection]:
    """The same projection rows in SQL tables."""
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        METADATA.create_all(conn)
        for table, rows in projection.tables.items():
            conn.execute(METADATA.tables[table].insert(), list(rows.values()))
        yield conn
    engine.dispose()


CASES = [
    # lot, serial, scanned expiry, lot from the pack, verdict
    ("L1", "S2", None, False, "authentic"),
    ("L1", "S0", None, False, "dispensed"),
    ("L1", "S1", None, False, "suspect"),  # stolen
    ("L1", "S2", "301130", False, "suspect"),  # expiry mismatch
    ("L1", "FORGED", None, False, "unknown"),
    ("L2", "S2", None, False, "unknown"),  # a pack of another batch
    (None, "S2", None, False, "unknown"),  # a signed scan is judged on the lot it states
    (None, "S2", None, True, "authentic"),  # the resolver takes the pack's lot
    ("L2", "S2", None, True, "unknown"),  # ... but not over a lot that was scanned
    ("R1", None, None, False, "recalled"),
    ("OLD", None, None, False, "expired"),
    ("NOLOT", None, None, False, "unknown"),
    (None, None, None, True, "unknown"),
]


def judged(
    rows: Ledger | RowView,
    lot: str | None,
    serial: str | None,
    *,
    gtin: GTIN = PRODUCT,
    expiry: str | None = None,
    lot_from_pack: bool = False,
) -> verdict.Scanned:
    return verdict.judge_scan(
        rows,
        gtin=gtin,
        lot=None if lot is None else Lot(lot),
        serial=None if serial is None else Serial(serial),
        scanned_expiry=expiry,
        today=TODAY,
        lot_from_pack=lot_from_pack,
    )


@pytest.mark.parametrize(("lot", "serial", "expiry", "lot_from_pack", "code"), CASES)
def test_ledger_and_database_give_the_same_verdict(
    projection: MemoryView,
    database: Connection,
    lot: str | None,
    serial: str | None,
    expiry: str | None,
    lot_from_pack: bool,
    code: str,
) -> None:
    scan = {"expiry": expiry, "lot_from_pack": lot_from_pack}
    through_ledger = judged(Ledger(projection, 100, AT, KEY_ID), lot, serial, **scan)
    through_database = judged(DbView(database, KEYS), lot, serial, **scan)
    assert through_ledger == through_database  # the same rows, lot and verdict
    assert through_ledger.verdict.code == code


def test_an_unregistered_product_is_unknown_either_way(
    projection: MemoryView, database: Connection
) -> None:
    for rows in (Ledger(projection, 100, AT, KEY_ID), DbView(database, KEYS)):
        found = judged(rows, "L1", "S2", gtin=UNREGISTERED)
        assert (found.product, found.batch, found.pack) == (None, None, None)
        assert found.verdict.alerts[0][0] == "unknown-product"


def test_the_resolver_finds_the_batch_of_a_serial(database: Connection) -> None:
    found = judged(DbView(database, KEYS), None, "S1", lot_from_pack=True)
    assert found.lot == "L1"
    assert found.batch is not None and found.batch["lot"] == "L1"
    assert found.pack is not None and found.pack["state"] == "stolen"
