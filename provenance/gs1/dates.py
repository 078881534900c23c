"""GS1 expiry dates as people read them: `30 Nov 2028`, and how far away they are (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from provenance.gs1.errors import BadIdentifier
from provenance.gs1.keys import parse_expiry

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Expiry:
    """A YYMMDD expiry as printed on the pack, its date and its distance from today."""

    code: str  # as encoded, e.g. "281100"
    date: date  # day 00 is the month's last day (GS1 General Specifications 3.4.8)
    days: int  # from today: negative once expired

    @property
    def text(self) -> str:
        """`30 Nov 2028`: unambiguous whatever the reader's date order."""
        return human_date(self.date)

    @property
    def relative(self) -> str:
        if self.days == 0:
            return "expires today"
        if self.days == 1:
            return "expires tomorrow"
        if self.days > 0:
            return f"expires in {self.days} days"
        ago = -self.days
        return "expired yesterday" if ago == 1 else f"expired {ago} days ago"

    @property
    def expired(self) -> bool:
        # A pack may be used on its expiry date; it is expired from the day after.
        return self.days < 0

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "date": self.date.isoformat(),
            "text": self.text,
            "days": self.days,
            "relative": self.relative,
        }


def human_date(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def expiry(yymmdd: str, today: date) -> Expiry | None:
    """The expiry a YYMMDD code names, or None if it is no valid date."""
    try:
        day = parse_expiry(yymmdd, today=today)
    except BadIdentifier:
        return None
    return Expiry(yymmdd, day, (day - today).days)
