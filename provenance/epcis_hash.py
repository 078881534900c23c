"""CBV 2.0 §8.9 "Event Hash ID": canonical pre-hash string and ni:///sha-256 ID of EPCIS events."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

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

# --- GS1 Digital Link normalisation (CBV 2.0 §8.9.2 step "EPCs and other GS1 keys") ------------

# Characters TDS 2.x allows in alphanumeric EPC URN components (GS1 AI encodable set 82),
# including the percent-escapes it permits.
_PCT = r"%2[125-9A-Fa-f]|%3[0-9A-Fa-f]|%4[1-9A-Fa-f]|%5[0-9AaFf]|%6[1-9A-Fa-f]|%7[0-9Aa]"
_X = rf"(?:{_PCT}|[!')(*+,.0-9:;=A-Za-z_-])"
# Characters of a constrained canonical DL path value (no percent-escapes survive DL parsing).
_DLC = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"
# GS1 Digital Link Table 7-1: characters that must be percent-encoded in a URI path.
_DL_ESCAPES = str.maketrans(
    {"!": "%21", "(": "%28", ")": "%29", "*": "%2A", "+": "%2B", ",": "%2C", ":": "%3A"}
)


_NEEDS_ESCAPE = re.compile(r"[!()*+,:]")


def _pct(value: str) -> str:
    return value.translate(_DL_ESCAPES) if _NEEDS_ESCAPE.search(value) else value


def _cp_ref(total: int, *, allow_empty_ref: bool = False) -> str:
    """Company prefix (6-12 digits) '.' reference, together `total` digits (TDS §6.3)."""
    alts = [rf"\d{{{cp}}}\.\d{{{total - cp}}}" for cp in range(6, 13) if total - cp > 0]
    if allow_empty_ref and total == 12:
        alts.append(r"\d{12}\.")
    return "(?:" + "|".join(alts) + ")"


def _check_digit(digits: str) -> int:
    # provenance.gs1.check_digit (GS1 GenSpecs §7.9.1), restated with C-level loops because it
    # runs for every EPC of every captured event; the tests hold the two equal.
    total = 3 * sum(map(int, digits[-1::-2])) + sum(map(int, digits[-2::-2]))
    return -total % 10


def _with_cd(digits: str) -> str:
    return digits + str(_check_digit(digits))


@lru_cache(maxsize=4096)  # one per product: serials vary, products repeat
def _gtin(cp: str, ref: str) -> str:
    # TDS §6.3.1: the indicator digit leads the item reference in the URN but the GTIN.
    return _with_cd(ref[0] + cp + ref[1:])


_CPI_CHR = r"(?:%2[3dfDF]|%3[0-9]|%4[1-9A-Fa-f]|%5[0-9Aa]|[0-9A-Z-])"


def _var(chars: str, budget: int) -> str:
    """Company prefix '.' variable-length value, the two together at most `budget` characters."""
    return "(?:" + "|".join(rf"\d{{{cp}}}\.{chars}{{1,{budget - cp}}}" for cp in range(6, 13)) + ")"


_Conv = Callable[[list[str]], str]


def _split(body: str) -> list[str]:
    return body.split(".")


# scheme -> (regex of the URN body after the scheme prefix, converter of its '.'-separated parts)
_URN_RULES: dict[str, tuple[re.Pattern[str], _Conv]] = {}


def _rule(prefix: str, body: str, conv: _Conv) -> None:
    _URN_RULES[prefix] = (re.compile(body + r"\Z"), conv)


def _sgtin(p: list[str]) -> str:
    return f"https://id.gs1.org/01/{_gtin(p[0], p[1])}/21/{_pct('.'.join(p[2:]))}"


def _sgln(p: list[str]) -> str:
    gln = _with_cd(p[0] + p[1])
    ext = ".".join(p[2:])
    # TDS §6.3.3: extension "0" means "no extension" (the GLN itself).
    return f"https://id.gs1.org/414/{gln}" + ("" if ext == "0" else f"/254/{_pct(ext)}")


def _itip(p: list[str]) -> str:
    return f"https://id.gs1.org/8006/{_gtin(p[0], p[1])}{p[2]}{p[3]}/21/{_pct('.'.join(p[4:]))}"


_rule("urn:epc:id:sgtin:", rf"{_cp_ref(13)}\.{_X}{{1,20}}", _sgtin)
_rule(
    "urn:epc:id:sscc:",
    _cp_ref(17),
    lambda p: "https://id.gs1.org/00/" + _with_cd(p[1][0] + p[0] + p[1][1:]),
)
_rule("urn:epc:id:sgln:", rf"{_cp_ref(12, allow_empty_ref=True)}\.{_X}{{1,20}}", _sgln)
_rule(
    "urn:epc:id:grai:",
    rf"{_cp_ref(12, allow_empty_ref=True)}\.{_X}{{1,16}}",
    lambda p: "https://id.gs1.org/8003/" + _with_cd("0" + p[0] + p[1]) + _pct(".".join(p[2:])),
)
_rule(
    "urn:epc:id:giai:",
    _var(_X, 30),
    lambda p: "https://id.gs1.org/8004/" + p[0] + _pct(".".join(p[1:])),
)
_rule("urn:epc:id:gsrn:", _cp_ref(17), lambda p: "https://id.gs1.org/8018/" + _with_cd(p[0] + p[1]))
_rule(
    "urn:epc:id:gsrnp:", _cp_ref(17), lambda p: "https://id.gs1.org/8017/" + _with_cd(p[0] + p[1])
)
_rule(
    "urn:epc:id:gdti:",
    rf"(?:{_cp_ref(12)}\.{_X}{{0,19}}|\d{{12}}\.\.{_X}{{1,20}})",
    lambda p: "https://id.gs1.org/253/" + _with_cd(p[0] + p[1]) + _pct(".".join(p[2:])),
)
_rule(
    "urn:epc:id:cpi:",
    rf"{_var(_CPI_CHR, 30)}\.\d{{1,12}}",
    lambda p: f"https://id.gs1.org/8010/{_pct(p[0] + p[1])}/8011/{p[2]}",
)
_rule(
    "urn:epc:id:sgcn:",
    rf"{_cp_ref(12, allow_empty_ref=True)}\.\d{{1,12}}",
    lambda p: "https://id.gs1.org/255/" + _with_cd(p[0] + p[1]) + p[2],
)
_rule(
    "urn:epc:id:ginc:",
    _var(_X, 30),
    lambda p: "https://id.gs1.org/401/" + p[0] + _pct(".".join(p[1:])),
)
_rule("urn:epc:id:gsin:", _cp_ref(16), lambda p: "https://id.gs1.org/402/" + _with_cd(p[0] + p[1]))
_rule("urn:epc:id:itip:", rf"{_cp_ref(13)}\.\d{{2}}\.\d{{2}}\.{_X}{{1,20}}", _itip)
_rule(
    "urn:epc:id:upui:",
    rf"{_cp_ref(13)}\.{_X}{{1,28}}",
    lambda p: f"https://id.gs1.org/01/{_gtin(p[0], p[1])}/235/{_pct('.'.join(p[2:]))}",
)
_rule(
    "urn:epc:id:pgln:",
    _cp_ref(12, allow_empty_ref=True),
    lambda p: "https://id.gs1.org/417/" + _with_cd(p[0] + p[1]),
)
_rule(
    "urn:epc:class:lgtin:",
    rf"{_cp_ref(13)}\.{_X}{{1,20}}",
    lambda p: f"https://id.gs1.org/01/{_gtin(p[0], p[1])}/10/{_pct('.'.join(p[2:]))}",
)
_rule(
    "urn:epc:idpat:sgtin:",
    rf"{_cp_ref(13)}\.\*",
    lambda p: "https://id.gs1.org/01/" + _gtin(p[0], p[1]),
)
_rule(
    "urn:epc:idpat:grai:",
    rf"{_cp_ref(12, allow_empty_ref=True)}\.\*",
    lambda p: "https://id.gs1.org/8003/" + _with_cd("0" + p[0] + p[1]),
)
_rule(
    "urn:epc:idpat:gdti:",
    rf"{_cp_ref(12, allow_empty_ref=True)}\.\*",
    lambda p: "https://id.gs1.org/253/" + _with_cd(p[0] + p[1]),
)
_rule(
    "urn:epc:idpat:sgcn:",
    rf"{_cp_ref(12, allow_empty_ref=True)}\.\*",
    lambda p: "https://id.gs1.org/255/" + _with_cd(p[0] + p[1]),
)
_rule(
    "urn:epc:idpat:cpi:",
    rf"{_var(_CPI_CHR, 30)}\.\*",
    lambda p: "https://id.gs1.org/8010/" + _pct(p[0] + p[1]),
)
_rule(
    "urn:epc:idpat:itip:",
    rf"{_cp_ref(13)}\.\d{{2}}\.\d{{2}}\.\*",
    lambda p: f"https://id.gs1.org/8006/{_gtin(p[0], p[1])}{p[2]}{p[3]}",
)
_rule(
    "urn:epc:idpat:upui:",
    rf"{_cp_ref(13)}\.\*",
    lambda p: "https://id.gs1.org/01/" + _gtin(p[0], p[1]),
)

_URN_PREFIX = re.compile(r"urn:epc:(?:id|class|idpat):[a-z]+:")

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


def _normalise(uri: str) -> str | None:
    if "." not in uri:
        return None
    if uri.startswith("urn:epc:"):
        m = _URN_PREFIX.match(uri)
        if m is None:
            return None
        rule = _URN_RULES.get(m.group(0))
        if rule is None:
            return None
        pattern, conv = rule
        body = uri[m.end() :]
        if pattern.match(body) is None:
            return None
        return conv(_split(body))
    if uri.startswith("http"):
        return _normalise_dl(uri)
    return None


def normalise_epc(uri: str) -> str | None:
    """EPC URN (TDS 2.x) or GS1 Digital Link URI -> constrained canonical DL URI, else None."""
    if not isinstance(uri, str) or len(uri) > 2048:
        return None
    return _normalise(uri)


# --- Value canonicalisation (CBV 2.0 §8.9.2) ---------------------------------------------------

_CBV_URNS = (
    ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-"),
    ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-"),
    ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-"),
    ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-"),
    ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-"),
)


def _canon_number(text: str) -> str:
    # Numbers compare by value: "+5", "5.0" and "5" are one quantity. Done the way the reference
    # does it (through a binary double) so that extreme inputs round identically.
    try:
        number = float(text)
    except ValueError:
        return text
    try:
        if int(number) == number:
            return str(int(number))
    except (ValueError, OverflowError):
        return text
    return str(number)


@lru_cache(maxsize=65536)
def _canon(text: str) -> str:
    if "urn:epcglobal:cbv:" in text:
        for urn, web in _CBV_URNS:
            text = text.replace(urn, web)
    if _may_be_number(text[:1]):
        text = _canon_number(text)
    # normalise_epc, minus checks moot here: `text` is a str, and no over-long text is an EPC
    return _normalise(text) or text


def _may_be_number(first: str) -> bool:
    """Whether a text starting with `first` may be a number (see _canon)."""
    return first.isdigit() or first in "+-.iInN"


def _canon_value(text: str) -> str:
    return _canon(text) if len(text) < 2048 else text


@lru_cache(maxsize=4096)
def utc_millis(text: str) -> str:
    """ISO 8601 timestamp -> UTC with millisecond precision (CBV 2.0 §8.9.2)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    micro = moment.microsecond
    # round-half-even to whole milliseconds, as the reference generator does
    millis = round(micro, -3)
    moment = moment.replace(microsecond=0) + timedelta(microseconds=millis)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- JSON-LD vocabulary and namespaces -----------------------------------------------------------


