"""Property: after any mix of writes, every rollup equals a recomputation from the raw events."""

import contextlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from accounts.models import Organization
from aragora_site.errors import ServiceError
from billing.tiers import SubscriptionTier
from tests.factories import OrganizationFactory, UserFactory
from tests.usage.conftest import seed_prices
from usage.models import UsageDaily, UsageDailyModel, UsageDailyUser, UsageEvent, UsageMonthly
from usage.services.recording import usage_events_record
from usage.validation import EventInput

NOW = datetime(2026, 2, 3, 12, 0, tzinfo=UTC)
MODELS = [
    ("anthropic", "claude-sonnet-4"),
    ("Anthropic", "Claude-Opus-4-20250514"),
    ("anthropic", "claude-sonnet-4-5"),
    ("google", "gemini-2.5-pro"),
    ("openai", "gpt-4o-mini"),
    ("deepseek", "deepseek-v3"),
    ("mystery", "unknown-1"),
    ("", ""),
]

events = st.builds(
    lambda kind, model, t_in, t_out, user, key, days_ago, parts: {
        "event_type": kind,
        "provider": model[0],
        "model": model[1],
        "tokens_in": t_in,
        "tokens_out": t_out,
        "user": user,
        "idempotency_key": key,
        "occurred_at": NOW - timedelta(days=days_ago, minutes=7) if days_ago is not None else None,
        "cache_read_tokens": t_in // 2 if parts else 0,
        "cache_write_tokens": t_in // 4 if parts else 0,
        "reasoning_tokens": t_out // 3 if parts else 0,
    },
    st.sampled_from(["debate", "api_call", "agent_call"]),
    st.sampled_from(MODELS),
    st.integers(0, 5_000_000),
    st.integers(0, 2_000_000),
    st.sampled_from([None, 0, 1]),
    st.one_of(st.none(), st.sampled_from(["a", "b", "c"])),
    st.one_of(st.none(), st.integers(0, 34)),
    st.booleans(),
)
writes = st.lists(st.tuples(st.sampled_from([0, 1]), st.lists(events, min_size=1, max_size=6)), min_size=1, max_size=8)


def _recompute(org: Organization) -> dict:
    expected: dict = {model: defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0, 0, 0, Decimal(0)]) for model in ROLLUPS}
    for e in UsageEvent.objects.filter(organization=org):
        day = e.created_at.astimezone(UTC).date()
        user_key = str(e.user_id) if e.user_id else ""
        keys = {
            UsageMonthly: (f"{day:%Y-%m}",),
            UsageDaily: (day,),
            UsageDailyModel: (day, e.provider.lower(), e.model.lower()),
            UsageDailyUser: (day, user_key),
        }
        for model, key in keys.items():
            row = expected[model][key]
            for i, value in enumerate(
                [1, e.event_type == "debate", e.event_type == "api_call", e.tokens_in, e.tokens_out]
            ):
                row[i] += int(value)
            row[5] += e.tokens_in + e.tokens_out
            row[6] += e.cache_read_tokens
            row[7] += e.cache_write_tokens
            row[8] += e.reasoning_tokens
            row[9] += e.cost_usd
    return {model: {k: list(v) for k, v in rows.items()} for model, rows in expected.items()}


ROLLUPS = {
    UsageMonthly: ("month",),
    UsageDaily: ("day",),
    UsageDailyModel: ("day", "provider", "model"),
    UsageDailyUser: ("day", "user_key"),
}
COUNTERS = [
    "events",
    "debates",
    "api_calls",
    "tokens_in",
    "tokens_out",
    "total_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "total_cost",
]


def _stored(org: Organization) -> dict:
    return {
        model: {
            tuple(row[: len(keys)]): list(row[len(keys) :])
            for row in model.objects.filter(organization=org).values_list(*keys, *COUNTERS)
        }
        for model, keys in ROLLUPS.items()
    }


class RollupsMatchRawEvents(TestCase):
    @classmethod
    def setUpTestData(cls):
        seed_prices()

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(writes=writes)
    def test_rollups_equal_a_recomputation_after_random_writes(self, writes):
        with time_machine.travel(NOW, tick=False):
            orgs = [OrganizationFactory(tier=SubscriptionTier.STARTER), OrganizationFactory()]
            users = [UserFactory(organization=orgs[0]), UserFactory(organization=orgs[0])]
            for org_index, batch in writes:
                org = orgs[org_index]
                inputs = []
                for item in batch:
                    user = users[item["user"]].id if item["user"] is not None and org_index == 0 else None
                    fields = {k: v for k, v in item.items() if k != "user"}
                    inputs.append(EventInput(**fields, user_id=user))
                with contextlib.suppress(ServiceError):  # conflicts and quota refusals must leave no trace
                    usage_events_record(organization=org, events=inputs)
            for org in orgs:
                assert _stored(org) == _recompute(org)
                org.refresh_from_db()
                debates = UsageEvent.objects.filter(organization=org, event_type="debate")
                this_month = debates.filter(created_at__gte=NOW.replace(day=1, hour=0, minute=0)).count()
                assert org.debates_used == this_month  # back-dated debates count in their own month
                for month in UsageMonthly.objects.filter(organization=org):
                    assert month.debates <= org.limits.debates_per_month
