"""EventBridge schedule expressions, ``rate(...)``, ``cron(...)`` and ``at(...)``: parse, evaluate.

Standard library only. We do not use croniter: AWS's dialect differs from Vixie cron (day-of-week
1 = SUN, the ``?``/``L``/``W``/``#`` wildcards, a year field).

    schedule = parse("cron(0 9 ? * MON-FRI *)")
    schedule.next_after(now, tz=zone("Europe/Berlin"), anchor=created_at)

Fire times are epoch seconds (whole seconds). ``cron`` and ``at`` fields are wall-clock times in
the schedule's zone; ``rate`` counts elapsed time from the anchor (so ``rate(1 day)`` is always 24
hours, as in EventBridge Scheduler).

Daylight saving, for wall-clock times:

* A time that does not exist (spring forward) fires at the instant it would have had under the
  offset in force before the change: in Europe/Berlin, 02:30 on the spring-forward day fires at
  03:30 CEST. This is how ``zoneinfo`` reads such a time with ``fold=0``. AWS's own scheduler skips
  these instead; we prefer not to lose a daily run.
* A time that happens twice (fall back) fires once, at its first occurrence (``fold=0``).
* Fire times are strictly increasing: when several wall-clock times map to one instant, it fires
  once.

Choices where the AWS documentation is silent: ``L``, ``LW``, ``nW``, ``nL`` and ``n#k`` must stand
alone in their field; ``L-n`` offsets and ``/`` in the day-of-week field are rejected (neither is
documented); ranges must run upwards (``22-2`` is rejected, write ``22-23,0-2``); ``nW`` and plain
days never fire in a month that lacks that day (``31W`` skips April).
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["Schedule", "ScheduleExpressionError", "parse", "upcoming", "zone"]

_LAST_YEAR = 2199
# After this instant no cron() can fire: its year field stops at 2199 whatever the zone.
_END = datetime(_LAST_YEAR + 1, 1, 2, tzinfo=UTC).timestamp()
_DAY = 86_400


class ScheduleExpressionError(ValueError):
    """An expression or time zone that cannot be used; the message is meant for the user."""


class Schedule(Protocol):
    @property
    def expression(self) -> str: ...

    def next_after(self, after: float, *, tz: ZoneInfo, anchor: float) -> float | None:
        """The first fire time (epoch seconds, whole seconds) strictly after `after`, or None.

        `anchor` is when the schedule was created: rate() schedules fire at anchor + k*period
        (k >= 1); cron() and at() ignore it. `tz` is the zone cron/at fields are read in.
        """


def parse(expression: str) -> Schedule:
    """Parse a schedule expression; raises ScheduleExpressionError saying what is wrong."""
    match = re.fullmatch(r"\s*(rate|cron|at)\((.*)\)\s*", expression, re.DOTALL)
    try:
        if match is None:
            raise _Problem("expected rate(value unit), cron(fields) or at(yyyy-mm-ddThh:mm:ss)")
        kind, body = match.group(1), match.group(2).strip()
        if kind == "rate":
            return _parse_rate(expression, body)
        if kind == "cron":
            return _parse_cron(expression, body)
        return _parse_at(expression, body)
    except _Problem as problem:
        message = f"Invalid schedule expression {expression!r}: {problem}"
        raise ScheduleExpressionError(message) from None


def zone(name: str | None) -> ZoneInfo:
    """The IANA zone `name`; None or "" means UTC."""
    try:
        return ZoneInfo(name or "UTC")
    # Keys that are not zone names (a directory, "../x", an absolute path) raise ValueError.
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ScheduleExpressionError(
            f"Invalid time zone {name!r}: expected an IANA name such as 'Europe/Berlin'"
        ) from error


def upcoming(
    schedule: Schedule, after: float, count: int, *, tz: ZoneInfo, anchor: float
) -> list[float]:
    """The next `count` fire times after `after` (fewer if the schedule stops firing)."""
    times: list[float] = []
    while len(times) < count:
        fire = schedule.next_after(after, tz=tz, anchor=anchor)
        if fire is None:
            break
        times.append(fire)
        after = fire
    return times


class _Problem(Exception):
    """What is wrong with an expression; parse() adds the expression itself."""


def _is_number(text: str) -> bool:
    # ASCII digits only (str.isdigit accepts "²"), and short enough that int() cannot refuse it.
    return re.fullmatch(r"[0-9]{1,9}", text) is not None


# -- rate ------------------------------------------------------------------------------------------

_UNIT_SECONDS = {"minute": 60, "hour": 3_600, "day": _DAY}


@dataclass(frozen=True)
class _Rate:
    expression: str
    period: int  # seconds

    def next_after(self, after: float, *, tz: ZoneInfo, anchor: float) -> float | None:
        base = math.floor(anchor)
        # Fire times are whole seconds, so "strictly after `after`" is "after floor(after)".
        k = max(1, (math.floor(after) - base) // self.period + 1)
        return float(base + k * self.period)


def _parse_rate(expression: str, body: str) -> _Rate:
    parts = body.split()
    if len(parts) != 2:
        raise _Problem("rate() takes a value and a unit, e.g. rate(5 minutes)")
    value_text, unit = parts
    if not _is_number(value_text) or int(value_text) == 0:
        raise _Problem(f"rate value {value_text!r} is not a positive integer up to 999999999")
    value = int(value_text)
    singular = unit.removesuffix("s")
    if singular not in _UNIT_SECONDS:
        raise _Problem(f"unknown rate unit {unit!r} (expected minute(s), hour(s) or day(s))")
    # AWS insists on grammatical agreement: rate(1 minute) but rate(5 minutes).
    if value == 1 and unit != singular:
        raise _Problem(f"use {singular!r} (singular) when the value is 1")
    if value != 1 and unit == singular:
        raise _Problem(f"use {singular + 's'!r} (plural) when the value is not 1")
    return _Rate(expression, value * _UNIT_SECONDS[singular])


# -- at --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _At:
    expression: str
    wall: datetime  # naive, read in the zone given to next_after

    def next_after(self, after: float, *, tz: ZoneInfo, anchor: float) -> float | None:
        fire = self.wall.replace(tzinfo=tz).timestamp()
        return fire if fire > after else None


def _parse_at(expression: str, body: str) -> _At:
    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", body) is None:
        raise _Problem("at() takes a date and time as yyyy-mm-ddThh:mm:ss")
    try:
        return _At(expression, datetime.fromisoformat(body))
    except ValueError:
        raise _Problem(f"{body!r} is not a valid date and time") from None


# -- cron ------------------------------------------------------------------------------------------

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # AWS numbers them 1-7 from Sunday
_CRON_FIELDS = "minutes hours day-of-month month day-of-week year"


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[0] is `low`
    steps: bool = True

    def value(self, token: str) -> int:
        if _is_number(token):
            number = int(token)
        elif token.upper() in self.names:
            number = self.low + self.names.index(token.upper())
        else:
            number = -1
        if not self.low <= number <= self.high:
            expected = f"{self.low}-{self.high}"
            if self.names:
                expected += f" or {self.names[0]}-{self.names[-1]}"
            raise _Problem(
                f"{self.name} field: {token!r} is not a valid value (expected {expected})"
            )
        return number

    def values(self, text: str) -> tuple[int, ...]:
        """The sorted values of a field made of `,` lists, `-` ranges, `*` and `/` steps."""
        if "?" in text:
            raise _Problem(f"{self.name} field: '?' is only allowed in the day fields")
        chosen: set[int] = set()
        for item in text.split(","):
            match = re.fullmatch(r"(\*|\w+)(?:-(\w+))?(?:/(\w+))?", item)
            if match is None:
                raise _Problem(f"{self.name} field: {item!r} is malformed")
            start, end, step = match.groups()
            if step is not None and not self.steps:
                raise _Problem(f"{self.name} field: '/' is not allowed here")
            if start == "*" and end is not None:
                raise _Problem(f"{self.name} field: {item!r} is malformed")
            low = self.low if start == "*" else self.value(start)
            # "5/15" means from 5 to the end of the field; a bare "5" is just 5.
            high = self.value(end) if end else (self.high if start == "*" or step else low)
            if low > high:
                raise _Problem(f"{self.name} field: range {item!r} runs backwards")
            span = self.high - self.low + 1
            increment = 1 if step is None else (int(step) if _is_number(step) else 0)
            if not 1 <= increment <= span:
                raise _Problem(f"{self.name} field: step {step!r} is not a number 1-{span}")
            chosen.update(range(low, high + 1, increment))
        return tuple(sorted(chosen))


_MINUTES = _Field("minutes", 0, 59)
_HOURS = _Field("hours", 0, 23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, _MONTHS)
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, _WEEKDAYS, steps=False)
_YEAR = _Field("year", 1970, _LAST_YEAR)

_DayKind = Literal["days", "weekdays", "last", "last_weekday", "nearest_weekday", "last_of", "nth"]


def _aws_weekday(year: int, month: int, day: int) -> int:
    # calendar counts Monday=0..Sunday=6; AWS counts Sunday=1..Saturday=7.
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, day: int) -> int:
    """Monday-Friday closest to `day`, staying inside the month (AWS's `W`)."""
    weekday, length = _aws_weekday(year, month, day), calendar.monthrange(year, month)[1]
    if weekday == 7:  # Saturday: Friday before, unless that is last month
        return day - 1 if day > 1 else day + 2
    if weekday == 1:  # Sunday: Monday after, unless that is next month
        return day + 1 if day < length else day - 2
    return day


@dataclass(frozen=True)
class _Days:
    """The day-of-month or day-of-week rule (whichever is not '?') as days of a given month."""

    kind: _DayKind
    values: tuple[int, ...] = ()  # days of the month, or AWS weekdays
    n: int = 0  # the day for nearest_weekday; the weekday for last_of and nth
    nth: int = 0

    def in_month(self, year: int, month: int) -> list[int]:
        length = calendar.monthrange(year, month)[1]
        first = _aws_weekday(year, month, 1)
        match self.kind:
            case "days":
                return [day for day in self.values if day <= length]
            case "weekdays":
                weekdays = set(self.values)
                days = range(1, length + 1)
                return [day for day in days if (first + day - 2) % 7 + 1 in weekdays]
            case "last":
                return [length]
            case "last_weekday":
                return [_nearest_weekday(year, month, length)]
            case "nearest_weekday":
                return [_nearest_weekday(year, month, self.n)] if self.n <= length else []
            case "last_of":
                last = _aws_weekday(year, month, length)
                return [length - (last - self.n) % 7]
            case "nth":
                day = 1 + (self.n - first) % 7 + 7 * (self.nth - 1)
                return [day] if day <= length else []


def _parse_day_of_month(text: str) -> _Days | None:
    token = text.upper()
    if token == "?":
        return None
    if token == "L":
        return _Days("last")
    if token == "LW":
        return _Days("last_weekday")
    if re.fullmatch(r"L-\d+", token):
        raise _Problem("day-of-month field: offsets from the last day (L-n) are not supported")
    if match := re.fullmatch(r"(\d+)W", token):
        return _Days("nearest_weekday", n=_DAY_OF_MONTH.value(match.group(1)))
    if "L" in token or "W" in token:
        raise _Problem("day-of-month field: 'L', 'LW' and 'nW' must stand alone")
    return _Days("days", _DAY_OF_MONTH.values(text))


def _parse_day_of_week(text: str) -> _Days | None:
    token = text.upper()
    if token == "?":
        return None
    if token == "L":  # the last day of the week
        return _Days("weekdays", (7,))
    if match := re.fullmatch(r"(\w+)L", token):
        return _Days("last_of", n=_DAY_OF_WEEK.value(match.group(1)))
    if match := re.fullmatch(r"(\w+)#(\d+)", token):
        nth = int(match.group(2))
        if not 1 <= nth <= 5:
            raise _Problem(f"day-of-week field: in {text!r} the week must be 1-5")
        return _Days("nth", n=_DAY_OF_WEEK.value(match.group(1)), nth=nth)
    if "#" in token:
        raise _Problem(f"day-of-week field: {text!r} is malformed ('n#k' stands alone, e.g. 3#2)")
    if "L" in token:
        raise _Problem("day-of-week field: 'L' and 'nL' must stand alone")
    return _Days("weekdays", _DAY_OF_WEEK.values(text))


@dataclass(frozen=True)
class _Cron:
    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: _Days
    months: tuple[int, ...]
    years: tuple[int, ...]

    def next_after(self, after: float, *, tz: ZoneInfo, anchor: float) -> float | None:
        if after >= _END:
            return None
        best: float | None = None
        best_wall = datetime.max
        for wall in self._walls(_scan_start(max(after, -2 * _DAY), tz)):
            # Past the wall-clock reading of the best instant, later walls map to later instants;
            # before it, a wall in a spring-forward gap may map later than one after the gap.
            if wall >= best_wall:
                break
            fire = wall.replace(tzinfo=tz).timestamp()
            if fire > after and (best is None or fire < best):
                best = fire
                best_wall = datetime.fromtimestamp(fire, tz).replace(tzinfo=None)
        return best

    def _walls(self, start: datetime) -> Iterator[datetime]:
        """Matching wall-clock times from `start` on, in order, day by day."""
        start_day = (start.year, start.month, start.day)
        start_hour = (*start_day, start.hour)
        for year in self.years:
            for month in self.months:
                if (year, month) < start_day[:2]:
                    continue
                for day in self.days.in_month(year, month):
                    if (year, month, day) < start_day:
                        continue
                    for hour in self.hours:
                        if (year, month, day, hour) < start_hour:
                            continue
                        for minute in self.minutes:
                            wall = datetime(year, month, day, hour, minute)
                            if wall >= start:
                                yield wall


def _scan_start(after: float, tz: ZoneInfo) -> datetime:
    """A wall-clock time no later than any that can fire after `after`.

    A wall time inside a spring-forward gap fires later than it reads, so read `after` with the
    offset of a day earlier as well and start from the earlier of the two readings.
    """
    local = datetime.fromtimestamp(after, tz)
    earlier_offset = datetime.fromtimestamp(after - _DAY, tz).utcoffset() or timedelta()
    shifted = datetime.fromtimestamp(after, UTC) + earlier_offset
    start = min(local.replace(tzinfo=None), shifted.replace(tzinfo=None))
    return start.replace(second=0, microsecond=0)


def _parse_cron(expression: str, body: str) -> _Cron:
    fields = body.split()
    if len(fields) != 6:
        raise _Problem(f"cron() needs 6 fields ({_CRON_FIELDS}), got {len(fields)}")
    minutes, hours, day_of_month, month, day_of_week, year = fields
    by_month = _parse_day_of_month(day_of_month)
    by_week = _parse_day_of_week(day_of_week)
    if by_month is not None and by_week is not None:
        raise _Problem("specify '?' in either the day-of-month or the day-of-week field")
    days = by_month or by_week
    if days is None:
        raise _Problem("use '?' in only one of the day-of-month and day-of-week fields")
    return _Cron(
        expression,
        minutes=_MINUTES.values(minutes),
        hours=_HOURS.values(hours),
        days=days,
        months=_MONTH.values(month),
        years=_YEAR.values(year),
    )
