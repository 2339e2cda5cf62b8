"""Schedules: windows across midnight belong to the day they start; DST in Europe/London."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.config import ScheduleWindow
from app.rules import Schedule, in_schedule, is_active

LONDON = ZoneInfo("Europe/London")


def window(start: str, end: str, days: list[str] | None = None) -> ScheduleWindow:
    data: dict[str, object] = {"from": start, "to": end}
    if days is not None:
        data["days"] = days
    return ScheduleWindow.model_validate(data)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


# 2026-11-23 is a Monday; 2026-11-22 a Sunday.
NIGHTS = [window("22:00", "06:30", ["mon"])]


@pytest.mark.parametrize(
    ("when", "active"),
    [
        (datetime(2026, 11, 23, 23, 0), True),  # Mon 23:00
        (datetime(2026, 11, 24, 3, 0), True),  # Tue 03:00: Monday's window, after midnight
        (datetime(2026, 11, 24, 7, 0), False),  # Tue 07:00: over
        (datetime(2026, 11, 22, 23, 0), False),  # Sun 23:00: Sunday is not listed
        (datetime(2026, 11, 23, 3, 0), False),  # Mon 03:00 would be Sunday's window
        (datetime(2026, 11, 24, 23, 0), False),  # Tue 23:00: Tuesday is not listed
        (datetime(2026, 11, 23, 21, 59), False),
        (datetime(2026, 11, 23, 22, 0), True),  # from is inclusive
        (datetime(2026, 11, 24, 6, 29), True),
        (datetime(2026, 11, 24, 6, 30), False),  # to is exclusive
        (datetime(2026, 11, 24, 0, 0), True),
    ],
)
def test_window_across_midnight_belongs_to_its_start_day(when: datetime, active: bool) -> None:
    assert in_schedule(NIGHTS, when) is active
    assert in_schedule(NIGHTS, when.replace(tzinfo=LONDON)) is active  # aware or naive: the reading counts


def test_daytime_window_and_end_of_day() -> None:
    weekdays = [window("09:00", "17:00", ["mon", "tue", "wed", "thu", "fri"])]
    assert in_schedule(weekdays, datetime(2026, 11, 24, 12, 0))
    assert not in_schedule(weekdays, datetime(2026, 11, 22, 12, 0))  # Sunday
    assert not in_schedule(weekdays, datetime(2026, 11, 24, 17, 0))
    evening = [window("18:00", "24:00")]  # every day by default
    assert in_schedule(evening, datetime(2026, 11, 22, 23, 59))
    assert not in_schedule(evening, datetime(2026, 11, 23, 0, 0))
    assert not in_schedule(evening, datetime(2026, 11, 22, 17, 59))


def test_any_window_opens_the_schedule() -> None:
    windows = [window("06:00", "07:00", ["sat"]), window("22:00", "02:00", ["fri"])]
    assert in_schedule(windows, datetime(2026, 11, 28, 6, 30))  # Sat morning
    assert in_schedule(windows, datetime(2026, 11, 28, 1, 0))  # Fri night, after midnight
    assert not in_schedule(windows, datetime(2026, 11, 28, 3, 0))
    assert not in_schedule(windows, datetime(2026, 11, 29, 1, 0))  # Sat night: not listed


def test_sunday_window_runs_into_monday() -> None:
    sunday = [window("23:00", "01:00", ["sun"])]
    assert in_schedule(sunday, datetime(2026, 11, 23, 0, 30))  # Monday 00:30
    assert not in_schedule(sunday, datetime(2026, 11, 24, 0, 30))  # Tuesday 00:30


def test_is_active_uses_local_wall_time() -> None:
    evening = [window("22:00", "23:00")]
    # Winter: London is UTC. Summer: UTC+1, so 22:30 local is 21:30 UTC.
    assert is_active(evening, utc(2026, 1, 10, 22, 30), LONDON)
    assert not is_active(evening, utc(2026, 7, 10, 22, 30), LONDON)
    assert is_active(evening, utc(2026, 7, 10, 21, 30), LONDON)
    assert is_active(None, utc(2026, 7, 10, 12, 0), LONDON)  # no schedule: always


def minutes_active(windows: list[ScheduleWindow], start: float, hours: int) -> list[float]:
    """Epoch minutes (from `start`) at which the schedule is open."""
    schedule = Schedule(windows)
    return [start + 60 * m for m in range(hours * 60) if schedule.active(start + 60 * m, LONDON)]


def test_spring_forward_2026() -> None:
    # Sunday 29 March 2026: at 01:00 GMT (01:00 UTC) clocks jump to 02:00 BST.
    night = [window("00:30", "02:30", ["sun"])]
    # 00:30 GMT = 00:30 UTC; 02:30 BST = 01:30 UTC: one real hour.
    active = minutes_active(night, utc(2026, 3, 28, 23, 0), 5)
    assert active[0] == utc(2026, 3, 29, 0, 30)
    assert active[-1] == utc(2026, 3, 29, 1, 29)
    assert len(active) == 60
    assert is_active(night, utc(2026, 3, 29, 0, 59), LONDON)  # 00:59 GMT
    assert is_active(night, utc(2026, 3, 29, 1, 0), LONDON)  # 02:00 BST: the next minute
    assert not is_active(night, utc(2026, 3, 29, 1, 30), LONDON)  # 02:30 BST
    # Local 01:30 does not exist: no instant of that night reads 01:xx.
    hours = {datetime.fromtimestamp(utc(2026, 3, 29, 0, 0) + 60 * m, LONDON).hour for m in range(180)}
    assert 1 not in hours
    # So a window inside the missing hour does not open that night at all,
    assert minutes_active([window("01:00", "01:45", ["sun"])], utc(2026, 3, 28, 23, 0), 5) == []
    # and one that starts in it opens at the jump.
    late = minutes_active([window("01:30", "03:00", ["sun"])], utc(2026, 3, 28, 23, 0), 5)
    assert late[0] == utc(2026, 3, 29, 1, 0)  # 02:00 BST
    assert len(late) == 60


def test_fall_back_2026() -> None:
    # Sunday 25 October 2026: at 02:00 BST (01:00 UTC) clocks go back to 01:00 GMT.
    night = [window("00:30", "02:30", ["sun"])]
    # 00:30 BST = 23:30 UTC on Saturday; 02:30 GMT = 02:30 UTC: three real hours.
    active = minutes_active(night, utc(2026, 10, 24, 22, 0), 6)
    assert active[0] == utc(2026, 10, 24, 23, 30)
    assert active[-1] == utc(2026, 10, 25, 2, 29)
    assert len(active) == 180
    # The repeated hour is inside the window both times: 01:30 BST and 01:30 GMT.
    first, second = utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)
    assert datetime.fromtimestamp(first, LONDON).strftime("%H:%M %Z") == "01:30 BST"
    assert datetime.fromtimestamp(second, LONDON).strftime("%H:%M %Z") == "01:30 GMT"
    assert is_active(night, first, LONDON)
    assert is_active(night, second, LONDON)
    # A window that is just the repeated hour is open for two real hours.
    assert len(minutes_active([window("01:00", "02:00", ["sun"])], utc(2026, 10, 24, 22, 0), 6)) == 120
    # Saturday's schedule does not cover Sunday's small hours.
    assert not is_active([window("00:30", "02:30", ["sat"])], first, LONDON)


def test_windows_list_and_day_order() -> None:
    # Every weekday name maps to the right datetime.weekday().
    start = datetime(2026, 11, 23, 12, 0)  # Monday
    for offset, day in enumerate(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]):
        only = [window("11:00", "13:00", [day])]
        for other in range(7):
            assert in_schedule(only, start + timedelta(days=other)) is (other == offset)
