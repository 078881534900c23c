"""EPC URNs and GS1 Digital Link URIs -> constrained canonical DL URIs, and their GS1 keys."""

from __future__ import annotations

import re
from urllib.parse import unquote

from provenance.gs1.epc_urn import urn_to_dl
from provenance.gs1.keys import check_digit

__all__ = ["epc_gtin_lot_serial", "normalise_epc", "normalise_epc_unchecked"]


# Characters of a constrained canonical DL path value (no percent-escapes survive DL parsing).
_DLC = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"


_PRIMARY_KEYS = (
    "01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti"
    "|401|ginc|402|gsin|8003|grai|8004|giai"
)
# Any http(s) URI whose path carries a GS1 primary key (short name or AI) followed by a value
# that starts with four digits, per the GS1 Digital Link URI syntax (DL 1.2 §6).
_DL_CANDIDATE = re.compile(
    rf"https?:(?://[^/?#]*)?(?:[^?#]*/(?:{_PRIMARY_KEYS})/\d{{4}}[^/]+|/[A-Za-z_-]{{10}}\Z)"
)
_SHORT_NAMES = (
    ("/gtin/", "/01/"),
    ("/itip/", "/8006/"),
    ("/cpid/", "/8010/"),
    ("/gln/", "/414/"),
    ("/party/", "/417/"),
    ("/gsrnp/", "/8017/"),
    ("/gsrn/", "/8018/"),
    ("/gcn/", "/255/"),
    ("/sscc/", "/00/"),
    ("/gdti/", "/253/"),
    ("/ginc/", "/401/"),
    ("/gsin/", "/402/"),
    ("/grai/", "/8003/"),
    ("/giai/", "/8004/"),
    ("/cpv/", "/22/"),
    ("/lot/", "/10/"),
    ("/ser/", "/21/"),
)
_CANONICAL_HOST = re.compile(
    r"https://id.gs1.org/(?:01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004)/\d{4}[^/]+"
)
# The order in which a key is looked for when re-rooting a DL URI on id.gs1.org.
_REROOT_KEYS = (
    "/00/",
    "/01/",
    "/253/",
    "/255/",
    "/401/",
    "/402/",
    "/414/",
    "/417/",
    "/8003/",
    "/8004/",
    "/8006/",
    "/8010/",
    "/8017/",
    "/8018/",
)
_CPV_LAST = re.compile(rf"https://id.gs1.org/(?:8006/\d{{18}}|01/\d{{14}})/22/{_DLC}{{0,20}}\Z")
_CPV_INNER = re.compile(
    rf"https://id.gs1.org/(?:8006/\d{{18}}|01/\d{{14}})/22/(?:/|{_DLC}){{0,20}}\Z"
)
_LOT_AND_SERIAL = re.compile(
    rf"https://id.gs1.org/(?:8006/\d{{18}}|01/\d{{14}})/10/{_DLC}{{0,20}}/21/{_DLC}{{0,20}}\Z"
)
# The constrained canonical forms: one primary key plus at most the finest-grained qualifier.
_CANONICAL = re.compile(
    "https://id.gs1.org/(?:"
    + "|".join(
        (
            r"00/\d{18}",
            rf"01/\d{{14}}(?:/(?:21|10)/{_DLC}{{0,20}}|/235/{_DLC}{{0,28}})?",
            rf"253/\d{{13}}{_DLC}{{0,17}}",
            r"255/\d{13}\d{0,12}",
            rf"401/{_DLC}{{0,30}}",
            r"402/\d{17}",
            rf"414/\d{{13}}(?:/254/{_DLC}{{0,20}})?",
            r"417/\d{13}",
            rf"8003/\d{{14}}{_DLC}{{0,16}}",
            rf"8004/{_DLC}{{0,30}}",
            rf"8006/\d{{18}}(?:/(?:21|10)/{_DLC}{{0,20}})?",
            r"8010/[\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30}(?:/8011/\d{0,12})?",
            r"8017/\d{18}",
            r"8018/\d{18}",
        )
    )
    + r")\Z"
)


# A GTIN-based URI already in constrained canonical form (the usual shape of a Digital Link EPC)
# comes out of `_reshape_dl` unchanged: none of its rewriting steps applies to it.
_CANONICAL_GTIN = re.compile(
    r"https://id\.gs1\.org/01/[0-9]{14}"
    r"(?:/(?:21|10)/[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3E\x41-\x5A\x5F\x61-\x7A]{1,20})?\Z"
)


