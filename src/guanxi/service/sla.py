"""Business time and SLA clocks, as pure functions (no database) so they can be tested over
random event sequences.

A :class:`Hours` is a calendar's working windows per ISO weekday in a time zone plus its
holidays; ``None`` stands for 24/7. ``business_seconds(hours, a, b)`` counts the working
seconds between two instants; ``add_business_seconds(hours, start, s)`` is the instant when
``s`` working seconds have passed after ``start``.

A :class:`Clock` accumulates working seconds while it runs. ``pause`` (waiting on the customer)
banks what ran so far; ``resume`` (the customer replied) starts it again from that bank, never
from zero and never counting the paused stretch. Pausing twice, resuming a running clock or
events that arrive out of order change nothing, so nothing is ever counted twice.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

MAX_DAYS = 3660  # never walk more than ten years of calendar


@dataclass(frozen=True)
class Hours:
    time_zone: str = "UTC"
    # ISO weekday (1 Monday … 7 Sunday) → [(start, end)] as times of day, end may be 24:00.
    windows: dict[int, list[tuple[dt.time, dt.time | None]]] = field(default_factory=dict)
    holidays: frozenset[dt.date] = frozenset()

    @classmethod
    def from_json(cls, time_zone: str, hours: dict, holidays=()) -> Hours:
        windows: dict[int, list] = {}
        for day, spans in (hours or {}).items():
            parsed = []
            for start, end in spans:
                last = None if end in ("24:00", "24:00:00") else _parse_time(end)
                parsed.append((_parse_time(start), last))
            windows[int(day)] = sorted(parsed, key=lambda w: w[0])
        return cls(time_zone, windows, frozenset(holidays))

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def day_windows(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The working windows of one local calendar day as aware UTC instants."""
        if day in self.holidays:
            return []
        out = []
        tz = self.tz
        for start, end in self.windows.get(day.isoweekday(), []):
            a = dt.datetime.combine(day, start, tzinfo=tz)
            b = (
                dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
                if end is None
                else dt.datetime.combine(day, end, tzinfo=tz)
            )
            a, b = a.astimezone(dt.UTC), b.astimezone(dt.UTC)
            if b > a:
                out.append((a, b))
        return out

    @property
    def works_at_all(self) -> bool:
        return any(self.windows.values())


def _parse_time(value: str) -> dt.time:
    return dt.time.fromisoformat(value)


def business_seconds(hours: Hours | None, a: dt.datetime, b: dt.datetime) -> float:
    """Working seconds in ``[a, b)``; 0 when ``b <= a``."""
    if b <= a:
        return 0.0
    if hours is None:
        return (b - a).total_seconds()
    tz = hours.tz
    day = a.astimezone(tz).date() - dt.timedelta(days=1)
    last = b.astimezone(tz).date() + dt.timedelta(days=1)
    total = 0.0
    steps = 0
    while day <= last and steps < MAX_DAYS + 3:
        for start, end in hours.day_windows(day):
            lo, hi = max(start, a), min(end, b)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += dt.timedelta(days=1)
        steps += 1
    return total


def add_business_seconds(
    hours: Hours | None, start: dt.datetime, seconds: float
) -> dt.datetime | None:
    """The instant at which ``seconds`` working seconds have passed since ``start``; ``None``
    when the calendar has no working time at all."""
    if seconds <= 0:
        return start  # already reached (a breached clock is due at the latest when it resumed)
    if hours is None:
        return start + dt.timedelta(seconds=seconds)
    if not hours.works_at_all:
        return None
    remaining = max(0.0, seconds)
    tz = hours.tz
    day = start.astimezone(tz).date() - dt.timedelta(days=1)
    for _step in range(MAX_DAYS):
        for w_start, w_end in hours.day_windows(day):
            lo = max(w_start, start)
            if w_end <= lo:
                continue
            available = (w_end - lo).total_seconds()
            if remaining <= available:
                return lo + dt.timedelta(seconds=remaining)
            remaining -= available
        day += dt.timedelta(days=1)
    return None


@dataclass
class Clock:
    """A resolution clock: ``elapsed`` working seconds banked, ``running_since`` while it runs."""

    elapsed: float = 0.0
    running_since: dt.datetime | None = None
    stopped: bool = False
    last_event_at: dt.datetime | None = None

    def _at(self, at: dt.datetime) -> dt.datetime:
        # Events never go back in time: a late-arriving event counts as happening now.
        if self.last_event_at is not None and at < self.last_event_at:
            at = self.last_event_at
        self.last_event_at = at
        return at

    def start(self, at: dt.datetime) -> None:
        at = self._at(at)
        if not self.stopped and self.running_since is None:
            self.running_since = at

    resume = start

    def pause(self, hours: Hours | None, at: dt.datetime) -> None:
        at = self._at(at)
        if self.running_since is not None:
            self.elapsed += business_seconds(hours, self.running_since, at)
            self.running_since = None

    def stop(self, hours: Hours | None, at: dt.datetime) -> None:
        self.pause(hours, at)
        self.stopped = True

    def reopen(self, at: dt.datetime) -> None:
        """A solved ticket reopened by the customer: the clock goes on from its bank."""
        self.stopped = False
        self.start(at)

    @property
    def running(self) -> bool:
        return self.running_since is not None

    def elapsed_at(self, hours: Hours | None, at: dt.datetime) -> float:
        if self.running_since is None or at <= self.running_since:
            return self.elapsed
        return self.elapsed + business_seconds(hours, self.running_since, at)

    def due(self, hours: Hours | None, target_seconds: float) -> dt.datetime | None:
        """When the clock reaches ``target_seconds`` if it keeps running; ``None`` while paused."""
        if self.running_since is None:
            return None
        return add_business_seconds(hours, self.running_since, target_seconds - self.elapsed)
