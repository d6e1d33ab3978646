"""Real threads against the real database: the quota and idempotency hold under concurrency."""

import threading
from collections import Counter

import pytest
from django.db import connection

from billing.tiers import SubscriptionTier
from tests.factories import OrganizationFactory
from usage.models import UsageEvent, UsageMonthly
from usage.services.quota import QuotaExceeded
from usage.services.recording import usage_events_record
from usage.validation import EventInput

pytestmark = pytest.mark.django_db(transaction=True)


def _run_concurrently(count, work):
    outcomes = Counter()
    barrier = threading.Barrier(count)

    def worker():
        barrier.wait()
        try:
            outcomes[work()] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def test_concurrent_debates_never_exceed_the_quota():
    org = OrganizationFactory(tier=SubscriptionTier.FREE)

    def debate():
        try:
            usage_events_record(organization=org, events=[EventInput(event_type="debate")])
        except QuotaExceeded:
            return "refused"
        return "recorded"

    outcomes = _run_concurrently(16, debate)
    assert outcomes == Counter(recorded=10, refused=6)
    org.refresh_from_db()
    assert org.debates_used == 10 == UsageEvent.objects.filter(organization=org).count()
    assert UsageMonthly.objects.get(organization=org).debates == 10


def test_concurrent_retries_with_one_key_record_once():
    org = OrganizationFactory(tier=SubscriptionTier.ENTERPRISE)
    event = EventInput(event_type="agent_call", provider="openai", model="gpt-4o", tokens_in=1000, idempotency_key="k")

    def send():
        result = usage_events_record(organization=org, events=[event])
        return "recorded" if result.recorded else "duplicate"

    outcomes = _run_concurrently(12, send)
    assert outcomes == Counter(recorded=1, duplicate=11)
    assert UsageEvent.objects.filter(organization=org).count() == 1
    assert UsageMonthly.objects.get(organization=org).tokens_in == 1000
