"""Field checks shared by every statement body: members, strings, GLNs, counts."""

from __future__ import annotations

from typing import Any

from provenance.errors import BadIdentifier, BadStatement
from provenance.gs1 import keys as gs1

MAX_QUANTITY = 10**9


def exact_members(body: dict[str, Any], *names: str) -> None:
    if set(body) != set(names):
        raise BadStatement(f"body must have exactly the members {', '.join(sorted(names))}")


def members(body: dict[str, Any], required: set[str], optional: set[str] | None = None) -> None:
    """The body has all of `required`, and nothing outside `required | optional`."""
    allowed = required | (optional or set())
    missing, extra = required - body.keys(), body.keys() - allowed
    if missing or extra:
        raise BadStatement(
            "body members are wrong",
            missing=sorted(missing),
            unexpected=sorted(extra),
            allowed=sorted(allowed),
        )


def text(body: dict[str, Any], field: str, max_len: int = 200) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise BadStatement(f"body.{field} must be a non-empty string of at most {max_len} chars")
    return value


def optional_text(body: dict[str, Any], field: str, max_len: int = 200) -> str | None:
    return None if body.get(field) is None else text(body, field, max_len)


def gln(body: dict[str, Any], field: str = "gln") -> str:
    value = body.get(field)
    if not gs1.is_valid_gln(value):
        raise BadStatement(f"body.{field} must be a 13-digit GLN with a valid check digit")
    return str(value)


def gtin(body: dict[str, Any], field: str = "gtin") -> str:
    value = body.get(field)
    if not isinstance(value, str) or len(value) != 14 or not gs1.is_valid_gtin(value):
        raise BadStatement(f"body.{field} must be a GTIN-14 with a valid check digit")
    return value


def lot(body: dict[str, Any], field: str = "lot") -> str:
    value = body.get(field)
    if not gs1.is_valid_lot(value):
        raise BadStatement(f"body.{field} must be 1-20 characters of the GS1 character set 82")
    return str(value)


def expiry(body: dict[str, Any], field: str = "expiry") -> str:
    value = body.get(field)
    if not isinstance(value, str):
        raise BadStatement(f"body.{field} must be a GS1 date YYMMDD")
    try:
        gs1.parse_expiry(value)
    except BadIdentifier as exc:
        raise BadStatement(f"body.{field}: {exc.detail}") from None
    return value


def count(body: dict[str, Any], field: str = "quantity", *, default: int | None = None) -> int:
    value = body.get(field, default)
    if type(value) is not int or not 0 < value <= MAX_QUANTITY:
        raise BadStatement(f"body.{field} must be an integer from 1 to {MAX_QUANTITY}")
    return value


def serials(body: dict[str, Any], field: str = "serials") -> tuple[str, ...]:
    """A list of distinct serials (empty when absent)."""
    value = body.get(field, [])
    if not isinstance(value, list) or not all(gs1.is_valid_serial(s) for s in value):
        raise BadStatement(
            f"body.{field} must be a list of serials (1-20 characters of the GS1 character set 82)"
        )
    if len(set(value)) != len(value):
        raise BadStatement(f"body.{field} lists a serial more than once")
    return tuple(value)


def quantity_or_serials(body: dict[str, Any]) -> tuple[int, tuple[str, ...]]:
    """Packs named by count or by serial: (quantity, serials); quantity 0 when only serials."""
    listed = serials(body)
    if "quantity" not in body:
        if not listed:
            raise BadStatement("give body.quantity or body.serials")
        return 0, listed
    return count(body), listed
