"""Revocations made by another process (another gunicorn worker) take effect here at once."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts import jwt_auth, tokens
from tests.conftest import client_for

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    return f"postgres://{conf['USER']}@{conf['HOST']}:{conf['PORT']}/{conf['NAME']}"


def _in_another_worker(code: str) -> None:
    env = {**os.environ, "DATABASE_URL": _database_url(), "ARAGORA_DATA_DIR": str(settings.DATA_DIR)}
    script = f"import django; django.setup()\nfrom accounts import jwt_auth, tokens\n{code}"
    res = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "aragora_site.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr


@pytest.mark.django_db(transaction=True)
def test_token_revoked_by_another_worker_is_refused_here(org_admin):
    token = tokens.token_pair_for_user(org_admin).access_token
    client = client_for(token=token)
    assert client.get("/api/auth/me").status_code == 200  # this worker's caches are warm
    jti = jwt_auth.validate_access_token(token).jti
    _in_another_worker(f"jwt_auth.revoke_token(token_jti={jti!r}, reason='elsewhere')")
    assert client.get("/api/auth/me").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_revoke_all_by_another_worker_is_seen_here(org_admin):
    token = tokens.token_pair_for_user(org_admin).access_token
    client = client_for(token=token)
    assert client.get("/api/auth/me").status_code == 200
    _in_another_worker(f"jwt_auth.TokenBlacklist.get_instance().revoke_all_for_user({str(org_admin.id)!r})")
    assert client.get("/api/auth/me").status_code == 401


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("change", "status"),
    [
        ("ApiKey.objects.filter(user_id={user!r}).revoke()", 401),
        ("User.objects.filter(pk={user!r}).update(is_active=False)", 401),
        ("Organization.objects.filter(pk={org!r}).update(tier='starter')", 403),
    ],
)
def test_a_key_this_worker_remembers_is_refused_once_another_worker_changes_it(org_admin, change, status):
    key = org_admin.generate_api_key()
    client = client_for(api_key=key)
    assert client.get("/api/org").status_code == 200  # remembered by this worker
    code = change.format(user=str(org_admin.pk), org=str(org_admin.organization_id))
    _in_another_worker(f"from accounts.models import ApiKey, Organization, User\n{code}")
    assert client.get("/api/org").status_code == status


@pytest.mark.django_db(transaction=True)
def test_an_admin_demoted_by_another_worker_loses_admin_rights_with_a_remembered_key(org_admin):
    key = org_admin.generate_api_key()
    client = client_for(api_key=key)
    budget = {"monthly_budget_usd": "10.00"}
    assert client.put("/api/costs/budget", budget, format="json").status_code == 200
    _in_another_worker(
        f"from accounts.models import User\nUser.objects.filter(pk={str(org_admin.pk)!r}).update(role='member')"
    )
    assert client.put("/api/costs/budget", budget, format="json").status_code == 403


@pytest.fixture
def redis_cache(settings):
    """Run with the Redis cache (and its subscriber) when a Redis server answers on 127.0.0.1:6379."""
    import socket
    import uuid

    from accounts.revocation_cache import revocation_cache

    try:
        socket.create_connection(("127.0.0.1", 6379), 1).close()
    except OSError:
        pytest.skip("needs a Redis server on 127.0.0.1:6379")
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/7",
            "KEY_PREFIX": prefix,
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        }
    }
    revocation_cache.reset()
    yield {"REDIS_URL": "redis://127.0.0.1:6379/7", "ARAGORA_CACHE_PREFIX": prefix}
    revocation_cache.reset()


@pytest.mark.django_db(transaction=True)
def test_with_redis_a_revocation_by_another_worker_reaches_this_one(org_admin, redis_cache, monkeypatch):
    import time

    from accounts.revocation_cache import revocation_cache

    for name, value in redis_cache.items():
        monkeypatch.setenv(name, value)
    token = tokens.token_pair_for_user(org_admin).access_token
    client = client_for(token=token)
    assert client.get("/api/auth/me").status_code == 200
    deadline = time.monotonic() + 60
    while not revocation_cache.epoch._subscribed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert revocation_cache.epoch._subscribed
    assert client.get("/api/auth/me").status_code == 200  # answered from this worker's memory
    jti = jwt_auth.validate_access_token(token).jti
    _in_another_worker(f"jwt_auth.revoke_token(token_jti={jti!r}, reason='elsewhere')")
    deadline = time.monotonic() + 30  # the published bump crosses a loopback socket to the listener thread
    while client.get("/api/auth/me").status_code != 401 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.get("/api/auth/me").status_code == 401


def _until(condition, seconds: float = 30) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def test_with_redis_the_epoch_moves_on_each_bump_and_on_nothing_else(redis_cache):
    import time

    from accounts.revocation_cache import RedisEpoch, revocation_cache

    epoch = revocation_cache.epoch
    assert isinstance(epoch, RedisEpoch)
    first = epoch.read()  # starts the listener; until it has subscribed, reads GET the counter
    assert _until(lambda: epoch._subscribed, 60)
    time.sleep(1.5)  # the listener's idle comparison with the counter has run
    assert epoch.read() == first  # subscribing moved nothing: remembered answers stay good

    epoch.bump()
    mine = epoch.read()
    assert mine != first  # this worker's own bump counts at once
    time.sleep(1.5)  # its message came back and the idle comparison ran again
    assert epoch.read() == mine

    RedisEpoch().bump()  # another worker's bump, heard through the channel
    assert _until(lambda: epoch.read() != mine)
