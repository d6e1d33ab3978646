"""Invitations: an admin invites an e-mail address, the invitee accepts through a signed link with their own
password, so no admin ever sets another person's password.

The link carries the invitation's id signed with Django's signing (SECRET_KEY, a salt of its own, a timestamp);
the row decides the rest: it expires, is single-use (a conditional UPDATE claims it) and can be revoked.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts import tokens
from accounts.models import Invitation, Organization, Role, User
from accounts.services.members import organization_locked, organization_seats_check
from aragora_site.errors import ServiceError
from aragora_site.mail import has_line_break, smtp_configured, smtp_connection

logger = logging.getLogger("aragora.accounts.invitations")

_SALT = "aragora.accounts.invitation"
ACCEPT_PATH = "/invitations/accept/"


# ---------------------------------------------------------------------------
# The signed link
# ---------------------------------------------------------------------------
def invitation_token(invitation: Invitation) -> str:
    """Return the token of the invitation's link: its id, timestamped and signed."""
    return signing.TimestampSigner(salt=_SALT).sign(invitation.id.hex)


def invitation_link(invitation: Invitation) -> str:
    """Return the accept link e-mailed to the invitee (a page of the public site)."""
    return f"{settings.ARAGORA_PUBLIC_URL}{ACCEPT_PATH}{invitation_token(invitation)}"


def invitation_id_from_token(token: str) -> uuid.UUID | None:
    """Return the invitation id a link's token names, or None for a forged, altered or too old token."""
    return _invitation_id(token)


def _invitation_id(token: str) -> uuid.UUID | None:
    max_age = timedelta(days=settings.ARAGORA_INVITATION_DAYS)
    try:
        return uuid.UUID(hex=signing.TimestampSigner(salt=_SALT).unsign(token, max_age=max_age))
    except (signing.BadSignature, ValueError):  # forged, altered, too old, or not a token at all
        return None


def _invalid() -> ServiceError:
    return ServiceError(
        "This invitation link is invalid, expired, revoked or already used; ask for a new invitation.",
        code="invalid_invitation",
    )


# ---------------------------------------------------------------------------
# Invite, revoke, accept
# ---------------------------------------------------------------------------
@transaction.atomic
def invitation_create(
    *, organization: Organization, email: str, role: str = Role.MEMBER, invited_by: User
) -> Invitation:
    """Invite `email` to the organization and e-mail the link once the transaction commits.

    An open invitation to the same address is replaced (its link stops working). Refused: a caller who is not an
    admin of the organization (403), an address that already has an account (409 email_taken), no seat left
    counting pending invitations (403 user_limit_reached), no SMTP server (503 email_not_configured).
    """
    if invited_by.organization_id != organization.pk or not invited_by.is_org_admin:
        raise ServiceError("Only organization admins may invite.", code="permission_denied", status=403)
    if role not in Role.values:
        raise ServiceError(f"role must be one of {', '.join(Role.values)}.", code="invalid_role")
    if not smtp_configured():
        raise ServiceError(
            "Invitations are sent by e-mail and no SMTP server is configured (ARAGORA_SMTP_HOST).",
            code="email_not_configured",
            status=503,
        )
    org = organization_locked(organization=organization)
    _subject(org)  # refuse now a name that cannot go in a subject, rather than fail after commit
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ServiceError("An account with this e-mail already exists.", code="email_taken", status=409)
    organization_seats_check(organization=org, excluding_email=email)
    org.invitations.open().filter(email=email).update(revoked_at=timezone.now())
    invitation = Invitation.objects.create(organization=org, email=email, role=role, invited_by=invited_by)
    transaction.on_commit(lambda: invitation_email_send(invitation_id=invitation.pk), robust=True)
    return invitation


@transaction.atomic
def invitation_revoke(*, organization: Organization, invitation_id: Any) -> None:
    """Revoke an open invitation of the organization: its link stops working. 404 for anything else."""
    revoked = organization.invitations.open().filter(pk=invitation_id).update(revoked_at=timezone.now())
    if revoked != 1:
        raise ServiceError("No such open invitation in this organization.", code="not_found", status=404)


