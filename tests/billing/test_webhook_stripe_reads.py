"""What a webhook asks Stripe, and when: the signed payload when it is complete, a re-read when it is not, and
never a Stripe request while the event's transaction holds the database write lock."""

from __future__ import annotations

import time

import pytest
from django.db import transaction
from djstripe.models import Account, Invoice, LineItem, Subscription, WebhookEventTrigger

from billing import stripe_client
from billing.services import stripe_mirror
from tests.billing.factories import subscribed_organization
from tests.factories import OrganizationFactory
from tests.fakes.stripe_plugin import PRICES, deliver

pytestmark = pytest.mark.django_db(transaction=True)


def _checkout_paid(fake):
    org = OrganizationFactory(admin=True)
    session = fake.handle(
        "POST",
        "/v1/checkout/sessions",
        {
            "mode": "subscription",
            "line_items": [{"price": PRICES["professional"][0], "quantity": "1"}],
            "metadata": {"org_id": str(org.pk)},
            "subscription_data": {"metadata": {"org_id": str(org.pk)}},
            "client_reference_id": str(org.pk),
            "customer_email": org.owner.email,
        },
        {},
    )[1]
    return org, fake.complete_checkout(session["id"])


def _warm(fake, s):
    """Deliver one event so that dj-stripe holds the customer, price and product (what a live service has)."""
    old = int(time.time()) - 600
    assert deliver(fake.event("customer.subscription.updated", s.subscription, created=old)).status_code == 200
    fake.requests.clear()


def test_no_stripe_request_is_made_while_the_event_holds_the_database_write_lock(stripe_lock_watch):
    fake = stripe_lock_watch
    org, session = _checkout_paid(fake)
    s = subscribed_organization(fake, tier="starter")
    now = int(time.time())
    newer = fake.update(s.subscription["id"], cancel_at_period_end=True)
    other_version = fake.event("customer.subscription.updated", newer, created=now - 20)
    other_version["api_version"] = "2025-03-31.basil"

    # First sight of a customer, its subscription, price and product; a payload in another API version;
    # two events of one second (re-read in the handler); an event older than the state applied (re-read).
    responses = [
        deliver(fake.event("checkout.session.completed", session)),
        deliver(other_version),
        deliver(fake.event("customer.subscription.updated", newer, created=now - 10)),
        deliver(fake.event("customer.subscription.updated", newer, created=now - 10)),
        deliver(fake.event("customer.subscription.updated", s.subscription, created=now - 15)),
    ]

    assert [r.status_code for r in responses] == [200] * 5
    org.refresh_from_db()
    assert org.tier == "professional" and Subscription.objects.filter(id=session["subscription"]).exists()
    paths = {request.path for request in fake.requests}
    assert {f"/v1/subscriptions/{session['subscription']}", f"/v1/customers/{session['customer']}"} <= paths
    assert f"/v1/subscriptions/{s.subscription['id']}" in paths
    assert [(r.method, r.path) for r in fake.requests if r.database_write_locked] == []
    assert all(r.database_write_locked is False for r in fake.requests)


def test_the_write_lock_probe_sees_a_transaction_that_has_written(stripe_lock_watch):
    s = subscribed_organization(stripe_lock_watch)
    stripe_client.get_subscription(s.subscription["id"])
    with transaction.atomic():
        OrganizationFactory()
        stripe_client.get_subscription(s.subscription["id"])

    assert [r.database_write_locked for r in stripe_lock_watch.requests] == [False, True]


def test_a_complete_subscription_payload_is_stored_without_asking_stripe(fake_stripe):
    s = subscribed_organization(fake_stripe)
    _warm(fake_stripe, s)
    payload = fake_stripe.update(s.subscription["id"], cancel_at_period_end=True)
    fake_stripe.update(s.subscription["id"], cancel_at_period_end=False)  # Stripe moved on: the payload is what counts

    assert deliver(fake_stripe.event("customer.subscription.updated", payload)).status_code == 200

    assert fake_stripe.requests == []
    stored = Subscription.objects.get(id=s.subscription["id"])
    assert stored.stripe_data["cancel_at_period_end"] is True and stored.customer.id == s.customer["id"]
    assert stored.items.get().stripe_data["price"]["id"] == PRICES["professional"][0]
    s.org.refresh_from_db()
    assert s.org.cancel_at_period_end is True


