"""Uploads: a quota per party and 24 hours, and the expiry of uploads no statement names."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from app import create_app
from provenance.log.store.engine import read_connection, write_transaction
from provenance.web.context import service
from tests.parties import Authority, PartyKey, read, register_party, signed
from tests.trials.test_trials import OUTCOMES, SITE_GLN, Study, registration

QUOTA = 1000
LONG_AGO = "2020-01-01T00:00:00.000Z"


@pytest.fixture
def quota_app(tmp_path: Path) -> Iterator[Flask]:
    config = {"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "UPLOAD_QUOTA": QUOTA}
    app = create_app(config)
    with app.app_context():
        service().initialise()
    yield app
    with app.app_context():
        service().close()


def upload(client: FlaskClient, party: PartyKey, data: bytes, salt: int) -> Any:
    url = "/api/v1/trials/payloads"
    headers = {**signed(party, "POST", url, data), "X-Salt": f"{salt:02x}" * 32}
    return client.post(url, data=data, headers=headers)


def backdate(app: Flask, sql: str) -> None:
    with app.app_context(), write_transaction(service().engine) as conn:
        conn.execute(text(sql), {"then": LONG_AGO})


def test_each_party_uploads_at_most_its_quota_a_day(quota_app: Flask) -> None:
    client = quota_app.test_client()
    authority = Authority.from_app(quota_app)
    sponsor = register_party(client, authority, "Sponsor", "5412345000051", ["sponsor"])
    site = register_party(client, authority, "Site", SITE_GLN, ["site"])
    assert upload(client, sponsor, b"a" * 600, 1).status_code == 201
    refused = upload(client, sponsor, b"b" * 500, 2)
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    problem = refused.get_json()
    assert problem["type"] == "tag:provenance.local,2026:problem/upload-quota"
    assert (problem["quota"], problem["used"], problem["size"]) == (QUOTA, 600, 500)
    # The first upload leaves the 24-hour window in (almost) a day.
    assert 23 * 3600 < int(refused.headers["Retry-After"]) <= 24 * 3600 + 1
    assert upload(client, sponsor, b"a" * 600, 1).status_code == 201  # the same upload: once
    assert upload(client, sponsor, b"c" * 400, 3).status_code == 201  # up to the quota exactly
    assert upload(client, sponsor, b"e", 5).status_code == 429
    assert upload(client, site, b"b" * 500, 2).status_code == 201  # a quota of its own
    too_large = upload(client, site, b"d" * (QUOTA + 1), 4)
    assert too_large.status_code == 429 and "Retry-After" not in too_large.headers
    backdate(quota_app, "UPDATE trial_upload SET uploaded_at = :then")
    assert upload(client, sponsor, b"b" * 500, 2).status_code == 201  # a day later


def test_the_quota_is_a_setting(tmp_path: Path) -> None:
    default = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "a")})
    assert default.extensions["provenance"].settings.upload_quota == 256 * 1024 * 1024
    with pytest.raises(Exception, match="UPLOAD_QUOTA"):
        create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "b"), "UPLOAD_QUOTA": "lots"})


def test_uploads_no_statement_names_expire(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    authority = Authority.from_app(app)
    study = Study.with_parties(client, authority)
    study.send(study.sponsor, "trial.register", registration())
    protocol = study.protocol(1, OUTCOMES)
    study.send(study.sponsor, "protocol.commit", protocol)
    marker = f"EXPIRE-ME-{secrets.token_hex(12)}".encode()
    abandoned, _ = study.upload(marker * 200, "text/plain", party=study.site)
    fresh, _ = study.upload(b"uploaded a moment ago", "text/plain")
    backdate(app, f"UPDATE trial_payload SET stored_at = :then WHERE commitment != '{fresh}'")

    def fetch(party: PartyKey, commitment: str) -> int:
        return int(read(client, party, f"/api/v1/trials/payloads/{commitment}").status_code)

    runner = app.test_cli_runner()
    expired = runner.invoke(args=["expire-uploads"])
    assert expired.exit_code == 0, expired.output
    assert f"expired 1 uploads no statement names ({len(marker) * 200} bytes)" in expired.output
    assert fetch(study.site, abandoned) == 404
    assert fetch(study.sponsor, protocol["payload"]) == 200  # named by the protocol
    assert fetch(study.sponsor, fresh) == 200
    with app.app_context(), read_connection(service().engine) as conn:
        uploads = conn.execute(text("SELECT commitment FROM trial_upload")).scalars().all()
    assert abandoned not in uploads and fresh in uploads
    files = sorted((tmp_path / "data").glob("provenance.db*"))
    assert files and not [p for p in files if marker in p.read_bytes()]

    assert "expired 0 uploads" in runner.invoke(args=["expire-uploads"]).output
    now = runner.invoke(args=["expire-uploads", "--older-than", "0"])
    assert "expired 1 uploads" in now.output, now.output
    assert fetch(study.sponsor, fresh) == 404
    # A statement naming an expired upload finds no bytes.
    body = study.dataset_body("AE", b"subject,aeterm\nS-1,Headache\n")
    backdate(app, "UPDATE trial_payload SET stored_at = :then")
    runner.invoke(args=["expire-uploads"])
    study.send(study.sponsor, "dataset.submit", body, status=409)
