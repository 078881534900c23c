"""EPC URNs (TDS 2.x) -> GS1 Digital Link URIs, per EPC scheme (CBV 2.0 §8.9.2 "EPCs")."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from provenance.gs1.keys import with_check_digit

__all__ = ["urn_to_dl"]


# Characters TDS 2.x allows in alphanumeric EPC URN components (GS1 AI encodable set 82),
# including the percent-escapes it permits.
_PCT = r"%2[125-9A-Fa-f]|%3[0-9A-Fa-f]|%4[1-9A-Fa-f]|%5[0-9AaFf]|%6[1-9A-Fa-f]|%7[0-9Aa]"
_X = rf"(?:{_PCT}|[!')(*+,.0-9:;=A-Za-z_-])"
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


@lru_cache(maxsize=4096)  # one per product: serials vary, products repeat
def _gtin(cp: str, ref: str) -> str:
    # TDS §6.3.1: the indicator digit leads the item reference in the URN but the GTIN.
    return with_check_digit(ref[0] + cp + ref[1:])


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
    gln = with_check_digit(p[0] + p[1])
    ext = ".".join(p[2:])
    # TDS §6.3.3: extension "0" means "no extension" (the GLN itself).
    return f"https://id.gs1.org/414/{gln}" + ("" if ext == "0" else f"/254/{_pct(ext)}")


def _itip(p: list[str]) -> str:
    return f"https://id.gs1.org/8006/{_gtin(p[0], p[1])}{p[2]}{p[3]}/21/{_pct('.'.join(p[4:]))}"


_rule("urn:epc:id:sgtin:", rf"{_cp_ref(13)}\.{_X}{{1,20}}", _sgtin)
_rule(
    "urn:epc:id:sscc:",
    _cp_ref(17),
    lambda p: "https://id.gs1.org/00/" + with_check_digit(p[1][0] + p[0] + p[1][1:]),
)
_rule("urn:epc:id:sgln:", rf"{_cp_ref(12, allow_empty_ref=True)}\.{_X}{{1,20}}", _sgln)
_rule(
    "urn:epc:id:grai:",
    rf"{_cp_ref(12, allow_empty_ref=True)}\.{_X}{{1,16}}",
    lambda p: (
        "https://id.gs1.org/8003/" + with_check_digit("0" + p[0] + p[1]) + _pct(".".join(p[2:]))
    ),
)
_rule(
    "urn:epc:id:giai:",
    _var(_X, 30),
    lambda p: "https://id.gs1.org/8004/" + p[0] + _pct(".".join(p[1:])),
)
_rule(
    "urn:epc:id:gsrn:",
    _cp_ref(17),
    lambda p: "https://id.gs1.org/8018/" + with_check_digit(p[0] + p[1]),
)
_rule(
    "urn:epc:id:gsrnp:",
    _cp_ref(17),
    lambda p: "https://id.gs1.org/8017/" + with_check_digit(p[0] + p[1]),
)
_rule(
    "urn:epc:id:gdti:",
    rf"(?:{_cp_ref(12)}\.{_X}{{0,19}}|\d{{12}}\.\.{_X}{{1,20}})",
    lambda p: "https://id.gs1.org/253/" + with_check_digit(p[0] + p[1]) + _pct(".".join(p[2:])),
)
_rule(
    "urn:epc:id:cpi:",
    rf"{_var(_CPI_CHR, 30)}\.\d{{1,12}}",
    lambda p: f"https://id.gs1.org/8010/{_pct(p[0] + p[1])}/8011/{p[2]}",
)
_rule(
    "urn:epc:id:sgcn:",
    rf"{_cp_ref(12, allow_empty_ref=True)}\.\d{{1,12}}",
    lambda p: "https://id.gs1.org/255/" + with_check_digit(p[0] + p[1]) + p[2],
)
_rule(
    "urn:epc:id:ginc:",
    _var(_X, 30),
    lambda p: "https://id.gs1.org/401/" + p[0] + _pct(".".join(p[1:])),
)
_rule(
    "urn:epc:id:gsin:",
    _cp_ref(16),
    lambda p: "https://id.gs1.org/402/" + with_check_digit(p[0] + p[1]),
)
_rule("urn:epc:id:itip:", rf"{_cp_ref(13)}\.\d{{2}}\.\d{{2}}\.{_X}{{1,20}}", _itip)
_rule(
    "urn:epc:id:upui:",
    rf"{_cp_ref(13)}\.{_X}{{1,28}}",
    lambda p: f"https://id.gs1.org/01/{_gtin(p[0], p[1])}/235/{_pct('.'.join(p[2:]))}",
)
_rule(
    "urn:epc:id:pgln:",
    _cp_ref(12, allow_empty_ref=True),
    lambda p: "https://id.gs1.org/417/" + with_check_digit(p[0] + p[1]),
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
    lambda p: "https://id.gs1.org/8003/" + with_check_digit("0" + p[0] + p[1]),
)
_rule(
    "urn:epc:idpat:gdti:",
    rf"{_cp_ref(12, allow_empty_ref=True)}\.\*",
    lambda p: "https://id.gs1.org/253/" + with_check_digit(p[0] + p[1]),
)
_rule(
    "urn:epc:idpat:sgcn:",
    rf"{_cp_ref(12, allow_empty_ref=True)}\.\*",
    lambda p: "https://id.gs1.org/255/" + with_check_digit(p[0] + p[1]),
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


def urn_to_dl(uri: str) -> str | None:
    """An EPC URN ("urn:epc:...") -> its GS1 Digital Link URI, None if not a valid EPC URN."""
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
