"""JWT access and refresh tokens: issue, decode, validate, rotate.

Tokens are simplejwt tokens signed with HS256 and ARAGORA_JWT_SECRET, carrying the user, organization, role
and token generation (`gen`). Revocation rules live in `accounts.revocation`.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token

from accounts import revocation
from accounts.models import IssuedRefreshToken, Role, User
from aragora_site.caches import process_cache

ACCESS = "access"
REFRESH = "refresh"
MAX_TOKEN_LENGTH = 4096


class TokenReuseError(Exception):
    """A refresh token was presented after it had already been rotated."""


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"

    def to_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_in": self.expires_in,
            "token_type": self.token_type,
        }


@dataclass(frozen=True)
class TokenPayload:
    user_id: str
    email: str
    org_id: str | None
    role: str
    jti: str
    token_type: str
    exp: int
    iat: int
    gen: int = 0

    @property
    def is_expired(self) -> bool:
        return time.time() >= self.exp

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.exp, tz=UTC)


def access_lifetime_seconds() -> int:
    return int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds())


# ---------------------------------------------------------------------------
# Issue
# ---------------------------------------------------------------------------
def _fill(token: Token, user_id: str, email: str, org_id: str | None, role: str) -> Token:
    token["user_id"] = str(user_id)
    token["email"] = email
    token["org_id"] = str(org_id) if org_id else None
    token["role"] = role
    token["gen"] = revocation.current_generation(str(user_id))
    return token


def create_access_token(user_id: str, email: str, org_id: str | None = None, role: str = Role.MEMBER) -> str:
    """Return a signed access token (lifetime ARAGORA_JWT_EXPIRY_HOURS)."""
    return str(_fill(AccessToken(), user_id, email, org_id, role))


def create_refresh_token(
    user_id: str,
    email: str,
    org_id: str | None = None,
    role: str = Role.MEMBER,
    *,
    family: uuid.UUID | None = None,
    expires_at: datetime | None = None,
) -> str:
    """Return a signed refresh token and record it so it can be rotated exactly once."""
    token = _fill(RefreshToken(), user_id, email, org_id, role)
    if expires_at is not None:  # a rotated token keeps its family's absolute expiry
        token["exp"] = int(expires_at.timestamp())
    try:
        user_pk = uuid.UUID(str(user_id))
    except ValueError:
        user_pk = None
    if user_pk is not None and User.objects.filter(pk=user_pk).exists():
        IssuedRefreshToken.objects.create(
            jti=token["jti"],
            user_id=user_pk,
            family=family or uuid.uuid4(),
            expires_at=datetime.fromtimestamp(token["exp"], tz=UTC),
        )
    return str(token)


def create_token_pair(user_id: str, email: str, org_id: str | None = None, role: str = Role.MEMBER) -> TokenPair:
    """Return a new access + refresh token pair."""
    return TokenPair(
        access_token=create_access_token(user_id, email, org_id, role),
        refresh_token=create_refresh_token(user_id, email, org_id, role),
        expires_in=access_lifetime_seconds(),
    )


def token_pair_for_user(user: User) -> TokenPair:
    return create_token_pair(str(user.id), user.email, user.org_id, user.role)


# ---------------------------------------------------------------------------
# Decode and validate
# ---------------------------------------------------------------------------
_verified: dict[tuple[str, str], TokenPayload] = {}
_VERIFIED_MAX = 50_000


@process_cache("verified token signatures")
def forget_verified_tokens() -> None:
    _verified.clear()


def _decode(token: str, token_class: type[Token]) -> TokenPayload | None:
    """Return the claims of a correctly signed, unexpired token of this class (not checking revocation).

    A signature, once verified, stays verified: the outcome is kept per process so a repeated token costs a
    dictionary lookup and an expiry comparison instead of HMAC and base64 work.
    """
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > MAX_TOKEN_LENGTH:
        return None
    cache_key = (token_class.token_type, token)
    payload = _verified.get(cache_key)
    if payload is not None:
        return None if payload.is_expired else payload
    payload = _verify(token, token_class)
    if payload is not None:
        if len(_verified) >= _VERIFIED_MAX:
            _verified.clear()
        _verified[cache_key] = payload
    return payload


def _verify(token: str, token_class: type[Token]) -> TokenPayload | None:
    try:
        claims = token_class(token).payload
        return TokenPayload(
            user_id=str(claims["user_id"]),
            email=str(claims.get("email", "")),
            org_id=claims.get("org_id"),
            role=str(claims.get("role", Role.MEMBER)),
            jti=str(claims["jti"]),
            token_type=str(claims["token_type"]),
            exp=int(claims["exp"]),
            iat=int(claims.get("iat", 0)),
            gen=int(claims.get("gen", 0)),
        )
    except (TokenError, KeyError, TypeError, ValueError):
        return None


def _is_live(payload: TokenPayload) -> bool:
    return revocation.token_is_live(
        user_id=payload.user_id, gen=payload.gen, jti=payload.jti, expires_at=payload.expires_at
    )


def decode_token_unchecked(token: str) -> TokenPayload | None:
    """Return the payload of a correctly signed, unexpired token of either type, ignoring revocation."""
    return _decode(token, AccessToken) or _decode(token, RefreshToken)


def validate_access_token(token: str) -> TokenPayload | None:
    """Return the payload of a valid, unexpired, unrevoked access token, else None."""
    payload = _decode(token, AccessToken)
    if payload is None or not _is_live(payload):
        return None
    return payload


def validate_refresh_token(token: str) -> TokenPayload | None:
    """Return the payload of a valid, unexpired, unrevoked refresh token, else None."""
    payload = _decode(token, RefreshToken)
    if payload is None or not _is_live(payload):
        return None
    return payload


# ---------------------------------------------------------------------------
# Rotate
# ---------------------------------------------------------------------------
def rotate_refresh_token(token: str) -> TokenPair | None:
    """Exchange a refresh token for a new pair, exactly once.

    Returns None for a bad, expired or revoked token. Raises TokenReuseError, after revoking every token of
    the user, when the token had already been exchanged: somebody else holds a copy of it.
    """
    outcome = _rotate(token)
    if isinstance(outcome, TokenReuseError):
        with transaction.atomic():
            revocation.revoke_all_for_user(str(outcome), reason="refresh_token_reuse")
        raise outcome
    return outcome


@transaction.atomic
def _rotate(token: str) -> TokenPair | TokenReuseError | None:
    payload = _decode(token, RefreshToken)
    if payload is None:
        return None
    record = IssuedRefreshToken.objects.filter(jti=payload.jti).first()
    if record is None:
        return None
    if record.used_at is not None:
        return TokenReuseError(payload.user_id)
    if not _is_live(payload):
        return None
    user = User.objects.filter(pk=payload.user_id, is_active=True).first()
    if user is None:
        return None
    # One conditional UPDATE decides the race: of concurrent presenters, exactly one wins.
    if IssuedRefreshToken.objects.filter(jti=payload.jti, used_at__isnull=True).update(used_at=timezone.now()) != 1:
        return TokenReuseError(payload.user_id)
    return TokenPair(
        access_token=create_access_token(str(user.id), user.email, user.org_id, user.role),
        refresh_token=create_refresh_token(
            str(user.id), user.email, user.org_id, user.role, family=record.family, expires_at=record.expires_at
        ),
        expires_in=access_lifetime_seconds(),
    )
