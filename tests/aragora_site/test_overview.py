"""The back office's home page: the overview's numbers, its bounded queries, and the apps with Stripe last."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aragora_site.overview import plan_mix, staff_overview
from billing.tiers import SubscriptionTier
from tests.factories import OrganizationFactory, UserFactory
from tests.staff_scene import staff_scene
from tests.usage.conftest import record

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene():
    return staff_scene()


@pytest.fixture
def home(client, scene):
    client.force_login(scene.staff)
    return client.get("/admin/")


def test_mrr_counts_paid_tiers_in_force_of_subscriptions_still_billing(scene):
    mix = plan_mix()
    rows = {row.tier: (row.organizations, row.paying) for row in mix.rows}
    # Initech's grace ran out (free in force); Umbrella is trialing; Globex is past due but still billing.
    assert rows == {
        SubscriptionTier.FREE: (4, 0),
        SubscriptionTier.STARTER: (0, 0),
        SubscriptionTier.PROFESSIONAL: (2, 1),
        SubscriptionTier.ENTERPRISE: (1, 1),
    }
    assert mix.mrr == scene.mrr == Decimal("1298.00") and mix.paying == 2 and mix.organizations == 7


def test_the_home_page_shows_mrr_and_the_plan_mix(home):
    page = home.content.decode()
    assert home.status_code == 200
    assert 'data-testid="mrr" data-value="1298.00"' in page and "$1,298.00" in page
    assert 'href="/admin/accounts/organization/?tier__exact=professional"' in page


def test_the_home_page_lists_organizations_in_grace_or_past_due_with_their_dates(home, scene):
    at_risk = home.context["overview"]["at_risk"]
    assert [org.name for org in at_risk] == ["Initech", "Globex"]  # soonest grace end first
    page = home.content.decode()
    assert scene.globex.grace_until.strftime("%Y-%m-%d %H:%M") in page
    assert f'href="/admin/billing/organizationbilling/{scene.initech.pk}/change/"' in page


def test_the_home_page_ranks_this_months_top_spenders_in_dollars_and_cents(home, scene):
    spenders = home.context["overview"]["top_spenders"]
    assert [row.organization for row in spenders] == [scene.northwind, scene.globex, scene.umbrella]
    page = home.content.decode()
    assert 'data-value="15.7493025">$15.75</td>' in page  # exact in the attribute, dollars and cents shown
    assert f"?organization__id__exact={scene.northwind.pk}" in page


def test_the_home_page_lists_unpriced_models_seen_this_month_with_counts(home):
    assert home.context["overview"]["unpriced"] == [
        {
            "provider": "mystery",
            "model": "mystery-9",
            "events": 2,
            "organizations": 2,
            "last_seen": home.context["overview"]["unpriced"][0]["last_seen"],
        }
    ]
    assert "unpriced__exact=1&amp;provider__exact=mystery&amp;model__exact=mystery-9" in home.content.decode()


def test_the_home_page_shows_failed_notifications_recent_revocations_and_staff_actions(home, scene):
    page = home.content.decode()
    assert home.context["overview"]["failed_notifications"] == [scene.failed]
    assert "502 from the receiver" in page and f'href="/admin/billing/notification/{scene.failed.pk}/change/"' in page
    assert "user_logout" in page and scene.globex.owner.email in page
    assert [entry.action for entry in home.context["overview"]["audit"]] == ["debates_reset"]
    assert "Debates lost in the outage of the 3rd" in page


def test_the_overview_costs_the_same_queries_however_much_data_there_is(scene):
    with CaptureQueriesContext(connection) as small:
        staff_overview(user=scene.staff)
    for n in range(15):
        org = OrganizationFactory(tier=SubscriptionTier.STARTER, subscription_status="past_due")
        record(org, provider=f"unknown{n}", model=f"model-{n}", tokens_in=10)
    with CaptureQueriesContext(connection) as large:
        overview = staff_overview(user=scene.staff)
    assert len(large) == len(small) <= 12
    assert len(overview["at_risk"]) == 10 and overview["at_risk_count"] == 17
    assert len(overview["top_spenders"]) == 10


def test_stripe_models_come_last_in_one_collapsed_section(home):
    apps = [app["app_label"] for app in home.context["app_list"]]
    assert apps[:4] == ["accounts", "billing", "usage", "aragora_site"] and apps[-1] == "djstripe"
    assert home.context["app_list"][-1]["name"] == "Stripe (synced)"
    page = home.content.decode()
    details = page.index('<details class="stripe-synced"')
    assert page.index("app-usage") < details < page.index("app-djstripe") < page.index("</details>")
    assert page.count("app-djstripe") == 1 and '<details class="stripe-synced" data-testid="stripe-synced">' in page


def test_staff_see_only_the_sections_they_may_open(client, scene):
    staff = UserFactory(organization=None, is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_usagemonthly"))
    client.force_login(staff)
    res = client.get("/admin/")
    assert res.status_code == 200
    assert set(res.context["overview"]) == {"month", "month_start", "top_spenders"}
    page = res.content.decode()
    assert "Top spenders" in page and "MRR" not in page and "Failed notifications" not in page


def test_the_home_page_is_for_staff_only(client, org_admin):
    client.force_login(org_admin)
    res = client.get("/admin/")
    assert res.status_code == 302 and "/admin/login/" in res["Location"]
