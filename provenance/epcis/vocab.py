"""CBV 2.0 vocabularies and the EPCIS JSON Schema (package data, see epcis_schema/SOURCE.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache, lru_cache
from importlib import resources
from typing import Any

# jsonschema ships no type information; its use is confined to the two validators below
from jsonschema import Draft7Validator, FormatChecker  # type: ignore[import-untyped]

__all__ = [
    "ACTIONS",
    "BIZ_STEP",
    "BTT",
    "DISPOSITION",
    "SDT",
    "URI",
    "Cbv",
    "cbv_value",
    "document_validator",
    "event_validator",
    "normalise_cbv",
    "valid_time",
]


def _data(name: str) -> Any:
    text = resources.files("provenance.epcis").joinpath("schema", name).read_text("utf-8")
    return json.loads(text)


_VOCABULARY = _data("cbv2_vocabulary.json")


@cache
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = _data("EPCIS-JSON-Schema.json")
    return schema


@cache
def _formats() -> FormatChecker:
    """The schema's two formats, checked: jsonschema asserts no format unless told how, and
    leaves "uri" unchecked even then without an optional package, so that a sensor report's
    `type` that is neither a GS1 measurement type nor a URI passed as a URI."""
    checker = FormatChecker(formats=())
    checker.checks("uri")(lambda value: type(value) is not str or URI.match(value) is not None)
    checker.checks("date-time")(lambda value: type(value) is not str or valid_time(value))
    return checker


@cache
def document_validator() -> Draft7Validator:
    return Draft7Validator(_schema(), format_checker=_formats())


@cache
def event_validator() -> Draft7Validator:
    # The schema's own per-event definition, for the parts not checked by hand (epcis_checks).
    sub = {"definitions": _schema()["definitions"], "$ref": "#/definitions/EPCIS-Document-Event"}
    return Draft7Validator(sub, format_checker=_formats())


class Cbv:
    """One CBV 2.0 vocabulary (CBV 2.0 §7): bare term, legacy URN and web URI forms."""

    def __init__(self, field_name: str, terms: Sequence[str], urn: str, web: str) -> None:
        self.field = field_name
        self.terms = frozenset(terms)
        self.prefixes = (urn, web)


BIZ_STEP = Cbv(
    "bizStep",
    _VOCABULARY["bizStep"],
    "urn:epcglobal:cbv:bizstep:",
    "https://ref.gs1.org/cbv/BizStep-",
)
DISPOSITION = Cbv(
    "disposition",
    _VOCABULARY["disposition"],
    "urn:epcglobal:cbv:disp:",
    "https://ref.gs1.org/cbv/Disp-",
)
BTT = Cbv(
    "bizTransaction type",
    _VOCABULARY["bizTransactionType"],
    "urn:epcglobal:cbv:btt:",
    "https://ref.gs1.org/cbv/BTT-",
)
SDT = Cbv(
    "source/destination type",
    _VOCABULARY["sourceDestType"],
    "urn:epcglobal:cbv:sdt:",
    "https://ref.gs1.org/cbv/SDT-",
)
_VOCABULARIES = {"bizStep": BIZ_STEP, "disposition": DISPOSITION, "btt": BTT, "sdt": SDT}
# URIs in the CBV's own namespaces that are not one of its terms are errors, not extensions.
_CBV_SPACES = (
    "urn:epcglobal:cbv:",
    "https://ref.gs1.org/cbv/",
    "http://ref.gs1.org/cbv/",
    "https://ns.gs1.org/cbv/",
    "http://ns.gs1.org/cbv/",
)


# RFC 3986 absolute URI (scheme ":" something); JSON-LD compact IRIs have the same shape.
URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+\Z")
# RFC 3339 date-time with a mandatory offset (EPCIS 2.0 §8.4 / xsd:dateTimeStamp).
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})\Z")
ACTIONS = frozenset(_VOCABULARY["actions"])


@lru_cache(maxsize=4096)  # the events of a document mostly share a few timestamps
def valid_time(text: str) -> bool:
    """Whether `text` is an RFC 3339 date-time with an offset, naming a real moment."""
    if _DATE_TIME.match(text) is None:
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def normalise_cbv(value: str, vocabulary: str, prefixes: Mapping[str, str] | None = None) -> str:
    """A CBV value in any of its forms -> the short CBV term; other URIs unchanged.

    `vocabulary` is "bizStep", "disposition", "btt" or "sdt". Raises ValueError for a value
    that is neither a CBV 2.0 term nor a URI outside the CBV namespaces.
    """
    cbv = _VOCABULARIES[vocabulary]
    return cbv_value(cbv, value, prefixes or {})


def cbv_value(cbv: Cbv, value: Any, prefixes: Mapping[str, str]) -> str:
    if type(value) is not str:
        raise ValueError(f"{cbv.field} must be a string")
    if value in cbv.terms:
        return value
    full = value
    head, sep, rest = value.partition(":")
    if sep and head in prefixes and not rest.startswith("//"):
        full = prefixes[head] + rest  # a JSON-LD compact IRI such as cbv:BizStep-shipping
    for prefix in cbv.prefixes:
        if full.startswith(prefix):
            term = full[len(prefix) :]
            if term in cbv.terms:
                return term
            break
    if full.startswith(_CBV_SPACES) or URI.match(full) is None:
        raise ValueError(
            f"non-standard {cbv.field} {value!r}: not a CBV 2.0 value "
            "(a private vocabulary must use a URI outside the CBV namespace)"
        )
    return value
