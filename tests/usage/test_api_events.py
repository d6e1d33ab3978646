"""POST /api/usage/events."""

import dataclasses
import json
from decimal import Decimal

import pytest

from billing.tiers import SubscriptionTier
from tests.conftest import client_for
from tests.factories import OrganizationFactory, UserFactory
from usage.models import UsageEvent, UsageMonthly

pytestmark = pytest.mark.django_db
URL = "/api/usage/events"
SONNET = {
    "event_type": "debate",
    "provider": "anthropic",
    "model": "claude-sonnet-4",
    "tokens_in": 1500,
    "tokens_out": 800,
}


def post(client, body):
    return client.post(URL, body, format="json")


def test_single_event_is_recorded_with_its_cost_as_an_exact_string(admin_client_api, org):
    res = post(admin_client_api, SONNET)
    assert res.status_code == 201, res.json()
    body = res.json()
    assert body["recorded"] == 1 and body["duplicates"] == 0 and body["total_cost"] == "0.0165"
    assert body["events"][0]["cost_usd"] == "0.0165" and body["events"][0]["duplicate"] is False
    assert UsageEvent.objects.get(pk=body["events"][0]["id"]).organization_id == org.id


def test_batch_is_recorded_in_one_go(admin_client_api, org, member):
    events = [{**SONNET, "event_type": "agent_call", "user_id": str(member.id)} for _ in range(3)]
    res = post(admin_client_api, {"events": events})
    assert res.status_code == 201 and res.json()["recorded"] == 3
    assert res.json()["total_cost"] == "0.0495"
    assert UsageMonthly.objects.get(organization=org).events == 3


def test_api_key_can_record_events(org_admin):
    key = org_admin.generate_api_key()
    assert post(client_for(api_key=key), {"event_type": "api_call"}).status_code == 201


def test_batch_with_one_invalid_item_answers_per_item_errors_and_writes_nothing(admin_client_api, org):
    events = [SONNET, {**SONNET, "tokens_in": -5}, SONNET, {**SONNET, "event_type": "nope"}]
    res = post(admin_client_api, {"events": events})
    assert res.status_code == 400
    body = res.json()
    assert body["code"] == "invalid"
    assert set(body["errors"]["events"]) == {"1", "3"}
    assert "tokens_in" in body["errors"]["events"]["1"] and "event_type" in body["errors"]["events"]["3"]
    assert not UsageEvent.objects.exists()
    org.refresh_from_db()
    assert org.debates_used == 0


@pytest.mark.parametrize(
    "body",
    [
        {"events": []},
        {"events": [{"event_type": "api_call"}] * 1001},
        {"events": "nope"},
        {"events": [{"event_type": "api_call"}], "extra": 1},
        [{"event_type": "api_call"}],
        "just a string",
    ],
)
def test_malformed_batches_are_refused(admin_client_api, body):
    res = post(admin_client_api, body)
    assert res.status_code == 400 and res.json()["code"] == "invalid"
    assert not UsageEvent.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tokens_in", -1),
        ("tokens_in", "100"),
        ("tokens_in", 1.5),
        ("tokens_in", 100.0),
        ("tokens_in", True),
        ("tokens_in", None),
        ("tokens_out", 2**53),
        ("tokens_out", 2**63),
        ("tokens_out", 10**400),
        ("event_type", 5),
        ("event_type", "DEBATES"),
        ("provider", 12),
        ("provider", "x" * 65),
        ("occurred_at", 1700000000),
        ("occurred_at", "yesterday"),
        ("occurred_at", "2999-01-01T00:00:00Z"),
        ("occurred_at", "2001-01-01T00:00:00Z"),
        ("user_id", 123),
        ("user_id", "not-a-uuid"),
        ("metadata", "text"),
        ("metadata", [1, 2]),
        ("idempotency_key", 42),
        ("idempotency_key", "k" * 256),
        ("org_id", "00000000-0000-0000-0000-000000000000"),
        ("cost_usd", "0.00"),
    ],
)
def test_bad_types_and_values_answer_a_clear_400(admin_client_api, field, value):
    res = post(admin_client_api, {"event_type": "api_call", field: value})
    assert res.status_code == 400, res.content
    body = res.json()
    assert body["code"] == "invalid" and field in body["errors"]
    assert not UsageEvent.objects.exists()


