"""Rollups: usage counted per organization by month, day, model, user and API key, kept by upserts."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q

from usage.models.events import MAX_ROLLUP_COST, MAX_ROLLUP_COUNT, counts_in_range
from usage.money import MoneyField


class RollupId(models.BigAutoField):
    """A rollup row's id: a BigAutoField that SQLite keeps as a plain rowid, without AUTOINCREMENT.

    With AUTOINCREMENT SQLite reads and writes its `sqlite_sequence` table on every INSERT into the table, an upsert
    that ends in an update included: every ingest transaction then wrote one more page (12.3 write-ahead log frames
    per event instead of 11.3). Nothing refers to a rollup row by its id, so an id used again after the last row
    was deleted does no harm. PostgreSQL's identity column is the same either way.
    """

    def db_type_suffix(self, connection: BaseDatabaseWrapper) -> str | None:
        return None if connection.vendor == "sqlite" else super().db_type_suffix(connection)


class RollupCounters(models.Model):
    """Counters shared by every rollup; always changed in place by one atomic statement (an upsert, or an UPDATE
    adding to the row), never read-modify-write."""

    id = RollupId(primary_key=True)
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
        counts = counts_in_range(*cls.COUNTERS[:-1], limit=MAX_ROLLUP_COUNT)
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
        # By month only: every event changes its month's total_cost, and an index holding the total would be
        # rewritten by each of those updates (on PostgreSQL it also rules out HOT updates). Staff lists sort one
        # month's rows, one per organization.
        indexes = [models.Index(fields=["month"], name="usage_monthly_month_idx")]

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
