"""The seed's `jwt_auth` module: its public names, from the modules that implement them.

Tokens: `accounts.tokens`. Revocation: `accounts.revocation`. Requests: `accounts.compat`.
"""

from accounts.compat import AuthContext, TokenBlacklist, extract_user_from_request
from accounts.revocation import is_token_revoked, revoke_token
from accounts.tokens import (
    TokenPair,
    TokenPayload,
    create_access_token,
    create_refresh_token,
    create_token_pair,
    validate_access_token,
)

__all__ = [
    "AuthContext",
    "TokenBlacklist",
    "TokenPair",
    "TokenPayload",
    "create_access_token",
    "create_refresh_token",
    "create_token_pair",
    "extract_user_from_request",
    "is_token_revoked",
    "revoke_token",
    "validate_access_token",
]
