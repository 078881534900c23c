"""`nextPageToken` of EPCIS event queries: where a page ended, bound to the query it pages."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from provenance.epcis.errors import BadEpcis
from provenance.supply.event_queries import EventKey


def _query_digest(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:16]


def make(after: EventKey, query: str) -> str:
    """An opaque token: the key of the last event on the page, and a digest of the query.

    It grants nothing: each page is filtered by the reader's access as the first one was, so a
    token needs no secret; the digest only keeps a token from being used with another query."""
    body = json.dumps([list(after), _query_digest(query)], separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def read(token: str, query: str) -> EventKey:
    """The key a token continues after; BadEpcis if it is not one of ours, or is for another
    query."""
    try:
        padded = token + "=" * (-len(token) % 4)
        (at, idx, position), digest = json.loads(base64.urlsafe_b64decode(padded.encode()))
        key = (str(at), int(idx), int(position))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadEpcis("nextPageToken is not a token this service gave") from None
    if digest != _query_digest(query):
        raise BadEpcis("nextPageToken belongs to another query: repeat the query's parameters")
    return key
