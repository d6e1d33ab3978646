"""The API's examples as a reader sees them in Swagger UI and ReDoc (served offline), in a real headless Chromium."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db]
CHECKOUT = "billing_checkout_create"


def test_swagger_ui_shows_a_request_its_success_and_its_refusals(page):
    page.goto("/api/docs/")
    operation = page.locator(f"#operations-billing-{CHECKOUT}")
    operation.locator(".opblock-summary").first.click()
    operation.locator(".responses-table").first.wait_for()
    text = operation.inner_text()
    assert "success_url" in text, "the request example"
    assert "cs_test_" in text, "the success example"
    assert "idempotency_conflict" in text and "card_declined" in text and "stripe_rate_limited" in text
    assert "Idempotency-Key" in text, "the header and its limits"


def test_redoc_shows_the_refusals_by_status(page):
    page.goto(f"/api/redoc/#tag/billing/operation/{CHECKOUT}")
    page.wait_for_selector("h1:has-text('Aragora billing API')")
    panel = page.locator(f"[id='operation/{CHECKOUT}']")
    panel.get_by_role("tab", name="409").first.click()
    page.wait_for_selector("text=idempotency_conflict")
    assert "success_url" in panel.inner_text()
