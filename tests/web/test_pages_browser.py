"""The customer's web app in a real headless Chromium: every page as a customer would use it, at phone and laptop
width, including the error paths of its forms."""

import re
import time

import pytest

from accounts import tokens
from accounts.models import User
from billing.models import StripeEventReceipt
from tests.browser import at_widths, sign_in
from tests.factories import PASSWORD, OrganizationFactory, UserFactory
from tests.fakes.stripe_plugin import WEBHOOK_SECRET, deliver
from tests.usage.factories import BudgetFactory
from usage.models import BudgetAlert

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NEW_PASSWORD = "a-brand-new-passphrase-64"


def test_a_visitor_finds_sign_in_register_plans_and_the_api_docs_offline(page):
    at_widths(page, "/", "landing")
    for name in ("Sign in", "Create a free account", "Plans and prices", "API documentation"):
        assert page.get_by_role("link", name=name).first.is_visible()
    page.get_by_role("link", name="Plans and prices").click()
    assert page.locator("[data-testid=plan-professional]").inner_text().startswith("Professional")
    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Aragora billing API" in page.inner_text(".swagger-ui .info .title")
    page.goto("/api/redoc/")
    page.wait_for_selector("h1:has-text('Aragora billing API')")


def test_registering_opens_a_free_organization_and_refuses_bad_input(page):
    UserFactory(email="taken@example.com")
    page.goto("/accounts/register/")
    page.fill("input[name=email]", "taken@example.com")
    page.fill("input[name=password]", "short")
    page.fill("input[name=password_again]", "different")
    page.click("form button[type=submit]")
    assert "The two passwords differ." in page.inner_text("form")
    page.fill("input[name=password]", "password123")
    page.fill("input[name=password_again]", "password123")
    page.click("form button[type=submit]")
    assert "This password is too common." in page.inner_text("form")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password_again]", PASSWORD)
    page.click("form button[type=submit]")
    assert "already exists" in page.inner_text("form")

    page.fill("input[name=email]", "new.owner@example.com")
    page.fill("input[name=name]", "New Owner")
    page.fill("input[name=organization_name]", "Owner & Co")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password_again]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/dashboard/$"))
    assert page.inner_text("[data-testid=org-name]") == "Owner & Co"
    assert page.inner_text("[data-testid=tier-badge]") == "Free"
    assert User.objects.get(email="new.owner@example.com").organization.name == "Owner & Co"


def test_sign_in_refuses_a_wrong_password_then_signs_in_and_out(page, org_admin):
    sign_in(page, org_admin.email, "not-the-password")
    assert "Invalid e-mail or password." in page.inner_text("form")
    sign_in(page, org_admin.email)
    page.wait_for_url(re.compile(r"/dashboard/$"))
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.get_by_role("link", name="Sign in").first.is_visible()


