"""C2SP signed notes, tlog-checkpoints, cosignature parsing and tlog-proof receipts."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import ecdsa
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from ecdsa.util import sigdecode_der

from provenance.log.errors import InvalidNote, MalformedNote

ALG_ED25519 = 0x01
ALG_ECDSA_P256 = 0x02
ALG_COSIGNATURE_V1 = 0x04
ALG_RFC6962_STH = 0x05
#: Algorithms whose verifier keys parse but which this package does not verify with.
PARSE_ONLY_ALGS = frozenset({ALG_RFC6962_STH})
#: Algorithms whose public key is 32 bytes of Ed25519 and whose key ID is the C2SP hash.
ED25519_ALGS = frozenset({ALG_ED25519, ALG_COSIGNATURE_V1})
COSIGNATURE_HEADER = "cosignature/v1"
#: tlog-cosignature: a timestamp MUST NOT exceed 2^63 - 1.
MAX_COSIGNATURE_TIME = 2**63 - 1
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
_DECIMAL = re.compile(r"^(0|[1-9][0-9]*)$")
_HEX8 = re.compile(r"^[0-9a-f]{8}$")


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedNote(f"{what} is not standard base64") from exc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _check_name(name: str) -> None:
    # signed-note: a key name is non-empty and contains no Unicode spaces and no plus signs.
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise MalformedNote(f"invalid key name {name!r}")


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Ed25519 with python-ecdsa; any exception it raises means "invalid"."""
    try:
        key = ecdsa.VerifyingKey.from_string(public_key, curve=ecdsa.Ed25519)
        return bool(key.verify(signature, message))
    except Exception:
        return False


def p256_note_verify(spki_der: bytes, message: bytes, signature: bytes) -> bool:
    try:
        key = ecdsa.VerifyingKey.from_der(spki_der)
        return bool(
            key.verify(signature, message, hashfunc=hashlib.sha256, sigdecode=sigdecode_der)
        )
    except Exception:
        return False


def cosigned_message(text: bytes, timestamp: int) -> bytes:
    """tlog-cosignature "Ed25519 signed message": the header line, the timestamp line, then the
    whole checkpoint body (final newline included, signature lines not)."""
    return f"{COSIGNATURE_HEADER}\ntime {timestamp}\n".encode() + text


def cosignature_v1_verify(public_key: bytes, text: bytes, signature: bytes) -> bool:
    """A timestamped_signature (u64 big-endian timestamp || Ed25519 signature) over `text`."""
    if len(signature) != 8 + 64:
        return False
    (timestamp,) = struct.unpack(">Q", signature[:8])
    if timestamp > MAX_COSIGNATURE_TIME:
        return False
    return ed25519_verify(public_key, cosigned_message(text, timestamp), signature[8:])


def key_hash(name: str, alg: int, key: bytes) -> bytes:
    """The 4-byte key ID: SHA-256(name || 0x0A || alg || key)[:4]; ECDSA uses its DER SPKI."""
    if alg == ALG_ECDSA_P256:
        return hashlib.sha256(key).digest()[:4]
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + key).digest()[:4]


@dataclass(frozen=True)
class Verifier:
    name: str
    key_hash: bytes
    alg: int
    key: bytes

    def verify(self, message: bytes, signature: bytes) -> bool:
        if self.alg == ALG_ED25519:
            return ed25519_verify(self.key, message, signature)
        if self.alg == ALG_ECDSA_P256:
            return p256_note_verify(self.key, message, signature)
        if self.alg == ALG_COSIGNATURE_V1:
            return cosignature_v1_verify(self.key, message, signature)
        return False

    def line(self) -> str:
        return f"{self.name}+{self.key_hash.hex()}+{_b64(bytes([self.alg]) + self.key)}"


def verifier_key(name: str, public_key: bytes) -> str:
    """The Ed25519 verifier key line `name+hexhash+base64(0x01||key)`."""
    _check_name(name)
    return Verifier(name, key_hash(name, ALG_ED25519, public_key), ALG_ED25519, public_key).line()


