"""The witness's add-checkpoint: verify the log's signature, check consistency, cosign, persist."""

from __future__ import annotations

import hashlib
import logging
import time

from provenance.log.cosign import signature_line
from provenance.log.errors import VerificationError
from provenance.log.note import open_note
from provenance.log.store.engine import read_connection
from provenance.log.witness_protocol import (
    InconsistentCheckpoint,
    SizeConflict,
    UnknownLog,
    UntrustedCheckpoint,
    check_update,
    parse_add_checkpoint,
)
from provenance.witness.store import WitnessStore, log_verifier

logger = logging.getLogger(__name__)


def origin_hash(origin: str) -> str:
    """tlog-witness monitoring: a log is named by the lowercase hex SHA-256 of its origin."""
    return hashlib.sha256(origin.encode()).hexdigest()


class Witness:
    """Cosigns checkpoints of the logs its store follows; one instance per process."""

    def __init__(self, store: WitnessStore) -> None:
        self.store = store
        self.signer = store.signer

    def add_checkpoint(self, body: bytes) -> str:
        """The signature line of a new cosignature, or the error tlog-witness prescribes
        (MalformedRequest 400, UntrustedCheckpoint 403, UnknownLog 404, SizeConflict 409,
        InconsistentCheckpoint 422)."""
        # The request is an old size line, proof lines, an empty line and a checkpoint (400).
        request = parse_add_checkpoint(body)
        origin = request.checkpoint.origin
        with read_connection(self.store.engine) as conn:
            known = self.store.state(conn, origin)
        # An unknown origin is answered 404.
        if known is None:
            raise UnknownLog(f"this witness does not follow {origin}")
        # The checkpoint must be signed by the key trusted for its origin; signatures by other
        # keys are ignored, a bad one by the trusted key is refused with the rest (403).
        verifier = log_verifier(known.vkey)
        try:
            note, _ = open_note(request.note, [verifier])
        except VerificationError as exc:
            raise UntrustedCheckpoint(f"{origin}: {exc.detail}") from None
        log_lines = "".join(
            signature_line(s.name, s.key_hash, s.signature)
            for s in note.signatures
            if (s.name, s.key_hash) == (verifier.name, verifier.key_hash)
        )
        try:
            # Checking the old size and recording the new checkpoint happen atomically, so two
            # requests from one old size cannot both succeed (tlog-witness's rollback race).
            with self.store.transaction() as conn:
                latest = self.store.state(conn, origin)
                assert latest is not None  # logs are never removed
                check_update(request, latest.size, latest.root_hash)
                # Cosignature times of one log never go backwards, whatever the clock does.
                timestamp = max(int(time.time()), latest.cosigned_at or 0)
                line = self.signer.cosign(note.text, timestamp)
                # The monitoring view: the checkpoint, the log's verified signature, ours.
                recorded = f"{note.text}\n{log_lines}{line}"
                size, root = request.checkpoint.size, request.checkpoint.root_hash
                if not self.store.advance(conn, latest, size, root, recorded, timestamp):
                    raise SizeConflict("the log's state changed", latest_size=latest.size)
        except InconsistentCheckpoint as exc:
            # A validly signed checkpoint inconsistent with what was cosigned may prove a fork.
            logger.warning("inconsistent checkpoint for %s: %s", origin, exc.detail)
            self.store.keep_evidence(origin, exc.detail, body.decode())
            raise
        return line

    def checkpoint(self, hashed_origin: str) -> str | None:
        """The latest checkpoint cosigned for the log whose origin hashes to `hashed_origin`."""
        for state in self.store.logs():
            if origin_hash(state.origin) == hashed_origin.lower():
                return state.note
        return None
