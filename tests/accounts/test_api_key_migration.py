"""The migration of each user's single API key (User.api_key_*) into a named "default" ApiKey row."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts import services
from accounts.keys import api_key_lookup_prefix, api_key_new, hash_api_key
from accounts.models import ApiKey

BEFORE = [("accounts", "0004_apikey")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_existing_single_keys_become_default_keys_that_keep_working():
    old = _migrate(BEFORE)
    try:
        org = old.get_model("accounts", "Organization").objects.create(name="Acme", slug="acme", tier="professional")
        users = old.get_model("accounts", "User").objects
        key = api_key_new()
        used = timezone.now()
        holder = users.create(
            email="holder@example.com",
            organization_id=org.pk,
            role="admin",
            api_key_prefix=api_key_lookup_prefix(key),
            api_key_hash=hash_api_key(key),
            api_key_created_at=used,
            api_key_last_used_at=used,
        )
        users.create(email="keyless@example.com", organization_id=org.pk)
    finally:
        _migrate(_latest())

    row = ApiKey.objects.get()
    assert (row.user_id, row.name, row.prefix, row.key_hash) == (holder.pk, "default", key[:12], hash_api_key(key))
    assert row.created_at == used and row.last_used_at == used and row.revoked_at is None
    assert services.api_key_authenticate(key=key).user_id == str(holder.pk)


@pytest.mark.django_db(transaction=True)
def test_reversing_the_migration_puts_the_newest_live_key_back_on_the_user():
    from tests.factories import OrganizationFactory

    owner = OrganizationFactory(tier="professional", admin=True).owner
    services.api_key_create(user=owner, name="old")
    newest, key = services.api_key_create(user=owner, name="new")
    try:
        old = _migrate(BEFORE)
        restored = old.get_model("accounts", "User").objects.get(pk=owner.pk)
        assert (restored.api_key_prefix, restored.api_key_hash) == (newest.prefix, hash_api_key(key))
    finally:
        _migrate(_latest())
