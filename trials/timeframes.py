"""Outcome time frames as comparable time points: "Week 24" = "24 weeks" = "24 wk" = "day 168"."""

from __future__ import annotations

import re
from fractions import Fraction

#: Each unit with the scale it is measured on and its size there. Days and weeks convert
#: exactly, as do months and years; days and months do not (a month is not a whole number of
#: days), so "6 months" and "26 weeks" stay different time frames.
UNITS: dict[str, tuple[str, int]] = {
    "minute": ("minutes", 1),
    "hour": ("minutes", 60),
    "day": ("days", 1),
    "week": ("days", 7),
    "month": ("months", 1),
    "year": ("months", 12),
}
_UNIT_WORDS = {
    "minute": r"min(?:ute)?s?",
    "hour": r"h(?:ou)?rs?|h",
    "day": r"days?|d",
    "week": r"weeks?|wks?|w",
    "month": r"months?|mos?|mths?|m",
    "year": r"years?|yrs?|y",
}
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "eighteen": 18,
    "twenty-four": 24,
    "thirty-six": 36,
    "forty-eight": 48,
    "fifty-two": 52,
}
_NUM = r"\d+(?:\.\d+)?|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_UNIT = "|".join(f"(?P<{name}>{words})" for name, words in _UNIT_WORDS.items())
_LIST = rf"(?:{_NUM})(?:\s*(?:,|and|or|&)\s*(?:{_NUM}))*"
# "24 weeks", "24-week", "24wk" and "weeks 12 and 24", "Week 24", "week-24".
_AFTER = re.compile(rf"(?<![\w.])(?P<n>{_LIST})\s*-?\s*(?:{_UNIT})(?![a-z])", re.I)
_BEFORE = re.compile(rf"(?<![a-z])(?:{_UNIT})\s*-?\s*(?P<n>{_LIST})(?![\w.])", re.I)
#: Day 0 and day 1 are the baseline a time frame is measured from, not a time of assessment.
_BASELINE = re.compile(r"\b(?:day\s*-?\s*[01]|baseline|randomi[sz]ation|screening)\b", re.I)

Point = tuple[str, Fraction]


def _number(text: str) -> Fraction:
    word = text.lower()
    return Fraction(_NUMBER_WORDS[word]) if word in _NUMBER_WORDS else Fraction(text)


def time_points(text: object) -> frozenset[Point]:
    """The time points a time frame names, each as (scale, amount) in minutes, days or months;
    a baseline (day 0 or 1, baseline, randomisation, screening) is left out. Empty when the text
    names none ("end of study")."""
    if not isinstance(text, str):
        return frozenset()
    rest = _BASELINE.sub(" ", text)
    points: set[Point] = set()
    for pattern in (_BEFORE, _AFTER):
        for match in pattern.finditer(rest):
            unit = next(name for name in UNITS if match.group(name))
            scale, size = UNITS[unit]
            numbers = re.findall(_NUM, match.group("n"), re.I)
            points.update((scale, _number(n) * size) for n in numbers)
        rest = pattern.sub(" ", rest)
    return frozenset(points)


def _text(value: str) -> str:
    return " ".join(value.lower().split())


def same_time_frame(a: object, b: object) -> bool:
    """Whether two time frames name the same time points ("Week 24", "24 weeks", "Day 1 to
    Week 24", "168 days"); text with no time point in it is compared ignoring case and spacing."""
    pa, pb = time_points(a), time_points(b)
    if pa or pb:
        return pa == pb
    return isinstance(a, str) and isinstance(b, str) and _text(a) == _text(b)
