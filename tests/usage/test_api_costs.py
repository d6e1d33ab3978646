"""GET /api/usage/summary and the cost-visibility endpoints."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from tests.conftest import client_for
from tests.usage.conftest import record
from usage.models import Budget, BudgetAlert

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
NO_PARTS = {"cache_read_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": 0}


@pytest.fixture(autouse=True)
def frozen():
    """Every test runs at NOW (autouse: before any token is minted)."""
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def usage(frozen, org, member):
    """$2.50 of gpt-4o by the member 3 days ago, a debate with claude today ($0.0165), an unattributed API call."""
    record(org, provider="openai", model="gpt-4o", tokens_in=10**6, user_id=member.id, occurred_at=NOW - timedelta(3))
    record(org, event_type="debate", provider="anthropic", model="claude-sonnet-4", tokens_in=1500, tokens_out=800)
    record(org, event_type="api_call")
    return org


def test_usage_summary_defaults_to_the_current_period(admin_client_api, usage):
    res = admin_client_api.get("/api/usage/summary")
    assert res.status_code == 200
    body = res.json()
    assert body["start_date"] == "2026-05-01" and body["end_date"] == "2026-05-20"
    assert body["total_cost"] == "2.5165" and body["total_debates"] == 1 and body["total_api_calls"] == 1
    assert body["total_events"] == 3 and body["tokens_in"] == 1_001_500 and body["total_tokens"] == 1_002_300
    assert body["by_provider"]["openai"] == {
        "events": 1,
        "tokens_in": 10**6,
        "tokens_out": 0,
        "total_tokens": 10**6,
        **NO_PARTS,
        "cost": "2.50",
    }
    assert body["by_model"]["claude-sonnet-4"]["cost"] == "0.0165"


def test_usage_summary_honours_the_range(admin_client_api, usage):
    body = admin_client_api.get("/api/usage/summary?start=2026-05-19&end=2026-05-20").json()
    assert body["total_cost"] == "0.0165"


@pytest.mark.parametrize(
    "query",
    [
        "start=2026-13-01",
        "start=yesterday",
        "end=2026-02-30",
        "start=2026-05-10&end=2026-05-01",
        "start=2000-01-01&end=2026-01-01",
        "start=20260501",
    ],
)
@pytest.mark.parametrize(
    "path", ["/api/usage/summary", "/api/costs/timeseries", "/api/costs/breakdown", "/api/costs/export.csv"]
)
def test_bad_dates_answer_a_clear_400(admin_client_api, frozen, path, query):
    res = admin_client_api.get(f"{path}?{query}")
    assert res.status_code == 400
    body = res.json()
    assert body["code"] == "invalid" and set(body["errors"]) & {"start", "end"}


def test_cost_summary_reports_spend_budget_forecast_and_quota(admin_client_api, usage):
    Budget.objects.create(organization=usage, monthly_budget_usd=Decimal("10.00"))
    body = admin_client_api.get("/api/costs/summary").json()
    assert body["spend"] == "2.5165" and body["budget"] == "10.00" and body["percent_used"] == "25.17"
    assert body["forecast"] == "3.90"  # 2.5165 / 20 days * 31 days
    assert body["forecast_percent"] == "39.00"
    assert body["debates_used"] == 1 and body["debates_limit"] == 200 and body["debates_remaining"] == 199
    assert body["period_start"] == "2026-05-01" and body["period_end"] == "2026-05-31"
    assert body["events"] == 3 and body["alert_thresholds"] == [50, 80, 100]


def test_cost_summary_without_budget_has_no_percentages(admin_client_api, frozen):
    body = admin_client_api.get("/api/costs/summary").json()
    assert body["spend"] == "0.00" and body["budget"] is None and body["percent_used"] is None
    assert body["debates_used"] == 0


def test_timeseries_has_a_point_per_day_including_empty_days(admin_client_api, usage):
    body = admin_client_api.get("/api/costs/timeseries?start=2026-05-15&end=2026-05-20").json()
    assert [p["period"] for p in body["points"]] == [f"2026-05-{d}" for d in range(15, 21)]
    by_day = {p["period"]: p for p in body["points"]}
    assert by_day["2026-05-17"]["cost"] == "2.50" and by_day["2026-05-17"]["tokens"] == 10**6
    assert by_day["2026-05-20"] == {
        "period": "2026-05-20",
        "cost": "0.0165",
        "tokens": 2300,
        "debates": 1,
        "events": 2,
        **NO_PARTS,
    }
    assert by_day["2026-05-16"]["cost"] == "0.00"


def test_timeseries_by_month(admin_client_api, usage):
    body = admin_client_api.get("/api/costs/timeseries?start=2026-04-01&end=2026-05-31&granularity=month").json()
    assert [(p["period"], p["cost"]) for p in body["points"]] == [("2026-04", "0.00"), ("2026-05", "2.5165")]


def test_timeseries_refuses_an_unknown_granularity(admin_client_api, frozen):
    res = admin_client_api.get("/api/costs/timeseries?granularity=hour")
    assert res.status_code == 400 and "granularity" in res.json()["errors"]


def test_breakdown_by_provider_model_and_user(admin_client_api, usage, member):
    providers = admin_client_api.get("/api/costs/breakdown?by=provider").json()["items"]
    assert [(i["key"], i["cost"]) for i in providers] == [("openai", "2.50"), ("anthropic", "0.0165"), ("", "0.00")]
    models = admin_client_api.get("/api/costs/breakdown?by=model").json()["items"]
    assert models[0]["key"] == "gpt-4o" and models[0]["tokens"] == 10**6
    users = admin_client_api.get("/api/costs/breakdown?by=user").json()["items"]
    assert users[0] == {
        "key": str(member.id),
        "label": member.email,
        "cost": "2.50",
        "tokens": 10**6,
        "tokens_in": 10**6,
        "tokens_out": 0,
        "events": 1,
        "debates": 0,
        **NO_PARTS,
    }
    assert users[1]["label"] == "(no user)" and users[1]["events"] == 2


def test_breakdown_refuses_an_unknown_dimension(admin_client_api, frozen):
    res = admin_client_api.get("/api/costs/breakdown?by=org")
    assert res.status_code == 400 and "by" in res.json()["errors"]


def test_budget_defaults_and_can_be_set_by_an_admin(admin_client_api, org):
    assert admin_client_api.get("/api/costs/budget").json() == {
        "monthly_budget_usd": None,
        "alert_thresholds": [50, 80, 100],
        "hard_limit": False,
        "updated_at": None,
    }
    res = admin_client_api.put(
        "/api/costs/budget",
        {"monthly_budget_usd": "250.50", "alert_thresholds": [90, 25, 90], "hard_limit": True},
        format="json",
    )
    assert res.status_code == 200, res.json()
    assert res.json()["monthly_budget_usd"] == "250.50" and res.json()["alert_thresholds"] == [25, 90]
    budget = Budget.objects.get(organization=org)
    assert budget.monthly_budget_usd == Decimal("250.50") and budget.hard_limit is True
    cleared = admin_client_api.put("/api/costs/budget", {"monthly_budget_usd": None}, format="json")
    assert cleared.json()["monthly_budget_usd"] is None


def test_members_may_read_but_not_change_the_budget(member_client, org):
    assert member_client.get("/api/costs/budget").status_code == 200
    res = member_client.put("/api/costs/budget", {"monthly_budget_usd": "5"}, format="json")
    assert res.status_code == 403
    assert not Budget.objects.filter(organization=org).exists()


@pytest.mark.parametrize(
    "body",
    [
        {"monthly_budget_usd": "-5"},
        {"monthly_budget_usd": "0"},
        {"monthly_budget_usd": "abc"},
        {"monthly_budget_usd": "NaN"},
        {"monthly_budget_usd": "Infinity"},
        {"monthly_budget_usd": True},
        {"monthly_budget_usd": "1.001"},
        {"monthly_budget_usd": "10000000000"},
        {"monthly_budget_usd": "10", "alert_thresholds": [0]},
        {"monthly_budget_usd": "10", "alert_thresholds": [True]},
        {"monthly_budget_usd": "10", "alert_thresholds": ["50"]},
        {"monthly_budget_usd": "10", "alert_thresholds": []},
        {"monthly_budget_usd": "10", "alert_thresholds": list(range(1, 12))},
        {"monthly_budget_usd": "10", "hard_limit": "yes"},
        {"monthly_budget_usd": "10", "org_id": "x"},
        {},
    ],
)
def test_invalid_budgets_answer_400(admin_client_api, org, body):
    res = admin_client_api.put("/api/costs/budget", body, format="json")
    assert res.status_code == 400 and res.json()["code"] == "invalid"
    assert not Budget.objects.filter(organization=org).exists()


def test_lowering_the_budget_below_this_periods_spend_alerts_at_once(admin_client_api, usage):
    res = admin_client_api.put("/api/costs/budget", {"monthly_budget_usd": "3.00"}, format="json")
    assert res.status_code == 200
    assert sorted(BudgetAlert.objects.filter(organization=usage).values_list("threshold", flat=True)) == [50, 80]


def _csv(res):
    return list(csv.DictReader(io.StringIO(b"".join(res.streaming_content).decode())))


def test_export_streams_the_events_as_csv(admin_client_api, usage, member):
    res = admin_client_api.get("/api/costs/export.csv")
    assert res.status_code == 200 and res.streaming
    assert res["Content-Type"].startswith("text/csv") and "attachment;" in res["Content-Disposition"]
    rows = _csv(res)
    assert len(rows) == 3
    assert rows[0]["user_email"] == member.email and rows[0]["cost_usd"] == "2.5000000000"
    assert sum(Decimal(r["cost_usd"]) for r in rows) == Decimal("2.5165")


def test_export_honours_the_range(admin_client_api, usage):
    assert len(_csv(admin_client_api.get("/api/costs/export.csv?start=2026-05-20&end=2026-05-20"))) == 2


def test_export_neutralises_spreadsheet_formulas(admin_client_api, frozen, org):
    record(org, provider='=HYPERLINK("http://evil")', model="@SUM(A1)", metadata={"k": "v"})
    row = _csv(admin_client_api.get("/api/costs/export.csv"))[0]
    assert row["provider"].startswith("'=") and row["model"].startswith("'@")


def test_every_endpoint_is_documented_in_the_schema(api, db):
    paths = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    for path in [
        "/api/usage/events",
        "/api/usage/summary",
        "/api/costs/summary",
        "/api/costs/timeseries",
        "/api/costs/breakdown",
        "/api/costs/budget",
        "/api/costs/export.csv",
    ]:
        assert path in paths
    assert "put" in paths["/api/costs/budget"] and "402" in paths["/api/usage/events"]["post"]["responses"]


def test_api_key_callers_get_the_same_numbers(org_admin, usage, admin_client_api):
    key = org_admin.generate_api_key()
    assert client_for(api_key=key).get("/api/costs/summary").json()["spend"] == "2.5165"
    assert timezone.now() == NOW


@pytest.mark.parametrize("query", ["start=", "end=", "granularity=", "by="])
def test_blank_parameters_are_refused_not_ignored(admin_client_api, query):
    path = "/api/costs/breakdown" if query.startswith("by") else "/api/costs/timeseries"
    res = admin_client_api.get(f"{path}?{query}")
    assert res.status_code == 400 and query.rstrip("=") in res.json()["errors"]
