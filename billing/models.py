"""Billing models: received Stripe events and outgoing notifications. Tier definitions live in billing.tiers."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from accounts.models import Organization
from billing.tiers import TIER_LIMITS, SubscriptionTier, TierLimits

__all__ = [
    "TIER_LIMITS",
    "IdempotencyRecord",
    "Notification",
    "NotificationChannel",
    "NotificationKind",
    "NotificationStatus",
    "OrganizationBilling",
    "StripeEventOutcome",
    "StripeEventReceipt",
    "SubscriptionTier",
    "TierLimits",
]


class StripeEventOutcome(models.TextChoices):
    APPLIED = "applied", "Applied"
    STALE = "stale", "Older than the state already applied"
    IGNORED = "ignored", "Nothing to do"
    UNHANDLED = "unhandled", "Event type not handled"


class StripeEventReceipt(models.Model):
    """One Stripe event, handled once: its unique id is inserted in the same transaction as its effects."""

    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=250)
    stripe_created = models.DateTimeField(help_text="When Stripe created the event.")
    received_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=16, choices=StripeEventOutcome.choices, default=StripeEventOutcome.APPLIED)
    organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="stripe_events"
    )

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["event_id"], name="stripe_event_receipt_unique")]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class IdempotencyRecord(models.Model):
    """A client's Idempotency-Key for a billing operation and the fingerprint of the parameters it was first used
    with; shared by every worker, so a reuse with other parameters is refused before Stripe is called."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="billing_idempotency_records"
    )
    key = models.CharField(max_length=200)
    operation = models.CharField(max_length=32)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the operation and all its parameters.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "key"], name="billing_idempotency_unique")]

    def __str__(self) -> str:
        return f"{self.operation} {self.key}"


class NotificationKind(models.TextChoices):
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    GRACE_ENDING = "grace_ending", "Grace period ending soon"
    DOWNGRADED = "downgraded", "Downgraded"
    PAYMENT_RECOVERED = "payment_recovered", "Payment recovered"
    SUBSCRIPTION_CANCELED = "subscription_canceled", "Subscription canceled"
    UPGRADED = "upgraded", "Upgraded"
    BUDGET_THRESHOLD = "budget_threshold", "Budget threshold crossed"


class NotificationChannel(models.TextChoices):
    EMAIL = "email", "E-mail"
    WEBHOOK = "webhook", "Webhook"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    """A notice to an organization over one channel; delivered after commit and retried with backoff."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="billing_notifications"
    )
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    channel = models.CharField(max_length=16, choices=NotificationChannel.choices)
    status = models.CharField(max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    payload = models.JSONField(default=dict, help_text="What is sent: the kind's context and the recipients.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notification_due_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=NotificationKind.values), name="notification_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=NotificationChannel.values), name="notification_channel_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.channel} ({self.status})"


class OrganizationBilling(Organization):
    """The billing side of an organization, for the back office."""

    class Meta:
        proxy = True
        verbose_name = "organization billing"
        verbose_name_plural = "organization billing"
