"""Which organization a Stripe object belongs to."""

from __future__ import annotations

import pytest
from django.db import transaction

from accounts.models import Organization
from billing.selectors import organization_for_stripe
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def orgs():
    by_subscription = OrganizationFactory(stripe_customer_id="cus_a", stripe_subscription_id="sub_a")
    by_customer = OrganizationFactory(stripe_customer_id="cus_b", tier="professional")
    by_metadata = OrganizationFactory()
    return by_subscription, by_customer, by_metadata


def test_the_subscription_wins_over_the_customer_and_the_metadata(orgs):
    by_subscription, by_customer, by_metadata = orgs

    found = organization_for_stripe(subscription_id="sub_a", customer_id="cus_b", org_id=str(by_metadata.pk))

    assert found == by_subscription
    assert organization_for_stripe(customer_id="cus_b", org_id=str(by_metadata.pk)) == by_customer
    assert organization_for_stripe(subscription_id="sub_unknown", org_id=str(by_metadata.pk)) == by_metadata


def test_the_organization_comes_back_whole_and_saves_as_loaded(orgs):
    _, by_customer, _ = orgs

    with transaction.atomic():
        found = organization_for_stripe(customer_id="cus_b", lock=True)
        assert (found.pk, found.tier, found.slug) == (by_customer.pk, "professional", by_customer.slug)
        found.tier = "enterprise"
        found.save(update_fields=["tier"])

    assert Organization.objects.get(pk=by_customer.pk).tier == "enterprise"


@pytest.mark.parametrize("org_id", ["not-a-uuid", "b93a6c1d-0807-4b8b-a9f0-4684fba4d775", ""])
def test_unknown_or_malformed_references_find_nothing(orgs, org_id):
    assert organization_for_stripe(subscription_id="sub_none", customer_id="cus_none", org_id=org_id) is None
    assert organization_for_stripe() is None