def _load_context() -> dict[str, Any]:
    data = resources.files("provenance").joinpath("epcis_schema", "epcis-context.jsonld")
    ctx: dict[str, Any] = json.loads(data.read_text(encoding="utf-8"))["@context"]
    return ctx


_CTX = _load_context()
STANDARD_PREFIXES: dict[str, str] = {
    k: v for k, v in _CTX.items() if isinstance(v, str) and v.endswith(("/", ":", "#"))
}


def _expand_curie(value: str, prefixes: Mapping[str, str]) -> str:
    prefix, sep, rest = value.partition(":")
    if sep and prefix in prefixes and not rest.startswith("//"):
        return prefixes[prefix] + rest
    return value


def _terms(scoped: Mapping[str, Any]) -> dict[str, str]:
    """Bare vocabulary term -> full IRI, from one @vocab-typed term's scoped context."""
    out = {}
    for term, iri in scoped.items():
        if isinstance(iri, str) and not term.startswith("@") and ":" in iri:
            out[term] = _expand_curie(iri, STANDARD_PREFIXES)
    return out


def _scoped(*path: str) -> dict[str, str]:
    node: Any = _CTX
    for step in path:
        node = node[step]["@context"]
    return _terms(node)


# Which JSON paths hold @vocab-typed values, so that a bare term ("shipping") expands as JSON-LD
# expansion with the EPCIS 2.0 context would expand it.
_VOCAB_BIZSTEP = _scoped("bizStep")
_VOCAB_DISP = _scoped("disposition")
_VOCAB_BTT = _scoped("bizTransactionList", "type")
_VOCAB_SDT = _scoped("sourceList", "type")
_VOCAB_MEASUREMENT = _scoped("sensorElementList", "sensorReport", "type")
_VOCAB_EXCEPTION = _scoped("sensorElementList", "sensorReport", "exception")
_VOCAB_COMPONENT = _scoped("sensorElementList", "sensorReport", "component")
_VOCAB_ERROR = _scoped("errorDeclaration", "reason")
_VOCAB_PREFIXES = ("https://ref.gs1.org/cbv", "https://gs1.org/voc")


