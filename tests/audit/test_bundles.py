"""Proof bundles: a batch's and a submission's verify offline with the log's key alone, any
changed value fails naming the part, and each requester gets only what it may read."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask
from flask.testing import FlaskClient

from provenance.audit.bundle import IDENTITY, SUBJECT, VerifiedBundle, verify_bundle
from provenance.audit.cli import checkpoint_opener
from provenance.audit.errors import BadBundle
from provenance.log import cosign, cosignatures
from provenance.log.cosign import CosignatureSigner, with_cosignatures
from provenance.log.note import parse_verifier_key, verifier_key
from provenance.log.personality import Registry
from provenance.log.store import logdb
from provenance.log.store.engine import query
from provenance.web.bundles_http import OMITTED_HEADER
from provenance.web.context import installed, service
from tests.audit.live import run
from tests.conftest import BACKENDS, app_on
from tests.parties import Authority, PartyKey, read, register_party
from tests.supply.chain import GTIN, LOT, Chain, full_chain, make_chain
from tests.supply.test_epcis_capture import capture, commissioning, document
from tests.trials.test_trials import AE_CSV, TRIAL, Study

EPCIS_LOT = "EP-LOT-1"
BATCH = f"/api/v1/bundles/batch/{GTIN}/{LOT}"


def vkey(client: FlaskClient) -> str:
    return str(client.get("/log/key").text.strip())


def verified(
    app: Flask, data: bytes, witnesses: tuple[str, ...] = (), k: int | None = None
) -> VerifiedBundle:
    client = app.test_client()
    line = vkey(client)
    opener = checkpoint_opener(parse_verifier_key(line), witnesses, k)
    return verify_bundle(data, opener, _registry(app), line)


def _registry(app: Flask) -> Registry:
    with app.app_context():
        return installed().registry


def fetch(client: FlaskClient, party: PartyKey | None, url: str, status: int = 200) -> Any:
    response = read(client, party, url)
    assert response.status_code == status, response.get_json()
    return response


@pytest.fixture
def chain(client: FlaskClient, authority: Authority) -> Chain:
    c = make_chain(client, authority)
    full_chain(c)
    return c


def batch_indices(app: Flask, lot: str) -> set[int]:
    """What the projection says the batch's entries are (its timeline and its product)."""
    with app.app_context(), service().engine.connect() as conn:
        rows = query(
            conn,
            "SELECT idx FROM custody_event WHERE gtin = ? AND lot = ? UNION "
            "SELECT idx FROM epcis_event WHERE gtin = ? AND lot = ? UNION "
            "SELECT registered_index FROM product WHERE gtin = ?",
            (GTIN, lot, GTIN, lot, GTIN),
        )
    return {int(index) for (index,) in rows}


def test_a_batch_bundle_verifies_offline_with_the_log_key_alone(
    app: Flask, client: FlaskClient, chain: Chain, tmp_path: Path
) -> None:
    assert (
        capture(client, chain.maker, document(commissioning(["EP1", "EP2"], EPCIS_LOT))).status_code
        == 202
    )
    for lot in (LOT, EPCIS_LOT):
        response = fetch(client, chain.regulator, f"/api/v1/bundles/batch/{GTIN}/{lot}")
        assert response.headers["Content-Disposition"] == (
            f'attachment; filename="batch-{GTIN}-{lot}.bundle.json"'
        )
        assert response.headers[OMITTED_HEADER] == "0"
        bundle = verified(app, response.data)
        subject = {e.index for e in bundle.entries if e.role == SUBJECT}
        assert subject == batch_indices(app, lot)
        identity = [e for e in bundle.entries if e.role == IDENTITY]
        assert identity[0].index == 0 and {e.kind for e in identity} == {
            "log.genesis",
            "party.register",
        }
    # The EPCIS document is a detached payload: it travels in the bundle, and checks.
    assert any("payload" in e for e in json.loads(response.data)["entries"])
    # On the command line, with nothing but the file and the log's verifier key.
    (tmp_path / "batch.json").write_bytes(fetch(client, chain.regulator, BATCH).data)
    (tmp_path / "log.vkey").write_text(vkey(client) + "\n")
    result = run("verify-bundle", tmp_path / "batch.json", "--vkey", tmp_path / "log.vkey")
    assert result.exit_code == 0, result.output
    assert "OK: 6 entries and 4 identity entries are in log" in result.output
    assert (
        "custody.receive  logged" in result.output
        and "City Pharmacy (5412345000037)" in result.output
    )
    other = tmp_path / "other.vkey"
    other.write_text(_other_log_key())
    result = run("verify-bundle", tmp_path / "batch.json", "--vkey", other)
    assert result.exit_code == 1 and "BUNDLE DOES NOT VERIFY: checkpoint" in result.output


