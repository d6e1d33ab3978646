"""Billing notifications: one row per channel, delivered after the caller's transaction commits, retried later.

A delivery failure never reaches the caller: billing changes commit whatever happens to their notices.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Organization, Role
from aragora_site.mail import smtp_configured, smtp_connection
from billing.models import Notification, NotificationChannel, NotificationKind, NotificationStatus

logger = logging.getLogger("aragora.billing.notifications")

SIGNATURE_HEADER = "X-Aragora-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300
CLAIM_LEASE = timedelta(minutes=5)
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)

SUBJECTS: dict[str, str] = {
    NotificationKind.PAYMENT_FAILED: "Payment failed for {org}",
    NotificationKind.GRACE_ENDING: "{org}: your grace period ends soon",
    NotificationKind.DOWNGRADED: "{org} has moved to the {tier} tier",
    NotificationKind.PAYMENT_RECOVERED: "Payment received for {org}",
    NotificationKind.SUBSCRIPTION_CANCELED: "{org}: subscription canceled",
    NotificationKind.UPGRADED: "{org} is now on the {tier} tier",
    NotificationKind.BUDGET_THRESHOLD: "{org} has crossed a budget threshold",
}


class PermanentDeliveryError(Exception):
    """A notification that can never be delivered as it is (no retry)."""


class DeliveryError(Exception):
    """A delivery attempt that failed and may succeed later."""


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value


def _admin_emails(organization: Organization) -> list[str]:
    return list(
        organization.members.filter(role=Role.ADMIN, is_active=True)
        .order_by("created_at")
        .values_list("email", flat=True)
    )


def notification_send(*, organization: Organization, kind: str, context: dict) -> list[Notification]:
    """Record a notice for each configured channel and deliver them once the current transaction commits."""
    kind = NotificationKind(kind)
    base = {
        "organization": {"id": str(organization.id), "name": organization.name, "slug": organization.slug},
        "context": _json_safe(context),
    }
    rows = []
    recipients = _admin_emails(organization) if smtp_configured() else []
    if recipients:
        rows.append(Notification(channel=NotificationChannel.EMAIL, payload={**base, "recipients": recipients}))
    if settings.ARAGORA_NOTIFICATION_WEBHOOK:
        rows.append(Notification(channel=NotificationChannel.WEBHOOK, payload=base))
    if not rows:
        logger.info("No notification channel for %s of %s (no SMTP host, webhook or admin)", kind, organization.pk)
        return []
    for row in rows:
        row.organization = organization
        row.kind = kind
    Notification.objects.bulk_create(rows)
    ids = [row.id for row in rows]
    transaction.on_commit(lambda: notifications_deliver(ids), robust=True)
    return rows


def notifications_deliver(ids: list[uuid.UUID]) -> None:
    """Try to deliver these notifications now (those another worker holds are skipped)."""
    for notification_id in ids:
        notification_deliver(notification_id=notification_id)


def _claim(notification_id: uuid.UUID) -> Notification | None:
    now = timezone.now()
    claimed = Notification.objects.filter(
        pk=notification_id, status=NotificationStatus.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + CLAIM_LEASE, attempts=F("attempts") + 1)
    return Notification.objects.select_related("organization").get(pk=notification_id) if claimed else None


def notification_deliver(*, notification_id: uuid.UUID) -> Notification | None:
    """Deliver one due notification; record success, or the error and when to try again."""
    notification = _claim(notification_id)
    if notification is None:
        return None
    try:
        if notification.channel == NotificationChannel.EMAIL:
            _send_email(notification)
        else:
            _send_webhook(notification)
    except Exception as exc:
        _record_failure(notification, exc)
    else:
        notification.status = NotificationStatus.SENT
        notification.sent_at = timezone.now()
        notification.last_error = ""
        notification.save(update_fields=["status", "sent_at", "last_error"])
    return notification


def _record_failure(notification: Notification, exc: Exception) -> None:
    logger.warning("Notification %s (%s) failed: %s", notification.pk, notification.channel, exc)
    notification.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    permanent = isinstance(exc, PermanentDeliveryError)
    if permanent or notification.attempts >= settings.ARAGORA_NOTIFICATION_MAX_ATTEMPTS:
        notification.status = NotificationStatus.FAILED
    else:
        delay = min(BACKOFF_BASE * 2 ** (notification.attempts - 1), BACKOFF_MAX)
        notification.next_attempt_at = timezone.now() + delay
    notification.save(update_fields=["status", "last_error", "next_attempt_at"])


def notifications_deliver_due(*, limit: int = 500) -> dict[str, int]:
    """Deliver every pending notification whose next attempt is due; return counts by resulting status."""
    due = list(
        Notification.objects.filter(status=NotificationStatus.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    counts = {"sent": 0, "pending": 0, "failed": 0}
    for notification_id in due:
        notification = notification_deliver(notification_id=notification_id)
        if notification is not None:
            counts[notification.status] += 1
    return counts


def notification_retry(*, notification: Notification) -> Notification | None:
    """Put a pending or failed notification back in line and try it now (an admin's retry)."""
    Notification.objects.filter(pk=notification.pk).exclude(status=NotificationStatus.SENT).update(
        status=NotificationStatus.PENDING, next_attempt_at=timezone.now()
    )
    return notification_deliver(notification_id=notification.pk)


# ---------------------------------------------------------------------------
# E-mail
# ---------------------------------------------------------------------------
def _refuse_line_breaks(value: str, what: str) -> str:
    if "\r" in value or "\n" in value:
        raise PermanentDeliveryError(f"Refused a line break in the e-mail {what}.")
    return value


def _email_message(notification: Notification) -> EmailMultiAlternatives:
    payload = notification.payload
    context = {
        **payload["context"],
        "details": sorted(payload["context"].items()),
        "organization": payload["organization"],
        "kind": notification.kind,
    }
    tier = str(payload["context"].get("tier", "")).title()
    subject = SUBJECTS[notification.kind].format(org=payload["organization"]["name"], tier=tier)
    recipients = [_refuse_line_breaks(address, "recipient") for address in payload.get("recipients", [])]
    if not recipients:
        raise PermanentDeliveryError("The notification has no recipient.")
    return _build_email(notification, subject, context, recipients)


def _build_email(
    notification: Notification, subject: str, context: dict, recipients: list[str]
) -> EmailMultiAlternatives:
    template = f"billing/email/{notification.kind}"
    message = EmailMultiAlternatives(
        subject=_refuse_line_breaks(subject, "subject"),
        body=render_to_string(f"{template}.txt", context),
        from_email=_refuse_line_breaks(settings.ARAGORA_SMTP_FROM, "sender"),
        to=recipients,
        headers={"X-Aragora-Notification": str(notification.pk)},
    )
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    return message


def _send_email(notification: Notification) -> None:
    message = _email_message(notification)
    if smtp_connection().send_messages([message]) != 1:
        raise DeliveryError("The SMTP server did not accept the message.")


# ---------------------------------------------------------------------------
# Webhook
# ---------------------------------------------------------------------------
def sign_notification(body: bytes, *, secret: str, timestamp: int | None = None) -> str:
    """Return the X-Aragora-Signature value for `body`: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_notification_signature(
    body: bytes, header: str, *, secret: str, tolerance: int = SIGNATURE_TOLERANCE_SECONDS
) -> bool:
    """Return True when `header` signs `body` with `secret` within `tolerance` seconds (receivers use this)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = sign_notification(body, secret=secret, timestamp=timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_RefuseRedirects)


def webhook_body(notification: Notification) -> bytes:
    """Return the JSON document POSTed for a notification."""
    document = {
        "id": str(notification.pk),
        "kind": notification.kind,
        "organization": notification.payload["organization"],
        "context": notification.payload["context"],
        "created_at": notification.created_at.isoformat(),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _send_webhook(notification: Notification) -> None:
    url = settings.ARAGORA_NOTIFICATION_WEBHOOK
    if not url.startswith(("https://", "http://")):
        raise PermanentDeliveryError("ARAGORA_NOTIFICATION_WEBHOOK is not an http(s) URL.")
    body = webhook_body(notification)
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Aragora-Billing/1.0",
            "X-Aragora-Notification-Id": str(notification.pk),
            SIGNATURE_HEADER: sign_notification(body, secret=settings.ARAGORA_NOTIFICATION_WEBHOOK_SECRET),
        },
    )
    try:
        with _opener.open(request, timeout=settings.ARAGORA_NOTIFICATION_TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"The receiver answered HTTP {exc.code}.") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryError(f"The receiver could not be reached: {exc}") from exc
    if not 200 <= status < 300:
        raise DeliveryError(f"The receiver answered HTTP {status}.")