class Prefixes(dict[str, str]):
    """Namespace prefix -> IRI map of one document, computed once and reused for its events."""


def context_prefixes(context: Any) -> Prefixes:
    """Namespace prefixes in effect for a document's @context (standard EPCIS ones included)."""
    if isinstance(context, Prefixes):
        return context
    prefixes = Prefixes(STANDARD_PREFIXES)
    entries = context if isinstance(context, list) else [context]
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        for key, value in entry.items():
            if key.startswith("@") or not isinstance(key, str):
                continue
            if isinstance(value, str):
                prefixes[key] = value
            elif isinstance(value, Mapping) and isinstance(value.get("@id"), str):
                prefixes[key] = value["@id"]
    return prefixes


_STANDARD = Prefixes(STANDARD_PREFIXES)


def _prefixes_for(context: Any) -> Prefixes:
    if context is None:
        return _STANDARD
    return context_prefixes(context)


def _vocab(
    value: Any, terms: Mapping[str, str], prefixes: Mapping[str, str], out: set[str]
) -> None:
    values = value if isinstance(value, list) else [value]
    for v in values:
        if isinstance(v, str):
            iri = terms.get(v) or _expand_curie(v, prefixes)
            if iri.startswith(_VOCAB_PREFIXES):
                out.add(iri)


