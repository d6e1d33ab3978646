"""The dashboard in a real headless Chromium: sign in, see the chart, and the same numbers as the API."""

from decimal import Decimal

import pytest
import requests

from accounts import tokens
from tests.browser import TIMEOUT_MS, at_widths
from tests.factories import PASSWORD
from tests.usage.conftest import record
from usage.models import Budget

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_page(chromium):
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    page.close()


def _api(live_server, user, path):
    token = tokens.token_pair_for_user(user).access_token
    res = requests.get(f"{live_server.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert res.status_code == 200
    return res.json()


def test_admin_signs_in_and_sees_the_chart_and_the_apis_numbers(live_server, browser_page, org, org_admin, member):
    record(org, provider="openai", model="gpt-4o", tokens_in=1_234_567, user_id=member.id)
    record(org, event_type="debate", provider="anthropic", model="claude-sonnet-4", tokens_in=1500, tokens_out=800)
    record(org, provider="deepseek", model="deepseek-v3", tokens_in=3, tokens_out=5)
    Budget.objects.create(organization=org, monthly_budget_usd=Decimal("12.00"))
    page = browser_page

    page.goto(f"{live_server.url}/dashboard/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", org_admin.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/dashboard/")

    chart = page.locator("[data-testid=daily-chart] svg")
    chart.wait_for(state="visible")
    box = chart.bounding_box()
    assert box["width"] > 300 and box["height"] > 80
    assert page.locator("[data-testid=daily-chart] svg rect.rect").count() >= 1

    api = _api(live_server, org_admin, "/api/costs/summary")
    assert page.get_attribute("[data-testid=spend]", "data-value") == api["spend"]
    assert page.get_attribute("[data-testid=budget]", "data-value") == api["budget"]
    assert page.get_attribute("[data-testid=percent-used]", "data-value") == api["percent_used"]
    assert (page.get_attribute("[data-testid=forecast]", "data-value") or None) == api["forecast"]
    assert int(page.inner_text("[data-testid=debates-used]")) == api["debates_used"]
    assert int(page.inner_text("[data-testid=debates-limit]")) == api["debates_limit"]
    assert page.get_attribute("[data-testid=tokens]", "data-value") == str(api["total_tokens"])

    providers = _api(live_server, org_admin, "/api/costs/breakdown?by=provider")["items"]
    shown = page.locator("[data-testid=breakdown-provider] td[data-value]").evaluate_all(
        "cells => cells.map(c => c.dataset.value)"
    )
    assert shown == [item["cost"] for item in providers]
    assert member.email in page.inner_text("[data-testid=breakdown-user]")

    at_widths(page, f"{live_server.url}/dashboard/", "dashboard")
    page.fill("input[name=monthly_budget_usd]", "50.00")
    page.click("[data-testid=budget-form] button[type=submit]")
    page.wait_for_selector("text=Budget saved.")
    assert page.get_attribute("[data-testid=budget]", "data-value") == "50.00"
    assert _api(live_server, org_admin, "/api/costs/budget")["monthly_budget_usd"] == "50.00"
