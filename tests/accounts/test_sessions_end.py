"""Changing what a token claims (role, organization, active status, password) ends the user's sessions at once,
whichever way the change is made: service, admin form, admin inline, query-set update or save()."""

import pytest
from django.test import Client

from accounts import tokens
from accounts.models import User
from tests.conftest import client_for
from tests.factories import OrganizationFactory, UserFactory
from tests.html_forms import form_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_browser(db):
    staff = User.objects.create_superuser(email="staff@example.com", password="staff-password-123")
    browser = Client()
    browser.force_login(staff)
    return browser


def _me(token: str) -> int:
    """GET /api/org: it trusts the token's claims alone, so only a refused token can stop it."""
    return client_for(token=token).get("/api/org").status_code


def _post_admin_form(browser: Client, url: str, form_id: str, **changes: str) -> None:
    page = browser.get(url)
    assert page.status_code == 200
    data = form_fields(page.content.decode(), form_id)
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    saved = browser.post(url, data)
    assert saved.status_code == 302, saved.content.decode()[:2000]


def test_demoting_an_org_admin_in_the_admin_form_refuses_their_token_at_once(staff_browser, org_admin):
    token = tokens.token_pair_for_user(org_admin)
    assert _me(token.access_token) == 200
    _post_admin_form(staff_browser, f"/admin/accounts/user/{org_admin.pk}/change/", "user_form", role="member")
    org_admin.refresh_from_db()
    assert org_admin.role == "member"
    assert _me(token.access_token) == 401
    res = client_for().post("/api/auth/refresh", {"refresh_token": token.refresh_token}, format="json")
    assert res.status_code == 401
    fresh = tokens.validate_access_token(tokens.token_pair_for_user(org_admin).access_token)
    assert fresh.role == "member"


def test_moving_a_user_to_another_organization_in_the_admin_form_refuses_their_token(staff_browser, member):
    other = OrganizationFactory()
    token = tokens.token_pair_for_user(member).access_token
    assert _me(token) == 200
    url = f"/admin/accounts/user/{member.pk}/change/"
    _post_admin_form(staff_browser, url, "user_form", organization=str(other.pk))
    assert _me(token) == 401


def test_deactivating_a_member_through_the_organization_inline_refuses_their_token(staff_browser, org, member):
    token = tokens.token_pair_for_user(member).access_token
    assert _me(token) == 200
    url = f"/admin/accounts/organization/{org.pk}/change/"
    page = staff_browser.get(url).content.decode()
    data = form_fields(page, "organization_form")
    row = next(key.split("-")[1] for key, value in data.items() if key.endswith("-id") and value == str(member.pk))
    _post_admin_form(staff_browser, url, "organization_form", **{f"members-{row}-is_active": None})
    member.refresh_from_db()
    assert not member.is_active
    assert _me(token) == 401


def test_a_password_set_by_staff_refuses_the_old_token(staff_browser, member):
    token = tokens.token_pair_for_user(member).access_token
    assert _me(token) == 200
    url = f"/admin/accounts/user/{member.pk}/password/"
    new = "a-completely-new-passphrase-77"
    _post_admin_form(staff_browser, url, "user_form", password1=new, password2=new)
    assert _me(token) == 401


def test_a_query_set_update_or_save_from_the_shell_refuses_the_token(org, member):
    token = tokens.token_pair_for_user(member).access_token
    assert _me(token) == 200
    User.objects.filter(pk=member.pk).update(role="admin")
    assert _me(token) == 401
    token = tokens.token_pair_for_user(User.objects.get(pk=member.pk)).access_token
    assert _me(token) == 200
    user = User.objects.get(pk=member.pk)
    user.role = "member"
    user.save()
    assert _me(token) == 401


def test_changes_that_tokens_do_not_carry_keep_the_sessions(staff_browser, member):
    token = tokens.token_pair_for_user(member).access_token
    _post_admin_form(staff_browser, f"/admin/accounts/user/{member.pk}/change/", "user_form", name="New Name")
    member.refresh_from_db()
    member.name = "Another Name"
    member.save(update_fields=["name"])
    User.objects.filter(pk=member.pk).update(name="Third Name")
    assert member.name == "Another Name" and _me(token) == 200


def test_a_user_loaded_with_deferred_fields_and_saved_keeps_the_session_when_nothing_changed(member):
    token = tokens.token_pair_for_user(member).access_token
    user = User.objects.only("id", "email", "name").get(pk=member.pk)
    user.name = "Deferred"
    user.save()
    assert _me(token) == 200


def test_removing_a_member_through_the_api_refuses_their_token(org_admin, member):
    token = tokens.token_pair_for_user(member).access_token
    assert _me(token) == 200
    assert client_for(org_admin).delete(f"/api/org/members/{member.pk}").status_code == 200
    assert _me(token) == 401


def test_staff_user_admin_form_for_a_new_user_needs_no_session_rule(staff_browser, org):
    UserFactory(organization=org)
    assert staff_browser.get("/admin/accounts/user/add/").status_code == 200