def parse_verifier_key(vkey: str) -> Verifier:
    name, sep1, rest = vkey.partition("+")
    hash_hex, sep2, key_b64 = rest.partition("+")
    if not (sep1 and sep2):
        raise MalformedNote("a verifier key is name+hash+key")
    _check_name(name)
    if not _HEX8.match(hash_hex):
        raise MalformedNote("the key hash of a verifier key is 8 lowercase hex digits")
    raw = _b64decode(key_b64, "verifier key")
    if not raw:
        raise MalformedNote("empty verifier key")
    alg, key = raw[0], raw[1:]
    if alg in ED25519_ALGS and len(key) != 32:
        raise MalformedNote("an Ed25519 verifier key is 32 bytes")
    if alg == ALG_ECDSA_P256:
        try:
            ecdsa.VerifyingKey.from_der(key)
        except Exception as exc:
            raise MalformedNote("not a P-256 SubjectPublicKeyInfo") from exc
    elif alg not in (*ED25519_ALGS, *PARSE_ONLY_ALGS):
        raise MalformedNote(f"unknown verifier key algorithm 0x{alg:02x}")
    expected = bytes.fromhex(hash_hex)
    if alg in (*ED25519_ALGS, ALG_ECDSA_P256) and key_hash(name, alg, key) != expected:
        raise MalformedNote("the key hash does not match the key")
    return Verifier(name, expected, alg, key)


class Signer:
    """Signs notes with the log's Ed25519 key."""

    def __init__(self, name: str, private_key: ed25519.Ed25519PrivateKey) -> None:
        _check_name(name)
        self.name = name
        self._key = private_key
        public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = Verifier(name, key_hash(name, ALG_ED25519, public), ALG_ED25519, public)

    def verifier_key_line(self) -> str:
        return self.verifier.line()

    def sign(self, text: str) -> str:
        signature = self._key.sign(text.encode())
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {_b64(self.verifier.key_hash + signature)}\n"


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_hash: bytes
    signature: bytes


@dataclass(frozen=True)
class Note:
    text: str
    signatures: tuple[NoteSignature, ...]


#: Characters a note may not hold: every C0 control character but newline.
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")


def parse_note(note: str | bytes) -> Note:
    """Split a signed note into text and signature lines (structure only)."""
    try:
        raw = note.decode("utf-8") if isinstance(note, bytes) else note
    except UnicodeDecodeError as exc:
        raise MalformedNote("a note is UTF-8") from exc
    if _CONTROL.search(raw):
        raise MalformedNote("a note contains no control characters but newline")
    split = raw.rfind("\n\n")
    if split < 0 or not raw.endswith("\n"):
        raise MalformedNote("a note is text, a blank line, and signature lines")
    text, sig_block = raw[: split + 1], raw[split + 2 :]
    signatures = []
    for line in sig_block.split("\n")[:-1]:
        if not line.startswith(SIGNATURE_PREFIX):
            raise MalformedNote("a signature line starts with an em dash and a space")
        name, space, sig_b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        _check_name(name)
        blob = _b64decode(sig_b64, "signature") if space else b""
        if len(blob) < 5:
            raise MalformedNote("a signature is a 4-byte key hash and a signature")
        signatures.append(NoteSignature(name, blob[:4], blob[4:]))
    if not signatures:
        raise MalformedNote("a note has at least one signature")
    if len(signatures) > MAX_SIGNATURES:
        raise MalformedNote(f"a note has at most {MAX_SIGNATURES} signatures")
    return Note(text, tuple(signatures))


def verified_signatures(
    parsed: Note, verifiers: Sequence[Verifier], what: str = "signature by known key"
) -> Iterator[tuple[Verifier, NoteSignature]]:
    """The note's signatures by `verifiers`, each checked (signed-note): signatures by unknown
    keys are ignored, a bad one by a known key refuses the whole note (InvalidNote)."""
    message = parsed.text.encode()
    known = {(v.name, v.key_hash): v for v in verifiers}
    for sig in parsed.signatures:
        verifier = known.get((sig.name, sig.key_hash))
        if verifier is None:
            continue
        if not verifier.verify(message, sig.signature):
            raise InvalidNote(f"invalid {what} {sig.name}")
        yield verifier, sig


