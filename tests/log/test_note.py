"""C2SP signed notes, checkpoints, cosignatures and tlog-proofs, driven by the C2SP vectors."""

from __future__ import annotations

import base64
import contextlib
import json
import random
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from provenance.log.errors import InvalidNote, MalformedNote
from provenance.log.note import (
    ALG_ED25519,
    Checkpoint,
    Signer,
    TlogProof,
    format_checkpoint,
    format_tlog_proof,
    key_hash,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_cosignature,
    parse_note,
    parse_tlog_proof,
    parse_verifier_key,
)
from tests.paths import VECTORS

V: dict[str, Any] = json.loads((VECTORS / "c2sp/c2sp_vectors.json").read_text())


def signer_from_skey(skey: str) -> Signer:
    """golang.org/x/mod signer keys: PRIVATE+KEY+name+hash+base64(0x01 || seed)."""
    _, _, name, _, blob = skey.split("+", 4)
    raw = base64.b64decode(blob)
    assert raw[0] == ALG_ED25519
    return Signer(name, ed25519.Ed25519PrivateKey.from_private_bytes(raw[1:]))


@pytest.mark.parametrize(
    "case",
    V["signed_note_ed25519"] + V["signed_note_ecdsa_p256_type02"],
    ids=lambda c: c["vkey"].split("+")[0] + ("-ok" if c["want_valid"] else "-bad"),
)
def test_signed_note_vectors(case: dict[str, Any]) -> None:
    verifier = parse_verifier_key(case["vkey"])
    if case["want_valid"]:
        note, verified = open_note(case["note"], [verifier])
        assert verified == [verifier]
        assert case["note"].startswith(note.text)
    else:
        with pytest.raises(InvalidNote):
            open_note(case["note"], [verifier])


def test_deterministic_resign_matches_published_signature() -> None:
    case = V["signed_note_ed25519"][1]
    signer = signer_from_skey(case["skey"])
    assert signer.verifier_key_line() == case["vkey"]
    text = case["note"].split("\n\n")[0] + "\n"
    assert signer.sign(text) == case["note"]


def test_unknown_signer_is_ignored_but_known_bad_signature_fails() -> None:
    case = V["signed_note_ed25519"][2]  # PeterNeumann (unknown here) + EnochRoot
    enoch = parse_verifier_key(case["vkey"])
    _, verified = open_note(case["note"], [enoch])
    assert verified == [enoch]
    peter = parse_verifier_key(V["signed_note_ed25519"][1]["vkey"])
    tampered = case["note"].replace("x08go/ZJ", "x08go/ZK")
    with pytest.raises(InvalidNote, match="PeterNeumann"):
        open_note(tampered, [enoch, peter])


@pytest.mark.parametrize("vkey", V["vkey_parse_must_fail"]["cases"])
def test_malformed_verifier_keys(vkey: str) -> None:
    with pytest.raises(MalformedNote):
        parse_verifier_key(vkey)


@pytest.mark.parametrize(
    "name", ["sunlight_rfc6962_type05", "ed25519_base64_contains_plus", "cosignature_v1_type04"]
)
def test_other_verifier_keys_parse(name: str) -> None:
    vkey = V["other_vkeys_parse_ok"][name]
    verifier = parse_verifier_key(vkey)
    assert verifier.line() == vkey
    if verifier.alg == ALG_ED25519:
        assert verifier.key_hash == key_hash(verifier.name, ALG_ED25519, verifier.key)


def test_cosignature_parse() -> None:
    case = V["cosignature_v1_timestamp_parse"]
    key, timestamp, sig = parse_cosignature(base64.b64decode(case["sig_b64"]))
    assert key.hex() == case["want_key_id_hex"] and timestamp == case["want_timestamp"]
    assert len(sig) == 64
    with pytest.raises(MalformedNote):
        parse_cosignature(base64.b64decode(case["wrong_type_sig_b64_must_fail"]))


def test_checkpoint_example_round_trip() -> None:
    note = parse_note(V["checkpoint_examples_format_only"]["checkpoint"])
    checkpoint = parse_checkpoint(note.text)
    assert checkpoint.origin == "example.com/behind-the-sofa" and checkpoint.size == 20852163
    assert format_checkpoint(checkpoint) == note.text


@pytest.mark.parametrize(
    "text",
    [
        "origin\n",
        "origin\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "origin\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "origin\n5\nAAAA\n",
        "origin\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
        "\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "origin\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\nextension\n",
    ],
)
def test_malformed_checkpoints(text: str) -> None:
    with pytest.raises(MalformedNote):
        parse_checkpoint(text)


@pytest.fixture
def signer() -> Signer:
    return Signer("provenance.test/log", ed25519.Ed25519PrivateKey.generate())


def test_signer_round_trip_and_every_flipped_byte_fails(signer: Signer) -> None:
    text = format_checkpoint(Checkpoint("provenance.test/log", 7, bytes(range(32))))
    signed = signer.sign(text)
    assert open_checkpoint(signed, signer.verifier).size == 7
    for position in range(len(text) - 1):
        if text[position] == "\n":
            continue
        flipped = text[:position] + chr(ord(text[position]) ^ 1) + text[position + 1 :]
        with pytest.raises((InvalidNote, MalformedNote)):
            open_checkpoint(signed.replace(text, flipped, 1), signer.verifier)


def test_checkpoint_from_another_origin_is_refused(signer: Signer) -> None:
    signed = signer.sign(format_checkpoint(Checkpoint("other.example/log", 1, bytes(32))))
    with pytest.raises(InvalidNote, match="origin"):
        open_checkpoint(signed, signer.verifier)


def test_random_mutations_only_raise_note_errors(signer: Signer) -> None:
    signed = signer.sign(format_checkpoint(Checkpoint("provenance.test/log", 9, bytes(32))))
    rng = random.Random(7)
    raw = signed.encode()
    for _ in range(1000):
        data = bytearray(raw)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        with contextlib.suppress(InvalidNote, MalformedNote):
            open_checkpoint(bytes(data), signer.verifier)


def test_tlog_proof_round_trip(signer: Signer) -> None:
    checkpoint = signer.sign(format_checkpoint(Checkpoint("provenance.test/log", 9, bytes(32))))
    proof = TlogProof(5, (bytes(32), bytes([1]) * 32), checkpoint, extra=b"entry bytes")
    text = format_tlog_proof(proof)
    assert text.startswith("c2sp.org/tlog-proof@v1\nextra ZW50cnkgYnl0ZXM=\nindex 5\n")
    assert parse_tlog_proof(text) == proof
    bare = TlogProof(0, (), checkpoint)
    assert parse_tlog_proof(format_tlog_proof(bare)) == bare


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"),
        lambda t: t.replace("index 5", "index 05"),
        lambda t: t.replace("index 5", "index -5"),
        lambda t: t.replace("index 5\n", ""),
        lambda t: t.replace("\n\n", "\n", 1),
        lambda t: t.replace("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AAAA"),
        lambda t: t.replace("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "!!!"),
        lambda t: t.replace("index 5\n", "index 5\nextra ZW50\n"),
        lambda t: t.split("\n\n")[0] + "\n\n",
    ],
)
def test_malformed_tlog_proofs(signer: Signer, mutate: Any) -> None:
    checkpoint = signer.sign(format_checkpoint(Checkpoint("provenance.test/log", 9, bytes(32))))
    text = format_tlog_proof(TlogProof(5, (bytes(32),), checkpoint, extra=b"x"))
    mutated = mutate(text)
    assert mutated != text
    with pytest.raises(MalformedNote):
        parse_tlog_proof(mutated)