@transaction.atomic
def invitation_accept(*, token: str, password: str, name: str = "") -> User:
    """Create the invitee's account in the organization, with the invitation's role; the link is then used up.

    Refused: a forged, altered, expired, revoked or used link (400 invalid_invitation), a weak password (400),
    no seat left at accept time (403 user_limit_reached), an address that got an account meanwhile (409).
    Of concurrent accepts of one invitation exactly one succeeds.
    """
    invitation_id = _invitation_id(token)
    invitation = Invitation.objects.filter(pk=invitation_id).first() if invitation_id else None
    if invitation is None or invitation.status != "pending":
        raise _invalid()
    validate_password(password, user=User(email=invitation.email, name=name))
    org = organization_locked(organization=invitation.organization)
    now = timezone.now()
    # The claim decides between concurrent accepts; a refusal below rolls it back with everything else.
    if Invitation.objects.pending(now=now).filter(pk=invitation.pk).update(accepted_at=now) != 1:
        raise _invalid()
    organization_seats_check(organization=org, excluding_email=invitation.email)
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise ServiceError("An account with this e-mail already exists.", code="email_taken", status=409)
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=invitation.email, password=password, name=name, organization=org, role=invitation.role
            )
    except IntegrityError as exc:
        raise ServiceError("An account with this e-mail already exists.", code="email_taken", status=409) from exc
    Invitation.objects.filter(pk=invitation.pk).update(accepted_user=user)
    return user


@transaction.atomic
def invitation_accept_with_tokens(*, token: str, password: str, name: str = "") -> tuple[User, tokens.TokenPair]:
    """Accept (see invitation_accept) and issue the first token pair, all or nothing."""
    user = invitation_accept(token=token, password=password, name=name)
    return user, tokens.token_pair_for_user(user)


# ---------------------------------------------------------------------------
# The e-mail
# ---------------------------------------------------------------------------
def _subject(organization: Organization) -> str:
    subject = f"You are invited to join {organization.name} on Aragora"
    if has_line_break(subject):
        raise ServiceError(
            "The organization's name contains a line break, which an e-mail subject cannot carry; rename it first.",
            code="unsafe_email_header",
        )
    return subject


def _message(invitation: Invitation) -> EmailMultiAlternatives:
    inviter = invitation.invited_by
    context = {
        "organization": invitation.organization,
        "inviter": (inviter.name or inviter.email) if inviter else "An administrator",
        "role": Role(invitation.role).label,
        "link": invitation_link(invitation),
        "expires_at": invitation.expires_at,
    }
    sender = settings.ARAGORA_SMTP_FROM
    if has_line_break(sender) or has_line_break(invitation.email):
        raise ValueError("Refused a line break in an e-mail address.")
    message = EmailMultiAlternatives(
        subject=_subject(invitation.organization),
        body=render_to_string("accounts/email/invitation.txt", context),
        from_email=sender,
        to=[invitation.email],
        headers={"X-Aragora-Invitation": str(invitation.pk)},
    )
    message.attach_alternative(render_to_string("accounts/email/invitation.html", context), "text/html")
    return message


def invitation_email_send(*, invitation_id: Any) -> bool:
    """Send the invitation's e-mail now; record when it was sent, or why not (the invitation stays valid).

    Returns True when the SMTP server accepted it. Inviting the same address again sends a fresh link.
    """
    invitation = Invitation.objects.select_related("organization", "invited_by").filter(pk=invitation_id).first()
    if invitation is None or invitation.status != "pending":
        return False
    try:
        if smtp_connection().send_messages([_message(invitation)]) != 1:
            raise OSError("The SMTP server did not accept the message.")
    except Exception as exc:  # delivery must never undo the invitation: record the error instead
        logger.warning("Invitation %s could not be e-mailed: %s", invitation.pk, exc)
        error = f"{type(exc).__name__}: {exc}"[:500]
        Invitation.objects.filter(pk=invitation.pk).update(email_error=error)
        return False
    Invitation.objects.filter(pk=invitation.pk).update(email_sent_at=timezone.now(), email_error="")
    return True