def _expanded_vocabulary(event: Mapping[str, Any], prefixes: Mapping[str, str]) -> set[str]:
    """The CBV / GS1 web vocabulary IRIs the @vocab-typed fields of `event` expand to."""
    found: set[str] = set()
    _vocab(event.get("bizStep"), _VOCAB_BIZSTEP, prefixes, found)
    _vocab(event.get("disposition"), _VOCAB_DISP, prefixes, found)
    pd = event.get("persistentDisposition")
    if isinstance(pd, Mapping):
        _vocab(pd.get("set"), _VOCAB_DISP, prefixes, found)
        _vocab(pd.get("unset"), _VOCAB_DISP, prefixes, found)
    for key, terms in (
        ("bizTransactionList", _VOCAB_BTT),
        ("sourceList", _VOCAB_SDT),
        ("destinationList", _VOCAB_SDT),
    ):
        items = event.get(key)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, Mapping):
                    _vocab(item.get("type"), terms, prefixes, found)
    sensors = event.get("sensorElementList")
    if isinstance(sensors, list):
        for element in sensors:
            reports = element.get("sensorReport") if isinstance(element, Mapping) else None
            if isinstance(reports, Mapping):
                reports = [reports]
            if isinstance(reports, list):
                for report in reports:
                    if isinstance(report, Mapping):
                        _vocab(report.get("type"), _VOCAB_MEASUREMENT, prefixes, found)
                        _vocab(report.get("exception"), _VOCAB_EXCEPTION, prefixes, found)
                        _vocab(report.get("component"), _VOCAB_COMPONENT, prefixes, found)
    err = event.get("errorDeclaration")
    if isinstance(err, Mapping):
        _vocab(err.get("reason"), _VOCAB_ERROR, prefixes, found)
    return found


# --- Event -> element tree ---------------------------------------------------------------------
#
# The pre-hash string is defined over the EPCIS XML data model (CBV 2.0 §8.9.2 names XML
# elements: epcList/epc, quantityList/quantityElement, ...). JSON is mapped onto that model
# while it is read: an element is [name, text, children]; an entry of a source, destination or
# bizTransaction list is a tuple pair of its first two fields, kept in document order.

_Element = list[Any]
_SKIP_KEYS = frozenset({"#text", "rdfs:comment", "comment"})
_PAIRED_LISTS = frozenset({"sourceList", "destinationList", "bizTransactionList"})
_UNSORTED_MARKERS = frozenset({"bizTransaction", "source", "destination"})
_RENAMED = {
    "inputEPC": "epc",
    "outputEPC": "epc",
    "inputQuantity": "quantityElement",
    "outputQuantity": "quantityElement",
    "childQuantity": "quantityElement",
}


@lru_cache(maxsize=1024)
def _suffix_index(vocabulary: frozenset[str]) -> dict[str, str | None]:
    """Bare term -> the one vocabulary IRI ending in "-term" or "/term" (None if ambiguous)."""
    index: dict[str, str | None] = {}
    for iri in vocabulary:
        seen = set()
        for at, char in enumerate(iri):
            if char in "-/":
                term = iri[at + 1 :]
                if term in seen:
                    continue
                seen.add(term)
                index[term] = iri if term not in index else None
    return index


class _Converter:
    __slots__ = ("bare", "literals", "prefixes")

    def __init__(self, prefixes: Mapping[str, str]) -> None:
        self.prefixes = prefixes
        # elements whose text is a bare word, resolved once the whole event has been read
        self.bare: list[_Element] = []
        # vocabulary IRIs written out in full anywhere in the event
        self.literals: set[str] = set()

    def resolve_bare(self, vocabulary: set[str]) -> None:
        """A bare JSON-LD term ("shipping", "owning_party", "Temperature") stands for the
        vocabulary IRI it expands to elsewhere in the event; ambiguous terms stay bare."""
        vocabulary |= self.literals
        if not vocabulary or not self.bare:
            return
        index = _suffix_index(frozenset(vocabulary))
        for element in self.bare:
            element[1] = index.get(element[1]) or element[1]

    def key(self, key: str) -> str:
        prefix, sep, local = key.partition(":")
        if sep and prefix in self.prefixes:
            return "{" + self.prefixes[prefix] + "}" + local
        return key

    def text(self, value: str) -> str:
        if ":" in value:
            if value.startswith(_VOCAB_PREFIXES):
                self.literals.add(value)
            return _expand_curie(value, self.prefixes)
        return value

    def scalar(self, value: Any) -> str:
        if type(value) is str:
            return self.text(value)
        if isinstance(value, bool):
            # as the XML serialisation (xsd:boolean) writes it
            return "true" if value else "false"
        return "" if value is None else str(value)

    def members(self, obj: Mapping[str, Any]) -> list[Any]:
        # Plain fields first, then each "...List" regrouped under one element, then childEPCs:
        # the element order the XML data model gives.
        plain: list[Any] = []
        lists: list[Any] = []
        child_epcs: list[Any] = []
        element = self.element
        for key, value in obj.items():
            if key in _SKIP_KEYS or type(key) is not str:
                continue
            name = self.key(key) if ":" in key else key
            items = value if type(value) is list else (value,)
            if name.endswith("List"):
                if not items:
                    continue
                if name in _PAIRED_LISTS:
                    lists.append([name, "", [self.pair(v) for v in items]])
                else:
                    sub = name[:-4]
                    lists.append([name, "", [element(sub, v) for v in items]])
            elif name == "childEPCs":
                for v in items:
                    epc = element("", v)
                    epc[0] = "epc"
                    epc[2] = []
                    child_epcs.append(epc)
            else:
                for v in items:
                    plain.append(element(name, v))
        if lists:
            plain.extend(lists)
        if child_epcs:
            plain.append(["childEPCs", "", child_epcs])
        return plain

    def element(self, name: str, value: Any) -> _Element:
        if type(value) is str:
            if ":" in value:
                return [_RENAMED.get(name, name), self.text(value), []]
            element = [_RENAMED.get(name, name), value, []]
            if value:
                self.bare.append(element)
            return element
        name = _RENAMED.get(name, name)
        if type(value) is dict or isinstance(value, Mapping):
            text = value.get("#text")
            children = self.members(value)
            if name == "quantity" and children:
                name = "quantityElement"
            return [name, "" if text is None else self.scalar(text), children]
        if isinstance(value, list):
            return [name, "", [self.element("", v) for v in value]]
        return [name, self.scalar(value), []]

    def plain(self, name: str, value: Any) -> _Element:
        """An element exactly as written, without the XML-model regrouping."""
        if type(value) is str:
            return self.element(name, value)
        if type(value) is dict or isinstance(value, Mapping):
            children: list[Any] = []
            for key, item in value.items():
                if key in _SKIP_KEYS or not isinstance(key, str):
                    continue
                items = item if isinstance(item, list) else (item,)
                children.extend(self.plain(self.key(key), v) for v in items)
            text = value.get("#text")
            return [name, "" if text is None else self.scalar(text), children]
        if isinstance(value, list):
            return [name, "", [self.plain("", v) for v in value]]
        return [name, self.scalar(value), []]

    def pair(self, value: Any) -> tuple[Any, ...]:
        if type(value) is dict:
            # only the first two fields make up the pair (type, then its identifier)
            out: list[_Element] = []
            for key, item in value.items():
                if key in _SKIP_KEYS or type(key) is not str:
                    continue
                name = self.key(key) if ":" in key else key
                items = item if type(item) is list else (item,)
                out.extend(self.plain(name, v) for v in items)
                if len(out) >= 2:
                    break
            return tuple(out[:2])
        return tuple(self.plain("", value)[2][:2])


