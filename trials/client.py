"""The sponsor's and site's side: salt and upload payloads, compute commitments, sign statements."""

from __future__ import annotations

import hashlib
import mmap
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from provenance.client import post_bytes
from trials.dataset_files import check_domain, detect_format, summarise
from trials.dataset_sources import Source
from trials.datasets import DatasetSummary
from trials.payloads import (
    SALT_BYTES,
    commitment,
    commitment_of_file,
    content_commitment,
)
from trials.upload_http import post_large


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


def upload_file(
    server: str, path: Path, salt: bytes, media_type: str, key: ec.EllipticCurvePrivateKey
) -> dict[str, Any]:
    """Store a file off-log as `upload` does, memory-mapped rather than read into memory, and
    asking the server first (`Expect: 100-continue`) so a refusal is reported as the problem it
    is."""
    headers = {"Content-Type": media_type, "X-Salt": salt.hex()}
    url = f"{server.rstrip('/')}/api/v1/trials/payloads"
    with path.open("rb") as stream:
        if path.stat().st_size == 0:
            answer = post_large(url, b"", headers, key)
        else:
            with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                answer = post_large(url, mapped, headers, key)
    if answer.get("commitment") != commitment_of_file(salt, path):
        raise ValueError("the server stored the payload under another commitment")
    return answer


def signature(printed_name: str | None, meaning: str) -> dict[str, str]:
    """A statement's Part 11 signature: its meaning; the printed name only for a log of rules 1
    (from rules 2 the log takes it from the signer's registration)."""
    if printed_name is None:
        return {"meaning": meaning}
    return {"printed_name": printed_name, "meaning": meaning}


def summarise_file(path: Path, digits: int | None = None) -> DatasetSummary:
    """A dataset file's rows, columns and content hash, its format told by name and content."""
    with path.open("rb") as stream:
        head = stream.read(4096)
    return summarise(Source.of_path(path), detect_format(path.name, head), digits)


def dataset_body(
    trial: str, dataset: str, domain: str, path: Path, salt: bytes, sig: dict[str, str]
) -> tuple[dict[str, Any], str]:
    """The dataset statement body for a file, computed locally as the file streams past:
    (body, format). A file the server would refuse (unreadable, or its DOMAIN column naming
    another domain) is BadDataset here, before anything is uploaded."""
    summary = summarise_file(path)
    fmt = summary.format
    check_domain(summary.domains, domain)
    body = {
        "trial": trial,
        "dataset": dataset,
        "domain": domain,
        "format": fmt,
        "payload": commitment_of_file(salt, path),
        "content_commitment": content_commitment(salt, summary.content_hash),
        "rows": summary.row_count,
        "columns": summary.column_count,
        "signature": sig,
    }
    return body, fmt


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
#: Dataset-JSON forms known by their extension: NDJSON, and its zlib-compressed form (DSJC).
_FORM_MEDIA_TYPES = {
    ".ndjson": "application/x-ndjson",
    ".dsjc": "application/vnd.cdisc.dataset-json.compressed",
}


def media_type_of(path: Path, fmt: str) -> str:
    """The media type a dataset file is uploaded under (the server reads any of them, gzip
    compressed or not)."""
    name = path.name.lower().removesuffix(".gz")
    return next(
        (t for suffix, t in _FORM_MEDIA_TYPES.items() if name.endswith(suffix)), MEDIA_TYPES[fmt]
    )
