"""Invitations: an admin invites by e-mail (a real SMTP server on loopback receives it), the link in the mail
creates the account with the invitee's own password, once; seats, expiry, revocation, isolation, bad input."""

import re
import threading
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.core import signing
from django.db import connection

from accounts import services
from accounts.models import Invitation, Organization, User
from accounts.services.invitations import invitation_token
from aragora_site.errors import ServiceError
from billing.tiers import SubscriptionTier
from tests.conftest import client_for
from tests.factories import OrganizationFactory, UserFactory

STRONG = "a-long-and-unusual-passphrase-42"
URL = "/api/org/invitations"
ACCEPT = "/api/org/invitations/accept"
LINK = re.compile(r"(http://testserver\.example/invitations/accept/)(\S+)")


@pytest.fixture(autouse=True)
def _public_url(settings):
    settings.ARAGORA_PUBLIC_URL = "http://testserver.example"


def _invite(client, email="new@example.com", **extra):
    return client.post(URL, {"email": email, **extra}, format="json")


def _parts(message):
    text, html = (part.get_payload(decode=True).decode() for part in message.get_payload())
    return text, html


def _token(message):
    text, html = _parts(message)
    match = LINK.search(text)
    assert match and match.group(0) in html
    return match.group(2)


def _accept(token, password=STRONG, **extra):
    return client_for().post(ACCEPT, {"token": token, "password": password, **extra}, format="json")


def _invited(admin, email="x@example.com"):
    """Invite through the service (no e-mail is read) and return the invitation."""
    return services.invitation_create(organization=admin.organization, email=email, invited_by=admin)


def _invitation(client=None, smtp=None, **kwargs) -> str:
    """Invite through the API and return the token read from the e-mail that arrived."""
    assert _invite(client, **kwargs).status_code == 201
    return _token(smtp.messages[-1])


# ---------------------------------------------------------------------------
# The whole path, through a real SMTP server
# ---------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_link_in_the_invitation_email_creates_the_account_once(smtp_server, org, org_admin):
    res = _invite(client_for(org_admin), "New.Person@Example.com")
    assert res.status_code == 201
    body = res.json()
    assert body["email"] == "new.person@example.com" and body["role"] == "member" and body["status"] == "pending"
    assert body["invited_by"]["id"] == str(org_admin.pk) and body["email_sent_at"] and body["email_error"] == ""
    assert "token" not in body

    (message,) = smtp_server.messages
    assert message["To"] == "new.person@example.com" and message["From"] == "billing@aragora.ai"
    assert message["Subject"] == f"You are invited to join {org.name} on Aragora"
    text, html = _parts(message)
    assert org_admin.name in text and org.name in html
    token = _token(message)
    assert token not in res.content.decode()

    accepted = _accept(token, name="New Person")
    assert accepted.status_code == 201
    data = accepted.json()
    assert data["user"]["email"] == "new.person@example.com" and data["user"]["role"] == "member"
    assert data["user"]["org_id"] == str(org.pk) and data["organization"]["id"] == str(org.pk)
    assert data["token_type"] == "Bearer"
    assert client_for(token=data["access_token"]).get("/api/org").json()["id"] == str(org.pk)
    user = User.objects.get(email="new.person@example.com")
    assert user.name == "New Person" and user.check_password(STRONG)
    invitation = Invitation.objects.get()
    assert invitation.accepted_at is not None and invitation.accepted_user == user

    again = _accept(token)
    assert again.status_code == 400 and again.json()["code"] == "invalid_invitation"
    assert client_for(org_admin).get(URL).json() == []
    assert User.objects.filter(email="new.person@example.com").count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_invitation_as_admin_makes_an_admin(smtp_server, org_admin):
    token = _invitation(client_for(org_admin), smtp_server, role="admin")
    data = _accept(token).json()
    assert data["user"]["role"] == "admin"
    assert client_for(token=data["access_token"]).get(URL).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_inviting_an_address_again_replaces_its_link(smtp_server, org_admin):
    client = client_for(org_admin)
    first = _invitation(client, smtp_server)
    second = _invitation(client, smtp_server)
    assert len(client.get(URL).json()) == 1
    assert _accept(first).json()["code"] == "invalid_invitation"
    assert _accept(second).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_a_revoked_invitation_link_is_refused(smtp_server, org_admin):
    client = client_for(org_admin)
    token = _invitation(client, smtp_server)
    (listed,) = client.get(URL).json()
    res = client.delete(f"{URL}/{listed['id']}")
    assert res.status_code == 200 and res.json()["success"] is True
    refused = _accept(token)
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_invitation"
    assert not User.objects.filter(email="new@example.com").exists()
    assert client.delete(f"{URL}/{listed['id']}").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_an_invitation_expires_after_the_configured_days(smtp_server, org_admin, settings):
    settings.ARAGORA_INVITATION_DAYS = 2
    client = client_for(org_admin)
    token = _invitation(client, smtp_server)
    invitation = Invitation.objects.get()
    assert invitation.expires_at - invitation.created_at == timedelta(days=2)
    with time_machine.travel(invitation.expires_at + timedelta(seconds=1), tick=False):
        refused = _accept(token)
        assert refused.status_code == 400 and refused.json()["code"] == "invalid_invitation"
        assert client_for(org_admin).get(URL).json() == []
    assert not User.objects.filter(email="new@example.com").exists()


