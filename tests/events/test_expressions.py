from __future__ import annotations

import calendar
import itertools
from datetime import datetime

import pytest

from gureum.events.expressions import ScheduleExpressionError, parse, upcoming, zone


def epoch(text: str, tz: str = "UTC") -> float:
    """Epoch seconds of a wall-clock time in `tz` (fold=0, like the module)."""
    return datetime.fromisoformat(text).replace(tzinfo=zone(tz)).timestamp()


def fires(
    expression: str, after: str, count: int, tz: str = "UTC", anchor: float = 0.0
) -> list[str]:
    """The next fire times as ISO strings with the zone's offset, which makes DST visible."""
    times = upcoming(parse(expression), epoch(after, tz), count, tz=zone(tz), anchor=anchor)
    return [datetime.fromtimestamp(t, zone(tz)).isoformat(timespec="minutes") for t in times]


def days(expression: str, after: str, count: int) -> list[str]:
    return [f[:10] for f in fires(expression, after, count)]


def error(expression: str) -> str:
    with pytest.raises(ScheduleExpressionError) as caught:
        parse(expression)
    return str(caught.value)


# -- rate ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "period"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3_600),
        ("rate(12 hours)", 43_200),
        ("rate(1 day)", 86_400),
        ("rate(7 days)", 604_800),
    ],
)
def test_rate_fires_one_period_after_the_anchor(expression: str, period: int) -> None:
    anchor = 1_800_000_000.0
    schedule = parse(expression)
    assert schedule.expression == expression
    assert schedule.next_after(anchor, tz=zone(None), anchor=anchor) == anchor + period


def test_rate_fires_on_the_anchor_grid_strictly_after() -> None:
    schedule, utc, anchor = parse("rate(5 minutes)"), zone(None), 1_000.0
    assert schedule.next_after(anchor + 3 * 300 + 10, tz=utc, anchor=anchor) == anchor + 4 * 300
    assert schedule.next_after(anchor + 4 * 300, tz=utc, anchor=anchor) == anchor + 5 * 300
    assert schedule.next_after(anchor + 4 * 300 - 0.5, tz=utc, anchor=anchor) == anchor + 4 * 300
    # Before the anchor (a clock that went backwards) the first fire is still anchor + period.
    assert schedule.next_after(0.0, tz=utc, anchor=anchor) == anchor + 300


def test_rate_fire_times_are_whole_seconds() -> None:
    assert parse("rate(1 minute)").next_after(100.0, tz=zone(None), anchor=99.75) == 159.0


def test_rate_day_is_24_hours_across_dst() -> None:
    # Elapsed time, not wall-clock: across Berlin's spring-forward the local time shifts an hour.
    assert fires(
        "rate(1 day)",
        "2026-03-28T12:00",
        2,
        "Europe/Berlin",
        anchor=epoch("2026-03-28T12:00", "Europe/Berlin"),
    ) == ["2026-03-29T13:00+02:00", "2026-03-30T13:00+02:00"]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("rate(1 minutes)", "use 'minute' (singular) when the value is 1"),
        ("rate(5 minute)", "use 'minutes' (plural) when the value is not 1"),
        ("rate(2 day)", "use 'days' (plural)"),
        ("rate(0 minutes)", "rate value '0' is not a positive integer"),
        ("rate(-5 minutes)", "rate value '-5' is not a positive integer"),
        ("rate(1.5 hours)", "rate value '1.5' is not a positive integer"),
        ("rate(5 weeks)", "unknown rate unit 'weeks' (expected minute(s), hour(s) or day(s))"),
        ("rate(5 Minutes)", "unknown rate unit 'Minutes'"),
        ("rate(5)", "rate() takes a value and a unit, e.g. rate(5 minutes)"),
        ("rate(5 minutes now)", "rate() takes a value and a unit"),
    ],
)
def test_rate_errors(expression: str, message: str) -> None:
    text = error(expression)
    assert text.startswith(f"Invalid schedule expression {expression!r}: ")
    assert message in text


