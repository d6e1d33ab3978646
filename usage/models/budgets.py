"""Budgets and the alerts their thresholds raise."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from usage.money import MoneyField

DEFAULT_ALERT_THRESHOLDS = (50, 80, 100)


def default_alert_thresholds() -> list[int]:
    return list(DEFAULT_ALERT_THRESHOLDS)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    UNAVAILABLE = "unavailable", "No notifier configured"


class Budget(models.Model):
    """An organization's monthly spend budget, its alert thresholds and whether 100 % blocks debates."""

    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.CASCADE, primary_key=True, related_name="usage_budget"
    )
    monthly_budget_usd = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    alert_thresholds = models.JSONField(default=default_alert_thresholds)
    hard_limit = models.BooleanField(default=False, help_text="Refuse DEBATE events once spend reaches the budget.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "usage_budgets"
        constraints = [
            models.CheckConstraint(
                condition=Q(monthly_budget_usd__isnull=True) | Q(monthly_budget_usd__gt=0), name="budget_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.monthly_budget_usd or 'no'} USD/month"


class BudgetAlert(models.Model):
    """A budget threshold crossed in a period: the row makes the alert happen once per threshold and period."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="budget_alerts")
    period = models.CharField(max_length=7, help_text="YYYY-MM")
    threshold = models.PositiveSmallIntegerField(help_text="Percent of the budget.")
    spend_usd = MoneyField()
    budget_usd = models.DecimalField(max_digits=14, decimal_places=2)
    created_at = models.DateTimeField(default=timezone.now)
    delivery_status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivery_error = models.CharField(max_length=500, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True, help_text="When an admin dismissed the alert.")
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "usage_budget_alerts"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "period", "threshold"], name="budget_alert_once_per_threshold"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.period} {self.threshold}%"
