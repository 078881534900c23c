"""The OpenAPI components every document shares: problems, DSSE envelopes, security schemes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from provenance.access.sessions import COOKIE
from provenance.errors import PROBLEM_BASE

PROBLEM_JSON = "application/problem+json"
#: The media types a statement (a DSSE envelope) is accepted in.
ENVELOPE_TYPES = ("application/json", "application/vnd.dsse.envelope+json")


def ref(name: str) -> dict[str, str]:
    """A reference to a schema of the document's components."""
    return {"$ref": f"#/components/schemas/{name}"}


def content(schema: dict[str, Any], *media_types: str) -> dict[str, Any]:
    """One schema under each media type (JSON when none is named)."""
    return {media: {"schema": schema} for media in media_types or ("application/json",)}


def problem_schema(problem_types: Sequence[str]) -> dict[str, Any]:
    """RFC 9457 §3.1: the standard members; extension members are allowed (§3.2)."""
    type_member: dict[str, Any] = {
        "type": "string",
        "format": "uri-reference",
        "description": f"A tag URI under {PROBLEM_BASE}; GET /problems lists them all.",
    }
    if problem_types:
        type_member["examples"] = list(problem_types)
    return {
        "type": "object",
        "description": "Problem details (RFC 9457).",
        "properties": {
            "type": type_member,
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 100, "maximum": 599},
            "detail": {"type": "string"},
            "instance": {"type": "string", "format": "uri-reference"},
        },
        "required": ["type", "title", "status"],
        "additionalProperties": True,
    }


ENVELOPE: dict[str, Any] = {
    "type": "object",
    "description": "A DSSE envelope: the signed statement (payload is base64).",
    "properties": {
        "payloadType": {"type": "string"},
        "payload": {"type": "string", "contentEncoding": "base64"},
        "signatures": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {"keyid": {"type": "string"}, "sig": {"type": "string"}},
                "required": ["keyid", "sig"],
            },
        },
    },
    "required": ["payloadType", "payload", "signatures"],
}

APPENDED: dict[str, Any] = {
    "type": "object",
    "description": "Where a statement went in the log.",
    "properties": {
        "index": {"type": "integer", "minimum": 0},
        "leaf_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "receipt": {"type": "string", "format": "uri-reference"},
        "entry": {"type": "string", "format": "uri-reference"},
        "duplicate": {"type": "boolean"},
    },
    "required": ["index", "leaf_hash", "receipt", "entry", "duplicate"],
    "additionalProperties": True,
}

SECURITY_SCHEMES: dict[str, Any] = {
    "httpSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "Signature",
        "description": (
            "HTTP Message Signatures (RFC 9421) by a registered key, with Signature-Input; "
            "requests that write also carry Content-Digest and a nonce."
        ),
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": COOKIE,
        "description": "A browser session from a one-time login link; it reads (and logs out).",
    },
}


def components(problem_types: Sequence[str]) -> dict[str, Any]:
    """The shared schemas, responses and security schemes."""
    problem = {
        "description": "A problem (RFC 9457)",
        "content": content(ref("Problem"), PROBLEM_JSON),
    }
    return {
        "schemas": {
            "Problem": problem_schema(problem_types),
            "Envelope": ENVELOPE,
            "Appended": APPENDED,
        },
        "responses": {
            "Problem": problem,
            "TooManyRequests": {
                **problem,
                "description": "Too many requests; Retry-After says when to try again",
                "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 0}}},
            },
        },
        "securitySchemes": SECURITY_SCHEMES,
    }


def envelope_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A Request Body Object: `schema` (an envelope, or envelopes) as either JSON media type."""
    return {
        "required": True,
        "description": description,
        "content": content(schema, *ENVELOPE_TYPES),
    }


def appended_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """201 for a statement logged now, 200 for one the log already held (idempotent)."""
    return {
        "201": {"description": "Logged", "content": content(schema)},
        "200": {"description": "Already in the log (a duplicate)", "content": content(schema)},
    }
