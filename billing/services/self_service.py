"""What an organization's admins (and staff) ask of Stripe: checkout, cancel, change of plan, portal, re-sync.

These calls change Stripe only; the organization follows when Stripe's webhook for the change arrives, so
webhooks stay the one writer of subscription state (re-sync applies Stripe's current state directly).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import stripe
from django.db import transaction
from django.utils import timezone

from accounts.models import Organization
from aragora_site.errors import ServiceError
from aragora_site.http import redirect_allowed
from billing import stripe_client
from billing.models import IdempotencyRecord, StripeEventOutcome
from billing.services.subscriptions import LIVE_STATUSES, organization_subscription_apply
from billing.tiers import SubscriptionTier

STRIPE_RATE_LIMIT_RETRY_SECONDS = 2


def _retry_after(exc: stripe.StripeError) -> int:
    value = str((exc.headers or {}).get("Retry-After", ""))
    return int(value) if value.isdigit() and 0 < int(value) <= 3600 else STRIPE_RATE_LIMIT_RETRY_SECONDS


def _refusal(exc: stripe.StripeError) -> ServiceError:
    """Return the API error for a Stripe failure, by cause: the client's doing (4xx), Stripe's (502, 503)."""
    message = exc.user_message or "Stripe refused the request."
    if isinstance(exc, stripe.IdempotencyError) or exc.http_status == 409:  # 409: the key is still in use
        return ServiceError(message, code="idempotency_conflict", status=409)
    if isinstance(exc, stripe.CardError):
        return ServiceError(message, code="card_declined", status=402)
    if isinstance(exc, stripe.InvalidRequestError) and exc.http_status == 404:
        return ServiceError(message, code="stripe_resource_missing", status=409)
    if isinstance(exc, stripe.InvalidRequestError):
        return ServiceError(message, code="stripe_invalid_request", status=400)
    if isinstance(exc, stripe.RateLimitError):
        refusal = ServiceError("Stripe is rate limiting this service; retry shortly.", code="stripe_rate_limited")
        refusal.status, refusal.retry_after = 503, _retry_after(exc)
        return refusal
    if isinstance(exc, stripe.APIConnectionError):
        return ServiceError("Stripe could not be reached; try again.", code="stripe_unavailable", status=502)
    return ServiceError("Stripe failed to answer the request; try again.", code="stripe_error", status=502)


@contextmanager
def stripe_errors() -> Iterator[None]:
    """Turn Stripe's failures into API errors: 503 when unconfigured or rate limited, 502 when Stripe fails or
    cannot be reached, 4xx when Stripe refuses what the client asked (a state conflict, a declined card)."""
    try:
        yield
    except stripe_client.StripeConfigError as exc:
        raise ServiceError(f"Billing is not configured: {exc}", code="stripe_not_configured", status=503) from exc
    except stripe.StripeError as exc:
        raise _refusal(exc) from exc


def _fingerprint(operation: str, params: dict[str, Any]) -> str:
    document = json.dumps({"operation": operation, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(document.encode()).hexdigest()


@contextmanager
def idempotency_claim(
    *, organization: Organization, operation: str, client_key: str | None, params: dict[str, Any]
) -> Iterator[str | None]:
    """Yield the Stripe idempotency key for a client's Idempotency-Key and every parameter of the operation.

    The key is remembered with a fingerprint of the operation and its parameters (in the database, so every
    worker sees it): reusing it with anything else is a 409 `idempotency_conflict` before Stripe is called.
    When the call fails, a key claimed by this request is released, so a refused request leaves nothing behind.
    """
    if not client_key:
        yield None
        return
    fingerprint = _fingerprint(operation, params)
    record, created = IdempotencyRecord.objects.get_or_create(
        organization=organization, key=client_key, defaults={"operation": operation, "fingerprint": fingerprint}
    )
    if record.fingerprint != fingerprint:
        raise ServiceError(
            "This Idempotency-Key was already used with other parameters; use a new key for a new request.",
            code="idempotency_conflict",
            status=409,
        )
    digest = hashlib.sha256(f"{organization.pk}|{client_key}|{fingerprint}".encode()).hexdigest()
    try:
        yield f"aragora-{operation}-{digest[:48]}"
    except BaseException:
        if created:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
        raise


IDEMPOTENCY_KEY_DAYS = 7  # Stripe keeps a key for 24 hours; a client's retry comes long before a week


def idempotency_records_prune(*, now: datetime | None = None, days: int = IDEMPOTENCY_KEY_DAYS) -> int:
    """Delete Idempotency-Key records older than `days`; return how many. After that a key counts as new."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _redirects_check(*urls: str) -> None:
    for url in urls:
        if not redirect_allowed(url):
            raise ServiceError(
                f"Return addresses must be on this service's hosts; {urlsplit(url).hostname or url!r} is not one.",
                code="redirect_not_allowed",
            )


def _paid_tier(tier: str) -> SubscriptionTier:
    if tier not in SubscriptionTier.values or tier == SubscriptionTier.FREE:
        raise ServiceError("Choose a paid tier: starter, professional or enterprise.", code="invalid_tier")
    return SubscriptionTier(tier)


