"""Staff's billing actions: tier overrides (with a reason, recorded), and the billing admin's recorded actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from djstripe.models import Invoice

from accounts.models import Organization, User
from aragora_site.errors import ServiceError
from aragora_site.models import AuditEntry
from billing.models import Notification, NotificationStatus
from billing.notifications import notification_send
from billing.services.backoffice import organization_tier_override
from billing.services.grace import organizations_grace_sweep
from tests.billing.factories import subscribed_organization
from tests.factories import OrganizationFactory
from tests.fakes.stripe_plugin import deliver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff():
    return User.objects.create_superuser(email="staff@example.com", password="staff-password-123")


@pytest.fixture
def staff_browser(staff):
    browser = Client()
    browser.force_login(staff)
    return browser


def test_an_override_ends_a_lapsed_grace_period_so_the_sweep_keeps_it(staff):
    lapsed = timezone.now() - timedelta(hours=1)
    org = OrganizationFactory(tier="professional", grace_until=lapsed)
    assert org.effective_tier == "free"

    organization_tier_override(organization=org, tier="professional", reason="Paid by bank transfer", actor=staff)
    organizations_grace_sweep()

    org.refresh_from_db()
    assert org.tier == org.effective_tier == "professional" and org.grace_until is None
    entry = AuditEntry.objects.get()
    assert entry.details["tier_in_force"] == ["free", "professional"] and entry.details["grace_until"][1] is None


@pytest.mark.parametrize(
    ("tier", "reason", "code"),
    [("enterprise", "", "reason_required"), ("enterprise", "  ", "reason_required"), ("gold", "x", "invalid_tier")],
)
def test_an_override_without_a_reason_or_with_an_unknown_tier_changes_nothing(staff, tier, reason, code):
    org = OrganizationFactory(tier="starter")
    with pytest.raises(ServiceError) as caught:
        organization_tier_override(organization=org, tier=tier, reason=reason, actor=staff)
    assert caught.value.code == code
    org.refresh_from_db()
    assert org.tier == "starter" and not AuditEntry.objects.exists()


def test_the_next_subscription_event_from_stripe_applies_stripes_state_over_an_override(fake_stripe, notify, staff):
    s = subscribed_organization(fake_stripe, tier="professional")
    organization_tier_override(organization=s.org, tier="enterprise", reason="Trial of Enterprise", actor=staff)
    assert Organization.objects.get(pk=s.org.pk).tier == "enterprise"

    deliver(fake_stripe.event("customer.subscription.updated", fake_stripe.get(s.subscription["id"])))

    assert Organization.objects.get(pk=s.org.pk).tier == "professional"


def test_resync_and_grace_actions_are_recorded(staff_browser, fake_stripe, notify):
    s = subscribed_organization(fake_stripe)
    lapsed = OrganizationFactory(name="Lapsed", tier="starter", grace_until=timezone.now() - timedelta(days=1))
    staff_browser.post(
        "/admin/billing/organizationbilling/", {"action": "resync_from_stripe", "_selected_action": [str(s.org.pk)]}
    )
    staff_browser.post(
        "/admin/billing/organizationbilling/",
        {"action": "expire_grace_if_due", "_selected_action": [str(lapsed.pk), str(s.org.pk)]},
    )

    resync, expired = AuditEntry.objects.order_by("created_at", "id")
    assert resync.action == "billing_resynced" and resync.organization_id == s.org.pk
    assert resync.details["outcome"] == "applied" and resync.actor_email == "staff@example.com"
    assert expired.action == "grace_expired" and expired.organization_id == lapsed.pk  # only where it was due
    assert expired.details == {"tier": ["starter", "free"]}


def test_a_resync_that_stripe_refuses_is_not_recorded(staff_browser):
    lonely = OrganizationFactory(name="No Stripe")
    res = staff_browser.post(
        "/admin/billing/organizationbilling/",
        {"action": "resync_from_stripe", "_selected_action": [str(lonely.pk)]},
        follow=True,
    )
    assert "has no Stripe subscription" in res.content.decode()
    assert not AuditEntry.objects.exists()


def test_a_notification_retry_is_recorded_with_its_result(staff_browser, fake_stripe, notify, webhook_receiver):
    s = subscribed_organization(fake_stripe)
    notification_send(organization=s.org, kind="upgraded", context={"tier": "professional"})
    hook = Notification.objects.get(channel="webhook")
    Notification.objects.filter(pk=hook.pk).update(status=NotificationStatus.FAILED)

    staff_browser.post("/admin/billing/notification/", {"action": "retry_now", "_selected_action": [str(hook.pk)]})

    entry = AuditEntry.objects.get()
    assert entry.action == "notification_retried" and entry.organization_id == s.org.pk
    assert entry.details == {"kind": "upgraded", "channel": "webhook", "status": "sent"}


def test_the_organization_page_links_to_its_synced_stripe_objects(staff_browser, fake_stripe, notify):
    s = subscribed_organization(fake_stripe)
    deliver(fake_stripe.event("customer.subscription.updated", fake_stripe.get(s.subscription["id"])))
    deliver(fake_stripe.event("invoice.payment_failed", fake_stripe.add_invoice(subscription_id=s.subscription["id"])))
    invoice = Invoice.objects.get()

    page = staff_browser.get(f"/admin/accounts/organization/{s.org.pk}/change/").content.decode()

    for label in ("Stripe subscription", "Stripe customer", "Invoices"):
        assert f">{label}</a>" in page, label
    invoices = f"/admin/djstripe/invoice/?customer__id__exact={s.customer['id']}"
    assert f'href="{invoices}"' in page
    listed = staff_browser.get(invoices)
    assert listed.status_code == 200 and list(listed.context["cl"].result_list) == [invoice]
    assert staff_browser.get(f"/admin/djstripe/invoice/{invoice.pk}/change/").status_code == 200
    assert staff_browser.get(f"/admin/djstripe/invoice/?q={invoice.id}").context["cl"].result_count == 1
    for name in ("subscription", "customer"):
        start = page.index(f'href="/admin/djstripe/{name}/')
        url = page[start + 6 : page.index('"', start + 6)]
        assert staff_browser.get(url).status_code == 200, url
