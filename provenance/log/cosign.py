"""C2SP tlog-cosignature (cosignature/v1, Ed25519): witness keys, cosigning, counting cosigners."""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from provenance.log.errors import MalformedNote, VerificationError
from provenance.log.note import (
    ALG_COSIGNATURE_V1,
    MAX_COSIGNATURE_TIME,
    SIGNATURE_PREFIX,
    Checkpoint,
    NoteSignature,
    Verifier,
    cosigned_message,
    key_hash,
    open_checkpoint,
    parse_note,
    parse_verifier_key,
    verified_signatures,
)


def witness_vkey(name: str, public_key: bytes) -> str:
    """The vkey of a cosignature/v1 witness: `name+hex(key ID)+base64(0x04 || key)`."""
    return Verifier(
        name, key_hash(name, ALG_COSIGNATURE_V1, public_key), ALG_COSIGNATURE_V1, public_key
    ).line()


def parse_witness_vkey(vkey: str) -> Verifier:
    """A witness's verifier key; it must be a cosignature/v1 key (signature type 0x04)."""
    verifier = parse_verifier_key(vkey.strip())
    if verifier.alg != ALG_COSIGNATURE_V1:
        raise MalformedNote(
            f"{verifier.name}: a witness key is a cosignature/v1 verifier key (type 0x04), "
            f"not type 0x{verifier.alg:02x}"
        )
    return verifier


def signature_line(name: str, key_id: bytes, signature: bytes) -> str:
    """One note signature line, newline included."""
    return f"{SIGNATURE_PREFIX}{name} {base64.b64encode(key_id + signature).decode()}\n"


class CosignatureSigner:
    """Cosigns checkpoints with a witness's Ed25519 key (tlog-cosignature, Ed25519)."""

    def __init__(self, name: str, private_key: ed25519.Ed25519PrivateKey) -> None:
        public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = parse_witness_vkey(witness_vkey(name, public))
        self.name = name
        self._key = private_key

    def vkey(self) -> str:
        return self.verifier.line()

    def cosign(self, text: str, timestamp: int) -> str:
        """The signature line of a cosignature on the checkpoint body `text` at `timestamp`."""
        # A timestamp of zero would make no statement about time; tlog-witness forbids it.
        if not 0 < timestamp <= MAX_COSIGNATURE_TIME:
            raise ValueError(f"a cosignature timestamp is 1 to 2^63-1, not {timestamp}")
        signature = self._key.sign(cosigned_message(text.encode(), timestamp))
        timestamped = struct.pack(">Q", timestamp) + signature
        return signature_line(self.name, self.verifier.key_hash, timestamped)


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: whose, when, and its note signature line."""

    witness: Verifier
    timestamp: int
    line: str


def _line_of(sig: NoteSignature) -> str:
    return signature_line(sig.name, sig.key_hash, sig.signature)


def cosignatures(note: str | bytes, witnesses: Sequence[Verifier]) -> list[Cosignature]:
    """The valid cosignatures in a signed note by `witnesses`, at most one per witness key.

    signed-note: signatures by unknown keys are ignored; one whose key name and ID match a
    known witness must verify, else the whole note is refused (InvalidNote)."""
    found: dict[tuple[str, bytes], Cosignature] = {}
    parsed = parse_note(note)
    for witness, sig in verified_signatures(parsed, witnesses, "cosignature by witness"):
        (timestamp,) = struct.unpack(">Q", sig.signature[:8])
        found.setdefault((sig.name, sig.key_hash), Cosignature(witness, timestamp, _line_of(sig)))
    return list(found.values())


def open_cosigned_checkpoint(
    note: str | bytes,
    log_verifier: Verifier,
    origin: str,
    witnesses: Sequence[Verifier],
    min_witnesses: int,
) -> Checkpoint:
    """A checkpoint signed by the log and cosigned by at least `min_witnesses` of `witnesses`.

    Witnesses count by name: one witness with two keys is still one witness. VerificationError
    says how many were found, and which, when there are fewer."""
    # The log's signature first: a cosignature on a note the log never signed proves nothing.
    checkpoint = open_checkpoint(note, log_verifier, origin)
    # The log's own key is never a witness of its own checkpoints.
    own = (log_verifier.name, log_verifier.key_hash)
    others = [w for w in witnesses if (w.name, w.key_hash) != own]
    cosigners = sorted({c.witness.name for c in cosignatures(note, others)})
    if len(cosigners) < min_witnesses:
        missing = sorted({w.name for w in others} - set(cosigners))
        raise VerificationError(
            f"the checkpoint (size {checkpoint.size}) carries valid cosignatures by "
            f"{len(cosigners)} of the {min_witnesses} witnesses required: "
            f"found {', '.join(cosigners) or 'none'}; missing {', '.join(missing) or 'none'}",
            found=cosigners,
            missing=missing,
            required=min_witnesses,
        )
    return checkpoint


def with_cosignatures(note: str, lines: Sequence[str]) -> str:
    """A signed note with more signature lines appended (those it already carries are kept once)."""
    present = set(note.splitlines(keepends=True))
    return note + "".join(line for line in dict.fromkeys(lines) if line not in present)
