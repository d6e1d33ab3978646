"""JWT access/refresh tokens, revocation and request authentication (the seed's `jwt_auth` API).

Tokens are simplejwt tokens signed with HS256 and ARAGORA_JWT_SECRET. Revocation has two parts, both stored
in the database and fronted by the shared cache so that a warm request costs no query:

* single tokens, keyed by their `jti` (`RevokedToken`);
* "revoke all" for a user, a generation counter on the user that every token carries in its `gen` claim.
"""

from __future__ import annotations

import hmac
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token

from accounts.models import IssuedRefreshToken, LoginFailure, RevokedToken, Role, User
from accounts.revocation_cache import revocation_cache

ACCESS = "access"
REFRESH = "refresh"
_JTI_KEY = "auth:jti:{}"
_GEN_KEY = "auth:gen:{}"
_MAX_CACHE_SECONDS = 7 * 24 * 3600


class TokenReuseError(Exception):
    """A refresh token was presented after it had already been rotated."""


# ---------------------------------------------------------------------------
# Data shapes of the seed's API
# ---------------------------------------------------------------------------
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


@dataclass
class AuthContext:
    authenticated: bool = False
    user_id: str | None = None
    email: str | None = None
    org_id: str | None = None
    role: str | None = None
    token_type: str | None = None  # "access" or "api_key"
    jti: str | None = None
    error: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.authenticated and self.role == Role.ADMIN


# ---------------------------------------------------------------------------
# Revocation
# ---------------------------------------------------------------------------
def _cache_seconds(expires_at: datetime | None) -> int:
    if expires_at is None:
        return _MAX_CACHE_SECONDS
    remaining = int((expires_at - timezone.now()).total_seconds()) + 1
    return max(1, min(remaining, _MAX_CACHE_SECONDS))


def forget_user(user_id: str) -> None:
    """Drop every cached generation of a user (after revoke-all, deactivation or deletion)."""
    revocation_cache.changed(delete=(_GEN_KEY.format(user_id),))


def _current_generation(user_id: str, *, synced: bool = False) -> int:
    return revocation_cache.get(
        _GEN_KEY.format(user_id), lambda: _generation_from_db(user_id), _MAX_CACHE_SECONDS, synced=synced
    )


def _generation_from_db(user_id: str) -> int:
    try:
        row = User.objects.filter(pk=uuid.UUID(str(user_id))).values_list("token_generation", "is_active").first()
    except ValueError:
        return -1
    if row is None:  # unknown or deleted users: -1, which no token of a real user carries
        return -1
    gen, is_active = row
    return gen if is_active else -1


class TokenBlacklist:
    """Revocation list shared by every worker: rows in the database, answers from the shared cache."""

    _instance: TokenBlacklist | None = None

    @classmethod
    def get_instance(cls) -> TokenBlacklist:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def revoke(
        self,
        token_jti: str,
        *,
        reason: str = "",
        user_id: str | None = None,
        expires_at: datetime | None = None,
        token_type: str = "",
    ) -> None:
        """Revoke the token with this jti until `expires_at` (default: the longest token lifetime)."""
        expires_at = expires_at or timezone.now() + _longest_lifetime()
        user_pk = _as_uuid(user_id)
        if user_pk is not None and not User.objects.filter(pk=user_pk).exists():
            user_pk = None
        RevokedToken.objects.get_or_create(
            jti=token_jti,
            defaults={
                "user_id": user_pk,
                "reason": reason[:200],
                "expires_at": expires_at,
                "token_type": token_type,
            },
        )
        # Invalidate now (this connection sees the row) and again after commit (everyone sees it).
        key = _JTI_KEY.format(token_jti)
        revocation_cache.changed(delete=(key,))
        transaction.on_commit(lambda: revocation_cache.changed(set_values={key: (True, _cache_seconds(expires_at))}))

    def is_revoked(self, token_jti: str, expires_at: datetime | None = None, *, synced: bool = False) -> bool:
        """Return True when the token with this jti has been revoked (`expires_at` bounds cache lifetime)."""
        return revocation_cache.get(
            _JTI_KEY.format(token_jti),
            lambda: RevokedToken.objects.filter(jti=token_jti).exists(),
            lambda: _cache_seconds(expires_at),
            synced=synced,
        )

    def revoke_all_for_user(self, user_id: str, reason: str = "") -> int:
        """Invalidate every token issued to the user before now; return the new token generation."""
        user_pk = _as_uuid(user_id)
        if user_pk is None:
            return 0
        now = timezone.now()
        User.objects.filter(pk=user_pk).update(token_generation=F("token_generation") + 1, tokens_revoked_at=now)
        forget_user(str(user_pk))
        transaction.on_commit(lambda: forget_user(str(user_pk)))
        return _generation_from_db(str(user_pk))

    def cleanup(self) -> dict[str, int]:
        """Delete revocations, refresh records and login failures that can no longer matter."""
        now = timezone.now()
        window = timedelta(minutes=settings.ARAGORA_LOGIN_WINDOW_MINUTES)
        return {
            "revoked_tokens": RevokedToken.objects.filter(expires_at__lt=now).delete()[0],
            "refresh_tokens": IssuedRefreshToken.objects.filter(expires_at__lt=now).delete()[0],
            "login_failures": LoginFailure.objects.filter(created_at__lt=now - window).delete()[0],
        }


