"""The customer pages' rules, through Django's test client: who may see and do what, and every refusal."""

import pytest
from django.test import Client

from billing.models import StripeEventReceipt
from tests.billing.factories import subscribed_organization
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

PAGES = ["/dashboard/", "/billing/", "/alerts/", "/account/", "/account/password/", "/keys/", "/members/"]


def _browser(user=None) -> Client:
    browser = Client()
    if user is not None:
        browser.force_login(user)
    return browser


@pytest.mark.parametrize("path", PAGES)
def test_every_app_page_asks_visitors_to_sign_in(path):
    res = _browser().get(path)
    assert res.status_code == 302 and res["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "path", ["/", "/plans/", "/accounts/login/", "/accounts/register/", "/accounts/password/reset/"]
)
def test_public_pages_render_for_visitors(path):
    assert _browser().get(path).status_code == 200


def test_the_front_door_sends_a_signed_in_user_to_the_app(org_admin):
    res = _browser(org_admin).get("/")
    assert res.status_code == 302 and res["Location"] == "/dashboard/"


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/billing/checkout", {"tier": "professional"}),
        ("/billing/change", {"tier": "enterprise"}),
        ("/billing/cancel", {}),
        ("/billing/portal", {}),
        ("/alerts/", {}),
        ("/dashboard/budget", {"monthly_budget_usd": "10", "alert_thresholds": "50"}),
    ],
)
def test_members_cannot_take_admin_actions(member, path, data):
    res = _browser(member).post(path, data)
    assert res.status_code == 403 and "Only organization admins" in res.content.decode()


def test_forms_refuse_posts_without_the_csrf_token(org_admin):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(org_admin)
    for path in ("/billing/checkout", "/account/", "/alerts/", "/account/sign-out-everywhere"):
        assert browser.post(path, {"tier": "starter", "name": "x"}).status_code == 403


@pytest.mark.parametrize("tier", ["free", "platinum", ""])
def test_a_plan_change_to_no_paid_plan_is_refused_with_a_message(org_admin, tier):
    browser = _browser(org_admin)
    res = browser.get(f"/billing/change?tier={tier}", follow=True)
    assert "Choose a paid plan" in res.content.decode()


def test_checkout_without_stripe_shows_why_and_changes_nothing(org_admin, settings):
    settings.STRIPE_SECRET_KEY = ""
    res = _browser(org_admin).post("/billing/checkout", {"tier": "starter"}, follow=True)
    page = res.content.decode()
    assert res.status_code == 200 and "Billing is not configured" in page
    org_admin.organization.refresh_from_db()
    assert org_admin.organization.stripe_customer_id == ""


def test_checkout_when_already_subscribed_is_refused_with_a_message(fake_stripe, settings):
    settings.ARAGORA_REDIRECT_ALLOWED_HOSTS = ["testserver"]
    s = subscribed_organization(fake_stripe)
    res = _browser(s.admin).post("/billing/checkout", {"tier": "enterprise"}, follow=True)
    assert "already has a subscription" in res.content.decode()
    assert not fake_stripe.requests_to("POST", "/v1/checkout/sessions")


def test_change_and_cancel_ask_for_confirmation_before_calling_stripe(fake_stripe, settings):
    s = subscribed_organization(fake_stripe)
    browser = _browser(s.admin)
    assert "Switch to Enterprise?" in browser.get("/billing/change?tier=enterprise").content.decode()
    assert "Cancel the subscription?" in browser.get("/billing/cancel").content.decode()
    assert not fake_stripe.requests_to("POST", r"/v1/subscriptions/.+")
    browser.post("/billing/cancel")
    (call,) = fake_stripe.requests_to("POST", r"/v1/subscriptions/.+")
    assert call.params == {"cancel_at_period_end": "true"}


def test_the_portal_returns_to_this_service_and_needs_a_customer(fake_stripe, settings, org_admin):
    settings.ARAGORA_REDIRECT_ALLOWED_HOSTS = ["testserver"]
    res = _browser(org_admin).post("/billing/portal", follow=True)
    assert "no Stripe customer yet" in res.content.decode()
    s = subscribed_organization(fake_stripe)
    res = _browser(s.admin).post("/billing/portal")
    assert res.status_code == 302 and "/portal/bps_" in res["Location"]
    (call,) = fake_stripe.requests_to("POST", "/v1/billing_portal/sessions")
    assert call.params["return_url"] == "http://testserver/billing/"


