"""Stripe webhooks end to end: signed events posted to the live URL, dj-stripe re-reading the fake Stripe API."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from djstripe.models import Customer, Event, Session, Subscription, WebhookEventTrigger
from rest_framework.test import APIClient

from accounts.models import Organization
from billing.models import Notification, NotificationKind, StripeEventOutcome, StripeEventReceipt
from billing.notifications import verify_notification_signature
from tests.billing.factories import subscribed_organization
from tests.conftest import client_for
from tests.factories import OrganizationFactory
from tests.fakes.receivers import NOTIFY_SECRET
from tests.fakes.stripe_plugin import PRICES, WEBHOOK_URL, deliver, stripe_signature

pytestmark = pytest.mark.django_db(transaction=True)


def kinds(org) -> list[str]:
    return sorted(set(Notification.objects.filter(organization=org).values_list("kind", flat=True)))


def _checkout(fake, org, admin, tier="professional"):
    res = client_for(admin).post(
        "/api/billing/checkout",
        {"tier": tier, "success_url": "https://app.example.com/ok", "cancel_url": "https://app.example.com/no"},
        format="json",
    )
    assert res.status_code == 201, res.content
    return res.json()["session_id"]


def _change_price(fake, subscription, tier):
    item = {"id": subscription["items"]["data"][0]["id"], "price": PRICES[tier][0]}
    status, changed = fake.handle("POST", f"/v1/subscriptions/{subscription['id']}", {"items": [item]}, {})
    assert status == 200
    return changed


# ---------------------------------------------------------------------------
# Each event
# ---------------------------------------------------------------------------
def test_paid_checkout_upgrades_links_stripe_objects_syncs_djstripe_and_notifies(fake_stripe, notify):
    smtp, receiver = notify
    org = OrganizationFactory(admin=True)
    admin = org.owner
    session_id = _checkout(fake_stripe, org, admin)
    session = fake_stripe.complete_checkout(session_id)

    res = deliver(fake_stripe.event("checkout.session.completed", session))

    assert res.status_code == 200 and res.json()["outcome"] == "applied"
    org.refresh_from_db()
    assert org.tier == "professional"
    assert org.stripe_customer_id == session["customer"] and org.stripe_subscription_id == session["subscription"]
    assert org.subscription_status == "active" and org.current_period_end is not None
    assert Event.objects.filter(type="checkout.session.completed").count() == 1
    assert Session.objects.get(id=session_id).subscription.id == session["subscription"]
    assert Subscription.objects.get(id=session["subscription"]).customer.id == session["customer"]
    assert Customer.objects.get(id=session["customer"]).subscriber_id == org.pk
    assert kinds(org) == ["upgraded"]
    assert [m["Subject"] for m in smtp.messages] == [f"{org.name} is now on the Professional tier"]
    assert smtp.envelopes[0][1] == [admin.email]
    headers, body = receiver.received[0]
    assert verify_notification_signature(body, headers["x-aragora-signature"], secret=NOTIFY_SECRET)
    assert json.loads(body)["kind"] == "upgraded" and json.loads(body)["organization"]["id"] == str(org.pk)


def test_unpaid_checkout_does_not_upgrade(fake_stripe, notify):
    org = OrganizationFactory(admin=True)
    admin = org.owner
    session = fake_stripe.complete_checkout(_checkout(fake_stripe, org, admin), payment_status="unpaid")

    res = deliver(fake_stripe.event("checkout.session.completed", session))

    assert res.status_code == 200 and res.json()["outcome"] == "ignored"
    org.refresh_from_db()
    assert org.tier == "free" and org.stripe_subscription_id == ""
    assert not Notification.objects.exists()


def test_subscription_update_moves_tier_with_the_price(fake_stripe, notify):
    s = subscribed_organization(fake_stripe, tier="starter")
    sub = _change_price(fake_stripe, s.subscription, "enterprise")

    assert deliver(fake_stripe.event("customer.subscription.updated", sub)).status_code == 200

    s.org.refresh_from_db()
    assert s.org.tier == "enterprise" and s.org.stripe_price_id == PRICES["enterprise"][0]
    assert kinds(s.org) == ["upgraded"]


def test_cancel_at_period_end_is_shown_and_announced_once(fake_stripe, notify):
    s = subscribed_organization(fake_stripe)
    sub = fake_stripe.update(s.subscription["id"], cancel_at_period_end=True)

    deliver(fake_stripe.event("customer.subscription.updated", sub))
    deliver(fake_stripe.event("customer.subscription.updated", sub))

    s.org.refresh_from_db()
    assert s.org.cancel_at_period_end is True and s.org.tier == "professional"
    assert Notification.objects.filter(kind=NotificationKind.SUBSCRIPTION_CANCELED, channel="email").count() == 1
    body = client_for(s.admin).get("/api/billing/subscription").json()
    assert body["cancel_at_period_end"] is True and body["status"] == "active"


@pytest.mark.parametrize("status", ["past_due", "unpaid"])
def test_dunning_status_is_reflected_and_keeps_the_tier(fake_stripe, status):
    s = subscribed_organization(fake_stripe)
    sub = fake_stripe.update(s.subscription["id"], status=status)

    deliver(fake_stripe.event("customer.subscription.updated", sub))

    s.org.refresh_from_db()
    assert s.org.subscription_status == status and s.org.tier == "professional"


def test_subscription_deleted_downgrades_to_free_and_keeps_everything_else(fake_stripe, notify):
    s = subscribed_organization(fake_stripe)
    Organization.objects.filter(pk=s.org.pk).update(debates_used=150)
    _, sub = fake_stripe.handle("DELETE", f"/v1/subscriptions/{s.subscription['id']}", {}, {})

    assert deliver(fake_stripe.event("customer.subscription.deleted", sub)).status_code == 200

    s.org.refresh_from_db()
    assert s.org.tier == "free" and s.org.subscription_status == "canceled" and s.org.debates_used == 150
    assert s.org.is_at_limit and s.org.limits.debates_per_month == 10
    assert kinds(s.org) == ["downgraded"]
    assert Notification.objects.filter(kind="downgraded").first().payload["context"]["reason"] == "subscription_ended"


def test_payment_failure_opens_a_grace_period_that_further_failures_do_not_extend(fake_stripe, notify, settings):
    settings.ARAGORA_PAYMENT_GRACE_DAYS = 10
    smtp, _ = notify
    s = subscribed_organization(fake_stripe)
    invoice = fake_stripe.add_invoice(subscription_id=s.subscription["id"])
    first = int(time.time()) - 3600

    deliver(fake_stripe.event("invoice.payment_failed", invoice, created=first))
    deliver(fake_stripe.event("invoice.payment_failed", fake_stripe.update(invoice["id"], attempt_count=2)))

    s.org.refresh_from_db()
    assert s.org.grace_until == datetime.fromtimestamp(first, tz=UTC) + timedelta(days=10)
    assert s.org.tier == "professional"
    assert kinds(s.org) == ["payment_failed"] and len(smtp.messages) == 1
    assert "299.00 USD" in smtp.messages[0].get_payload()[0].get_payload(decode=True).decode()
    assert client_for(s.admin).get("/api/billing/subscription").json()["grace_until"] is not None


def test_payment_after_failure_clears_grace_and_confirms_recovery_once(fake_stripe, notify):
    s = subscribed_organization(fake_stripe)
    invoice = fake_stripe.add_invoice(subscription_id=s.subscription["id"])
    deliver(fake_stripe.event("invoice.payment_failed", invoice, created=int(time.time()) - 60))
    paid = fake_stripe.update(invoice["id"], status="paid")

    deliver(fake_stripe.event("invoice.paid", paid))
    deliver(fake_stripe.event("invoice.payment_succeeded", paid))

    s.org.refresh_from_db()
    assert s.org.grace_until is None and s.org.tier == "professional"
    assert Notification.objects.filter(kind="payment_recovered", channel="email").count() == 1


def test_unknown_event_type_is_acknowledged_and_ignored(fake_stripe):
    s = subscribed_organization(fake_stripe)
    event = fake_stripe.event("customer.discount.created", {"id": "di_1", "object": "discount"})

    res = deliver(event)

    assert res.status_code == 200 and res.json()["outcome"] == "unhandled"
    assert StripeEventReceipt.objects.get(event_id=event["id"]).outcome == StripeEventOutcome.UNHANDLED
    s.org.refresh_from_db()
    assert s.org.tier == "professional"


# ---------------------------------------------------------------------------
# Order and duplicates
# ---------------------------------------------------------------------------
def test_older_subscription_event_never_rolls_state_back(fake_stripe, notify):
    s = subscribed_organization(fake_stripe, tier="starter")
    now = int(time.time())
    newer = _change_price(fake_stripe, s.subscription, "enterprise")

    deliver(fake_stripe.event("customer.subscription.updated", newer, created=now))
    res = deliver(fake_stripe.event("customer.subscription.updated", s.subscription, created=now - 30))

    assert res.status_code == 200 and res.json()["outcome"] == "stale"
    s.org.refresh_from_db()
    assert s.org.tier == "enterprise"


def test_events_of_the_same_second_arriving_out_of_order_end_in_stripes_current_state(fake_stripe, notify):
    s = subscribed_organization(fake_stripe, tier="starter")
    now = int(time.time())
    older = _change_price(fake_stripe, s.subscription, "professional")
    newer = _change_price(fake_stripe, s.subscription, "enterprise")

    deliver(fake_stripe.event("customer.subscription.updated", newer, created=now))
    late = deliver(fake_stripe.event("customer.subscription.updated", older, created=now))

    assert late.status_code == 200
    s.org.refresh_from_db()
    assert s.org.tier == "enterprise"
    assert fake_stripe.requests_to("GET", f"/v1/subscriptions/{s.subscription['id']}")


def test_older_payment_failure_after_a_payment_does_not_open_grace(fake_stripe, notify):
    s = subscribed_organization(fake_stripe)
    invoice = fake_stripe.add_invoice(subscription_id=s.subscription["id"], status="paid")
    now = int(time.time())

    deliver(fake_stripe.event("invoice.paid", invoice, created=now))
    res = deliver(fake_stripe.event("invoice.payment_failed", invoice, created=now - 120))

    assert res.json()["outcome"] == "stale"
    s.org.refresh_from_db()
    assert s.org.grace_until is None and not Notification.objects.exists()


def test_the_same_event_delivered_twice_changes_state_once(fake_stripe, notify):
    smtp, receiver = notify
    s = subscribed_organization(fake_stripe)
    event = fake_stripe.event("invoice.payment_failed", fake_stripe.add_invoice(subscription_id=s.subscription["id"]))

    first, second = deliver(event), deliver(event)

    assert first.json()["duplicate"] is False and second.json() == {
        "received": True,
        "duplicate": True,
        "outcome": None,
    }
    assert StripeEventReceipt.objects.filter(event_id=event["id"]).count() == 1
    assert Event.objects.filter(id=event["id"]).count() == 1
    assert len(smtp.messages) == 1 and len(receiver.received) == 1


def test_an_event_djstripe_already_holds_is_applied_once_and_its_row_kept(fake_stripe, notify):
    """dj-stripe may have synced the event from Stripe's event list before its webhook arrives."""
    s = subscribed_organization(fake_stripe)
    event = fake_stripe.event("invoice.payment_failed", fake_stripe.add_invoice(subscription_id=s.subscription["id"]))
    synced = Event.objects.create(id=event["id"], type=event["type"], data=event["data"], stripe_data=event)

    first, second = deliver(event), deliver(event)

    assert first.status_code == 200 and first.json()["outcome"] == "applied"
    assert second.json()["duplicate"] is True
    assert list(Event.objects.filter(id=event["id"]).values_list("djstripe_id", flat=True)) == [synced.djstripe_id]
    trigger = WebhookEventTrigger.objects.get(processed=True)
    assert trigger.event_id == event["id"]
    s.org.refresh_from_db()
    assert s.org.grace_until is not None


