"""Who is calling: DRF authentication by Bearer JWT access token or API key, and the headers that carry them."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts import services, tokens
from accounts.keys import API_KEY_PREFIX
from accounts.models import Role, User
from aragora_site.http import bearer_credentials, header


def extract_api_key(request: Any) -> str | None:
    """Return the API key sent in `X-API-Key` or as a Bearer credential (never from the query string)."""
    key = header(request, "X-API-Key")
    if key:
        return key.strip()
    bearer = bearer_credentials(request)
    if bearer and bearer.startswith(API_KEY_PREFIX):
        return bearer
    return None


def extract_bearer_token(request: Any) -> str | None:
    """Return the Bearer credential when it is not an API key (it should then be an access token)."""
    token = bearer_credentials(request)
    return None if token is None or token.startswith(API_KEY_PREFIX) else token


class Principal:
    """The caller of an authenticated request, built from the credentials alone (no full user load).

    `.db_user` loads the full user when a view needs it. `api_key_id` names the API key that sent the request
    (None for an access token), so that usage can be attributed to the key.
    """

    is_authenticated = True
    is_anonymous = False

    def __init__(
        self,
        *,
        user_id: str,
        email: str,
        org_id: str | None,
        role: str,
        auth_method: str,
        api_key_id: str | None = None,
    ) -> None:
        self.id = self.pk = user_id
        self.email = email
        self.org_id = org_id
        self.role = role
        self.auth_method = auth_method
        self.api_key_id = api_key_id

    def __str__(self) -> str:
        return self.email

    @property
    def is_org_admin(self) -> bool:
        return self.role == Role.ADMIN

    @cached_property
    def db_user(self) -> User:
        user = User.objects.select_related("organization").filter(pk=self.id, is_active=True).first()
        if user is None:
            raise exceptions.AuthenticationFailed("This account no longer exists.", code="invalid_token")
        return user

    @property
    def is_staff(self) -> bool:
        return self.db_user.is_staff


class JWTAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <access token>`."""

    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[Principal, tokens.TokenPayload] | None:
        token = extract_bearer_token(request)
        if token is None:
            return None
        payload = tokens.validate_access_token(token)
        if payload is None or payload.gen < 0:  # gen < 0: minted for no real, active user
            raise exceptions.AuthenticationFailed(
                "The access token is invalid, expired or revoked.", code="invalid_token"
            )
        principal = Principal(
            user_id=payload.user_id, email=payload.email, org_id=payload.org_id, role=payload.role, auth_method="access"
        )
        return principal, payload

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'


class APIKeyAuthentication(authentication.BaseAuthentication):
    """`X-API-Key: ara_...` or `Authorization: Bearer ara_...`; only for tiers with API access."""

    def authenticate(self, request: Any) -> tuple[Principal, None] | None:
        key = extract_api_key(request)
        if key is None:
            return None
        owner = services.api_key_authenticate(key=key)
        if owner is None:
            raise exceptions.AuthenticationFailed("The API key is invalid or has been revoked.", code="invalid_api_key")
        if not owner.api_access:
            raise exceptions.PermissionDenied(
                "API keys need a tier with API access (Professional or Enterprise); upgrade the organization "
                "or use a Bearer access token.",
                code="api_access_not_in_tier",
            )
        principal = Principal(
            user_id=owner.user_id,
            email=owner.email,
            org_id=owner.org_id,
            role=owner.role,
            auth_method="api_key",
            api_key_id=owner.key_id,
        )
        return principal, None

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'


class JWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.JWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.APIKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict:
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}
