"""What each Stripe event does. Each handler finds the organization and calls one service.

Handlers run inside the event's transaction, after dj-stripe has stored the event and synced its objects.
They return the outcome and the organization concerned (None when the event concerns none of ours).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from accounts.models import Organization
from billing import selectors, stripe_client
from billing.models import StripeEventOutcome
from billing.services import grace, subscriptions
from billing.stripe_client import WebhookEvent

logger = logging.getLogger("aragora.billing.webhooks")

Result = tuple[StripeEventOutcome, Organization | None]
HANDLERS: dict[str, Callable[[WebhookEvent], Result]] = {}


def handles(*event_types: str) -> Callable:
    def register(handler: Callable[[WebhookEvent], Result]) -> Callable[[WebhookEvent], Result]:
        for event_type in event_types:
            HANDLERS[event_type] = handler
        return handler

    return register


def dispatch(event: WebhookEvent) -> Result:
    """Run the handler for the event's type; types without one are acknowledged and ignored."""
    handler = HANDLERS.get(event.type)
    if handler is None:
        return StripeEventOutcome.UNHANDLED, None
    return handler(event)


def _id(value: Any) -> str:
    return value.get("id", "") if isinstance(value, dict) else (value or "")


def _synced_subscription(subscription_id: str) -> stripe_client.SubscriptionInfo | None:
    """The subscription as dj-stripe just re-read it from Stripe, else as Stripe has it now."""
    from djstripe.models import Subscription

    if not subscription_id:
        return None
    synced = Subscription.objects.filter(id=subscription_id).first()
    if synced is not None and synced.stripe_data:
        return stripe_client.subscription_info(synced.stripe_data)
    return stripe_client.get_subscription(subscription_id)


@handles("checkout.session.completed", "checkout.session.async_payment_succeeded")
def checkout_session_completed(event: WebhookEvent) -> Result:
    session = event.data.object
    org = selectors.organization_for_stripe(
        customer_id=_id(session.get("customer")),
        org_id=event.data.metadata.get("org_id") or session.get("client_reference_id") or "",
    )
    if org is None or session.get("mode") != "subscription":
        return StripeEventOutcome.IGNORED, org
    subscription = None
    if session.get("payment_status") in subscriptions.PAID_CHECKOUT:
        subscription = _synced_subscription(_id(session.get("subscription")))
    outcome = subscriptions.organization_checkout_complete(
        organization=org, session=session, subscription=subscription, event_at=event.created_at
    )
    return outcome, org


@handles("customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted")
def subscription_changed(event: WebhookEvent) -> Result:
    info = stripe_client.subscription_info(event.data.object)
    org = selectors.organization_for_stripe(
        subscription_id=info.id, customer_id=info.customer_id, org_id=info.metadata.get("org_id", "")
    )
    if org is None:
        return StripeEventOutcome.IGNORED, None
    return subscriptions.organization_subscription_apply(organization=org, info=info, event_at=event.created_at), org


def _invoice_subscription_id(invoice: dict[str, Any]) -> str:
    # Since API 2025-03-31 an invoice names its subscription under parent.subscription_details.
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return _id(details.get("subscription")) or _id(invoice.get("subscription"))


def _invoice_organization(invoice: dict[str, Any]) -> Organization | None:
    subscription_id = _invoice_subscription_id(invoice)
    if not subscription_id:
        return None
    org = selectors.organization_for_stripe(subscription_id=subscription_id, customer_id=_id(invoice.get("customer")))
    if org is None or org.stripe_subscription_id not in ("", subscription_id):
        return None
    return org


@handles("invoice.payment_failed")
def invoice_payment_failed(event: WebhookEvent) -> Result:
    invoice = event.data.object
    org = _invoice_organization(invoice)
    if org is None:
        return StripeEventOutcome.IGNORED, None
    return grace.organization_payment_failed(organization=org, invoice=invoice, event_at=event.created_at), org


@handles("invoice.paid", "invoice.payment_succeeded")
def invoice_paid(event: WebhookEvent) -> Result:
    invoice = event.data.object
    org = _invoice_organization(invoice)
    if org is None:
        return StripeEventOutcome.IGNORED, None
    return grace.organization_payment_succeeded(organization=org, invoice=invoice, event_at=event.created_at), org
