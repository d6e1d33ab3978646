"""Two organizations, every endpoint: nothing of one is ever visible to, or changeable by, the other."""

from decimal import Decimal

import pytest

from tests.conftest import client_for
from tests.usage.conftest import record
from usage.models import Budget, UsageEvent

pytestmark = pytest.mark.django_db

READS = [
    "/api/usage/summary",
    "/api/costs/summary",
    "/api/costs/timeseries",
    "/api/costs/breakdown?by=provider",
    "/api/costs/breakdown?by=model",
    "/api/costs/breakdown?by=user",
    "/api/costs/budget",
    "/api/costs/export.csv",
]


@pytest.fixture
def secret_usage(org, member):
    record(org, provider="secretco", model="secret-model-x", tokens_in=10**6, user_id=member.id, metadata={"s": "zz"})
    Budget.objects.create(organization=org, monthly_budget_usd=Decimal("777.00"))
    return org


def _text(res):
    return b"".join(res.streaming_content) if res.streaming else res.content


@pytest.mark.parametrize("path", READS)
def test_another_organization_sees_none_of_the_usage(path, secret_usage, member, other_org_admin):
    mine = _text(client_for(member).get(path))
    theirs = client_for(other_org_admin).get(path)
    assert theirs.status_code == 200
    body = _text(theirs)
    for secret in (b"secretco", b"secret-model-x", member.email.encode(), b"777", b"2.00"):
        assert secret not in body
    assert mine != body


def test_another_organization_cannot_change_the_budget(secret_usage, other_org_admin):
    res = client_for(other_org_admin).put("/api/costs/budget", {"monthly_budget_usd": "1.00"}, format="json")
    assert res.status_code == 200
    assert Budget.objects.get(organization=secret_usage).monthly_budget_usd == Decimal("777.00")


def test_events_are_always_recorded_to_the_callers_organization(secret_usage, other_org_admin):
    res = client_for(other_org_admin).post("/api/usage/events", {"event_type": "api_call"}, format="json")
    event = UsageEvent.objects.get(pk=res.json()["events"][0]["id"])
    assert event.organization_id == other_org_admin.organization_id


def test_another_organizations_member_cannot_be_named_as_the_user(secret_usage, member, other_org_admin):
    res = client_for(other_org_admin).post(
        "/api/usage/events", {"event_type": "api_call", "user_id": str(member.id)}, format="json"
    )
    assert res.status_code == 400


def test_an_idempotency_key_of_another_organization_is_not_a_duplicate(org_admin, other_org_admin):
    body = {"event_type": "api_call", "idempotency_key": "same"}
    client_for(org_admin).post("/api/usage/events", body, format="json")
    res = client_for(other_org_admin).post("/api/usage/events", {**body, "tokens_in": 5}, format="json")
    assert res.status_code == 201 and res.json()["recorded"] == 1


def test_the_dashboard_shows_only_the_callers_organization(client, secret_usage, other_org_admin):
    client.force_login(other_org_admin)
    page = client.get("/dashboard/").content
    assert b"secret-model-x" not in page and b"secretco" not in page
    csv = b"".join(client.get("/dashboard/export.csv").streaming_content)
    assert b"secret" not in csv
