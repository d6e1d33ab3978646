"""Named API keys: several per user, each with its public prefix, its dates, an optional expiry and revocation.

Only a key's SHA-256 and its public prefix are stored (see accounts.keys for the format).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from accounts.keys import api_key_lookup_prefix, api_key_new, hash_api_key
from accounts.managers import authorization_changed

# The name of the seed's single key: `user.generate_api_key()` and /api/auth/api-key manage this one.
DEFAULT_API_KEY_NAME = "default"
_ISSUE_ATTEMPTS = 5


# Key fields an API-key request is authorized by (cached per worker until the epoch moves); not last_used_at.
_AUTH_FIELDS = frozenset({"user", "user_id", "prefix", "key_hash", "expires_at", "revoked_at"})


class ApiKeyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        count = super().update(**kwargs)
        if count and _AUTH_FIELDS & kwargs.keys():
            authorization_changed()
        return count

    def live(self, *, now: datetime | None = None) -> ApiKeyQuerySet:
        """Keep the keys that authenticate: neither revoked nor expired."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))

    def revoke(self) -> int:
        """Revoke the keys not revoked yet; return how many."""
        return self.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())

    def retire_expired(self) -> int:
        """Mark expired keys revoked as of their expiry, so that only live keys hold a name."""
        return self.filter(revoked_at__isnull=True, expires_at__lte=timezone.now()).update(revoked_at=F("expires_at"))


class ApiKey(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False, help_text="Public lookup prefix of the key.")
    key_hash = models.CharField(max_length=64, editable=False, help_text="SHA-256 of the key (never the key).")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"
        constraints = [
            # Names identify keys among the live ones; expired keys are marked revoked before a name is reused.
            models.UniqueConstraint(
                fields=["user", "name"], condition=Q(revoked_at__isnull=True), name="apikey_user_name_live_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        adding = self._state.adding
        super().save(*args, **kwargs)
        if not adding:  # a changed key (a new one is in no worker's memory yet)
            authorization_changed()

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        deleted = super().delete(*args, **kwargs)
        authorization_changed()
        return deleted

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())

    @classmethod
    def unsaved(cls, *, name: str, expires_at: datetime | None = None, key: str | None = None) -> tuple[ApiKey, str]:
        """Return a new key row (not saved, no user yet) and its key string."""
        key = key or api_key_new()
        row = cls(name=name, prefix=api_key_lookup_prefix(key), key_hash=hash_api_key(key), expires_at=expires_at)
        return row, key

    @classmethod
    def issue(cls, *, user: Any, name: str, expires_at: datetime | None = None) -> tuple[ApiKey, str]:
        """Create a key for `user`; return it with the key string, the only time the key is visible.

        Raises IntegrityError when a live key of the user already has this name.
        """
        for _ in range(_ISSUE_ATTEMPTS):
            row, key = cls.unsaved(name=name, expires_at=expires_at)
            row.user = user
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
                return row, key
            except IntegrityError:
                if not cls.objects.filter(prefix=row.prefix).exists():
                    raise  # the name is taken; a prefix collision (1 in 62**8) is simply retried
        raise IntegrityError("Could not find a free API key prefix.")

    def to_dict(self) -> dict[str, Any]:
        """Return the key's public description (never the key or its hash)."""
        return {
            "id": str(self.id),
            "name": self.name,
            "prefix": self.prefix,
            "created_at": _iso(self.created_at),
            "last_used_at": _iso(self.last_used_at),
            "expires_at": _iso(self.expires_at),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def has_live_api_key() -> Exists:
    """Return an annotation for a User query set: does the user hold a live key (`_has_live_api_key`)."""
    return Exists(ApiKey.objects.live().filter(user=OuterRef("pk")))
