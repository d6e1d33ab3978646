"""The models of accounts, by topic: organizations and users, API keys, invitations, session records."""

from accounts.managers import UserManager
from accounts.models.api_keys import DEFAULT_API_KEY_NAME, ApiKey, has_live_api_key
from accounts.models.invitations import Invitation
from accounts.models.records import IssuedRefreshToken, LoginThrottle, RevokedToken
from accounts.models.users import Organization, Role, User, generate_slug

__all__ = [
    "DEFAULT_API_KEY_NAME",
    "ApiKey",
    "Invitation",
    "IssuedRefreshToken",
    "LoginThrottle",
    "Organization",
    "RevokedToken",
    "Role",
    "User",
    "UserManager",
    "generate_slug",
    "has_live_api_key",
]