@pytest.mark.parametrize("raw", ['{"event_type": "api_call", "tokens_in": NaN}', '{"tokens_in": Infinity}', "{nope"])
def test_non_json_numbers_and_broken_json_answer_400(admin_client_api, raw):
    res = admin_client_api.post(URL, raw, content_type="application/json")
    assert res.status_code == 400 and "code" in res.json()


def test_organization_in_the_body_is_refused_with_a_reason(admin_client_api, other_org_admin):
    res = post(admin_client_api, {"event_type": "api_call", "org_id": str(other_org_admin.organization_id)})
    assert res.status_code == 400
    assert res.json()["errors"]["org_id"] == ["The organization comes from the credentials."]


def test_retry_with_the_same_key_is_a_duplicate(admin_client_api):
    body = {**SONNET, "event_type": "agent_call", "idempotency_key": "retry-1"}
    first = post(admin_client_api, body).json()
    second = post(admin_client_api, body)
    assert second.status_code == 201
    assert second.json()["recorded"] == 0 and second.json()["duplicates"] == 1
    assert second.json()["events"][0]["id"] == first["events"][0]["id"]
    assert second.json()["total_cost"] == "0.00"
    assert UsageEvent.objects.count() == 1


def test_same_key_with_a_different_body_is_a_409(admin_client_api):
    post(admin_client_api, {"event_type": "api_call", "idempotency_key": "k"})
    res = post(admin_client_api, {"event_type": "api_call", "idempotency_key": "k", "tokens_in": 1})
    assert res.status_code == 409 and res.json()["code"] == "idempotency_conflict"
    assert UsageEvent.objects.count() == 1


def test_debate_over_quota_is_a_402_and_nothing_is_written(db):
    org = OrganizationFactory(tier=SubscriptionTier.STARTER, debates_used=50)
    admin = UserFactory(organization=org, role="admin")
    res = post(client_for(admin), {"event_type": "debate"})
    assert res.status_code == 402 and res.json()["code"] == "quota_exceeded"
    assert not UsageEvent.objects.exists()


def test_batch_debates_over_quota_are_all_refused(db):
    org = OrganizationFactory(tier=SubscriptionTier.STARTER, debates_used=49)
    admin = UserFactory(organization=org, role="admin")
    res = post(client_for(admin), {"events": [{"event_type": "debate"}, {"event_type": "debate"}]})
    assert res.status_code == 402
    org.refresh_from_db()
    assert org.debates_used == 49 and not UsageEvent.objects.exists()


def test_user_id_must_be_a_member_of_the_callers_organization(admin_client_api, member, other_org_admin):
    ok = post(admin_client_api, {"event_type": "api_call", "user_id": str(member.id)})
    assert ok.status_code == 201
    res = post(admin_client_api, {"event_type": "api_call", "user_id": str(other_org_admin.id)})
    assert res.status_code == 400 and "user_id" in res.json()["errors"]
    res = post(admin_client_api, {"events": [{"event_type": "api_call", "user_id": str(other_org_admin.id)}]})
    assert res.status_code == 400 and "user_id" in res.json()["errors"]["events"]["0"]


def test_unauthenticated_and_organization_less_callers_are_refused(api, db):
    assert post(api, {"event_type": "api_call"}).status_code == 401
    loner = UserFactory(organization=None)
    res = post(client_for(loner), {"event_type": "api_call"})
    assert res.status_code == 403 and res.json()["code"] == "no_organization"


def test_metadata_is_kept_as_sent(admin_client_api):
    meta = {"debate_id": "d-1", "agents": ["a", "b"], "nested": {"n": 1}}
    res = post(admin_client_api, {"event_type": "api_call", "metadata": meta})
    assert UsageEvent.objects.get(pk=res.json()["events"][0]["id"]).metadata == meta


