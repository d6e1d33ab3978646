"""billing.stripe_client against the fake Stripe API: configuration, signatures, calls and their idempotency keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import stripe

from billing import stripe_client
from billing.stripe_client import StripeConfigError, WebhookSignatureError
from billing.tiers import SubscriptionTier
from tests.fakes.stripe_plugin import PRICES, WEBHOOK_SECRET, stripe_signature


def test_configuration_error_names_the_missing_secret_key(settings):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(StripeConfigError, match="STRIPE_SECRET_KEY"):
        stripe_client.create_checkout_session("a@example.com", "starter", "https://a/", "https://b/", {})


@pytest.mark.parametrize("key", ["pk_test_51AragoraPublishableKey000000000", "sk_test_short", "not-a-key"])
def test_a_key_that_is_not_a_secret_key_is_a_configuration_error_that_does_not_echo_it(settings, key):
    settings.STRIPE_SECRET_KEY = key
    with pytest.raises(StripeConfigError, match="STRIPE_SECRET_KEY") as excinfo:
        stripe_client.stripe_config()
    assert key not in str(excinfo.value)


def test_configuration_error_names_the_missing_price(fake_stripe, settings):
    settings.STRIPE_PRICE_PROFESSIONAL = ""
    with pytest.raises(StripeConfigError, match="STRIPE_PRICE_PROFESSIONAL"):
        stripe_client.create_checkout_session(
            "a@example.com", SubscriptionTier.PROFESSIONAL, "https://a/", "https://b/", {"org_id": "o1"}
        )
    assert not fake_stripe.requests


def test_configuration_points_the_library_at_the_api_base_and_pinned_version(fake_stripe, settings):
    config = stripe_client.stripe_config()
    assert stripe.api_base == fake_stripe.url == config.api_base
    assert stripe.api_version == settings.STRIPE_API_VERSION == "2026-05-27.dahlia"
    from djstripe.settings import djstripe_settings

    assert djstripe_settings.STRIPE_API_VERSION == settings.STRIPE_API_VERSION


def test_price_map_comes_from_the_environment_in_both_directions(fake_stripe):
    for tier, (price_id, _) in PRICES.items():
        assert stripe_client.price_for_tier(tier) == price_id
        assert stripe_client.tier_for_price(price_id) == tier
    assert stripe_client.tier_for_price("price_someone_elses") is None
    with pytest.raises(ValueError):
        stripe_client.price_for_tier("free")


def test_checkout_session_with_email_only_sends_the_email_and_an_idempotency_key(fake_stripe):
    session = stripe_client.create_checkout_session(
        "owner@example.com", "starter", "https://a.example/ok", "https://a.example/no", {"org_id": "org-1"}
    )
    assert session.id.startswith("cs_test_") and session.url.endswith(session.id)
    (call,) = fake_stripe.requests_to("POST", "/v1/checkout/sessions")
    assert call.params["customer_email"] == "owner@example.com" and "customer" not in call.params
    assert call.params["client_reference_id"] == "org-1"
    assert call.idempotency_key.startswith("aragora-checkout-")
    assert call.headers["stripe-version"] == "2026-05-27.dahlia"


def test_get_subscription_reads_status_period_end_cancellation_and_tier(fake_stripe):
    customer = fake_stripe.add_customer()
    sub = fake_stripe.add_subscription(
        customer_id=customer["id"], price_id=PRICES["professional"][0], period_end=1_900_000_000
    )
    info = stripe_client.get_subscription(sub["id"])
    assert info.status == "active" and info.tier == SubscriptionTier.PROFESSIONAL
    assert info.current_period_end.timestamp() == 1_900_000_000 and info.cancel_at_period_end is False
    assert info.customer_id == customer["id"]


def test_every_mutating_call_carries_an_idempotency_key_and_changes_read_back(fake_stripe):
    customer_id = stripe_client.create_customer(email="a@example.com", name="A", metadata={"org_id": "1"})
    sub = fake_stripe.add_subscription(customer_id=customer_id, price_id=PRICES["starter"][0])
    stripe_client.update_subscription(sub["id"], new_price_id=PRICES["enterprise"][0])
    stripe_client.cancel_subscription(sub["id"], at_period_end=True)
    stripe_client.create_portal_session(customer_id, "https://a.example/back")
    stripe_client.create_checkout_session(None, "starter", "https://a/", "https://b/", {}, customer_id=customer_id)

    after = stripe_client.get_subscription(sub["id"])
    assert after.tier == SubscriptionTier.ENTERPRISE and after.cancel_at_period_end is True
    mutating = [r for r in fake_stripe.requests if r.method in {"POST", "DELETE"}]
    assert len(mutating) == 5
    assert all(r.idempotency_key for r in mutating)
    assert len({r.idempotency_key for r in mutating}) == 5


def test_a_repeated_idempotency_key_replays_instead_of_acting_twice(fake_stripe):
    customer = fake_stripe.add_customer()
    sub = fake_stripe.add_subscription(customer_id=customer["id"], price_id=PRICES["starter"][0])
    first = stripe_client.cancel_subscription(sub["id"], at_period_end=False, idempotency_key="op-1")
    second = stripe_client.cancel_subscription(sub["id"], at_period_end=False, idempotency_key="op-1")
    assert first == second and first.status == "canceled"
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.cancel_subscription(sub["id"], at_period_end=False, idempotency_key="op-2")


def _payload(**overrides) -> bytes:
    event = {"id": "evt_1", "object": "event", "type": "invoice.paid", "created": int(time.time()), "livemode": False}
    event["data"] = {"object": {"id": "in_1", "object": "invoice", "metadata": {"org_id": "o-1"}}}
    return json.dumps(event | overrides).encode()


def test_valid_signature_yields_the_event_with_type_id_object_and_metadata(fake_stripe):
    payload = _payload()
    event = stripe_client.verify_webhook_signature(payload, stripe_signature(payload))
    assert (event.type, event.id) == ("invoice.paid", "evt_1")
    assert event.data.object["id"] == "in_1" and event.data.metadata == {"org_id": "o-1"}


def test_any_matching_v1_signature_is_accepted(fake_stripe):
    payload = _payload()
    good = stripe_signature(payload)
    timestamp = good.split(",")[0]
    header = f"{timestamp},v1={'0' * 64},{good.split(',')[1]}"
    assert stripe_client.verify_webhook_signature(payload, header).id == "evt_1"


@pytest.mark.parametrize(
    ("offset", "accepted"), [(-299, True), (-301, False), (299, True), (301, False), (-86400, False), (3600, False)]
)
def test_signature_timestamp_window_is_300_seconds_both_ways(fake_stripe, offset, accepted):
    payload = _payload()
    header = stripe_signature(payload, timestamp=int(time.time()) + offset)
    if accepted:
        assert stripe_client.verify_webhook_signature(payload, header).id == "evt_1"
    else:
        with pytest.raises(WebhookSignatureError):
            stripe_client.verify_webhook_signature(payload, header)


@pytest.mark.parametrize(
    "header",
    ["", "t=abc,v1=00", "v1=deadbeef", f"t={int(time.time())}", f"t={int(time.time())},v0=abc"],
)
def test_malformed_signature_headers_are_refused(fake_stripe, header):
    with pytest.raises(WebhookSignatureError):
        stripe_client.verify_webhook_signature(_payload(), header)


def test_tampered_body_is_refused(fake_stripe):
    header = stripe_signature(_payload())
    with pytest.raises(WebhookSignatureError):
        stripe_client.verify_webhook_signature(_payload(type="customer.subscription.deleted"), header)


def test_signature_check_needs_the_webhook_secret(fake_stripe, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    payload = _payload()
    with pytest.raises(StripeConfigError, match="STRIPE_WEBHOOK_SECRET"):
        stripe_client.verify_webhook_signature(payload, stripe_signature(payload, secret=WEBHOOK_SECRET))


def test_loading_the_service_sets_no_stripe_api_key():
    code = (
        "import django; django.setup(); import billing.apis, billing.webhooks, billing.admin, stripe; "
        "print(repr(stripe.api_key))"
    )
    env = {**os.environ, "STRIPE_SECRET_KEY": "sk_test_should_not_leak_into_the_library"}
    res = subprocess.run(  # noqa: S603 (a fixed command line)
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert res.stdout.strip() == "None"
