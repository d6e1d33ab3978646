"""Back office for billing: each organization's billing state, grace periods, notifications and Stripe events.

Every action goes through billing.services.backoffice, which records it in the audit log.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.utils import timezone
from djstripe.admin.admin import InvoiceAdmin as DjstripeInvoiceAdmin
from djstripe.models import Invoice

from aragora_site.errors import ServiceError
from billing.models import Notification, NotificationStatus, OrganizationBilling, StripeEventReceipt
from billing.services import backoffice

BILLING_FIELDS = [
    "tier",
    "subscription_status",
    "cancel_at_period_end",
    "current_period_end",
    "grace_until",
    "grace_reminder_sent_at",
    "stripe_customer_id",
    "stripe_subscription_id",
    "stripe_price_id",
    "stripe_subscription_event_at",
    "stripe_payment_event_at",
]


class InGraceFilter(admin.SimpleListFilter):
    title = "grace period"
    parameter_name = "grace"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [("running", "Running"), ("expired", "Expired")]

    def queryset(self, request: Any, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        if self.value() == "running":
            return queryset.filter(grace_until__gt=now)
        if self.value() == "expired":
            return queryset.filter(grace_until__lte=now)
        return queryset


@admin.register(OrganizationBilling)
class OrganizationBillingAdmin(admin.ModelAdmin):
    list_display = ["name", "tier", "subscription_status", "cancel_at_period_end", "current_period_end", "grace_until"]
    list_filter = ["tier", "subscription_status", "cancel_at_period_end", InGraceFilter]
    search_fields = ["name", "slug", "stripe_customer_id", "stripe_subscription_id"]
    fields = ["name", "slug", *BILLING_FIELDS]
    readonly_fields = fields
    actions = ["resync_from_stripe", "expire_grace_if_due"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    @admin.action(description="Re-sync from Stripe")
    def resync_from_stripe(self, request: Any, queryset: QuerySet[OrganizationBilling]) -> None:
        for org in queryset:
            try:
                outcome = backoffice.organization_resync(organization=org, actor=request.user)
            except ServiceError as exc:
                self.message_user(request, f"{org.name}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{org.name}: re-synced ({outcome.label}).", messages.SUCCESS)

    @admin.action(description="Downgrade if the grace period has ended")
    def expire_grace_if_due(self, request: Any, queryset: QuerySet[OrganizationBilling]) -> None:
        expired = sum(backoffice.organization_grace_expire(organization=org, actor=request.user) for org in queryset)
        self.message_user(request, f"Downgraded {expired} organization(s) whose grace period had ended.")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "organization", "kind", "channel", "status", "attempts", "next_attempt_at"]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["organization__name", "last_error"]
    list_select_related = ["organization"]
    readonly_fields = [f.name for f in Notification._meta.fields]
    actions = ["retry_now"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    @admin.action(description="Retry now")
    def retry_now(self, request: Any, queryset: QuerySet[Notification]) -> None:
        due = queryset.exclude(status=NotificationStatus.SENT).select_related("organization")
        results = [backoffice.notification_retry(notification=n, actor=request.user) for n in due]
        sent = sum(1 for n in results if n is not None and n.status == NotificationStatus.SENT)
        self.message_user(request, f"Retried {len(results)} notification(s); {sent} delivered.")


@admin.register(StripeEventReceipt)
class StripeEventReceiptAdmin(admin.ModelAdmin):
    list_display = ["received_at", "event_id", "type", "outcome", "organization", "stripe_created"]
    list_filter = ["outcome", "type"]
    search_fields = ["event_id", "organization__name"]
    list_select_related = ["organization"]
    readonly_fields = [f.name for f in StripeEventReceipt._meta.fields]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


def _sent_by_stripe(obj: Any, name: str) -> bool:
    """False for a dj-stripe property whose key the Stripe API version in use no longer sends."""
    try:
        getattr(obj, name)
    except KeyError:
        return False
    return True


admin.site.unregister(Invoice)


@admin.register(Invoice)
class InvoiceAdmin(DjstripeInvoiceAdmin):
    """dj-stripe's invoices, without `paid`: Stripe dropped it in API 2025-03-31 and reading it raised KeyError
    on the list and on every invoice's page. Search is by invoice id: `number` is not a column."""

    list_display = ("total", "status", "currency", "number", "customer")
    search_fields = ()

    def get_readonly_fields(self, request: Any, obj: Any = None) -> list[str]:
        fields = super().get_readonly_fields(request, obj)
        return [name for name in fields if obj is None or _sent_by_stripe(obj, name)]
