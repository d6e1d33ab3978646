"""Grace expiry (the tier in force, the sweep command), reminders, reconciliation, and the test schema of dj-stripe."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Organization
from billing.models import Notification, StripeEventReceipt
from tests.billing.factories import subscribed_organization
from tests.conftest import client_for
from tests.fakes.stripe_plugin import deliver

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def _failed_payment(fake, s):
    invoice = fake.add_invoice(subscription_id=s.subscription["id"])
    assert deliver(fake.event("invoice.payment_failed", invoice)).status_code == 200
    s.org.refresh_from_db()
    return s.org.grace_until


def _kinds(org):
    return list(
        Notification.objects.filter(organization=org, channel="email")
        .order_by("created_at")
        .values_list("kind", flat=True)
    )


def test_grace_command_reminds_once_then_downgrades_once(fake_stripe, notify, settings):
    settings.ARAGORA_PAYMENT_GRACE_DAYS, settings.ARAGORA_GRACE_REMINDER_DAYS = 10, 3
    s = subscribed_organization(fake_stripe)
    grace_until = _failed_payment(fake_stripe, s)
    out = StringIO()

    with time_machine.travel(grace_until - timedelta(days=5), tick=False):
        call_command("billing_grace", stdout=out)
    with time_machine.travel(grace_until - timedelta(days=2), tick=False):
        call_command("billing_grace", stdout=out)
        call_command("billing_grace", stdout=out)
    s.org.refresh_from_db()
    assert s.org.tier == "professional" and s.org.grace_reminder_sent_at is not None

    with time_machine.travel(grace_until + timedelta(minutes=1), tick=False):
        call_command("billing_grace", stdout=out)
        call_command("billing_grace", stdout=out)

    s.org.refresh_from_db()
    assert s.org.tier == "free" and s.org.debates_used == 0 and s.org.grace_until == grace_until
    assert _kinds(s.org) == ["payment_failed", "grace_ending", "downgraded"]
    assert out.getvalue().splitlines() == [
        "Grace periods expired: 0; reminders sent: 0.",
        "Grace periods expired: 0; reminders sent: 1.",
        "Grace periods expired: 0; reminders sent: 0.",
        "Grace periods expired: 1; reminders sent: 0.",
        "Grace periods expired: 0; reminders sent: 0.",
    ]


def test_expired_grace_shows_the_free_tier_at_once_and_the_sweep_alone_downgrades(fake_stripe, notify):
    s = subscribed_organization(fake_stripe)
    grace_until = _failed_payment(fake_stripe, s)

    with time_machine.travel(grace_until + timedelta(hours=1)):
        body = client_for(s.admin).get("/api/billing/subscription").json()
        again = client_for(s.admin).get("/api/billing/subscription").json()
        s.org.refresh_from_db()
        assert s.org.tier == "professional" and "downgraded" not in _kinds(s.org)
        call_command("billing_grace", stdout=StringIO())

    assert body["tier"] == again["tier"] == "free"
    assert body["limits"]["debates_per_month"] == 10
    s.org.refresh_from_db()
    assert s.org.tier == "free" and _kinds(s.org).count("downgraded") == 1


def test_subscription_update_after_expired_grace_does_not_restore_the_tier(fake_stripe, notify):
    s = subscribed_organization(fake_stripe)
    grace_until = _failed_payment(fake_stripe, s)
    with time_machine.travel(grace_until + timedelta(hours=1), tick=False):
        call_command("billing_grace", stdout=StringIO())
        sub = fake_stripe.update(s.subscription["id"], status="past_due")
        deliver(fake_stripe.event("customer.subscription.updated", sub))
    s.org.refresh_from_db()
    assert s.org.tier == "free" and s.org.subscription_status == "past_due"


def test_payment_after_expired_grace_restores_the_paid_tier(fake_stripe, notify):
    s = subscribed_organization(fake_stripe, tier="starter")
    grace_until = _failed_payment(fake_stripe, s)
    with time_machine.travel(grace_until + timedelta(hours=1), tick=False):
        call_command("billing_grace", stdout=StringIO())
        invoice = fake_stripe.add_invoice(subscription_id=s.subscription["id"], status="paid")
        deliver(fake_stripe.event("invoice.paid", invoice))
    s.org.refresh_from_db()
    assert s.org.tier == "starter" and s.org.grace_until is None
    assert _kinds(s.org)[-1] == "payment_recovered"


def test_reconcile_applies_undelivered_events_once(fake_stripe, notify):
    s = subscribed_organization(fake_stripe)
    _, sub = fake_stripe.handle("DELETE", f"/v1/subscriptions/{s.subscription['id']}", {}, {})
    fake_stripe.event("customer.subscription.deleted", sub, created=int(time.time()) - 60)
    out = StringIO()

    call_command("billing_reconcile", stdout=out)
    call_command("billing_reconcile", stdout=out)

    s.org.refresh_from_db()
    assert s.org.tier == "free" and StripeEventReceipt.objects.count() == 1
    assert out.getvalue().splitlines() == [
        "Events listed: 1; applied: 1; already applied: 0; failed: 0.",
        "Events listed: 1; applied: 0; already applied: 1; failed: 0.",
    ]
    (listing, *_) = fake_stripe.requests_to("GET", "/v1/events")
    assert listing.params["delivery_success"] == "false"


def test_reconcile_without_stripe_configured_fails_loudly(settings):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(CommandError, match="STRIPE_SECRET_KEY"):
        call_command("billing_reconcile")


def test_resync_applies_stripes_current_state(fake_stripe, notify):
    from billing.services.self_service import organization_resync

    s = subscribed_organization(fake_stripe)
    fake_stripe.update(s.subscription["id"], cancel_at_period_end=True)

    organization_resync(organization=s.org)

    org = Organization.objects.get(pk=s.org.pk)
    assert org.cancel_at_period_end is True and org.stripe_subscription_event_at is not None
    assert _kinds(org) == ["subscription_canceled"]


def test_grace_expiry_within_the_window_is_not_early(fake_stripe, notify):
    s = subscribed_organization(fake_stripe)
    grace_until = _failed_payment(fake_stripe, s)
    with time_machine.travel(grace_until - timedelta(seconds=5), tick=False):
        assert client_for(s.admin).get("/api/billing/subscription").json()["tier"] == "professional"
    assert timezone.now() < grace_until


def test_the_single_step_djstripe_test_schema_matches_djstripes_models():
    env = {**os.environ, "DJSTRIPE_TEST_MIGRATIONS": "1", "DEBUG": "1"}
    res = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "djstripe", "--check", "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_prune_command_forgets_idempotency_keys_older_than_a_week_and_keeps_newer_ones():
    from billing.models import IdempotencyRecord
    from tests.factories import OrganizationFactory

    org = OrganizationFactory()
    old = IdempotencyRecord.objects.create(
        organization=org,
        key="old",
        operation="checkout",
        fingerprint="a" * 64,
        created_at=timezone.now() - timedelta(days=8),
    )
    recent = IdempotencyRecord.objects.create(
        organization=org,
        key="recent",
        operation="checkout",
        fingerprint="b" * 64,
        created_at=timezone.now() - timedelta(days=6),
    )
    out = StringIO()
    call_command("billing_idempotency_prune", stdout=out)
    assert out.getvalue().strip() == "idempotency records removed: 1"
    assert not IdempotencyRecord.objects.filter(pk=old.pk).exists()
    assert IdempotencyRecord.objects.filter(pk=recent.pk).exists()


def test_the_prune_command_refuses_a_window_shorter_than_stripes_own():
    with pytest.raises(SystemExit) as exit_info:
        call_command("billing_idempotency_prune", "--days", "0", stderr=StringIO())
    assert exit_info.value.code == 2
