"""Stripe events in: claim the event, sync dj-stripe's copy of its object, then run our handler. Once, atomically.

`stripe_event_ingest` takes a verified event (from the webhook API or the reconcile command). Each handler
is given the organization the event concerns (found and locked with one query) and calls one service; it runs
inside the event's transaction and returns the outcome.

The event's object is stored as the signed payload carries it when that payload is complete (our API version, no
list cut short) and not older than what the organization already applied; otherwise it is re-read from Stripe.
No Stripe request is ever made inside the transaction: reads are made before it (see `StripeReads`), and a read
discovered inside it rolls the attempt back, is made, and the transaction runs again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Organization
from aragora_site import db
from billing import selectors, stripe_client
from billing.models import StripeEventOutcome, StripeEventReceipt
from billing.services import grace, stripe_mirror, subscriptions
from billing.stripe_client import WebhookEvent, object_id
from billing.stripe_reads import StripeReads

logger = logging.getLogger("aragora.billing.webhooks")


@dataclass(frozen=True)
class IngestResult:
    duplicate: bool
    outcome: StripeEventOutcome | None


class _AlreadyClaimed(Exception):
    """Another delivery of the event committed first (or holds the claim)."""


def _claim(event: WebhookEvent, *, owner: Any) -> Any:
    """Insert the event's receipt and dj-stripe's row of the event, as the transaction's first writes (together on
    PostgreSQL); return that row. Raise _AlreadyClaimed for a duplicate.

    dj-stripe may hold the event's row already (synced from Stripe's event list), and keeps it.
    """
    from djstripe.models import Event

    receipt = StripeEventReceipt(event_id=event.id, type=event.type, stripe_created=event.created_at)
    djstripe_event = stripe_mirror.stripe_event_unsaved(raw=event.raw, owner=owner)
    try:
        inserted = db.statements_run(
            db.insert_statement(StripeEventReceipt, [db.instance_row(receipt)]),
            db.insert_statement(Event, [db.instance_row(djstripe_event)], conflict="id", returning="djstripe_id"),
        )
    except IntegrityError as exc:  # only the receipt can clash
        raise _AlreadyClaimed from exc
    if not inserted:
        return Event.objects.get(id=event.id)
    djstripe_event.djstripe_id = inserted[0][0]
    djstripe_event._state.adding = False
    return djstripe_event


def stripe_event_ingest(*, event: WebhookEvent, meta: dict[str, Any] | None = None) -> IngestResult:
    """Store and apply one event exactly once; on failure roll everything back, keep an error record, re-raise."""
    meta = meta or {}
    api_key = stripe_client.stripe_config().secret_key
    try:
        with StripeReads() as reads, stripe_mirror.stripe_keys_remembered(api_key=api_key) as owner:
            if _read_ahead(event, api_key):
                return IngestResult(duplicate=True, outcome=None)
            return reads.run(lambda: _apply(event, meta, reads=reads, owner=owner, api_key=api_key))
    except _AlreadyClaimed:
        return IngestResult(duplicate=True, outcome=None)
    except Exception as exc:
        logger.exception("Stripe event %s (%s) failed; rolled back", event.id, event.type)
        stripe_mirror.stripe_keys_forget()  # in case the remembered owner account is what failed
        _record_failure(event, meta, exc)
        raise


@transaction.atomic
def _apply(event: WebhookEvent, meta: dict[str, Any], *, reads: StripeReads, owner: Any, api_key: str) -> IngestResult:
    djstripe_event = _claim(event, owner=owner)
    route = ROUTES.get(event.type)
    if route is None:
        djstripe_event.invoke_webhook_handlers()  # dj-stripe's own sync of types we do not act on
        outcome, organization = StripeEventOutcome.UNHANDLED, None
    else:
        organization = route.organization(event)
        _mirror(event, route, organization, api_key=api_key, owner=owner)
        outcome = route.handler(event, organization)
    outcome_values = {"outcome": outcome, "organization_id": organization.pk if organization is not None else None}
    db.statements_run(
        db.update_statement(StripeEventReceipt, outcome_values, where="event_id", equals=event.id),
        stripe_mirror.stripe_delivery_statement(raw=event.raw, meta=meta, djstripe_event=djstripe_event),
    )
    reads.raise_deferred()
    return IngestResult(duplicate=False, outcome=outcome)


def _read_ahead(event: WebhookEvent, api_key: str) -> bool:
    """Make the Stripe reads an event is known to need before its transaction (saves an attempt each).

    Return True, reading nothing, when the event was already applied (a redelivery).
    """
    route = ROUTES.get(event.type)
    obj = event.data.object
    if route is None or not obj.get("id"):
        return False
    needed = list(route.current_related(obj))
    if not stripe_mirror.payload_is_complete(obj, api_version=event.api_version):
        needed.append((route.mirror, obj["id"]))
    if needed and StripeEventReceipt.objects.filter(event_id=event.id).exists():
        return True
    for model, needed_id in needed:
        stripe_mirror.stripe_object_read(model=model, object_id=needed_id, api_key=api_key)
    return False


def _mirror(event: WebhookEvent, route: Route, organization: Organization | None, *, api_key: str, owner: Any) -> None:
    """Sync dj-stripe's copy of the event's object: from the payload, or re-read when it is partial or not newer."""
    obj = event.data.object
    if not obj.get("id"):
        return
    watermark = route.watermark(organization, obj) if organization is not None else None
    newer = watermark is None or event.created_at > watermark
    if newer and stripe_mirror.payload_is_complete(obj, api_version=event.api_version):
        stripe_mirror.stripe_object_sync(model=route.mirror, data=obj, api_key=api_key, owner=owner)
    else:
        stripe_mirror.stripe_object_reread(model=route.mirror, object_id=obj["id"], api_key=api_key)
    for model, related_id in route.current_related(obj):
        stripe_mirror.stripe_object_reread(model=model, object_id=related_id, api_key=api_key)


def _record_failure(event: WebhookEvent, meta: dict[str, Any], exc: Exception) -> None:
    try:
        db.statements_run(
            stripe_mirror.stripe_delivery_statement(raw=event.raw, meta=meta, error=f"{type(exc).__name__}: {exc}")
        )
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
Handler = Callable[[WebhookEvent, Organization | None], StripeEventOutcome]


@dataclass(frozen=True)
class Route:
    handler: Handler
    organization: Callable[[WebhookEvent], Organization | None]
    mirror: str  # the dj-stripe model that keeps the event's object
    # When the organization last applied an event about this object (None: no order to keep).
    watermark: Callable[[Organization, dict[str, Any]], datetime | None]
    # Objects the handler needs as Stripe has them now: re-read and synced along with the event's object.
    current_related: Callable[[dict[str, Any]], list[tuple[str, str]]] = lambda obj: []


ROUTES: dict[str, Route] = {}


def handles(*event_types: str, **route: Any) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for event_type in event_types:
            ROUTES[event_type] = Route(handler=handler, **route)
        return handler

    return register


def _synced_subscription(subscription_id: str) -> stripe_client.SubscriptionInfo | None:
    """The subscription as dj-stripe just synced it, else as Stripe has it now."""
    from djstripe.models import Subscription

    if not subscription_id:
        return None
    synced = Subscription.objects.filter(id=subscription_id).values_list("stripe_data", flat=True).first()
    if synced:
        return stripe_client.subscription_info(synced)
    return stripe_client.get_subscription(subscription_id)


def _checkout_organization(event: WebhookEvent) -> Organization | None:
    session = event.data.object
    return selectors.organization_for_stripe(
        customer_id=object_id(session.get("customer")),
        org_id=event.data.metadata.get("org_id") or session.get("client_reference_id") or "",
        lock=True,
    )


def _no_watermark(organization: Organization, obj: dict[str, Any]) -> None:
    return None


def _paid_checkout_subscription(session: dict[str, Any]) -> list[tuple[str, str]]:
    subscription_id = object_id(session.get("subscription"))
    if session.get("payment_status") in subscriptions.PAID_CHECKOUT and subscription_id:
        return [("Subscription", subscription_id)]
    return []


@handles(
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    organization=_checkout_organization,
    mirror="Session",
    watermark=_no_watermark,
    current_related=_paid_checkout_subscription,
)
def checkout_session_completed(event: WebhookEvent, org: Organization | None) -> StripeEventOutcome:
    session = event.data.object
    if org is None or session.get("mode") != "subscription":
        return StripeEventOutcome.IGNORED
    subscription = None
    if session.get("payment_status") in subscriptions.PAID_CHECKOUT:
        subscription = _synced_subscription(object_id(session.get("subscription")))
    return subscriptions.organization_checkout_complete(
        organization=org, session=session, subscription=subscription, event_at=event.created_at
    )


def _subscription_organization(event: WebhookEvent) -> Organization | None:
    obj = event.data.object
    return selectors.organization_for_stripe(
        subscription_id=obj.get("id") or "",
        customer_id=object_id(obj.get("customer")),
        org_id=event.data.metadata.get("org_id", ""),
        lock=True,
    )


def _subscription_watermark(organization: Organization, obj: dict[str, Any]) -> datetime | None:
    if organization.stripe_subscription_id != obj.get("id"):
        return None
    return organization.stripe_subscription_event_at


@handles(
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    organization=_subscription_organization,
    mirror="Subscription",
    watermark=_subscription_watermark,
)
def subscription_changed(event: WebhookEvent, org: Organization | None) -> StripeEventOutcome:
    if org is None:
        return StripeEventOutcome.IGNORED
    info = stripe_client.subscription_info(event.data.object)
    if org.stripe_subscription_event_at == event.created_at and org.stripe_subscription_id == info.id:
        # Stripe stamps events in whole seconds and does not promise their order: of two events of one
        # second, this one may be the older. Apply the subscription as Stripe has it now instead.
        info = stripe_client.get_subscription(info.id)
    return subscriptions.organization_subscription_apply(
        organization=org, info=info, event_at=event.created_at, locked=True
    )


def _invoice_subscription_id(invoice: dict[str, Any]) -> str:
    # Since API 2025-03-31 an invoice names its subscription under parent.subscription_details.
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return object_id(details.get("subscription")) or object_id(invoice.get("subscription"))


def _invoice_organization(event: WebhookEvent) -> Organization | None:
    invoice = event.data.object
    subscription_id = _invoice_subscription_id(invoice)
    if not subscription_id:
        return None
    org = selectors.organization_for_stripe(
        subscription_id=subscription_id, customer_id=object_id(invoice.get("customer")), lock=True
    )
    if org is None or org.stripe_subscription_id not in ("", subscription_id):
        return None
    return org


def _payment_watermark(organization: Organization, obj: dict[str, Any]) -> datetime | None:
    return organization.stripe_payment_event_at


@handles(
    "invoice.payment_failed",
    organization=_invoice_organization,
    mirror="Invoice",
    watermark=_payment_watermark,
)
def invoice_payment_failed(event: WebhookEvent, org: Organization | None) -> StripeEventOutcome:
    if org is None:
        return StripeEventOutcome.IGNORED
    return grace.organization_payment_failed(
        organization=org, invoice=event.data.object, event_at=event.created_at, locked=True
    )


@handles(
    "invoice.paid",
    "invoice.payment_succeeded",
    organization=_invoice_organization,
    mirror="Invoice",
    watermark=_payment_watermark,
)
def invoice_paid(event: WebhookEvent, org: Organization | None) -> StripeEventOutcome:
    if org is None:
        return StripeEventOutcome.IGNORED
    return grace.organization_payment_succeeded(
        organization=org, invoice=event.data.object, event_at=event.created_at, locked=True
    )
