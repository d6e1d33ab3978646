"""The seed's request-level API: `AuthContext`, `extract_user_from_request` and the `TokenBlacklist` facade.

The service itself calls `accounts.revocation` and `accounts.authentication`; these names exist for code
written against the seed's `jwt_auth` module (re-exported from `accounts.jwt_auth`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accounts import revocation, services, tokens
from accounts.authentication import extract_api_key, extract_bearer_token
from accounts.models import Role


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
    api_key_id: str | None = None  # the API key that sent the request

    @property
    def is_admin(self) -> bool:
        return self.authenticated and self.role == Role.ADMIN


def extract_user_from_request(request: Any) -> AuthContext:
    """Return who sent `request`, from an API key or a Bearer access token."""
    api_key = extract_api_key(request)
    if api_key:
        owner = services.api_key_authenticate(key=api_key)
        if owner is None:
            return AuthContext(error="invalid_api_key")
        return AuthContext(
            authenticated=True,
            user_id=owner.user_id,
            email=owner.email,
            org_id=owner.org_id,
            role=owner.role,
            token_type="api_key",
            api_key_id=owner.key_id,
        )
    token = extract_bearer_token(request)
    if not token:
        return AuthContext(error="missing_credentials")
    payload = tokens.validate_access_token(token)
    if payload is None:
        return AuthContext(error="invalid_token")
    return AuthContext(
        authenticated=True,
        user_id=payload.user_id,
        email=payload.email,
        org_id=payload.org_id,
        role=payload.role,
        token_type=tokens.ACCESS,
        jti=payload.jti,
    )


class TokenBlacklist:
    """The seed's revocation list object; every method delegates to `accounts.revocation`."""

    _instance: TokenBlacklist | None = None

    @classmethod
    def get_instance(cls) -> TokenBlacklist:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def revoke(self, token_jti: str, **kwargs: Any) -> None:
        revocation.revoke_token(token_jti, **kwargs)

    def is_revoked(self, token_jti: str, expires_at: datetime | None = None) -> bool:
        return revocation.is_token_revoked(token_jti, expires_at)

    def revoke_all_for_user(self, user_id: str, reason: str = "") -> int:
        return revocation.revoke_all_for_user(user_id, reason)

    def cleanup(self) -> dict[str, int]:
        return services.auth_records_cleanup()
