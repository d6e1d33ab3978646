"""Query sets and managers of accounts, and the rule that ends sessions when what a token claims changes.

An access token carries its user's role and organization, so a change of role, organization, active status
or password must end the user's sessions. `User.save()` and every `User` query-set update (admin forms and
inlines, services, the shell) go through `end_sessions`: the token generation moves on and every worker's
cached generation is dropped, so old tokens are refused at once everywhere.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.base_user import BaseUserManager
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from accounts.revocation_cache import generation_key, revocation_cache
from usage.periods import current_period_start

# The fields whose change ends every session of the user (`organization` as its column name too).
SESSION_FIELDS = frozenset({"role", "organization", "organization_id", "is_active", "password"})


def forget_generations(user_ids: list[Any]) -> None:
    """Drop the cached token generations of these users on every worker, now and after commit."""
    keys = tuple(generation_key(pk) for pk in user_ids)
    if keys:
        revocation_cache.changed(delete=keys)
        transaction.on_commit(lambda: revocation_cache.changed(delete=keys))


def authorization_changed() -> None:
    """Tell every worker to drop what it remembers of credentials (API keys, tiers), now and after commit."""
    revocation_cache.changed()
    transaction.on_commit(revocation_cache.changed)


# Organization fields an API-key request is authorized by (cached per worker until the epoch moves).
ORGANIZATION_AUTH_FIELDS = frozenset({"tier", "grace_until"})


class OrganizationQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        count = super().update(**kwargs)
        if ORGANIZATION_AUTH_FIELDS & kwargs.keys():
            authorization_changed()
        return count

    def start_period(self, start: date) -> int:
        """Start the usage period beginning on `start` for these organizations: debates used go back to zero."""
        return self.update(debates_used=0, period_start=start, updated_at=timezone.now())

    def period_rollover(self) -> int:
        """Move every organization still in an older period to the current one (one conditional UPDATE)."""
        start = current_period_start()
        return self.filter(period_start__lt=start).start_period(start)


class UserQuerySet(models.QuerySet):
    def end_sessions(self) -> int:
        """Invalidate every token of these users (their token generation moves on); return how many."""
        return self.update(token_generation=F("token_generation") + 1, tokens_revoked_at=timezone.now())

    def update(self, **kwargs: Any) -> int:
        if "token_generation" in kwargs or not SESSION_FIELDS & kwargs.keys():
            ids = list(self.values_list("pk", flat=True)) if "token_generation" in kwargs else []
            count = super().update(**kwargs)
            forget_generations(ids)
            return count
        return self.update(**kwargs, token_generation=F("token_generation") + 1, tokens_revoked_at=timezone.now())


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    use_in_migrations = True

    def get_by_natural_key(self, username: str) -> Any:
        return self.get(email__iexact=username)

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> Any:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> Any:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)