@pytest.mark.django_db(transaction=True)
def test_an_email_that_did_not_go_out_is_reported_and_inviting_again_resends(smtp_server, org_admin):
    client = client_for(org_admin)
    smtp_server.refuse = True
    res = _invite(client)
    assert res.status_code == 201
    assert res.json()["email_sent_at"] is None and "SMTP" in res.json()["email_error"]
    smtp_server.refuse = False
    token = _invitation(client, smtp_server)
    assert client.get(URL).json()[0]["email_sent_at"] is not None
    assert _accept(token).status_code == 201


# ---------------------------------------------------------------------------
# Refusals at accept time
# ---------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        signing.TimestampSigner(salt="something.else").sign(uuid.uuid4().hex),
        invitation_token(Invitation(id=uuid.uuid4())),  # genuine signature, no such invitation
    ],
    ids=["not-a-token", "signed-for-another-purpose", "no-such-invitation"],
)
def test_forged_and_unknown_tokens_are_refused(token):
    res = _accept(token)
    assert res.status_code == 400 and res.json()["code"] == "invalid_invitation"
    assert User.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_an_altered_token_is_refused(smtp_server, org_admin):
    token = _invitation(client_for(org_admin), smtp_server)
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert _accept(altered).json()["code"] == "invalid_invitation"
    other_id = token.replace(token[:32], uuid.uuid4().hex)  # another id under the same signature
    assert _accept(other_id).json()["code"] == "invalid_invitation"
    assert _accept(token).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_a_weak_password_is_refused_and_the_invitation_stays_usable(smtp_server, org_admin):
    token = _invitation(client_for(org_admin), smtp_server)
    weak = _accept(token, password="password")
    assert weak.status_code == 400 and weak.json()["code"] == "invalid"
    assert Invitation.objects.get().accepted_at is None
    assert _accept(token).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_the_seat_limit_is_checked_again_at_accept_time(smtp_server, org, org_admin):
    token = _invitation(client_for(org_admin), smtp_server)
    Organization.objects.filter(pk=org.pk).update(tier=SubscriptionTier.FREE)  # 1 user: the admin
    res = _accept(token)
    assert res.status_code == 403 and res.json()["code"] == "user_limit_reached"
    assert not User.objects.filter(email="new@example.com").exists()
    assert Invitation.objects.get().accepted_at is None


@pytest.mark.django_db(transaction=True)
def test_an_address_that_got_an_account_meanwhile_is_refused(smtp_server, org_admin):
    token = _invitation(client_for(org_admin), smtp_server)
    UserFactory(email="new@example.com")
    res = _accept(token)
    assert res.status_code == 409 and res.json()["code"] == "email_taken"
    assert Invitation.objects.get().accepted_at is None


@pytest.mark.django_db(transaction=True)
def test_two_accepts_of_one_invitation_at_once_create_one_user(smtp_server, org_admin):
    invitation = services.invitation_create(
        organization=org_admin.organization, email="race@example.com", invited_by=org_admin
    )
    token = invitation_token(invitation)
    barrier, outcomes = threading.Barrier(2), []

    def accept():
        barrier.wait()
        try:
            services.invitation_accept(token=token, password=STRONG)
            outcomes.append("created")
        except ServiceError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "invalid_invitation"]
    assert User.objects.filter(email="race@example.com").count() == 1
    assert Invitation.objects.get(pk=invitation.pk).accepted_user.email == "race@example.com"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"token": "x"},
        {"password": STRONG},
        {"token": 5, "password": STRONG},
        {"token": "", "password": STRONG},
        {"token": "x", "password": STRONG, "org_id": str(uuid.uuid4())},
        {"token": "x", "password": STRONG, "role": "admin"},
        {"token": "x", "password": "p" * 2000},
    ],
)
def test_malformed_accept_requests_are_400(body):
    res = client_for().post(ACCEPT, body, format="json")
    assert res.status_code == 400 and res.json()["code"] == "invalid"
    assert User.objects.count() == 0


@pytest.mark.django_db
def test_an_accept_body_that_is_not_json_is_a_400():
    res = client_for().post(ACCEPT, b"[1,", content_type="application/json")
    assert res.status_code == 400 and res.json()["code"] == "parse_error"


