"""Errors of the transparency log: envelopes, statements, keys, signatures, proofs, storage."""

from __future__ import annotations

from provenance.errors import Error

# --- 400/422: the envelope or statement is malformed -----------------------------------------


class BadEnvelope(Error):
    slug, status, title = "bad-envelope", 400, "Not a valid DSSE envelope"


class BadStatement(Error):
    slug, status, title = "bad-statement", 422, "Statement is not valid"


class BadKey(Error):
    slug, status, title = "bad-key", 422, "Public key is not a valid P-256 key"


# --- 403: the signer may not do this ---------------------------------------------------------


class UnknownKey(Error):
    slug, status, title = "unknown-key", 403, "Signing key is not registered"


class RevokedKey(Error):
    slug, status, title = "revoked-key", 403, "Signing key is revoked or rotated out"


class BadSignature(Error):
    slug, status, title = "bad-signature", 403, "Signature does not verify"


class WrongRole(Error):
    slug, status, title = "wrong-role", 403, "Signer's role does not allow this statement"


# --- other statuses --------------------------------------------------------------------------


class Conflict(Error):
    slug, status, title = "conflict", 409, "Statement conflicts with the current state"


class LogNotInitialised(Error):
    slug, status, title = "not-initialised", 503, "The log has not been initialised"


class LogStateUnvouched(Error):
    """The stored log lacks or contradicts what this log already signed: appending would sign
    over a state it cannot vouch for (a restored backup, a lost WAL tail, an edited tree hash)."""

    slug, status, title = "log-state-unvouched", 503, "The log signed a state the store lacks"


class StorageDamaged(Error):
    slug, status, title = "storage-damaged", 503, "The database is damaged"


class ErasureIncomplete(Error):
    """An erasure is logged and its bytes deleted, but the database's files still hold them:
    a transaction older than the erasure keeps the old row versions alive."""

    slug, status, title = "erasure-incomplete", 503, "The erased bytes are still in the files"


class ReadOnly(Error):
    slug, status, title = "read-only", 503, "This server only reads"


class SchemaOutdated(Error):
    slug, status, title = "schema-outdated", 503, "The database schema is not this release's"


# --- verification of proofs, notes and stored data -------------------------------------------


class VerificationError(Error):
    slug, status, title = "verification-failed", 422, "Verification failed"


class InvalidProof(VerificationError):
    slug, title = "invalid-proof", "Merkle proof does not verify"


class InvalidNote(VerificationError):
    slug, title = "invalid-note", "Signed note does not verify"


class MalformedNote(VerificationError):
    slug, title = "malformed-note", "Signed note, checkpoint or proof is malformed"


class IntegrityError(Error):
    """The stored log is not what its own hashes and signatures say it is."""

    slug, status, title = "integrity", 500, "Log integrity failure"


#: The log's problem types, for the /problems documentation page.
PROBLEMS: tuple[type[Error], ...] = (
    BadEnvelope,
    BadStatement,
    BadKey,
    UnknownKey,
    RevokedKey,
    BadSignature,
    WrongRole,
    Conflict,
    LogNotInitialised,
    LogStateUnvouched,
    StorageDamaged,
    ReadOnly,
    SchemaOutdated,
    InvalidProof,
    InvalidNote,
    MalformedNote,
)
