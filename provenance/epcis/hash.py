"""CBV 2.0 §8.9 "Event Hash ID": canonical pre-hash string and ni:///sha-256 ID of EPCIS events."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from provenance.epcis.canon import utc_millis
from provenance.epcis.context import Prefixes, context_prefixes, prefixes_for
from provenance.epcis.fastpath import fast_prehash
from provenance.epcis.prehash import general_prehash
from provenance.epcis.tree import Converter
from provenance.gs1.epc_uri import normalise_epc

__all__ = [
    "Prefixes",
    "context_prefixes",
    "document_ignore_fields",
    "event_hash_id",
    "hash_id_from_prehash",
    "normalise_epc",
    "prehash_string",
    "utc_millis",
]

# The algorithm follows CBV 2.0 §8.9 as implemented by the reference generator cited there,
# RalphTro/epcis-event-hash-generator (MIT). Where the prose leaves details open (list sorting,
# user extensions, bare JSON-LD vocabulary terms) this module reproduces the reference's
# observable output, because an Event Hash ID is only useful if every party computes the same one.

HASH_SUFFIX = "?ver=CBV2.0"


def document_ignore_fields(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """Event fields a document declares as outside the hash ("<prefix>:ignoreFields")."""
    found: list[str] = []
    body = doc.get("epcisBody")
    query = body.get("queryResults") if isinstance(body, Mapping) else None
    for holder in (doc, query):
        if not isinstance(holder, Mapping):
            continue
        for key, value in holder.items():
            named = isinstance(key, str) and key.rpartition(":")[2] == "ignoreFields"
            if named and isinstance(value, list):
                found.extend(v for v in value if isinstance(v, str))
    return tuple(found)


def prehash_string(
    event: Mapping[str, Any], context: Any = None, *, ignore_fields: Iterable[str] = ()
) -> str:
    """The canonical pre-hash string of one EPCIS 2.0 JSON-LD event (CBV 2.0 §8.9.2).

    `context` is the document's @context (or its `context_prefixes`), needed to expand the
    namespace prefixes of user extensions; `ignore_fields` are top-level event fields the
    document declares as not hashed (see `document_ignore_fields`).
    """
    prefixes = context if type(context) is Prefixes else prefixes_for(context)
    ignored = set(ignore_fields) if ignore_fields else None
    if ignored:
        ignored |= {Converter(prefixes).key(k) for k in ignored}
        event = {k: v for k, v in event.items() if k not in ignored}
    if type(event.get("type", "")) is str:
        fast = fast_prehash(event, prefixes)
        if fast is not None:
            return fast
    return general_prehash(event, prefixes)


def hash_id_from_prehash(prehash: str) -> str:
    """ni: URI (RFC 6920) of a pre-hash string, as CBV 2.0 §8.9 Event Hash ID."""
    return "ni:///sha-256;" + hashlib.sha256(prehash.encode()).hexdigest() + HASH_SUFFIX


def event_hash_id(
    event: Mapping[str, Any], context: Any = None, *, ignore_fields: Iterable[str] = ()
) -> str:
    """CBV 2.0 §8.9 Event Hash ID "ni:///sha-256;<hex>?ver=CBV2.0" of one EPCIS 2.0 event."""
    return hash_id_from_prehash(prehash_string(event, context, ignore_fields=ignore_fields))
