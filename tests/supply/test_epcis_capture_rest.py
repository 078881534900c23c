"""EPCIS capture as the REST binding has it: capture jobs and their limits, plain documents
signed over their exact bytes, and partners' claims about packs this log never commissioned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from provenance.cli import main
from provenance.client import save_private_key
from provenance.epcis.document import MAX_EVENTS, parse_epcis_document
from provenance.epcis.query import NAMESPACES_MEMBER
from provenance.log.signing import generate_private_key, parse_envelope, verify_envelope
from provenance.supply.capture import UNVERIFIED_UPSTREAM
from provenance.supply.document_signature import HEADER, signature_header
from provenance.supply.web.plain_capture import MAX_DOCUMENT_BYTES
from tests.backends import app_on_each_backend  # noqa: F401  (the `app` fixture)
from tests.parties import Authority, PartyKey, assign_prefix, read, register_party
from tests.server import live_server
from tests.supply.test_epcis_capture import (
    GTIN,
    LOT,
    SERIALS,
    capture,
    commissioning,
    document,
    events,
    log_size,
    parties,
    receiving,
    shipping,
)

__all__ = ["parties"]  # the fixture, shared with the capture tests


#: A product of a manufacturer outside this log, and one of its packs.
FOREIGN_GTIN = "10614141073464"
FOREIGN_PACK = f"https://id.gs1.org/01/{FOREIGN_GTIN}/21/F0001"
FOREIGN_LOT_CLASS = f"https://id.gs1.org/01/{FOREIGN_GTIN}/10/F-LOT"
JOB_FIELDS = {
    "captureID",
    "createdAt",
    "finishedAt",
    "running",
    "success",
    "captureErrorBehaviour",
    "errors",
}


def plain(
    client: FlaskClient,
    party: PartyKey,
    body: bytes,
    *,
    signed_as: bytes | None = None,
    content_type: str = "application/ld+json",
) -> Any:
    """POST a plain document, its DSSE signature over `signed_as` (the body by default)."""
    header = signature_header(party.key, body if signed_as is None else signed_as)
    return client.post(
        "/epcis/capture", data=body, headers={"Content-Type": content_type, HEADER: header}
    )


def as_bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=1).encode()


def foreign_receiving(*epcs: str) -> dict[str, Any]:
    """A wholesaler's receipt of packs an upstream maker outside this log shipped it."""
    event = receiving([])
    event["epcList"] = list(epcs)
    event["sourceList"] = [{"type": "owning_party", "source": "urn:epc:id:pgln:0614141.00001"}]
    return event


# --- capture jobs --------------------------------------------------------------------------


