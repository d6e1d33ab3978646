"""Writes for accounts and organizations: registration, login, keys, members, revocation."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import revocation, tokens
from accounts.keys import api_key_is_well_formed, api_key_lookup_prefix, hash_api_key
from accounts.models import IssuedRefreshToken, Organization, RevokedToken, Role, User, generate_slug
from accounts.throttling import login_attempt_begin, login_attempt_end, login_throttles_cleanup
from aragora_site.db import db_datetime
from aragora_site.errors import ServiceError
from billing.tiers import TIER_LIMITS, tier_in_force

API_KEY_TOUCH_INTERVAL = timedelta(minutes=5)
PASSWORD_MAX_LENGTH = 1024  # longer passwords are refused before hashing
_DUMMY_PASSWORD_HASH: str | None = None


# ---------------------------------------------------------------------------
# Registration and login
# ---------------------------------------------------------------------------
@transaction.atomic
def user_register(*, email: str, password: str, name: str = "", organization_name: str = "") -> User:
    """Create a user and a new FREE organization that the user owns and administers."""
    email = email.strip().lower()
    candidate = User(email=email, name=name)
    validate_password(password, user=candidate)
    if User.objects.filter(email__iexact=email).exists():
        raise ServiceError("An account with this e-mail already exists.", code="email_taken", status=409)
    org_name = organization_name.strip() or f"{name or email.split('@')[0]}'s organization"
    org = Organization.objects.create(name=org_name, slug=generate_slug(org_name))
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email, password=password, name=name, organization=org, role=Role.ADMIN
            )
    except IntegrityError as exc:
        raise ServiceError("An account with this e-mail already exists.", code="email_taken", status=409) from exc
    org.owner = user
    org.save(update_fields=["owner", "updated_at"])
    return user


@transaction.atomic
def user_register_with_tokens(**fields: str) -> tuple[User, tokens.TokenPair]:
    """Register (see user_register) and issue the first token pair, all or nothing: a failure leaves no account."""
    user = user_register(**fields)
    return user, tokens.token_pair_for_user(user)


def _dummy_hash() -> str:
    global _DUMMY_PASSWORD_HASH
    if _DUMMY_PASSWORD_HASH is None:
        _DUMMY_PASSWORD_HASH = make_password("not-a-real-password")
    return _DUMMY_PASSWORD_HASH


def user_login(*, email: str, password: str, ip_address: str | None) -> User:
    """Return the user for these credentials, or raise (401 for bad credentials, 429 when throttled)."""
    email = email.strip().lower()
    attempt = login_attempt_begin(email=email, ip_address=ip_address)  # LoginThrottled (429) when over a limit
    user = User.objects.filter(email=email).first()
    if user is None:
        check_password(password, _dummy_hash())  # same work as a real check: no timing oracle
    elif user.is_active and user.verify_password(password):
        login_attempt_end(attempt, succeeded=True)
        User.objects.filter(pk=user.pk).update(last_login=timezone.now())
        return user
    login_attempt_end(attempt, succeeded=False)
    raise ServiceError("Invalid e-mail or password.", code="invalid_credentials", status=401)


@transaction.atomic
def user_change_password(*, user: User, old_password: str, new_password: str) -> tokens.TokenPair:
    """Change the password, revoke every existing token, and return a fresh pair for the caller."""
    if not user.verify_password(old_password):
        raise ServiceError("The current password is wrong.", code="invalid_credentials", status=400)
    validate_password(new_password, user=user)
    user.set_password(new_password)
    user.save(update_fields=["password"])  # a new password hash ends every session (accounts.managers)
    return tokens.token_pair_for_user(user)


@transaction.atomic
def user_deactivate(*, user: User, reason: str = "deactivated") -> None:
    """Disable the account: every token and the API key stop working at once."""
    User.objects.filter(pk=user.pk).update(is_active=False)  # ends every session (accounts.managers)
    user.is_active = False
    user.revoke_api_key()


# ---------------------------------------------------------------------------
# API keys
# ---------------------------------------------------------------------------
@transaction.atomic
def api_key_rotate(*, user: User) -> str:
    """Issue a new API key for the user (replacing the old one) and return it: shown once.

    Refused (403 api_access_not_in_tier) when the organization's tier in force has no API access: such a key
    would never work.
    """
    organization = user.organization
    if organization is None or not organization.limits.api_access:
        raise ServiceError(
            "API keys need a tier with API access (Professional or Enterprise); upgrade the organization first.",
            code="api_access_not_in_tier",
            status=403,
        )
    for _ in range(5):
        try:
            with transaction.atomic():
                return user.generate_api_key()
        except IntegrityError:  # prefix collision: astronomically rare, try another key
            continue
    raise ServiceError("Could not issue a key; try again.", code="api_key_conflict", status=409)


def api_key_revoke(*, user: User) -> None:
    user.revoke_api_key()


@dataclass(frozen=True)
class ApiKeyOwner:
    """Who an API key belongs to: enough to authorize a request without loading the full user."""

    user_id: str
    email: str
    role: str
    org_id: str | None
    tier: str | None

    @property
    def api_access(self) -> bool:
        return self.tier is not None and TIER_LIMITS[self.tier].api_access


def _api_key_owner_sql() -> str:
    user, org = User._meta, Organization._meta
    return (
        f"SELECT u.id, u.email, u.role, u.organization_id, o.tier, u.api_key_hash, o.grace_until, "  # noqa: S608
        f"CASE WHEN u.api_key_last_used_at IS NULL OR u.api_key_last_used_at < %s THEN 1 ELSE 0 END "
        f"FROM {user.db_table} u LEFT JOIN {org.db_table} o ON o.id = u.organization_id "
        f"WHERE u.api_key_prefix = %s AND u.is_active LIMIT 1"
    )


def api_key_authenticate(*, key: str) -> ApiKeyOwner | None:
    """Return the owner of `key` if it is valid: one indexed lookup and a constant-time compare.

    This runs on every API-key request, so it is one hand-written SELECT rather than an ORM query, whose
    compilation alone would cost several times the lookup.
    """
    if not api_key_is_well_formed(key):
        return None
    stale_before = connection.ops.adapt_datetimefield_value(timezone.now() - API_KEY_TOUCH_INTERVAL)
    with connection.cursor() as cursor:
        cursor.execute(_api_key_owner_sql(), [stale_before, api_key_lookup_prefix(key)])
        row = cursor.fetchone()
    if row is None:
        return None
    user_id, email, role, org_id, tier, key_hash, grace_until, stale = row
    if not hmac.compare_digest(hash_api_key(key).encode(), key_hash.encode()):
        return None
    user_id = uuid.UUID(str(user_id))
    org_id = str(uuid.UUID(str(org_id))) if org_id else None
    if stale:
        _api_key_touch(user_id=user_id)
    if tier is not None:
        tier = tier_in_force(tier, db_datetime(grace_until))
    return ApiKeyOwner(str(user_id), email, role, org_id, tier)


def _api_key_touch(*, user_id: uuid.UUID) -> None:
    """Record that the key was used, at most once per interval (no write on every request)."""
    now = timezone.now()
    User.objects.filter(pk=user_id).filter(
        Q(api_key_last_used_at__isnull=True) | Q(api_key_last_used_at__lt=now - API_KEY_TOUCH_INTERVAL)
    ).update(api_key_last_used_at=now)


# ---------------------------------------------------------------------------
# Organization members
# ---------------------------------------------------------------------------
@transaction.atomic
def organization_member_add(
    *, organization: Organization, email: str, name: str = "", password: str, role: str = Role.MEMBER
) -> User:
    """Create a member account in the organization, within the tier's user limit."""
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    count = org.members.filter(is_active=True).count()
    if not org.limits.allows_users(count + 1):
        raise ServiceError(
            f"The {org.effective_tier.label} tier allows {org.limits.users} user(s); upgrade to add more members.",
            code="user_limit_reached",
            status=403,
        )
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ServiceError("An account with this e-mail already exists.", code="email_taken", status=409)
    validate_password(password, user=User(email=email, name=name))
    return User.objects.create_user(email=email, password=password, name=name, organization=org, role=role)


