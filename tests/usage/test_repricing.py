"""Events recorded at the fallback price are repriced once their model has a price; rollups follow exactly."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from tests.usage.conftest import record
from tests.usage.factories import ModelPriceFactory
from usage.models import UsageDaily, UsageDailyModel, UsageDailyUser, UsageEvent, UsageMonthly
from usage.services.periods import usage_aggregates_rebuild

pytestmark = pytest.mark.django_db
ROLLUPS = (UsageMonthly, UsageDaily, UsageDailyModel, UsageDailyUser)


def _rollups(org) -> dict:
    return {
        model.__name__: sorted(
            tuple(str(v) for v in row)
            for row in model.objects.filter(organization=org).values_list(*[f.name for f in model._meta.fields][1:])
        )
        for model in ROLLUPS
    }


def _reprice() -> str:
    out = StringIO()
    call_command("usage_reprice_unpriced", stdout=out)
    return out.getvalue()


def test_unpriced_events_are_repriced_and_rollups_equal_the_sum_of_events(org, member):
    now = timezone.now()
    early = record(org, provider="acme", model="rocket-1", tokens_in=1_000_000, occurred_at=now - timedelta(days=3))
    late = record(
        org, provider="acme", model="Rocket-1", tokens_in=2_000_000, tokens_out=10, cache_read_tokens=1_000_000
    )
    other = record(org, provider="acme", model="rocket-2", tokens_in=1_000_000, user_id=member.id)
    known = record(org, provider="openai", model="gpt-4o", tokens_in=1_000_000)
    assert early.unpriced and early.cost_usd == Decimal("2")  # the $2/$8 fallback
    price = ModelPriceFactory(
        provider="acme",
        model="rocket-1",
        input_per_million=Decimal("0.5"),
        output_per_million=Decimal("1"),
        cache_read_per_million=Decimal("0.05"),
        effective_from=now - timedelta(days=2),
    )
    assert "Repriced 1 event(s); 2 still without a price." in _reprice()
    early.refresh_from_db(), late.refresh_from_db(), other.refresh_from_db()
    assert early.unpriced is True  # the price was not yet in force at its time
    assert (late.unpriced, late.price_id, late.cost_usd) == (False, price.pk, Decimal("0.55001"))
    assert other.unpriced is True
    events_total = sum(UsageEvent.objects.filter(organization=org).values_list("cost_usd", flat=True))
    monthly_total = UsageMonthly.objects.filter(organization=org).aggregate(total=Sum("total_cost"))["total"]
    assert monthly_total == events_total == Decimal("2") + Decimal("0.55001") + Decimal("2") + Decimal("2.5")
    repriced = _rollups(org)
    usage_aggregates_rebuild(organization_id=org.pk)  # recomputed from the events alone
    assert _rollups(org) == repriced
    assert known.cost_usd == Decimal("2.5")


def test_repricing_twice_changes_nothing(org):
    record(org, provider="acme", model="rocket-1", tokens_in=1_000_000)
    ModelPriceFactory(provider="acme", model="rocket-1", effective_from=timezone.now() - timedelta(days=1))
    assert "Repriced 1 event(s)" in _reprice()
    before = _rollups(org)
    assert "Repriced 0 event(s); 0 still without a price." in _reprice()
    assert _rollups(org) == before
