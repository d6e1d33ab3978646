"""Billing fixtures: the fake Stripe server, signed webhook deliveries, an SMTP server and a webhook receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from rest_framework.test import APIClient

from tests.billing.fake_stripe import FakeStripe

SECRET_KEY = "sk_test_51AragoraFakeKey0000000000000000000000"
WEBHOOK_SECRET = "whsec_test_aragora_0123456789abcdef0123456789abcdef"
NOTIFY_SECRET = "notify-secret-that-is-long-enough-0123456789"
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
    for tier, (price_id, amount) in PRICES.items():
        setattr(settings, f"STRIPE_PRICE_{tier.upper()}", price_id)
        fake_stripe_server.add_product_and_price(price_id=price_id, unit_amount=amount, name=f"Aragora {tier}")
    return fake_stripe_server


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


# ---------------------------------------------------------------------------
# SMTP and webhook receivers on loopback
# ---------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse = False

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook name
        if self.refuse:
            return "451 Requested action aborted: local error in processing"
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.ARAGORA_SMTP_HOST = "127.0.0.1"
    settings.ARAGORA_SMTP_PORT = controller.port
    settings.ARAGORA_SMTP_USE_TLS = False
    settings.ARAGORA_SMTP_USE_SSL = False
    settings.ARAGORA_SMTP_TIMEOUT = 5
    yield inbox
    controller.stop()


@dataclass
class Receiver:
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200
    location: str = ""
    url: str = ""


@pytest.fixture
def webhook_receiver(settings):
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(receiver.status)
            if receiver.location:
                self.send_header("Location", receiver.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/aragora"
    settings.ARAGORA_NOTIFICATION_WEBHOOK = receiver.url
    settings.ARAGORA_NOTIFICATION_WEBHOOK_SECRET = NOTIFY_SECRET
    settings.ARAGORA_NOTIFICATION_TIMEOUT = 5
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def notify(smtp_server, webhook_receiver):
    """Both notification channels configured, pointing at real servers on loopback."""
    return smtp_server, webhook_receiver