def test_a_complete_invoice_payload_is_stored_with_its_lines_without_asking_stripe(fake_stripe):
    s = subscribed_organization(fake_stripe)
    _warm(fake_stripe, s)
    invoice = fake_stripe.add_invoice(subscription_id=s.subscription["id"], status="paid")

    assert deliver(fake_stripe.event("invoice.paid", invoice)).status_code == 200

    assert fake_stripe.requests == []
    stored = Invoice.objects.get(id=invoice["id"])
    assert stored.stripe_data["status"] == "paid" and stored.customer.id == s.customer["id"]
    assert LineItem.objects.filter(id=invoice["lines"]["data"][0]["id"]).exists()


def test_a_payload_in_another_api_version_is_read_again_from_stripe(fake_stripe):
    s = subscribed_organization(fake_stripe)
    _warm(fake_stripe, s)
    event = fake_stripe.event("customer.subscription.updated", {**s.subscription, "status": "past_due"})
    event["api_version"] = "2024-06-20"

    assert deliver(event).status_code == 200

    assert fake_stripe.requests_to("GET", f"/v1/subscriptions/{s.subscription['id']}")
    assert Subscription.objects.get(id=s.subscription["id"]).stripe_data["status"] == "active"


def test_a_list_cut_short_in_the_payload_is_read_again_from_stripe(fake_stripe):
    s = subscribed_organization(fake_stripe)
    _warm(fake_stripe, s)
    invoice = fake_stripe.add_invoice(subscription_id=s.subscription["id"], status="paid")
    invoice["lines"]["has_more"] = True

    assert deliver(fake_stripe.event("invoice.paid", invoice)).status_code == 200

    assert fake_stripe.requests_to("GET", f"/v1/invoices/{invoice['id']}")
    assert Invoice.objects.get(id=invoice["id"]).stripe_data["lines"]["has_more"] is False


def test_a_payload_older_than_the_state_applied_is_replaced_by_stripes_current_object(fake_stripe, notify):
    s = subscribed_organization(fake_stripe)
    now = int(time.time())
    current = fake_stripe.update(s.subscription["id"], cancel_at_period_end=True)
    deliver(fake_stripe.event("customer.subscription.updated", current, created=now))
    fake_stripe.requests.clear()

    stale = deliver(fake_stripe.event("customer.subscription.updated", s.subscription, created=now - 60))

    assert stale.json()["outcome"] == "stale"
    assert fake_stripe.requests_to("GET", f"/v1/subscriptions/{s.subscription['id']}")
    assert Subscription.objects.get(id=s.subscription["id"]).stripe_data["cancel_at_period_end"] is True


def test_a_warm_event_costs_a_bounded_number_of_queries(fake_stripe, django_assert_max_num_queries):
    s = subscribed_organization(fake_stripe)
    _warm(fake_stripe, s)
    event = fake_stripe.event(
        "customer.subscription.updated", fake_stripe.update(s.subscription["id"], status="past_due")
    )

    with django_assert_max_num_queries(20):
        assert deliver(event).json()["outcome"] == "applied"


def test_a_changed_djstripe_key_table_is_read_again_within_seconds(fake_stripe, monkeypatch):
    s = subscribed_organization(fake_stripe)
    _warm(fake_stripe, s)
    Account.objects.all().delete()  # and, by cascade, the keys: dj-stripe must ask Stripe for the owner again
    monkeypatch.setattr(stripe_mirror, "KEYS_CHECK_SECONDS", 0)

    event = fake_stripe.event(
        "customer.subscription.updated", fake_stripe.update(s.subscription["id"], status="past_due")
    )

    assert deliver(event).status_code == 200
    assert fake_stripe.requests_to("GET", "/v1/account")
    assert Subscription.objects.get(id=s.subscription["id"]).djstripe_owner_account.id == fake_stripe.account_id


def test_a_key_table_changed_within_the_window_fails_one_delivery_and_the_retry_succeeds(fake_stripe):
    s = subscribed_organization(fake_stripe)
    _warm(fake_stripe, s)
    Account.objects.all().delete()
    event = fake_stripe.event(
        "customer.subscription.updated", fake_stripe.update(s.subscription["id"], status="past_due")
    )

    first, retry = deliver(event), deliver(event)

    # The remembered owner account no longer exists: the commit fails on its foreign key, nothing is kept, the
    # keys are forgotten, and Stripe's redelivery succeeds.
    assert first.status_code == 500 and first.json()["code"] == "processing_failed"
    assert WebhookEventTrigger.objects.filter(processed=False).count() == 1
    assert retry.status_code == 200
    s.org.refresh_from_db()
    assert s.org.subscription_status == "past_due"
