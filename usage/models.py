"""Usage events, their rollups, the pricing table and budgets."""

from __future__ import annotations

import functools
import operator
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.dispatch import Signal
from django.utils import timezone

from usage.money import MoneyField, money_display

MAX_COUNT = 2**53 - 1  # largest count one event may carry (exact in JSON doubles)
MAX_ROLLUP_COUNT = 2**62  # headroom below the 64-bit limit of the rollup counters
MAX_EVENT_COST = Decimal("100000000")  # USD, one event
MAX_ROLLUP_COST = Decimal("900000000")  # USD, one rollup row (fits SQLite's scaled 64-bit integer)
DEFAULT_ALERT_THRESHOLDS = (50, 80, 100)


def default_alert_thresholds() -> list[int]:
    return list(DEFAULT_ALERT_THRESHOLDS)


class UsageEventType(models.TextChoices):
    DEBATE = "debate", "Debate"
    API_CALL = "api_call", "API call"
    AGENT_CALL = "agent_call", "Agent / LLM call"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    UNAVAILABLE = "unavailable", "No notifier configured"


RATE_DIGITS, RATE_PLACES = 15, 10  # 15 significant digits survive SQLite's REAL storage exactly
STAFF_SOURCE = "staff"
SEED_SOURCE = "seed:2025-01"


def _rate(help_text: str, **kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=RATE_DIGITS, decimal_places=RATE_PLACES, help_text=help_text, **kwargs)


def _optional_rate(help_text: str) -> models.DecimalField:
    return _rate(help_text, null=True, blank=True)


# Rate fields besides input/output, each may be empty (see ModelPrice's docstring for what empty means).
OPTIONAL_RATES = (
    "cache_read_per_million",
    "cache_write_per_million",
    "reasoning_per_million",
    "long_input_per_million",
    "long_output_per_million",
    "long_cache_read_per_million",
    "long_cache_write_per_million",
    "long_reasoning_per_million",
)
LONG_RATES = tuple(name for name in OPTIONAL_RATES if name.startswith("long_"))


# Sent whenever price rows are written through the ORM, so this process re-reads the table at once
# (other processes see the change within usage.pricing.PRICE_RECHECK_SECONDS).
price_table_changed = Signal()


class ModelPriceQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        count = super().update(**kwargs)
        price_table_changed.send(sender=ModelPrice)
        return count

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list:
        created = super().bulk_create(objs, *args, **kwargs)
        price_table_changed.send(sender=ModelPrice)
        return created

    def delete(self) -> tuple[int, dict[str, int]]:
        deleted = super().delete()
        price_table_changed.send(sender=ModelPrice)
        return deleted


