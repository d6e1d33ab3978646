"""What every customer page shows around its content: the organization, its grace period, unread alerts."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from usage.selectors import budget_alerts_unacknowledged_count


def app_shell(request: HttpRequest) -> dict[str, Any]:
    """Return `shell` for signed-in customers' pages (nothing for the admin, the API or visitors)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or request.path.startswith(("/admin/", "/api/")):
        return {}
    organization = user.organization
    if organization is None:
        return {"shell": {"organization": None}}
    grace = None
    if organization.grace_until is not None:
        grace = {"until": organization.grace_until, "lapsed": organization.grace_until <= timezone.now()}
    return {
        "shell": {
            "organization": organization,
            "grace": grace,
            "unacknowledged_alerts": budget_alerts_unacknowledged_count(organization=organization),
        }
    }
