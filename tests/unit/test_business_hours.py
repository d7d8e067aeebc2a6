from datetime import UTC, datetime

import pytest

from chatdesk.engine.business_hours import BusinessHours, BusinessHoursError, describe

HOURS = BusinessHours.parse("mon-fri 09:00-18:00; sat 10:00-16:00", "Europe/London")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("moment", "open_"), [
    ("2026-11-23T09:00:00", True),   # Monday 09:00 GMT
    ("2026-11-23T08:59:00", False),
    ("2026-11-23T18:00:00", False),  # closing time is exclusive
    ("2026-11-28T12:00:00", True),   # Saturday
    ("2026-11-29T12:00:00", False),  # Sunday
    ("2026-07-06T08:30:00", True),   # Monday 09:30 in London summer time (UTC+1)
])
def test_open_or_closed(moment: str, open_: bool) -> None:
    assert HOURS.is_open(at(moment)) is open_


def test_next_opening_and_how_it_is_said() -> None:
    friday_night = at("2026-11-27T20:00:00")
    opening = HOURS.next_opening(friday_night)
    assert opening is not None and opening.isoformat() == "2026-11-28T10:00:00+00:00"
    assert describe(opening, friday_night) == "tomorrow at 10:00 GMT"
    saturday_night = at("2026-11-28T19:00:00")
    monday = HOURS.next_opening(saturday_night)
    assert monday is not None and describe(monday, saturday_night) == "Monday at 09:00 GMT"
    early = at("2026-11-23T07:00:00")
    today = HOURS.next_opening(early)
    assert today is not None and describe(today, early) == "today at 09:00 GMT"


def test_no_rules_means_always_open() -> None:
    always = BusinessHours.parse("", "UTC")
    assert always.always_open and always.is_open(at("2026-11-29T03:00:00"))
    assert always.next_opening(at("2026-11-29T03:00:00")) is None


def test_ranges_may_wrap_the_week() -> None:
    weekend = BusinessHours.parse("fri-mon 10:00-12:00", "UTC")
    assert weekend.is_open(at("2026-11-30T11:00:00"))  # Monday
    assert not weekend.is_open(at("2026-11-25T11:00:00"))  # Wednesday


@pytest.mark.parametrize(("spec", "zone"), [
    ("mon-fri 9-17", "UTC"), ("funday 09:00-17:00", "UTC"), ("mon 18:00-09:00", "UTC"),
    ("mon 09:00-25:00", "UTC"), ("mon 09:00-17:00", "Mars/Olympus"),
])
def test_bad_specifications_are_refused(spec: str, zone: str) -> None:
    with pytest.raises(BusinessHoursError):
        BusinessHours.parse(spec, zone)
