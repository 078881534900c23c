"""GS1 identifiers: check digits and GLNs (the supply-chain identifiers build on this)."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"^\d+$")


def check_digit(digits: str) -> int:
    """GS1 mod-10 check digit of the digits that precede it (weights 3,1,3,... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def is_valid_gln(value: object) -> bool:
    """A GLN is 13 digits whose last digit is the GS1 check digit of the first twelve."""
    return (
        isinstance(value, str)
        and len(value) == 13
        and _DIGITS.match(value) is not None
        and check_digit(value[:12]) == int(value[12])
    )


def with_check_digit(digits: str) -> str:
    return digits + str(check_digit(digits))
