"""The supply-chain party's side: EPCIS documents signed whole, scans parsed and signed locally."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric import ec

from provenance.client import build_envelope, http_request, log_origin
from provenance.epcis.errors import BadEpcis
from provenance.epcis.query import EPCIS_PAYLOAD_TYPE, LOG_HEADER
from provenance.gs1.keys import digital_link_uri
from provenance.gs1.scanner import Scan, parse_scan
from provenance.log.canonical import parse_json
from provenance.log.signing import sign_envelope
from provenance.supply.document_signature import HEADER, signature_header


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


def capture_epcis(
    server: str, key: ec.EllipticCurvePrivateKey, document: bytes, *, plain: bool = False
) -> dict[str, Any]:
    """Sign an EPCIS 2.0 document whole and POST it to /epcis/capture: in a DSSE envelope, the
    document naming the log `server` runs; or, `plain`, the document's exact bytes as they are,
    with the DSSE signature over them in a DSSE-Signature header."""
    url = f"{server.rstrip('/')}/epcis/capture"
    if plain:
        headers = {"Content-Type": "application/ld+json", HEADER: signature_header(key, document)}
        _, body = http_request(url, document, headers)
    else:
        payload = for_log(document, log_origin(server))
        envelope = sign_envelope(key, payload, EPCIS_PAYLOAD_TYPE).to_json()
        _, body = http_request(url, json.dumps(envelope).encode())
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


def dscsa_document(
    server: str, key: ec.EllipticCurvePrivateKey, sender: str, shipment: str
) -> dict[str, Any]:
    """The DSCSA Transaction Information and Statement of a shipment, as an EPCIS 2.0 document
    (a shipment id's "/" and other reserved characters percent-encoded)."""
    url = f"{server.rstrip('/')}/api/v1/shipments/{quote(sender, safe='')}/{quote(shipment)}/dscsa"
    _, body = http_request(url, key=key)
    document: dict[str, Any] = json.loads(body)
    return document
