"""Management commands: the monthly rollover and the rebuild of aggregates."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from billing.tiers import SubscriptionTier
from tests.factories import OrganizationFactory
from tests.usage.conftest import record
from usage.models import UsageDaily, UsageDailyModel, UsageDailyUser, UsageMonthly
from usage.services.periods import organization_periods_rollover

pytestmark = pytest.mark.django_db


def test_rollover_resets_only_organizations_in_an_older_period_and_is_idempotent(db):
    with time_machine.travel(datetime(2026, 6, 15, tzinfo=UTC), tick=False):
        stale = OrganizationFactory(debates_used=7, period_start=date(2026, 5, 1))
        current = OrganizationFactory(debates_used=3, period_start=date(2026, 6, 1))
        out = StringIO()
        call_command("usage_period_rollover", stdout=out)
        assert "Rolled 1 organization" in out.getvalue()
        assert organization_periods_rollover() == 0
    stale.refresh_from_db()
    current.refresh_from_db()
    assert (stale.debates_used, stale.period_start) == (0, date(2026, 6, 1))
    assert (current.debates_used, current.period_start) == (3, date(2026, 6, 1))


def test_rollover_does_not_undo_a_debate_recorded_in_the_new_period(db):
    org = OrganizationFactory(tier=SubscriptionTier.FREE, debates_used=10, period_start=date(2026, 5, 1))
    with time_machine.travel(datetime(2026, 6, 1, 0, 1, tzinfo=UTC), tick=False):
        record(org, event_type="debate")  # rolls this organization over by itself
        organization_periods_rollover()
    org.refresh_from_db()
    assert org.debates_used == 1


def _snapshot(org):
    rows = {}
    for model in (UsageMonthly, UsageDaily, UsageDailyModel, UsageDailyUser):
        rows[model.__name__] = sorted(
            tuple(str(v) for v in row)
            for row in model.objects.filter(organization=org).values_list(*[f.name for f in model._meta.fields][1:])
        )
    return rows


def test_rebuild_restores_damaged_rollups_exactly_and_draws_progress(org, member):
    now = timezone.now()
    record(org, provider="openai", model="GPT-4o", tokens_in=123_456, user_id=member.id)
    record(org, event_type="debate", provider="anthropic", model="claude-sonnet-4", tokens_out=777)
    record(org, event_type="api_call", occurred_at=now - timedelta(days=20))
    before = _snapshot(org)
    UsageMonthly.objects.filter(organization=org).update(total_cost=Decimal("999"), debates=42)
    UsageDaily.objects.filter(organization=org).delete()
    UsageDailyModel.objects.create(organization=org, day=now.date(), provider="ghost", model="ghost", events=9)
    out = StringIO()
    call_command("usage_rebuild_aggregates", stdout=out)
    assert _snapshot(org) == before
    assert "[" in out.getvalue() and "100%" in out.getvalue() and "Rebuilt the rollups of 3 event(s)" in out.getvalue()


def test_rebuild_removes_rollups_that_have_no_events(org):
    UsageMonthly.objects.create(organization=org, month="2020-01", events=5, total_cost=Decimal("1"))
    call_command("usage_rebuild_aggregates", "--no-progress", stdout=StringIO())
    assert not UsageMonthly.objects.filter(organization=org).exists()


def test_rebuild_of_one_organization_leaves_the_others_alone(org, other_org_admin):
    other = other_org_admin.organization
    record(org, event_type="api_call")
    record(other, event_type="api_call")
    UsageMonthly.objects.filter(organization=other).update(events=50)
    call_command("usage_rebuild_aggregates", "--organization", str(org.id), "--no-progress", stdout=StringIO())
    assert UsageMonthly.objects.get(organization=other).events == 50


def test_rebuild_refuses_a_bad_organization_id(db):
    with pytest.raises(Exception, match="UUID"):
        call_command("usage_rebuild_aggregates", "--organization", "nope", stdout=StringIO())
