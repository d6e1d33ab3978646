"""Back office: spend per organization and month, events read-only, prices editable."""

from decimal import Decimal

import pytest

from billing.tiers import SubscriptionTier
from tests.factories import OrganizationFactory, UserFactory
from tests.usage.conftest import record
from usage.models import Budget, ModelPrice, UsageEvent
from usage.pricing import calculate_token_cost

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, db):
    staff = UserFactory(organization=None, is_staff=True, is_superuser=True)
    client.force_login(staff)
    return client


def test_monthly_spend_is_sorted_by_cost_with_totals_and_filters(staff_client):
    cheap = OrganizationFactory(name="Cheap Co", tier=SubscriptionTier.FREE)
    dear = OrganizationFactory(name="Dear Co", tier=SubscriptionTier.ENTERPRISE)
    record(cheap, provider="openai", model="gpt-4o", tokens_in=400_000)  # $1
    record(dear, provider="openai", model="gpt-4o", tokens_in=4_000_000)  # $10
    res = staff_client.get("/admin/usage/usagemonthly/")
    html = res.content.decode()
    assert res.status_code == 200
    assert html.index("Dear Co") < html.index("Cheap Co")
    assert res.context["usage_totals"]["total_cost"] == Decimal("11")
    filtered = staff_client.get("/admin/usage/usagemonthly/?tier=free")
    assert filtered.context["usage_totals"]["total_cost"] == Decimal("1")
    month = filtered.context["cl"].result_list[0].month
    assert staff_client.get(f"/admin/usage/usagemonthly/?month={month}").status_code == 200
    assert staff_client.get("/admin/usage/usagemonthly/?month=1999-01").context["usage_totals"]["total_cost"] is None


def test_usage_events_are_read_only_searchable_and_filter_unpriced(staff_client, org):
    priced = record(org, provider="openai", model="gpt-4o", tokens_in=10)
    unpriced = record(org, provider="mystery", model="mystery-9", tokens_in=10)
    res = staff_client.get("/admin/usage/usageevent/?unpriced__exact=1")
    assert list(res.context["cl"].result_list) == [unpriced]
    res = staff_client.get("/admin/usage/usageevent/?q=gpt-4o")
    assert list(res.context["cl"].result_list) == [priced]
    assert staff_client.get("/admin/usage/usageevent/add/").status_code == 403
    change = staff_client.post(f"/admin/usage/usageevent/{priced.pk}/change/", {"tokens_in": 99})
    assert change.status_code in (302, 403)
    assert UsageEvent.objects.get(pk=priced.pk).tokens_in == 10
    assert staff_client.post(f"/admin/usage/usageevent/{priced.pk}/delete/", {"post": "yes"}).status_code == 403


def test_staff_edit_a_price_and_new_events_use_it(staff_client):
    price = ModelPrice.objects.filter(provider="openai", model="gpt-4o").latest("effective_from")
    res = staff_client.post(
        f"/admin/usage/modelprice/{price.pk}/change/",
        {
            "provider": "OpenAI",
            "model": "gpt-4o",
            "display_name": "GPT-4o",
            "input_per_million": "3.00",
            "output_per_million": "12.00",
            "effective_from_0": price.effective_from.strftime("%Y-%m-%d"),
            "effective_from_1": price.effective_from.strftime("%H:%M:%S"),
        },
    )
    assert res.status_code == 302, res.content
    assert calculate_token_cost("openai", "gpt-4o", 10**6, 10**6) == Decimal("15")
    price.refresh_from_db()
    assert price.source == "staff"


def test_non_staff_cannot_open_the_back_office(client, org_admin):
    client.force_login(org_admin)
    assert client.get("/admin/usage/usagemonthly/").status_code == 302


def test_money_columns_show_dollars_and_cents_and_per_event_sub_cent_digits(staff_client, org):
    big = record(org, provider="openai", model="gpt-4o", tokens_in=6_297_921)  # $15.7448025
    tiny = record(org, provider="openai", model="gpt-4o", tokens_in=1)  # $0.0000025
    Budget.objects.create(organization=org, monthly_budget_usd=Decimal("1234.5"))

    monthly = staff_client.get("/admin/usage/usagemonthly/").content.decode()
    events = staff_client.get("/admin/usage/usageevent/").content.decode()
    event = staff_client.get(f"/admin/usage/usageevent/{big.pk}/change/").content.decode()
    budgets = staff_client.get("/admin/usage/budget/").content.decode()

    assert "$15.74" in monthly and "15.744" not in monthly
    assert "$15.74" in events and "$0.0000025" in events and "E-" not in events
    assert "$15.74" in event and "15.7448025" not in event
    assert "$1,234.50" in budgets
    assert tiny.cost_usd == Decimal("0.0000025")