def _normalise_dl(uri: str) -> str | None:
    return uri if _CANONICAL_GTIN.match(uri) else _reshape_dl(uri)


def _reshape_dl(uri: str) -> str | None:
    if _DL_CANDIDATE.match(uri) is None:
        return None
    uri = uri.split("?", 1)[0]
    for short, ai in _SHORT_NAMES:
        uri = uri.replace(short, ai)
    if _CANONICAL_HOST.match(uri) is None:
        for key in _REROOT_KEYS:
            at = uri.find(key)
            if at != -1:
                uri = "https://id.gs1.org" + uri[at:]
                break
    # GTIN-8/12/13 are GTIN-14 with leading zeros (GS1 General Specifications §3.3.2).
    if re.match(r"https://id.gs1.org/01/\d{14}", uri) is None:
        if re.match(r"https://id.gs1.org/01/\d{13}", uri):
            uri = uri.replace("/01/", "/01/0")
        elif re.match(r"https://id.gs1.org/01/\d{12}", uri):
            uri = uri.replace("/01/", "/01/00")
        elif re.match(r"https://id.gs1.org/01/\d{8}", uri):
            uri = uri.replace("/01/", "/01/000000")
    # Consumer product variant (AI 22) is not part of the identity of an item.
    at = uri.find("/22/")
    if _CPV_LAST.match(uri):
        uri = uri[:at]
    elif _CPV_INNER.match(uri):
        rest = uri[at + 4 :]
        slash = rest.find("/")
        uri = uri[:at] + (rest[slash:] if slash != -1 else rest[-1:])
    # With a serial present the lot is redundant: keep the finest granularity only.
    if _LOT_AND_SERIAL.match(uri):
        at = uri.find("/10/")
        rest = uri[at + 4 :]
        uri = uri[:at] + rest[rest.find("/") :]
    return uri if _CANONICAL.match(uri) else None


def normalise_epc_unchecked(uri: str) -> str | None:
    """`normalise_epc` of a str of at most 2048 characters (callers that know it is one)."""
    if "." not in uri:
        return None
    if uri.startswith("urn:epc:"):
        return urn_to_dl(uri)
    if uri.startswith("http"):
        return _normalise_dl(uri)
    return None


def normalise_epc(uri: str) -> str | None:
    """EPC URN (TDS 2.x) or GS1 Digital Link URI -> constrained canonical DL URI, else None."""
    if not isinstance(uri, str) or len(uri) > 2048:
        return None
    return normalise_epc_unchecked(uri)


_DL_GTIN = re.compile(
    r"https?://[^/?#]+(?:/[^?#]*?)?/(?:01|gtin)/(\d{8}|\d{12,14})((?:/[^/?#]+/[^/?#]+)*)/?(?:[?#].*)?\Z"
)


def _gtin14(digits: str) -> str | None:
    gtin = digits.rjust(14, "0")
    return gtin if check_digit(gtin[:13]) == int(gtin[13]) else None


def epc_gtin_lot_serial(epc: str) -> tuple[str, str | None, str | None] | None:
    """(GTIN-14, lot, serial) named by an EPC: SGTIN/LGTIN URN or GS1 Digital Link URI.

    SGTIN "urn:epc:id:sgtin:0614141.107346.2017" -> ("10614141073464", None, "2017"): TDS §6.3.1
    moves the item reference's leading indicator digit to the front and appends the check digit.
    """
    if type(epc) is not str:
        return None
    if epc.startswith("urn:epc:"):
        if not epc.startswith(
            ("urn:epc:id:sgtin:", "urn:epc:class:lgtin:", "urn:epc:idpat:sgtin:")
        ):
            return None
        dl = normalise_epc(epc)
        if dl is None:
            return None
        parts = dl[len("https://id.gs1.org/01/") :].split("/")
        gtin = parts[0]
        lot = unquote(parts[2]) if len(parts) == 3 and parts[1] == "10" else None
        serial = unquote(parts[2]) if len(parts) == 3 and parts[1] == "21" else None
        return gtin, lot, serial
    m = _DL_GTIN.match(epc)
    if m is None:
        return None
    gtin14 = _gtin14(m.group(1))
    if gtin14 is None:
        return None
    qualifiers = m.group(2).split("/")[1:]
    values = dict(zip(qualifiers[::2], qualifiers[1::2], strict=True))
    lot = values.get("10", values.get("lot"))
    serial = values.get("21", values.get("ser"))
    return gtin14, unquote(lot) if lot else None, unquote(serial) if serial else None
