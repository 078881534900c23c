"""Scanner input: GS1 barcodes, element strings and Digital Link URIs as scanners deliver them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from biip import ParseError
from biip.gtin import Gtin
from biip.symbology import SymbologyIdentifier

from provenance.gs1.ai import is_valid, lookup_prefix, parse_bracketed, unbracketed, validate
from provenance.gs1.digital_link import digital_link_from_ais, parse_digital_link
from provenance.gs1.errors import BadIdentifier
from provenance.gs1.keys import element_string, has_valid_check_digit, parse_expiry

__all__ = [
    "Scan",
    "parse_digital_link",
    "parse_element_string",
    "parse_scan",
    "read_scan_data",
    "scan_to_digital_link",
]

GS = "\x1d"
#: Symbology identifiers whose data is GS1 AI data with GS as FNC1 (ISO/IEC 15424).
AI_SYMBOLOGIES = frozenset({"]d2", "]Q3", "]C1", "]e0"})
#: Plain-data symbologies that may carry a Digital Link URI.
PLAIN_SYMBOLOGIES = frozenset({"]d1", "]Q1"})
#: Symbologies that carry a GTIN alone, with the number of digits: EAN-13 (UPC-A as 13 digits),
#: EAN-8, and ITF-14 (modifier 1: the reader checked the check digit; 0: it did not).
EAN_SYMBOLOGIES = {"]E0": 13, "]E4": 8, "]I0": 14, "]I1": 14}
#: Digits a GTIN has without its leading zeros: GTIN-8, -12 (UPC-A), -13 (EAN-13) and -14.
GTIN_LENGTHS = frozenset({8, 12, 13, 14})
_KNOWN = AI_SYMBOLOGIES | PLAIN_SYMBOLOGIES | EAN_SYMBOLOGIES.keys()
_SCHEMES = ("https://", "HTTPS://", "http://", "HTTP://")
# Keyboard wedges that cannot type ASCII 29 send one of these. None is in GS1 character set 82
# except "<GS>", whose letters are, but no real lot or serial contains it. "|" is refused: it
# is also the composite-component delimiter, so treating it as FNC1 could merge two messages.
GS_SUBSTITUTES = ("<GS>", "{GS}", "\\x1d", "^")
_WHITESPACE = " \t\r\n\v\f\x00"


@dataclass(frozen=True)
class Scan:
    gtin: str
    lot: str | None
    serial: str | None
    expiry: str | None
    ais: tuple[tuple[str, str], ...]
    form: str
    symbology: str | None
    warnings: tuple[str, ...] = ()

    def bracketed(self) -> str:
        return element_string(self.ais)

    @property
    def names_a_pack(self) -> bool:
        """Whether the scan names a batch or a pack; a GTIN alone (an EAN-13 or UPC-A on the
        carton, an ITF-14 on the case) names only the product."""
        return self.lot is not None or self.serial is not None


def parse_element_string(text: str) -> list[tuple[str, str]]:
    """AIs of a bracketed element string such as "(01)09520123456788(10)ABC1"."""
    if not isinstance(text, str):
        raise BadIdentifier("element string must be text")
    return parse_bracketed(text)


def _parses(data: str) -> bool:
    try:
        _parse_raw(data, None)
    except BadIdentifier:
        return False
    return True


def _parse_raw(data: str, warnings: list[str] | None) -> list[tuple[str, str]]:
    """AIs of GS-separated data; a ``warnings`` list switches on best-effort repairs."""
    if not data:
        raise BadIdentifier("scan carries no data")
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(data):
        entry = lookup_prefix(data, i)
        if entry is None:
            last = lookup_prefix(out[-1][0]) if out else None
            # Junk after a complete fixed-length field is dropped only if it holds no digit:
            # digits could be a damaged AI whose data would be lost silently.
            junk = not any(c.isdigit() for c in data[i:])
            if warnings is not None and last and not last.fnc1 and junk:
                warnings.append(f"ignored trailing {data[i:]!r} after AI ({last.ai})")
                break
            raise BadIdentifier(
                f"no known AI at position {i} of the scan data: {data[i : i + 8]!r}", position=i
            )
        start = i + len(entry.ai)
        if not entry.fnc1:
            end = start + (entry.fixed_length or 0)
        else:
            end = data.find(GS, start)
            end = len(data) if end < 0 else end
        value = data[start:end]
        try:
            validate(entry.ai, value)
        except BadIdentifier as error:
            if warnings is None or not entry.fnc1:
                raise BadIdentifier(f"{error.detail} (at position {i})", position=i) from error
            # A lost separator: split only where exactly one cut leaves valid AIs behind.
            cuts = [
                k
                for k in range(1, min(len(value), entry.max_length) + 1)
                if is_valid(entry.ai, value[:k]) and _parses(value[k:])
            ]
            if len(cuts) != 1:
                why = "ambiguous" if cuts else "no valid split"
                raise BadIdentifier(
                    f"{error.detail} (at position {i}; missing GS separator? {why})", position=i
                ) from error
            value, end = value[: cuts[0]], start + cuts[0]
            warnings.append(f"missing GS separator after AI ({entry.ai}) {value!r} inserted")
        out.append((entry.ai, value))
        i = end
        if i < len(data) and data[i] == GS:
            i += 1
            doubled = len(data) - i - len(data[i:].lstrip(GS))
            if doubled and warnings is not None:
                # A printer's or a wedge's FNC1 sent twice: a separator carries no data.
                i += doubled
                warnings.append("ignored doubled GS separator")
            if i == len(data):
                if warnings is None:
                    raise BadIdentifier("scan data ends with a GS separator", position=i)
                warnings.append("ignored trailing GS separator")
    return out


def _symbology(prefix: str) -> str:
    try:
        described = SymbologyIdentifier.extract(prefix)
    except ParseError as error:
        raise BadIdentifier(f"unrecognised symbology identifier {prefix!r}") from error
    if described.value not in _KNOWN:
        raise BadIdentifier(
            f"unsupported symbology identifier {prefix!r} ({described.iso_symbology.name})"
        )
    return described.value


def read_scan_data(text: str) -> tuple[str, str]:
    """Strictly read AIM-prefixed scanner output as (symbology identifier, data).

    GS1 data comes back in FNC1 form ("^01...^10..."), plain data as given (a leading "^"
    escaped as "\\^" so it cannot pass for FNC1), and a Digital Link URI is validated.
    """
    if not isinstance(text, str) or len(text) < 3 or not text.startswith("]"):
        raise BadIdentifier("scan data must start with a symbology identifier such as ]d2")
    symbology, data = _symbology(text[:3]), text[3:]
    if symbology in EAN_SYMBOLOGIES:
        if len(data) != EAN_SYMBOLOGIES[symbology] or not has_valid_check_digit(data):
            raise BadIdentifier(f"{symbology} data {data!r} is not a valid EAN/UPC/ITF-14 number")
        return symbology, data
    if symbology in AI_SYMBOLOGIES:
        if "^" in data:
            raise BadIdentifier("scan data contains '^', which is not a GS1 character")
        return symbology, unbracketed(_parse_raw(data, None))
    if data.startswith(_SCHEMES):
        parse_digital_link(data)
    return symbology, "\\" + data if re.match(r"\\*\^", data) else data


def _fold_symbology(prefix: str, data: str, warnings: list[str]) -> str:
    if prefix == "]E0" and len(data) > 13 and data.startswith("01"):
        folded = "]e0"  # "]e0" typed with Caps Lock on: EAN-13 data is exactly 13 digits
    elif prefix in _KNOWN:
        return prefix
    else:
        folded = prefix[0] + prefix[1].swapcase() + prefix[2]
    if folded not in _KNOWN:
        return _symbology(prefix)
    warnings.append(f"symbology identifier {prefix!r} read as {folded!r} (Caps Lock?)")
    return folded


def parse_scan(text: str) -> Scan:
    """Best-effort read of whatever a scanner or keyboard wedge produced; must carry a GTIN."""
    if not isinstance(text, str):
        raise BadIdentifier("scan must be text")
    warnings: list[str] = []
    data = text.strip(_WHITESPACE)
    if data != text:
        warnings.append("removed surrounding whitespace or CR/LF")
    symbology = None
    if data.startswith("]") and len(data) >= 3:
        symbology, data = _fold_symbology(data[:3], data[3:], warnings), data[3:]
    if data[:8].lower().startswith(("http://", "https://")) and symbology in (
        None,
        *PLAIN_SYMBOLOGIES,
    ):
        return _build(_read_uri(data, warnings), "digital-link", symbology, warnings)
    if data.startswith("(") and symbology in (None, *PLAIN_SYMBOLOGIES):
        spaced = re.sub(r"\s*([()])\s*", r"\1", data)
        if spaced != data:
            warnings.append("removed spaces around AI brackets")
        return _build(parse_bracketed(spaced), "element-string", symbology, warnings)
    if symbology in EAN_SYMBOLOGIES:
        _, digits = read_scan_data(symbology + data)
        return _build([("01", digits.zfill(14))], "scanner-data", symbology, warnings)
    if symbology is None and data.isascii() and data.isdigit() and len(data) in GTIN_LENGTHS:
        # A bare number of a GTIN's length: a linear barcode read without its AIM prefix (an
        # AI message starting with (01) has at least 16 digits).
        return _build([("01", _bare_gtin(data))], "scanner-data", None, warnings)
    if symbology in PLAIN_SYMBOLOGIES:
        warnings.append(f"symbol is not marked as GS1 ({symbology}); read as GS1 data")
    elif symbology is None and not re.match(r"01\d{14}", data):
        raise BadIdentifier("scan is not a Digital Link URI, element string or GS1 data")
    for substitute in GS_SUBSTITUTES:
        if substitute in data:
            data = data.replace(substitute, GS)
            warnings.append(f"{substitute!r} read as GS separator")
    if "|" in data:
        position = data.index("|")
        raise BadIdentifier(f"'|' at position {position} is not a GS1 character", position=position)
    if data.startswith(GS):
        data = data.lstrip(GS)
        warnings.append("ignored leading GS separator")
    return _build(_parse_raw(data, warnings), "scanner-data", symbology, warnings)


def _bare_gtin(digits: str) -> str:
    """The GTIN-14 of a bare GTIN-8, -12, -13 or -14, its check digit verified."""
    try:
        return Gtin.parse(digits).as_gtin_14()
    except ParseError as error:
        raise BadIdentifier(f"{digits!r} is not a GTIN: {error}", identifier=digits) from error


def _read_uri(uri: str, warnings: list[str]) -> list[tuple[str, str]]:
    scheme, sep, rest = uri.partition("://")
    if scheme not in ("http", "https", "HTTP", "HTTPS"):
        warnings.append(f"URI scheme {scheme!r} read as {scheme.lower()!r} (Caps Lock?)")
        uri = scheme.lower() + sep + rest
    try:
        return parse_digital_link(uri)
    except BadIdentifier as strict_error:
        try:
            ais = parse_digital_link(uri, permit_zero_suppressed_gtin=True)
        except BadIdentifier:
            raise strict_error from None
    warnings.append("GTIN in the URI was not 14 digits; zero padded to a GTIN-14")
    return ais


def _build(
    ais: list[tuple[str, str]], form: str, symbology: str | None, warnings: list[str]
) -> Scan:
    found: dict[str, str] = {}
    for ai, value in ais:
        if ai in found:
            raise BadIdentifier(f"AI ({ai}) occurs more than once in the scan", ai=ai)
        found[ai] = value
    if "01" not in found:
        raise BadIdentifier("scan carries no GTIN (AI 01)", ais=[ai for ai, _ in ais])
    if "17" in found:
        parse_expiry(found["17"])
    return Scan(
        gtin=found["01"],
        lot=found.get("10"),
        serial=found.get("21"),
        expiry=found.get("17"),
        ais=tuple(ais),
        form=form,
        symbology=symbology,
        warnings=tuple(warnings),
    )


def scan_to_digital_link(scan: Scan, stem: str) -> str:
    """The GS1 Digital Link URI carrying every AI of ``scan`` under ``stem``."""
    return digital_link_from_ais(stem, scan.ais)
