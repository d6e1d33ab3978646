"""Fixtures for usage tests: a tracker, a way to record events, and organizations of each tier."""

import importlib
from decimal import Decimal

import pytest

from billing.tiers import SubscriptionTier
from tests.factories import OrganizationFactory
from usage.services.recording import usage_events_record
from usage.tracker import UsageTracker
from usage.validation import EventInput


def seed_prices() -> None:
    """Put the shipped price table back when a transactional test (a flush) elsewhere has emptied it."""
    from django.apps import apps

    from usage.models import ModelPrice

    if not ModelPrice.objects.exists():
        importlib.import_module("usage.migrations.0002_seed_model_prices").seed(apps, None)
        importlib.import_module("usage.migrations.0003_cost_dimensions").label_seeded_rows(apps, None)
        importlib.import_module("usage.migrations.0004_shipped_model_prices").load(apps, None)


@pytest.fixture(autouse=True)
def _prices(request):
    uses_db = {"db", "transactional_db", "live_server"} & set(request.fixturenames)
    if request.instance is None and (uses_db or request.node.get_closest_marker("django_db")):
        request.getfixturevalue("transactional_db" if "live_server" in request.fixturenames else "db")
        seed_prices()


@pytest.fixture
def tracker():
    return UsageTracker("usage.db")


@pytest.fixture
def free_org(db):
    return OrganizationFactory(tier=SubscriptionTier.FREE, admin=True)


@pytest.fixture
def enterprise_org(db):
    return OrganizationFactory(tier=SubscriptionTier.ENTERPRISE)


def record(org, **fields):
    """Record one event through the service and return the stored event."""
    fields.setdefault("event_type", "agent_call")
    return usage_events_record(organization=org, events=[EventInput(**fields)]).events[0]


def sonnet_cost(tokens_in: int, tokens_out: int) -> Decimal:
    return (Decimal(tokens_in) * 3 + Decimal(tokens_out) * 15) / 1_000_000
