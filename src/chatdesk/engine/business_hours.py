"""When the support team is in: "mon-fri 09:00-18:00; sat 10:00-16:00" in a time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_RULE = re.compile(
    r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+(?P<open>\d{1,2}:\d{2})-(?P<close>\d{1,2}:\d{2})$"
)


class BusinessHoursError(ValueError):
    pass


@dataclass(frozen=True)
class BusinessHours:
    """Opening intervals per weekday (0 = Monday). No rules at all means always open."""

    intervals: tuple[tuple[tuple[time, time], ...], ...]
    zone: ZoneInfo

    @classmethod
    def parse(cls, spec: str, timezone: str = "UTC") -> BusinessHours:
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise BusinessHoursError(f"unknown time zone {timezone!r}") from error
        days: list[list[tuple[time, time]]] = [[] for _ in DAYS]
        for rule in filter(None, (part.strip().lower() for part in spec.split(";"))):
            match = _RULE.match(rule)
            if match is None or match["first"] not in DAYS or (
                match["last"] and match["last"] not in DAYS
            ):
                raise BusinessHoursError(
                    f"cannot read {rule!r}: write rules like 'mon-fri 09:00-18:00; sat 10:00-16:00'"
                )
            opening, closing = _clock(match["open"]), _clock(match["close"])
            if closing <= opening:
                raise BusinessHoursError(f"{rule!r}: closing time must be after opening time")
            first = DAYS.index(match["first"])
            last = DAYS.index(match["last"] or match["first"])
            for day in range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]:
                days[day].append((opening, closing))
        return cls(tuple(tuple(sorted(d)) for d in days), zone)

    @property
    def always_open(self) -> bool:
        return not any(self.intervals)

    def is_open(self, moment: datetime) -> bool:
        if self.always_open:
            return True
        local = moment.astimezone(self.zone)
        return any(start <= local.time() < end for start, end in self.intervals[local.weekday()])

    def next_opening(self, moment: datetime) -> datetime | None:
        """When the team is next in (``moment`` itself if open now); None if always open."""
        if self.always_open or self.is_open(moment):
            return None if self.always_open else moment
        local = moment.astimezone(self.zone)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            for start, _ in self.intervals[day.weekday()]:
                candidate = datetime.combine(day, start, tzinfo=self.zone)
                if candidate > local:
                    return candidate
        return None  # unreachable when some interval exists


def _clock(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise BusinessHoursError(f"{text!r} is not a time of day")
    return time(23, 59, 59) if hours == 24 else time(hours, minutes)


def describe(moment: datetime, now: datetime) -> str:
    """'today at 09:00', 'tomorrow at 09:00' or 'Monday at 09:00', in the opening's own zone."""
    local_now = now.astimezone(moment.tzinfo)
    days = (moment.date() - local_now.date()).days
    clock = moment.strftime("%H:%M %Z").strip()
    if days == 0:
        return f"today at {clock}"
    if days == 1:
        return f"tomorrow at {clock}"
    return f"{moment.strftime('%A')} at {clock}"
