"""Reads for usage and costs: always one organization, always answered from rollups (never event scans)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import QuerySet, Sum
from django.utils import timezone

from accounts.models import Organization, User
from usage.models import (
    DEFAULT_ALERT_THRESHOLDS,
    Budget,
    BudgetAlert,
    RollupCounters,
    UsageDaily,
    UsageDailyModel,
    UsageDailyUser,
    UsageEvent,
    UsageMonthly,
    UsageMonthlyApiKey,
)
from usage.periods import (
    as_day,
    current_period_start,
    day_range_bounds,
    month_key,
    months_between,
    period_bounds,
)
from usage.pricing import Price, price_table

COUNTERS = RollupCounters.COUNTERS
FORECAST_MIN_DAYS = 3
PARTS = ("cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
CENT = Decimal("0.01")
BREAKDOWNS = {"provider": ("provider",), "model": ("model",), "user": ("user_key",)}


def _totals(queryset: QuerySet) -> dict[str, Any]:
    sums = queryset.aggregate(**{name: Sum(name) for name in COUNTERS})
    totals: dict[str, Any] = {name: sums[name] or 0 for name in COUNTERS}
    totals["total_cost"] = sums["total_cost"] or Decimal(0)
    return totals


def _grouped(queryset: QuerySet, *keys: str) -> list[dict[str, Any]]:
    rows = queryset.values(*keys).annotate(**{f"sum_{name}": Sum(name) for name in COUNTERS}).order_by()
    items = []
    for row in rows:
        item = {key: row[key] for key in keys}
        item.update({name: row[f"sum_{name}"] or 0 for name in COUNTERS})
        items.append(item)
    return sorted(items, key=lambda item: (-item["total_cost"], -item["events"], str(item[keys[0]])))


def _in_range(model: type[RollupCounters], organization_id: uuid.UUID, start: date, end: date) -> QuerySet:
    return model.objects.filter(organization_id=organization_id, day__gte=start, day__lte=end)


def usage_summary(*, organization_id: uuid.UUID | str, start: date | datetime, end: date | datetime | None = None):
    """Return usage totals and the per-provider and per-model breakdowns for whole UTC days start..end."""
    start_day, end_day = as_day(start), as_day(end) if end is not None else timezone.localdate()
    org_id = uuid.UUID(str(organization_id))
    totals = _totals(_in_range(UsageDaily, org_id, start_day, end_day))
    by_model = _in_range(UsageDailyModel, org_id, start_day, end_day)

    def breakdown(key: str) -> dict[str, dict[str, Any]]:
        return {
            row[key]: {name: row[name] for name in ("events", "tokens_in", "tokens_out", "total_tokens", *PARTS)}
            | {"cost": row["total_cost"]}
            for row in _grouped(by_model, key)
        }

    return {
        "org_id": str(org_id),
        "start_date": start_day,
        "end_date": end_day,
        "total_events": totals["events"],
        "total_debates": totals["debates"],
        "total_api_calls": totals["api_calls"],
        "tokens_in": totals["tokens_in"],
        "tokens_out": totals["tokens_out"],
        "total_tokens": totals["total_tokens"],
        **{name: totals[name] for name in PARTS},
        "total_cost": totals["total_cost"],
        "by_provider": breakdown("provider"),
        "by_model": breakdown("model"),
    }


def budget_for(*, organization: Organization) -> dict[str, Any]:
    budget = Budget.objects.filter(organization=organization).first()
    if budget is None:
        return {
            "monthly_budget_usd": None,
            "alert_thresholds": list(DEFAULT_ALERT_THRESHOLDS),
            "hard_limit": False,
            "updated_at": None,
        }
    return {
        "monthly_budget_usd": budget.monthly_budget_usd,
        "alert_thresholds": list(budget.alert_thresholds),
        "hard_limit": budget.hard_limit,
        "updated_at": budget.updated_at,
    }


def _debates_this_period(organization: Organization) -> int:
    # An organization the rollover has not reached yet has used nothing of the new period.
    return organization.debates_used if organization.period_start >= current_period_start() else 0


def cost_summary(*, organization: Organization, now: datetime | None = None) -> dict[str, Any]:
    """Return this period's spend against the budget, a straight-line forecast and the debate quota."""
    today = (now or timezone.now()).astimezone(UTC).date()
    start, end = period_bounds(today)
    month = UsageMonthly.objects.filter(organization=organization, month=month_key(start)).first()
    spend = month.total_cost if month else Decimal(0)
    budget = budget_for(organization=organization)
    limit = budget["monthly_budget_usd"]
    # A straight line through one or two days says little: no forecast before FORECAST_MIN_DAYS have passed.
    forecast = None
    if today.day >= FORECAST_MIN_DAYS:
        forecast = (spend * end.day / today.day).quantize(CENT, rounding=ROUND_HALF_UP)
    used = _debates_this_period(organization)
    debates_limit = organization.limits.debates_per_month
    return {
        "period_start": start,
        "period_end": end,
        "as_of": now or timezone.now(),
        "spend": spend,
        "budget": limit,
        "percent_used": (spend * 100 / limit).quantize(CENT, rounding=ROUND_HALF_UP) if limit else None,
        "forecast": forecast,
        "forecast_percent": (
            (forecast * 100 / limit).quantize(CENT, rounding=ROUND_HALF_UP) if limit and forecast is not None else None
        ),
        "hard_limit": budget["hard_limit"],
        "alert_thresholds": budget["alert_thresholds"],
        "events": month.events if month else 0,
        "total_tokens": month.total_tokens if month else 0,
        "debates_used": used,
        "debates_limit": debates_limit,
        "debates_remaining": None if debates_limit is None else max(debates_limit - used, 0),
        "tier": organization.effective_tier,
    }


