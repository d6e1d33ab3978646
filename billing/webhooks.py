"""Stripe events in: claim the event, let dj-stripe sync its objects, then run our handler. Once, atomically.

`stripe_event_ingest` takes a verified event (from the webhook API or the reconcile command). Each handler
finds the organization and calls one service; it runs inside the event's transaction and returns the outcome
and the organization concerned (None when the event concerns none of ours).
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Organization
from billing import selectors, stripe_client
from billing.models import StripeEventOutcome, StripeEventReceipt
from billing.services import grace, subscriptions
from billing.stripe_client import WebhookEvent, object_id

logger = logging.getLogger("aragora.billing.webhooks")


@dataclass(frozen=True)
class IngestResult:
    duplicate: bool
    outcome: StripeEventOutcome | None
    receipt: StripeEventReceipt | None


def _claim(event: WebhookEvent) -> StripeEventReceipt | None:
    """Insert the event's receipt; None when another delivery of it already committed (or holds it)."""
    try:
        with transaction.atomic():
            return StripeEventReceipt.objects.create(
                event_id=event.id, type=event.type, stripe_created=event.created_at
            )
    except IntegrityError:
        return None


def _record_trigger(event: WebhookEvent, *, meta: dict[str, Any], djstripe_event: Any = None, error: str = "") -> None:
    from djstripe.models import WebhookEventTrigger

    WebhookEventTrigger.objects.create(
        remote_ip=meta.get("remote_ip") or "0.0.0.0",  # noqa: S104 (a record, not a bind address)
        headers=meta.get("headers") or {},
        body=json.dumps(event.raw),
        valid=True,
        processed=not error,
        exception=error[:128],
        traceback=traceback.format_exc() if error else "",
        event=djstripe_event,
    )


def stripe_event_ingest(*, event: WebhookEvent, meta: dict[str, Any] | None = None) -> IngestResult:
    """Store and apply one event exactly once; on failure roll everything back, keep an error record, re-raise."""
    from djstripe.models import Event

    meta = meta or {}
    config = stripe_client.stripe_config()
    try:
        with transaction.atomic():
            receipt = _claim(event)
            if receipt is None:
                return IngestResult(duplicate=True, outcome=None, receipt=None)
            djstripe_event = Event.process(event.raw, api_key=config.secret_key)
            outcome, organization = dispatch(event)
            receipt.outcome, receipt.organization = outcome, organization
            receipt.save(update_fields=["outcome", "organization"])
            _record_trigger(event, meta=meta, djstripe_event=djstripe_event)
    except Exception as exc:
        logger.exception("Stripe event %s (%s) failed; rolled back", event.id, event.type)
        _record_failure(event, meta, exc)
        raise
    return IngestResult(duplicate=False, outcome=outcome, receipt=receipt)


def _record_failure(event: WebhookEvent, meta: dict[str, Any], exc: Exception) -> None:
    try:
        _record_trigger(event, meta=meta, error=f"{type(exc).__name__}: {exc}")
    except Exception:
        logger.exception("Could not record the failure of Stripe event %s", event.id)


def stripe_events_reconcile(*, since: timedelta = timedelta(days=3)) -> dict[str, int]:
    """Process recent events whose webhook delivery failed and that were never applied here."""
    created_after = int((timezone.now() - since).timestamp())
    counts = {"listed": 0, "applied": 0, "already": 0, "failed": 0}
    for raw in stripe_client.list_undelivered_events(created_after=created_after):
        counts["listed"] += 1
        event = WebhookEvent.from_payload(raw)
        if StripeEventReceipt.objects.filter(event_id=event.id).exists():
            counts["already"] += 1
            continue
        try:
            result = stripe_event_ingest(event=event, meta={"headers": {"source": "reconcile"}})
        except Exception:
            counts["failed"] += 1
        else:
            counts["already" if result.duplicate else "applied"] += 1
    return counts


# ---------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------
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
        customer_id=object_id(session.get("customer")),
        org_id=event.data.metadata.get("org_id") or session.get("client_reference_id") or "",
    )
    if org is None or session.get("mode") != "subscription":
        return StripeEventOutcome.IGNORED, org
    subscription = None
    if session.get("payment_status") in subscriptions.PAID_CHECKOUT:
        subscription = _synced_subscription(object_id(session.get("subscription")))
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
    if org.stripe_subscription_event_at == event.created_at and org.stripe_subscription_id == info.id:
        # Stripe stamps events in whole seconds and does not promise their order: of two events of one
        # second, this one may be the older. Apply the subscription as Stripe has it now instead.
        info = stripe_client.get_subscription(info.id)
    return subscriptions.organization_subscription_apply(organization=org, info=info, event_at=event.created_at), org


def _invoice_subscription_id(invoice: dict[str, Any]) -> str:
    # Since API 2025-03-31 an invoice names its subscription under parent.subscription_details.
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return object_id(details.get("subscription")) or object_id(invoice.get("subscription"))


def _invoice_organization(invoice: dict[str, Any]) -> Organization | None:
    subscription_id = _invoice_subscription_id(invoice)
    if not subscription_id:
        return None
    org = selectors.organization_for_stripe(
        subscription_id=subscription_id, customer_id=object_id(invoice.get("customer"))
    )
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
