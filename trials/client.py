"""The sponsor's and site's side: salt and upload payloads, compute commitments, sign statements."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from provenance.client import post_bytes
from trials.dataset_files import detect_format, parse_dataset
from trials.datasets import content_hash
from trials.payloads import SALT_BYTES, commitment, content_commitment


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)


def upload(
    server: str, data: bytes, salt: bytes, media_type: str, key: ec.EllipticCurvePrivateKey
) -> dict[str, Any]:
    """Store the bytes off-log, in a request signed by the uploading party's key; the answer's
    commitment is checked against our own."""
    answer = post_bytes(
        f"{server.rstrip('/')}/api/v1/trials/payloads",
        data,
        {"Content-Type": media_type, "X-Salt": salt.hex()},
        key,
    )
    if answer.get("commitment") != commitment(salt, data):
        raise ValueError("the server stored the payload under another commitment")
    return answer


def signature(printed_name: str | None, meaning: str) -> dict[str, str]:
    """A statement's Part 11 signature: its meaning; the printed name only for a log of rules 1
    (from rules 2 the log takes it from the signer's registration)."""
    if printed_name is None:
        return {"meaning": meaning}
    return {"printed_name": printed_name, "meaning": meaning}


def dataset_body(
    trial: str, dataset: str, domain: str, path: Path, salt: bytes, sig: dict[str, str]
) -> tuple[dict[str, Any], bytes, str]:
    """The dataset statement body for a file, computed locally: (body, bytes, format)."""
    data = path.read_bytes()
    fmt = detect_format(path.name, data)
    parsed = parse_dataset(data, fmt)
    body = {
        "trial": trial,
        "dataset": dataset,
        "domain": domain,
        "format": fmt,
        "payload": commitment(salt, data),
        "content_commitment": content_commitment(salt, content_hash(parsed)),
        "rows": parsed.row_count,
        "columns": parsed.column_count,
        "signature": sig,
    }
    return body, data, fmt


def protocol_body(
    trial: str,
    version: int,
    document: bytes,
    salt: bytes,
    outcomes: list[dict[str, str]],
    reason: str | None,
    reconsent: bool,
    sig: dict[str, str],
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "trial": trial,
        "version": version,
        "document": hashlib.sha256(document).hexdigest(),
        "payload": commitment(salt, document),
        "outcomes": outcomes,
        "reconsent": reconsent,
        "signature": sig,
    }
    if reason is not None:
        body["reason"] = reason
    return body


MEDIA_TYPES = {
    "csv": "text/csv",
    "xpt": "application/x-sas-xport",
    "dataset-json": "application/json",
}