# --- Pre-hash string (CBV 2.0 §8.9.2) ----------------------------------------------------------

_Order = tuple[tuple[str, "_Order | None"], ...]
_QUANTITY: _Order = (("quantityElement", (("epcClass", None), ("quantity", None), ("uom", None))),)
_EPCS: _Order = (("epc", None),)
_SENSOR_METADATA: _Order = tuple(
    (n, None)
    for n in (
        "time",
        "startTime",
        "endTime",
        "deviceID",
        "deviceMetadata",
        "rawData",
        "dataProcessingMethod",
        "bizRules",
    )
)
_SENSOR_REPORT: _Order = tuple(
    (n, None)
    for n in (
        "type",
        "exception",
        "deviceID",
        "deviceMetadata",
        "rawData",
        "dataProcessingMethod",
        "time",
        "microorganism",
        "chemicalSubstance",
        "value",
        "component",
        "stringValue",
        "booleanValue",
        "hexBinaryValue",
        "uriValue",
        "minValue",
        "maxValue",
        "meanValue",
        "sDev",
        "percRank",
        "percValue",
        "uom",
        "coordinateReferenceSystem",
    )
)
# CBV 2.0 §8.9.2 table: the canonical order of event fields.
EVENT_ORDER: _Order = (
    ("eventTime", None),
    ("eventTimeZoneOffset", None),
    ("certificationInfo", None),
    ("parentID", None),
    ("epcList", _EPCS),
    ("inputEPCList", _EPCS),
    ("childEPCs", _EPCS),
    ("quantityList", _QUANTITY),
    ("childQuantityList", _QUANTITY),
    ("inputQuantityList", _QUANTITY),
    ("outputEPCList", _EPCS),
    ("outputQuantityList", _QUANTITY),
    ("action", None),
    ("transformationID", None),
    ("bizStep", None),
    ("disposition", None),
    ("persistentDisposition", (("set", None), ("unset", None))),
    ("readPoint", (("id", None),)),
    ("bizLocation", (("id", None),)),
    (
        "sensorElementList",
        (
            (
                "sensorElement",
                (("sensorMetadata", _SENSOR_METADATA), ("sensorReport", _SENSOR_REPORT)),
            ),
        ),
    ),
)
# Not part of what happened, so not part of the hash (CBV 2.0 §8.9.2).
_IGNORED_TOP = frozenset({"recordTime", "eventID", "type", "errorDeclaration"})


@lru_cache(maxsize=1024)
def _is_time(name: str) -> bool:
    lowered = name.lower()
    return "time" in lowered and "offset" not in lowered


def _take_extensions(children: list[Any]) -> list[Any]:
    """User extensions nested in a standard element go after its standard fields."""
    if len(children) <= 1:
        return []
    ext = []
    for child in children:
        name = child[0]
        if isinstance(name, str):
            if "eventTime" in name or "action" in name:
                # top level: extensions are hashed with the other non-standard fields
                return []
            if "{" in name and "/}" in name:
                ext.append(child)
    if ext:
        taken = {id(e) for e in ext}
        children[:] = [c for c in children if id(c) not in taken]
    return ext


