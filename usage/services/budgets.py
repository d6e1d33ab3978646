"""Budgets and their alerts: one alert per threshold and period, handed to billing's notifications."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Organization, User
from billing.models import NotificationKind
from billing.notifications import notification_send
from usage.models import Budget, BudgetAlert, DeliveryStatus
from usage.money import money_str
from usage.periods import current_period_start, month_key
from usage.selectors import period_spend
from usage.storage import forget_budgets
from usage.validation import budget_amount_clean, budget_thresholds_clean

logger = logging.getLogger("aragora.usage")


def _thresholds_crossed(budget: Budget, spend: Decimal) -> list[int]:
    if budget.monthly_budget_usd is None:
        return []
    return sorted(t for t in set(budget.alert_thresholds) if spend * 100 >= budget.monthly_budget_usd * t)


def budget_alerts_check(org: Organization, budget: Budget, spend: Decimal) -> None:
    """Record (once per threshold and period) every threshold the spend has crossed, and notify."""
    crossed = _thresholds_crossed(budget, spend)
    if not crossed:
        return
    period = month_key(current_period_start())
    done = set(BudgetAlert.objects.filter(organization=org, period=period).values_list("threshold", flat=True))
    if set(crossed) <= done:
        return
    for threshold in (t for t in crossed if t not in done):
        try:
            with transaction.atomic():
                alert = BudgetAlert.objects.create(
                    organization=org,
                    period=period,
                    threshold=threshold,
                    spend_usd=spend,
                    budget_usd=budget.monthly_budget_usd,
                )
        except IntegrityError:  # a concurrent writer recorded this alert first
            continue
        budget_alert_notify(alert=alert)


def budget_alert_context(alert: BudgetAlert) -> dict[str, Any]:
    percent = alert.spend_usd * 100 / alert.budget_usd
    return {
        "organization_id": str(alert.organization_id),
        "organization_name": alert.organization.name,
        "period": alert.period,
        "threshold_percent": alert.threshold,
        "spend_usd": money_str(alert.spend_usd),
        "budget_usd": money_str(alert.budget_usd),
        "percent_used": f"{percent.quantize(Decimal('0.1'))}",
    }


def budget_alert_notify(*, alert: BudgetAlert) -> str:
    """Hand an alert to billing's notifications and record the outcome; return the delivery status.

    billing.notifications records the notice in the caller's transaction and sends it after commit, so an
    alert whose event is rolled back is never sent, and one that commits is never lost.
    """
    status, error = DeliveryStatus.SENT, ""
    try:
        with transaction.atomic():
            context = budget_alert_context(alert)
            notices = notification_send(
                organization=alert.organization, kind=NotificationKind.BUDGET_THRESHOLD, context=context
            )
        if not notices:
            status, error = DeliveryStatus.UNAVAILABLE, "no notification channel is configured"
    except Exception as exc:  # a notifier failure must not lose the usage being recorded
        status, error = DeliveryStatus.FAILED, f"{type(exc).__name__}: {exc}"[:500]
        logger.exception("Budget alert %s could not be handed to the notifier", alert.pk)
    if status != DeliveryStatus.SENT:
        logger.warning("Budget alert %s (%s%%) not sent: %s", alert.pk, alert.threshold, error)
    BudgetAlert.objects.filter(pk=alert.pk).update(
        delivery_status=status, delivery_error=error, delivered_at=timezone.now() if status == "sent" else None
    )
    alert.delivery_status, alert.delivery_error = status, error
    return status


@transaction.atomic
def budget_update(
    *,
    organization: Organization,
    monthly_budget_usd: Decimal | None,
    alert_thresholds: Sequence[int],
    hard_limit: bool,
    updated_by: User | None = None,
) -> Budget:
    """Set the organization's monthly budget; thresholds already crossed this period alert at once."""
    budget, _ = Budget.objects.update_or_create(
        organization=organization,
        defaults={
            "monthly_budget_usd": budget_amount_clean(monthly_budget_usd),
            "alert_thresholds": budget_thresholds_clean(list(alert_thresholds)),
            "hard_limit": hard_limit,
            "updated_by": updated_by,
        },
    )
    transaction.on_commit(forget_budgets)  # the save dropped this worker's copy; so does the commit
    budget_alerts_check(organization, budget, period_spend(organization_id=organization.pk))
    return budget


def budget_alerts_acknowledge(*, organization: Organization, user: User) -> int:
    """Mark every alert of the organization not yet dismissed as seen by `user`; return how many."""
    return BudgetAlert.objects.filter(organization=organization, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now(), acknowledged_by=user
    )
