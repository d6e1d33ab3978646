"""The one way this service talks to Stripe: configuration, checkout, subscriptions, portal, webhook signatures.

Nothing here runs at import time. `stripe_config()` reads the settings on every call, points the `stripe`
library at the configured API base and version, and raises `StripeConfigError` naming what is missing.
Every mutating call carries an idempotency key: the caller's, or a fresh one (which the library reuses on
its own network retries).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import stripe
from django.conf import settings

from billing.stripe_reads import ReadGuardedHTTPClient
from billing.tiers import SubscriptionTier

T = TypeVar("T")
PRICE_SETTINGS: dict[SubscriptionTier, str] = {
    SubscriptionTier.STARTER: "STRIPE_PRICE_STARTER",
    SubscriptionTier.PROFESSIONAL: "STRIPE_PRICE_PROFESSIONAL",
    SubscriptionTier.ENTERPRISE: "STRIPE_PRICE_ENTERPRISE",
}
DEFAULT_API_BASE = "https://api.stripe.com"
SECRET_KEY_PATTERN = re.compile(r"(sk|rk)_(test|live)_[A-Za-z0-9]{24,}")


class StripeConfigError(Exception):
    """Stripe, or the part of it an operation needs, is not configured; the message names the variable."""


class WebhookSignatureError(ValueError):
    """A webhook request whose signature is missing, forged, stale or from the future, or whose body is not an event."""


@dataclass(frozen=True)
class StripeConfig:
    secret_key: str
    api_base: str
    api_version: str
    prices: dict[SubscriptionTier, str]


def stripe_config() -> StripeConfig:
    """Return the Stripe configuration and point the `stripe` library at it; raise when the key is missing."""
    secret_key = settings.STRIPE_SECRET_KEY
    if not secret_key:
        raise StripeConfigError("STRIPE_SECRET_KEY is not set.")
    if not SECRET_KEY_PATTERN.fullmatch(secret_key):
        raise StripeConfigError("STRIPE_SECRET_KEY is not a Stripe secret or restricted key (sk_… or rk_…).")
    return StripeConfig(
        secret_key=secret_key,
        api_base=configure_transport(),
        api_version=settings.STRIPE_API_VERSION,
        prices={tier: getattr(settings, name) for tier, name in PRICE_SETTINGS.items()},
    )


def configure_transport() -> str:
    """Point the `stripe` library (and so dj-stripe) at the configured API base and version; return the base.

    The only place the library's globals are set. Its HTTP client is wrapped once so that webhook processing can
    keep every Stripe request out of its database transaction (see `billing.stripe_reads`).
    """
    stripe.api_base = (settings.STRIPE_API_BASE or DEFAULT_API_BASE).rstrip("/")
    stripe.api_version = settings.STRIPE_API_VERSION
    if not isinstance(stripe.default_http_client, ReadGuardedHTTPClient):
        stripe.default_http_client = ReadGuardedHTTPClient(
            stripe.default_http_client or stripe.new_default_http_client()
        )
    return stripe.api_base


def object_id(value: Any) -> str:
    """Return the id of a Stripe reference, whether expanded (an object) or not (an id string)."""
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""


def price_for_tier(tier: SubscriptionTier | str) -> str:
    """Return the Stripe price id of a paid tier; raise StripeConfigError when it is not configured."""
    tier = SubscriptionTier(tier)
    if tier not in PRICE_SETTINGS:
        raise ValueError(f"The {tier.label} tier has no price.")
    price = getattr(settings, PRICE_SETTINGS[tier])
    if not price:
        raise StripeConfigError(f"{PRICE_SETTINGS[tier]} is not set.")
    return price


def tier_for_price(price_id: str | None) -> SubscriptionTier | None:
    """Return the tier a configured price id sells, or None for a price this service does not know."""
    if not price_id:
        return None
    for tier, name in PRICE_SETTINGS.items():
        if getattr(settings, name) == price_id:
            return tier
    return None


def _request_options(config: StripeConfig, idempotency_key: str | None = None, operation: str = "") -> dict:
    options: dict[str, Any] = {"api_key": config.secret_key, "stripe_version": config.api_version}
    if operation:
        options["idempotency_key"] = idempotency_key or f"aragora-{operation}-{uuid.uuid4().hex}"
    return options


# ---------------------------------------------------------------------------
# Webhooks
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class WebhookEventData:
    object: dict[str, Any]
    previous_attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def metadata(self) -> dict[str, Any]:
        return self.object.get("metadata") or {}


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    created: int
    livemode: bool
    api_version: str
    data: WebhookEventData
    raw: dict[str, Any]

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.created, tz=UTC)

    @classmethod
    def from_payload(cls, raw: dict[str, Any]) -> WebhookEvent:
        """Return the event described by a Stripe event document (a webhook body or an API listing)."""
        data = raw.get("data") or {}
        return cls(
            id=raw["id"],
            type=raw["type"],
            created=int(raw["created"]),
            livemode=bool(raw.get("livemode")),
            api_version=raw.get("api_version") or "",
            data=WebhookEventData(
                object=data.get("object") or {}, previous_attributes=data.get("previous_attributes") or {}
            ),
            raw=raw,
        )


def _signature_timestamp(signature: str) -> int:
    for part in signature.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                return int(value)
            except ValueError:
                break
    raise WebhookSignatureError("The Stripe-Signature header has no valid timestamp.")


def verify_webhook_signature(payload: bytes | str, signature: str | None) -> WebhookEvent:
    """Return the event in a webhook request after checking its signature and its age (both directions).

    Needs STRIPE_WEBHOOK_SECRET only: checking a signature calls nothing at Stripe.
    """
    secret, tolerance = settings.STRIPE_WEBHOOK_SECRET, settings.STRIPE_WEBHOOK_TOLERANCE
    if not secret:
        raise StripeConfigError("STRIPE_WEBHOOK_SECRET is not set.")
    if not signature:
        raise WebhookSignatureError("The Stripe-Signature header is missing.")
    body = payload.decode("utf-8", errors="strict") if isinstance(payload, bytes) else payload
    timestamp = _signature_timestamp(signature)
    if timestamp > time.time() + tolerance:
        raise WebhookSignatureError("The signature's timestamp is in the future.")
    try:
        stripe.WebhookSignature.verify_header(body, signature, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise WebhookSignatureError(str(exc).split(";")[0] or "Invalid signature.") from exc
    return _parse_event(body)


def _parse_event(body: str) -> WebhookEvent:
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise WebhookSignatureError("The body is not JSON (or is nested too deeply).") from exc
    data = raw.get("data") if isinstance(raw, dict) else None
    obj = data.get("object") if isinstance(data, dict) else None
    if not (
        isinstance(obj, dict)
        and raw.get("object") == "event"
        and isinstance(raw.get("id"), str)
        and isinstance(raw.get("type"), str)
        and isinstance(raw.get("created"), int)
    ):
        raise WebhookSignatureError("The body is not a Stripe event.")
    return WebhookEvent.from_payload(raw)


# ---------------------------------------------------------------------------
# Subscriptions
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SubscriptionInfo:
    id: str
    status: str
    customer_id: str
    price_id: str
    item_id: str
    cancel_at_period_end: bool
    current_period_end: datetime | None
    metadata: dict[str, Any]

    @property
    def tier(self) -> SubscriptionTier | None:
        return tier_for_price(self.price_id)


def _plain(obj: Any) -> dict[str, Any]:
    return json.loads(str(obj)) if hasattr(obj, "to_dict") else dict(obj)


def subscription_info(obj: Any) -> SubscriptionInfo:
    """Return the fields this service uses from a Stripe subscription (API object or event payload)."""
    data = _plain(obj)
    items = (data.get("items") or {}).get("data") or [{}]
    item = items[0]
    price = item.get("price")
    # Since API 2025-03-31 the period lives on the items; older payloads carry it on the subscription.
    period_end = item.get("current_period_end") or data.get("current_period_end")
    return SubscriptionInfo(
        id=data["id"],
        status=data.get("status") or "",
        customer_id=object_id(data.get("customer")),
        price_id=object_id(price),
        item_id=item.get("id", ""),
        cancel_at_period_end=bool(data.get("cancel_at_period_end")),
        current_period_end=datetime.fromtimestamp(period_end, tz=UTC) if period_end else None,
        metadata=data.get("metadata") or {},
    )


def get_subscription(subscription_id: str) -> SubscriptionInfo:
    """Return a subscription as Stripe has it now."""
    config = stripe_config()
    return subscription_info(stripe.Subscription.retrieve(subscription_id, **_request_options(config)))


def retrieve_subscription_object(subscription_id: str) -> stripe.Subscription:
    """Return the raw Stripe subscription object (for syncing dj-stripe's copy)."""
    config = stripe_config()
    return stripe.Subscription.retrieve(subscription_id, **_request_options(config))


def cancel_subscription(
    subscription_id: str, at_period_end: bool = True, *, idempotency_key: str | None = None
) -> SubscriptionInfo:
    """Cancel at the end of the paid period (default), or at once."""
    config = stripe_config()
    if at_period_end:
        options = _request_options(config, idempotency_key, "subscription-cancel-at-period-end")
        result = stripe.Subscription.modify(subscription_id, cancel_at_period_end=True, **options)
    else:
        options = _request_options(config, idempotency_key, "subscription-cancel")
        result = stripe.Subscription.cancel(subscription_id, **options)
    return subscription_info(result)


def update_subscription(
    subscription_id: str,
    new_price_id: str,
    *,
    idempotency_key: str | None = None,
    proration_behavior: str = "create_prorations",
) -> SubscriptionInfo:
    """Move a subscription to another price, prorating the rest of the period."""
    current = get_subscription(subscription_id)
    config = stripe_config()
    result = stripe.Subscription.modify(
        subscription_id,
        items=[{"id": current.item_id, "price": new_price_id}],
        proration_behavior=proration_behavior,
        **_request_options(config, idempotency_key, "subscription-update"),
    )
    return subscription_info(result)


# ---------------------------------------------------------------------------
# Customers, checkout, portal
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


def create_customer(*, email: str, name: str, metadata: dict[str, str], idempotency_key: str | None = None) -> str:
    """Create a Stripe customer and return its id."""
    config = stripe_config()
    customer = stripe.Customer.create(
        email=email or None,
        name=name,
        metadata=metadata,
        **_request_options(config, idempotency_key, "customer-create"),
    )
    return customer["id"]


def create_checkout_session(
    customer_email: str | None,
    tier: SubscriptionTier | str,
    success_url: str,
    cancel_url: str,
    metadata: dict[str, str],
    *,
    customer_id: str | None = None,
    idempotency_key: str | None = None,
) -> CheckoutSession:
    """Open a subscription-mode Checkout session for `tier`; metadata["org_id"] also becomes the reference id."""
    config = stripe_config()
    price = price_for_tier(tier)
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": price, "quantity": 1}],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": metadata,
        "subscription_data": {"metadata": metadata},
    }
    if metadata.get("org_id"):
        params["client_reference_id"] = metadata["org_id"]
    if customer_id:
        params["customer"] = customer_id
    elif customer_email:
        params["customer_email"] = customer_email
    session = stripe.checkout.Session.create(**params, **_request_options(config, idempotency_key, "checkout"))
    return CheckoutSession(id=session["id"], url=session["url"])


def create_portal_session(customer_id: str, return_url: str, *, idempotency_key: str | None = None) -> str:
    """Open a billing-portal session for a customer and return its URL."""
    config = stripe_config()
    session = stripe.billing_portal.Session.create(
        customer=customer_id, return_url=return_url, **_request_options(config, idempotency_key, "portal")
    )
    return session["url"]


def list_undelivered_events(*, created_after: int, limit: int = 100) -> list[dict[str, Any]]:
    """Return recent events whose webhook delivery has not succeeded, oldest first."""
    config = stripe_config()
    page = stripe.Event.list(
        delivery_success=False, created={"gte": created_after}, limit=limit, **_request_options(config)
    )
    return sorted((_plain(event) for event in page.auto_paging_iter()), key=lambda event: event["created"])
