"""Shared fixtures (the environment itself is set by tests/environment.py)."""

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts import tokens
from aragora_site.caches import reset_process_caches
from billing.tiers import SubscriptionTier
from tests import shared_cache
from tests.factories import OrganizationFactory, UserFactory

pytest_plugins = ["tests.fakes.stripe_plugin", "tests.fakes.receivers", "tests.browser"]


@pytest.fixture(autouse=True)
def _fast_hashers_and_clean_cache(request, settings):
    """Fast password hashing, except for tests that check the real hashers; an empty cache per test."""
    if "real_hashers" not in request.keywords:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    shared_cache.clear()
    reset_process_caches()
    yield
    shared_cache.clear()
    reset_process_caches()


def pytest_configure(config):
    config.addinivalue_line("markers", "real_hashers: use the production password hashers")


@pytest.fixture
def on_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://... (SQLite serializes writers)")


@pytest.fixture
def org(db):
    """A Professional organization with its owner, an organization admin (`org_admin`)."""
    return OrganizationFactory(tier=SubscriptionTier.PROFESSIONAL, admin=True)


@pytest.fixture
def org_admin(org):
    return org.owner


@pytest.fixture
def member(org, org_admin):
    return UserFactory(organization=org, role="member")


@pytest.fixture
def other_org_admin(db):
    return OrganizationFactory(tier=SubscriptionTier.PROFESSIONAL, admin=True).owner


def client_for(user=None, *, token=None, api_key=None):
    client = APIClient()
    if user is not None and token is None and api_key is None:
        token = tokens.token_pair_for_user(user).access_token
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    if api_key:
        client.credentials(HTTP_X_API_KEY=api_key)
    return client


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def admin_client_api(org_admin):
    return client_for(org_admin)


@pytest.fixture
def member_client(member):
    return client_for(member)


@pytest.fixture(scope="session")
def live_api(fake_stripe_server, tmp_path_factory):
    """The service under gunicorn (two workers, DEBUG off) on a database of its own, billing against the Stripe
    stand-in and sending mail to an SMTP server on loopback; shared by the tests that need real HTTP. Its base URL."""
    from aiosmtpd.controller import Controller

    from tests.fakes.receivers import _Inbox
    from tests.servers import api_server, free_port

    smtp = Controller(_Inbox(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    mail = {"ARAGORA_SMTP_HOST": "127.0.0.1", "ARAGORA_SMTP_PORT": str(smtp.port), "ARAGORA_SMTP_USE_TLS": "0"}
    try:
        with api_server(tmp_path_factory.mktemp("live-api"), stripe_url=fake_stripe_server.url, extra_env=mail) as base:
            yield base
    finally:
        smtp.stop()
