"""Budget alerts: one per threshold per period, handed to billing's notifications."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine

from tests.usage.conftest import record
from tests.usage.factories import BudgetFactory
from usage import services
from usage.models import BudgetAlert, DeliveryStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    calls = []

    def notification_send(*, organization, kind, context):
        calls.append((organization.pk, kind, context))
        return [object()]

    monkeypatch.setattr(services, "_notifier", lambda: notification_send)
    return calls


def _spend(org, dollars: int):
    """Record `dollars` USD of gpt-4o input tokens ($2.50 per million)."""
    record(org, provider="openai", model="gpt-4o", tokens_in=dollars * 400_000)


def test_each_crossed_threshold_alerts_once_per_period(org, sent):
    BudgetFactory(organization=org, monthly_budget_usd=Decimal("10.00"))
    _spend(org, 4)
    assert sent == []
    _spend(org, 4)  # 80 %: crosses 50 and 80 at once
    assert sorted(c[2]["threshold_percent"] for c in sent) == [50, 80]
    _spend(org, 1)
    _spend(org, 1)  # 100 %
    _spend(org, 5)
    assert sorted(c[2]["threshold_percent"] for c in sent) == [50, 80, 100]
    assert BudgetAlert.objects.filter(organization=org).count() == 3
    assert set(BudgetAlert.objects.values_list("delivery_status", flat=True)) == {DeliveryStatus.SENT}


def test_alert_carries_the_spend_and_budget(org, sent):
    BudgetFactory(organization=org, monthly_budget_usd=Decimal("10.00"), alert_thresholds=[50])
    _spend(org, 6)
    org_id, kind, context = sent[0]
    assert (org_id, kind) == (org.pk, "budget_threshold")
    assert context["spend_usd"] == "6.00" and context["budget_usd"] == "10.00" and context["percent_used"] == "60.0"
    assert context["period"] and context["organization_name"] == org.name


def test_a_new_period_alerts_again(org, sent):
    BudgetFactory(organization=org, monthly_budget_usd=Decimal("10.00"), alert_thresholds=[50])
    with time_machine.travel(datetime(2026, 7, 10, tzinfo=UTC), tick=False):
        _spend(org, 6)
    with time_machine.travel(datetime(2026, 8, 10, tzinfo=UTC), tick=False):
        _spend(org, 4)
        assert len(sent) == 1
        _spend(org, 2)
    assert [c[2]["period"] for c in sent] == ["2026-07", "2026-08"]


def test_no_budget_means_no_alert(org, sent):
    _spend(org, 1000)
    assert sent == [] and not BudgetAlert.objects.exists()


def test_a_failing_notifier_does_not_lose_the_usage(org, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("smtp down")

    monkeypatch.setattr(services, "_notifier", lambda: broken)
    BudgetFactory(organization=org, monthly_budget_usd=Decimal("1.00"), alert_thresholds=[100])
    _spend(org, 2)
    alert = BudgetAlert.objects.get(organization=org)
    assert alert.delivery_status == DeliveryStatus.FAILED and "smtp down" in alert.delivery_error
    assert org.usage_events.count() == 1


def test_without_a_notification_channel_the_alert_is_kept_as_undeliverable(org, settings):
    settings.ARAGORA_SMTP_HOST = ""
    settings.ARAGORA_NOTIFICATION_WEBHOOK = ""
    BudgetFactory(organization=org, monthly_budget_usd=Decimal("1.00"), alert_thresholds=[100])
    _spend(org, 2)
    assert BudgetAlert.objects.get(organization=org).delivery_status == DeliveryStatus.UNAVAILABLE


def test_a_refused_write_sends_no_alert(org, sent):
    from usage.services import EventInput, UsageValidationError, usage_events_record

    BudgetFactory(organization=org, monthly_budget_usd=Decimal("1.00"), alert_thresholds=[50])
    big = EventInput(event_type="agent_call", provider="openai", model="gpt-4o", tokens_in=10**6)
    with pytest.raises(UsageValidationError):
        usage_events_record(organization=org, events=[big, EventInput(event_type="bad")])
    assert sent == [] and not BudgetAlert.objects.exists()


def test_real_notifications_module_records_a_notice_for_delivery_after_commit(org, org_admin, settings):
    notifications = pytest.importorskip("billing.notifications")
    if not hasattr(notifications, "notification_send"):
        pytest.skip("billing.notifications has no notification_send yet")
    from billing.models import Notification

    settings.ARAGORA_NOTIFICATION_WEBHOOK = "http://127.0.0.1:9/hook"
    settings.ARAGORA_NOTIFICATION_WEBHOOK_SECRET = "s" * 40
    BudgetFactory(organization=org, monthly_budget_usd=Decimal("1.00"), alert_thresholds=[100])
    _spend(org, 2)
    assert Notification.objects.filter(organization=org, kind="budget_threshold").count() == 1
    assert BudgetAlert.objects.get(organization=org).delivery_status == DeliveryStatus.SENT
