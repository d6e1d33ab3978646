"""Real receivers on loopback as a pytest plugin: an SMTP server (aiosmtpd) and an HTTP webhook receiver."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.servers import free_port

NOTIFY_SECRET = "notify-secret-that-is-long-enough-0123456789"


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
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
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
