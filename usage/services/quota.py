"""The monthly debate quota and the budget's hard limit, checked as debates are recorded."""

from __future__ import annotations

from accounts.models import Organization
from aragora_site.errors import ServiceError
from usage.models import Budget
from usage.money import money_str
from usage.selectors import period_spend


class QuotaExceeded(ServiceError):
    status = 402


class BudgetExceeded(ServiceError):
    status = 402


def _budget_refuse_if_spent(org: Organization, budget: Budget | None) -> None:
    if budget is None or not budget.hard_limit or budget.monthly_budget_usd is None:
        return
    spend = period_spend(organization_id=org.pk)
    if spend >= budget.monthly_budget_usd:
        raise BudgetExceeded(
            f"This period's spend ({money_str(spend)} USD) has reached the budget "
            f"({money_str(budget.monthly_budget_usd)} USD) and the budget is a hard limit.",
            code="budget_exceeded",
        )


def debates_consume(org: Organization, count: int, budget: Budget | None) -> None:
    """Take `count` debates from this period's quota, or raise (the caller's transaction undoes partial takes)."""
    _budget_refuse_if_spent(org, budget)
    org.period_rollover()
    limit = org.limits.debates_per_month
    if limit is not None and org.debates_used + count > limit:
        _quota_refuse(org, count)
    if not org.increment_debates(count):
        _quota_refuse(org, count)


def _quota_refuse(org: Organization, count: int) -> None:
    limit = org.limits.debates_per_month
    remaining = max((limit or 0) - org.debates_used, 0)
    needed = "a debate" if count == 1 else f"{count} debates"
    raise QuotaExceeded(
        f"The {org.effective_tier.label} tier includes {limit} debates a month and {remaining} remain; "
        f"recording {needed} needs an upgrade or the next period.",
        code="quota_exceeded",
    )
