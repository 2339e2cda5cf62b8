"""Is a rule's schedule open at a given moment? Pure functions of local wall time.

A window is [from, to) in local wall-clock minutes, on the `days` it STARTS on. When
`to` is before `from` the window crosses midnight and its after-midnight part belongs
to the previous day's window: mon 22:00→06:30 covers Monday 23:00 and Tuesday 03:00,
but not Monday 03:00 (that would be Sunday's window). `to` may be 24:00.

Time zones and DST: the engine turns epoch seconds into local wall time with zoneinfo
(`datetime.fromtimestamp(epoch, tz)`) and only then compares clock readings, so:
- spring forward (Europe/London, last Sunday of March, 01:00 → 02:00): wall times
  01:00-01:59 never occur. A window 00:30→02:30 is open from 00:30 GMT to 02:30 BST,
  one real hour; a window inside the missing hour (01:00→01:45) does not open that
  night; a window starting in it (01:30→03:00) opens at the jump (02:00 BST).
- fall back (last Sunday of October, 02:00 → 01:00): wall times 01:00-01:59 occur
  twice, and a window covering them is open both times. 00:30→02:30 is then open for
  three real hours (00:30 BST to 02:30 GMT); 01:00→02:00 for two.
That is what a user reading the clock on the wall expects, and no window is ever
skipped or doubled other than by the hour that the clock itself skips or repeats.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from app.config.schema import ScheduleWindow, Weekday

_DAY_INDEX = {day: i for i, day in enumerate(Weekday)}  # mon=0 .. sun=6, as datetime.weekday()


class Schedule:
    """Windows compiled to (start days, from, to) in minutes; look-ups are a few compares."""

    __slots__ = ("_windows",)

    def __init__(self, windows: Sequence[ScheduleWindow]) -> None:
        self._windows = tuple((frozenset(_DAY_INDEX[d] for d in w.days), int(w.start), int(w.end)) for w in windows)

    def open_at(self, weekday: int, minute: int) -> bool:
        """weekday: 0 = Monday; minute: local minutes since midnight (0..1439)."""
        yesterday = (weekday - 1) % 7
        for days, start, end in self._windows:
            if start < end:
                if weekday in days and start <= minute < end:
                    return True
            elif (weekday in days and minute >= start) or (yesterday in days and minute < end):
                return True
        return False

    def contains(self, local: datetime) -> bool:
        """`local` is wall time in the schedule's zone (aware or naive: only its reading counts)."""
        return self.open_at(local.weekday(), local.hour * 60 + local.minute)

    def active(self, epoch: float, tz: ZoneInfo) -> bool:
        return self.contains(datetime.fromtimestamp(epoch, tz))


def in_schedule(windows: Sequence[ScheduleWindow], local: datetime) -> bool:
    """True when the wall time `local` falls in any window (see the module doc)."""
    return Schedule(windows).contains(local)


def is_active(windows: Sequence[ScheduleWindow] | None, epoch: float, tz: ZoneInfo) -> bool:
    """True when the schedule is open at `epoch` seconds in zone `tz`; no schedule = always."""
    return windows is None or Schedule(windows).active(epoch, tz)
