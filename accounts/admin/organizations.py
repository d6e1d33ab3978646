"""Back office for organizations: members inline, tier and debates changed through reasoned, recorded actions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from accounts import backoffice, services
from accounts.models import (
    Organization,
    User,
)
from aragora_site.admin_actions import ReasonForm, object_action_view, reason_form_page
from billing.selectors import organization_stripe_records
from billing.services.backoffice import organization_tier_override
from billing.tiers import SubscriptionTier


class MemberInline(admin.TabularInline):
    """Members' role and status; new members are added through the API, within the tier's user limit."""

    model = User
    fields = ["email", "name", "role", "is_active"]
    readonly_fields = ["email"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TierOverrideForm(ReasonForm):
    tier = forms.ChoiceField(choices=SubscriptionTier.choices)

    field_order = ["tier", "reason"]


def _plan_state(org: Organization) -> str:
    limit = org.limits.debates_per_month
    used = f"{org.debates_used} of {limit}" if limit is not None else f"{org.debates_used} (unlimited)"
    return f"{org}: {org.get_tier_display()} tier, {org.effective_tier.label} in force; {used} debates used"


def _admin_link(label: str, name: str, *, args: list[Any] | None = None, query: dict[str, Any] | None = None) -> tuple:
    url = reverse(f"admin:{name}", args=args)
    return (f"{url}?{urlencode(query)}" if query else url, label)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "tier",
        "tier_in_force",
        "debates_used",
        "debates_remaining",
        "member_count",
        "owner",
        "created_at",
    ]
    list_filter = ["tier"]
    search_fields = ["name", "slug", "owner__email", "id"]
    fieldsets = [
        (None, {"fields": ["id", "name", "slug", "owner"]}),
        ("Plan and quota", {"fields": ["tier", "tier_in_force", "debates_used", "debates_remaining", "period_start"]}),
        ("Related", {"fields": ["related_links"]}),
        ("Dates", {"fields": ["created_at", "updated_at"]}),
    ]
    # The tier and the quota counter change only through the actions below, which ask why and record it.
    readonly_fields = [
        "id",
        "tier",
        "tier_in_force",
        "debates_used",
        "debates_remaining",
        "related_links",
        "created_at",
        "updated_at",
    ]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner"]
    inlines = [MemberInline]
    actions = ["override_tier", "reset_usage"]

    def get_queryset(self, request: Any) -> QuerySet[Organization]:
        return super().get_queryset(request).annotate(_members=Count("members", filter=Q(members__is_active=True)))

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/override-tier/", view(self.override_tier_view), name="accounts_organization_tier"),
            path("<path:object_id>/reset-debates/", view(self.reset_usage_view), name="accounts_organization_reset"),
            *super().get_urls(),
        ]

    @admin.display(description="Members", ordering="_members")
    def member_count(self, obj: Organization) -> int:
        return obj._members

    @admin.display(description="Tier in force")
    def tier_in_force(self, obj: Organization) -> str:
        return obj.effective_tier.label

    @admin.display(description="Debates remaining")
    def debates_remaining(self, obj: Organization) -> str:
        remaining = obj.debates_remaining
        return "unlimited" if remaining is None else str(remaining)

    @admin.display(description="Links")
    def related_links(self, obj: Organization) -> str:
        if obj.pk is None:
            return "-"
        own = {"organization__id__exact": obj.pk}
        stripe = organization_stripe_records(organization=obj)
        links = [_admin_link("Billing state", "billing_organizationbilling_change", args=[obj.pk])]
        if stripe["subscription"] is not None:
            links.append(
                _admin_link("Stripe subscription", "djstripe_subscription_change", args=[stripe["subscription"]])
            )
        if stripe["customer"] is not None:
            links.append(_admin_link("Stripe customer", "djstripe_customer_change", args=[stripe["customer"]]))
        if stripe["has_invoices"]:
            query = {"customer__id__exact": obj.stripe_customer_id}
            links.append(_admin_link("Invoices", "djstripe_invoice_changelist", query=query))
        links += [
            _admin_link("Stripe events", "billing_stripeeventreceipt_changelist", query=own),
            _admin_link("Monthly spend", "usage_usagemonthly_changelist", query=own),
            _admin_link("Usage events", "usage_usageevent_changelist", query=own),
            _admin_link("Members", "accounts_user_changelist", query=own),
            _admin_link("Notifications", "billing_notification_changelist", query=own),
            _admin_link("Audit log", "aragora_site_auditentry_changelist", query=own),
        ]
        items = format_html_join("", '<li><a href="{}">{}</a></li>', links)
        return format_html('<ul class="related-links">{}</ul>', items)

    @admin.action(description="Override tier…", permissions=["change"])
    def override_tier(self, request: Any, queryset: QuerySet[Organization]) -> TemplateResponse | None:
        def apply(org: Organization, data: dict[str, Any]) -> str:
            organization_tier_override(organization=org, tier=data["tier"], reason=data["reason"], actor=request.user)
            return f"{org.name}: now on the {org.effective_tier.label} tier."

        return reason_form_page(
            self,
            request,
            queryset,
            form_class=TierOverrideForm,
            action="override_tier",
            title="Override tier",
            submit_label="Override tier",
            apply=apply,
            describe=_plan_state,
        )

    @admin.action(description="Reset this period's debates…", permissions=["change"])
    def reset_usage(self, request: Any, queryset: QuerySet[Organization]) -> TemplateResponse | None:
        def apply(org: Organization, data: dict[str, Any]) -> str:
            backoffice.organization_debates_reset(organization=org, actor=request.user, reason=data["reason"])
            return f"{org.name}: debates used this period reset to 0."

        return reason_form_page(
            self,
            request,
            queryset,
            form_class=ReasonForm,
            action="reset_usage",
            title="Reset this period's debates",
            submit_label="Reset debates",
            apply=apply,
            describe=_plan_state,
        )

    def override_tier_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return object_action_view(self, request, object_id, self.override_tier)

    def reset_usage_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return object_action_view(self, request, object_id, self.reset_usage)

    def save_formset(self, request: Any, form: Any, formset: Any, change: bool) -> None:
        changed = [f.instance for f in formset.forms if f.instance.pk is not None and f.has_changed()]
        before = backoffice.members_snapshot(user_ids=[user.pk for user in changed])
        super().save_formset(request, form, formset, change)
        for user in changed:
            if before[user.pk]["is_active"] and not user.is_active:
                services.user_deactivate(user=user, reason=f"admin:{request.user}")
            backoffice.member_changes_record(user=user, before=before[user.pk], actor=request.user)
