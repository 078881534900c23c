"""How a report's tables read: headers in words, Yes/No, numbers with separators, p-values."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

#: Words kept in capitals wherever they stand in a header.
ACRONYMS = frozenset(
    {"gln", "gtin", "ae", "sae", "id", "epc", "sscc", "nct", "url", "kri", "csv", "tvd", "dm", "sv"}
)
#: Statistical symbols kept in lower case, even first in a header.
SYMBOLS = frozenset({"p", "q", "z", "n", "p90", "p95", "p99"})
#: Headers no rule of words reads well.
HEADERS: Mapping[str, str] = {
    "idx": "Entry",
    "p_value": "p-value",
    "q_value": "q-value",
    "share05": "Share of 0s and 5s",
    "share_pct": "Share (%)",
    **{f"d{digit}": f"Digit {digit}" for digit in range(10)},
}
#: Columns holding identifiers or positions (log entries, rows, versions): no thousands separators.
_IDENTIFIER = re.compile(r"(^|_)(idx|index|seq|row|version|year|site|serial|lot)$")
#: Columns holding p-values or q-values.
_PROBABILITY = re.compile(r"(^|_)(p|q|p_value|q_value|min_p|min_q)$")
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
#: Below this a p-value is written as a power of ten, so 1e-22 and 1e-5 read differently.
SMALL_P = 0.001


def header(name: object, labels: Mapping[str, str] | None = None) -> str:
    """A column's header in words: the table's own label, else `snake_case` → "Sentence case"
    with acronyms (GLN, GTIN, AE, SAE, ID) in capitals and symbols (p, q, z, n) as they are."""
    text = str(name)
    if labels and text in labels:
        return labels[text]
    if text in HEADERS:
        return HEADERS[text]
    words = [w for w in re.split(r"[_\-\s]+", text) if w]
    if not words:
        return text
    shown = []
    for position, word in enumerate(words):
        lower = word.lower()
        if lower in ACRONYMS:
            shown.append(lower.upper())
        elif lower in SYMBOLS or not word.islower():
            shown.append(word)  # a symbol, or a word with capitals of its own (NCT, DM.AGE)
        elif position == 0:
            shown.append(lower.capitalize())
        else:
            shown.append(lower)
    return " ".join(shown)


def power_of_ten(value: float, digits: int = 2) -> str:
    """A number as `1.5 × 10⁻²²` (mantissa of `digits` significant digits)."""
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    mantissa = value / 10**exponent
    if round(abs(mantissa), digits - 1) >= 10:  # 9.99e-5 rounds up to 10 × 10⁻⁵
        mantissa, exponent = mantissa / 10, exponent + 1
    text = f"{mantissa:.{digits - 1}f}".rstrip("0").rstrip(".")
    return f"{text} × 10{str(exponent).translate(_SUPERSCRIPT)}"


def probability(value: float) -> str:
    """A p- or q-value: three significant digits, a power of ten below 0.001."""
    if value != 0 and abs(value) < SMALL_P:
        return power_of_ten(value)
    return _significant(value, 3)


def _significant(value: float, digits: int) -> str:
    """A number with `digits` significant digits, never in e-notation; separators from 1,000."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}" if abs(value) >= 10_000 or value == int(value) else f"{value:,.1f}"
    if abs(value) < 10 ** -(digits + 1):
        return power_of_ten(value)
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def cell(value: Any, column: object = "") -> str:
    """A value as a table shows it: Yes/No, thousands separators, p-values in powers of ten,
    identifiers (entries, rows, sites) without separators, blanks for missing values."""
    name = str(column).lower()
    if value is None or value is pd.NaT or value is pd.NA:
        return ""
    if isinstance(value, bool | np.bool_):
        return "Yes" if value else "No"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "" if str(value) in ("NaT", "<NA>", "nan") else str(value)
    if math.isnan(number):
        return ""
    integral = number == int(number) if math.isfinite(number) else False
    if _IDENTIFIER.search(name):
        return str(int(number)) if integral else str(value)
    if _PROBABILITY.search(name):
        return probability(number)
    if integral and abs(number) < 1e15:
        return f"{int(number):,}"
    return _significant(number, 4)
