"""Canonical text of EPCIS values and timestamps in the Event Hash ID pre-hash (CBV 2.0 §8.9.2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from provenance.gs1.epc_uri import normalise_epc_unchecked

__all__ = ["canon", "canon_value", "may_be_number", "utc_millis"]


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
def canon(text: str) -> str:
    """A value's canonical text: CBV web URI, number by value, EPC as canonical DL URI."""
    if "urn:epcglobal:cbv:" in text:
        for urn, web in _CBV_URNS:
            text = text.replace(urn, web)
    if may_be_number(text[:1]):
        text = _canon_number(text)
    # normalise_epc, minus checks moot here: `text` is a str, and no over-long text is an EPC
    return normalise_epc_unchecked(text) or text


def may_be_number(first: str) -> bool:
    """Whether a text starting with `first` may be a number (see canon)."""
    return first.isdigit() or first in "+-.iInN"


def canon_value(text: str) -> str:
    """`canon`, leaving over-long texts (never EPCs) alone and out of its cache."""
    return canon(text) if len(text) < 2048 else text


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