def test_a_capture_is_a_finished_job_read_by_its_capturer_and_regulators(
    client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    maker = parties["maker"]
    doc = document(commissioning(SERIALS), shipping(SERIALS[:2]))
    response = capture(client, maker, doc)
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    index = body["index"]
    assert response.headers["Location"] == f"/epcis/capture/{index}"
    assert body["captureID"] == str(index) and body["entry"] == f"/api/v1/log/entries/{index}"
    assert (body["events_captured"], body["unverified_claims"], body["duplicate"]) == (2, 0, False)
    job = read(client, maker, response.headers["Location"]).get_json()
    assert set(job) >= JOB_FIELDS
    assert job["captureID"] == str(index) and job["createdAt"] == job["finishedAt"]
    assert (job["running"], job["success"], job["errors"]) == (False, True, [])
    assert job["captureErrorBehaviour"] == "rollback" and job["events_captured"] == 2
    # The same document again: the job it already made.
    again = capture(client, maker, doc)
    assert again.status_code == 200 and again.get_json()["duplicate"]
    assert again.headers["Location"] == response.headers["Location"]
    # Only its capturer and regulators read a job; to other parties it does not exist, even
    # to the wholesaler the shipment names (it reads the log entry).
    url = response.headers["Location"]
    statuses = {
        name: read(client, parties.get(name), url).status_code
        for name in ("maker", "wholesaler", "pharmacy", "regulator", "anonymous")
    }
    assert statuses == {
        "maker": 200,
        "wholesaler": 404,
        "pharmacy": 404,
        "regulator": 200,
        "anonymous": 401,
    }
    assert read(client, parties["wholesaler"], body["entry"]).status_code == 200
    regulator = parties["regulator"]
    for missing in ("999999", "abc", "1"):  # no entry, no index, an entry that is no capture
        assert read(client, regulator, f"/epcis/capture/{missing}").status_code == 404


def test_jobs_are_listed_per_reader_a_page_at_a_time(
    client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    maker, wholesaler = parties["maker"], parties["wholesaler"]
    made = [
        capture(client, maker, document(commissioning(SERIALS))),
        capture(client, maker, document(shipping(SERIALS[:2]))),
        capture(client, maker, document(shipping(SERIALS[2:4], "urn:desadv:D-2"))),
        capture(client, wholesaler, document(receiving(SERIALS[:2]))),
    ]
    assert [r.status_code for r in made] == [202] * 4
    ids = [str(r.get_json()["index"]) for r in made]

    def listed(party: PartyKey, url: str = "/epcis/capture") -> tuple[list[str], str | None]:
        response = read(client, party, url)
        assert response.status_code == 200, response.get_json()
        assert all(set(job) >= JOB_FIELDS for job in response.get_json())
        link = response.headers.get("Link")
        following = link[1 : link.index(">")] if link else None
        assert link is None or link.endswith('>; rel="next"')
        return [job["captureID"] for job in response.get_json()], following

    first, following = listed(maker, "/epcis/capture?perPage=2")
    assert first == ids[:2] and following is not None
    assert urlsplit(following).path == "/epcis/capture"
    second, last = listed(maker, following)
    assert second == ids[2:3] and last is None
    assert listed(wholesaler) == (ids[3:], None)
    assert listed(parties["pharmacy"]) == ([], None)
    assert listed(parties["regulator"]) == (ids, None)
    assert read(client, None, "/epcis/capture").status_code == 401
    for bad in ("nextPageToken=nope", "perPage=0", "perPage=x", "perPage=1001", "foo=1"):
        assert read(client, maker, f"/epcis/capture?{bad}").status_code == 422, bad


def test_the_capture_interface_announces_its_limits_and_only_rolls_back(
    client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    limits = {
        "GS1-EPCIS-Capture-Limit": str(MAX_EVENTS),
        "GS1-EPCIS-Capture-File-Size-Limit": str(MAX_DOCUMENT_BYTES),
        "GS1-Capture-Error-Behaviour": "rollback",
    }
    discovery = client.options("/epcis/capture")
    assert discovery.status_code == 204
    assert {"GET", "POST", "OPTIONS"} <= set(discovery.headers["Allow"].split(", "))
    listing = read(client, parties["maker"], "/epcis/capture")
    doc = document(commissioning(SERIALS))
    size = log_size(client)
    proceed = client.post(
        "/epcis/capture",
        data=as_bytes(doc),
        headers={
            "Content-Type": "application/ld+json",
            HEADER: signature_header(parties["maker"].key, as_bytes(doc)),
            "GS1-Capture-Error-Behaviour": "proceed",
        },
    )
    assert proceed.status_code == 400 and "rollback" in proceed.get_json()["detail"]
    assert log_size(client) == size
    rollback = client.post(
        "/epcis/capture",
        data=as_bytes(doc),
        headers={
            "Content-Type": "application/ld+json",
            HEADER: signature_header(parties["maker"].key, as_bytes(doc)),
            "GS1-Capture-Error-Behaviour": "rollback",
        },
    )
    assert rollback.status_code == 202, rollback.get_json()
    for response in (discovery, listing, proceed, rollback):
        assert {name: response.headers.get(name) for name in limits} == limits


# --- plain documents, signed over their exact bytes ----------------------------------------


def test_a_plain_document_is_logged_as_the_envelope_its_signature_makes(
    client: FlaskClient, parties: dict[str, PartyKey], app: Any
) -> None:
    maker = parties["maker"]
    body = as_bytes(document(commissioning(SERIALS)))
    response = plain(client, maker, body)
    assert response.status_code == 202, response.get_json()
    answer = response.get_json()
    assert answer["events_captured"] == 1
    # The log holds the exact bytes, and an envelope anyone checks with the maker's public key.
    assert read(client, maker, answer["payload"]).data == body
    entry = read(client, maker, answer["entry"]).get_json()["entry"]
    assert entry["envelope"]["signatures"][0]["keyid"] == maker.key_id
    envelope = parse_envelope(
        entry["envelope"], payload_types=("application/ld+json",), detached_payload=body
    )
    verify_envelope(envelope, maker.der)
    result = app.test_cli_runner().invoke(args=["verify", "--quiet", "--workers", "1"])
    assert result.exit_code == 0, result.output
    # The same bytes and signature again: a duplicate, no new entry.
    size = log_size(client)
    replay = plain(client, maker, body)
    assert replay.status_code == 200 and replay.get_json()["duplicate"]
    assert replay.get_json()["index"] == answer["index"] and log_size(client) == size
    # Sent as application/json with its signature, a document is read the same way.
    shipped = as_bytes(document(shipping(SERIALS[:1])))
    assert plain(client, maker, shipped, content_type="application/json").status_code == 202


def test_a_plain_document_is_refused_unless_its_exact_bytes_are_signed_by_a_registered_key(
    client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    maker = parties["maker"]
    body = as_bytes(document(commissioning(SERIALS)))
    size = log_size(client)
    one_byte = body.replace(b"EP0001", b"EP0009", 1)
    assert len(one_byte) == len(body) and one_byte != body
    # The maker's keyid over another key's signature: the keyid does not make it the maker's.
    forged = signature_header(parties["pharmacy"].key, body).replace(
        parties["pharmacy"].key_id, maker.key_id
    )
    cases = {
        "one byte changed after signing": plain(client, maker, one_byte, signed_as=body),
        "a space added": plain(client, maker, body + b" ", signed_as=body),
        "an unregistered key": plain(client, PartyKey(generate_private_key()), body),
        "the maker's keyid, another key": client.post(
            "/epcis/capture",
            data=body,
            headers={"Content-Type": "application/ld+json", HEADER: forged},
        ),
    }
    for case, response in cases.items():
        assert response.status_code == 401, case
        assert response.get_json()["type"].endswith("/bad-request-signature"), case
    # Signed by another registered party, it is that party's document: not its product.
    assert plain(client, parties["pharmacy"], body).status_code == 403
    for value in ("", "keyid=1", 'keyid="ab", sig=:AAAA:', "sig=:AAAA:", "not a field ;;"):
        headers = {"Content-Type": "application/ld+json", HEADER: value}
        assert client.post("/epcis/capture", data=body, headers=headers).status_code == 401
    for media_type in ("application/ld+json", "application/json"):
        unsigned = client.post("/epcis/capture", data=body, content_type=media_type)
        assert unsigned.status_code == 401 and HEADER in unsigned.get_json()["detail"]
    wrong_type = plain(client, maker, body, content_type="text/plain")
    assert wrong_type.status_code == 415
    assert log_size(client) == size


def test_plain_documents_that_are_no_epcis_or_too_large_are_refused(
    client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    maker = parties["maker"]
    size = log_size(client)
    not_json = plain(client, maker, b'{"type": "EPCISDocument",')
    assert not_json.status_code == 422 and "not JSON" in not_json.get_json()["detail"]
    assert plain(client, maker, b"[1, 2]").status_code == 422
    too_large = b" " * (MAX_DOCUMENT_BYTES + 1)
    refused = plain(client, maker, too_large)
    assert refused.status_code == 413
    assert refused.headers["GS1-EPCIS-Capture-File-Size-Limit"] == str(MAX_DOCUMENT_BYTES)
    assert log_size(client) == size


# --- unverified upstream claims ------------------------------------------------------------


def test_a_partners_events_about_foreign_packs_are_stored_as_its_claims(
    client: FlaskClient, parties: dict[str, PartyKey], app: Flask
) -> None:
    maker, wholesaler = parties["maker"], parties["wholesaler"]
    assert capture(client, maker, document(commissioning(SERIALS))).status_code == 202
    claim = foreign_receiving(FOREIGN_PACK)
    classes = foreign_receiving()
    classes["quantityList"] = [{"epcClass": FOREIGN_LOT_CLASS}]  # an unknown amount, too
    inspected = {**claim, "bizStep": "inspecting", "eventTime": "2026-11-05T09:00:00Z"}
    for member in ("sourceList", "destinationList", "bizTransactionList"):
        del inspected[member]
    response = capture(client, wholesaler, document(claim, classes, inspected))
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["events_captured"] == 3
    assert response.get_json()["unverified_claims"] == 2  # an inspection claims no custody
    job = read(client, wholesaler, response.headers["Location"]).get_json()
    assert job["unverified_claims"] == 2
    # Stored and queryable, flagged, by the capturer and regulators only.
    for reader in (wholesaler, parties["regulator"]):
        found = events(client, reader, MATCH_anyEPC=FOREIGN_PACK)
        assert [e["bizStep"] for e in found] == ["receiving", "inspecting"]
        assert found[0][UNVERIFIED_UPSTREAM] is True and UNVERIFIED_UPSTREAM not in found[1]
        assert events(client, reader, MATCH_epcClass=FOREIGN_LOT_CLASS)[0][UNVERIFIED_UPSTREAM]
        answer = read(client, reader, f"/epcis/events?MATCH_anyEPC={FOREIGN_PACK}").get_json()
        assert len(parse_epcis_document(answer)) == 2  # still valid EPCIS 2.0
    for reader in (maker, parties["pharmacy"]):
        assert events(client, reader, MATCH_anyEPC=FOREIGN_PACK) == []
        assert events(client, reader, MATCH_epcClass=FOREIGN_LOT_CLASS) == []
    # No custody moved: the log knows no such batch, and the wholesaler holds nothing of it.
    batches = read(client, wholesaler, "/api/v1/batches").get_json()["batches"]
    assert [b["gtin"] for b in batches] == []
    foreign_batch = f"/api/v1/batches/{FOREIGN_GTIN}/F-LOT"
    assert read(client, parties["regulator"], foreign_batch).status_code == 404
    # The projection rebuilt from the log holds the same claims, marked the same way.
    rebuilt = app.test_cli_runner().invoke(args=["rebuild", "--quiet"])
    assert "identical" in rebuilt.output, rebuilt.output


def test_an_event_mixing_this_logs_packs_with_foreign_ones_is_refused(
    client: FlaskClient, parties: dict[str, PartyKey]
) -> None:
    maker, wholesaler = parties["maker"], parties["wholesaler"]
    assert capture(client, maker, document(commissioning(SERIALS))).status_code == 202
    size = log_size(client)
    mixed = shipping(SERIALS[:1])
    mixed["epcList"].append(FOREIGN_PACK)
    refused = capture(client, maker, document(mixed))
    assert refused.status_code == 409, refused.get_json()
    problem = refused.get_json()
    assert problem["event"] == 0 and problem["epc"] == FOREIGN_PACK
    assert "separate events" in problem["detail"]
    # A pack of this log is never a claim: a receipt of packs nobody shipped it is refused,
    # as is a serial this log never commissioned in a batch it did.
    assert capture(client, wholesaler, document(receiving(SERIALS[:2]))).status_code == 409
    unknown_serial = receiving([])
    unknown_serial["epcList"] = [f"https://id.gs1.org/01/{GTIN}/10/{LOT}/21/NOPE"]
    assert capture(client, wholesaler, document(unknown_serial)).status_code in (404, 409)
    # Nor may a document set the claim's mark itself.
    forged = {**foreign_receiving(FOREIGN_PACK), UNVERIFIED_UPSTREAM: False}
    marked = capture(client, wholesaler, document(forged))
    assert marked.status_code == 422 and marked.get_json()["event"] == 0
    # Nor the namespaces a stored event gives its answers' @context.
    rebinding = {**foreign_receiving(FOREIGN_PACK), NAMESPACES_MEMBER: {"cbv": "https://x/"}}
    refused = capture(client, wholesaler, document(rebinding))
    assert refused.status_code == 422 and NAMESPACES_MEMBER in refused.get_json()["detail"]
    assert log_size(client) == size
    assert events(client, parties["regulator"], MATCH_anyEPC=FOREIGN_PACK) == []


# --- the command line ----------------------------------------------------------------------


def test_capture_epcis_plain_sends_the_file_byte_for_byte(tmp_path: Path) -> None:
    with live_server(tmp_path / "data") as (url, app):
        client = app.test_client()
        authority = Authority.from_app(app)
        maker = register_party(client, authority, "Acme", "5412345000013", ["manufacturer"])
        wholesaler = register_party(client, authority, "MedSupply", "5412345000020", ["wholesaler"])
        assign_prefix(client, authority, maker.gln, "9506000")
        product = {"gtin": GTIN, "name": "Amoxicillin", "form": "capsule", "strength": "500 mg"}
        registered = client.post(
            "/api/v1/statements", json=maker.envelope("product.register", product)
        )
        assert registered.status_code == 201
        keys = {"maker": tmp_path / "maker.pem", "wholesaler": tmp_path / "wholesaler.pem"}
        save_private_key(keys["maker"], maker.key)
        save_private_key(keys["wholesaler"], wholesaler.key)
        made = tmp_path / "made.jsonld"
        made.write_bytes(as_bytes(document(commissioning(SERIALS))))
        claimed = tmp_path / "claimed.jsonld"
        claimed.write_bytes(as_bytes(document(foreign_receiving(FOREIGN_PACK))))

        def run(path: Path, party: str) -> Any:
            args = ["capture-epcis", str(path), "--key", str(keys[party]), "--url", url, "--plain"]
            return CliRunner().invoke(main, args)

        captured = run(made, "maker")
        assert captured.exit_code == 0, captured.output
        assert "made.jsonld: 1 new events" in captured.output
        index = int(captured.output.split()[1])
        payload = read(client, maker, f"/api/v1/log/entries/{index}").get_json()["entry"]
        assert payload["envelope"]["payloadType"] == "application/ld+json"
        # The log holds the file's own bytes (indented, no log named in it by the command).
        stored = read(client, maker, f"/log/payload/{payload['envelope']['payloadSha256']}")
        assert stored.data == made.read_bytes()
        # The readers of the entry only: never kept by a shared cache for anyone else.
        assert stored.headers["Cache-Control"] == "private, max-age=31536000, immutable"
        again = run(made, "maker")
        assert again.exit_code == 0 and "(already logged)" in again.output
        claim = run(claimed, "wholesaler")
        assert claim.exit_code == 0, claim.output
        assert "1 new events, 1 stored as unverified claims" in claim.output
        shipped = tmp_path / "shipped.jsonld"  # by a party that holds none of the packs
        shipped.write_bytes(as_bytes(document(shipping(SERIALS[:1]))))
        refused = run(shipped, "wholesaler")
        assert refused.exit_code == 1 and "event 0 (shipping)" in refused.output


def test_a_partys_jobs_are_found_by_key_not_by_walking_the_log(tmp_path: Path) -> None:
    """Listing a party's jobs reads its `capture_job` rows by index: no scan of the log or of
    every job, so a page costs the same at ten million entries as at ten."""
    from sqlalchemy import create_engine

    from provenance.supply import capture_jobs
    from provenance.supply.tables import METADATA

    engine = create_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    METADATA.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO capture_job (idx, gln, logged_at) VALUES (?, ?, ?)",
            [(i, f"{i % 7:013d}", "2026-01-01T00:00:00Z") for i in range(1, 200)],
        )
        plans = {}
        for party in ("0000000000003", None):
            rows = capture_jobs.jobs(conn, party, after=10, limit=5)
            assert [job.index for job in rows] == (
                [17, 24, 31, 38, 45] if party else [11, 12, 13, 14, 15]
            )
            sql = "SELECT idx, gln, logged_at FROM capture_job WHERE idx > ?" + (
                " AND gln = ?" if party else ""
            )
            params = (10, party) if party else (10,)
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql} ORDER BY idx", params)
            plans[party] = " ".join(str(row[-1]) for row in plan.fetchall())
    assert "capture_job_party" in plans["0000000000003"]
    assert "SCAN" not in plans["0000000000003"]
    assert plans[None].startswith("SEARCH capture_job") and "(idx>?)" in plans[None]
