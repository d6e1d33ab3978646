"""Take in a verified Stripe event: once, in one transaction, through dj-stripe and then our handler."""

from __future__ import annotations

import json
import logging
import traceback
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import stripe_client, webhooks
from billing.models import StripeEventOutcome, StripeEventReceipt
from billing.stripe_client import WebhookEvent

logger = logging.getLogger("aragora.billing.events")


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
            outcome, organization = webhooks.dispatch(event)
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
        event = _event_from_api(raw)
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


def _event_from_api(raw: dict[str, Any]) -> WebhookEvent:
    data = raw.get("data") or {}
    return WebhookEvent(
        id=raw["id"],
        type=raw["type"],
        created=int(raw["created"]),
        livemode=bool(raw.get("livemode")),
        api_version=raw.get("api_version") or "",
        data=stripe_client.WebhookEventData(
            object=data.get("object") or {}, previous_attributes=data.get("previous_attributes") or {}
        ),
        raw=raw,
    )
