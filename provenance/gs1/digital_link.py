"""GS1 Digital Link URIs: strict parsing into AIs and generation from AIs."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from provenance.gs1.ai import AI_TABLE, validate
from provenance.gs1.errors import BadIdentifier
from provenance.gs1.keys import percent_encode

_URI_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"
)
_BAD_DOMAIN_CHARS = frozenset("_~?#@!$&'()*+,;=%")
# Only these exact spellings: GS1 forbids mixed-case schemes in strict parsing.
_SCHEMES = ("https://", "HTTPS://", "http://", "HTTP://")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
CANONICAL_STEM = "https://id.gs1.org"
#: GS1 Digital Link 1.0 convenience alphas: short names of AIs, deprecated since 1.1 but still
#: sent by DSCSA verification routers (".../gtin/<gtin>/lot/<lot>/ser/<serial>?exp=<YYMMDD>").
#: The table of github.com/gs1/GS1DigitalLinkToolkit.js (Apache-2.0).
CONVENIENCE_ALPHAS = {
    "sscc": "00",
    "gtin": "01",
    "lot": "10",
    "exp": "17",
    "ser": "21",
    "cpv": "22",
    "gdti": "253",
    "glnx": "254",
    "gcn": "255",
    "ginc": "401",
    "gsin": "402",
    "gln": "414",
    "payto": "415",
    "expdt": "7003",
    "grai": "8003",
    "giai": "8004",
    "itip": "8006",
    "cpid": "8010",
    "cpsn": "8011",
    "gsrnp": "8017",
    "gsrn": "8018",
    "srin": "8019",
}
_STEM = re.compile(r"^https?://[^/?#]+(/[^?#]*)?$")


def _unescape(text: str, ai: str, in_query: bool) -> str:
    if in_query:
        # "+" means space only in the query; decode it before %2B can produce a literal "+".
        text = text.replace("+", " ")
    value = _PERCENT.sub(lambda m: chr(int(m.group(1), 16)), text)
    if "\x00" in value:
        raise BadIdentifier(f"AI ({ai}) value decodes to a NUL character", ai=ai)
    return value


def _looks_like_ai(segment: str | None) -> bool:
    return (
        segment is not None and 2 <= len(segment) <= 4 and segment.isascii() and segment.isdigit()
    )


def is_valid_path_sequence(key: str, qualifiers: Sequence[str]) -> bool:
    """True if ``key`` is a DL primary key and ``qualifiers`` follow one allowed order."""
    entry = AI_TABLE.get(key)
    if entry is None or entry.dl_qualifiers is None:
        return False
    for allowed in entry.dl_qualifiers:
        pos = -1
        for q in qualifiers:
            if q not in allowed[pos + 1 :]:
                break
            pos = allowed.index(q, pos + 1)
        else:
            return True
    return False


def _split(uri: str) -> tuple[list[str], str]:
    if not isinstance(uri, str) or not uri:
        raise BadIdentifier("empty Digital Link URI")
    for i, c in enumerate(uri):
        if c not in _URI_CHARS:
            raise BadIdentifier(f"URI contains illegal character {c!r} at position {i}", position=i)
    scheme = next((s for s in _SCHEMES if uri.startswith(s)), None)
    if scheme is None:
        raise BadIdentifier(f"URI {uri!r} does not start with http:// or https://")
    rest = uri[len(scheme) :]
    slash = rest.find("/")
    if slash < 1:
        raise BadIdentifier(f"URI {uri!r} has no domain or no path")
    if any(c in _BAD_DOMAIN_CHARS for c in rest[:slash]):
        raise BadIdentifier(f"URI domain {rest[:slash]!r} contains an illegal character")
    path, _, query = rest[slash:].partition("#")[0].partition("?")
    return path.split("/")[1:], query


def parse_digital_link(
    uri: str, *, permit_zero_suppressed_gtin: bool = False, permit_convenience_alphas: bool = False
) -> list[tuple[str, str]]:
    """AIs of a GS1 Digital Link URI: the path (key, then qualifiers) then query attributes.

    With `permit_convenience_alphas` an AI may also be named by its Digital Link 1.0 short
    name (`gtin`, `lot`, `ser`, `exp`, ...), in the path and in the query."""
    segments, query = _split(uri)
    alphas = CONVENIENCE_ALPHAS if permit_convenience_alphas else {}
    # Only AI positions are renamed: a lot or serial may itself read "lot" or "ser".
    for i in range(len(segments) - 2, -1, -2):
        segments[i] = alphas.get(segments[i], segments[i])
    # The primary key is the right-most "/AI/value" pair, walking back pair by pair from the
    # end of the path; anything before it is the resolver's own stem.
    start, stopped_at = len(segments) - 2, None
    while start >= 0:
        entry = AI_TABLE.get(segments[start])
        if entry is None:
            start, stopped_at = -1, segments[start]
        elif entry.dl_qualifiers is not None:
            break
        else:
            start -= 2
    if start < 0:
        unknown = (
            f"; ({stopped_at}) is not a GS1 Application Identifier"
            if _looks_like_ai(stopped_at)
            else ""
        )
        raise BadIdentifier(
            f"no GS1 Digital Link primary key found in the path of {uri!r}{unknown}"
        )
    path: list[tuple[str, str]] = []
    for i in range(start, len(segments), 2):
        ai, raw = segments[i], segments[i + 1]
        if not raw:
            raise BadIdentifier(f"AI ({ai}) has an empty value in the URI path", ai=ai)
        value = _unescape(raw, ai, in_query=False)
        if permit_zero_suppressed_gtin and ai == "01" and len(value) in (8, 12, 13):
            value = value.zfill(14)
        validate(ai, value)
        path.append((ai, value))
    key, qualifiers = path[0][0], [ai for ai, _ in path[1:]]
    if not is_valid_path_sequence(key, qualifiers):
        orders = " or ".join("/".join(alt) for alt in AI_TABLE[key].dl_qualifiers or ()) or "none"
        raise BadIdentifier(
            f"key qualifiers {'/'.join(qualifiers)} are not allowed after primary key ({key})"
            f" in this order (allowed: {orders})",
            ai=key,
        )
    return path + _query_attributes(query, path, key, qualifiers, alphas)


def _query_attributes(
    query: str,
    path: list[tuple[str, str]],
    key: str,
    qualifiers: list[str],
    alphas: dict[str, str],
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for param in query.split("&"):
        ai, equals, raw = param.partition("=")
        ai = alphas.get(ai, ai)
        # Parameters that are not numeric keys are not AIs: GS1 says to ignore them.
        if not equals or not (ai.isascii() and ai.isdigit()):
            continue
        entry = AI_TABLE.get(ai)
        if entry is None:
            raise BadIdentifier(f"unknown AI ({ai}) in the URI query", ai=ai)
        if not raw:
            raise BadIdentifier(f"AI ({ai}) has an empty value in the URI query", ai=ai)
        value = _unescape(raw, ai, in_query=True)
        validate(ai, value)
        if any(ai == seen for seen, _ in path + found):
            raise BadIdentifier(f"AI ({ai}) occurs more than once in the URI", ai=ai)
        if not entry.dl_attribute:
            raise BadIdentifier(f"AI ({ai}) is not permitted as a Digital Link attribute", ai=ai)
        for j in range(len(qualifiers) + 1):
            if is_valid_path_sequence(key, [*qualifiers[:j], ai, *qualifiers[j:]]):
                raise BadIdentifier(
                    f"AI ({ai}) is a key qualifier of ({key}) and belongs in the URI path", ai=ai
                )
        found.append((ai, value))
    return found


def digital_link_from_ais(stem: str | None, ais: Iterable[tuple[str, str]]) -> str:
    """A Digital Link URI: first primary key and its qualifiers in the path, the rest queried.

    Query attributes follow GS1's generator: fixed-length AIs first, each group in received
    order; a repeated AI with the same value is carried once.
    """
    stem = CANONICAL_STEM if stem is None else stem
    if not isinstance(stem, str) or not _STEM.match(stem):
        raise BadIdentifier(f"Digital Link stem {stem!r} must be an http(s) URI", stem=str(stem))
    values: dict[str, str] = {}
    for ai, value in ais:
        validate(ai, value)
        if values.setdefault(ai, value) != value:
            raise BadIdentifier(f"AI ({ai}) occurs twice with different values", ai=ai)
    key = next((ai for ai in values if AI_TABLE[ai].dl_qualifiers is not None), None)
    if key is None:
        raise BadIdentifier("no Digital Link primary key (such as GTIN (01)) among the AIs")
    alternatives = AI_TABLE[key].dl_qualifiers or ((),)
    best = max(alternatives, key=lambda alt: sum(ai in values for ai in alt))
    in_path = [key, *(ai for ai in best if ai in values)]
    uri = stem.rstrip("/") + "".join(f"/{ai}/{percent_encode(values[ai])}" for ai in in_path)
    attributes = [ai for ai in values if ai not in in_path]
    for ai in attributes:
        if not AI_TABLE[ai].dl_attribute:
            raise BadIdentifier(f"AI ({ai}) cannot be carried in a Digital Link URI", ai=ai)
    attributes.sort(key=lambda ai: AI_TABLE[ai].fnc1)
    query = "&".join(f"{ai}={percent_encode(values[ai])}" for ai in attributes)
    return uri + ("?" + query if query else "")
