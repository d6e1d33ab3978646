"""Outgoing e-mail over the SMTP server of ARAGORA_SMTP_* (read when sending), and the header check every
message passes."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend


def smtp_configured() -> bool:
    """Return True when an SMTP host is configured (nothing can be e-mailed otherwise)."""
    return bool(settings.ARAGORA_SMTP_HOST)


def smtp_connection() -> BaseEmailBackend:
    """Return a connection to the configured SMTP server (always SMTP, whatever EMAIL_BACKEND says)."""
    return get_connection(
        "django.core.mail.backends.smtp.EmailBackend",
        host=settings.ARAGORA_SMTP_HOST,
        port=settings.ARAGORA_SMTP_PORT,
        username=settings.ARAGORA_SMTP_USER or None,
        password=settings.ARAGORA_SMTP_PASSWORD or None,
        use_tls=settings.ARAGORA_SMTP_USE_TLS and not settings.ARAGORA_SMTP_USE_SSL,
        use_ssl=settings.ARAGORA_SMTP_USE_SSL,
        timeout=settings.ARAGORA_SMTP_TIMEOUT,
        fail_silently=False,
    )


def has_line_break(value: str) -> bool:
    """Return True when `value` would break out of an e-mail header line (header injection)."""
    return any(ch in value for ch in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
