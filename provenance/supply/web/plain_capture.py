"""A plain EPCIS document POSTed with its DSSE-Signature header, turned into the envelope the log
verifies and stores: the signature is checked over the exact bytes before any of them is parsed."""

from __future__ import annotations

from typing import Any

from flask import request

from provenance.access.errors import BadRequestSignature
from provenance.epcis.query import EPCIS_PAYLOAD_TYPE
from provenance.errors import TooLarge, UnsupportedMediaType
from provenance.log.errors import BadSignature
from provenance.log.signing import pae, verify_p256
from provenance.log.store.engine import read_connection
from provenance.log.store.projection import DbView
from provenance.supply.document_signature import HEADER, MEDIA_TYPES, envelope_json, parse_header
from provenance.web.context import service

#: The longest document captured (GS1-EPCIS-Capture-File-Size-Limit): 10,000 events fit.
MAX_DOCUMENT_BYTES = 24 * 1024 * 1024


def unsigned() -> BadRequestSignature:
    """The answer to a bare document sent without its signature."""
    return BadRequestSignature(
        f"a plain EPCIS document carries its signature in a {HEADER} header "
        '(keyid="…", sig=:…:), or is sent inside a DSSE envelope'
    )


def envelope_of_request() -> dict[str, Any]:
    """The DSSE envelope of the request's document and its DSSE-Signature; 401
    bad-request-signature unless a registered key's signature verifies over the exact bytes."""
    if request.mimetype not in MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"send a plain EPCIS document as {' or '.join(MEDIA_TYPES)}, "
            f"not {request.mimetype or 'nothing'}"
        )
    value = request.headers.get(HEADER)
    if value is None:
        raise unsigned()
    keyid, signature = parse_header(value)
    too_large = TooLarge(
        f"an EPCIS document is at most {MAX_DOCUMENT_BYTES} bytes", limit=MAX_DOCUMENT_BYTES
    )
    if (request.content_length or 0) > MAX_DOCUMENT_BYTES:
        raise too_large
    document = request.get_data(cache=False)
    if len(document) > MAX_DOCUMENT_BYTES:
        raise too_large
    with read_connection(service().engine) as conn:
        key = DbView(conn).key(keyid)
    if key is None:
        raise BadRequestSignature(f"{HEADER} keyid names no registered key")
    try:
        verify_p256(key.public_key, pae(EPCIS_PAYLOAD_TYPE, document), signature)
    except BadSignature:
        raise BadRequestSignature(
            f"the {HEADER} does not verify over the document's bytes with key {keyid}"
        ) from None
    return envelope_json(keyid, signature, document)
