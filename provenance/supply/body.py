"""Field checks of supply-chain statement bodies: GTINs, lots, expiry dates, serials, packs."""

from __future__ import annotations

import urllib.parse
from typing import Any

from provenance.gs1 import keys as gs1
from provenance.gs1.errors import BadIdentifier
from provenance.gs1.keys import GTIN, Lot, Serial
from provenance.log.body import count
from provenance.log.errors import BadStatement


def gtin(body: dict[str, Any], field: str = "gtin") -> GTIN:
    value = body.get(field)
    if not isinstance(value, str) or len(value) != 14 or not gs1.is_valid_gtin(value):
        raise BadStatement(f"body.{field} must be a GTIN-14 with a valid check digit")
    return GTIN(value)


def lot(body: dict[str, Any], field: str = "lot") -> Lot:
    value = body.get(field)
    if not gs1.is_valid_lot(value):
        raise BadStatement(f"body.{field} must be 1-20 characters of the GS1 character set 82")
    return Lot(str(value))


def expiry(body: dict[str, Any], field: str = "expiry") -> str:
    value = body.get(field)
    if not isinstance(value, str):
        raise BadStatement(f"body.{field} must be a GS1 date YYMMDD")
    try:
        gs1.parse_expiry(value)
    except BadIdentifier as exc:
        raise BadStatement(f"body.{field}: {exc.detail}") from None
    return value


def serials(body: dict[str, Any], field: str = "serials") -> tuple[Serial, ...]:
    """A list of distinct serials (empty when absent)."""
    value = body.get(field, [])
    if not isinstance(value, list) or not all(gs1.is_valid_serial(s) for s in value):
        raise BadStatement(
            f"body.{field} must be a list of serials (1-20 characters of the GS1 character set 82)"
        )
    if len(set(value)) != len(value):
        raise BadStatement(f"body.{field} lists a serial more than once")
    return tuple(Serial(s) for s in value)


def quantity_or_serials(body: dict[str, Any]) -> tuple[int, tuple[Serial, ...]]:
    """Packs named by count or by serial: (quantity, serials); quantity 0 when only serials."""
    listed = serials(body)
    if "quantity" not in body:
        if not listed:
            raise BadStatement("give body.quantity or body.serials")
        return 0, listed
    return count(body), listed


def web_address(body: dict[str, Any], field: str) -> str | None:
    """An optional https address (a patient leaflet's, say), absent as None: the resolver
    redirects scanners to it, so it is an absolute URL with a host and nothing odd in it."""
    value = body.get(field)
    if value is None:
        return None
    problem = f"body.{field} must be an https:// address of at most 2000 characters"
    if not isinstance(value, str) or len(value) > 2000 or not value.isascii():
        raise BadStatement(problem)
    if any(c.isspace() or not c.isprintable() for c in value):
        raise BadStatement(f"{problem}, without spaces or control characters")
    try:
        url = urllib.parse.urlsplit(value)
    except ValueError:
        raise BadStatement(problem) from None
    if url.scheme != "https" or not url.hostname or url.username or url.password:
        raise BadStatement(f"{problem}, with a host and without user or password")
    return value