def _other_log_key() -> str:
    """Another log's key under this log's name: a bundle must not verify with it."""
    public = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    return verifier_key("provenance.local/log", public)


def test_each_requester_gets_the_entries_it_may_read(
    app: Flask, client: FlaskClient, chain: Chain
) -> None:
    everything = batch_indices(app, LOT)
    public = {
        e.index for e in verified(app, fetch(client, None, BATCH).data).entries if e.role == SUBJECT
    }
    assert len(public) == 1  # the product's registration, a public kind
    anonymous = fetch(client, None, BATCH)
    assert int(anonymous.headers[OMITTED_HEADER]) == len(everything) - 1
    wholesaler = verified(app, fetch(client, chain.wholesaler, BATCH).data)
    got = {e.index for e in wholesaler.entries if e.role == SUBJECT}
    assert public < got < everything  # not the maker's commissioning: it names nobody else
    outsider = fetch(client, chain.other_pharmacy, BATCH)
    assert outsider.data == anonymous.data  # a party that never handled it: the public view
    fetch(client, chain.regulator, f"/api/v1/bundles/batch/{GTIN}/NO-SUCH-LOT", 404)
    # A pack's bundle: its batch's entries (the pack's own alerts would join them).
    pack = verified(
        app, fetch(client, chain.regulator, f"/api/v1/bundles/pack/{GTIN}/{LOT}/S{LOT}-0").data
    )
    assert {e.index for e in pack.entries if e.role == SUBJECT} == everything
    fetch(client, chain.regulator, f"/api/v1/bundles/pack/{GTIN}/{LOT}/NOPE", 404)
    # The verdict page links its bundle, for anyone who may fetch it (everyone).
    page = client.get(f"/01/{GTIN}/10/{LOT}/21/S{LOT}-0")
    assert f'href="/api/v1/bundles/pack/{GTIN}/{LOT}/S{LOT}-0"' in page.text


@pytest.fixture
def study(client: FlaskClient, authority: Authority) -> Study:
    return Study.with_protocol(client, authority)


def submit_dataset(study: Study) -> int:
    return int(study.send(study.site, "dataset.submit", study.dataset_body("AE", AE_CSV))["index"])


def test_a_submission_bundle_verifies_offline(
    app: Flask, client: FlaskClient, study: Study, authority: Authority
) -> None:
    index = submit_dataset(study)
    url = f"/api/v1/bundles/submission/{index}"
    regulator = _regulator(client, authority)
    bundle = verified(app, fetch(client, regulator, url).data)
    subject = [e for e in bundle.entries if e.role == SUBJECT]
    assert [(e.index, e.kind) for e in subject][-1] == (index, "dataset.submit")
    assert subject[0].kind == "trial.register" and len(subject) == 2
    assert subject[-1].person == "Dr. S. Investigator" and subject[-1].party_name == "Site 001"
    assert "person.register" in {e.kind for e in bundle.entries if e.role == IDENTITY}
    # The site reads its own submission, not the sponsor's registration entry.
    site = fetch(client, study.site, url)
    assert site.headers[OMITTED_HEADER] == "1"
    assert [e.index for e in verified(app, site.data).entries if e.role == SUBJECT] == [index]
    fetch(client, None, url, 401)
    fetch(client, study.other, url, 403)
    fetch(client, regulator, f"/api/v1/bundles/submission/{index - 1}", 404)
    # A whole trial, for the trial's readers only; its page links it.
    trial = verified(app, fetch(client, regulator, f"/api/v1/bundles/trial/{TRIAL}").data)
    assert [e.kind for e in trial.entries if e.role == SUBJECT] == [
        "trial.register",
        "protocol.commit",
        "dataset.submit",
    ]
    fetch(client, None, f"/api/v1/bundles/trial/{TRIAL}", 401)
    fetch(client, study.other, f"/api/v1/bundles/trial/{TRIAL}", 403)
    page = read(client, study.sponsor, f"/trials/{TRIAL}")
    assert f'href="/api/v1/bundles/trial/{TRIAL}"' in page.text
    assert f'href="/api/v1/bundles/submission/{index}"' in page.text


