"""The price table: what one model costs per million tokens, effective-dated."""

from __future__ import annotations

import functools
import operator
from typing import Any

from django.db import models
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

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
