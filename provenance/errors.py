"""One error hierarchy for the whole service; the web layer maps it to RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any, ClassVar

#: Problem type URIs are tag URIs (RFC 4151): stable identifiers that never change with deployment.
PROBLEM_BASE = "tag:provenance.local,2026:problem/"


class Error(Exception):
    """Base of every error this package raises on purpose."""

    slug: ClassVar[str] = "internal"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions

    @classmethod
    def type_uri(cls) -> str:
        return PROBLEM_BASE + cls.slug

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        """The RFC 9457 problem details object for this error."""
        body: dict[str, Any] = {
            "type": self.type_uri(),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance is not None:
            body["instance"] = instance
        body.update(self.extensions)
        return body


# --- 400: the request itself is malformed ---------------------------------------------------


class BadJSON(Error):
    slug, status, title = "bad-json", 400, "Request body is not valid JSON"


class BadEnvelope(Error):
    slug, status, title = "bad-envelope", 400, "Not a valid DSSE envelope"


class BadStatement(Error):
    slug, status, title = "bad-statement", 422, "Statement is not valid"


class BadIdentifier(Error):
    slug, status, title = "bad-identifier", 422, "Not a valid GS1 identifier or scan"


class BadEpcis(Error):
    slug, status, title = "bad-epcis", 422, "Not a valid EPCIS 2.0 document"


class BadDataset(Error):
    slug, status, title = "bad-dataset", 422, "Not a readable dataset file"


class BadParameter(Error):
    slug, status, title = "bad-parameter", 400, "A query or command parameter is not valid"


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


class NotFound(Error):
    slug, status, title = "not-found", 404, "No such resource"


class Conflict(Error):
    slug, status, title = "conflict", 409, "Statement conflicts with the current state"


class Gone(Error):
    slug, status, title = "gone", 410, "The payload was erased"


class TooLarge(Error):
    slug, status, title = "too-large", 413, "Request or entry is too large"


class UnsupportedMediaType(Error):
    slug, status, title = "unsupported-media-type", 415, "Unsupported media type"


class LogNotInitialised(Error):
    slug, status, title = "not-initialised", 503, "The log has not been initialised"


# --- verification of proofs, notes and stored data (pure modules) ----------------------------


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


#: Every concrete problem type, for the /problems documentation page and tests.
ALL_ERRORS: tuple[type[Error], ...] = (
    BadJSON,
    BadEnvelope,
    BadStatement,
    BadIdentifier,
    BadEpcis,
    BadDataset,
    BadKey,
    UnknownKey,
    RevokedKey,
    BadSignature,
    WrongRole,
    NotFound,
    Conflict,
    Gone,
    TooLarge,
    UnsupportedMediaType,
    LogNotInitialised,
    InvalidProof,
    InvalidNote,
    MalformedNote,
)