def cost_timeseries(*, organization_id: uuid.UUID, start: date, end: date, granularity: str = "day") -> list[dict]:
    """Return one point per day (or month) from start to end, zeros included."""
    rows = {row.day: row for row in _in_range(UsageDaily, organization_id, start, end)}
    if granularity == "month":
        points: dict[str, dict[str, Any]] = {m: _point(m, None) for m in months_between(start, end)}
        for day, row in rows.items():
            _accumulate(points[month_key(day)], row)
        return list(points.values())
    days = (end - start).days + 1
    return [_point(d.isoformat(), rows.get(d)) for d in (start + timedelta(days=i) for i in range(days))]


def _point(label: str, row: UsageDaily | None) -> dict[str, Any]:
    point: dict[str, Any] = {"period": label, "cost": Decimal(0), "tokens": 0, "debates": 0, "events": 0}
    point.update(dict.fromkeys(PARTS, 0))
    if row is not None:
        _accumulate(point, row)
    return point


def _accumulate(point: dict[str, Any], row: UsageDaily) -> None:
    point["cost"] += row.total_cost
    point["tokens"] += row.total_tokens
    point["debates"] += row.debates
    point["events"] += row.events
    for name in PARTS:
        point[name] += getattr(row, name)


def cost_breakdown(*, organization: Organization, by: str, start: date, end: date) -> list[dict[str, Any]]:
    """Return spend grouped by provider, model or user, most expensive first."""
    model = UsageDailyUser if by == "user" else UsageDailyModel
    items = _grouped(_in_range(model, organization.pk, start, end), *BREAKDOWNS[by])
    labels = _user_labels(organization, [i["user_key"] for i in items]) if by == "user" else {}
    result = []
    for item in items:
        key = item[BREAKDOWNS[by][0]]
        result.append(
            {
                "key": key,
                "label": labels.get(key, key) if by == "user" else key,
                "cost": item["total_cost"],
                "tokens": item["total_tokens"],
                "tokens_in": item["tokens_in"],
                "tokens_out": item["tokens_out"],
                **{name: item[name] for name in PARTS},
                "events": item["events"],
                "debates": item["debates"],
            }
        )
    return result


def _user_labels(organization: Organization, keys: list[str]) -> dict[str, str]:
    ids = [k for k in keys if k]
    users = User.objects.filter(organization=organization, pk__in=ids).values_list("pk", "email")
    labels = {str(pk): email for pk, email in users}
    labels[""] = "(no user)"
    return {k: labels.get(k, "(former member)") for k in keys}


def events_in_range(*, organization: Organization, start: date, end: date) -> QuerySet[UsageEvent]:
    first, after = day_range_bounds(start, end)
    return UsageEvent.objects.filter(organization=organization, created_at__gte=first, created_at__lt=after)


def events_recent(*, organization: Organization, limit: int = 20) -> list[UsageEvent]:
    return list(
        UsageEvent.objects.filter(organization=organization).select_related("user").order_by("-created_at")[:limit]
    )


def period_spend(*, organization_id: uuid.UUID) -> Decimal:
    """Return the organization's spend in the current period (from the monthly rollup)."""
    month = month_key(current_period_start())
    row = UsageMonthly.objects.filter(organization_id=organization_id, month=month).values_list("total_cost").first()
    return row[0] if row else Decimal(0)


def prices_in_force(*, provider: str = "", model: str = "", at: datetime | None = None) -> list[Price]:
    """Return the price in force per model (optionally one provider's, models containing `model`), by name."""
    prices = price_table().in_force(at or timezone.now())
    provider, model = provider.strip().lower(), model.strip().lower()
    return [p for p in prices if (not provider or p.provider == provider) and model in p.model]


def budget_alerts_unacknowledged_count(*, organization: Organization) -> int:
    """Return how many of this period's budget alerts no admin has dismissed yet."""
    period = month_key(current_period_start())
    return BudgetAlert.objects.filter(organization=organization, period=period, acknowledged_at__isnull=True).count()


def budget_alerts_history(*, organization: Organization, limit: int = 100) -> list[BudgetAlert]:
    """Return the organization's budget alerts, newest first."""
    return list(BudgetAlert.objects.filter(organization=organization).order_by("-created_at")[:limit])


def api_keys_spend(*, organization: Organization, key_ids: list[Any], month: str | None = None) -> dict[str, Decimal]:
    """Return each key's spend in the month (default: the current period), by key id (from the per-key rollup)."""
    month = month or month_key(current_period_start())
    rows = UsageMonthlyApiKey.objects.filter(
        organization=organization, month=month, key_id__in=[str(k) for k in key_ids]
    ).values_list("key_id", "total_cost")
    return dict(rows)