def open_note(note: str | bytes, verifiers: Sequence[Verifier]) -> tuple[Note, list[Verifier]]:
    """Verify a note: signatures by unknown keys are ignored, a bad one by a known key is fatal."""
    parsed = parse_note(note)
    verified: list[Verifier] = []
    for verifier, _ in verified_signatures(parsed, verifiers):
        if verifier not in verified:
            verified.append(verifier)
    if not verified:
        raise InvalidNote("the note has no signature by a known key")
    return parsed, verified


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()


def format_checkpoint(cp: Checkpoint) -> str:
    lines = [cp.origin, str(cp.size), _b64(cp.root_hash), *cp.extensions]
    return "\n".join(lines) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """tlog-checkpoint body: origin, decimal size, base64 root hash, then extension lines."""
    if not text.endswith("\n"):
        raise MalformedNote("a checkpoint ends with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedNote("a checkpoint has origin, size and root hash lines")
    origin, size, root_b64, *extensions = lines
    if not origin:
        raise MalformedNote("a checkpoint's origin line is non-empty")
    if not _DECIMAL.match(size) or int(size) >= 2**64:
        raise MalformedNote("a checkpoint's size is a decimal without leading zeros")
    root = _b64decode(root_b64, "root hash")
    if len(root) != 32:
        raise MalformedNote("a checkpoint's root hash is 32 bytes")
    if any(not line for line in extensions):
        raise MalformedNote("checkpoint extension lines are non-empty")
    return Checkpoint(origin, int(size), root, tuple(extensions))


def open_checkpoint(
    signed: str | bytes, verifier: Verifier, origin: str | None = None
) -> Checkpoint:
    """Verify a checkpoint signed by the log; its origin must be the log's."""
    note, _ = open_note(signed, [verifier])
    checkpoint = parse_checkpoint(note.text)
    expected = origin if origin is not None else verifier.name
    if checkpoint.origin != expected:
        raise InvalidNote(f"checkpoint origin {checkpoint.origin!r} is not {expected!r}")
    return checkpoint


def parse_cosignature(sig: bytes) -> tuple[bytes, int, bytes]:
    """cosignature/v1: key hash (4) || big-endian u64 timestamp || Ed25519 signature (64)."""
    if len(sig) != 4 + 8 + 64:
        raise MalformedNote("a cosignature/v1 signature is 76 bytes")
    (timestamp,) = struct.unpack(">Q", sig[4:12])
    return sig[:4], timestamp, sig[12:]


@dataclass(frozen=True)
class TlogProof:
    index: int
    proof: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None


def format_tlog_proof(p: TlogProof) -> str:
    lines = [TLOG_PROOF_HEADER]
    if p.extra is not None:
        lines.append(f"extra {_b64(p.extra)}")
    lines.append(f"index {p.index}")
    lines.extend(_b64(h) for h in p.proof)
    return "\n".join(lines) + "\n\n" + p.checkpoint


def parse_tlog_proof(text: str | bytes) -> TlogProof:
    try:
        raw = text.decode("utf-8") if isinstance(text, bytes) else text
    except UnicodeDecodeError as exc:
        raise MalformedNote("a tlog-proof is UTF-8") from exc
    head, blank, checkpoint = raw.partition("\n\n")
    if not blank or not checkpoint:
        raise MalformedNote("a tlog-proof ends with a blank line and the checkpoint")
    lines = head.split("\n")
    if lines[0] != TLOG_PROOF_HEADER:
        raise MalformedNote(f"a tlog-proof starts with {TLOG_PROOF_HEADER}")
    position, extra = 1, None
    if len(lines) > 1 and lines[1].startswith("extra "):
        extra = _b64decode(lines[1][len("extra ") :], "extra data")
        position = 2
    if len(lines) <= position or not lines[position].startswith("index "):
        raise MalformedNote("a tlog-proof has an index line")
    index = lines[position][len("index ") :]
    if not _DECIMAL.match(index) or int(index) >= 2**64:
        raise MalformedNote("the index is a decimal without leading zeros")
    proof = []
    for line in lines[position + 1 :]:
        digest = _b64decode(line, "proof hash") if line else b""
        if len(digest) != 32:
            raise MalformedNote("each inclusion proof line is one base64 SHA-256 hash")
        proof.append(digest)
    parse_note(checkpoint)
    return TlogProof(int(index), tuple(proof), checkpoint, extra)
