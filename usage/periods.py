"""All date math of usage periods: calendar months (UTC), "YYYY-MM" month keys, whole-day ranges."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

from django.utils import timezone

MAX_RANGE_DAYS = 3660


def current_period_start() -> date:
    """Return the first day of the current (calendar-month, UTC) usage period."""
    return timezone.localdate().replace(day=1)


def period_bounds(today: date | None = None) -> tuple[date, date]:
    """Return the first and last day of the usage period holding `today` (default: the current one)."""
    start = current_period_start() if today is None else today.replace(day=1)
    return start, start.replace(day=calendar.monthrange(start.year, start.month)[1])


def default_range() -> tuple[date, date]:
    """Return the current period from its first day to today."""
    return current_period_start(), timezone.localdate()


def dashboard_range() -> tuple[date, date]:
    """Return what the dashboard shows by default: the current period, but never fewer than the last 7 days."""
    today = timezone.localdate()
    return min(current_period_start(), today - timedelta(days=6)), today


def range_error(start: date, end: date) -> tuple[str, str] | None:
    """Return (field, message) when start..end is not a valid range of whole days, else None."""
    if start > end:
        return "start", "The start date must not be after the end date."
    if (end - start).days >= MAX_RANGE_DAYS:
        return "end", f"A range may cover at most {MAX_RANGE_DAYS} days."
    return None


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_bounds(month: str) -> tuple[date, date]:
    """Return the first and last day of a "YYYY-MM" month."""
    year, mon = (int(part) for part in month.split("-"))
    return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])


def months_between(start: date, end: date) -> list[str]:
    """Return the month keys from start's month to end's month, both included."""
    months, day = [], start.replace(day=1)
    while day <= end:
        months.append(month_key(day))
        day = (day + timedelta(days=32)).replace(day=1)
    return months


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def as_day(value: date | datetime) -> date:
    """Return the UTC day of a datetime (naive ones are taken as UTC), or the date itself."""
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if timezone.is_aware(value) else value).date()
    return value


def day_range_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Return [first instant of start, first instant after end) in UTC."""
    first = datetime(start.year, start.month, start.day, tzinfo=UTC)
    return first, datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
