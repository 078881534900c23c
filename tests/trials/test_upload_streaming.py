"""Large signed uploads: the Content-Digest is checked as the body is spooled, never held whole,
and the dataset read at upload is not read again when its statement is checked."""

from __future__ import annotations

import hashlib
import tracemalloc

from flask import Flask

from provenance.access.errors import BadRequestSignature
from provenance.access.http_signatures import HashedBody, check_content_digest, content_digest
from provenance.access.web import SPOOL_ABOVE
from tests.parties import Authority, register_party, signed
from trials import submissions
from trials.payloads import commitment
from trials.uploads import summary_of

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
    summary = summary_of(stored["commitment"], "csv")
    assert summary is not None and summary.row_count == 300_000 and summary.domains == ("LB",)


def test_a_large_body_that_is_not_what_was_signed_is_refused_and_not_kept(app: Flask) -> None:
    data = lab_csv(200_000)
    tampered = data.replace(b"01-000100,LB", b"01-000100,XX")
    assert len(tampered) == len(data) > SPOOL_ABOVE
    answer = post(app, data, sent=tampered)
    assert answer.status_code == 401  # type: ignore[attr-defined]
    problem = answer.get_json()  # type: ignore[attr-defined]
    assert problem["type"].endswith("/bad-request-signature")
    assert "does not match its Content-Digest" in problem["detail"]
    assert summary_of(commitment(SALT, tampered), "csv") is None


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


def test_the_statement_check_uses_the_summary_read_at_upload() -> None:
    # The check reads a summary kept for exactly these bytes before reading them again.
    source = submissions._check_dataset.__code__.co_names
    assert "summary_of" in source and "summarise_bytes" in source