def test_unpriced_model_is_reported_in_the_response(admin_client_api):
    res = post(admin_client_api, {"event_type": "agent_call", "provider": "x", "model": "y", "tokens_in": 10**6})
    assert res.json()["events"][0]["unpriced"] is True
    assert Decimal(res.json()["total_cost"]) == Decimal("2")


def test_request_body_is_json_only(admin_client_api):
    res = admin_client_api.post(URL, "event_type=api_call", content_type="application/x-www-form-urlencoded")
    assert res.status_code == 415
    assert json.loads(res.content)["code"]


def test_debates_after_a_lapsed_grace_period_count_against_the_free_quota(db):
    from django.utils import timezone

    from usage.tracker import QuotaExceeded, UsageEventType, UsageTracker

    org = OrganizationFactory(tier=SubscriptionTier.PROFESSIONAL, debates_used=10)
    org.grace_until = timezone.now() - timezone.timedelta(hours=1)
    org.save(update_fields=["grace_until"])
    with pytest.raises(QuotaExceeded):
        UsageTracker().record_event(str(org.id), None, UsageEventType.DEBATE, "openai", "gpt-4o", 10, 10)
    assert not UsageEvent.objects.filter(organization=org).exists()


@pytest.mark.parametrize(
    "change",
    [
        {"metadata": {"note": "nul\x00byte"}},
        {"metadata": {"nul\x00key": 1}},
        {"metadata": {"half": "\ud800"}},
        {"provider": "open\ud83dai"},
        {"model": "gpt\x00-4o"},
    ],
)
def test_text_postgresql_cannot_store_is_a_400_on_every_database(admin_client_api, org, change):
    body = json.dumps({**SONNET, "event_type": "agent_call", **change})  # ASCII: lone surrogates as \ud800
    res = admin_client_api.post(URL, body, content_type="application/json")
    assert res.status_code == 400 and res.json()["code"] == "invalid"
    assert not UsageEvent.objects.filter(organization=org).exists()


def test_cache_and_reasoning_parts_are_recorded_priced_and_rolled_up(admin_client_api, org):
    body = {
        "event_type": "agent_call",
        "provider": "openai",
        "model": "gpt-5",
        "tokens_in": 40_000,
        "cache_read_tokens": 30_000,
        "tokens_out": 12_000,
        "reasoning_tokens": 9_000,
    }
    res = post(admin_client_api, body)
    assert res.status_code == 201, res.json()
    assert res.json()["total_cost"] == "0.13625"  # 10k x 1.25 + 30k x 0.125 + 12k x 10 per million
    event = UsageEvent.objects.get(organization=org)
    assert (event.cache_read_tokens, event.cache_write_tokens, event.reasoning_tokens) == (30_000, 0, 9_000)
    month = UsageMonthly.objects.get(organization=org)
    assert (month.cache_read_tokens, month.reasoning_tokens, month.tokens_in) == (30_000, 9_000, 40_000)
    summary = admin_client_api.get("/api/usage/summary").json()
    assert summary["cache_read_tokens"] == 30_000 and summary["by_model"]["gpt-5"]["reasoning_tokens"] == 9_000


@pytest.mark.parametrize(
    ("parts", "field"),
    [
        ({"tokens_in": 10, "cache_read_tokens": 11}, "cache_read_tokens"),
        ({"tokens_in": 10, "cache_read_tokens": 6, "cache_write_tokens": 5}, "cache_write_tokens"),
        ({"tokens_out": 10, "reasoning_tokens": 11}, "reasoning_tokens"),
        ({"cache_write_tokens": -1}, "cache_write_tokens"),
        ({"reasoning_tokens": 1.5}, "reasoning_tokens"),
    ],
)
def test_a_part_larger_than_its_whole_or_not_a_count_is_a_400_field_error(admin_client_api, parts, field):
    res = post(admin_client_api, {"event_type": "agent_call", "provider": "openai", "model": "gpt-4o", **parts})
    assert res.status_code == 400 and field in res.json()["errors"], res.json()
    assert not UsageEvent.objects.exists()