_INDEX: dict[int, dict[str, int]] = {}


def _position(order: _Order) -> dict[str, int]:
    index = _INDEX.get(id(order))
    if index is None:
        index = _INDEX[id(order)] = {name: at for at, (name, _) in enumerate(order)}
    return index


def _ordered(children: list[Any], order: _Order) -> str:
    if order is _EPCS:
        return _identifiers(children)
    extensions = _take_extensions(children)
    index = _position(order)
    buckets: dict[int, list[Any]] = {}
    for child in children:
        name = child[0]
        if type(name) is str:
            at = index.get(name)
            if at is not None:
                bucket = buckets.get(at)
                if bucket is None:
                    buckets[at] = [child]
                else:
                    bucket.append(child)
    out = ""
    consumed = False
    for at in sorted(buckets):
        sub = order[at][1]
        values: list[str] = []
        for child in buckets[at]:
            text = _element_string(child, sub)
            if text:
                values.append(text)
            if not child[2]:
                consumed = True
        if values:
            if len(values) > 1:
                values.sort()
            out += "".join(values)
    if consumed:
        # what was hashed here leaves the tree; the rest is hashed as non-standard content
        children[:] = [c for c in children if c[2] or type(c[0]) is not str or c[0] not in index]
    if extensions:
        out += _generic(extensions)
    return out


def _identifiers(children: list[Any]) -> str:
    """epcList and the like: sorted "epc=<canonical DL>" entries."""
    values = []
    kept = []
    for child in children:
        if child[0] == "epc":
            if child[2]:
                kept.append(child)  # structured content is hashed with the non-standard rest
            text = child[1].strip() if child[1] else ""
            if text:
                values.append("epc=" + _canon_value(text))
        else:
            kept.append(child)
    values.sort()
    children[:] = kept
    return "".join(values)


def _element_string(child: _Element, sub: _Order | None) -> str:
    nested = _ordered(child[2], sub) if sub is not None and child[2] else ""
    text = child[1]
    if text:
        text = text.strip()
        text = utc_millis(text) if _is_time(child[0]) else _canon_value(text)
        if text:
            text = "=" + text
    if text or nested:
        return str(child[0]) + str(text) + nested
    return ""


def _generic(children: Sequence[Any]) -> str:
    values: list[str] = []
    sort = len(children) > 1
    for child in children:
        if type(child) is tuple:
            values.append(_generic(child))
            continue
        if child[0] in _UNSORTED_MARKERS:
            # source/destination/bizTransaction pairs keep "type" beside its value
            sort = False
        text = child[1].strip()
        if text:
            text = "=" + _canon_value(text)
        values.append(str(child[0]) + text + (_generic(child[2]) if child[2] else ""))
    if sort:
        values.sort()
    return "".join(values)


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


# --- Fast path --------------------------------------------------------------------------------
#
# Most captured events use only the standard fields below with their standard shapes, and at
# most an ilmd of namespaced strings. For those the pre-hash string is built straight from the
# JSON in one pass; the result is the same as the general path's (the tests compare the two on
# every vector and on each shape accepted here), only several times cheaper.

_SKIP, _SCALAR, _TIME, _IDS, _QUANTITIES, _LOCATION, _PAIRS, _ILMD = range(8)


def _fast_field(name: str, kind: int) -> tuple[int, int]:
    """(kind, position in EVENT_ORDER; -1 for fields hashed after the ordered ones)."""
    return kind, -1 if kind == _SKIP else _position(EVENT_ORDER).get(name, -1)


_FAST_FIELDS: dict[str, tuple[int, int]] = {
    **{n: _fast_field(n, _SKIP) for n in ("type", "recordTime", "eventID")},
    "eventTime": _fast_field("eventTime", _TIME),
    **{
        n: _fast_field(n, _SCALAR)
        for n in (
            "eventTimeZoneOffset",
            "parentID",
            "action",
            "transformationID",
            "bizStep",
            "disposition",
        )
    },
    **{n: _fast_field(n, _IDS) for n in ("epcList", "inputEPCList", "childEPCs", "outputEPCList")},
    **{
        n: _fast_field(n, _QUANTITIES)
        for n in ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
    },
    **{n: _fast_field(n, _LOCATION) for n in ("readPoint", "bizLocation")},
    **{n: _fast_field(n, _PAIRS) for n in ("bizTransactionList", "sourceList", "destinationList")},
    "ilmd": _fast_field("ilmd", _ILMD),
}
# The @vocab-typed fields among them (see _expanded_vocabulary).
_FAST_TYPED = (("bizStep", _VOCAB_BIZSTEP), ("disposition", _VOCAB_DISP))
_FAST_TYPED_PAIRS = (
    ("bizTransactionList", _VOCAB_BTT),
    ("sourceList", _VOCAB_SDT),
    ("destinationList", _VOCAB_SDT),
)
_QUANTITY_KEYS = frozenset({"epcClass", "quantity", "uom"})
_PAIR_KEYS = frozenset({"type", "bizTransaction", "source", "destination"})
_NO_INDEX: dict[str, str | None] = {}
_SLOTS = len(EVENT_ORDER)