def _as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def _longest_lifetime() -> timedelta:
    return max(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"], settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"])


def revoke_token(token_jti: str, reason: str = "", **kwargs: Any) -> None:
    """Revoke one token by its jti."""
    TokenBlacklist.get_instance().revoke(token_jti, reason=reason, **kwargs)


def is_token_revoked(token_jti: str) -> bool:
    """Return True when the token with this jti has been revoked."""
    return TokenBlacklist.get_instance().is_revoked(token_jti)


# ---------------------------------------------------------------------------
# Creation
# ---------------------------------------------------------------------------
def _fill(token: Token, user_id: str, email: str, org_id: str | None, role: str) -> Token:
    token["user_id"] = str(user_id)
    token["email"] = email
    token["org_id"] = str(org_id) if org_id else None
    token["role"] = role
    token["gen"] = _current_generation(str(user_id))
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
    user_pk = _as_uuid(user_id)
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
        expires_in=int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()),
    )


def token_pair_for_user(user: User) -> TokenPair:
    return create_token_pair(str(user.id), user.email, user.org_id, user.role)


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------
_verified: dict[tuple[str, str], TokenPayload] = {}
_VERIFIED_MAX = 50_000


def _decode(token: str, token_class: type[Token]) -> TokenPayload | None:
    """Return the claims of a correctly signed, unexpired token of this class (not checking revocation).

    A signature, once verified, stays verified: the outcome is kept per process so a repeated token costs a
    dictionary lookup and an expiry comparison instead of HMAC and base64 work.
    """
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 4096:
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
        payload = TokenPayload(
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
    return payload


def _is_live(payload: TokenPayload) -> bool:
    revocation_cache.sync()
    if payload.gen != _current_generation(payload.user_id, synced=True):
        return False
    return not TokenBlacklist.get_instance().is_revoked(payload.jti, payload.expires_at, synced=True)


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


def rotate_refresh_token(token: str) -> TokenPair | None:
    """Exchange a refresh token for a new pair, exactly once.

    Returns None for a bad, expired or revoked token. Raises TokenReuseError, after revoking every token of
    the user, when the token had already been exchanged: somebody else holds a copy of it.
    """
    outcome = _rotate(token)
    if isinstance(outcome, TokenReuseError):
        with transaction.atomic():
            TokenBlacklist.get_instance().revoke_all_for_user(str(outcome), reason="refresh_token_reuse")
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
        expires_in=int(settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()),
    )


# ---------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------
def _header(request: Any, name: str) -> str:
    """Return a request header: from WSGI `META` when there is one (cheaper than building `headers`)."""
    meta = getattr(request, "META", None)
    if meta is not None:
        return meta.get("HTTP_" + name.upper().replace("-", "_"), "")
    headers = getattr(request, "headers", None) or {}
    return headers.get(name) or headers.get(name.lower()) or ""


def _bearer(request: Any) -> str | None:
    scheme, _, credentials = _header(request, "Authorization").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def extract_api_key(request: Any) -> str | None:
    """Return the API key sent in `X-API-Key` or as a Bearer credential (never from the query string)."""
    key = _header(request, "X-API-Key")
    if key:
        return key.strip()
    bearer = _bearer(request)
    if bearer and bearer.startswith("ara_"):
        return bearer
    return None


def extract_user_from_request(request: Any) -> AuthContext:
    """Return who sent `request`, from an API key or a Bearer access token."""
    from accounts.services import api_key_authenticate  # local: services import this module

    api_key = extract_api_key(request)
    if api_key:
        owner = api_key_authenticate(key=api_key)
        if owner is None:
            return AuthContext(error="invalid_api_key")
        return AuthContext(
            authenticated=True,
            user_id=owner.user_id,
            email=owner.email,
            org_id=owner.org_id,
            role=owner.role,
            token_type="api_key",
        )
    token = _bearer(request)
    if not token:
        return AuthContext(error="missing_credentials")
    payload = validate_access_token(token)
    if payload is None:
        return AuthContext(error="invalid_token")
    return AuthContext(
        authenticated=True,
        user_id=payload.user_id,
        email=payload.email,
        org_id=payload.org_id,
        role=payload.role,
        token_type=ACCESS,
        jti=payload.jti,
    )


def secrets_equal(a: str, b: str) -> bool:
    """Compare two secrets in constant time."""
    return hmac.compare_digest(a.encode(), b.encode())
