"""Field checks any statement body may use: members, strings, GLNs, counts."""

from __future__ import annotations

from typing import Any

from provenance.gs1 import keys as gs1
from provenance.log.errors import BadStatement

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


def gln(body: dict[str, Any], field: str = "gln") -> gs1.GLN:
    value = body.get(field)
    if not gs1.is_valid_gln(value):
        raise BadStatement(f"body.{field} must be a 13-digit GLN with a valid check digit")
    return gs1.GLN(str(value))


def count(body: dict[str, Any], field: str = "quantity", *, default: int | None = None) -> int:
    value = body.get(field, default)
    if type(value) is not int or not 0 < value <= MAX_QUANTITY:
        raise BadStatement(f"body.{field} must be an integer from 1 to {MAX_QUANTITY}")
    return value
