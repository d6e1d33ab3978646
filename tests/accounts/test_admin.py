import pytest
from django.test import Client

from accounts import jwt_auth, tokens
from accounts.models import ApiKey, RevokedToken, User
from tests.conftest import client_for
from tests.factories import UserFactory


@pytest.fixture
def staff_browser(db):
    staff = User.objects.create_superuser(email="staff@example.com", password="staff-password-123")
    browser = Client()
    browser.force_login(staff)
    return browser


@pytest.mark.django_db
def test_admin_is_for_staff_only(org_admin):
    browser = Client()
    browser.force_login(org_admin)  # an organization admin, not staff
    res = browser.get("/admin/accounts/organization/")
    assert res.status_code == 302 and "/admin/login/" in res["Location"]


@pytest.mark.django_db
def test_admin_lists_render_without_showing_secrets(staff_browser, org_admin):
    key = org_admin.generate_api_key()
    row = ApiKey.objects.get(user=org_admin)
    jwt_auth.revoke_token(token_jti="abc123", reason="user_logout", user_id=str(org_admin.id))
    for url in [
        "/admin/accounts/user/",
        f"/admin/accounts/user/{org_admin.pk}/change/",
        "/admin/accounts/organization/",
        f"/admin/accounts/organization/{org_admin.organization_id}/change/",
        "/admin/accounts/revokedtoken/?q=abc123",
        "/admin/accounts/issuedrefreshtoken/",
        "/admin/accounts/apikey/",
        f"/admin/accounts/apikey/{row.pk}/change/",
    ]:
        res = staff_browser.get(url)
        assert res.status_code == 200, url
        assert key not in res.content.decode()
        assert row.key_hash not in res.content.decode()
    assert b"abc123" in staff_browser.get("/admin/accounts/revokedtoken/?q=abc123").content


@pytest.mark.django_db
def test_admin_action_revokes_all_tokens_of_selected_users(staff_browser, org_admin):
    token = tokens.token_pair_for_user(org_admin).access_token
    res = staff_browser.post(
        "/admin/accounts/user/", {"action": "revoke_all_tokens", "_selected_action": [str(org_admin.pk)]}
    )
    assert res.status_code == 302
    assert client_for(token=token).get("/api/auth/me").status_code == 401


@pytest.mark.django_db
def test_admin_action_revokes_api_keys(staff_browser, org_admin):
    key = org_admin.generate_api_key()
    staff_browser.post("/admin/accounts/user/", {"action": "revoke_api_keys", "_selected_action": [str(org_admin.pk)]})
    assert client_for(api_key=key).get("/api/org").status_code == 401


@pytest.mark.django_db
def test_deactivating_a_user_in_admin_ends_sessions_and_keys(staff_browser, org_admin):
    token = tokens.token_pair_for_user(org_admin).access_token
    key = org_admin.generate_api_key()
    staff_browser.post("/admin/accounts/user/", {"action": "deactivate_users", "_selected_action": [str(org_admin.pk)]})
    assert client_for(token=token).get("/api/auth/me").status_code == 401
    assert client_for(api_key=key).get("/api/org").status_code == 401


@pytest.mark.django_db
def test_revoked_tokens_are_read_only_in_admin(staff_browser):
    UserFactory()
    jwt_auth.revoke_token(token_jti="ro", reason="x")
    pk = RevokedToken.objects.get(jti="ro").pk
    res = staff_browser.post(f"/admin/accounts/revokedtoken/{pk}/change/", {"reason": "changed"})
    assert res.status_code == 403
    assert RevokedToken.objects.get(pk=pk).reason == "x"


@pytest.mark.django_db
def test_staff_find_a_key_by_prefix_or_email_and_revoke_it(staff_browser, org_admin):
    key = org_admin.generate_api_key()
    other = UserFactory(organization=org_admin.organization).generate_api_key()
    row = ApiKey.objects.get(user=org_admin)
    for query in (key[:12], org_admin.email):
        page = staff_browser.get(f"/admin/accounts/apikey/?q={query}").content.decode()
        assert row.prefix in page and other[:12] not in page
    res = staff_browser.post("/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [str(row.pk)]})
    assert res.status_code == 302
    assert client_for(api_key=key).get("/api/org").status_code == 401
    assert client_for(api_key=other).get("/api/org").status_code == 200


@pytest.mark.django_db
def test_api_keys_are_read_only_in_admin_and_shown_inline_on_their_user(staff_browser, org_admin):
    key = org_admin.generate_api_key()
    row = ApiKey.objects.get(user=org_admin)
    res = staff_browser.post(f"/admin/accounts/apikey/{row.pk}/change/", {"name": "renamed"})
    assert res.status_code == 403
    assert staff_browser.get("/admin/accounts/apikey/add/").status_code == 403
    assert ApiKey.objects.get(pk=row.pk).name == "default"
    user_page = staff_browser.get(f"/admin/accounts/user/{org_admin.pk}/change/").content.decode()
    assert row.prefix in user_page and key not in user_page and row.key_hash not in user_page
    assert org_admin.email in staff_browser.get(f"/admin/accounts/user/?q={row.prefix}").content.decode()


@pytest.mark.django_db
def test_invitations_are_listed_read_only_for_staff(staff_browser, org_admin):
    from accounts.models import Invitation

    invitation = Invitation.objects.create(organization=org_admin.organization, email="x@example.com")
    assert b"x@example.com" in staff_browser.get("/admin/accounts/invitation/").content
    assert staff_browser.get(f"/admin/accounts/invitation/{invitation.pk}/change/").status_code == 200
    res = staff_browser.post(f"/admin/accounts/invitation/{invitation.pk}/change/", {"email": "y@example.com"})
    assert res.status_code == 403 and Invitation.objects.get().email == "x@example.com"
