"""The monthly debate quota and the budget's hard limit, checked as debates are recorded.

Each debate counts against the month it happened in: this period's through the organization's counter (one
conditional UPDATE), a back-dated one against that month's rollup. The rollups and `debates_used` agree.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from decimal import Decimal

from accounts.models import Organization
from aragora_site.errors import ServiceError
from usage.models import Budget, UsageEventType, UsageMonthly
from usage.money import money_str
from usage.periods import current_period_start, month_key, utc_day
from usage.storage import PricedEvent


class QuotaExceeded(ServiceError):
    status = 402


class BudgetExceeded(ServiceError):
    status = 402


def _month_totals(org: Organization, months: set[str]) -> dict[str, tuple[int, Decimal]]:
    rows = UsageMonthly.objects.filter(organization=org, month__in=months).values_list("month", "debates", "total_cost")
    return {month: (debates, cost) for month, debates, cost in rows}


def _budget_refuse_if_over(
    budget: Budget | None, months: set[str], costs: dict[str, Decimal], totals: dict[str, tuple[int, Decimal]]
) -> None:
    """Refuse debates once the month's spend reached the budget, or when this usage would take it past."""
    if budget is None or not budget.hard_limit or budget.monthly_budget_usd is None:
        return
    for month in sorted(months):
        spend = totals.get(month, (0, Decimal(0)))[1]
        if spend >= budget.monthly_budget_usd or spend + costs[month] > budget.monthly_budget_usd:
            raise BudgetExceeded(
                f"The spend of {month} ({money_str(spend)} USD, {money_str(costs[month])} USD more with this usage) "
                f"would pass the budget ({money_str(budget.monthly_budget_usd)} USD), which is a hard limit.",
                code="budget_exceeded",
            )


def debates_consume(org: Organization, rows: Sequence[PricedEvent], budget: Budget | None) -> None:
    """Count the batch's debates against their months' quotas, or raise (the caller's transaction undoes all)."""
    debates = Counter(month_key(utc_day(r.created_at)) for r in rows if r.event_type == UsageEventType.DEBATE)
    if not debates:
        return
    # The caller's copy may be a few seconds old (see usage.tracker): the quota counts what the database says now.
    org.refresh_from_db(fields=["tier", "grace_until", "debates_used", "period_start"])
    current = month_key(current_period_start())
    hard_budget = budget is not None and budget.hard_limit and budget.monthly_budget_usd is not None
    if hard_budget or set(debates) != {current}:
        # Checks that read a rollup then write: one writer per organization at a time.
        Organization.objects.select_for_update().filter(pk=org.pk).exists()
    costs: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        costs[month_key(utc_day(r.created_at))] += r.cost_usd
    totals = _month_totals(org, set(debates)) if hard_budget or set(debates) != {current} else {}
    _budget_refuse_if_over(budget, set(debates), costs, totals)
    org.period_rollover()
    limit = org.limits.debates_per_month
    for month, count in sorted(debates.items()):
        if month == current:
            if (limit is not None and org.debates_used + count > limit) or not org.increment_debates(count):
                _quota_refuse(org, count, used=org.debates_used, month=month)
        elif limit is not None and totals.get(month, (0, Decimal(0)))[0] + count > limit:
            _quota_refuse(org, count, used=totals.get(month, (0, Decimal(0)))[0], month=month)


def _quota_refuse(org: Organization, count: int, *, used: int, month: str) -> None:
    limit = org.limits.debates_per_month
    remaining = max((limit or 0) - used, 0)
    needed = "a debate" if count == 1 else f"{count} debates"
    raise QuotaExceeded(
        f"The {org.effective_tier.label} tier includes {limit} debates a month and {remaining} remain in {month}; "
        f"recording {needed} needs an upgrade or the next period.",
        code="quota_exceeded",
    )
