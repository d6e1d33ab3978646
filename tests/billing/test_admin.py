"""The billing back office: billing state, grace periods, notifications (retry), Stripe events, re-sync."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Organization, User
from billing.models import Notification, NotificationStatus
from billing.notifications import notification_send
from tests.billing.factories import subscribed_organization
from tests.fakes.stripe_plugin import deliver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff_browser(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    staff = User.objects.create_superuser(email="staff@example.com", password="staff-password-123")
    browser = Client()
    browser.force_login(staff)
    return browser


def test_billing_pages_render_for_staff_and_show_no_secret(staff_browser, fake_stripe, notify, settings):
    s = subscribed_organization(fake_stripe)
    deliver(fake_stripe.event("invoice.payment_failed", fake_stripe.add_invoice(subscription_id=s.subscription["id"])))
    for url in [
        "/admin/billing/organizationbilling/",
        "/admin/billing/organizationbilling/?grace=running",
        f"/admin/billing/organizationbilling/{s.org.pk}/change/",
        "/admin/billing/notification/",
        f"/admin/billing/notification/{Notification.objects.first().pk}/change/",
        "/admin/billing/stripeeventreceipt/",
        "/admin/djstripe/event/",
        "/admin/djstripe/subscription/",
        "/admin/djstripe/customer/",
        "/admin/djstripe/webhookeventtrigger/",
        "/admin/djstripe/apikey/",
    ]:
        res = staff_browser.get(url)
        assert res.status_code == 200, url
        page = res.content.decode()
        assert settings.STRIPE_SECRET_KEY not in page and settings.STRIPE_WEBHOOK_SECRET not in page, url
    assert s.org.name in staff_browser.get("/admin/billing/organizationbilling/?grace=running").content.decode()


def test_billing_admin_is_for_staff_only(fake_stripe):
    s = subscribed_organization(fake_stripe)
    browser = Client()
    browser.force_login(s.admin)
    res = browser.get("/admin/billing/organizationbilling/")
    assert res.status_code == 302 and "/admin/login/" in res["Location"]


def test_retry_action_delivers_a_failed_notification(staff_browser, fake_stripe, notify, webhook_receiver):
    s = subscribed_organization(fake_stripe)
    webhook_receiver.status = 500
    notification_send(organization=s.org, kind="upgraded", context={"tier": "professional"})
    hook = Notification.objects.get(channel="webhook")
    Notification.objects.filter(pk=hook.pk).update(status=NotificationStatus.FAILED)
    webhook_receiver.status = 200

    res = staff_browser.post(
        "/admin/billing/notification/", {"action": "retry_now", "_selected_action": [str(hook.pk)]}, follow=True
    )

    assert res.status_code == 200 and "1 delivered" in res.content.decode()
    hook.refresh_from_db()
    assert hook.status == NotificationStatus.SENT


def test_resync_action_brings_the_organization_in_line_with_stripe(staff_browser, fake_stripe, notify):
    s = subscribed_organization(fake_stripe)
    fake_stripe.handle("DELETE", f"/v1/subscriptions/{s.subscription['id']}", {}, {})
    lonely = Organization.objects.create(name="No Stripe", slug="no-stripe")

    res = staff_browser.post(
        "/admin/billing/organizationbilling/",
        {"action": "resync_from_stripe", "_selected_action": [str(s.org.pk), str(lonely.pk)]},
        follow=True,
    )

    page = res.content.decode()
    assert "re-synced" in page and "has no Stripe subscription" in page
    s.org.refresh_from_db()
    assert s.org.tier == "free" and s.org.subscription_status == "canceled"
