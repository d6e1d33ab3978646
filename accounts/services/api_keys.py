"""Writes for API keys (create, rotate the default key, revoke) and the check of a key on every request."""

from __future__ import annotations

import dataclasses
import hmac
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.keys import api_key_is_well_formed, api_key_lookup_prefix, hash_api_key
from accounts.models import DEFAULT_API_KEY_NAME, ApiKey, Organization, User
from accounts.revocation_cache import revocation_cache
from aragora_site.caches import process_cache
from aragora_site.db import db_datetime
from aragora_site.errors import ServiceError
from billing.tiers import TIER_LIMITS, tier_in_force

API_KEY_TOUCH_INTERVAL = timedelta(minutes=5)
API_KEYS_PER_USER = 20  # live keys; enough for one per environment and tool, few enough to review
API_KEY_NAME_MAX_LENGTH = 100
API_KEY_MAX_LIFETIME = timedelta(days=366)


# ---------------------------------------------------------------------------
# Create, rotate, revoke
# ---------------------------------------------------------------------------
@transaction.atomic
def api_key_create(*, user: User, name: str, expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    """Issue a named key for the user; return the row and the key string, which is never shown again.

    Refused with 403 api_access_not_in_tier when the organization's tier in force has no API access (such a key
    would never work), 409 key_name_taken when a live key has the name, 409 too_many_keys at the per-user cap.
    """
    return _issue(user=user, name=_clean_name(name), expires_at=_checked_expiry(expires_at), replace=False)


@transaction.atomic
def api_key_rotate(*, user: User) -> str:
    """Issue a new "default" key, revoking the previous "default" one, and return it: shown once.

    The key of the seed's single-key API (/api/auth/api-key); the user's other named keys are left alone.
    """
    return _issue(user=user, name=DEFAULT_API_KEY_NAME, expires_at=None, replace=True)[1]


@transaction.atomic
def api_key_revoke(*, user: User, key_id: Any = None) -> None:
    """Revoke one of the user's keys, or without `key_id` the "default" key; it stops working at once.

    A key id that is not one of the user's unrevoked keys (another user's, another organization's, already
    revoked) is 404 not_found.
    """
    keys = user.api_keys.filter(revoked_at__isnull=True)
    if key_id is None:
        keys.filter(name=DEFAULT_API_KEY_NAME).revoke()
    elif keys.filter(pk=key_id).revoke() != 1:
        raise ServiceError("No such API key.", code="not_found", status=404)


def api_keys_revoke(*, keys: QuerySet[ApiKey]) -> int:
    """Revoke these keys (staff's bulk action); return how many were still unrevoked."""
    return keys.revoke()


def _issue(*, user: User, name: str, expires_at: datetime | None, replace: bool) -> tuple[ApiKey, str]:
    _require_api_access(user)
    # One issuer per user at a time, so that the cap and the name check hold under concurrent requests.
    list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
    keys = user.api_keys
    keys.retire_expired()
    if replace:
        keys.filter(name=name).revoke()
    elif keys.filter(name=name, revoked_at__isnull=True).exists():
        raise _name_taken()
    if keys.filter(revoked_at__isnull=True).count() >= API_KEYS_PER_USER:
        raise ServiceError(
            f"A user can hold at most {API_KEYS_PER_USER} live API keys; revoke one first.",
            code="too_many_keys",
            status=409,
        )
    try:
        return ApiKey.issue(user=user, name=name, expires_at=expires_at)
    except IntegrityError as exc:  # the name was taken by a write outside this service (the seed's method)
        raise _name_taken() from exc


def _require_api_access(user: User) -> None:
    organization = user.organization
    if organization is None or not organization.limits.api_access:
        raise ServiceError(
            "API keys need a tier with API access (Professional or Enterprise); upgrade the organization first.",
            code="api_access_not_in_tier",
            status=403,
        )


def _name_taken() -> ServiceError:
    return ServiceError("One of your live API keys already has this name.", code="key_name_taken", status=409)


def _clean_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= API_KEY_NAME_MAX_LENGTH or not name.isprintable():
        raise ServiceError(
            f"A key's name is 1 to {API_KEY_NAME_MAX_LENGTH} printable characters.",
            code="invalid_key_name",
            status=400,
        )
    return name


def _checked_expiry(expires_at: datetime | None) -> datetime | None:
    if expires_at is None:
        return None
    now = timezone.now()
    if timezone.is_naive(expires_at) or not now < expires_at <= now + API_KEY_MAX_LIFETIME:
        raise ServiceError(
            f"expires_at must be a time with its zone, in the future and at most {API_KEY_MAX_LIFETIME.days} days "
            "away.",
            code="invalid_expiry",
            status=400,
        )
    return expires_at


# ---------------------------------------------------------------------------
# Authentication (every API-key request)
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ApiKeyOwner:
    """Who an API key belongs to: enough to authorize a request without loading the full user."""

    user_id: str
    email: str
    role: str
    org_id: str | None
    tier: str | None
    key_id: str  # which key sent the request (usage records it)

    @property
    def api_access(self) -> bool:
        return self.tier is not None and TIER_LIMITS[self.tier].api_access


def _api_key_owner_sql() -> str:
    key, user, org = ApiKey._meta, User._meta, Organization._meta
    return (
        f"SELECT k.id, k.key_hash, k.expires_at, u.id, u.email, u.role, u.organization_id, o.tier, "  # noqa: S608
        f"o.grace_until FROM {key.db_table} k JOIN {user.db_table} u ON u.id = k.user_id "
        f"LEFT JOIN {org.db_table} o ON o.id = u.organization_id "
        f"WHERE k.prefix = %s AND k.revoked_at IS NULL AND u.is_active LIMIT 1"
    )


@dataclass(frozen=True)
class _KeyGrant:
    """What a live key grants, as the database said when this worker last looked."""

    owner: ApiKeyOwner  # with the stored tier; the tier in force is computed at each use
    expires_at: datetime | None
    grace_until: datetime | None


def _grant_from_db(key: str, digest: str) -> _KeyGrant | None:
    with connection.cursor() as cursor:
        cursor.execute(_api_key_owner_sql(), [api_key_lookup_prefix(key)])
        row = cursor.fetchone()
    if row is None:
        return None
    key_id, key_hash, expires_at, user_id, email, role, org_id, tier, grace_until = row
    if not hmac.compare_digest(digest.encode(), key_hash.encode()):
        return None
    owner = ApiKeyOwner(
        str(uuid.UUID(str(user_id))),
        email,
        role,
        str(uuid.UUID(str(org_id))) if org_id else None,
        tier,
        str(uuid.UUID(str(key_id))),
    )
    return _KeyGrant(owner, db_datetime(expires_at), db_datetime(grace_until))


# When each key was last marked used by this worker, so that it writes at most once per interval and key.
_touched: dict[str, float] = {}


@process_cache("API keys marked used")
def forget_touches() -> None:
    _touched.clear()


def api_key_authenticate(*, key: str) -> ApiKeyOwner | None:
    """Return the owner of `key` if it is live; a warm key costs no database query.

    A worker remembers what each key grants (keyed by the key's SHA-256, never the key) until the revocation
    epoch moves: every change that matters announces itself (a key created, replaced or revoked; a user
    deactivated, moved or given another role; an organization's tier or grace period changed), see
    accounts.managers. Expiry and the end of a grace period are checked at each use. The first lookup of a key
    is one indexed SELECT and a constant-time compare of the hash.
    """
    if not api_key_is_well_formed(key):
        return None
    digest = hash_api_key(key)
    grant = revocation_cache.local(f"auth:apikey:{digest}", lambda: _grant_from_db(key, digest))
    if grant is None:
        return None
    now = timezone.now()
    if grant.expires_at is not None and grant.expires_at <= now:
        return None
    owner = grant.owner
    if time.monotonic() - _touched.get(owner.key_id, float("-inf")) >= API_KEY_TOUCH_INTERVAL.total_seconds():
        _touched[owner.key_id] = time.monotonic()
        _api_key_touch(key_id=uuid.UUID(owner.key_id))
    if owner.tier is None or grant.grace_until is None:
        return owner
    tier = tier_in_force(owner.tier, grant.grace_until, now=now)
    return owner if tier == owner.tier else dataclasses.replace(owner, tier=tier)


def _api_key_touch(*, key_id: uuid.UUID) -> None:
    """Record that the key was used, at most once per interval (no write on every request)."""
    now = timezone.now()
    ApiKey.objects.filter(pk=key_id).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - API_KEY_TOUCH_INTERVAL)
    ).update(last_used_at=now)
