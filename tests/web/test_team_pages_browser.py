"""The API keys and members pages in a real headless Chromium, with their error paths."""

import re
from datetime import date, timedelta

import pytest

from accounts.models import ApiKey, User
from tests.browser import at_widths, sign_in
from tests.conftest import client_for
from tests.factories import PASSWORD, UserFactory
from tests.usage.conftest import seed_prices

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_key_is_shown_once_counts_its_spend_and_stops_when_revoked(page, org_admin):
    seed_prices()  # a transactional test before this one may have emptied the shipped price table
    sign_in(page, org_admin.email)
    page.goto("/keys/")
    page.click("[data-testid=key-form] button[type=submit]")
    assert "This field is required." in page.inner_text("[data-testid=key-form]")
    page.fill("input[name=name]", "runner")
    page.fill("input[name=expires_on]", (date.today() - timedelta(days=1)).isoformat())
    page.click("[data-testid=key-form] button[type=submit]")
    assert "future" in page.inner_text("[data-testid=key-form]")

    page.fill("input[name=name]", "runner")
    page.fill("input[name=expires_on]", "")
    page.click("[data-testid=key-form] button[type=submit]")
    secret = page.inner_text("[data-testid=secret]")
    assert secret.startswith("ara_") and ApiKey.objects.get(name="runner").key_hash != secret
    res = client_for(api_key=secret).post(
        "/api/usage/events",
        {"event_type": "agent_call", "provider": "openai", "model": "gpt-4o", "tokens_in": 400_000},
        format="json",
    )
    assert res.status_code == 201
    at_widths(page, "/keys/", "api-keys")
    prefix = ApiKey.objects.get(name="runner").prefix
    row = page.inner_text(f"[data-testid=key-{prefix}]")
    assert "runner" in row and "$1.00" in row and secret not in page.content()

    page.fill("input[name=name]", "runner")
    page.click("[data-testid=key-form] button[type=submit]")
    assert "already" in page.inner_text("[data-testid=key-form]")

    page.click(f"[data-testid=revoke-{prefix}]")
    page.wait_for_selector("text=Key revoked")
    assert client_for(api_key=secret).get("/api/org").status_code == 401


def test_a_plan_without_api_access_says_so_and_refuses_a_key(page, org_admin):
    org = org_admin.organization
    org.tier = "starter"
    org.save(update_fields=["tier"])
    sign_in(page, org_admin.email)
    page.goto("/keys/")
    assert "no API access" in page.inner_text("[data-testid=no-api-access]")
    page.fill("input[name=name]", "nope")
    page.click("[data-testid=key-form] button[type=submit]")
    assert "API access" in page.inner_text("[data-testid=key-form]") and not ApiKey.objects.exists()


def test_an_invitation_is_mailed_accepted_with_a_password_of_ones_own_and_managed(
    page, chromium, org_admin, smtp_server, settings, live_server
):
    settings.ARAGORA_PUBLIC_URL = live_server.url
    sign_in(page, org_admin.email)
    at_widths(page, "/members/", "members")
    page.fill("[data-testid=invite-form] input[name=email]", org_admin.email)
    page.click("[data-testid=invite-form] button[type=submit]")
    assert "already exists" in page.inner_text("[data-testid=invite-form]")
    page.fill("[data-testid=invite-form] input[name=email]", "new.colleague@example.com")
    page.click("[data-testid=invite-form] button[type=submit]")
    page.wait_for_selector("text=Invitation sent to new.colleague@example.com.")
    assert "new.colleague@example.com" in page.inner_text("[data-testid=pending-invitations]")
    (mail,) = smtp_server.messages
    text = next(part for part in mail.walk() if part.get_content_type() == "text/plain")
    link = re.search(r"https?://\S+/invitations/accept/\S+", text.get_payload(decode=True).decode()).group(0)

    guest = chromium.new_context(base_url=live_server.url).new_page()
    guest.goto(link + "x")
    assert guest.locator("[data-testid=invitation-invalid]").is_visible()
    guest.goto(link)
    guest.fill("input[name=password]", "short")
    guest.fill("input[name=password_again]", "short")
    guest.click("form button[type=submit]")
    assert "too short" in guest.inner_text("form")
    guest.fill("input[name=name]", "New Colleague")
    guest.fill("input[name=password]", PASSWORD)
    guest.fill("input[name=password_again]", PASSWORD)
    guest.click("form button[type=submit]")
    guest.wait_for_url(re.compile(r"/dashboard/$"))
    assert guest.inner_text("[data-testid=org-name]") == org_admin.organization.name
    guest.goto(link)
    assert guest.locator("[data-testid=invitation-invalid]").is_visible()

    colleague = User.objects.get(email="new.colleague@example.com")
    page.goto("/members/")
    page.select_option(f"[data-testid='member-{colleague.email}'] select", "admin")
    page.click(f"[data-testid='member-{colleague.email}'] button:has-text('Save')")
    page.wait_for_selector("text=is now admin")
    colleague.refresh_from_db()
    assert colleague.role == "admin"
    page.click(f"[data-testid='remove-{colleague.email}']")
    page.wait_for_selector("text=Member removed")
    colleague.refresh_from_db()
    assert colleague.organization_id is None


def test_a_full_plan_shows_the_seat_limit_and_refuses_an_invitation(page, org_admin, smtp_server):
    org = org_admin.organization
    org.tier = "starter"  # two seats
    org.save(update_fields=["tier"])
    UserFactory(organization=org)
    sign_in(page, org_admin.email)
    page.goto("/members/")
    assert page.inner_text("[data-testid=seats]").startswith("2 of 2 seats used")
    assert "Upgrade" in page.inner_text("[data-testid=seats-full]")
    page.fill("[data-testid=invite-form] input[name=email]", "one.more@example.com")
    page.click("[data-testid=invite-form] button[type=submit]")
    assert "upgrade" in page.inner_text("[data-testid=invite-form]").lower()
    assert smtp_server.messages == []


def test_members_see_the_team_but_no_admin_controls(page, org, member):
    sign_in(page, member.email)
    page.goto("/members/")
    assert member.email in page.inner_text("[data-testid=member-list]")
    assert page.locator("[data-testid=invite-form]").count() == 0
    assert page.locator("[data-testid^=remove-]").count() == 0
