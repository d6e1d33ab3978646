"""Faults in the middle of a webhook, and the same event delivered many times at once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from djstripe.models import Event, Subscription

from billing.models import Notification, NotificationStatus, StripeEventReceipt
from billing.notifications import notifications_deliver_due
from tests.billing.factories import subscribed_organization
from tests.fakes.stripe_plugin import deliver

pytestmark = pytest.mark.django_db(transaction=True)


def _fail_tier_writes():
    """Make the database itself refuse any change of an organization's tier (a real fault, mid-transaction)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_tier() RETURNS trigger AS $$ BEGIN "
                "IF NEW.tier <> OLD.tier THEN RAISE EXCEPTION 'injected database failure'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER refuse_tier BEFORE UPDATE ON accounts_organization "
                "FOR EACH ROW EXECUTE FUNCTION refuse_tier()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER refuse_tier BEFORE UPDATE OF tier ON accounts_organization "
                "WHEN NEW.tier <> OLD.tier BEGIN SELECT RAISE(ABORT, 'injected database failure'); END"
            )


def _heal_tier_writes():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER refuse_tier ON accounts_organization")
            cursor.execute("DROP FUNCTION refuse_tier()")
        else:
            cursor.execute("DROP TRIGGER refuse_tier")


def test_database_failure_mid_webhook_leaves_no_partial_state_and_the_retry_succeeds(fake_stripe, notify):
    s = subscribed_organization(fake_stripe)
    _, sub = fake_stripe.handle("DELETE", f"/v1/subscriptions/{s.subscription['id']}", {}, {})
    event = fake_stripe.event("customer.subscription.deleted", sub)
    _fail_tier_writes()
    try:
        failed = deliver(event)
    finally:
        _heal_tier_writes()

    assert failed.status_code == 500
    s.org.refresh_from_db()
    assert s.org.tier == "professional" and s.org.subscription_status == "active"
    assert not Event.objects.exists() and not Subscription.objects.exists()
    assert not StripeEventReceipt.objects.exists() and not Notification.objects.exists()

    assert deliver(event).status_code == 200
    s.org.refresh_from_db()
    assert s.org.tier == "free" and Subscription.objects.get(id=sub["id"]).stripe_data["status"] == "canceled"


def test_smtp_failure_after_commit_keeps_the_billing_change_and_the_retry_delivers(fake_stripe, notify):
    smtp, receiver = notify
    smtp.refuse = True
    s = subscribed_organization(fake_stripe)
    invoice = fake_stripe.add_invoice(subscription_id=s.subscription["id"])

    assert deliver(fake_stripe.event("invoice.payment_failed", invoice)).status_code == 200

    s.org.refresh_from_db()
    assert s.org.grace_until is not None
    email = Notification.objects.get(channel="email")
    assert email.status == NotificationStatus.PENDING and email.attempts == 1 and "451" in email.last_error
    assert Notification.objects.get(channel="webhook").status == NotificationStatus.SENT

    smtp.refuse = False
    Notification.objects.filter(pk=email.pk).update(next_attempt_at=email.created_at)
    assert notifications_deliver_due() == {"sent": 1, "pending": 0, "failed": 0}
    email.refresh_from_db()
    assert email.status == NotificationStatus.SENT and email.attempts == 2
    assert len(smtp.messages) == 1 and len(receiver.received) == 1


@pytest.mark.parametrize("copies", [20])
def test_one_event_delivered_concurrently_changes_state_once_and_notifies_once(fake_stripe, notify, copies):
    smtp, receiver = notify
    s = subscribed_organization(fake_stripe)
    event = fake_stripe.event("invoice.payment_failed", fake_stripe.add_invoice(subscription_id=s.subscription["id"]))
    statuses, barrier = [], threading.Barrier(copies)

    def post():
        barrier.wait()
        try:
            statuses.append(deliver(event).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert statuses == [200] * copies
    assert StripeEventReceipt.objects.filter(event_id=event["id"]).count() == 1
    assert Notification.objects.filter(kind="payment_failed").count() == 2
    assert len(smtp.messages) == 1 and len(receiver.received) == 1
