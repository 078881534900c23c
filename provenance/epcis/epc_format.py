"""EPCs in the form a query asks for (REST binding `GS1-EPC-Format`): Digital Link or EPC URN."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from provenance.gs1.epc_uri import normalise_epc
from provenance.gs1.epc_urn import urn_to_dl

#: The values of `GS1-EPC-Format`; without the header an answer is in Digital Link form.
FORMATS = ("No_Preference", "Always_GS1_Digital_Link", "Always_EPC_URN", "Never_Translates")
DEFAULT_FORMAT = "Always_GS1_Digital_Link"

#: The length of the GS1 company prefix a key's digits (indicator digit left off) start with,
#: None where it is not known: an EPC URN cannot be written without it.
PrefixLength = Callable[[str], int | None]

_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QUANTITIES = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
_PARTIES = (("sourceList", "source"), ("destinationList", "destination"))
_DL = re.compile(r"https://id\.gs1\.org/(01|00|414|417)/(\d+)(?:/(21|10|254)/([^/]+))?\Z")
# TDS 2.x: characters an EPC URN component carries percent-encoded.
_URN_ESCAPES = str.maketrans({c: f"%{ord(c):02X}" for c in '"%&/<>?'})


def to_digital_link(uri: str) -> str:
    """An EPC URN as its GS1 Digital Link URI; anything else as it is."""
    if uri.startswith("urn:epc:"):
        return urn_to_dl(uri) or uri
    return uri


def to_urn(uri: str, prefix_length: PrefixLength) -> str:
    """A GS1 Digital Link EPC (SGTIN, LGTIN class, SSCC, SGLN, PGLN) as its EPC URN where its
    company prefix is known; anything else as it is."""
    if uri.startswith("urn:"):
        return uri
    canonical = normalise_epc(uri)
    match = _DL.match(canonical) if canonical else None
    if match is None:
        return uri
    ai, digits, qualifier, value = match.groups()
    if ai in ("01", "00"):
        body = digits[1:-1]  # the indicator (or extension) digit and check digit left off
        length = prefix_length(body)
        if length is None:
            return uri
        prefix, rest = body[:length], digits[0] + body[length:]
        if ai == "00":
            return f"urn:epc:id:sscc:{prefix}.{rest}" if qualifier is None else uri
        if qualifier == "21":
            return f"urn:epc:id:sgtin:{prefix}.{rest}.{_urn_part(value)}"
        if qualifier == "10":
            return f"urn:epc:class:lgtin:{prefix}.{rest}.{_urn_part(value)}"
        return f"urn:epc:idpat:sgtin:{prefix}.{rest}.*"
    body = digits[:-1]
    length = prefix_length(body)
    if length is None:
        return uri
    prefix, rest = body[:length], body[length:]
    if ai == "417":
        return f"urn:epc:id:pgln:{prefix}.{rest}" if qualifier is None else uri
    return f"urn:epc:id:sgln:{prefix}.{rest}.{_urn_part(value) if value else '0'}"


def _urn_part(value: str) -> str:
    return unquote(value).translate(_URN_ESCAPES)


def converter(form: str, prefix_length: PrefixLength) -> Callable[[str], str] | None:
    """How an EPC is written in answers of `form` (one of FORMATS); None: as captured."""
    if form == "Always_GS1_Digital_Link":
        return to_digital_link
    if form == "Always_EPC_URN":
        return lambda uri: to_urn(uri, prefix_length)
    return None


def convert_event(event: dict[str, Any], convert: Callable[[str], str]) -> dict[str, Any]:
    """A copy of the event with each EPC, EPC class, location and party identifier converted."""
    out = dict(event)
    for name in _LISTS:
        if isinstance(out.get(name), list):
            out[name] = [convert(v) if isinstance(v, str) else v for v in out[name]]
    if isinstance(out.get("parentID"), str):
        out["parentID"] = convert(out["parentID"])
    for name in _QUANTITIES:
        if isinstance(out.get(name), list):
            out[name] = [_member(q, "epcClass", convert) for q in out[name]]
    for name in ("readPoint", "bizLocation"):
        if isinstance(out.get(name), dict):
            out[name] = _member(out[name], "id", convert)
    for name, member in _PARTIES:
        if isinstance(out.get(name), list):
            out[name] = [_member(item, member, convert) for item in out[name]]
    return out


def _member(item: Any, name: str, convert: Callable[[str], str]) -> Any:
    if isinstance(item, dict) and isinstance(item.get(name), str):
        return {**item, name: convert(item[name])}
    return item
