"""A log written by release 0.1.0 verifies, decodes byte for byte and rebuilds identically."""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from provenance.log.canonical import parse_json
from provenance.log.entries import ZERO_HASH_HEX, entry_bytes, open_entry
from provenance.log.errors import LogNotInitialised
from provenance.log.note import parse_verifier_key
from provenance.log.rebuild import projection_digest, rebuild
from provenance.log.service import Service
from provenance.log.settings import Settings
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection, write_transaction
from provenance.log.verify import verify_log
from provenance.plugins import load_plugins
from tests.paths import TESTS

FIXTURE = TESTS / "log" / "fixtures" / "release-0.1.0.db.gz"
# Recorded by release 0.1.0 when it wrote the fixture (see fixtures/SOURCE.md).
VERIFIER_KEY = "provenance.local/log+bae53aba+AQWntNKWa9TumLjEW21HDeANzTkdx4FAHq+HcTRRRD4S"
ROOT = "87f6774fef1deb6b0a8147850a066344a82a814ceb0a181cddd57602c01ab7a2"
FINGERPRINT = "52c09ae2df74eb72c310f5a3d32acbfc57260ef556cbb35b3484016c1c1f92df"
#: The same projection rebuilt today: with the `epcis_epc` index (EPCs and the other query
#: fields) of its two EPCIS captures, their capture jobs, and the EPCIS events its custody
#: statements imply.
REBUILT = "eb6eee07b096c454ba4175ca23487e8b280325f6571a6490f411ea165c982efa"
KINDS = {
    "alert.resolve": 1,
    "attestation": 7,
    "batch.commission": 4,
    "batch.recall": 1,
    "consent.record": 1,
    "consent.withdraw": 1,
    "custody.destroy": 1,
    "custody.dispense": 1,
    "custody.receive": 5,
    "custody.return": 1,
    "custody.ship": 5,
    "dataset.amend": 1,
    "dataset.submit": 1,
    "epcis.capture": 2,
    "key.revoke": 1,
    "key.rotate": 1,
    "log.genesis": 1,
    "pack.state": 1,
    "party.register": 10,
    "payload.erase": 1,
    "product.register": 2,
    "protocol.commit": 2,
    "results.report": 1,
    "scan.record": 1,
    "subject.enrol": 1,
    "trial.lock": 1,
    "trial.register": 1,
    "trial.unlock": 1,
}
#: Kinds added after release 0.1.0, so absent from its log.
NEWER_KINDS = {
    "prefix.assign",
    "person.register",
    "person.suspend",
    "person.reinstate",
    "custody.receive-remainder",
    "custody.recall-return",
    "custody.write-off",
}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    """The fixture's database with today's code and plug-ins, and no key files at all."""
    database = tmp_path / "release.db"
    with gzip.open(FIXTURE) as packed, database.open("wb") as out:
        shutil.copyfileobj(packed, out)
    settings = Settings.from_config(
        {"DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{database}"}
    )
    svc = Service(settings, load_plugins().registry)
    # A database from before schema versions: the server would refuse it until migrated.
    assert svc.schema.version is None and svc.schema.problem() is not None
    svc.migrate()
    assert svc.schema.problem() is None
    yield svc
    svc.close()


def test_it_holds_every_kind_of_the_installed_plugins(service: Service) -> None:
    with read_connection(service.engine) as conn:
        found: dict[str, int] = {}
        for page in logdb.entry_pages(conn):
            for entry in page:
                kind = logdb.entry_facts(conn, [entry.idx])[entry.idx][0]
                found[kind] = found.get(kind, 0) + 1
    assert found == KINDS
    assert set(found) | NEWER_KINDS == {*service.registry.kinds, "log.genesis"}


def test_it_verifies_with_the_public_key_alone(service: Service) -> None:
    with pytest.raises(LogNotInitialised):
        service.log  # noqa: B018  (no private key: this log cannot sign, only be checked)
    verifier = parse_verifier_key(VERIFIER_KEY)
    report = verify_log(service.engine, service.registry, verifier, "provenance.local/log")
    assert report.ok, report.summary()
    assert (report.entries, report.signatures, report.checkpoints, report.nodes) == (
        57,
        57,
        30,
        110,
    )
    with read_connection(service.engine) as conn:
        latest = logdb.latest_checkpoint(conn)
    assert latest is not None and (latest.size, latest.root_hash.hex()) == (57, ROOT)


def test_every_entry_reencodes_to_its_stored_bytes(service: Service) -> None:
    """Today's entry format is byte-identical: decoding an entry and encoding it again with
    `entry_bytes` gives exactly the bytes its leaf hash covers."""
    prev = ZERO_HASH_HEX
    with read_connection(service.engine) as conn:
        for page in logdb.entry_pages(conn):
            for stored in page:
                entry = parse_json(stored.data)
                envelope, _ = open_entry(conn, entry, service.registry)
                detached = service.registry.is_detached(envelope.payload_type)
                again = entry_bytes(
                    stored.idx, entry["logged_at"], prev, envelope, detached=detached
                )
                assert again == stored.data, stored.idx
                prev = stored.leaf_hash.hex()


def test_it_rebuilds_to_the_projection_it_was_written_with(service: Service) -> None:
    with read_connection(service.engine) as conn:
        assert projection_digest(conn, service.registry) == FINGERPRINT
    report = rebuild(service.engine, service.registry)
    assert report.entries == 57
    assert report.before == FINGERPRINT and report.after == REBUILT
    # The rebuild adds the EPC index of its EPCIS events, its capture jobs and the events derived
    # from its custody statements (all newer than 0.1.0), and nothing else.
    with write_transaction(service.engine) as conn:
        derived = conn.exec_driver_sql(
            "DELETE FROM epcis_event WHERE event LIKE '%\"tag:provenance.local,2026:entry\"%'"
        )
        assert derived.rowcount == 19  # one per custody statement
        conn.exec_driver_sql("DELETE FROM epcis_epc")
        jobs = conn.exec_driver_sql("DELETE FROM capture_job")
        assert jobs.rowcount == 2  # one per EPCIS capture
    with read_connection(service.engine) as conn:
        assert projection_digest(conn, service.registry) == FINGERPRINT