# ---------------------------------------------------------------------------
# Refused deliveries
# ---------------------------------------------------------------------------
def _state(org):
    org.refresh_from_db()
    return (org.tier, org.grace_until, StripeEventReceipt.objects.count(), Event.objects.count())


@pytest.mark.parametrize(
    "signing",
    [
        {"secret": "whsec_forged_000000000000000000000000"},
        {"timestamp": int(time.time()) - 301},
        {"timestamp": int(time.time()) + 3600},
    ],
    ids=["forged", "stale", "future"],
)
def test_forged_stale_or_future_signature_is_refused_and_changes_nothing(fake_stripe, signing):
    s = subscribed_organization(fake_stripe)
    event = fake_stripe.event(
        "customer.subscription.deleted", fake_stripe.update(s.subscription["id"], status="canceled")
    )
    before = _state(s.org)

    res = deliver(event, **signing)

    assert res.status_code == 400 and res.json()["code"] == "invalid_signature"
    assert _state(s.org) == before


def test_missing_signature_and_malformed_bodies_are_400_json(fake_stripe):
    client = APIClient()
    missing = client.generic("POST", WEBHOOK_URL, b"{}", content_type="application/json")
    assert missing.status_code == 400 and missing.json()["code"] == "invalid_signature"
    for body in [b"{not json", b"[]", b'{"id": "evt_1", "object": "event"}', b"\xff\xfe"]:
        res = deliver(body)
        assert res.status_code == 400 and res.json()["code"] == "invalid_signature", body
    assert StripeEventReceipt.objects.count() == 0


