"""The server-rendered dashboard and its session login."""

from decimal import Decimal

import pytest
from django.test import Client

from tests.factories import PASSWORD, UserFactory
from tests.usage.conftest import record
from usage.models import Budget

pytestmark = pytest.mark.django_db


@pytest.fixture
def spent(org, member):
    record(org, provider="openai", model="gpt-4o", tokens_in=10**6, user_id=member.id)
    record(org, event_type="debate", provider="anthropic", model="claude-sonnet-4", tokens_in=1500, tokens_out=800)
    return org


def test_dashboard_needs_a_login(client):
    res = client.get("/dashboard/")
    assert res.status_code == 302 and res["Location"].startswith("/accounts/login/")


def test_login_page_signs_in_with_email_and_password_and_lands_on_the_dashboard(client, org_admin):
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b"csrfmiddlewaretoken" in page.content
    res = client.post("/accounts/login/", {"username": org_admin.email.upper(), "password": PASSWORD})
    assert res.status_code == 302 and res["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


def test_wrong_password_is_refused_and_repeated_failures_are_throttled(client, org_admin):
    for _ in range(5):
        res = client.post("/accounts/login/", {"username": org_admin.email, "password": "wrong-password-123"})
        assert res.status_code == 200 and b"Invalid e-mail or password." in res.content
    res = client.post("/accounts/login/", {"username": org_admin.email, "password": PASSWORD})
    assert res.status_code == 429 and b"Too many failed sign-ins" in res.content
    assert client.get("/dashboard/").status_code == 302


def test_login_form_is_csrf_protected(org_admin):
    client = Client(enforce_csrf_checks=True)
    res = client.post("/accounts/login/", {"username": org_admin.email, "password": PASSWORD})
    assert res.status_code == 403


def test_dashboard_shows_spend_chart_breakdowns_quota_and_recent_events(client, spent, org_admin, member):
    client.force_login(org_admin)
    res = client.get("/dashboard/")
    html = res.content.decode()
    assert res.status_code == 200
    assert 'data-testid="spend" data-value="2.5165"' in html and "$2.52" in html
    assert "<svg" in html and "usage-daily-chart" in html
    assert 'data-testid="debates-used">1<' in html and 'data-testid="debates-limit">200<' in html
    for text in ("gpt-4o", "claude-sonnet-4", "openai", "anthropic", member.email, "Download CSV"):
        assert text in html
    assert 'data-testid="budget-form"' in html
    assert "<script" not in html


def test_members_see_the_budget_but_not_the_form(client, spent, member):
    client.force_login(member)
    html = client.get("/dashboard/").content.decode()
    assert 'data-testid="budget-form"' not in html and "Only organization admins" in html
    res = client.post("/dashboard/budget", {"monthly_budget_usd": "5", "alert_thresholds": "50"})
    assert res.status_code == 403 and not Budget.objects.exists()


def test_admin_sets_the_budget_from_the_dashboard(client, spent, org_admin):
    client.force_login(org_admin)
    res = client.post(
        "/dashboard/budget", {"monthly_budget_usd": "10.00", "alert_thresholds": "90, 50", "hard_limit": "on"}
    )
    assert res.status_code == 302
    budget = Budget.objects.get(organization=spent)
    assert (budget.monthly_budget_usd, budget.alert_thresholds, budget.hard_limit) == (Decimal("10.00"), [50, 90], True)
    html = client.get("/dashboard/").content.decode()
    assert "Budget saved." in html and 'data-testid="percent-used" data-value="25.17"' in html


@pytest.mark.parametrize(
    "form",
    [
        {"monthly_budget_usd": "-1", "alert_thresholds": "50"},
        {"monthly_budget_usd": "abc", "alert_thresholds": "50"},
        {"monthly_budget_usd": "10", "alert_thresholds": "fifty"},
        {"monthly_budget_usd": "10", "alert_thresholds": "0, 50"},
    ],
)
def test_invalid_budget_form_is_shown_again_with_the_error(client, spent, org_admin, form):
    client.force_login(org_admin)
    res = client.post("/dashboard/budget", form)
    assert res.status_code == 400 and b"field-error" in res.content
    assert not Budget.objects.exists()


def test_dashboard_range_and_bad_range(client, spent, org_admin):
    client.force_login(org_admin)
    assert client.get("/dashboard/?start=2020-01-01&end=2020-01-31").status_code == 200
    res = client.get("/dashboard/?start=2020-02-01&end=2020-01-01")
    assert res.status_code == 200 and b"must not be after" in res.content


def test_dashboard_csv_download_uses_the_session(client, spent, org_admin):
    client.force_login(org_admin)
    res = client.get("/dashboard/export.csv")
    body = b"".join(res.streaming_content).decode()
    assert res.status_code == 200 and body.count("\n") == 3 and "gpt-4o" in body


def test_user_without_organization_gets_a_clear_page(client, db):
    loner = UserFactory(organization=None)
    client.force_login(loner)
    res = client.get("/dashboard/")
    assert res.status_code == 403 and b"does not belong to an organization" in res.content


def test_logout_ends_the_session(client, org_admin):
    client.force_login(org_admin)
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/dashboard/").status_code == 302