@pytest.mark.parametrize(
    "expression", ["", "every 5 minutes", "rate 5 minutes", "cron(0 12 * * ? *"]
)
def test_unknown_expression_kind(expression: str) -> None:
    assert "expected rate(value unit), cron(fields) or at(yyyy-mm-ddThh:mm:ss)" in error(expression)


# -- cron: fields ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        (
            "cron(0 12 * * ? *)",
            "2026-01-01T12:00",
            ["2026-01-02T12:00+00:00", "2026-01-03T12:00+00:00"],
        ),
        (
            "cron(0,30 9-10 * * ? *)",
            "2026-01-01T00:00",
            [
                "2026-01-01T09:00+00:00",
                "2026-01-01T09:30+00:00",
                "2026-01-01T10:00+00:00",
                "2026-01-01T10:30+00:00",
                "2026-01-02T09:00+00:00",
            ],
        ),
        (
            "cron(0/15 * * * ? *)",
            "2026-01-01T00:00",
            [
                "2026-01-01T00:15+00:00",
                "2026-01-01T00:30+00:00",
                "2026-01-01T00:45+00:00",
                "2026-01-01T01:00+00:00",
            ],
        ),
        (
            "cron(*/20 * * * ? *)",
            "2026-01-01T00:50",
            ["2026-01-01T01:00+00:00", "2026-01-01T01:20+00:00", "2026-01-01T01:40+00:00"],
        ),
        (
            "cron(5-30/10 * * * ? *)",
            "2026-01-01T00:00",
            [
                "2026-01-01T00:05+00:00",
                "2026-01-01T00:15+00:00",
                "2026-01-01T00:25+00:00",
                "2026-01-01T01:05+00:00",
            ],
        ),
        (
            "cron(1/10 * * * ? *)",  # the AWS docs' example: minutes 1, 11, 21, ...
            "2026-01-01T00:40",
            ["2026-01-01T00:41+00:00", "2026-01-01T00:51+00:00", "2026-01-01T01:01+00:00"],
        ),
    ],
)
def test_cron_lists_ranges_and_steps(expression: str, after: str, expected: list[str]) -> None:
    assert fires(expression, after, len(expected)) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # 2026-01-01 is a Thursday.
        ("cron(0 10 ? * MON-FRI *)", ["2026-01-01", "2026-01-02", "2026-01-05", "2026-01-06"]),
        ("cron(0 10 ? * mon,Wed,FRI *)", ["2026-01-02", "2026-01-05", "2026-01-07"]),
        ("cron(0 10 ? * 1 *)", ["2026-01-04", "2026-01-11"]),  # 1 is Sunday
        ("cron(0 10 ? * SUN *)", ["2026-01-04", "2026-01-11"]),
        ("cron(0 10 ? * 7 *)", ["2026-01-03", "2026-01-10"]),  # 7 is Saturday
        ("cron(0 10 ? * * *)", ["2026-01-01", "2026-01-02"]),
        ("cron(0 10 1 JAN,jul ? *)", ["2026-01-01", "2026-07-01", "2027-01-01"]),
        ("cron(0 10 1 MAR-MAY ? *)", ["2026-03-01", "2026-04-01", "2026-05-01", "2027-03-01"]),
        ("cron(0 10 1 */4 ? *)", ["2026-01-01", "2026-05-01", "2026-09-01", "2027-01-01"]),
        ("cron(0 10 1-3/2 * ? *)", ["2026-01-01", "2026-01-03", "2026-02-01"]),
        ("cron(0 10 31 * ? *)", ["2026-01-31", "2026-03-31", "2026-05-31", "2026-07-31"]),
        ("cron(0 10 29 2 ? *)", ["2028-02-29", "2032-02-29"]),
    ],
)
def test_cron_days_months_and_names(expression: str, expected: list[str]) -> None:
    assert days(expression, "2026-01-01T00:00", len(expected)) == expected


