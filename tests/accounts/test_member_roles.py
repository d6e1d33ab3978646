"""PATCH /api/org/members/<id>: admins change a member's role; the member's old tokens stop working at once."""

import uuid

import pytest

from accounts import tokens
from accounts.models import User
from tests.conftest import client_for
from tests.factories import PASSWORD, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def _patch(client, user, body):
    return client.patch(f"/api/org/members/{user.pk}", body, format="json")


def _login(user):
    res = client_for().post("/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json")
    return client_for(token=res.json()["access_token"])


def test_promoting_a_member_ends_their_sessions_and_new_ones_are_admin(org_admin, member):
    old = tokens.token_pair_for_user(member)
    res = _patch(client_for(org_admin), member, {"role": "admin"})
    assert res.status_code == 200 and res.json()["role"] == "admin" and res.json()["id"] == str(member.pk)
    assert User.objects.get(pk=member.pk).role == "admin"
    refused = client_for(token=old.access_token).get("/api/org")
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_token"
    refreshed = client_for().post("/api/auth/refresh", {"refresh_token": old.refresh_token}, format="json")
    assert refreshed.status_code == 401
    assert _login(member).get("/api/org/invitations").status_code == 200


def test_demoting_an_admin_takes_admin_rights_away_at_once(org, org_admin):
    co_admin = UserFactory(organization=org, role="admin")
    old = client_for(co_admin)
    assert _patch(client_for(org_admin), co_admin, {"role": "member"}).json()["role"] == "member"
    assert old.get("/api/org").status_code == 401
    again = _login(co_admin).get("/api/org/invitations")
    assert again.status_code == 403 and again.json()["code"] == "permission_denied"


def test_an_admin_may_step_down_while_another_admin_remains(org, org_admin):
    co_admin = UserFactory(organization=org, role="admin")
    client = client_for(co_admin)
    assert _patch(client, co_admin, {"role": "member"}).status_code == 200
    assert client.get("/api/org").status_code == 401
    assert User.objects.get(pk=co_admin.pk).role == "member"


def test_the_last_admin_cannot_demote_themself():
    org = OrganizationFactory(tier="professional")
    only_admin = UserFactory(organization=org, role="admin")
    UserFactory(organization=org, role="member")
    res = _patch(client_for(only_admin), only_admin, {"role": "member"})
    assert res.status_code == 400 and res.json()["code"] == "last_admin"
    assert User.objects.get(pk=only_admin.pk).role == "admin"


def test_the_owners_role_cannot_change(org, org_admin):
    co_admin = UserFactory(organization=org, role="admin")
    res = _patch(client_for(co_admin), org_admin, {"role": "member"})
    assert res.status_code == 400 and res.json()["code"] == "cannot_change_owner_role"
    assert User.objects.get(pk=org_admin.pk).role == "admin"


def test_setting_the_same_role_changes_nothing_and_keeps_sessions(org_admin, member):
    client = client_for(member)
    assert _patch(client_for(org_admin), member, {"role": "member"}).status_code == 200
    assert client.get("/api/org").status_code == 200


def test_members_cannot_change_roles(org_admin, member):
    res = _patch(client_for(member), member, {"role": "admin"})
    assert res.status_code == 403 and res.json()["code"] == "permission_denied"
    assert User.objects.get(pk=member.pk).role == "member"


def test_role_changes_need_valid_credentials(member):
    for client, code in [(client_for(), "not_authenticated"), (client_for(token="junk"), "invalid_token")]:
        res = _patch(client, member, {"role": "admin"})
        assert res.status_code == 401 and res.json()["code"] == code
    assert User.objects.get(pk=member.pk).role == "member"


def test_users_outside_the_organization_are_not_found(org_admin, other_org_admin, org):
    departed = UserFactory(organization=org, role="member", is_active=False)
    client = client_for(org_admin)
    for user in (other_org_admin, departed):
        res = _patch(client, user, {"role": "member"})
        assert res.status_code == 404 and res.json()["code"] == "not_found"
    assert User.objects.get(pk=other_org_admin.pk).role == "admin"
    assert client.patch(f"/api/org/members/{uuid.uuid4()}", {"role": "admin"}, format="json").status_code == 404
    assert client.patch("/api/org/members/not-a-uuid", {"role": "admin"}, format="json").status_code == 404


@pytest.mark.parametrize(
    "body",
    [{}, {"role": "owner"}, {"role": 1}, {"role": None}, {"role": "admin", "org_id": str(uuid.uuid4())}],
)
def test_malformed_role_changes_are_400(org_admin, member, body):
    res = _patch(client_for(org_admin), member, body)
    assert res.status_code == 400 and res.json()["code"] == "invalid"
    assert User.objects.get(pk=member.pk).role == "member"