def test_forgot_password_mails_a_link_that_sets_a_new_password_once(page, org_admin, smtp_server):
    page.goto("/accounts/password/reset/")
    page.fill("input[name=email]", "nobody@example.com")
    page.click("form button[type=submit]")
    assert page.locator("[data-testid=reset-sent]").is_visible()
    page.goto("/accounts/password/reset/")
    page.fill("input[name=email]", org_admin.email)
    page.click("form button[type=submit]")
    assert page.locator("[data-testid=reset-sent]").is_visible()
    (mail,) = smtp_server.messages  # none for the unknown address; the page said the same both times
    assert mail["To"] == org_admin.email
    link = re.search(r"https?://\S+/accounts/password/reset/\S+/", mail.get_payload()).group(0)

    page.goto(link)
    page.fill("input[name=new_password1]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", "a-different-passphrase-65")
    page.click("form button[type=submit]")
    assert "The two password fields didn\u2019t match." in page.inner_text("form")
    page.fill("input[name=new_password1]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/login/$"))
    sign_in(page, org_admin.email, NEW_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard/$"))
    page.goto(link)
    assert page.locator("[data-testid=reset-invalid]").is_visible()


def test_changing_the_password_refuses_a_wrong_current_one_and_ends_api_tokens(page, org_admin, api):
    token = tokens.token_pair_for_user(org_admin).access_token
    sign_in(page, org_admin.email)
    at_widths(page, "/account/", "account")
    page.get_by_role("link", name="Change password").click()
    page.fill("input[name=old_password]", "wrong-password-1")
    page.fill("input[name=new_password1]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    page.click("[data-testid=password-form] button[type=submit]")
    assert "Your old password was entered incorrectly." in page.inner_text("[data-testid=password-form]")
    page.fill("input[name=old_password]", PASSWORD)
    page.fill("input[name=new_password1]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    page.click("[data-testid=password-form] button[type=submit]")
    page.wait_for_selector("text=Password changed.")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/org").status_code == 401


def test_billing_shows_the_plan_and_upgrades_through_checkout_and_a_signed_webhook(
    page, org_admin, fake_stripe, settings, live_server
):
    settings.ARAGORA_REDIRECT_ALLOWED_HOSTS = ["localhost"]
    fake_stripe.webhook_target = (f"{live_server.url}/api/billing/webhook", WEBHOOK_SECRET)
    org = org_admin.organization
    org.tier = "free"
    org.save(update_fields=["tier"])
    sign_in(page, org_admin.email)
    at_widths(page, "/billing/", "billing")
    assert page.inner_text("[data-testid=plan-name]") == "Free"
    assert page.inner_text("[data-testid=debates-remaining]") == "10 debates remaining"

    page.click("[data-testid=upgrade-professional]")
    page.wait_for_url(re.compile(r"/pay/cs_"))
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(re.compile(r"/billing/\?checkout=success$"))
    assert page.locator("[data-testid=checkout-success]").is_visible()
    assert page.inner_text("[data-testid=plan-name]") == "Professional"
    assert page.inner_text("[data-testid=tier-badge]") == "Professional"
    assert StripeEventReceipt.objects.filter(type="checkout.session.completed").exists()

    org.refresh_from_db()
    invoice = fake_stripe.add_invoice(subscription_id=org.stripe_subscription_id, status="paid")
    fake_stripe.update(invoice["id"], number="ARA-0001", hosted_invoice_url="https://invoice.example/1")
    assert deliver(fake_stripe.event("invoice.paid", fake_stripe.get(invoice["id"]))).status_code == 200
    page.reload()
    row = page.locator("[data-testid=invoices] tbody tr").first
    assert "ARA-0001" in row.inner_text() and "$299.00" in row.inner_text() and "Paid" in row.inner_text()

    page.click("[data-testid=change-enterprise]")
    assert page.locator("[data-testid=confirm-change]").is_visible()
    page.click("[data-testid=confirm]")
    page.wait_for_selector("text=Change to Enterprise requested")
    assert fake_stripe.requests_to("POST", f"/v1/subscriptions/{org.stripe_subscription_id}")

    page.click("[data-testid=cancel-link]")
    page.click("[data-testid=confirm]")
    page.wait_for_selector("text=Cancellation requested")

    page.click("[data-testid=manage-billing]")
    page.wait_for_url(re.compile(r"/portal/bps_"))
    page.get_by_role("link", name="Return to Aragora").click()
    page.wait_for_url(re.compile(r"/billing/$"))


def test_billing_without_stripe_says_how_to_configure_it_and_members_cannot_change_the_plan(page, org, member):
    sign_in(page, member.email)
    page.goto("/billing/")
    assert "STRIPE_SECRET_KEY" in page.inner_text("[data-testid=stripe-not-configured]")
    assert page.locator("[data-testid^=upgrade-]").count() == 0
    assert "Only admins can change the plan." in page.inner_text("main")


def test_a_grace_period_shows_a_banner_with_the_date_the_plan_drops(page, org_admin):
    org = org_admin.organization
    org.grace_until = org.created_at.replace(year=2099)
    org.save(update_fields=["grace_until"])
    sign_in(page, org_admin.email)
    page.goto("/billing/")
    banner = page.inner_text("[data-testid=grace-banner]")
    assert "Professional plan stays active until" in banner and "2099" in banner


def test_alerts_show_history_and_a_banner_until_an_admin_marks_them_seen(page, org_admin, settings):
    settings.ARAGORA_SMTP_HOST = ""
    settings.ARAGORA_NOTIFICATION_WEBHOOK = ""
    org = org_admin.organization
    BudgetFactory(organization=org)
    from usage.periods import current_period_start, month_key

    period = month_key(current_period_start())
    for threshold in (50, 80):
        BudgetAlert.objects.create(
            organization=org,
            period=period,
            threshold=threshold,
            spend_usd=threshold,
            budget_usd=100,
            delivery_status="unavailable",
        )
    sign_in(page, org_admin.email)
    assert "2 budget alerts this period" in page.inner_text("[data-testid=alert-banner]")
    at_widths(page, "/alerts/", "alerts")
    rows = page.locator("[data-testid=alert-history] tbody tr")
    assert rows.count() == 2 and "shown here only" in rows.first.inner_text()
    page.click("[data-testid=acknowledge]")
    page.wait_for_selector("text=Marked 2 alerts as seen.")
    page.goto("/dashboard/")
    assert page.locator("[data-testid=alert-banner]").count() == 0


def test_the_profile_form_refuses_a_too_long_name_and_sign_out_everywhere_ends_tokens(page, org_admin, api):
    token = tokens.token_pair_for_user(org_admin).access_token
    sign_in(page, org_admin.email)
    page.goto("/account/")
    page.evaluate("() => document.querySelector('input[name=name]').removeAttribute('maxlength')")
    page.fill("input[name=name]", "x" * 201)
    page.click("[data-testid=profile-form] button[type=submit]")
    assert "at most 200 characters" in page.inner_text("[data-testid=profile-form]")
    page.fill("input[name=name]", "Renamed")
    page.click("[data-testid=profile-form] button[type=submit]")
    page.wait_for_selector("text=Profile saved.")
    page.click("[data-testid=sign-out-everywhere]")
    page.wait_for_url(re.compile(r"/accounts/login/$"))
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/org").status_code == 401


def test_an_account_without_organization_sees_why_and_other_organizations_stay_invisible(page):
    loner = UserFactory(organization=None)
    OrganizationFactory(name="Someone Else's", admin=True)
    sign_in(page, loner.email)
    page.goto("/billing/")
    assert "does not belong to an organization" in page.inner_text("main")
    assert "Someone Else" not in page.content()
    time.sleep(0)  # keep the event loop turning between the two navigations
