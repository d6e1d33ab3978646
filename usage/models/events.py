"""Usage events: one metered unit each, with the limits every count and cost must stay within."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from aragora_site.ids import uuid7
from usage.models.prices import ModelPrice
from usage.money import MoneyField, money_display

MAX_COUNT = 2**53 - 1  # largest count one event may carry (exact in JSON doubles)
MAX_ROLLUP_COUNT = 2**62  # headroom below the 64-bit limit of the rollup counters
MAX_EVENT_COST = Decimal("100000000")  # USD, one event
MAX_ROLLUP_COST = Decimal("900000000")  # USD, one rollup row (fits SQLite's scaled 64-bit integer)


class UsageEventType(models.TextChoices):
    DEBATE = "debate", "Debate"
    API_CALL = "api_call", "API call"
    AGENT_CALL = "agent_call", "Agent / LLM call"


def counts_in_range(*fields: str, limit: int) -> Q:
    condition = Q()
    for name in fields:
        condition &= Q(**{f"{name}__gte": 0, f"{name}__lte": limit})
    return condition


class UsageEvent(models.Model):
    """One metered unit of usage. `created_at` is when the usage happened; costs never change once recorded."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)  # time-ordered: see aragora_site.ids
    # No index of its own: the (organization, created_at) index and the idempotency constraint lead with it.
    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        db_column="org_id",
        related_name="usage_events",
        db_index=False,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_column="user_id",
        related_name="usage_events",
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The API key that sent the event (none for access tokens and the Python API).",
    )
    event_type = models.CharField(max_length=16, choices=UsageEventType.choices)
    provider = models.CharField(max_length=64, blank=True, default="")
    model = models.CharField(max_length=128, blank=True, default="")
    tokens_in = models.BigIntegerField(default=0)
    tokens_out = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0, help_text="Part of tokens_in read from the prompt cache.")
    cache_write_tokens = models.BigIntegerField(default=0, help_text="Part of tokens_in written to the prompt cache.")
    reasoning_tokens = models.BigIntegerField(default=0, help_text="Part of tokens_out spent on reasoning.")
    cost_usd = MoneyField(default=Decimal(0))
    unpriced = models.BooleanField(default=False, help_text="Priced by a fallback: the model is not in the table.")
    price = models.ForeignKey(ModelPrice, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    metadata = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True, default="")
    fingerprint = models.CharField(max_length=64, blank=True, default="", help_text="SHA-256 of the event's body.")
    created_at = models.DateTimeField(default=timezone.now)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "usage_events"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="usage_event_idempotency_unique",
            ),
            models.CheckConstraint(
                condition=counts_in_range("tokens_in", "tokens_out", limit=MAX_COUNT)
                & Q(cost_usd__gte=0)
                & Q(cost_usd__lte=MAX_EVENT_COST),
                name="usage_event_bounds",
            ),
            models.CheckConstraint(
                condition=counts_in_range(
                    "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", limit=MAX_COUNT
                )
                & Q(cache_read_tokens__lte=F("tokens_in") - F("cache_write_tokens"))
                & Q(reasoning_tokens__lte=F("tokens_out")),
                name="usage_event_parts_within_wholes",
            ),
            models.CheckConstraint(condition=Q(event_type__in=UsageEventType.values), name="usage_event_type_valid"),
        ]
        indexes = [
            models.Index(fields=["organization", "created_at"], name="usage_event_org_time_idx"),
            models.Index(fields=["created_at"], condition=Q(unpriced=True), name="usage_event_unpriced_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.provider}/{self.model} {money_display(self.cost_usd, per_event=True)}"

    @property
    def total_tokens(self) -> int:
        return self.tokens_in + self.tokens_out
