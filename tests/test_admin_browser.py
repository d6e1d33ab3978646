"""The back office in a real headless Chromium: sign in as staff, read the overview at phone and desktop widths,
open the Stripe section, override a tier with a reason and find it in the audit log.

`ARAGORA_SCREENSHOTS=docs/screenshots` saves the overview's screenshots there (the README shows them).
"""

import pytest

from accounts.models import Organization
from aragora_site.models import AuditAction, AuditEntry
from billing.services.backoffice import organization_tier_override
from tests.browser import TIMEOUT_MS, fits_the_width, screenshot
from tests.factories import PASSWORD
from tests.staff_scene import staff_scene

WIDTHS = (390, 1280)
pytestmark = pytest.mark.browser


@pytest.fixture
def scene(transactional_db):
    return staff_scene()


@pytest.fixture
def staff_page(live_server, chromium, scene):
    """A page signed in as staff through the admin's own sign-in form."""
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{live_server.url}/admin/")
    assert "/admin/login/" in page.url
    page.fill("input[name=username]", scene.staff.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


def test_overview_shows_the_numbers_and_fits_phone_and_desktop_widths(live_server, staff_page, scene):
    page = staff_page
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/admin/")
        assert page.inner_text("[data-testid=mrr] strong") == "$1,298.00"
        assert "Globex" in page.inner_text("#overview-at-risk")
        assert page.inner_text("#overview-top-spenders tbody tr:first-child").startswith("Northwind Traders")
        assert "$15.75" in page.inner_text("#overview-top-spenders")  # $15.7448025 + $0.0045 debate
        assert "mystery / mystery-9" in page.inner_text("#overview-unpriced")
        assert "502 from the receiver" in page.inner_text("#overview-failed-notifications")
        assert "user_logout" in page.inner_text("#overview-revocations")
        assert fits_the_width(page), f"the page scrolls sideways at {width} px"
        screenshot(page, f"admin-overview-{width}")


def test_stripe_models_open_from_one_collapsed_section_below_the_product(live_server, staff_page):
    page = staff_page
    section = page.locator("[data-testid=stripe-synced]")
    assert section.get_attribute("open") is None
    assert not page.locator("[data-testid=stripe-synced] .model-customer a").first.is_visible()
    product_top = page.locator(".app-accounts").bounding_box()["y"]
    assert section.bounding_box()["y"] > product_top

    page.click("[data-testid=stripe-synced] summary")

    customers = page.locator("[data-testid=stripe-synced] .model-customer th a")
    assert customers.is_visible()
    customers.click()
    page.wait_for_url("**/admin/djstripe/customer/")


def test_staff_override_a_tier_with_a_reason_and_see_it_in_the_audit_log(live_server, staff_page, scene):
    page = staff_page
    org = scene.free[0]
    page.goto(f"{live_server.url}/admin/accounts/organization/")
    page.check(f"input[name=_selected_action][value='{org.pk}']")
    page.select_option("select[name=action]", "override_tier")
    page.click("button[name=index]")
    page.wait_for_selector("[data-testid=reason-form]")

    page.select_option("select[name=tier]", "enterprise")
    page.click("input[name=apply]")  # no reason given
    assert "This field is required." in page.inner_text(".field-reason")
    assert Organization.objects.get(pk=org.pk).tier == "free"

    page.fill("textarea[name=reason]", "Pilot agreed by sales, ticket 4411")
    page.click("input[name=apply]")
    page.wait_for_selector("text=now on the Enterprise tier")
    assert Organization.objects.get(pk=org.pk).tier == "enterprise"

    page.goto(f"{live_server.url}/admin/aragora_site/auditentry/")
    row = page.locator("#result_list tbody tr").first
    assert "Tier overridden" in row.inner_text() and "Pilot agreed by sales" in row.inner_text()
    entry = AuditEntry.objects.get(action=AuditAction.TIER_OVERRIDE)
    assert entry.actor_email == scene.staff.email and entry.details["tier"] == ["free", "enterprise"]


def test_the_organization_page_resets_debates_from_its_own_button(live_server, staff_page, scene):
    page = staff_page
    org = scene.northwind
    Organization.objects.filter(pk=org.pk).update(debates_used=7)
    page.goto(f"{live_server.url}/admin/accounts/organization/{org.pk}/change/")
    assert page.locator("select[name=tier]").count() == 0 and page.locator("input[name=debates_used]").count() == 0
    assert page.locator(".related-links a", has_text="Monthly spend").is_visible()

    page.click("[data-testid=reset-debates]")
    page.click("input[name=apply]")
    assert "This field is required." in page.inner_text(".field-reason")
    page.fill("textarea[name=reason]", "Debates lost to an outage on our side")
    page.click("input[name=apply]")
    page.wait_for_url(f"**/admin/accounts/organization/{org.pk}/change/")
    assert "debates used this period reset to 0" in page.inner_text(".messagelist")
    assert Organization.objects.get(pk=org.pk).debates_used == 0


def test_the_sign_in_page_fits_and_refuses_a_wrong_password(live_server, chromium, scene):
    page = chromium.new_page(viewport={"width": 390, "height": 800})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{live_server.url}/admin/login/")
    assert fits_the_width(page)
    page.fill("input[name=username]", scene.staff.email)
    page.fill("input[name=password]", "not-the-password")
    page.click("input[type=submit]")
    assert "Invalid e-mail or password." in page.inner_text(".errornote")
    assert "/admin/login/" in page.url and fits_the_width(page)


STAFF_PAGES = [
    "/admin/accounts/organization/",
    "/admin/accounts/organization/{org}/change/",
    "/admin/accounts/organization/{org}/override-tier/",
    "/admin/accounts/user/",
    "/admin/accounts/user/{user}/change/",
    "/admin/aragora_site/auditentry/",
    "/admin/aragora_site/auditentry/{entry}/change/",
    "/admin/billing/organizationbilling/",
    "/admin/billing/notification/",
    "/admin/usage/usagemonthly/",
    "/admin/usage/usageevent/",
    "/admin/usage/modelprice/",
]


def test_every_back_office_page_fits_phone_and_desktop_widths(live_server, staff_page, scene):
    page = staff_page
    org = scene.globex
    organization_tier_override(organization=org, tier="enterprise", reason="Rescue deal", actor=scene.staff)
    entry = AuditEntry.objects.get(action=AuditAction.TIER_OVERRIDE)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for template in STAFF_PAGES:
            url = template.format(org=org.pk, user=org.owner_id, entry=entry.pk)
            response = page.goto(f"{live_server.url}{url}")
            assert response.status == 200, url
            assert fits_the_width(page), f"{url} scrolls sideways at {width} px"
