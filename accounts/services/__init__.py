"""Writes for accounts and organizations, by topic; every public service is importable from here too.

users.py (register, login, password, deactivate, token revocation, clean-up), api_keys.py (create, rotate, revoke,
authenticate), members.py (add, remove, change role, seats), invitations.py (invite, revoke, accept, the e-mail).
"""

from accounts.services.api_keys import (
    API_KEY_TOUCH_INTERVAL,
    API_KEYS_PER_USER,
    ApiKeyOwner,
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
    api_key_rotate,
    api_keys_revoke,
)
from accounts.services.invitations import (
    invitation_accept,
    invitation_accept_with_tokens,
    invitation_create,
    invitation_email_send,
    invitation_link,
    invitation_revoke,
)
from accounts.services.members import (
    organization_member_add,
    organization_member_remove,
    organization_member_role_change,
    organization_seats_check,
)
from accounts.services.users import (
    PASSWORD_MAX_LENGTH,
    auth_records_cleanup,
    token_revoke,
    user_change_password,
    user_deactivate,
    user_login,
    user_register,
    user_register_with_tokens,
)

__all__ = [
    "API_KEYS_PER_USER",
    "API_KEY_TOUCH_INTERVAL",
    "PASSWORD_MAX_LENGTH",
    "ApiKeyOwner",
    "api_key_authenticate",
    "api_key_create",
    "api_key_revoke",
    "api_key_rotate",
    "api_keys_revoke",
    "auth_records_cleanup",
    "invitation_accept",
    "invitation_accept_with_tokens",
    "invitation_create",
    "invitation_email_send",
    "invitation_link",
    "invitation_revoke",
    "organization_member_add",
    "organization_member_remove",
    "organization_member_role_change",
    "organization_seats_check",
    "token_revoke",
    "user_change_password",
    "user_deactivate",
    "user_login",
    "user_register",
    "user_register_with_tokens",
]
