"""The Python API and the recording service: pricing, idempotency, all-or-nothing batches, quota, rollups."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.db.models import signals
from django.utils import timezone

from accounts.models import Organization
from tests.conftest import client_for
from tests.factories import OrganizationFactory, UserFactory
from tests.usage.conftest import record, sonnet_cost
from tests.usage.factories import BudgetFactory, ModelPriceFactory
from usage.models import MAX_COUNT, UsageDaily, UsageDailyModel, UsageDailyUser, UsageEvent, UsageMonthly
from usage.periods import month_key
from usage.services.quota import BudgetExceeded, QuotaExceeded
from usage.services.recording import IdempotencyConflict, usage_events_record
from usage.tracker import UsageEventType
from usage.validation import EventInput, UsageValidationError

pytestmark = pytest.mark.django_db


def _monthly(org):
    return UsageMonthly.objects.get(organization=org, month=month_key(timezone.now().date()))


def test_record_event_as_the_seed_calls_it_prices_stores_and_rolls_up(org, member, tracker):
    event = tracker.record_event(
        org_id=str(org.id),
        user_id=str(member.id),
        event_type=UsageEventType.DEBATE,
        provider="anthropic",
        model="claude-sonnet-4",
        tokens_in=1500,
        tokens_out=800,
    )
    assert event.cost_usd == Decimal("0.0165") and event.unpriced is False
    assert UsageEvent.objects.get(pk=event.pk).cost_usd == Decimal("0.0165")
    monthly = _monthly(org)
    assert (monthly.debates, monthly.api_calls, monthly.total_tokens, monthly.total_cost) == (
        1,
        0,
        2300,
        Decimal("0.0165"),
    )
    assert UsageDailyModel.objects.get(organization=org, provider="anthropic").model == "claude-sonnet-4"
    assert UsageDailyUser.objects.get(organization=org, user_key=str(member.id)).events == 1
    org.refresh_from_db()
    assert org.debates_used == 1


def _columns(event):
    return {f.attname: getattr(event, f.attname) for f in UsageEvent._meta.concrete_fields}


def test_the_returned_event_is_the_stored_row_and_behaves_as_one_loaded_from_the_database(org, member, tracker):
    event = tracker.record_event(org.id, str(member.id), "api_call", "openai", "gpt-4o", 1000, 10, {"run": "r1"})
    assert _columns(event) == _columns(UsageEvent.objects.get(pk=event.pk))
    assert event._state.adding is False and event._state.db == "default"
    assert event.organization == org and event.user == member and event.get_event_type_display() == "API call"
    event.metadata = {"run": "r2"}
    event.save(update_fields=["metadata"])  # an UPDATE of the existing row, not a second INSERT
    assert UsageEvent.objects.get(pk=event.pk).metadata == {"run": "r2"} and UsageEvent.objects.count() == 1


def test_the_returned_event_is_built_through_model_init_while_init_signals_are_listened_to(org, tracker):
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    signals.post_init.connect(receiver, sender=UsageEvent)
    try:
        event = tracker.record_event(org.id, None, "api_call", "openai", "gpt-4o", 1000, 10)
    finally:
        signals.post_init.disconnect(receiver, sender=UsageEvent)
    assert seen == [event.pk]
    assert _columns(event) == _columns(UsageEvent.objects.get(pk=event.pk))


def test_get_usage_summary_returns_totals_and_breakdowns(org, member, tracker):
    tracker.record_event(org.id, member.id, "debate", "anthropic", "claude-sonnet-4", 1500, 800)
    tracker.record_event(org.id, None, "api_call", "openai", "gpt-4o", 1000, 0)
    tracker.record_event(org.id, None, "agent_call", "OpenAI", "GPT-4o", 0, 1000)
    summary = tracker.get_usage_summary(org_id=org.id, start_date=datetime.now() - timedelta(days=30))
    assert summary["total_debates"] == 1 and summary["total_api_calls"] == 1
    assert summary["tokens_in"] == 2500 and summary["tokens_out"] == 1800 and summary["total_tokens"] == 4300
    assert summary["total_cost"] == Decimal("0.0165") + Decimal("0.0025") + Decimal("0.01")
    assert isinstance(summary["total_cost"], Decimal)
    assert summary["by_provider"]["openai"]["cost"] == Decimal("0.0125")
    assert summary["by_provider"]["openai"]["events"] == 2
    assert summary["by_model"]["claude-sonnet-4"]["total_tokens"] == 2300


def test_summary_range_excludes_days_outside_it(org, tracker):
    now = timezone.now()
    tracker.record_event(org.id, None, "api_call", "openai", "gpt-4o", 10**6, 0, occurred_at=now - timedelta(days=3))
    tracker.record_event(org.id, None, "api_call", "openai", "gpt-4o", 10**6, 0)
    assert tracker.get_usage_summary(org.id, now - timedelta(days=1))["total_cost"] == Decimal("2.5")
    assert tracker.get_usage_summary(org.id, now - timedelta(days=5))["total_cost"] == Decimal("5")
    assert tracker.get_usage_summary(org.id, now - timedelta(days=5), now - timedelta(days=2))["total_api_calls"] == 1


def test_tracker_accepts_and_ignores_a_database_path(tracker, org):
    assert tracker.db_path == "usage.db"
    tracker.record_event(org.id, None, "api_call")
    assert UsageEvent.objects.filter(organization=org).count() == 1


def test_unknown_organization_is_refused(tracker, db):
    with pytest.raises(Exception, match="No organization") as info:
        tracker.record_event("6f1c0e84-0000-4000-8000-000000000000", None, "api_call")
    assert info.value.code == "organization_not_found"


# ---------------------------------------------------------------------------
# Idempotency
# ---------------------------------------------------------------------------
def test_retry_with_the_same_key_records_once_and_returns_the_original(org, tracker):
    first = tracker.record_event(org.id, None, "agent_call", "openai", "gpt-4o", 100, 50, idempotency_key="req-1")
    again = tracker.record_event(org.id, None, "agent_call", "openai", "gpt-4o", 100, 50, idempotency_key="req-1")
    assert again.pk == first.pk
    assert UsageEvent.objects.filter(organization=org).count() == 1
    assert _monthly(org).events == 1


def test_same_key_with_a_different_body_is_a_conflict_and_writes_nothing(org, tracker):
    tracker.record_event(org.id, None, "agent_call", "openai", "gpt-4o", 100, 50, idempotency_key="req-1")
    with pytest.raises(IdempotencyConflict) as info:
        tracker.record_event(org.id, None, "agent_call", "openai", "gpt-4o", 999, 50, idempotency_key="req-1")
    assert info.value.status == 409 and info.value.code == "idempotency_conflict"
    assert UsageEvent.objects.filter(organization=org).count() == 1
    assert _monthly(org).total_tokens == 150


def test_idempotency_keys_are_scoped_to_the_organization(org, enterprise_org, tracker):
    tracker.record_event(org.id, None, "api_call", idempotency_key="shared")
    tracker.record_event(enterprise_org.id, None, "api_call", idempotency_key="shared")
    assert UsageEvent.objects.filter(idempotency_key="shared").count() == 2


def test_batch_repeating_a_key_counts_the_repeat_as_a_duplicate(org):
    event = EventInput(event_type="api_call", idempotency_key="k")
    result = usage_events_record(organization=org, events=[event, event])
    assert (result.recorded, result.duplicates) == (1, 1)
    assert result.events[0] is result.events[1] and result.duplicate == [False, True]


def test_batch_repeating_a_key_with_different_bodies_writes_nothing(org):
    events = [
        EventInput(event_type="api_call", idempotency_key="fresh"),
        EventInput(event_type="api_call", idempotency_key="k"),
        EventInput(event_type="api_call", idempotency_key="k", tokens_in=5),
    ]
    with pytest.raises(IdempotencyConflict):
        usage_events_record(organization=org, events=events)
    assert not UsageEvent.objects.filter(organization=org).exists()


def test_a_batch_retried_after_partial_knowledge_records_only_the_new_events(org):
    batch = [EventInput(event_type="api_call", idempotency_key=f"k{i}", tokens_in=i) for i in range(5)]
    usage_events_record(organization=org, events=batch[:3])
    result = usage_events_record(organization=org, events=batch)
    assert (result.recorded, result.duplicates) == (2, 3)
    assert _monthly(org).tokens_in == sum(range(5))


# ---------------------------------------------------------------------------
# Validation: all-or-nothing
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"tokens_in": -1}, "tokens_in"),
        ({"tokens_out": 2**53}, "tokens_out"),
        ({"tokens_in": 2**63}, "tokens_in"),
        ({"tokens_in": float("nan")}, "tokens_in"),
        ({"tokens_in": float("inf")}, "tokens_in"),
        ({"tokens_in": 1.0}, "tokens_in"),
        ({"tokens_in": True}, "tokens_in"),
        ({"tokens_in": "12"}, "tokens_in"),
        ({"event_type": "storage"}, "event_type"),
        ({"user_id": "not-a-uuid"}, "user_id"),
        ({"metadata": ["not", "an", "object"]}, "metadata"),
        ({"metadata": {"x": float("nan")}}, "metadata"),
        ({"metadata": {"x": "y" * 10_000}}, "metadata"),
        ({"provider": "a" * 65}, "provider"),
        ({"model": "bad\nname"}, "model"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"occurred_at": datetime.now(UTC) + timedelta(hours=1)}, "occurred_at"),
        ({"occurred_at": datetime.now(UTC) - timedelta(days=400)}, "occurred_at"),
    ],
)
def test_invalid_event_is_refused_and_the_whole_batch_is_not_written(org, fields, bad_field):
    good = EventInput(event_type="api_call")
    bad = EventInput(**{"event_type": "api_call", **fields})
    with pytest.raises(UsageValidationError) as info:
        usage_events_record(organization=org, events=[good, bad, good])
    assert list(info.value.errors) == [1] and bad_field in info.value.errors[1]
    assert not UsageEvent.objects.filter(organization=org).exists()
    assert not UsageMonthly.objects.filter(organization=org).exists()


def test_max_count_is_accepted(org):
    ModelPriceFactory(provider="free", model="free", input_per_million=0, output_per_million=0)
    event = record(org, provider="free", model="free", tokens_in=MAX_COUNT, tokens_out=MAX_COUNT)
    assert event.total_tokens == 2 * MAX_COUNT


def test_user_from_another_organization_is_refused(org, other_org_admin):
    with pytest.raises(UsageValidationError) as info:
        record(org, user_id=other_org_admin.id)
    assert "user_id" in info.value.errors[0]
    assert not UsageEvent.objects.exists()


def test_usage_that_would_cost_too_much_in_one_event_is_refused(org):
    with pytest.raises(UsageValidationError):
        record(org, provider="anthropic", model="claude-opus-4", tokens_in=MAX_COUNT, tokens_out=MAX_COUNT)
    assert not UsageEvent.objects.exists()


def test_rollup_counters_that_would_overflow_are_refused_with_nothing_written(org):
    ModelPriceFactory(provider="free", model="free", input_per_million=0, output_per_million=0)
    batch = [EventInput(event_type="api_call", provider="free", model="free", tokens_in=MAX_COUNT)] * 250
    usage_events_record(organization=org, events=batch)
    before = _monthly(org).total_tokens
    with pytest.raises(Exception) as info:
        for _ in range(3):
            usage_events_record(organization=org, events=batch)
    assert info.value.code in ("usage_out_of_range", "invalid") and info.value.status == 400
    assert _monthly(org).total_tokens >= before
    assert _monthly(org).total_tokens == UsageEvent.objects.filter(organization=org).count() * MAX_COUNT


def test_naive_occurred_at_is_taken_as_utc_and_lands_on_its_day(org):
    moment = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=2)
    event = record(org, occurred_at=moment)
    assert event.created_at == moment.replace(tzinfo=UTC)
    assert UsageDaily.objects.get(organization=org).day == moment.date()


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 30, 23, 45, 1, 123456, tzinfo=timezone.get_fixed_timezone(330)),
        datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC),
    ],
    ids=["another-zone-with-microseconds", "utc-whole-second"],
)
def test_an_event_time_is_stored_as_the_orm_stores_it_so_exact_lookups_find_it(org, moment):
    with time_machine.travel(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), tick=False):
        event = record(org, occurred_at=moment)
    assert UsageEvent.objects.get(created_at=moment).pk == event.pk
    assert not UsageEvent.objects.filter(created_at__gt=moment).exists()
    assert UsageEvent.objects.get(recorded_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC)).pk == event.pk


def test_events_get_time_ordered_ids_single_and_in_batches(org):
    start = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        first = record(org)
    with time_machine.travel(start + timedelta(seconds=1), tick=False):
        batch = usage_events_record(organization=org, events=[EventInput(event_type="agent_call")] * 3).events
    with time_machine.travel(start + timedelta(seconds=2), tick=False):
        last = record(org)
    stored = list(UsageEvent.objects.filter(organization=org).order_by("pk").values_list("pk", flat=True))
    assert stored[0] == first.pk and stored[-1] == last.pk
    assert set(stored[1:4]) == {event.pk for event in batch}
    assert {pk.version for pk in stored} == {7}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's AUTOINCREMENT bookkeeping")
def test_rollup_rows_get_ids_without_sqlite_autoincrement_bookkeeping(org, member):
    record(org, user_id=member.id, provider="anthropic", model="claude-sonnet-4", tokens_in=10, tokens_out=1)
    record(org, user_id=member.id, provider="anthropic", model="claude-sonnet-4", tokens_in=10, tokens_out=1)
    rollups = (UsageMonthly, UsageDaily, UsageDailyModel, UsageDailyUser)
    assert all(model.objects.get(organization=org).pk for model in rollups)
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_sequence")
        counted = {name for (name,) in cursor.fetchall()}
    assert not counted & {model._meta.db_table for model in rollups}


# ---------------------------------------------------------------------------
# Quota
# ---------------------------------------------------------------------------
def test_debate_at_the_exact_limit_is_refused_and_not_recorded(free_org, tracker):
    for _ in range(10):
        tracker.record_event(free_org.id, None, "debate", "anthropic", "claude-sonnet-4", 10, 10)
    with pytest.raises(QuotaExceeded) as info:
        tracker.record_event(free_org.id, None, "debate", "anthropic", "claude-sonnet-4", 10, 10)
    assert info.value.status == 402 and info.value.code == "quota_exceeded"
    assert "10 debates" in info.value.message
    free_org.refresh_from_db()
    assert free_org.debates_used == 10
    assert UsageEvent.objects.filter(organization=free_org).count() == 10
    assert _monthly(free_org).debates == 10


def test_non_debate_events_are_not_limited_by_the_debate_quota(free_org, tracker):
    free_org.debates_used = 10
    free_org.save()
    tracker.record_event(free_org.id, None, "agent_call", "openai", "gpt-4o", 10, 10)
    assert UsageEvent.objects.filter(organization=free_org).count() == 1


def test_batch_needing_more_debates_than_remain_writes_nothing_and_takes_nothing(free_org):
    free_org.debates_used = 8
    free_org.save()
    batch = [EventInput(event_type="debate")] * 3 + [EventInput(event_type="api_call")]
    with pytest.raises(QuotaExceeded):
        usage_events_record(organization=free_org, events=batch)
    free_org.refresh_from_db()
    assert free_org.debates_used == 8 and not UsageEvent.objects.filter(organization=free_org).exists()
    usage_events_record(organization=free_org, events=batch[1:])
    free_org.refresh_from_db()
    assert free_org.debates_used == 10


def test_duplicate_debate_does_not_consume_quota_twice(free_org):
    event = EventInput(event_type="debate", idempotency_key="debate-1")
    usage_events_record(organization=free_org, events=[event])
    usage_events_record(organization=free_org, events=[event])
    free_org.refresh_from_db()
    assert free_org.debates_used == 1


def test_enterprise_debates_are_unlimited(enterprise_org):
    usage_events_record(organization=enterprise_org, events=[EventInput(event_type="debate")] * 500)
    assert _monthly(enterprise_org).debates == 500


def test_debate_in_a_new_month_starts_a_new_period_even_before_the_rollover_job(free_org, tracker):
    with time_machine.travel(datetime(2026, 3, 31, 23, 0, tzinfo=UTC), tick=False):
        free_org.reset_monthly_usage()
        for _ in range(10):
            tracker.record_event(free_org.id, None, "debate")
    with time_machine.travel(datetime(2026, 4, 1, 0, 5, tzinfo=UTC), tick=False):
        tracker.record_event(free_org.id, None, "debate")
        free_org.refresh_from_db()
        assert free_org.debates_used == 1 and str(free_org.period_start) == "2026-04-01"
        assert UsageMonthly.objects.get(organization=free_org, month="2026-04").debates == 1
        assert UsageMonthly.objects.get(organization=free_org, month="2026-03").debates == 10


def test_hard_budget_limit_blocks_debates_but_not_other_usage(org, tracker):
    BudgetFactory(organization=org, monthly_budget_usd=Decimal("1.00"), hard_limit=True)
    tracker.record_event(org.id, None, "agent_call", "openai", "gpt-4o", 400_000, 0)  # $1.00
    with pytest.raises(BudgetExceeded) as info:
        tracker.record_event(org.id, None, "debate")
    assert info.value.status == 402 and info.value.code == "budget_exceeded"
    tracker.record_event(org.id, None, "agent_call", "openai", "gpt-4o", 1, 0)
    org.refresh_from_db()
    assert org.debates_used == 0


def test_hard_budget_refuses_the_debate_that_would_take_spend_past_it(org, tracker):
    BudgetFactory(organization=org, monthly_budget_usd=Decimal("3.00"), hard_limit=True)
    tracker.record_event(org.id, None, "agent_call", "openai", "gpt-4o", 1_160_000, 0)  # $2.90
    with pytest.raises(BudgetExceeded):  # $0.24 more would make $3.14
        tracker.record_event(org.id, None, "debate", "openai", "gpt-4o", 96_000, 0)
    assert _monthly(org).total_cost == Decimal("2.90") and _monthly(org).debates == 0
    tracker.record_event(org.id, None, "debate", "openai", "gpt-4o", 40_000, 0)  # $0.10: exactly the budget
    with pytest.raises(BudgetExceeded):
        tracker.record_event(org.id, None, "debate")
    assert _monthly(org).total_cost == Decimal("3.00") and _monthly(org).debates == 1


def test_a_back_dated_debate_counts_against_the_month_it_happened_in(free_org, tracker):
    with time_machine.travel(datetime(2026, 8, 2, 9, 0, tzinfo=UTC), tick=False):
        july = datetime(2026, 7, 31, 22, 0, tzinfo=UTC)
        for _ in range(10):
            tracker.record_event(free_org.id, None, "debate", occurred_at=july)
        with pytest.raises(QuotaExceeded) as info:
            tracker.record_event(free_org.id, None, "debate", occurred_at=july)
        assert "2026-07" in info.value.message
        for _ in range(10):
            tracker.record_event(free_org.id, None, "debate")
        with pytest.raises(QuotaExceeded):
            tracker.record_event(free_org.id, None, "debate")
        free_org.refresh_from_db()
        months = dict(UsageMonthly.objects.filter(organization=free_org).values_list("month", "debates"))
        assert months == {"2026-07": 10, "2026-08": 10} and free_org.debates_used == months["2026-08"]


def test_soft_budget_does_not_block_debates(org, tracker):
    BudgetFactory(organization=org, monthly_budget_usd=Decimal("1.00"), hard_limit=False)
    tracker.record_event(org.id, None, "agent_call", "openai", "gpt-4o", 800_000, 0)
    tracker.record_event(org.id, None, "debate")
    assert _monthly(org).debates == 1


# ---------------------------------------------------------------------------
# Money
# ---------------------------------------------------------------------------
def test_sum_of_many_small_costs_equals_the_independent_decimal_sum(org):
    batch = [
        EventInput(
            event_type="agent_call", provider="anthropic", model="claude-sonnet-4", tokens_in=i, tokens_out=i * 7
        )
        for i in range(1, 1001)
    ]
    result = usage_events_record(organization=org, events=batch)
    expected = sum((sonnet_cost(i, i * 7) for i in range(1, 1001)), Decimal(0))
    assert result.total_cost == expected
    assert _monthly(org).total_cost == expected
    assert sum(UsageEvent.objects.filter(organization=org).values_list("cost_usd", flat=True)) == expected
    assert UsageDaily.objects.get(organization=org).total_cost == expected


def test_a_million_tenths_of_a_micro_dollar_add_up_exactly(org):
    ModelPriceFactory(provider="acme", model="tiny", input_per_million=Decimal("0.14"), output_per_million=0)
    batch = [EventInput(event_type="agent_call", provider="acme", model="tiny", tokens_in=1)] * 1000
    for _ in range(3):
        usage_events_record(organization=org, events=batch)
    assert _monthly(org).total_cost == Decimal("0.00000014") * 3000 == Decimal("0.00042")


def test_recorded_costs_never_change_when_the_price_changes(org, tracker):
    event = tracker.record_event(org.id, None, "agent_call", "openai", "gpt-4o", 10**6, 0)
    from usage.models import ModelPrice

    ModelPrice.objects.filter(provider="openai", model="gpt-4o").update(
        input_per_million=Decimal(100), updated_at=timezone.now()
    )
    newer = tracker.record_event(org.id, None, "agent_call", "openai", "gpt-4o", 10**6, 0)
    event.refresh_from_db()
    assert event.cost_usd == Decimal("2.5") and newer.cost_usd == Decimal("100")
    assert _monthly(org).total_cost == Decimal("102.5")


def test_unpriced_usage_is_flagged_and_priced_by_the_fallback(org, tracker):
    event = tracker.record_event(org.id, None, "agent_call", "mystery", "model-x", 10**6, 0)
    assert event.unpriced is True and event.cost_usd == Decimal("2")


# ---------------------------------------------------------------------------
# Batches through the tracker
# ---------------------------------------------------------------------------
def test_record_events_spans_organizations_in_one_transaction(org, enterprise_org, tracker):
    result = tracker.record_events(
        [
            {"org_id": org.id, "event_type": "api_call", "provider": "openai", "model": "gpt-4o", "tokens_in": 10},
            {"org_id": enterprise_org.id, "event_type": "debate"},
        ]
    )
    assert result.recorded == 2
    with pytest.raises(UsageValidationError):
        tracker.record_events(
            [{"org_id": org.id, "event_type": "api_call"}, {"org_id": enterprise_org.id, "event_type": "nope"}]
        )
    assert UsageEvent.objects.count() == 2


def test_record_events_refuses_unknown_fields(org, tracker):
    with pytest.raises(UsageValidationError):
        tracker.record_events([{"org_id": org.id, "event_type": "api_call", "cost_usd": "0"}])


def test_events_of_other_organizations_never_reach_a_summary(org, tracker):
    other = OrganizationFactory()
    UserFactory(organization=other)
    tracker.record_event(other.id, None, "api_call", "openai", "gpt-4o", 10**6, 0)
    assert tracker.get_usage_summary(org.id, timezone.now() - timedelta(days=1))["total_cost"] == 0
    assert Organization.objects.count() >= 2


def test_a_member_who_left_is_refused_at_once_though_their_id_was_remembered(org, org_admin, member):
    usage_events_record(organization=org, events=[EventInput(event_type="api_call", user_id=member.id)])
    assert client_for(org_admin).delete(f"/api/org/members/{member.pk}").status_code == 200
    with pytest.raises(UsageValidationError) as refused:
        usage_events_record(organization=org, events=[EventInput(event_type="api_call", user_id=member.id)])
    assert refused.value.errors == {0: {"user_id": ["No member of this organization has this id."]}}


def test_a_member_who_joined_after_the_ids_were_remembered_is_accepted(org, member):
    usage_events_record(organization=org, events=[EventInput(event_type="api_call", user_id=member.id)])
    newcomer = UserFactory(organization=org)
    result = usage_events_record(organization=org, events=[EventInput(event_type="api_call", user_id=newcomer.id)])
    assert result.recorded == 1
