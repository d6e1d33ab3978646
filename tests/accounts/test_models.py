import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection

from accounts.keys import API_KEY_LENGTH, api_key_is_well_formed, hash_api_key
from accounts.models import ApiKey, Organization, User, generate_slug
from billing.tiers import TIER_LIMITS, SubscriptionTier
from tests.factories import PASSWORD, OrganizationFactory, UserFactory


def test_tier_limits_match_the_published_plans():
    limits = {tier: TIER_LIMITS[tier] for tier in SubscriptionTier}
    assert [limits[t].debates_per_month for t in SubscriptionTier] == [10, 50, 200, None]
    assert [limits[t].users for t in SubscriptionTier] == [1, 2, 10, None]
    assert [limits[t].api_access for t in SubscriptionTier] == [False, False, True, True]
    assert [limits[t].price_monthly_usd for t in SubscriptionTier] == [
        Decimal("0.00"),
        Decimal("99.00"),
        Decimal("299.00"),
        Decimal("999.00"),
    ]
    assert TIER_LIMITS[SubscriptionTier.PROFESSIONAL].all_agents is True


@pytest.mark.django_db
def test_generate_slug_suffixes_taken_slugs():
    assert generate_slug("Acme Corp") == "acme-corp"
    OrganizationFactory(name="Acme Corp", slug="acme-corp")
    assert generate_slug("Acme Corp") == "acme-corp-2"
    assert generate_slug("!!!") == "org"


def test_unsaved_organization_reports_limits_like_the_seed():
    org = Organization(name="Acme Corp", slug="acme-corp", tier=SubscriptionTier.PROFESSIONAL)
    assert org.limits.debates_per_month == 200
    assert org.debates_remaining == 200
    assert org.is_at_limit is False
    assert org.increment_debates() is True
    assert org.debates_remaining == 199


@pytest.mark.django_db
def test_increment_debates_stops_at_the_tier_limit_and_persists():
    org = OrganizationFactory(tier=SubscriptionTier.FREE)
    results = [org.increment_debates() for _ in range(12)]
    assert results == [True] * 10 + [False] * 2
    org.refresh_from_db()
    assert org.debates_used == 10
    assert org.is_at_limit and org.debates_remaining == 0


@pytest.mark.django_db
def test_enterprise_has_no_debate_limit():
    org = OrganizationFactory(tier=SubscriptionTier.ENTERPRISE, debates_used=10_000)
    assert org.increment_debates() is True
    assert org.debates_remaining is None and org.is_at_limit is False


@pytest.mark.django_db
def test_reset_monthly_usage_clears_the_counter_in_the_database():
    org = OrganizationFactory(tier=SubscriptionTier.FREE, debates_used=7)
    org.reset_monthly_usage()
    org.refresh_from_db()
    assert org.debates_used == 0
    assert org.period_start.day == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_increment_debates_grants_exactly_the_limit(on_postgres):
    org = OrganizationFactory(tier=SubscriptionTier.STARTER)  # 50 per month
    granted = []
    barrier = threading.Barrier(20)

    def worker():
        barrier.wait()
        mine = Organization.objects.get(pk=org.pk)
        for _ in range(5):
            granted.append(mine.increment_debates())
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert granted.count(True) == 50
    assert granted.count(False) == 50
    org.refresh_from_db()
    assert org.debates_used == 50


@pytest.mark.django_db
def test_email_is_unique_regardless_of_case():
    UserFactory(email="Dev@Example.com")
    assert User.objects.get(email="dev@example.com")
    with pytest.raises(Exception):  # noqa: B017 - IntegrityError from either backend
        UserFactory(email="DEV@example.COM")


@pytest.mark.django_db
@pytest.mark.real_hashers
def test_passwords_are_hashed_with_argon2id():
    user = UserFactory()
    assert user.password.startswith("argon2$argon2id$")
    assert user.verify_password(PASSWORD)
    assert not user.verify_password("wrong")


@pytest.mark.django_db
def test_generated_api_key_is_shown_once_and_only_its_hash_is_stored():
    user = UserFactory()
    key = user.generate_api_key()
    assert key.startswith("ara_") and len(key) == API_KEY_LENGTH >= 36
    assert api_key_is_well_formed(key)
    row = ApiKey.objects.get(user=user)
    assert row.key_hash == hash_api_key(key) and row.name == "default"
    assert key not in str(ApiKey.objects.filter(user=user).values().first())
    assert key not in str(User.objects.filter(pk=user.pk).values().first())
    assert user.to_dict(include_sensitive=True)["api_key_prefix"] == key[:12]
    assert key not in str(user.to_dict(include_sensitive=True))


@pytest.mark.django_db
def test_regenerating_the_api_key_replaces_the_old_one():
    user = UserFactory()
    first, second = user.generate_api_key(), user.generate_api_key()
    assert first != second
    assert [k.key_hash for k in user.live_api_keys()] == [hash_api_key(second)]
    assert ApiKey.objects.get(key_hash=hash_api_key(first)).revoked_at is not None


def test_mistyped_api_key_fails_the_checksum():
    user = User(email="x@example.com")
    key = user.generate_api_key()
    typo = key[:-8] + ("A" if key[-8] != "A" else "B") + key[-7:]
    assert not api_key_is_well_formed(typo)
    assert not api_key_is_well_formed("ara_short")


def test_to_dict_and_from_dict_round_trip_without_secrets():
    user = User(email="new@example.com", name="New User", organization_id=uuid.uuid4())
    user.set_password(PASSWORD)
    data = user.to_dict()
    assert data["has_api_key"] is False
    assert "password" not in data and "api_key_hash" not in data
    restored = User.from_dict(data)
    assert (restored.id, restored.email, restored.name, restored.org_id) == (
        user.id,
        user.email,
        user.name,
        user.org_id,
    )


@pytest.mark.django_db
def test_increment_debates_by_a_count_is_all_or_nothing():
    org = OrganizationFactory(tier=SubscriptionTier.FREE, debates_used=7)
    assert org.increment_debates(4) is False
    org.refresh_from_db()
    assert org.debates_used == 7
    assert org.increment_debates(3) is True
    org.refresh_from_db()
    assert org.debates_used == 10 and org.is_at_limit