@transaction.atomic
def organization_member_remove(*, organization: Organization, user_id: Any, acting_user_id: Any) -> None:
    """Remove a member from the organization and end their sessions."""
    member = organization.members.filter(pk=user_id).first()
    if member is None:
        raise ServiceError("No such member in this organization.", code="not_found", status=404)
    if str(member.pk) == str(acting_user_id):
        raise ServiceError("You cannot remove yourself.", code="cannot_remove_self", status=400)
    if organization.owner_id == member.pk:
        raise ServiceError("The owner cannot be removed.", code="cannot_remove_owner", status=400)
    member.organization = None
    member.role = Role.MEMBER
    member.save(update_fields=["organization", "role"])  # ends every session (accounts.managers)
    member.revoke_api_key()


# ---------------------------------------------------------------------------
# Token revocation requested through the API
# ---------------------------------------------------------------------------
def token_revoke(*, token: str, reason: str, acting_user_id: str, acting_is_staff: bool) -> None:
    """Revoke `token` if it belongs to the caller (staff may revoke anyone's)."""
    payload = tokens.decode_token_unchecked(token)
    if payload is None:
        raise ServiceError("The token is malformed, expired or not signed by this service.", code="invalid_token")
    if payload.user_id != str(acting_user_id) and not acting_is_staff:
        raise ServiceError("You can only revoke your own tokens.", code="permission_denied", status=403)
    with transaction.atomic():
        revocation.revoke_token(
            payload.jti,
            reason=reason or "manual_revocation",
            user_id=payload.user_id,
            expires_at=payload.expires_at,
            token_type=payload.token_type,
        )


def auth_records_cleanup() -> dict[str, int]:
    """Delete revocations, refresh-token records and login failures that can no longer matter."""
    now = timezone.now()
    return {
        "revoked_tokens": RevokedToken.objects.filter(expires_at__lt=now).delete()[0],
        "refresh_tokens": IssuedRefreshToken.objects.filter(expires_at__lt=now).delete()[0],
        "login_throttles": login_throttles_cleanup(),
    }
