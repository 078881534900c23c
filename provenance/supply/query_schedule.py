"""EPCIS query schedules (EPCIS §8.2.5.3, REST binding `schedule`): when a subscription runs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from provenance.errors import BadParameter

#: Each field's legal values; a field left out matches any value (times are UTC).
RANGES: dict[str, tuple[int, int]] = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "dayOfMonth": (1, 31),
    "month": (1, 12),
    "dayOfWeek": (1, 7),  # Monday to Sunday
}
# QueryScheduleField ::= Element ("," Element)*; Element ::= Number | "[" Number "-" Number "]"
_ELEMENT = re.compile(r"(\d{1,2})|\[(\d{1,2})-(\d{1,2})\]")
#: A schedule must come round within this many days (no 30 February).
HORIZON_DAYS = 4 * 366 + 1


@dataclass(frozen=True)
class Schedule:
    """The values each field matches."""

    fields: Mapping[str, frozenset[int]]

    def values(self, name: str) -> list[int]:
        low, high = RANGES[name]
        return sorted(self.fields.get(name, range(low, high + 1)))

    def next_after(self, moment: datetime) -> datetime:
        """The first query time after `moment` (to the second)."""
        start = moment.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        day = start.date()
        for _ in range(HORIZON_DAYS):
            if (
                day.day in self.values("dayOfMonth")
                and day.month in self.values("month")
                and day.isoweekday() in self.values("dayOfWeek")
            ):
                found = self._first_on(day, start)
                if found is not None:
                    return found
            day += timedelta(days=1)
        raise BadParameter("this schedule never comes round: no day matches all its fields")

    def _first_on(self, day: date, start: datetime) -> datetime | None:
        # On the start's own day, times before it are skipped a field at a time.
        floor = (start.hour, start.minute, start.second) if day == start.date() else (0, 0, 0)
        for hour in (h for h in self.values("hour") if h >= floor[0]):
            for minute in self.values("minute"):
                if (hour, minute) < floor[:2]:
                    continue
                for second in self.values("second"):
                    if (hour, minute, second) >= floor:
                        return datetime(day.year, day.month, day.day, hour, minute, second, 0, UTC)
        return None


def parse_schedule(value: Any) -> Schedule:
    """A `schedule` object of the REST binding; BadParameter says what is wrong."""
    if not isinstance(value, dict) or not value:
        raise BadParameter(f"a schedule is an object of one or more of {', '.join(RANGES)}")
    unknown = sorted(set(value) - set(RANGES))
    if unknown:
        raise BadParameter(f"unknown schedule fields: {', '.join(unknown)}", fields=unknown)
    fields = {name: _field(name, text) for name, text in value.items()}
    schedule = Schedule(fields)
    schedule.next_after(datetime(2000, 1, 1, tzinfo=UTC))  # refuses a schedule that never runs
    return schedule


def _field(name: str, text: Any) -> frozenset[int]:
    low, high = RANGES[name]
    problem = BadParameter(
        f'schedule {name} is a comma-separated list of numbers {low} to {high} and ranges "[a-b]"',
        field=name,
    )
    if not isinstance(text, str) or len(text) > 200:
        raise problem
    values: set[int] = set()
    for element in text.split(","):
        found = _ELEMENT.fullmatch(element.strip())
        if found is None:
            raise problem
        single, first, last = found.groups()
        a, b = (int(single), int(single)) if single else (int(first), int(last))
        if not low <= a <= b <= high:
            raise problem
        values.update(range(a, b + 1))
    return frozenset(values)