def test_cron_skips_2100_which_is_not_a_leap_year() -> None:
    assert days("cron(0 0 29 2 ? *)", "2096-03-01T00:00", 2) == ["2104-02-29", "2108-02-29"]


# -- cron: L, W, # ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cron(0 10 L * ? *)", ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]),
        # Last weekday: Jan 31 and Feb 28 are Saturdays, May 31 a Sunday.
        ("cron(0 10 LW * ? *)", ["2026-01-30", "2026-02-27", "2026-03-31", "2026-04-30"]),
        # Feb 15 and Mar 15 are Sundays: the Monday after.
        ("cron(0 10 15W * ? *)", ["2026-01-15", "2026-02-16", "2026-03-16", "2026-04-15"]),
        # Last Thursday of the month.
        ("cron(0 10 ? * 5L *)", ["2026-01-29", "2026-02-26", "2026-03-26", "2026-04-30"]),
        ("cron(0 10 ? * THUL *)", ["2026-01-29", "2026-02-26"]),
        # Second Tuesday.
        ("cron(0 10 ? * 3#2 *)", ["2026-01-13", "2026-02-10", "2026-03-10", "2026-04-14"]),
        ("cron(0 10 ? * MON#1 *)", ["2026-01-05", "2026-02-02", "2026-03-02"]),
        # Fifth Friday: only months that have one.
        ("cron(0 10 ? * 6#5 *)", ["2026-01-30", "2026-05-29", "2026-07-31"]),
        # L alone in day-of-week is the last day of the week, Saturday.
        ("cron(0 10 ? * L *)", ["2026-01-03", "2026-01-10"]),
    ],
)
def test_cron_special_day_wildcards(expression: str, expected: list[str]) -> None:
    assert days(expression, "2026-01-01T00:00", len(expected)) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cron(0 10 1W 8 ? *)", ["2026-08-03"]),  # Sat Aug 1: not back into July
        ("cron(0 10 15W 8 ? *)", ["2026-08-14"]),  # Sat Aug 15: the Friday before
        ("cron(0 10 31W 5 ? *)", ["2026-05-29"]),  # Sun May 31: not on into June
        ("cron(0 10 31W * ? *)", ["2026-01-30", "2026-03-31", "2026-05-29"]),  # no 31st: no fire
        ("cron(0 10 LW 5 ? *)", ["2026-05-29"]),
    ],
)
def test_cron_nearest_weekday_stays_in_the_month(expression: str, expected: list[str]) -> None:
    assert days(expression, "2026-01-01T00:00", len(expected)) == expected


def _weekdays_of(year: int, month: int, weekday: int) -> list[int]:
    return [week[weekday] for week in calendar.monthcalendar(year, month) if week[weekday]]


@pytest.mark.parametrize("year", [2026, 2027, 2028])
def test_cron_special_days_agree_with_calendar(year: int) -> None:
    start = f"{year - 1}-12-31T23:59"
    last_thursdays = days("cron(0 0 ? * 5L *)", start, 12)
    second_tuesdays = days("cron(0 0 ? * 3#2 *)", start, 12)
    last_weekdays = days("cron(0 0 LW * ? *)", start, 12)
    for month in range(1, 13):
        assert (
            last_thursdays[month - 1] == f"{year}-{month:02}-{_weekdays_of(year, month, 3)[-1]:02}"
        )
        assert (
            second_tuesdays[month - 1] == f"{year}-{month:02}-{_weekdays_of(year, month, 1)[1]:02}"
        )
        weekdays = [d for w in range(5) for d in _weekdays_of(year, month, w)]
        assert last_weekdays[month - 1] == f"{year}-{month:02}-{max(weekdays):02}"


# -- cron: year field and never-matching -----------------------------------------------------------


def test_cron_year_range_then_stops() -> None:
    assert days("cron(0 0 1 1 ? 2027-2028)", "2026-01-01T00:00", 5) == ["2027-01-01", "2028-01-01"]


