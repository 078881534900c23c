"""The supply-chain party's side: EPCIS documents signed whole, scans parsed and signed locally."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from provenance.client import build_envelope, http_request
from provenance.epcis.query import EPCIS_PAYLOAD_TYPE
from provenance.gs1.scanner import parse_scan
from provenance.log.signing import sign_envelope


def capture_epcis(server: str, key: ec.EllipticCurvePrivateKey, document: bytes) -> dict[str, Any]:
    """Sign an EPCIS 2.0 document whole (one DSSE signature) and POST it to /epcis/capture."""
    envelope = sign_envelope(key, document, EPCIS_PAYLOAD_TYPE).to_json()
    _, body = http_request(f"{server.rstrip('/')}/epcis/capture", json.dumps(envelope).encode())
    result: dict[str, Any] = json.loads(body)
    return result


def scan_statement(key: ec.EllipticCurvePrivateKey, code: str) -> dict[str, Any]:
    """A signed `scan.record` of whatever a scanner produced (parsed here, on the party's side)."""
    scan = parse_scan(code)
    body: dict[str, Any] = {"gtin": scan.gtin}
    for field, value in (("lot", scan.lot), ("serial", scan.serial), ("expiry", scan.expiry)):
        if value is not None:
            body[field] = value
    return build_envelope(key, "scan.record", body)
