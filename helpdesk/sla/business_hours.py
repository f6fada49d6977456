"""Business hours: the time an SLA counts in.

A team's calendar (``Team.calendar``) is JSON::

    {"timezone": "Europe/Berlin",
     "hours": {"mon": [["09:00", "17:00"]], "tue": [["09:00", "12:00"], ["13:00", "17:00"]]},
     "holidays": ["2026-12-25", "2026-12-26"]}

Days not listed in ``hours`` are closed; holidays are whole local days off. Hours
are local wall-clock times, so a working day keeps its hours across a daylight
saving change. No calendar at all means around the clock in UTC.

``Calendar.add(start, minutes)`` is the moment ``minutes`` business minutes after
``start``; ``Calendar.minutes_between(a, b)`` the business minutes from a to b.
Both work on aware datetimes and answer in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
MAX_DAYS = 3 * 366  # how far ahead a calendar is searched for open hours
MAX_HOLIDAYS = 500


class CalendarError(ValueError):
    """A calendar that cannot be used; the message says why."""


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def is_time_zone(name: object) -> bool:
    """Whether ``name`` is an IANA time zone of this system's database (looked up in its
    list, never opened as a path: a 5,000-character name raised OSError)."""
    return isinstance(name, str) and name in _zones()


def _minutes(clock: str) -> int:
    """ "09:30" -> 570 (minutes after midnight); "24:00" closes a day."""
    if not isinstance(clock, str) or not _CLOCK.match(clock):
        raise CalendarError(f"{clock!r} is not a time of day like 09:00")
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def validate(data: Any) -> dict[str, Any] | None:
    """A calendar's JSON checked and put in a standard form; CalendarError when wrong."""
    if data is None:
        return None
    if not isinstance(data, dict) or set(data) - {"timezone", "hours", "holidays"}:
        raise CalendarError("a calendar has timezone, hours and holidays")
    zone = data.get("timezone") or "UTC"
    if not is_time_zone(zone):
        shown = repr(zone)[:80]
        raise CalendarError(f"unknown time zone {shown}; an IANA name like Europe/Berlin")
    hours = data.get("hours") or {}
    if not isinstance(hours, dict) or set(hours) - set(DAYS):
        raise CalendarError(f"hours are given per day: {', '.join(DAYS)}")
    clean_hours: dict[str, list[list[str]]] = {}
    for day in DAYS:
        spans = hours.get(day) or []
        if not isinstance(spans, list):
            raise CalendarError(f"{day}: a list of [start, end] pairs")
        clean = []
        for span in spans:
            if not isinstance(span, (list, tuple)) or len(span) != 2:
                raise CalendarError(f"{day}: each span is [start, end]")
            start, end = _minutes(span[0]), _minutes(span[1])
            if end <= start:
                raise CalendarError(f"{day}: {span[0]}-{span[1]} ends before it starts")
            clean.append((start, end))
        clean.sort()
        if any(b[0] < a[1] for a, b in zip(clean, clean[1:], strict=False)):
            raise CalendarError(f"{day}: spans overlap")
        if clean:
            clean_hours[day] = [
                [f"{s // 60:02d}:{s % 60:02d}", f"{e // 60:02d}:{e % 60:02d}"] for s, e in clean
            ]
    if not clean_hours:
        raise CalendarError("a calendar needs open hours on at least one day")
    holidays = data.get("holidays") or []
    if not isinstance(holidays, list) or len(holidays) > MAX_HOLIDAYS:
        raise CalendarError(f"holidays are a list of at most {MAX_HOLIDAYS} dates")
    try:
        days_off = sorted({date.fromisoformat(str(d)).isoformat() for d in holidays})
    except ValueError:
        raise CalendarError("holidays are dates like 2026-12-25") from None
    return {"timezone": zone, "hours": clean_hours, "holidays": days_off}


class Calendar:
    """Open hours in one time zone, with holidays; around the clock when ``hours`` is None."""

    def __init__(
        self,
        zone: str = "UTC",
        hours: dict[str, list[list[str]]] | None = None,
        holidays: Iterable[str] = (),
    ) -> None:
        self.zone = ZoneInfo(zone)
        self.always = hours is None
        self.hours = {
            DAYS.index(day): [(_minutes(s), _minutes(e)) for s, e in spans]
            for day, spans in (hours or {}).items()
        }
        self.holidays = {date.fromisoformat(d) for d in holidays}

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> Calendar:
        """The calendar of a team's stored JSON (None: around the clock)."""
        if not data:
            return ALWAYS
        return cls(
            data.get("timezone") or "UTC", data.get("hours") or {}, data.get("holidays") or ()
        )

    def _local(self, day: date, minute: int) -> datetime:
        """A local wall-clock time on ``day`` (minute 1440 is the next midnight), in UTC."""
        moment = datetime.combine(
            day + timedelta(days=minute // 1440),
            time(minute % 1440 // 60, minute % 60),
            tzinfo=self.zone,
        )
        return moment.astimezone(UTC)

    def spans(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals (UTC) from ``start`` on, the first one clipped to start."""
        day = start.astimezone(self.zone).date() - timedelta(days=1)  # a span may run past 0:00
        for _ in range(MAX_DAYS):
            if day not in self.holidays:
                for open_minute, close_minute in self.hours.get(day.weekday(), ()):
                    opens, closes = self._local(day, open_minute), self._local(day, close_minute)
                    if closes > start:
                        yield max(opens, start), closes
            day += timedelta(days=1)
        raise CalendarError("no open hours in the next three years")

    def add(self, start: datetime, minutes: float) -> datetime:
        """The moment ``minutes`` business minutes after ``start``."""
        start = start.astimezone(UTC)
        if self.always:
            return start + timedelta(minutes=minutes)
        left = timedelta(minutes=minutes)
        for opens, closes in self.spans(start):
            if opens + left <= closes:
                return opens + left
            left -= closes - opens
        raise CalendarError("unreachable")  # pragma: no cover - spans() raises first

    def minutes_between(self, first: datetime, second: datetime) -> float:
        """Business minutes from ``first`` to ``second`` (0 when second is not later)."""
        if second <= first:
            return 0.0
        if self.always:
            return (second - first).total_seconds() / 60
        total = timedelta()
        for opens, closes in self.spans(first.astimezone(UTC)):
            if opens >= second:
                break
            total += min(closes, second) - opens
        return total.total_seconds() / 60


ALWAYS = Calendar()