def _fast_prehash(event: Mapping[str, Any], prefixes: Mapping[str, str]) -> str | None:
    """The pre-hash string of an event of the shapes in _FAST_FIELDS, else None."""
    vocabulary = _typed_vocabulary(event, prefixes)
    literals: set[str] = set()
    index = _suffix_index(frozenset(vocabulary)) if vocabulary else _NO_INDEX
    text = _fast_build(event, prefixes, index, literals)
    if text is not None and not literals.issubset(vocabulary):
        # Full vocabulary IRIs written elsewhere in the event also resolve bare terms (rare).
        index = _suffix_index(frozenset(vocabulary | literals))
        text = _fast_build(event, prefixes, index, literals)
    return text


def _typed_vocabulary(event: Mapping[str, Any], prefixes: Mapping[str, str]) -> set[str]:
    """`_expanded_vocabulary` of an event the fast path accepts (it rejects other shapes)."""
    found: set[str] = set()
    for key, terms in _FAST_TYPED:
        value = event.get(key)
        if type(value) is str:
            iri = terms.get(value) or _expand_curie(value, prefixes)  # as in _vocab
            if iri.startswith(_VOCAB_PREFIXES):
                found.add(iri)
    for key, terms in _FAST_TYPED_PAIRS:
        items = event.get(key)
        if type(items) is list:
            for item in items:
                value = item.get("type") if type(item) is dict else None
                if type(value) is str:
                    iri = terms.get(value) or _expand_curie(value, prefixes)
                    if iri.startswith(_VOCAB_PREFIXES):
                        found.add(iri)
    return found


def _fast_build(
    event: Mapping[str, Any],
    prefixes: Mapping[str, str],
    index: Mapping[str, str | None],
    literals: set[str],
) -> str | None:
    """The pre-hash string, bare terms resolved with `index`; None for shapes not handled here.
    Adds the vocabulary IRIs written out in the event to `literals` (as _Converter.text)."""
    slots = [""] * _SLOTS
    tail = []
    values: list[str]
    for key, value in event.items():
        field = _FAST_FIELDS.get(key)
        if field is None:
            return None
        kind, slot = field
        if kind <= _TIME:  # _SKIP, _SCALAR, _TIME
            if type(value) is not str:
                return None
            if kind == _SCALAR:
                text = _fast_value(value, prefixes, index, literals)
                if text:
                    slots[slot] = key + "=" + text
            elif kind == _TIME:
                # expanded and stripped as other values, then a timestamp, not canonicalised
                text = _fast_text(value, prefixes, index, literals).strip()
                if text:
                    slots[slot] = key + "=" + utc_millis(text)
            elif value.startswith(_VOCAB_PREFIXES):
                literals.add(value)
        elif kind == _IDS:
            if type(value) is not list:
                return None
            values = []
            for epc in value:
                if type(epc) is not str:
                    return None
                text = _fast_value(epc, prefixes, index, literals)
                if text:
                    values.append("epc=" + text)
            if values:
                values.sort()
                slots[slot] = key + "".join(values)
        elif kind == _LOCATION:
            uri = value.get("id") if type(value) is dict and len(value) == 1 else None
            if type(uri) is not str:
                return None
            text = _fast_value(uri, prefixes, index, literals)
            if text:
                slots[slot] = key + "id=" + text
        elif kind == _PAIRS:
            if type(value) is not list:
                return None
            values = []
            for item in value:
                pair = _fast_pair(item, prefixes, index, literals)
                if pair is None:
                    return None
                values.append(pair)
            if values:
                values.sort()
                tail.append(key + "".join(values))
        elif kind == _ILMD:
            part = _fast_ilmd(value, prefixes, index, literals)
            if part is None:
                return None
            tail.append(key + part)
        else:  # _QUANTITIES
            part = _fast_quantities(value, prefixes, index, literals)
            if part is None:
                return None
            if part:
                slots[slot] = key + part
    if len(tail) > 1:
        tail.sort()
    event_type: str = event.get("type", "")
    return "eventType=" + event_type + "".join(slots) + "".join(tail)


def _fast_text(
    text: str, prefixes: Mapping[str, str], index: Mapping[str, str | None], literals: set[str]
) -> str:
    """A JSON string as the general path reads it (`_Converter.text`): a compact IRI expanded,
    a vocabulary IRI noted in `literals`, a bare term resolved (`_Converter.resolve_bare`)."""
    if ":" in text:
        if text.startswith(_VOCAB_PREFIXES):
            literals.add(text)
        prefix, _, rest = text.partition(":")
        return prefixes[prefix] + rest if prefix in prefixes and not rest.startswith("//") else text
    return (index.get(text) or text) if text else text


def _fast_value(
    text: str, prefixes: Mapping[str, str], index: Mapping[str, str | None], literals: set[str]
) -> str:
    """`_fast_text`, stripped and canonicalised ("" if blank); inlined, as it runs per value."""
    if ":" in text:
        if text.startswith(("https://", "http://")):  # never a compact IRI
            if text.startswith(_VOCAB_PREFIXES):
                literals.add(text)
        else:
            prefix, _, rest = text.partition(":")
            if prefix in prefixes and not rest.startswith("//"):
                text = prefixes[prefix] + rest
    elif text:
        text = index.get(text) or text
    text = text.strip()
    if "." not in text and not _may_be_number(text[:1]) and "urn:epcglobal:cbv:" not in text:
        return text  # what _canon would return: no CBV URN, no number, no EPC (all have a '.')
    return _canon(text) if len(text) < 2048 else text


