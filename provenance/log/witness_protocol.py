"""C2SP tlog-witness add-checkpoint: request and answer bodies, and the checks a witness makes."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from provenance.errors import Error
from provenance.log import merkle
from provenance.log.errors import InvalidProof, MalformedNote
from provenance.log.note import SIGNATURE_PREFIX, Checkpoint, parse_checkpoint, parse_note

#: The Content-Type of a 409 answer, whose body is the witness's latest cosigned size.
SIZE_CONTENT_TYPE = "text/x.tlog.size"
#: tlog-witness: a client MUST NOT send more than 63 consistency proof lines.
MAX_PROOF_LINES = 63
_OLD = re.compile(r"old (0|[1-9][0-9]*)")
_SIZE = re.compile(r"(0|[1-9][0-9]*)\n")


# --- the witness's answers other than 200, with the status codes tlog-witness assigns ---------


class MalformedRequest(Error):
    slug, status, title = "witness-bad-request", 400, "Not a valid add-checkpoint request"


class UntrustedCheckpoint(Error):
    slug, status, title = "witness-untrusted", 403, "The checkpoint is not signed by the log's key"


class UnknownLog(Error):
    slug, status, title = "witness-unknown-log", 404, "This witness does not follow that log"


class SizeConflict(Error):
    """The client's old size is not the witness's latest cosigned size (which it carries)."""

    slug, status, title = "witness-size-conflict", 409, "Old size is not the latest cosigned size"

    def __init__(self, detail: str, *, latest_size: int) -> None:
        super().__init__(detail, latest_size=latest_size)
        self.latest_size = latest_size


class InconsistentCheckpoint(Error):
    slug, status, title = "witness-inconsistent", 422, "The checkpoint is not consistent"


# --- the request ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddCheckpoint:
    old_size: int
    proof: tuple[bytes, ...]
    note: str
    checkpoint: Checkpoint  # parsed, not yet verified


def format_add_checkpoint(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The body of POST <submission prefix>/add-checkpoint."""
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Split an add-checkpoint body; MalformedRequest (400) if it is not one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("the request body is not UTF-8") from None
    # The old size and proof lines end at the first empty line; the note follows.
    head, blank, note = text.partition("\n\n")
    if not blank:
        raise MalformedRequest("no empty line between the proof and the checkpoint")
    old_line, *proof_lines = head.split("\n")
    match = _OLD.fullmatch(old_line)
    if match is None or int(match[1]) >= 2**64:
        raise MalformedRequest('the first line is "old <size>" in decimal, no leading zeros')
    if len(proof_lines) > MAX_PROOF_LINES:
        raise MalformedRequest(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for line in proof_lines:
        try:
            digest = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            digest = b""
        if len(digest) != merkle.HASH_SIZE:
            raise MalformedRequest("each proof line is one base64 SHA-256 hash")
        proof.append(digest)
    try:
        checkpoint = parse_checkpoint(parse_note(note).text)
    except MalformedNote as exc:
        raise MalformedRequest(f"the checkpoint is malformed: {exc.detail}") from None
    return AddCheckpoint(int(match[1]), tuple(proof), note, checkpoint)


def check_update(request: AddCheckpoint, latest_size: int, latest_root: bytes | None) -> None:
    """The tlog-witness checks of a checkpoint whose signature has been verified, against the
    latest checkpoint the witness cosigned for its origin (size 0, root None: none yet).

    Numbers are the order of the checks in tlog-witness "add-checkpoint"."""
    new = request.checkpoint
    # 1. The old size must not exceed the checkpoint size (400).
    if request.old_size > new.size:
        raise MalformedRequest(f"old size {request.old_size} exceeds checkpoint size {new.size}")
    # 2. The old size must be the latest cosigned size (409 with that size).
    if request.old_size != latest_size:
        raise SizeConflict(
            f"the latest cosigned size is {latest_size}, not {request.old_size}",
            latest_size=latest_size,
        )
    # 3. A checkpoint of size zero has the empty tree's root (422).
    if new.size == 0 and new.root_hash != merkle.EMPTY_ROOT:
        raise InconsistentCheckpoint("a checkpoint of size 0 must have the empty tree's root")
    # 4. From the empty tree no proof is needed, so none may be sent (422).
    if request.old_size == 0:
        if request.proof:
            raise InconsistentCheckpoint("the old size is 0 but a consistency proof was sent")
        return
    assert latest_root is not None  # a cosigned size above zero always has its root
    # 5. Equal sizes need equal roots (a different root is a fork), else the proof must verify
    # from the cosigned tree to the new one (422).
    try:
        merkle.verify_consistency(
            request.old_size, new.size, request.proof, latest_root, new.root_hash
        )
    except InvalidProof as exc:
        raise InconsistentCheckpoint(exc.detail) from None


# --- the answers ---------------------------------------------------------------------------------


def format_size(size: int) -> str:
    """The body of a 409 answer."""
    return f"{size}\n"


def parse_size(body: bytes) -> int:
    """The witness's latest cosigned size from a 409 answer's body."""
    match = _SIZE.fullmatch(body.decode("ascii", errors="replace"))
    if match is None:
        raise MalformedNote("a 409 answer from a witness is a decimal size and a newline")
    return int(match[1])


def parse_signature_lines(body: bytes) -> list[str]:
    """The note signature lines of a 200 answer (each "— <name> <base64>\\n")."""
    text = body.decode("utf-8", errors="replace")
    if not text.endswith("\n"):
        raise MalformedNote("a witness's answer is signature lines, each ending in a newline")
    lines = text.splitlines(keepends=True)
    if not lines or not all(line.startswith(SIGNATURE_PREFIX) for line in lines):
        raise MalformedNote("a witness's answer is one or more note signature lines")
    return lines