def _has_live_subscription(organization: Organization) -> bool:
    return bool(organization.stripe_subscription_id) and organization.subscription_status in LIVE_STATUSES


def _customer_for(organization: Organization) -> str:
    """Return the organization's Stripe customer, created at Stripe when it has none (not saved here)."""
    if organization.stripe_customer_id:
        return organization.stripe_customer_id
    return stripe_client.create_customer(
        email=organization.email,
        name=organization.name,
        metadata={"org_id": str(organization.pk), "djstripe_subscriber": str(organization.pk)},
        idempotency_key=f"aragora-customer-create-{organization.pk}",
    )


def _customer_remember(organization: Organization, customer_id: str) -> None:
    Organization.objects.filter(pk=organization.pk, stripe_customer_id="").update(stripe_customer_id=customer_id)
    organization.refresh_from_db(fields=["stripe_customer_id"])


def subscription_checkout_start(
    *, organization: Organization, tier: str, success_url: str, cancel_url: str, client_key: str | None = None
) -> stripe_client.CheckoutSession:
    """Open a Checkout session in which the organization subscribes to a paid tier."""
    paid_tier = _paid_tier(tier)
    _redirects_check(success_url, cancel_url)
    if _has_live_subscription(organization):
        raise ServiceError(
            "The organization already has a subscription; change its plan instead.",
            code="subscription_exists",
            status=409,
        )
    params = {"tier": paid_tier.value, "success_url": success_url, "cancel_url": cancel_url}
    with stripe_errors():
        stripe_client.stripe_config()
        stripe_client.price_for_tier(paid_tier)
        with idempotency_claim(
            organization=organization, operation="checkout", client_key=client_key, params=params
        ) as key:
            customer_id = _customer_for(organization)
            session = stripe_client.create_checkout_session(
                None,
                paid_tier,
                success_url,
                cancel_url,
                {"org_id": str(organization.pk), "tier": paid_tier.value},
                customer_id=customer_id,
                idempotency_key=key,
            )
    # Only once Stripe has accepted the whole request: a refused checkout writes nothing here.
    _customer_remember(organization, customer_id)
    return session


def _live_subscription_id(organization: Organization) -> str:
    if not _has_live_subscription(organization):
        raise ServiceError("The organization has no active subscription.", code="no_subscription", status=409)
    return organization.stripe_subscription_id


def subscription_cancel(
    *, organization: Organization, at_period_end: bool, client_key: str | None = None
) -> stripe_client.SubscriptionInfo:
    """Cancel the organization's subscription at the end of its period, or at once."""
    subscription_id = _live_subscription_id(organization)
    params = {"at_period_end": at_period_end}
    with (
        stripe_errors(),
        idempotency_claim(organization=organization, operation="cancel", client_key=client_key, params=params) as key,
    ):
        return stripe_client.cancel_subscription(subscription_id, at_period_end=at_period_end, idempotency_key=key)


def subscription_change(
    *, organization: Organization, tier: str, client_key: str | None = None
) -> stripe_client.SubscriptionInfo:
    """Move the organization's subscription to another paid tier, with proration."""
    new_tier = _paid_tier(tier)
    subscription_id = _live_subscription_id(organization)
    if stripe_client.tier_for_price(organization.stripe_price_id) == new_tier:
        raise ServiceError(f"The organization is already on the {new_tier.label} tier.", code="same_tier")
    with stripe_errors():
        new_price_id = stripe_client.price_for_tier(new_tier)
        with idempotency_claim(
            organization=organization, operation="change", client_key=client_key, params={"tier": new_tier.value}
        ) as key:
            return stripe_client.update_subscription(subscription_id, new_price_id=new_price_id, idempotency_key=key)


def portal_session_create(*, organization: Organization, return_url: str, client_key: str | None = None) -> str:
    """Open a Stripe billing-portal session for the organization's customer and return its URL."""
    _redirects_check(return_url)
    if not organization.stripe_customer_id:
        raise ServiceError("The organization has no Stripe customer yet.", code="no_customer", status=409)
    params = {"return_url": return_url}
    with (
        stripe_errors(),
        idempotency_claim(organization=organization, operation="portal", client_key=client_key, params=params) as key,
    ):
        return stripe_client.create_portal_session(organization.stripe_customer_id, return_url, idempotency_key=key)


def organization_resync(*, organization: Organization) -> StripeEventOutcome:
    """Re-read the organization's subscription from Stripe, refresh dj-stripe's copy and apply it."""
    from djstripe.models import Subscription

    if not organization.stripe_subscription_id:
        raise ServiceError("The organization has no Stripe subscription.", code="no_subscription", status=409)
    with stripe_errors():
        config = stripe_client.stripe_config()
        remote = stripe_client.retrieve_subscription_object(organization.stripe_subscription_id)
        with transaction.atomic():
            Subscription.sync_from_stripe_data(remote, api_key=config.secret_key)
            return organization_subscription_apply(
                organization=organization, info=stripe_client.subscription_info(remote), event_at=timezone.now()
            )