def _fast_pair(
    item: Any, prefixes: Mapping[str, str], index: Mapping[str, str | None], literals: set[str]
) -> str | None:
    # A third field would be left out of the pair but not out of the vocabulary: general path.
    if type(item) is not dict or len(item) > 2 or not _PAIR_KEYS.issuperset(item):
        return None
    parts = []
    ordered = False  # with its identifier, "type" stays beside it (see _generic)
    for key, raw in item.items():
        if type(raw) is not str:
            return None
        text = _fast_value(raw, prefixes, index, literals)
        parts.append(key + "=" + text if text else key)
        if key in _UNSORTED_MARKERS:
            ordered = True
    if len(parts) > 1 and not ordered:
        parts.sort()
    return "".join(parts)


def _fast_quantities(
    items: Any, prefixes: Mapping[str, str], index: Mapping[str, str | None], literals: set[str]
) -> str | None:
    if type(items) is not list:
        return None
    values = []
    for item in items:
        if type(item) is not dict or not _QUANTITY_KEYS.issuperset(item):
            return None
        text = ""
        for key in ("epcClass", "quantity", "uom"):
            if key not in item:
                continue
            raw = item[key]
            if key == "quantity":
                if raw is None:
                    continue
                if type(raw) not in (int, float):
                    return None
                part = _canon_value(str(raw))
            else:
                if type(raw) is not str:
                    return None
                part = _fast_value(raw, prefixes, index, literals)
            if part:
                text += key + "=" + part
        if text:
            values.append("quantityElement" + text)
    values.sort()
    return "".join(values)


def _fast_ilmd(
    fields: Any, prefixes: Mapping[str, str], index: Mapping[str, str | None], literals: set[str]
) -> str | None:
    if type(fields) is not dict:
        return None
    values = []
    for key, raw in fields.items():
        name = _ilmd_name(key, prefixes)
        if name is None or type(raw) is not str:
            return None
        text = _fast_value(raw, prefixes, index, literals)
        values.append(name + "=" + text if text else name)
    values.sort()
    return "".join(values)


def _ilmd_name(key: Any, prefixes: Mapping[str, str]) -> str | None:
    """The element name of a namespaced ilmd field (`_Converter.key`); None for names the fast
    path leaves alone (no known prefix, skipped by the general path, or read as a list)."""
    parts = _ilmd_parts(key) if type(key) is str else None
    if parts is None or parts[0] not in prefixes:
        return None
    return "{" + prefixes[parts[0]] + "}" + parts[1]


@lru_cache(maxsize=1024)
def _ilmd_parts(key: str) -> tuple[str, str] | None:
    prefix, sep, local = key.partition(":")
    if not sep or key in _SKIP_KEYS or local.endswith("List"):
        return None
    return prefix, local


def prehash_string(
    event: Mapping[str, Any], context: Any = None, *, ignore_fields: Iterable[str] = ()
) -> str:
    """The canonical pre-hash string of one EPCIS 2.0 JSON-LD event (CBV 2.0 §8.9.2).

    `context` is the document's @context (or its `context_prefixes`), needed to expand the
    namespace prefixes of user extensions; `ignore_fields` are top-level event fields the
    document declares as not hashed (see `document_ignore_fields`).
    """
    prefixes = context if type(context) is Prefixes else _prefixes_for(context)
    ignored = set(ignore_fields) if ignore_fields else None
    if ignored:
        ignored |= {_Converter(prefixes).key(k) for k in ignored}
        event = {k: v for k, v in event.items() if k not in ignored}
    if type(event.get("type", "")) is str:
        fast = _fast_prehash(event, prefixes)
        if fast is not None:
            return fast
    return _general_prehash(event, prefixes)


def _general_prehash(event: Mapping[str, Any], prefixes: Mapping[str, str]) -> str:
    converter = _Converter(prefixes)
    children = converter.members(event)
    converter.resolve_bare(_expanded_vocabulary(event, prefixes))
    event_type = event.get("type", "")
    head = "eventType=" + (event_type if isinstance(event_type, str) else "")
    ordered = _ordered(children, EVENT_ORDER)
    rest = [c for c in children if c[0] not in _IGNORED_TOP]
    return head + ordered + (_generic(rest) if rest else "")


def hash_id_from_prehash(prehash: str) -> str:
    """ni: URI (RFC 6920) of a pre-hash string, as CBV 2.0 §8.9 Event Hash ID."""
    return "ni:///sha-256;" + hashlib.sha256(prehash.encode()).hexdigest() + HASH_SUFFIX


def event_hash_id(
    event: Mapping[str, Any], context: Any = None, *, ignore_fields: Iterable[str] = ()
) -> str:
    """CBV 2.0 §8.9 Event Hash ID "ni:///sha-256;<hex>?ver=CBV2.0" of one EPCIS 2.0 event."""
    return hash_id_from_prehash(prehash_string(event, context, ignore_fields=ignore_fields))