class ModelPrice(models.Model):
    """Price of one model per million tokens, in force from `effective_from` (rows are added, never rewritten).

    Cache reads and writes are parts of the input, reasoning a part of the output; an empty cache or reasoning
    rate means the plain input or output rate. Above `long_context_threshold` input tokens every token of the
    request is billed at the `long_*` rates (an empty one means that dimension's ordinary rate, else the long
    input or output rate).
    """

    provider = models.CharField(max_length=64, help_text="Lower case, e.g. anthropic.")
    model = models.CharField(
        max_length=128, help_text='Lower case, e.g. claude-sonnet-4; "default" prices unknown models of the provider.'
    )
    display_name = models.CharField(max_length=128, blank=True)
    input_per_million = _rate("USD per 1M input tokens.")
    output_per_million = _rate("USD per 1M output tokens.")
    cache_read_per_million = _optional_rate("USD per 1M cache-read input tokens (empty: the input rate).")
    cache_write_per_million = _optional_rate("USD per 1M cache-write input tokens (empty: the input rate).")
    reasoning_per_million = _optional_rate("USD per 1M reasoning output tokens (empty: the output rate).")
    long_context_threshold = models.BigIntegerField(
        null=True, blank=True, help_text="Above this many input tokens the whole request uses the long-context rates."
    )
    long_input_per_million = _optional_rate("Long context: USD per 1M input tokens.")
    long_output_per_million = _optional_rate("Long context: USD per 1M output tokens.")
    long_cache_read_per_million = _optional_rate("Long context: cache reads (empty: the cache-read rate).")
    long_cache_write_per_million = _optional_rate("Long context: cache writes (empty: the cache-write rate).")
    long_reasoning_per_million = _optional_rate("Long context: reasoning (empty: the reasoning rate).")
    source = models.CharField(
        max_length=64,
        default=STAFF_SOURCE,
        help_text='"staff" (entered here; the importer never overrides it) or the importer and its version.',
    )
    effective_from = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ModelPriceQuerySet.as_manager()

    class Meta:
        db_table = "usage_model_prices"
        ordering = ["provider", "model", "-effective_from"]
        # MAX(updated_at) is part of the table version every ingest reads: an index keeps it a lookup
        indexes = [models.Index(fields=["updated_at"], name="model_price_updated_idx")]
        constraints = [
            models.UniqueConstraint(fields=["provider", "model", "effective_from"], name="model_price_unique"),
            models.CheckConstraint(
                condition=Q(input_per_million__gte=0) & Q(output_per_million__gte=0), name="model_price_non_negative"
            ),
            models.CheckConstraint(
                condition=functools.reduce(
                    operator.and_,
                    (Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__gte": 0}) for name in OPTIONAL_RATES),
                ),
                name="model_price_rates_non_negative",
            ),
            models.CheckConstraint(
                condition=(
                    Q(long_context_threshold__isnull=True, **{f"{name}__isnull": True for name in LONG_RATES})
                    | Q(
                        long_context_threshold__gte=0,
                        long_input_per_million__isnull=False,
                        long_output_per_million__isnull=False,
                    )
                ),
                name="model_price_long_context_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} ${self.input_per_million}/${self.output_per_million}"

    def save(self, *args, **kwargs) -> None:
        self.provider = self.provider.strip().lower()
        self.model = self.model.strip().lower()
        super().save(*args, **kwargs)
        price_table_changed.send(sender=ModelPrice)

    def delete(self, *args, **kwargs) -> Any:
        deleted = super().delete(*args, **kwargs)
        price_table_changed.send(sender=ModelPrice)
        return deleted


def _counts_in_range(*fields: str, limit: int) -> Q:
    condition = Q()
    for name in fields:
        condition &= Q(**{f"{name}__gte": 0, f"{name}__lte": limit})
    return condition


class UsageEvent(models.Model):
    """One metered unit of usage. `created_at` is when the usage happened; costs never change once recorded."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
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
                condition=_counts_in_range("tokens_in", "tokens_out", limit=MAX_COUNT)
                & Q(cost_usd__gte=0)
                & Q(cost_usd__lte=MAX_EVENT_COST),
                name="usage_event_bounds",
            ),
            models.CheckConstraint(
                condition=_counts_in_range(
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


class RollupCounters(models.Model):
    """Counters shared by every rollup; always changed by one atomic upsert, never read-modify-write."""

    events = models.BigIntegerField(default=0)
    debates = models.BigIntegerField(default=0)
    api_calls = models.BigIntegerField(default=0)
    tokens_in = models.BigIntegerField(default=0)
    tokens_out = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    total_cost = MoneyField(default=Decimal(0))

    # total_cost stays last: the counts before it share one bound
    COUNTERS = (
        "events",
        "debates",
        "api_calls",
        "tokens_in",
        "tokens_out",
        "total_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "total_cost",
    )

    class Meta:
        abstract = True

    @classmethod
    def bounds(cls, name: str) -> models.CheckConstraint:
        counts = _counts_in_range(*cls.COUNTERS[:-1], limit=MAX_ROLLUP_COUNT)
        cost = Q(total_cost__gte=0) & Q(total_cost__lte=MAX_ROLLUP_COST)
        return models.CheckConstraint(condition=counts & cost, name=name)


class UsageMonthly(RollupCounters):
    """Usage of one organization in one calendar month (UTC), "YYYY-MM"."""

    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        db_column="org_id",
        related_name="usage_months",
        db_index=False,  # the unique (organization, month) index serves it
    )
    month = models.CharField(max_length=7)

    class Meta:
        db_table = "usage_monthly"
        ordering = ["-month", "-total_cost"]
        verbose_name = "monthly spend"
        verbose_name_plural = "monthly spend"
        constraints = [
            models.UniqueConstraint(fields=["organization", "month"], name="usage_monthly_org_month_unique"),
            RollupCounters.bounds("usage_monthly_bounds"),
        ]
        indexes = [models.Index(fields=["month", "total_cost"], name="usage_monthly_month_cost_idx")]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.month}"


class UsageDaily(RollupCounters):
    """Usage of one organization on one UTC day."""

    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        db_column="org_id",
        db_index=False,  # unique key leads
    )
    day = models.DateField()

    class Meta:
        db_table = "usage_daily"
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "day"], name="usage_daily_org_day_unique"),
            RollupCounters.bounds("usage_daily_bounds"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day}"


class UsageDailyModel(RollupCounters):
    """Usage of one organization on one UTC day with one provider and model (lower case)."""

    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        db_column="org_id",
        db_index=False,  # unique key leads
    )
    day = models.DateField()
    provider = models.CharField(max_length=64)
    model = models.CharField(max_length=128)

    class Meta:
        db_table = "usage_daily_models"
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "day", "provider", "model"], name="usage_daily_model_unique"
            ),
            RollupCounters.bounds("usage_daily_model_bounds"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day} {self.provider}/{self.model}"


class UsageDailyUser(RollupCounters):
    """Usage of one organization on one UTC day by one user ("" when no user was named)."""

    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        db_column="org_id",
        db_index=False,  # unique key leads
    )
    day = models.DateField()
    user_key = models.CharField(max_length=36, blank=True)

    class Meta:
        db_table = "usage_daily_users"
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "day", "user_key"], name="usage_daily_user_unique"),
            RollupCounters.bounds("usage_daily_user_bounds"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.day} {self.user_key or '-'}"


class UsageMonthlyApiKey(RollupCounters):
    """Usage of one organization in one month sent with one API key (events sent otherwise are not here)."""

    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        db_column="org_id",
        db_index=False,  # unique key leads
    )
    month = models.CharField(max_length=7)
    key_id = models.CharField(max_length=36, help_text="The API key's id.")

    class Meta:
        db_table = "usage_monthly_api_keys"
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "month", "key_id"], name="usage_monthly_api_key_unique"),
            RollupCounters.bounds("usage_monthly_api_key_bounds"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.month} {self.key_id}"


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