# ---------------------------------------------------------------------------
# Refusals at invite time
# ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_seats_count_pending_invitations_and_the_refusal_says_to_upgrade(smtp_server):
    admin = OrganizationFactory(tier=SubscriptionTier.STARTER, admin=True).owner  # 2 users
    client = client_for(admin)
    assert _invite(client, "one@example.com").status_code == 201
    full = _invite(client, "two@example.com")
    assert full.status_code == 403 and full.json()["code"] == "user_limit_reached"
    assert "upgrade" in full.json()["detail"]
    assert _invite(client, "one@example.com").status_code == 201  # re-inviting holds the same seat
    legacy = client.post("/api/org/members", {"email": "two@example.com", "password": STRONG}, format="json")
    assert legacy.status_code == 403 and legacy.json()["code"] == "user_limit_reached"
    seats = client.get("/api/org").json()["seats"]
    assert seats == {"limit": 2, "members": 1, "pending_invitations": 1, "available": 0}
    assert not Invitation.objects.filter(email="two@example.com").exists()


@pytest.mark.django_db
def test_an_address_with_an_account_cannot_be_invited(smtp_server, org_admin, other_org_admin):
    for email in (org_admin.email, other_org_admin.email.upper()):
        res = _invite(client_for(org_admin), email)
        assert res.status_code == 409 and res.json()["code"] == "email_taken"
    assert not Invitation.objects.exists()


@pytest.mark.django_db
def test_without_an_smtp_server_invitations_are_503_and_nothing_is_made(org_admin, settings):
    settings.ARAGORA_SMTP_HOST = ""
    res = _invite(client_for(org_admin))
    assert res.status_code == 503 and res.json()["code"] == "email_not_configured"
    assert not Invitation.objects.exists()


@pytest.mark.django_db
def test_an_organization_name_with_a_line_break_never_reaches_a_subject(smtp_server, org, org_admin):
    Organization.objects.filter(pk=org.pk).update(name="Acme\r\nBcc: victim@example.com")
    res = _invite(client_for(org_admin))
    assert res.status_code == 400 and res.json()["code"] == "unsafe_email_header"
    assert not Invitation.objects.exists() and not smtp_server.messages


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "not-an-email"},
        {"email": 5},
        {"email": "a@example.com", "role": "owner"},
        {"email": "a@example.com", "org_id": str(uuid.uuid4())},
        {"email": "a@example.com", "invited_by": str(uuid.uuid4())},
    ],
)
def test_malformed_invitations_are_400_and_make_nothing(smtp_server, org_admin, body):
    res = client_for(org_admin).post(URL, body, format="json")
    assert res.status_code == 400 and res.json()["code"] == "invalid"
    assert not Invitation.objects.exists()


# ---------------------------------------------------------------------------
# Who may do what
# ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_members_cannot_invite_list_or_revoke(smtp_server, org_admin, member):
    invitation = _invited(org_admin)
    client = client_for(member)
    for res in (client.get(URL), _invite(client, "y@example.com"), client.delete(f"{URL}/{invitation.pk}")):
        assert res.status_code == 403 and res.json()["code"] == "permission_denied"
    assert Invitation.objects.get().status == "pending" and Invitation.objects.count() == 1


@pytest.mark.django_db
def test_invitation_endpoints_need_valid_credentials(smtp_server, org_admin):
    invitation = _invited(org_admin)
    for client, code in [(client_for(), "not_authenticated"), (client_for(token="junk"), "invalid_token")]:
        for res in (client.get(URL), _invite(client, "y@example.com"), client.delete(f"{URL}/{invitation.pk}")):
            assert res.status_code == 401 and res.json()["code"] == code
    assert Invitation.objects.get().status == "pending" and Invitation.objects.count() == 1


@pytest.mark.django_db
def test_another_organizations_invitations_are_invisible_and_untouchable(smtp_server, org_admin, other_org_admin):
    theirs = services.invitation_create(
        organization=other_org_admin.organization, email="theirs@example.com", invited_by=other_org_admin
    )
    client = client_for(org_admin)
    assert client.get(f"{URL}?org_id={other_org_admin.org_id}").json() == []
    res = client.delete(f"{URL}/{theirs.pk}")
    assert res.status_code == 404 and res.json()["code"] == "not_found"
    assert Invitation.objects.get(pk=theirs.pk).status == "pending"
    assert client.delete(f"{URL}/not-a-uuid").status_code == 404


@pytest.mark.django_db
def test_an_admin_of_another_organization_cannot_invite_into_this_one(smtp_server, org, other_org_admin):
    with pytest.raises(ServiceError) as refused:
        services.invitation_create(organization=org, email="x@example.com", invited_by=other_org_admin)
    assert refused.value.status == 403 and not Invitation.objects.exists()