def test_cron_year_step() -> None:
    assert days("cron(0 0 1 1 ? 2030/10)", "2026-01-01T00:00", 3) == [
        "2030-01-01",
        "2040-01-01",
        "2050-01-01",
    ]


def test_cron_stops_after_2199() -> None:
    assert days("cron(0 0 1 1 ? *)", "2198-06-01T00:00", 3) == ["2199-01-01"]
    assert (
        parse("cron(0 0 * * ? *)").next_after(epoch("2250-01-01T00:00"), tz=zone(None), anchor=0)
        is None
    )


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 0 30 2 ? *)",
        "cron(0 0 31 4,6,9,11 ? *)",
        "cron(0 0 * * ? 2020)",
        "cron(0 0 ? FEB MON#5 2026)",  # February 2026 has four of every weekday
    ],
)
def test_cron_that_never_matches_returns_none(expression: str) -> None:
    assert parse(expression).next_after(epoch("2026-01-01T00:00"), tz=zone(None), anchor=0) is None


# -- cron: the '?' rule and errors -----------------------------------------------------------------


@pytest.mark.parametrize("expression", ["cron(0 12 * * * *)", "cron(0 12 1 * MON *)"])
def test_cron_needs_a_question_mark(expression: str) -> None:
    assert error(expression) == (
        f"Invalid schedule expression {expression!r}: "
        "specify '?' in either the day-of-month or the day-of-week field"
    )


def test_cron_question_mark_in_both_day_fields() -> None:
    assert "use '?' in only one of the day-of-month and day-of-week fields" in error(
        "cron(0 12 ? * ? *)"
    )


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "cron(0 12 * * ?)",
            "cron() needs 6 fields (minutes hours day-of-month month day-of-week year), got 5",
        ),
        ("cron(0 12 * * ? * *)", "got 7"),
        ("cron()", "got 0"),
        ("cron(60 12 * * ? *)", "minutes field: '60' is not a valid value (expected 0-59)"),
        ("cron(0 24 * * ? *)", "hours field: '24' is not a valid value (expected 0-23)"),
        ("cron(0 0 32 * ? *)", "day-of-month field: '32' is not a valid value (expected 1-31)"),
        ("cron(0 0 1 13 ? *)", "month field: '13' is not a valid value (expected 1-12 or JAN-DEC)"),
        ("cron(0 0 1 JANUARY ? *)", "month field: 'JANUARY'"),
        (
            "cron(0 0 ? * 8 *)",
            "day-of-week field: '8' is not a valid value (expected 1-7 or SUN-SAT)",
        ),
        ("cron(0 0 1 1 ? 1969)", "year field: '1969' is not a valid value (expected 1970-2199)"),
        ("cron(? 12 * * ? *)", "minutes field: '?' is only allowed in the day fields"),
        ("cron(0/0 * * * ? *)", "minutes field: step '0' is not a number 1-60"),
        ("cron(1-2-3 * * * ? *)", "minutes field: '1-2-3' is malformed"),
        ("cron(*-5 * * * ? *)", "minutes field: '*-5' is malformed"),
        ("cron(1,,2 * * * ? *)", "minutes field: '' is malformed"),
        ("cron(30-10 * * * ? *)", "minutes field: range '30-10' runs backwards"),
        ("cron(0 0 ? * 1/2 *)", "day-of-week field: '/' is not allowed here"),
        ("cron(0 0 L-3 * ? *)", "offsets from the last day (L-n) are not supported"),
        ("cron(0 0 1,L * ? *)", "day-of-month field: 'L', 'LW' and 'nW' must stand alone"),
        ("cron(0 0 40W * ? *)", "day-of-month field: '40'"),
        ("cron(0 0 ? * 3#6 *)", "day-of-week field: in '3#6' the week must be 1-5"),
        ("cron(0 0 ? * 3#1,6#3 *)", "day-of-week field: '3#1,6#3' is malformed"),
        ("cron(0 0 ? * 9L *)", "day-of-week field: '9'"),
        ("cron(0 0 ? * 2,L *)", "day-of-week field: 'L' and 'nL' must stand alone"),
    ],
)
def test_cron_errors_name_the_field_and_problem(expression: str, message: str) -> None:
    text = error(expression)
    assert text.startswith(f"Invalid schedule expression {expression!r}: ")
    assert message in text


