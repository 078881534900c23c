"""Large signed uploads: the Content-Digest is checked as the body is spooled, never held whole,
and the dataset read at upload is not read again when its statement is checked, whichever
process appends the statement."""

from __future__ import annotations

import hashlib
import tracemalloc
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from provenance.access.errors import BadRequestSignature
from provenance.access.http_signatures import HashedBody, check_content_digest, content_digest
from provenance.access.web import SPOOL_ABOVE
from provenance.log.store.engine import query, read_connection, write_transaction
from provenance.web.context import service
from tests.parties import Authority, register_party, signed
from tests.trials.test_trials import OUTCOMES, SIG, TRIAL, Study, registration
from trials import submissions
from trials.dataset_files import parse_dataset
from trials.datasets import content_hash
from trials.payloads import commitment, content_commitment

URL = "/api/v1/trials/payloads"
SALT = bytes(range(32))


def lab_csv(rows: int) -> bytes:
    lines = ["USUBJID,DOMAIN,LBTESTCD,LBSTRESN"]
    lines += [f"01-{n:06d},LB,GLUC,{n / 8}" for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def post(app: Flask, data: bytes, sent: bytes | None = None) -> object:
    client = app.test_client()
    sponsor = register_party(
        client, Authority.from_app(app), "Sponsor", "5412345000051", ["sponsor"]
    )
    headers = {**signed(sponsor, "POST", URL, data), "X-Salt": SALT.hex()}
    headers["Content-Type"] = "text/csv"
    return client.post(URL, data=data if sent is None else sent, headers=headers)


def test_a_large_upload_is_checked_and_stored_while_it_streams(app: Flask) -> None:
    data = lab_csv(300_000)
    assert len(data) > 4 * SPOOL_ABOVE
    tracemalloc.start()
    try:
        answer = post(app, data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert answer.status_code == 201, answer.get_json()  # type: ignore[attr-defined]
    stored = answer.get_json()  # type: ignore[attr-defined]
    assert stored == {
        "commitment": commitment(SALT, data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }
    # Read in chunks on its way to the database: never the whole body at once, let alone twice.
    assert peak < len(data) // 2, (peak, len(data))
    # What the server read is stored with the bytes: the salted commitment, never the bare
    # content hash, which would let anyone holding the database test guesses at the content.
    bare = content_hash(parse_dataset(data, "csv"))
    assert reading(app, stored["commitment"]) == {
        "commitment": stored["commitment"],
        "format": "csv",
        "content_commitment": content_commitment(SALT, bare),
        "row_count": 300_000,
        "column_count": 4,
        "domains": '["LB"]',
        "erased_index": None,
    }


def test_a_large_body_that_is_not_what_was_signed_is_refused_and_not_kept(app: Flask) -> None:
    data = lab_csv(200_000)
    tampered = data.replace(b"01-000100,LB", b"01-000100,XX")
    assert len(tampered) == len(data) > SPOOL_ABOVE
    answer = post(app, data, sent=tampered)
    assert answer.status_code == 401  # type: ignore[attr-defined]
    problem = answer.get_json()  # type: ignore[attr-defined]
    assert problem["type"].endswith("/bad-request-signature")
    assert "does not match its Content-Digest" in problem["detail"]
    assert reading(app, commitment(SALT, tampered)) is None
    assert reading(app, commitment(SALT, data)) is None


def test_a_hashed_body_is_checked_as_its_bytes_would_be() -> None:
    body = b"x" * 100
    hashed = HashedBody(100, {"sha-256": hashlib.sha256(body).digest()})
    check_content_digest(content_digest(body), hashed)
    other = HashedBody(100, {"sha-256": hashlib.sha256(b"y" * 100).digest()})
    for wrong in (other, HashedBody(100, {})):
        try:
            check_content_digest(content_digest(body), wrong)
        except BadRequestSignature as exc:
            assert "does not match" in exc.detail
        else:
            raise AssertionError("a body unlike its Content-Digest passed")


def reading(app: Flask, payload: str) -> dict[str, Any] | None:
    """The stored reading of an upload, as a row."""
    with app.app_context(), read_connection(service().engine) as conn:
        result = conn.exec_driver_sql(
            "SELECT * FROM trial_payload_summary WHERE commitment = '" + payload + "'"
        )
        rows = [dict(zip(result.keys(), row, strict=True)) for row in result.fetchall()]
    return rows[0] if rows else None


@pytest.fixture
def study(app: Flask, client: FlaskClient) -> Study:
    made = Study.with_parties(client, Authority.from_app(app))
    made.send(made.sponsor, "trial.register", registration())
    made.send(made.sponsor, "protocol.commit", made.protocol(1, OUTCOMES))
    return made


DATA = b"subject,aeterm,DOMAIN\nS-1,Headache,AE\nS-2,Nausea,AE\n"


def test_the_statement_is_checked_against_the_reading_stored_at_upload(
    study: Study, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = study.dataset_body("AE", DATA)
    # Another process appends the statement: nothing of the upload is in its memory, and it
    # does not read the bytes (up to a gigabyte, under the log's write lock).
    read_again: list[str] = []
    real = submissions.summarise_bytes

    def summarise_bytes(data: bytes, fmt: str) -> object:
        read_again.append(fmt)
        return real(data, fmt)

    monkeypatch.setattr(submissions, "summarise_bytes", summarise_bytes)
    for wrong, detail in (
        ({"rows": 3}, "the dataset has 2 rows and 3 columns"),
        ({"columns": 2}, "the dataset has 2 rows and 3 columns"),
        ({"content_commitment": "0" * 64}, "content_commitment does not match"),
        ({"domain": "DM"}, "holds AE, but it is submitted as domain DM"),
    ):
        refused = study.send(study.sponsor, "dataset.submit", {**body, **wrong}, status=422)
        assert detail in refused["detail"], refused
    study.send(study.sponsor, "dataset.submit", body)
    assert read_again == []
    # Named as a format it was not read as, the bytes are read again, and refused as before.
    again = {**body, "dataset": "AE2", "format": "dataset-json"}
    refused = study.send(study.sponsor, "dataset.submit", again, status=422)
    assert "is not a dataset-json dataset" in refused["detail"]
    assert read_again == ["dataset-json"]


def test_an_upload_without_a_stored_reading_is_read_again(app: Flask, study: Study) -> None:
    # As for bytes uploaded before readings were stored.
    body = study.dataset_body("AE", DATA)
    with app.app_context(), write_transaction(service().engine) as conn:
        conn.exec_driver_sql("DELETE FROM trial_payload_summary")
    refused = study.send(study.sponsor, "dataset.submit", {**body, "rows": 5}, status=422)
    assert "the dataset has 2 rows and 3 columns" in refused["detail"]
    study.send(study.sponsor, "dataset.submit", body)


def test_erasure_blanks_the_stored_reading(app: Flask, study: Study) -> None:
    body = study.dataset_body("AE", DATA)
    study.send(study.sponsor, "dataset.submit", body)
    why = "Subject S-1 asked for erasure under GDPR art. 17"
    erase = {"trial": TRIAL, "payload": body["payload"], "reason": why, "signature": SIG}
    erased_at = study.send(study.sponsor, "payload.erase", erase)["index"]
    row = reading(app, body["payload"])
    assert row is not None and row["erased_index"] == erased_at
    assert {
        k: v for k, v in row.items() if k not in ("commitment", "erased_index")
    } == dict.fromkeys(("format", "content_commitment", "row_count", "column_count", "domains"))
    with app.app_context(), read_connection(service().engine) as conn:
        stored = query(conn, "SELECT count(*) FROM trial_payload_summary")[0][0]
    assert stored == 1
    # A statement naming the erased bytes is refused as before.
    again = {**body, "dataset": "AE2"}
    refused = study.send(study.sponsor, "dataset.submit", again, status=409)
    assert "was erased at entry" in refused["detail"]
