"""Notifications: rows, delivery after commit over real SMTP and HTTP on loopback, signatures, retries."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from accounts.models import Organization
from billing.models import Notification, NotificationKind, NotificationStatus
from billing.notifications import (
    notification_retry,
    notification_send,
    notifications_deliver_due,
    sign_notification,
    verify_notification_signature,
)
from tests.factories import OrganizationFactory, UserFactory
from tests.fakes.receivers import NOTIFY_SECRET

pytestmark = pytest.mark.django_db(transaction=True)

BUDGET = {"threshold": "80%", "spent_usd": "80.00", "budget_usd": "100.00", "period": "2026-11"}


def test_budget_threshold_goes_out_by_email_and_signed_webhook_after_commit(notify):
    smtp, receiver = notify
    org = OrganizationFactory(admin=True, name="Acme & Co")
    admin = org.owner
    UserFactory(organization=org, role="member")
    second_admin = UserFactory(organization=org, role="admin")

    with transaction.atomic():
        rows = notification_send(organization=org, kind="budget_threshold", context=BUDGET)
        assert [r.channel for r in rows] == ["email", "webhook"]
        assert not smtp.messages and not receiver.received

    assert {r.status for r in Notification.objects.all()} == {NotificationStatus.SENT}
    (message,) = smtp.messages
    assert message["Subject"] == "Acme & Co has crossed a budget threshold"
    assert message["From"] == "billing@aragora.ai"
    assert sorted(smtp.envelopes[0][1]) == sorted([admin.email, second_admin.email])
    text, html = (part.get_payload(decode=True).decode() for part in message.get_payload())
    assert "Acme & Co has crossed a budget threshold (80%)" in text and "spent_usd: 80.00" in text
    assert "Acme &amp; Co" in html and "<table" in html
    headers, body = receiver.received[0]
    assert headers["content-type"] == "application/json"
    assert verify_notification_signature(body, headers["x-aragora-signature"], secret=NOTIFY_SECRET)
    document = json.loads(body)
    assert document["kind"] == "budget_threshold" and document["context"] == BUDGET
    assert document["organization"] == {"id": str(org.pk), "name": "Acme & Co", "slug": org.slug}


def test_nothing_is_sent_when_the_transaction_rolls_back(notify):
    smtp, receiver = notify
    org = OrganizationFactory(admin=True)
    with pytest.raises(RuntimeError), transaction.atomic():
        notification_send(organization=org, kind=NotificationKind.UPGRADED, context={"tier": "starter"})
        raise RuntimeError("the billing change failed")
    assert not Notification.objects.exists() and not smtp.messages and not receiver.received


def test_unknown_kind_is_refused(notify):
    org = OrganizationFactory(admin=True)
    with pytest.raises(ValueError):
        notification_send(organization=org, kind="lottery_won", context={})


def test_no_configured_channel_records_nothing(settings):
    settings.ARAGORA_SMTP_HOST = ""
    settings.ARAGORA_NOTIFICATION_WEBHOOK = ""
    org = OrganizationFactory(admin=True)
    assert notification_send(organization=org, kind="upgraded", context={"tier": "starter"}) == []


def test_signature_verification_rejects_tampering_other_secrets_and_old_timestamps():
    body = b'{"kind":"upgraded"}'
    header = sign_notification(body, secret=NOTIFY_SECRET)
    assert verify_notification_signature(body, header, secret=NOTIFY_SECRET)
    assert not verify_notification_signature(body + b" ", header, secret=NOTIFY_SECRET)
    assert not verify_notification_signature(body, header, secret="another-secret-another-secret-0000")
    old = sign_notification(body, secret=NOTIFY_SECRET, timestamp=int(time.time()) - 301)
    assert not verify_notification_signature(body, old, secret=NOTIFY_SECRET)
    assert not verify_notification_signature(body, "garbage", secret=NOTIFY_SECRET)


def test_line_breaks_in_email_headers_are_refused_without_retry(notify):
    smtp, receiver = notify
    org = OrganizationFactory(admin=True)
    Organization.objects.filter(pk=org.pk).update(name="Evil\r\nBcc: victim@example.com")
    org.refresh_from_db()

    notification_send(organization=org, kind="upgraded", context={"tier": "starter"})

    email = Notification.objects.get(channel="email")
    assert email.status == NotificationStatus.FAILED and "line break" in email.last_error
    assert not smtp.messages
    assert len(receiver.received) == 1


def test_webhook_redirects_are_not_followed(notify, webhook_receiver):
    webhook_receiver.status = 302
    webhook_receiver.location = webhook_receiver.url + "/elsewhere"
    org = OrganizationFactory(admin=True)

    notification_send(organization=org, kind="upgraded", context={"tier": "starter"})

    hook = Notification.objects.get(channel="webhook")
    assert hook.status == NotificationStatus.PENDING and "302" in hook.last_error
    assert [h.get("x-aragora-notification-id") for h, _ in webhook_receiver.received] == [str(hook.pk)]


def test_failed_delivery_backs_off_and_the_retry_command_delivers_when_due(notify, webhook_receiver):
    webhook_receiver.status = 503
    org = OrganizationFactory(admin=True)
    notification_send(organization=org, kind="payment_recovered", context={"tier": "starter"})
    hook = Notification.objects.get(channel="webhook")
    assert hook.attempts == 1 and hook.next_attempt_at > timezone.now() + timedelta(seconds=50)

    webhook_receiver.status = 200
    call_command("billing_notifications_retry")
    hook.refresh_from_db()
    assert hook.status == NotificationStatus.PENDING and len(webhook_receiver.received) == 1

    Notification.objects.filter(pk=hook.pk).update(next_attempt_at=timezone.now())
    call_command("billing_notifications_retry")
    hook.refresh_from_db()
    assert hook.status == NotificationStatus.SENT and hook.attempts == 2 and hook.last_error == ""
    assert len(webhook_receiver.received) == 2


def test_delivery_gives_up_after_the_maximum_attempts(notify, webhook_receiver, settings):
    settings.ARAGORA_NOTIFICATION_MAX_ATTEMPTS = 2
    webhook_receiver.status = 500
    org = OrganizationFactory(admin=True)
    notification_send(organization=org, kind="upgraded", context={"tier": "starter"})
    Notification.objects.filter(channel="webhook").update(next_attempt_at=timezone.now())

    assert notifications_deliver_due()["failed"] == 1
    hook = Notification.objects.get(channel="webhook")
    assert hook.status == NotificationStatus.FAILED and hook.attempts == 2

    webhook_receiver.status = 200
    assert notification_retry(notification=hook).status == NotificationStatus.SENT


def test_a_sent_notification_is_never_sent_again(notify):
    smtp, receiver = notify
    org = OrganizationFactory(admin=True)
    notification_send(organization=org, kind="upgraded", context={"tier": "starter"})
    for row in Notification.objects.all():
        assert notification_retry(notification=row) is None
    assert notifications_deliver_due() == {"sent": 0, "pending": 0, "failed": 0}
    assert len(smtp.messages) == 1 and len(receiver.received) == 1


@pytest.mark.parametrize("kind", NotificationKind.values)
def test_every_kind_renders_text_and_html(notify, kind):
    smtp, _ = notify
    org = OrganizationFactory(admin=True)
    context = {"tier": "starter", "previous_tier": "professional", "grace_until": "2026-12-01", **BUDGET}
    notification_send(organization=org, kind=kind, context=context)
    (message,) = smtp.messages
    text, html = (part.get_payload(decode=True).decode() for part in message.get_payload())
    assert org.name in text and org.name in html and "<html" in html
