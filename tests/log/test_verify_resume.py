"""Incremental verification: a verify resumes from the state the last intact verification
stored, once it agrees with the signed checkpoint and the stored entries at its size, and
checks only what was appended since; `--full` checks everything again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from provenance import demo
from provenance.log.damage import VerifyReport
from provenance.log.service import Service
from provenance.log.store import verification
from provenance.log.store.engine import read_connection, write_transaction
from provenance.log.verify_state import decode
from provenance.web.context import installed, service
from tests.conftest import BACKENDS, app_on
from tests.log.damage import damage, first_problem, run_verify
from tests.parties import Reader, demo_party

SIZE = 47  # genesis, the six demo parties and 40 attestations


@pytest.fixture(params=BACKENDS)
def seeded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    with app_on(request.param, tmp_path / "data", demo=True) as app:
        append(app, SIZE - 7)
        yield app


def append(app: Flask, count: int) -> None:
    with app.app_context():
        demo.seed(service(), installed().plugins, count, stories=())


def verify(app: Flask, **options: object) -> VerifyReport:
    with app.app_context():
        return service().verify(workers=1, **options)


def stored(app: Flask) -> list[int]:
    with app.app_context(), read_connection(service().engine) as conn:
        return [
            int(size) for (size,) in conn.exec_driver_sql(f"SELECT size FROM {verification.TABLE}")
        ]


def test_a_verify_resumes_where_the_last_one_stopped(seeded: Flask) -> None:
    first = verify(seeded, resume=True)
    assert first.ok, first.summary()
    assert (first.resumed_from, first.entries, first.saved) == (0, SIZE, True)
    assert first.resume_refused == "no earlier verification is stored"
    assert (first.full_size, first.full_at) == (SIZE, first.verified_at)
    append(seeded, 5)
    second = verify(seeded, resume=True)
    assert second.ok, second.summary()
    assert (second.resumed_from, second.entries, second.signatures) == (SIZE, 5, 5)
    assert (second.size, second.full_size, second.full_at) == (SIZE + 5, SIZE, first.verified_at)
    assert stored(seeded) == [SIZE + 5]
    full = verify(seeded)  # not resumed: everything again
    assert (full.resumed_from, full.entries, full.full_size) == (0, SIZE + 5, SIZE + 5)


def test_nothing_appended_checks_no_entry(seeded: Flask) -> None:
    assert verify(seeded).ok
    again = verify(seeded, resume=True)
    assert again.ok and (again.resumed_from, again.entries, again.size) == (SIZE, 0, SIZE)
    assert "nothing was appended since" in again.summary()


def test_damage_after_the_resume_point_is_found(tmp_path: Path) -> None:
    with app_on("sqlite", tmp_path / "data", demo=True) as app:
        append(app, SIZE - 7)
        assert verify(app).ok
        append(app, 5)
        with app.app_context():
            service().close()
        damage(tmp_path / "data", f"UPDATE log_entry SET data = 7 WHERE idx = {SIZE + 2}")
        code, output = run_verify(tmp_path / "data")
    assert code == 1
    assert first_problem(output).startswith(f"first bad index {SIZE + 2}: edited entry")
    assert f"resumed after entry {SIZE - 1}" in output


def test_damage_before_it_takes_full(tmp_path: Path) -> None:
    """A resumed run trusts what was verified; `--full` checks it again."""
    with app_on("sqlite", tmp_path / "data", demo=True) as app:
        append(app, SIZE - 7)
        assert verify(app).ok
        with app.app_context():
            service().close()
    damage(tmp_path / "data", "UPDATE log_entry SET data = 7 WHERE idx = 20")
    code, output = run_verify(tmp_path / "data")
    assert code == 0, output
    code, output = run_verify(tmp_path / "data", "--full")
    assert code == 1
    assert first_problem(output).startswith("first bad index 20: edited entry")


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        (f"UPDATE log_entry SET data = 7 WHERE idx = {SIZE - 1}", f"entry {SIZE - 1} is not"),
        ("UPDATE log_verification SET root_hash = zeroblob(32)", "contradicts its own row"),
        ("UPDATE log_verification SET state = 'garbage'", "state is unreadable"),
        (
            'UPDATE log_verification SET state = replace(state, \'"rules":2\', \'"rules":"2"\')',
            "state is unreadable",
        ),
        (
            "UPDATE log_node SET hash = zeroblob(32) WHERE level = 5 AND idx = 0",
            "the stored tree hashes at the right edge differ",
        ),
        (f"DELETE FROM log_checkpoint WHERE size = {SIZE}", f"no checkpoint of size {SIZE}"),
    ],
)
def test_a_state_that_disagrees_with_the_log_is_not_resumed(
    tmp_path: Path, sql: str, why: str
) -> None:
    with app_on("sqlite", tmp_path / "data", demo=True) as app:
        append(app, SIZE - 7)
        assert verify(app).ok
        with app.app_context():
            service().close()
    damage(tmp_path / "data", sql)
    code, output = run_verify(tmp_path / "data")
    assert "every entry checked (" in output and why in output, output


def test_a_forged_state_is_checked_against_the_signed_checkpoint(seeded: Flask) -> None:
    """A state whose frontier was replaced cannot fold to the root the checkpoint signed."""
    assert verify(seeded).ok
    with seeded.app_context(), write_transaction(service().engine) as conn:
        size, root, state, at = verification.latest(conn) or ()
        forged = state.replace(state.split('"frontier":["')[1][:64], "00" * 32)
        conn.exec_driver_sql(f"DELETE FROM {verification.TABLE}")
        verification.save(conn, size, root, forged, at)
    report = verify(seeded, resume=True)
    assert report.ok and report.resumed_from == 0
    assert report.resume_refused == "the stored frontier does not fold to the signed root"


def test_the_larger_size_wins(seeded: Flask) -> None:
    assert verify(seeded).ok
    with seeded.app_context(), write_transaction(service().engine) as conn:
        size, root, state, at = verification.latest(conn) or ()
        verification.save(conn, size - 5, root, state, at)  # an older run committing last
        assert verification.latest(conn)[0] == size  # type: ignore[index]
    assert stored(seeded) == [SIZE]


def test_two_verifiers_at_once(seeded: Flask) -> None:
    """Verifiers racing appends store only whole states; the largest size is what remains."""
    with seeded.app_context():
        svc: Service = service()
    assert verify(seeded).ok
    reports: list[VerifyReport] = []

    def run() -> None:
        with seeded.app_context():
            reports.append(svc.verify(workers=1, resume=True))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    append(seeded, 3)
    for thread in threads:
        thread.join()
    assert all(report.ok for report in reports), [r.summary() for r in reports]
    last = verify(seeded, resume=True)
    assert last.ok and last.resumed_from in (SIZE, SIZE + 3)
    assert stored(seeded) == [SIZE + 3]
    with seeded.app_context(), read_connection(svc.engine) as conn:
        row = verification.latest(conn)
        assert row is not None
        assert decode(str(row[2]), svc.registry.key_columns).point.size == SIZE + 3


def test_the_ledger_page_says_what_was_verified_when(seeded: Flask) -> None:
    regulator = Reader(seeded.test_client(), demo_party(seeded, "regulator"))
    page = regulator.get("/reports/ledger/").get_data(as_text=True)
    assert "Verified through" in page and f"{SIZE:,} entries at " in page
    assert "every entry (no earlier verification is stored)" in page
    append(seeded, 4)
    page = regulator.get("/reports/ledger/").get_data(as_text=True)
    assert f"entries {SIZE:,} on; those before were verified earlier" in page
    assert f"{SIZE + 4:,} entries at " in page
