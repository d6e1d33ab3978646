"""Writes for users: registration, login, password, deactivation, token revocation, clean-up."""

from __future__ import annotations

from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import revocation, tokens
from accounts.models import IssuedRefreshToken, Organization, RevokedToken, Role, User, generate_slug
from accounts.throttling import login_attempt_begin, login_attempt_end, login_throttles_cleanup
from aragora_site.errors import ServiceError

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
    """Disable the account: every token and every API key stop working at once."""
    User.objects.filter(pk=user.pk).update(is_active=False)  # ends every session (accounts.managers)
    user.is_active = False
    user.revoke_api_key()


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
