"""The records behind token revocation, refresh-token rotation and sign-in throttling."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class RevokedToken(models.Model):
    """A revoked JWT, keyed by its jti, kept until the token would have expired anyway."""

    jti = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.CASCADE, related_name="revoked_tokens"
    )
    token_type = models.CharField(max_length=16, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    revoked_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-revoked_at"]

    def __str__(self) -> str:
        return f"{self.jti} ({self.reason or 'revoked'})"


class IssuedRefreshToken(models.Model):
    """Every refresh token issued; `used_at` makes rotation single-use and exposes reuse."""

    jti = models.CharField(max_length=64, primary_key=True)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="refresh_tokens")
    family = models.UUIDField(default=uuid.uuid4, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.jti


class LoginThrottle(models.Model):
    """Failed sign-ins in the current window, for one (account, address) pair, one account or one address."""

    class Scope(models.TextChoices):
        PAIR = "pair", "Account and address"
        ACCOUNT = "account", "Account"
        ADDRESS = "address", "Address"

    scope = models.CharField(max_length=8, choices=Scope.choices)
    key = models.CharField(max_length=320, help_text="The e-mail, the address, or both as e-mail|address.")
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(db_index=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="login_throttle_scope_key_unique")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}: {self.failures}"
