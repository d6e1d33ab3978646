"""Back office: spend per organization and month, usage events (read-only), the pricing table (editable)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet, Sum
from django.http import HttpRequest

from billing.tiers import SubscriptionTier
from usage.models import LONG_RATES, STAFF_SOURCE, Budget, BudgetAlert, ModelPrice, UsageEvent, UsageMonthly
from usage.money import money_display, money_str


def money_column(field: str, *, description: str, per_event: bool = False) -> Callable[[Any, Any], str]:
    """Return an admin column (and read-only field) showing `field` in the one money format, sortable by it."""

    @admin.display(description=description, ordering=field)
    def column(model_admin: Any, obj: Any) -> str:
        return money_display(getattr(obj, field), per_event=per_event)

    return column


class ReadOnlyAdmin(admin.ModelAdmin):
    """Derived or audit data: visible to staff, never edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MonthFilter(admin.SimpleListFilter):
    title = "month"
    parameter_name = "month"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        months = UsageMonthly.objects.order_by("-month").values_list("month", flat=True).distinct()[:36]
        return [(m, m) for m in months]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(month=self.value()) if self.value() else queryset


class TierFilter(admin.SimpleListFilter):
    title = "tier"
    parameter_name = "tier"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(SubscriptionTier.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(organization__tier=self.value()) if self.value() else queryset


@admin.register(UsageMonthly)
class UsageMonthlyAdmin(ReadOnlyAdmin):
    """Spend per organization and month, most expensive first, with the totals of the filtered rows."""

    change_list_template = "admin/usage/usagemonthly/change_list.html"
    list_display = ["organization", "tier", "month", "cost", "debates", "api_calls", "total_tokens", "events"]
    list_filter = [MonthFilter, TierFilter]
    search_fields = ["organization__name", "organization__slug"]
    ordering = ["-total_cost", "-month"]
    list_select_related = ["organization"]
    list_per_page = 100
    cost = money_column("total_cost", description="Total cost")

    @admin.display(description="Tier", ordering="organization__tier")
    def tier(self, obj: UsageMonthly) -> str:
        return obj.organization.effective_tier.label

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        response = super().changelist_view(request, extra_context=extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            response.context_data["usage_totals"] = changelist.queryset.aggregate(
                organizations=Count("organization", distinct=True),
                total_cost=Sum("total_cost"),
                debates=Sum("debates"),
                api_calls=Sum("api_calls"),
                total_tokens=Sum("total_tokens"),
                events=Sum("events"),
            )
        return response


@admin.register(UsageEvent)
class UsageEventAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "organization",
        "event_type",
        "provider",
        "model",
        "tokens_in",
        "tokens_out",
        "cost",
        "unpriced",
        "user",
    ]
    list_filter = ["unpriced", "event_type", "provider", "created_at"]
    search_fields = ["=id", "=idempotency_key", "organization__name", "organization__slug", "user__email", "model"]
    date_hierarchy = "created_at"
    list_select_related = ["organization", "user"]
    show_full_result_count = False
    fields = ["cost" if f.name == "cost_usd" else f.name for f in UsageEvent._meta.fields]
    readonly_fields = fields
    cost = money_column("cost_usd", description="Cost", per_event=True)


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    """The pricing table. A change applies to events recorded from then on; recorded costs never change.

    A row saved here is a staff row: the price importer never supersedes it.
    """

    list_display = [
        "provider",
        "model",
        "display_name",
        "input_per_million",
        "output_per_million",
        "cache_read_rate",
        "cache_write_rate",
        "reasoning_rate",
        "long_context",
        "source",
        "effective_from",
    ]
    list_editable = ["input_per_million", "output_per_million"]
    list_filter = ["provider", "source"]
    search_fields = ["provider", "model", "display_name"]
    ordering = ["provider", "model", "-effective_from"]
    readonly_fields = ["source", "updated_at"]
    fieldsets = [
        (None, {"fields": ["provider", "model", "display_name", "effective_from", "source", "updated_at"]}),
        (
            "USD per million tokens (an empty cache or reasoning rate means the input or output rate)",
            {
                "fields": [
                    "input_per_million",
                    "output_per_million",
                    "cache_read_per_million",
                    "cache_write_per_million",
                    "reasoning_per_million",
                ]
            },
        ),
        (
            "Long context: above the threshold (input tokens) the whole request uses these rates",
            {"fields": ["long_context_threshold", *LONG_RATES]},
        ),
    ]

    @admin.display(description="Cache read")
    def cache_read_rate(self, obj: ModelPrice) -> str:
        return _rate_or_plain(obj.cache_read_per_million, "= input")

    @admin.display(description="Cache write")
    def cache_write_rate(self, obj: ModelPrice) -> str:
        return _rate_or_plain(obj.cache_write_per_million, "= input")

    @admin.display(description="Reasoning")
    def reasoning_rate(self, obj: ModelPrice) -> str:
        return _rate_or_plain(obj.reasoning_per_million, "= output")

    @admin.display(description="Long context")
    def long_context(self, obj: ModelPrice) -> str:
        if obj.long_context_threshold is None:
            return "-"
        return (
            f"> {obj.long_context_threshold:,} in: "
            f"{money_str(obj.long_input_per_million)} / {money_str(obj.long_output_per_million)}"
        )

    def save_model(self, request: HttpRequest, obj: ModelPrice, form: Any, change: bool) -> None:
        obj.source = STAFF_SOURCE
        super().save_model(request, obj, form, change)


def _rate_or_plain(rate: Decimal | None, plain: str) -> str:
    return plain if rate is None else money_str(rate)


@admin.register(Budget)
class BudgetAdmin(ReadOnlyAdmin):
    list_display = ["organization", "budget", "alert_thresholds", "hard_limit", "updated_at", "updated_by"]
    list_filter = ["hard_limit"]
    search_fields = ["organization__name"]
    fields = ["organization", "budget", "alert_thresholds", "hard_limit", "updated_at", "updated_by"]
    readonly_fields = fields
    budget = money_column("monthly_budget_usd", description="Monthly budget")


@admin.register(BudgetAlert)
class BudgetAlertAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "organization", "period", "threshold", "spend", "budget", "delivery_status"]
    list_filter = ["delivery_status", "period"]
    search_fields = ["organization__name"]
    fields = [*list_display, "delivered_at", "delivery_error"]
    readonly_fields = fields
    spend = money_column("spend_usd", description="Spend")
    budget = money_column("budget_usd", description="Budget")