def _regulator(client: FlaskClient, authority: Authority) -> PartyKey:
    return register_party(client, authority, "Regulator", "5412345000044", ["regulator"])


#: Characters a changed value may take, by the class of the one it replaces: the file stays JSON
#: (mostly) and its meaning changes.
_CLASSES = (
    "0123456789",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
)


def value_positions(text: str) -> list[int]:
    """Offsets of the characters inside JSON string values and numbers (not whitespace or
    punctuation between them), member names included."""
    positions, inside, escaped = [], False, False
    for offset, char in enumerate(text):
        if inside:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
                continue
            elif char == '"':
                inside = False
                continue
            positions.append(offset)
        elif char == '"':
            inside = True
        elif char.isdigit():
            positions.append(offset)
    return positions


def flipped(text: str, offset: int, rng: random.Random) -> str:
    char = text[offset]
    pool = next((c for c in _CLASSES if char in c), _CLASSES[1])
    return text[:offset] + rng.choice(pool.replace(char, "")) + text[offset + 1 :]


def test_any_changed_value_fails_naming_the_part(
    app: Flask, client: FlaskClient, study: Study, authority: Authority
) -> None:
    index = submit_dataset(study)
    text = fetch(
        client, _regulator(client, authority), f"/api/v1/bundles/submission/{index}"
    ).data.decode()
    verified(app, text.encode())
    positions = value_positions(text)
    rng = random.Random(20260601)
    # Every value of the file is hit (format, checkpoint, each entry's members), then a sample.
    starts = [
        m.start() + 1
        for m in re.finditer(r'"(format|checkpoint|index|role|entry|inclusion)"', text)
    ]
    sample = sorted(
        {
            *(p for p in positions if any(0 <= p - s < 60 for s in starts)),
            *rng.sample(positions, 300),
        }
    )
    parts = ("the bundle is not JSON", "the bundle is an object", "format", "checkpoint")
    named = re.compile(rf"^({'|'.join(parts)}|entries\[\d+\]|entry \d+)")
    for offset in sample:
        changed = flipped(text, offset, rng)
        with pytest.raises(BadBundle) as failure:
            verified(app, changed.encode())
        assert named.match(failure.value.detail), (offset, failure.value.detail)


def test_a_cosigned_checkpoint_travels_with_the_bundle(
    app: Flask, client: FlaskClient, chain: Chain
) -> None:
    witness = CosignatureSigner("witness.example/w1", ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(BadBundle, match="checkpoint: .*cosignatures by 0 of the 1"):
        verified(app, fetch(client, chain.regulator, BATCH).data, (witness.vkey(),), 1)
    with app.app_context():
        engine = service().engine
        with engine.connect() as conn:
            latest = logdb.latest_checkpoint(conn)
        assert latest is not None
        body = latest.note[: latest.note.index("\n\n") + 1]
        note = with_cosignatures(latest.note, [witness.cosign(body, 1_780_000_000)])
        cosignatures.store(engine, latest, cosign.cosignatures(note, [witness.verifier]))
    data = fetch(client, chain.regulator, BATCH).data
    assert witness.name in json.loads(data)["checkpoint"]
    bundle = verified(app, data, (witness.vkey(),), 1)
    assert bundle.checkpoint.size == latest.size
    # The latest checkpoint not cosigned yet: the cosigned one that holds every entry is used.
    chain.send(chain.maker, "attestation", {"subject": "later", "claim": {"ok": True}})
    later = verified(app, fetch(client, chain.regulator, BATCH).data, (witness.vkey(),), 1)
    assert later.checkpoint.size == latest.size
    assert fetch(client, chain.regulator, "/api/v1/log").get_json()["size"] == latest.size + 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_bundles_on_either_database(backend: str, tmp_path: Path) -> None:
    with app_on(backend, tmp_path / "data") as app:
        client = app.test_client()
        authority = Authority.from_app(app)
        c = make_chain(client, authority)
        full_chain(c)
        batch = verified(app, fetch(client, c.regulator, BATCH).data)
        assert {e.index for e in batch.entries if e.role == SUBJECT} == batch_indices(app, LOT)
        s = Study.with_protocol(client, authority)
        index = submit_dataset(s)
        bundle = verified(app, fetch(client, c.regulator, f"/api/v1/bundles/trial/{TRIAL}").data)
        assert [e.index for e in bundle.entries if e.role == SUBJECT][-1] == index
