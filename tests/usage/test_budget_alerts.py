"""Budget alerts: one per threshold per period, delivered through billing's notifications to a real SMTP server."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine

from billing.models import Notification, NotificationStatus
from tests.usage.conftest import record
from tests.usage.factories import BudgetFactory
from usage.models import BudgetAlert, DeliveryStatus
from usage.services.recording import usage_events_record
from usage.validation import EventInput, UsageValidationError

pytestmark = pytest.mark.django_db


@pytest.fixture
def spend(django_capture_on_commit_callbacks):
    """Record `dollars` USD of gpt-4o input tokens ($2.50 per million), running what waits for the commit."""

    def spend(org, dollars: int) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            record(org, provider="openai", model="gpt-4o", tokens_in=dollars * 400_000)

    return spend


def _alert_notices(org):
    return list(Notification.objects.filter(organization=org, kind="budget_threshold").order_by("created_at"))


def _mail_texts(smtp) -> list[str]:
    return [message.get_payload()[0].get_payload(decode=True).decode() for message in smtp.messages]


def test_each_crossed_threshold_alerts_once_per_period(org, smtp_server, spend):
    BudgetFactory(organization=org, monthly_budget_usd=Decimal("10.00"))
    spend(org, 4)
    assert smtp_server.messages == []
    spend(org, 4)  # 80 %: crosses 50 and 80 at once
    assert sorted(n.payload["context"]["threshold_percent"] for n in _alert_notices(org)) == [50, 80]
    spend(org, 1)
    spend(org, 1)  # 100 %
    spend(org, 5)
    assert sorted(n.payload["context"]["threshold_percent"] for n in _alert_notices(org)) == [50, 80, 100]
    assert len(smtp_server.messages) == 3
    assert {n.status for n in _alert_notices(org)} == {NotificationStatus.SENT}
    assert BudgetAlert.objects.filter(organization=org).count() == 3
    assert set(BudgetAlert.objects.values_list("delivery_status", flat=True)) == {DeliveryStatus.SENT}


def test_alert_mail_carries_the_spend_and_budget(org, org_admin, smtp_server, spend):
    BudgetFactory(organization=org, monthly_budget_usd=Decimal("10.00"), alert_thresholds=[50])
    spend(org, 6)
    (message,) = smtp_server.messages
    assert message["To"] == org_admin.email
    assert message["Subject"] == f"{org.name} has crossed a budget threshold"
    text = _mail_texts(smtp_server)[0]
    assert "spend_usd: 6.00" in text and "budget_usd: 10.00" in text and "percent_used: 60.0" in text
    (notice,) = _alert_notices(org)
    assert notice.payload["context"]["period"] and notice.payload["context"]["organization_name"] == org.name


def test_a_new_period_alerts_again(org, smtp_server, spend):
    BudgetFactory(organization=org, monthly_budget_usd=Decimal("10.00"), alert_thresholds=[50])
    with time_machine.travel(datetime(2026, 7, 10, tzinfo=UTC), tick=False):
        spend(org, 6)
    with time_machine.travel(datetime(2026, 8, 10, tzinfo=UTC), tick=False):
        spend(org, 4)
        assert len(_alert_notices(org)) == 1
        spend(org, 2)
    assert [n.payload["context"]["period"] for n in _alert_notices(org)] == ["2026-07", "2026-08"]
    assert len(smtp_server.messages) == 2


def test_no_budget_means_no_alert(org, smtp_server, spend):
    spend(org, 1000)
    assert _alert_notices(org) == [] and not BudgetAlert.objects.exists() and smtp_server.messages == []


def test_a_refusing_mail_server_does_not_lose_the_usage(org, smtp_server, spend):
    smtp_server.refuse = True
    BudgetFactory(organization=org, monthly_budget_usd=Decimal("1.00"), alert_thresholds=[100])
    spend(org, 2)
    assert org.usage_events.count() == 1
    (notice,) = _alert_notices(org)
    assert notice.status == NotificationStatus.PENDING and "451" in notice.last_error
    assert BudgetAlert.objects.get(organization=org).threshold == 100


def test_without_a_notification_channel_the_alert_is_kept_as_undeliverable(org, settings, spend):
    settings.ARAGORA_SMTP_HOST = ""
    settings.ARAGORA_NOTIFICATION_WEBHOOK = ""
    BudgetFactory(organization=org, monthly_budget_usd=Decimal("1.00"), alert_thresholds=[100])
    spend(org, 2)
    assert BudgetAlert.objects.get(organization=org).delivery_status == DeliveryStatus.UNAVAILABLE
    assert _alert_notices(org) == []


def test_a_refused_write_sends_no_alert(org, smtp_server, django_capture_on_commit_callbacks):
    BudgetFactory(organization=org, monthly_budget_usd=Decimal("1.00"), alert_thresholds=[50])
    big = EventInput(event_type="agent_call", provider="openai", model="gpt-4o", tokens_in=10**6)
    with pytest.raises(UsageValidationError), django_capture_on_commit_callbacks(execute=True):
        usage_events_record(organization=org, events=[big, EventInput(event_type="bad")])
    assert _alert_notices(org) == [] and not BudgetAlert.objects.exists() and smtp_server.messages == []


def test_the_webhook_channel_gets_the_alert_too(org, webhook_receiver, spend):
    BudgetFactory(organization=org, monthly_budget_usd=Decimal("1.00"), alert_thresholds=[100])
    spend(org, 2)
    (notice,) = _alert_notices(org)
    assert notice.channel == "webhook" and notice.status == NotificationStatus.SENT
    assert len(webhook_receiver.received) == 1
    assert BudgetAlert.objects.get(organization=org).delivery_status == DeliveryStatus.SENT