def test_pages_show_only_the_signed_in_users_organization(org_admin, fake_stripe):
    other = subscribed_organization(fake_stripe)
    invoice = fake_stripe.add_invoice(subscription_id=other.subscription["id"], status="paid")
    from tests.fakes.stripe_plugin import deliver

    assert deliver(fake_stripe.event("invoice.paid", invoice)).status_code == 200
    assert StripeEventReceipt.objects.exists()
    for path in ("/billing/", "/alerts/", "/dashboard/"):
        page = _browser(org_admin).get(path).content.decode()
        assert other.org.name not in page and invoice["id"] not in page


def test_registration_refuses_a_taken_email_and_keeps_what_was_typed(db):
    UserFactory(email="taken@example.com")
    res = _browser().post(
        "/accounts/register/",
        {
            "email": "TAKEN@example.com",
            "name": "Kept",
            "password": "a-long-passphrase-1",
            "password_again": "a-long-passphrase-1",
        },
    )
    assert (
        res.status_code == 400 and "already exists" in res.content.decode() and 'value="Kept"' in res.content.decode()
    )


def test_a_reset_request_for_an_unknown_address_looks_the_same_and_sends_nothing(smtp_server, org_admin):
    unknown = _browser().post("/accounts/password/reset/", {"email": "nobody@example.com"})
    known = _browser().post("/accounts/password/reset/", {"email": org_admin.email})
    assert unknown.status_code == known.status_code == 302
    assert unknown["Location"] == known["Location"] == "/accounts/password/reset/sent/"
    assert len(smtp_server.messages) == 1


def test_a_reset_request_without_smtp_configured_does_not_fail(settings, org_admin):
    settings.ARAGORA_SMTP_HOST = ""
    res = _browser().post("/accounts/password/reset/", {"email": org_admin.email})
    assert res.status_code == 302


def test_an_account_without_an_organization_gets_a_403_page_on_app_pages(db):
    loner = UserFactory(organization=None)
    for path in ("/dashboard/", "/billing/", "/alerts/"):
        res = _browser(loner).get(path)
        assert res.status_code == 403 and "does not belong to an organization" in res.content.decode()
    assert _browser(loner).get("/account/").status_code == 200
    OrganizationFactory()


@pytest.mark.parametrize("path", ["/members/invite", "/members/{id}/role", "/members/{id}/remove"])
def test_members_cannot_manage_the_team(org_admin, member, path):
    res = _browser(member).post(path.format(id=org_admin.pk), {"email": "x@example.com", "role": "admin"})
    assert res.status_code == 403
    org_admin.refresh_from_db()
    assert org_admin.role == "admin" and org_admin.organization_id is not None


def test_another_organizations_member_or_key_cannot_be_touched(org_admin, other_org_admin):
    browser = _browser(org_admin)
    for path in (f"/members/{other_org_admin.pk}/role", f"/members/{other_org_admin.pk}/remove"):
        res = browser.post(path, {"role": "member"}, follow=True)
        assert "No such member" in res.content.decode()
    other_org_admin.refresh_from_db()
    assert other_org_admin.role == "admin" and other_org_admin.organization_id is not None
    other_org_admin.organization.tier = "professional"
    key = other_org_admin.generate_api_key()
    (row,) = other_org_admin.api_keys.all()
    res = browser.post(f"/keys/{row.pk}/revoke", follow=True)
    assert res.status_code == 200 and "No such" in res.content.decode()
    row.refresh_from_db()
    assert row.revoked_at is None and key


def test_a_role_form_with_an_unknown_role_changes_nothing(org_admin, member):
    res = _browser(org_admin).post(f"/members/{member.pk}/role", {"role": "owner"}, follow=True)
    assert "Choose a role" in res.content.decode()
    member.refresh_from_db()
    assert member.role == "member"


def test_the_new_key_page_is_never_cached(org_admin):
    res = _browser(org_admin).post("/keys/", {"name": "ci"})
    assert res.status_code == 200 and res["Cache-Control"] == "no-store"
    assert "ara_" in res.content.decode()


def test_a_forged_invitation_link_is_a_404_page(db):
    res = _browser().get("/invitations/accept/not-a-token")
    assert res.status_code == 404 and "does not work" in res.content.decode()
