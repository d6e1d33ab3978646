"""Invitations to join an organization: sent by e-mail with a signed link, accepted once, expiring."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models.users import Role


def invitation_expiry(created_at: datetime) -> datetime:
    """Return when an invitation made at `created_at` expires (ARAGORA_INVITATION_DAYS later)."""
    return created_at + timedelta(days=settings.ARAGORA_INVITATION_DAYS)


class InvitationQuerySet(models.QuerySet):
    def open(self) -> InvitationQuerySet:
        """Keep invitations neither accepted nor revoked (expired ones included)."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True)

    def pending(self, *, now: datetime | None = None) -> InvitationQuerySet:
        """Keep invitations that can still be accepted: open and not expired. Each holds a seat."""
        return self.open().filter(expires_at__gt=now or timezone.now())


class Invitation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    invited_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="invitations_sent"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(blank=True, help_text="ARAGORA_INVITATION_DAYS after creation by default.")
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The account created by accepting.",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    email_sent_at = models.DateTimeField(null=True, blank=True, help_text="When the SMTP server took the e-mail.")
    email_error = models.CharField(max_length=500, blank=True, default="")

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One open invitation per address and organization: inviting again replaces it.
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_open_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.organization_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = (self.email or "").strip().lower()
        if self.expires_at is None:
            self.expires_at = invitation_expiry(self.created_at)
        super().save(*args, **kwargs)

    @property
    def status(self) -> str:
        """Return "accepted", "revoked", "expired" or "pending"."""
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= timezone.now() else "pending"
