"""The Stripe stand-in as a pytest plugin: the fake Stripe server, its prices, and signed webhook deliveries."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.fakes.stripe_server import FakeStripe

SECRET_KEY = "sk_test_51AragoraFakeKey0000000000000000000000"
WEBHOOK_SECRET = "whsec_test_aragora_0123456789abcdef0123456789abcdef"
PRICES = {
    "starter": ("price_1AragoraStarter", 9900),
    "professional": ("price_1AragoraProfessional", 29900),
    "enterprise": ("price_1AragoraEnterprise", 99900),
}
WEBHOOK_URL = "/api/billing/webhook"


@pytest.fixture(scope="session")
def fake_stripe_server():
    server = FakeStripe().start()
    yield server
    server.stop()


@pytest.fixture
def fake_stripe(fake_stripe_server, settings) -> FakeStripe:
    """The fake Stripe API, emptied, with the three prices, and the service configured to use it."""
    fake_stripe_server.reset()
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = fake_stripe_server.url
    settings.ARAGORA_REDIRECT_ALLOWED_HOSTS = ["app.example.com", ".example.org"]
    for tier, (price_id, amount) in PRICES.items():
        setattr(settings, f"STRIPE_PRICE_{tier.upper()}", price_id)
        fake_stripe_server.add_product_and_price(price_id=price_id, unit_amount=amount, name=f"Aragora {tier}")
    return fake_stripe_server


def database_write_lock_probe(settings_dict: dict[str, Any]) -> Callable[[], bool]:
    """Return a check, made over a connection of its own, of whether another connection holds a write lock now.

    SQLite: try to take the write lock without waiting (`BEGIN IMMEDIATE`, timeout 0). PostgreSQL: look for another
    session of the database whose transaction has written (it holds an xid, and so its row locks).
    """
    if settings_dict["ENGINE"].endswith("sqlite3"):
        path = settings_dict["NAME"]

        def sqlite_probe() -> bool:
            probe = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):
                    raise
                return True
            finally:
                if probe.in_transaction:
                    probe.execute("ROLLBACK")
                probe.close()
            return False

        return sqlite_probe

    import psycopg

    params = {
        "dbname": settings_dict["NAME"],
        "host": settings_dict.get("HOST") or None,
        "port": settings_dict.get("PORT") or None,
        "user": settings_dict.get("USER") or None,
        "password": settings_dict.get("PASSWORD") or None,
    }

    def postgres_probe() -> bool:
        with psycopg.connect(autocommit=True, **{k: v for k, v in params.items() if v}) as probe:
            (writers,) = probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
            ).fetchone()
        return writers > 0

    return postgres_probe


@pytest.fixture
def stripe_lock_watch(fake_stripe) -> FakeStripe:
    """The fake Stripe API, recording with each request whether the database write lock was held meanwhile."""
    from django.db import connection

    fake_stripe.write_lock_probe = database_write_lock_probe(connection.settings_dict)
    return fake_stripe


def stripe_signature(payload: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """Sign a payload exactly as Stripe does: v1 = HMAC-SHA256(secret, "t.payload")."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def deliver(event: dict | bytes, *, client: APIClient | None = None, **sign: Any):
    """POST an event to the live webhook URL, signed (overrides go to stripe_signature)."""
    payload = event if isinstance(event, bytes) else json.dumps(event).encode()
    client = client or APIClient()
    return client.generic(
        "POST",
        WEBHOOK_URL,
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=stripe_signature(payload, **sign),
    )
