"""Reads for billing."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection

from accounts.models import Organization
from billing import stripe_client
from billing.tiers import TIER_LIMITS, SubscriptionTier


def organization_for_stripe(
    *, subscription_id: str = "", customer_id: str = "", org_id: str = "", lock: bool = False
) -> Organization | None:
    """Return the organization a Stripe object belongs to: by subscription, then customer, then our metadata.

    One query for all three; the first organization (by primary key) of the best kind of match wins. `lock`
    reads the candidates FOR UPDATE (inside a transaction that goes on to change the organization). The query is
    written once per shape: compiling it through the ORM cost more than running it, on every webhook.
    """
    try:
        pk = uuid.UUID(str(org_id)) if org_id else None
    except ValueError:
        pk = None
    matches = [
        (field, value)
        for field, value in [
            ("stripe_subscription_id", subscription_id),
            ("stripe_customer_id", customer_id),
            ("id", pk),
        ]
        if value
    ]
    if not matches:
        return None
    sql = _organizations_sql(connection.vendor, tuple(field for field, _ in matches), lock)
    fields = {field: Organization._meta.get_field(field) for field, _ in matches}
    params = [fields[field].get_db_prep_value(value, connection) for field, value in matches]
    candidates = list(Organization.objects.raw(sql, params))
    for field, value in matches:
        for org in candidates:
            if getattr(org, field) == value:
                return org
    return None


@functools.lru_cache(maxsize=32)
def _organizations_sql(vendor: str, fields: tuple[str, ...], lock: bool) -> str:
    """The lookup of organization_for_stripe: written once per shape, as the ORM would write it."""
    quote, meta = connection.ops.quote_name, Organization._meta
    columns = ", ".join(quote(f.column) for f in meta.concrete_fields)
    where = " OR ".join(f"{quote(meta.get_field(name).column)} = %s" for name in fields)
    sql = f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {where} ORDER BY {quote(meta.pk.column)}"  # noqa: S608
    return sql + (" FOR UPDATE" if lock and connection.features.has_select_for_update else "")


def billing_plans() -> list[dict[str, Any]]:
    """Return every tier with its limits, price and whether it can be bought here."""
    plans = []
    for tier, limits in TIER_LIMITS.items():
        purchasable = False
        if tier != SubscriptionTier.FREE:
            try:
                stripe_client.price_for_tier(tier)
                purchasable = True
            except stripe_client.StripeConfigError:
                purchasable = False
        plans.append({"tier": tier.value, "name": tier.label, "limits": limits, "purchasable": purchasable})
    return plans


def subscription_summary(*, organization: Organization) -> dict[str, Any]:
    """Return what the organization's admins see of its subscription."""
    return {
        "tier": organization.effective_tier,
        "status": organization.subscription_status or None,
        "has_subscription": bool(organization.stripe_subscription_id),
        "current_period_end": organization.current_period_end,
        "cancel_at_period_end": organization.cancel_at_period_end,
        "grace_until": organization.grace_until,
        "limits": organization.limits,
    }


def organization_invoices(*, organization: Organization, limit: int = 24) -> list[dict[str, Any]]:
    """Return the organization's invoices as dj-stripe synced them, newest first (amounts in major units)."""
    from djstripe.models import Invoice

    if not organization.stripe_customer_id:
        return []
    rows = Invoice.objects.filter(customer_id=organization.stripe_customer_id).order_by("-created")[:limit]
    return [_invoice(row.stripe_data or {}, row.created) for row in rows]


def _invoice(data: dict[str, Any], created: datetime | None) -> dict[str, Any]:
    cents = data.get("total", data.get("amount_due")) or 0
    return {
        "id": data.get("id", ""),
        "number": data.get("number") or "",
        "created": created,
        "amount": Decimal(cents) / 100,
        "currency": (data.get("currency") or "usd").upper(),
        "status": data.get("status") or "",
        "url": data.get("hosted_invoice_url") or data.get("invoice_pdf") or "",
        "pdf": data.get("invoice_pdf") or "",
    }


def billing_configured() -> bool:
    """Return True when paid plans can be bought here (Stripe key and every price configured)."""
    try:
        stripe_client.stripe_config()
    except stripe_client.StripeConfigError:
        return False
    return all(plan["purchasable"] for plan in billing_plans() if plan["tier"] != SubscriptionTier.FREE)


def organization_stripe_records(*, organization: Organization) -> dict[str, Any]:
    """Return the keys of the organization's synced Stripe customer and subscription, and whether it has invoices.

    A key is None when dj-stripe holds no copy of the object. Three indexed lookups.
    """
    from djstripe.models import Customer, Invoice, Subscription

    customer_id, subscription_id = organization.stripe_customer_id, organization.stripe_subscription_id
    return {
        "customer": Customer.objects.filter(id=customer_id).values_list("pk", flat=True).first()
        if customer_id
        else None,
        "subscription": Subscription.objects.filter(id=subscription_id).values_list("pk", flat=True).first()
        if subscription_id
        else None,
        "has_invoices": bool(customer_id) and Invoice.objects.filter(customer_id=customer_id).exists(),
    }
