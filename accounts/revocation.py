"""Token revocation: single tokens by `jti`, and "revoke all" through a per-user token generation.

Both are stored in the database and answered through `revocation_cache`, so that a warm request costs no query:

* a revoked token is a `RevokedToken` row keyed by its jti, kept until the token would have expired;
* "revoke all" bumps `User.token_generation`; every token carries the generation it was issued in (`gen`).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import RevokedToken, User
from accounts.revocation_cache import generation_key, revocation_cache

_JTI_KEY = "auth:jti:{}"
_MAX_CACHE_SECONDS = 7 * 24 * 3600
NO_GENERATION = -1  # the generation of unknown, deleted and inactive users: no real token carries it


def _as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def _cache_seconds(expires_at: datetime | None) -> int:
    if expires_at is None:
        return _MAX_CACHE_SECONDS
    remaining = int((expires_at - timezone.now()).total_seconds()) + 1
    return max(1, min(remaining, _MAX_CACHE_SECONDS))


def longest_token_lifetime() -> timedelta:
    return max(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"], settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"])


def _generation_from_db(user_id: str) -> int:
    pk = _as_uuid(user_id)
    if pk is None:
        return NO_GENERATION
    row = User.objects.filter(pk=pk).values_list("token_generation", "is_active").first()
    if row is None:
        return NO_GENERATION
    gen, is_active = row
    return gen if is_active else NO_GENERATION


def current_generation(user_id: str, *, synced: bool = False) -> int:
    """Return the user's token generation (NO_GENERATION for unknown or inactive users)."""
    return revocation_cache.get(
        generation_key(user_id), lambda: _generation_from_db(user_id), _MAX_CACHE_SECONDS, synced=synced
    )


def forget_user(user_id: str) -> None:
    """Drop every cached generation of a user (after revoke-all, deactivation or deletion)."""
    revocation_cache.changed(delete=(generation_key(user_id),))


def revoke_token(
    token_jti: str,
    reason: str = "",
    *,
    user_id: str | None = None,
    expires_at: datetime | None = None,
    token_type: str = "",
) -> None:
    """Revoke the token with this jti until `expires_at` (default: the longest token lifetime)."""
    expires_at = expires_at or timezone.now() + longest_token_lifetime()
    user_pk = _as_uuid(user_id)
    if user_pk is not None and not User.objects.filter(pk=user_pk).exists():
        user_pk = None
    RevokedToken.objects.get_or_create(
        jti=token_jti,
        defaults={"user_id": user_pk, "reason": reason[:200], "expires_at": expires_at, "token_type": token_type},
    )
    # Invalidate now (this connection sees the row) and again after commit (everyone sees it).
    key = _JTI_KEY.format(token_jti)
    revocation_cache.changed(delete=(key,))
    transaction.on_commit(lambda: revocation_cache.changed(set_values={key: (True, _cache_seconds(expires_at))}))


def is_token_revoked(token_jti: str, expires_at: datetime | None = None, *, synced: bool = False) -> bool:
    """Return True when the token with this jti has been revoked (`expires_at` bounds the cache lifetime)."""
    return revocation_cache.get(
        _JTI_KEY.format(token_jti),
        lambda: RevokedToken.objects.filter(jti=token_jti).exists(),
        lambda: _cache_seconds(expires_at),
        synced=synced,
    )


def revoke_all_for_user(user_id: str, reason: str = "") -> int:
    """Invalidate every token issued to the user before now; return the new token generation."""
    user_pk = _as_uuid(user_id)
    if user_pk is None:
        return 0
    User.objects.filter(pk=user_pk).end_sessions()
    return _generation_from_db(str(user_pk))


def token_is_live(*, user_id: str, gen: int, jti: str, expires_at: datetime) -> bool:
    """Return True unless the token was revoked, alone or with all its user's tokens (one epoch read)."""
    revocation_cache.sync()
    if gen != current_generation(user_id, synced=True):
        return False
    return not is_token_revoked(jti, expires_at, synced=True)
