"""HTTP API: submitting statements, every rejection, and that rejections write nothing."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from provenance.errors import PROBLEM_BASE
from provenance.log.signing import P256_ORDER
from tests.parties import Authority, PartyKey, attestation, post, read, register_party


def size(client: FlaskClient) -> int:
    return int(client.get("/api/v1/log").get_json()["size"])


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == PROBLEM_BASE + slug
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


def high_s(envelope: dict[str, Any]) -> dict[str, Any]:
    """The same signature with s replaced by n - s: valid maths, non-canonical encoding."""
    from cryptography.hazmat.primitives.asymmetric.utils import (
        decode_dss_signature,
        encode_dss_signature,
    )

    sig = base64.b64decode(envelope["signatures"][0]["sig"])
    r, s = decode_dss_signature(sig)
    forged = encode_dss_signature(r, P256_ORDER - s)
    return {
        **envelope,
        "signatures": [{**envelope["signatures"][0], "sig": base64.b64encode(forged).decode()}],
    }


def test_genesis_is_entry_zero(client: FlaskClient, authority: Authority) -> None:
    assert size(client) == 1
    entry = client.get("/api/v1/log/entries/0").get_json()
    statement = entry["entry"]["statement"]
    assert statement["kind"] == "log.genesis"
    assert statement["signer"] == authority.key_id
    assert entry["entry"]["prev"] == "0" * 64


def test_submit_and_read_back(client: FlaskClient, manufacturer: PartyKey) -> None:
    before = size(client)
    response = post(client, attestation(manufacturer, "lot/A1"))
    assert response.status_code == 201
    body = response.get_json()
    assert body["index"] == before and body["duplicate"] is False
    assert response.headers["Location"] == f"/api/v1/log/entries/{before}"
    # An attestation is read by its signer's party (and regulators), not by anyone.
    assert_problem(client.get(body["entry"]), 401, "unauthenticated")
    entry = read(client, manufacturer, body["entry"]).get_json()
    assert entry["leaf_hash"] == body["leaf_hash"]
    assert entry["entry"]["statement"]["body"]["subject"] == "lot/A1"
    # The entry before it registered the manufacturer: identity is public.
    previous = client.get(f"/api/v1/log/entries/{before - 1}").get_json()
    assert entry["entry"]["prev"] == previous["leaf_hash"]
    assert size(client) == before + 1


def test_duplicate_returns_existing_index(client: FlaskClient, manufacturer: PartyKey) -> None:
    envelope = attestation(manufacturer, "lot/dup")
    first = post(client, envelope).get_json()
    n = size(client)
    again = post(client, envelope)
    assert again.status_code == 200
    assert again.get_json()["index"] == first["index"] and again.get_json()["duplicate"]
    # A malleated (high-S) signature over the same payload is the same statement.
    replay = post(client, high_s(envelope))
    assert replay.status_code == 200 and replay.get_json()["index"] == first["index"]
    # So is a fresh signature by the same key over the same payload.
    resigned = manufacturer.envelope(
        "attestation", {"subject": "lot/dup", "claim": {"ok": True}}, issued_at=_issued_at(envelope)
    )
    assert post(client, resigned).get_json()["index"] == first["index"]
    assert size(client) == n


def _issued_at(envelope: dict[str, Any]) -> str:
    import json

    return str(json.loads(base64.b64decode(envelope["payload"]))["issued_at"])


def test_high_s_signature_on_new_payload_rejected(
    client: FlaskClient, manufacturer: PartyKey
) -> None:
    n = size(client)
    body = assert_problem(
        post(client, high_s(attestation(manufacturer, "x"))), 403, "bad-signature"
    )
    assert "S" in body["detail"]
    assert size(client) == n


def test_unknown_key_rejected(client: FlaskClient) -> None:
    from provenance.log.signing import generate_private_key

    stranger = PartyKey(generate_private_key())
    n = size(client)
    assert_problem(post(client, attestation(stranger)), 403, "unknown-key")
    assert size(client) == n


def test_wrong_role_rejected(client: FlaskClient, manufacturer: PartyKey) -> None:
    from provenance.log.signing import generate_private_key

    n = size(client)
    body = {
        "gln": "5412345000020",
        "name": "Rogue",
        "roles": ["wholesaler"],
        "public_key": PartyKey(generate_private_key()).public_b64,
    }
    assert_problem(post(client, manufacturer.envelope("party.register", body)), 403, "wrong-role")
    revoke = {
        "key_id": manufacturer.key_id,
        "effective_at": "2026-01-01T00:00:00.000Z",
        "reason": "self",
    }
    assert_problem(post(client, manufacturer.envelope("key.revoke", revoke)), 403, "wrong-role")
    assert size(client) == n


def test_bad_signature_rejected(client: FlaskClient, manufacturer: PartyKey) -> None:
    envelope = attestation(manufacturer)
    other = attestation(manufacturer, "other")
    envelope["signatures"] = other["signatures"]  # valid signature, wrong payload
    n = size(client)
    assert_problem(post(client, envelope), 403, "bad-signature")
    assert size(client) == n


@pytest.mark.parametrize(
    ("data", "content_type", "status", "slug"),
    [
        (b"{not json", "application/json", 400, "bad-json"),
        (b'{"a":1,"a":2}', "application/json", 400, "bad-json"),
        (b"[]", "application/json", 400, "bad-envelope"),
        (
            b'{"payload":"","payloadType":"x","signatures":[]}',
            "application/json",
            400,
            "bad-envelope",
        ),
        (b"{}", "text/plain", 415, "unsupported-media-type"),
        (b"\xff\xfe", "application/json", 400, "bad-json"),
    ],
)
def test_malformed_requests(
    client: FlaskClient, data: bytes, content_type: str, status: int, slug: str
) -> None:
    n = size(client)
    response = client.post("/api/v1/statements", data=data, content_type=content_type)
    assert_problem(response, status, slug)
    assert size(client) == n


def test_statement_shape_rejected(client: FlaskClient, manufacturer: PartyKey) -> None:
    n = size(client)
    bad_body = manufacturer.envelope("attestation", {"subject": "", "claim": {}})
    assert_problem(post(client, bad_body), 422, "bad-statement")
    unknown_kind = manufacturer.envelope("no.such.kind", {})
    assert_problem(post(client, unknown_kind), 422, "bad-statement")
    future = manufacturer.envelope(
        "attestation", {"subject": "s", "claim": {}}, issued_at="2999-01-01T00:00:00.000Z"
    )
    assert_problem(post(client, future), 422, "bad-statement")
    assert size(client) == n


def test_oversized_requests(client: FlaskClient, manufacturer: PartyKey) -> None:
    n = size(client)
    huge = b'{"x":"' + b"a" * (1 << 20) + b'"}'
    assert_problem(
        client.post("/api/v1/statements", data=huge, content_type="application/json"),
        413,
        "too-large",
    )
    # Under the request limit, but over the 64 KiB an entry bundle can carry.
    big = attestation(manufacturer, "big", blob="b" * 70_000)
    assert_problem(post(client, big), 413, "too-large")
    assert size(client) == n


def test_genesis_cannot_be_replayed(client: FlaskClient, authority: Authority) -> None:
    n = size(client)
    body = {
        "origin": "x",
        "log_key": "y",
        "authority": {"name": "a", "gln": "0000000000000", "public_key": authority.public_b64},
    }
    assert_problem(post(client, authority.envelope("log.genesis", body)), 409, "conflict")
    assert size(client) == n


def test_rotation_by_old_key(client: FlaskClient, manufacturer: PartyKey) -> None:
    from provenance.log.signing import generate_private_key

    new = PartyKey(generate_private_key(), manufacturer.gln)
    body = {
        "gln": manufacturer.gln,
        "old_key": manufacturer.key_id,
        "new_public_key": new.public_b64,
    }
    rotated = post(client, manufacturer.envelope("key.rotate", body))
    assert rotated.status_code == 201
    # A key rotating itself may be a stolen key: the rotation is announced and waits 72 hours.
    assert_problem(post(client, attestation(new, "too early")), 403, "revoked-key")
    assert post(client, attestation(manufacturer, "old key, still valid")).status_code == 201
    keys = client.get(f"/api/v1/parties/{manufacturer.gln}").get_json()["keys"]
    assert [k["key_id"] for k in keys] == [manufacturer.key_id, new.key_id]
    entry = client.get(rotated.get_json()["entry"]).get_json()["entry"]
    logged = datetime.fromisoformat(entry["logged_at"])
    assert keys[0]["retired_at"] == keys[1]["added_at"]
    assert datetime.fromisoformat(keys[1]["added_at"]) - logged == timedelta(hours=72)


def test_rotation_by_someone_else_rejected(
    client: FlaskClient, manufacturer: PartyKey, pharmacy: PartyKey
) -> None:
    from provenance.log.signing import generate_private_key

    new = PartyKey(generate_private_key())
    body = {
        "gln": manufacturer.gln,
        "old_key": manufacturer.key_id,
        "new_public_key": new.public_b64,
    }
    n = size(client)
    assert_problem(post(client, pharmacy.envelope("key.rotate", body)), 403, "wrong-role")
    assert size(client) == n


def test_rotation_by_authority(
    client: FlaskClient, authority: Authority, manufacturer: PartyKey
) -> None:
    from provenance.log.signing import generate_private_key

    new = PartyKey(generate_private_key(), manufacturer.gln)
    body = {
        "gln": manufacturer.gln,
        "old_key": manufacturer.key_id,
        "new_public_key": new.public_b64,
    }
    assert post(client, authority.envelope("key.rotate", body)).status_code == 201
    assert post(client, attestation(new)).status_code == 201


def test_revocation_effective_time(
    client: FlaskClient, authority: Authority, manufacturer: PartyKey, pharmacy: PartyKey
) -> None:
    later = {
        "key_id": manufacturer.key_id,
        "effective_at": "2999-01-01T00:00:00.000Z",
        "reason": "retiring at year end",
    }
    assert post(client, authority.envelope("key.revoke", later)).status_code == 201
    # Revocation in the future: the key still signs today.
    assert post(client, attestation(manufacturer, "still valid")).status_code == 201
    now = {
        "key_id": pharmacy.key_id,
        "effective_at": "2020-01-01T00:00:00.000Z",
        "reason": "key compromised",
    }
    assert post(client, authority.envelope("key.revoke", now)).status_code == 201
    n = size(client)
    assert_problem(post(client, attestation(pharmacy, "after revocation")), 403, "revoked-key")
    assert_problem(post(client, authority.envelope("key.revoke", now)), 409, "conflict")
    assert size(client) == n


def test_party_registration_conflicts(
    client: FlaskClient, authority: Authority, manufacturer: PartyKey
) -> None:
    n = size(client)
    again = {
        "gln": manufacturer.gln,
        "name": "Again",
        "roles": ["pharmacy"],
        "public_key": manufacturer.public_b64,
    }
    assert_problem(post(client, authority.envelope("party.register", again)), 409, "conflict")
    bad_gln = {**again, "gln": "5412345000014"}
    assert_problem(
        post(client, authority.envelope("party.register", bad_gln)), 422, "bad-statement"
    )
    bad_key = {**again, "gln": "5412345000020", "public_key": base64.b64encode(b"junk").decode()}
    assert_problem(post(client, authority.envelope("party.register", bad_key)), 422, "bad-key")
    assert size(client) == n


def test_register_party_then_list(client: FlaskClient, authority: Authority) -> None:
    register_party(client, authority, "W", "5412345000020", ["wholesaler"])
    parties = client.get("/api/v1/parties").get_json()
    assert [p["gln"] for p in parties] == ["0000000000000", "5412345000020"]
    assert client.get("/api/v1/parties/9999999999999").status_code == 404


def test_unknown_routes_are_problems(client: FlaskClient, manufacturer: PartyKey) -> None:
    # Whether an entry exists is said only to a signed-in reader.
    assert_problem(client.get("/api/v1/log/entries/999"), 401, "unauthenticated")
    assert_problem(read(client, manufacturer, "/api/v1/log/entries/999"), 404, "not-found")
    assert_problem(read(client, manufacturer, f"/api/v1/log/entries/{2**70}"), 404, "not-found")
    assert_problem(client.get("/no/such/page"), 404, "not-found")
    assert_problem(client.delete("/api/v1/statements"), 405, "method-not-allowed")


def test_batch_is_all_or_nothing(
    client: FlaskClient, manufacturer: PartyKey, pharmacy: PartyKey
) -> None:
    good = [attestation(manufacturer, f"batch/{i}") for i in range(5)]
    n = size(client)
    bad = [*good[:3], high_s(attestation(pharmacy, "bad")), *good[3:]]
    problem = assert_problem(
        client.post("/api/v1/statements/batch", json=bad), 403, "bad-signature"
    )
    assert problem["item"] == 3
    assert size(client) == n
    response = client.post("/api/v1/statements/batch", json=good)
    assert response.status_code == 201
    results = response.get_json()
    assert [r["index"] for r in results] == list(range(n, n + 5))
    assert not any(r["duplicate"] for r in results)
    again = client.post("/api/v1/statements/batch", json=[good[1], good[1]])
    assert again.status_code == 200
    assert [r["index"] for r in again.get_json()] == [n + 1, n + 1]
    assert size(client) == n + 5


@pytest.mark.parametrize("payload", [[], {}, "x", [1]])
def test_batch_shape_rejected(client: FlaskClient, payload: Any) -> None:
    n = size(client)
    response = client.post("/api/v1/statements/batch", json=payload)
    assert_problem(response, 400, "bad-envelope")
    assert size(client) == n


def test_batch_rule_failure_names_the_item(
    client: FlaskClient, authority: Authority, manufacturer: PartyKey
) -> None:
    n = size(client)
    revoke = {
        "key_id": manufacturer.key_id,
        "effective_at": "2020-01-01T00:00:00.000Z",
        "reason": "lost laptop",
    }
    batch = [authority.envelope("key.revoke", revoke), attestation(manufacturer, "after")]
    problem = assert_problem(
        client.post("/api/v1/statements/batch", json=batch), 403, "revoked-key"
    )
    assert problem["item"] == 1
    assert size(client) == n


def test_concurrent_single_submissions_share_commits(app: Any, manufacturer: PartyKey) -> None:
    """Group commit: threads submitting at once all get distinct, contiguous indices."""
    from concurrent.futures import ThreadPoolExecutor

    from provenance.web.context import service

    envelopes = [attestation(manufacturer, f"t/{i}") for i in range(60)]
    bad = high_s(attestation(manufacturer, "bad"))
    with app.app_context():
        log = service().log
        start = size(app.test_client())

        def submit(envelope: dict[str, Any]) -> object:
            try:
                return log.submit(envelope).index
            except Exception as exc:  # noqa: BLE001 - the outcome is what we compare
                return type(exc).__name__

        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(submit, [*envelopes[:30], bad, *envelopes[30:]]))
    assert outcomes[30] == "BadSignature"
    indices = sorted(o for o in outcomes if isinstance(o, int))
    assert indices == list(range(start, start + 60))


def test_mutated_submissions_never_cause_a_server_error(
    client: FlaskClient, manufacturer: PartyKey
) -> None:
    """Random byte edits of a valid request: always a 2xx or a 4xx problem, never a 500."""
    import json
    import random

    rng = random.Random(5)
    raw = json.dumps(attestation(manufacturer, "fuzz")).encode()
    for _ in range(300):
        data = bytearray(raw)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        n = size(client)
        response = client.post(
            "/api/v1/statements", data=bytes(data), content_type="application/json"
        )
        assert response.status_code < 500, response.get_data(as_text=True)
        if response.status_code != 201:
            assert response.mimetype in ("application/problem+json", "application/json")
            assert size(client) == n