def test_djstripe_debug_secret_header_does_not_bypass_verification(fake_stripe, settings):
    settings.DEBUG = True
    s = subscribed_organization(fake_stripe)
    event = fake_stripe.event(
        "customer.subscription.deleted", fake_stripe.update(s.subscription["id"], status="canceled")
    )
    payload = json.dumps(event).encode()
    attacker_secret = "whsec_attacker_chosen_secret_0000000000"

    res = APIClient().generic(
        "POST",
        WEBHOOK_URL,
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=stripe_signature(payload, secret=attacker_secret),
        HTTP_X_DJSTRIPE_WEBHOOK_SECRET=attacker_secret,
    )

    assert res.status_code == 400
    s.org.refresh_from_db()
    assert s.org.tier == "professional"


def test_webhook_without_configured_secret_is_refused_and_changes_nothing(fake_stripe, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    res = deliver(fake_stripe.event("invoice.paid", {"id": "in_1", "object": "invoice"}))
    assert res.status_code == 400 and res.json()["code"] == "webhook_not_configured"
    assert not StripeEventReceipt.objects.exists()


def test_signatures_are_checked_with_the_webhook_secret_alone(fake_stripe, settings):
    settings.STRIPE_SECRET_KEY = ""
    forged = deliver(fake_stripe.event("invoice.paid", {"id": "in_1", "object": "invoice"}), secret="whsec_wrong")
    assert forged.status_code == 400 and forged.json()["code"] == "invalid_signature"
    genuine = deliver(fake_stripe.event("invoice.paid", {"id": "in_2", "object": "invoice"}))
    assert genuine.status_code == 503 and genuine.json()["code"] == "stripe_not_configured" and genuine["Retry-After"]
    assert not StripeEventReceipt.objects.exists()


def test_production_settings_run_with_debug_off(fake_stripe):
    from django.conf import settings

    assert settings.DEBUG is False


# ---------------------------------------------------------------------------
# Failures roll back
# ---------------------------------------------------------------------------
def test_stripe_failing_during_processing_rolls_back_answers_500_and_the_retry_succeeds(fake_stripe, notify):
    s = subscribed_organization(fake_stripe)
    sub = fake_stripe.update(s.subscription["id"], status="canceled")
    event = fake_stripe.event("customer.subscription.deleted", sub)
    event["api_version"] = "2025-03-31.basil"  # rendered in another API version: re-read from Stripe
    fake_stripe.fail_next("GET", rf"/v1/subscriptions/{sub['id']}", status=500)
    fake_stripe.fail_next("GET", rf"/v1/subscriptions/{sub['id']}", status=500)
    fake_stripe.fail_next("GET", rf"/v1/subscriptions/{sub['id']}", status=500)

    failed = deliver(event)

    assert failed.status_code == 500 and failed.json()["code"] == "processing_failed"
    s.org.refresh_from_db()
    assert s.org.tier == "professional"
    assert not StripeEventReceipt.objects.exists() and not Event.objects.exists() and not Notification.objects.exists()
    record = WebhookEventTrigger.objects.get()
    assert record.processed is False and "Injected failure" in record.exception

    retried = deliver(event)

    assert retried.status_code == 200 and retried.json()["outcome"] == "applied"
    s.org.refresh_from_db()
    assert s.org.tier == "free" and kinds(s.org) == ["downgraded"]
