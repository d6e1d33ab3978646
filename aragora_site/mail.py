"""The one SMTP connection of the service, from ARAGORA_SMTP_* (read when sending, so settings may change)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend


def mail_configured() -> bool:
    """Return True when an SMTP server is configured (ARAGORA_SMTP_HOST)."""
    return bool(settings.ARAGORA_SMTP_HOST)


def smtp_connection() -> BaseEmailBackend:
    """Return a connection to the configured SMTP server (STARTTLS or implicit TLS as configured)."""
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
