"""The supply-chain party's side: EPCIS documents signed whole, scans parsed and signed locally."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from provenance.client import build_envelope, http_request, log_origin
from provenance.epcis.errors import BadEpcis
from provenance.epcis.query import EPCIS_PAYLOAD_TYPE, LOG_HEADER
from provenance.gs1.keys import digital_link_uri
from provenance.gs1.scanner import Scan, parse_scan
from provenance.log.canonical import parse_json
from provenance.log.signing import sign_envelope


def for_log(document: bytes, origin: str) -> bytes:
    """The document, naming the log it is meant for in an `epcisHeader` extension member."""
    doc = parse_json(document)
    if not isinstance(doc, dict):
        raise BadEpcis("an EPCIS document is a JSON object")
    header = doc.setdefault("epcisHeader", {})
    if not isinstance(header, dict):
        raise BadEpcis("epcisHeader must be a JSON object")
    header[LOG_HEADER] = origin
    return json.dumps(doc, ensure_ascii=False).encode()


def capture_epcis(server: str, key: ec.EllipticCurvePrivateKey, document: bytes) -> dict[str, Any]:
    """Sign an EPCIS 2.0 document whole (one DSSE signature), for the log `server` runs, and
    POST it to /epcis/capture."""
    payload = for_log(document, log_origin(server))
    envelope = sign_envelope(key, payload, EPCIS_PAYLOAD_TYPE).to_json()
    _, body = http_request(f"{server.rstrip('/')}/epcis/capture", json.dumps(envelope).encode())
    result: dict[str, Any] = json.loads(body)
    return result


def scan_statement(
    key: ec.EllipticCurvePrivateKey, code: str | Scan, *, log: str
) -> dict[str, Any]:
    """A signed `scan.record` of whatever a scanner produced (parsed here, on the party's side)."""
    scan = parse_scan(code) if isinstance(code, str) else code
    body: dict[str, Any] = {"gtin": scan.gtin}
    for field, value in (("lot", scan.lot), ("serial", scan.serial), ("expiry", scan.expiry)):
        if value is not None:
            body[field] = value
    return build_envelope(key, "scan.record", body, log=log)


def verdict(
    server: str, scan: Scan, key: ec.EllipticCurvePrivateKey | None = None
) -> dict[str, Any]:
    """The resolver's JSON answer for what `scan` names: its Digital Link URI on `server` (a
    lot's or serial's "/" sent as %2F), signed with `key` so the party sees its own view."""
    url = digital_link_uri(server.rstrip("/"), scan.gtin, scan.lot, scan.serial, scan.expiry)
    _, body = http_request(url, headers={"Accept": "application/json"}, key=key)
    answer: dict[str, Any] = json.loads(body)
    return answer