def test_idempotency_keys_of_events_without_parts_keep_their_fingerprint(admin_client_api):
    import hashlib

    from usage.validation import EventInput

    event = EventInput(event_type="api_call", provider="openai", model="gpt-4o", tokens_in=5, idempotency_key="k")
    before_parts_existed = {
        "event_type": "api_call",
        "provider": "openai",
        "model": "gpt-4o",
        "tokens_in": 5,
        "tokens_out": 0,
        "user_id": None,
        "metadata": {},
        "occurred_at": None,
    }
    expected = hashlib.sha256(json.dumps(before_parts_existed, sort_keys=True, separators=(",", ":")).encode())
    assert event.fingerprint() == expected.hexdigest()
    with_parts = dataclasses.replace(event, cache_read_tokens=2)
    assert with_parts.fingerprint() != event.fingerprint()
    body = {"event_type": "api_call", "tokens_in": 5, "idempotency_key": "k2"}
    assert post(admin_client_api, body).status_code == 201
    assert post(admin_client_api, {**body, "cache_read_tokens": 1}).status_code == 409


def test_the_csv_export_has_the_parts(admin_client_api):
    post(admin_client_api, {**SONNET, "cache_read_tokens": 500, "reasoning_tokens": 100})
    rows = admin_client_api.get("/api/costs/export.csv").getvalue().decode().splitlines()
    header, row = rows[0].split(","), rows[1].split(",")
    assert [row[header.index(name)] for name in ("cache_read_tokens", "cache_write_tokens", "reasoning_tokens")] == [
        "500",
        "0",
        "100",
    ]


def test_a_batch_answers_with_counts_and_duplicate_positions_and_receipts_only_on_request(admin_client_api, org):
    batch = {"events": [{"event_type": "api_call", "idempotency_key": "k1"}, {"event_type": "api_call"}]}
    first = admin_client_api.post("/api/usage/events", batch, format="json")
    assert first.status_code == 201 and "events" not in first.json()
    assert first.json() == {"recorded": 2, "duplicates": 0, "total_cost": "0.00", "duplicate_indexes": []}
    again = admin_client_api.post("/api/usage/events?receipts=true", batch, format="json").json()
    assert again["recorded"] == 1 and again["duplicate_indexes"] == [0]
    assert [e["duplicate"] for e in again["events"]] == [True, False]
    assert UsageEvent.objects.filter(organization=org).count() == 3


@pytest.mark.parametrize("value", ["", "yes", "1"])
def test_a_malformed_receipts_parameter_is_refused_before_anything_is_recorded(admin_client_api, org, value):
    res = admin_client_api.post(f"/api/usage/events?receipts={value}", {"event_type": "api_call"}, format="json")
    assert res.status_code == 400 and "receipts" in res.json()["errors"]
    assert not UsageEvent.objects.filter(organization=org).exists()


@pytest.mark.parametrize(
    "occurred_at", ["2026-11-30", "2026-11-30T10:00:00", "yesterday", 1764500000, "2026-11-30T10:00:00+25:00"]
)
def test_occurred_at_must_be_a_date_time_with_a_time_zone(admin_client_api, org, occurred_at):
    res = admin_client_api.post(
        "/api/usage/events", {"event_type": "api_call", "occurred_at": occurred_at}, format="json"
    )
    assert res.status_code == 400 and "occurred_at" in res.json()["errors"]
    assert not UsageEvent.objects.filter(organization=org).exists()


@pytest.mark.parametrize("field", ["event_type", "provider", "model", "tokens_in", "metadata", "usage"])
def test_null_is_refused_where_the_schema_has_no_null(admin_client_api, org, field):
    res = admin_client_api.post("/api/usage/events", {"event_type": "api_call", field: None}, format="json")
    assert res.status_code == 400 and res.json()["errors"][field] == ["May not be null."]


def test_the_documented_event_fields_are_exactly_the_accepted_ones():
    from usage.apis.events import EventInputSerializer
    from usage.event_json import FIELDS, NULLABLE

    documented = EventInputSerializer().fields
    assert set(documented) == FIELDS
    assert {name for name, field in documented.items() if field.allow_null} == NULLABLE
