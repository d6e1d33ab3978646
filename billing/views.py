"""Customer pages of billing: plans, the current plan and its usage, checkout, plan changes, portal, invoices.

Every change goes to Stripe through the same services as the API; the organization follows when Stripe's webhook
reports it, so the page says "requested" until then.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Organization
from accounts.selectors import organization_members
from accounts.web import admin_page, organization_page, refused
from aragora_site.errors import ServiceError
from billing import selectors
from billing.services import self_service
from billing.services.subscriptions import LIVE_STATUSES
from billing.tiers import TIER_LIMITS, SubscriptionTier


def _plans(organization: Organization | None) -> list[dict]:
    current = organization.effective_tier if organization else None
    plans = []
    for plan in selectors.billing_plans():
        tier = SubscriptionTier(plan["tier"])
        plans.append({**plan, "limits": TIER_LIMITS[tier], "current": tier == current})
    return plans


@require_GET
def plans(request: HttpRequest) -> HttpResponse:
    """The public plan comparison."""
    organization = request.user.organization if request.user.is_authenticated else None
    context = {"plans": _plans(organization), "configured": selectors.billing_configured(), "section": "billing"}
    return render(request, "billing/plans.html", context)


@require_GET
@organization_page
def billing(request: HttpRequest, organization: Organization) -> HttpResponse:
    """The organization's plan, limits and usage, the other plans, and its invoices."""
    members = organization_members(organization=organization).count()
    live = bool(organization.stripe_subscription_id) and organization.subscription_status in LIVE_STATUSES
    context = {
        "section": "billing",
        "organization": organization,
        "limits": organization.limits,
        "members": members,
        "plans": _plans(organization),
        "has_subscription": live,
        "configured": selectors.billing_configured(),
        "invoices": selectors.organization_invoices(organization=organization),
        "is_admin": request.user.is_org_admin,
        "checkout": request.GET.get("checkout"),
    }
    return render(request, "billing/billing.html", context)


def _back(request: HttpRequest, **query: str) -> str:
    path = reverse("billing")
    return request.build_absolute_uri(path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""))


@require_POST
@admin_page
def checkout(request: HttpRequest, organization: Organization) -> HttpResponse:
    """Open Stripe Checkout for a paid plan and send the admin there."""
    try:
        session = self_service.subscription_checkout_start(
            organization=organization,
            tier=request.POST.get("tier", ""),
            success_url=_back(request, checkout="success"),
            cancel_url=_back(request, checkout="canceled"),
        )
    except ServiceError as exc:
        return refused(request, exc, "billing")
    return redirect(session.url)


@require_http_methods(["GET", "POST"])
@admin_page
def change_plan(request: HttpRequest, organization: Organization) -> HttpResponse:
    """Confirm, then ask Stripe to move the subscription to another paid plan (prorated)."""
    tier = request.POST.get("tier") or request.GET.get("tier", "")
    if tier not in SubscriptionTier.values or tier == SubscriptionTier.FREE:
        messages.error(request, "Choose a paid plan: Starter, Professional or Enterprise.")
        return redirect("billing")
    if request.method == "GET":
        context = {"section": "billing", "tier": SubscriptionTier(tier), "limits": TIER_LIMITS[SubscriptionTier(tier)]}
        return render(request, "billing/change_plan.html", context)
    try:
        self_service.subscription_change(organization=organization, tier=tier)
    except ServiceError as exc:
        return refused(request, exc, "billing")
    messages.success(
        request, f"Change to {SubscriptionTier(tier).label} requested: it shows here once Stripe confirms."
    )
    return redirect("billing")


@require_http_methods(["GET", "POST"])
@admin_page
def cancel(request: HttpRequest, organization: Organization) -> HttpResponse:
    """Confirm, then ask Stripe to cancel the subscription at the end of the paid period."""
    if request.method == "GET":
        return render(request, "billing/cancel.html", {"section": "billing", "organization": organization})
    try:
        self_service.subscription_cancel(organization=organization, at_period_end=True)
    except ServiceError as exc:
        return refused(request, exc, "billing")
    messages.success(request, "Cancellation requested: the plan stays until the end of the paid period.")
    return redirect("billing")


@require_POST
@admin_page
def portal(request: HttpRequest, organization: Organization) -> HttpResponse:
    """Open Stripe's customer portal (payment methods, invoices, billing details)."""
    try:
        url = self_service.portal_session_create(organization=organization, return_url=_back(request))
    except ServiceError as exc:
        return refused(request, exc, "billing")
    return redirect(url)