# -- at --------------------------------------------------------------------------------------------


def test_at_fires_once_in_its_zone() -> None:
    schedule, berlin = parse("at(2026-12-01T10:00:00)"), zone("Europe/Berlin")
    fire = epoch("2026-12-01T09:00")  # 10:00 CET is 09:00 UTC
    assert schedule.next_after(fire - 1, tz=berlin, anchor=0) == fire
    assert schedule.next_after(fire, tz=berlin, anchor=0) is None
    assert schedule.next_after(fire + 3_600, tz=berlin, anchor=0) is None
    assert fires("at(2026-12-01T10:00:00)", "2026-01-01T00:00", 3, "Europe/Berlin") == [
        "2026-12-01T10:00+01:00"
    ]


def test_at_in_a_spring_forward_gap_fires_after_the_gap() -> None:
    assert fires("at(2026-03-29T02:30:00)", "2026-03-29T00:00", 1, "Europe/Berlin") == [
        "2026-03-29T03:30+02:00"
    ]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("at(2026-12-01 10:00:00)", "at() takes a date and time as yyyy-mm-ddThh:mm:ss"),
        ("at(2026-12-01T10:00)", "at() takes a date and time as yyyy-mm-ddThh:mm:ss"),
        ("at(2026-12-01)", "at() takes a date and time"),
        ("at(2026-02-30T10:00:00)", "'2026-02-30T10:00:00' is not a valid date and time"),
        ("at(2026-12-01T25:00:00)", "is not a valid date and time"),
    ],
)
def test_at_errors(expression: str, message: str) -> None:
    assert message in error(expression)


# -- time zones and daylight saving ----------------------------------------------------------------


def test_zone_defaults_to_utc() -> None:
    assert zone(None).key == "UTC"
    assert zone("").key == "UTC"
    assert zone("America/New_York").key == "America/New_York"


@pytest.mark.parametrize("name", ["Mars/Olympus", "Europe", "../etc/passwd", "/etc/localtime"])
def test_unknown_zone(name: str) -> None:
    with pytest.raises(ScheduleExpressionError, match="Invalid time zone"):
        zone(name)


def test_cron_reads_wall_clock_in_the_zone() -> None:
    assert fires("cron(0 12 * * ? *)", "2026-03-27T13:00", 3, "Europe/Berlin") == [
        "2026-03-28T12:00+01:00",
        "2026-03-29T12:00+02:00",
        "2026-03-30T12:00+02:00",
    ]


def test_berlin_spring_forward_time_fires_after_the_gap() -> None:
    # 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
    assert fires("cron(30 2 * * ? *)", "2026-03-28T12:00", 3, "Europe/Berlin") == [
        "2026-03-29T03:30+02:00",
        "2026-03-30T02:30+02:00",
        "2026-03-31T02:30+02:00",
    ]


def test_spring_forward_fire_is_found_from_inside_the_shifted_hour() -> None:
    after = epoch("2026-03-29T03:10", "Europe/Berlin")
    fire = parse("cron(30 2 * * ? *)").next_after(after, tz=zone("Europe/Berlin"), anchor=0)
    assert fire == epoch("2026-03-29T01:30")


def test_berlin_fall_back_time_fires_once() -> None:
    # 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice, it fires at the first.
    assert fires("cron(30 2 * * ? *)", "2026-10-24T12:00", 2, "Europe/Berlin") == [
        "2026-10-25T02:30+02:00",
        "2026-10-26T02:30+01:00",
    ]


