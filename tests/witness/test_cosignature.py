"""cosignature/v1: the published vectors, signing, and counting the witnesses of a checkpoint."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from provenance.log.cosign import (
    CosignatureSigner,
    cosignatures,
    open_cosigned_checkpoint,
    parse_witness_vkey,
    signature_line,
    with_cosignatures,
)
from provenance.log.errors import InvalidNote, MalformedNote, VerificationError
from provenance.log.note import (
    ALG_COSIGNATURE_V1,
    cosigned_message,
    parse_cosignature,
    parse_note,
    parse_verifier_key,
)
from tests.paths import VECTORS
from tests.witness.trees import TestLog, leaves

V: dict[str, Any] = json.loads(
    (VECTORS / "c2sp-cosignature" / "cosignature_vectors.json").read_text()
)
REAL = V["real_cosigned_checkpoint"]
SPEC = V["c2sp_spec_example"]


def _witness(name: str) -> CosignatureSigner:
    return CosignatureSigner(name, ed25519.Ed25519PrivateKey.generate())


def _replace_line(note: str, name: str, make: Any) -> str:
    lines = note.split("\n")
    for i, line in enumerate(lines):
        if line.startswith(f"— {name} "):
            lines[i] = make(line)
    return "\n".join(lines)


def test_real_checkpoint_carries_four_valid_cosignatures() -> None:
    log = parse_verifier_key(REAL["log_vkey"])
    witnesses = [parse_witness_vkey(v) for v in REAL["witness_vkeys"]]
    checkpoint = open_cosigned_checkpoint(REAL["note"], log, log.name, witnesses, 4)
    assert checkpoint.size == 1432088532
    found = cosignatures(REAL["note"], witnesses)
    assert sorted(c.witness.name for c in found) == sorted(w.name for w in witnesses)
    assert {c.timestamp for c in found} == {REAL["want_timestamp"]}
    # Each found line is the note's own line, byte for byte.
    assert all(c.line in REAL["note"] for c in found)


def test_real_checkpoint_counts_only_the_witnesses_asked_for() -> None:
    log = parse_verifier_key(REAL["log_vkey"])
    two = [parse_witness_vkey(v) for v in REAL["witness_vkeys"][:2]]
    open_cosigned_checkpoint(REAL["note"], log, log.name, two, 2)
    with pytest.raises(VerificationError, match="2 of the 3 witnesses required") as caught:
        open_cosigned_checkpoint(REAL["note"], log, log.name, two, 3)
    assert caught.value.extensions["found"] == sorted(w.name for w in two)


@pytest.mark.parametrize("witness", [0, 1, 2, 3])
def test_real_cosignature_with_a_flipped_bit_rejects_the_note(witness: int) -> None:
    log = parse_verifier_key(REAL["log_vkey"])
    witnesses = [parse_witness_vkey(v) for v in REAL["witness_vkeys"]]
    name = witnesses[witness].name

    def flip(line: str) -> str:
        prefix, _, b64 = line.rpartition(" ")
        blob = bytearray(base64.b64decode(b64))
        blob[-1] ^= 1
        return f"{prefix} {base64.b64encode(bytes(blob)).decode()}"

    bad = _replace_line(REAL["note"], name, flip)
    # A known key's bad signature refuses the whole note, whatever the others say.
    with pytest.raises(InvalidNote, match=name):
        open_cosigned_checkpoint(bad, log, log.name, witnesses, 1)


def test_real_cosignature_with_another_timestamp_fails() -> None:
    name = "remora.n621.de"
    witness = parse_witness_vkey(next(v for v in REAL["witness_vkeys"] if v.startswith(name)))

    def later(line: str) -> str:
        prefix, _, b64 = line.rpartition(" ")
        blob = base64.b64decode(b64)
        (timestamp,) = struct.unpack(">Q", blob[4:12])
        moved = blob[:4] + struct.pack(">Q", timestamp + 1) + blob[12:]
        return f"{prefix} {base64.b64encode(moved).decode()}"

    with pytest.raises(InvalidNote):
        cosignatures(_replace_line(REAL["note"], name, later), [witness])


def test_real_witness_keys_have_their_c2sp_key_ids() -> None:
    for vkey in REAL["witness_vkeys"]:
        assert parse_witness_vkey(vkey).line() == vkey
    # A log key (Ed25519 type 0x01) is no witness key, and a wrong key ID does not parse.
    with pytest.raises(MalformedNote, match="type 0x01"):
        parse_witness_vkey(REAL["log_vkey"])
    name, _, rest = REAL["witness_vkeys"][0].partition("+")
    with pytest.raises(MalformedNote, match="key hash"):
        parse_witness_vkey(f"{name}+00000000+{rest.partition('+')[2]}")


def test_spec_example_signature_and_signed_message() -> None:
    note = parse_note(SPEC["note"])
    (sig,) = [s for s in note.signatures if s.name == SPEC["witness"]]
    key_id, timestamp, signature = parse_cosignature(sig.key_hash + sig.signature)
    assert key_id.hex() == SPEC["want_key_id_hex"] and timestamp == SPEC["want_timestamp"]
    assert len(signature) == 64
    message = cosigned_message(note.text.encode(), timestamp)
    assert message.decode() == SPEC["want_signed_message"]


def test_signer_round_trip_and_what_a_cosignature_covers() -> None:
    witness = _witness("witness.test/w1")
    log = TestLog()
    note = log.checkpoint(leaves(5))
    line = witness.cosign(parse_note(note).text, 1700000000)
    cosigned = note + line
    (found,) = cosignatures(cosigned, [witness.verifier])
    assert (found.timestamp, found.line) == (1700000000, line)
    assert witness.vkey().split("+")[2].startswith("B")  # base64 of 0x04 || key
    assert parse_witness_vkey(witness.vkey()).alg == ALG_COSIGNATURE_V1
    # The body is covered: the same line on another checkpoint does not verify.
    with pytest.raises(InvalidNote):
        cosignatures(log.checkpoint(leaves(6)) + line, [witness.verifier])
    # Extension lines are covered too.
    extended = log.signer.sign(parse_note(note).text + "extension\n")
    with_line = extended + witness.cosign(parse_note(extended).text, 1700000000)
    with pytest.raises(InvalidNote):
        cosignatures(with_line.replace("extension", "extensioN"), [witness.verifier])
    with pytest.raises(ValueError):
        witness.cosign(parse_note(note).text, 0)


def test_a_plain_ed25519_signature_is_no_cosignature() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    witness = CosignatureSigner("witness.test/w1", key)
    note = TestLog().checkpoint(leaves(3))
    text = parse_note(note).text
    # Signed over the body alone (no cosignature/v1 header), with a timestamp in front.
    forged = struct.pack(">Q", 1700000000) + key.sign(text.encode())
    line = signature_line(witness.name, witness.verifier.key_hash, forged)
    with pytest.raises(InvalidNote):
        cosignatures(note + line, [witness.verifier])


def test_witnesses_count_by_name_and_the_log_is_not_one() -> None:
    log = TestLog()
    note = log.checkpoint(leaves(4))
    text = parse_note(note).text
    first, second_key_same_name, other = (
        _witness("witness.test/a"),
        _witness("witness.test/a"),
        _witness("witness.test/b"),
    )
    cosigned = with_cosignatures(
        note,
        [
            first.cosign(text, 1700000000),
            second_key_same_name.cosign(text, 1700000001),
            other.cosign(text, 1700000002),
        ],
    )
    everyone = [first.verifier, second_key_same_name.verifier, other.verifier]
    verifier = log.signer.verifier
    open_cosigned_checkpoint(cosigned, verifier, log.origin, everyone, 2)
    with pytest.raises(VerificationError, match="2 of the 3"):
        open_cosigned_checkpoint(cosigned, verifier, log.origin, everyone, 3)
    # Naming the log's own key as a witness adds nothing.
    with pytest.raises(VerificationError, match="1 of the 2"):
        open_cosigned_checkpoint(cosigned, verifier, log.origin, [verifier, other.verifier], 2)
    # Cosignatures of unknown witnesses are ignored, and the log's signature is still needed.
    with pytest.raises(VerificationError, match="missing witness.test/b"):
        open_cosigned_checkpoint(note, verifier, log.origin, [other.verifier], 1)
    with pytest.raises(InvalidNote):
        open_cosigned_checkpoint(cosigned, TestLog().signer.verifier, log.origin, everyone, 1)


def test_with_cosignatures_adds_each_line_once() -> None:
    note = TestLog().checkpoint(leaves(2))
    line = _witness("witness.test/w").cosign(parse_note(note).text, 1700000000)
    assert with_cosignatures(with_cosignatures(note, [line, line]), [line]) == note + line