def test_new_york_spring_forward_every_half_hour() -> None:
    # 2026-03-08: 02:00 EST jumps to 03:00 EDT; the wall times of the gap fold onto real ones.
    assert fires("cron(*/30 * * * ? *)", "2026-03-08T01:00", 5, "America/New_York") == [
        "2026-03-08T01:30-05:00",
        "2026-03-08T03:00-04:00",
        "2026-03-08T03:30-04:00",
        "2026-03-08T04:00-04:00",
        "2026-03-08T04:30-04:00",
    ]


def test_new_york_fall_back_every_half_hour_skips_the_repeated_hour() -> None:
    # 2026-11-01: 02:00 EDT falls back to 01:00 EST.
    assert fires("cron(*/30 * * * ? *)", "2026-11-01T00:00", 5, "America/New_York") == [
        "2026-11-01T00:30-04:00",
        "2026-11-01T01:00-04:00",
        "2026-11-01T01:30-04:00",
        "2026-11-01T02:00-05:00",
        "2026-11-01T02:30-05:00",
    ]


def test_half_hour_gap_keeps_fire_times_in_order() -> None:
    # Lord Howe Island jumps 30 minutes (02:00 -> 02:30) on 2026-10-04: 02:20 becomes 02:50, which
    # is after the real 02:40, and neither may be lost.
    assert fires("cron(20,40 2 * * ? *)", "2026-10-03T12:00", 3, "Australia/Lord_Howe") == [
        "2026-10-04T02:40+11:00",
        "2026-10-04T02:50+11:00",
        "2026-10-05T02:20+11:00",
    ]


@pytest.mark.parametrize(
    ("expression", "tz", "after"),
    [
        ("cron(*/7 * * * ? *)", "America/New_York", "2026-03-07T20:00"),
        ("cron(*/7 * * * ? *)", "America/New_York", "2026-10-31T20:00"),
        ("cron(0,15,30,45 1-3 * * ? *)", "Europe/Berlin", "2026-03-27T00:00"),
        ("cron(0,15,30,45 1-3 * * ? *)", "Europe/Berlin", "2026-10-23T00:00"),
        ("cron(10,50 2 * * ? *)", "Australia/Lord_Howe", "2026-04-01T00:00"),
        ("rate(7 minutes)", "Europe/Berlin", "2026-03-29T00:00"),
    ],
)
def test_fire_times_strictly_increase_in_whole_seconds(
    expression: str, tz: str, after: str
) -> None:
    times = upcoming(parse(expression), epoch(after, tz), 300, tz=zone(tz), anchor=epoch(after, tz))
    assert len(times) == 300
    assert all(later > earlier for earlier, later in itertools.pairwise(times))
    assert all(t == int(t) for t in times)


# -- upcoming and the anchor -----------------------------------------------------------------------


def test_upcoming_counts() -> None:
    schedule, utc = parse("rate(1 hour)"), zone(None)
    assert upcoming(schedule, 0.0, 3, tz=utc, anchor=0.0) == [3_600.0, 7_200.0, 10_800.0]
    assert upcoming(schedule, 0.0, 0, tz=utc, anchor=0.0) == []
    assert upcoming(parse("at(1970-01-02T00:00:00)"), 0.0, 5, tz=utc, anchor=0.0) == [86_400.0]


def test_cron_ignores_the_anchor() -> None:
    schedule, after = parse("cron(0 12 * * ? *)"), epoch("2026-01-01T00:00")
    assert schedule.next_after(after, tz=zone(None), anchor=0) == schedule.next_after(
        after, tz=zone(None), anchor=after - 17
    )


def test_cron_after_a_fraction_of_a_second() -> None:
    fire = epoch("2026-01-01T12:00")
    schedule = parse("cron(0 12 * * ? *)")
    assert schedule.next_after(fire - 0.5, tz=zone(None), anchor=0) == fire
    assert schedule.next_after(fire + 0.5, tz=zone(None), anchor=0) == fire + 86_400
