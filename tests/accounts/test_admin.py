import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts import jwt_auth, tokens
from accounts.models import ApiKey, Organization, RevokedToken, User
from aragora_site.models import AuditEntry
from tests.conftest import client_for
from tests.factories import OrganizationFactory, UserFactory
from tests.html_forms import form_fields


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


# ---------------------------------------------------------------------------
# Staff actions are recorded in the audit log
# ---------------------------------------------------------------------------
def _entries(**filters):
    return list(AuditEntry.objects.filter(**filters).order_by("created_at", "id"))


def _post_form(browser, url, form_id, **changes):
    data = form_fields(browser.get(url).content.decode(), form_id)
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return browser.post(url, data)


@pytest.mark.django_db
def test_user_actions_are_recorded_with_who_and_what(staff_browser, org_admin):
    key = org_admin.generate_api_key()
    for action in ("revoke_all_tokens", "revoke_api_keys", "deactivate_users"):
        res = staff_browser.post("/admin/accounts/user/", {"action": action, "_selected_action": [str(org_admin.pk)]})
        assert res.status_code == 302

    entries = _entries(target_id=str(org_admin.pk))
    assert [e.action for e in entries] == ["tokens_revoked", "api_key_revoked", "user_deactivated"]
    assert {e.actor_email for e in entries} == {"staff@example.com"}
    assert {e.organization_id for e in entries} == {org_admin.organization_id}
    assert entries[1].details == {"key_prefixes": [key[:12]]}
    assert all(e.target == org_admin.email for e in entries)


@pytest.mark.django_db
def test_role_and_status_changes_on_the_user_form_are_recorded(staff_browser, org, member):
    url = f"/admin/accounts/user/{member.pk}/change/"
    assert _post_form(staff_browser, url, "user_form", role="admin").status_code == 302
    assert _post_form(staff_browser, url, "user_form", is_active=None).status_code == 302
    assert _post_form(staff_browser, url, "user_form", name="Only The Name").status_code == 302

    changed, deactivated = _entries(target_id=str(member.pk))  # a name change is not a membership change
    assert changed.action == "member_changed" and changed.details == {"role": ["member", "admin"]}
    assert changed.organization_id == org.pk and changed.actor_email == "staff@example.com"
    assert deactivated.action == "user_deactivated" and deactivated.details == {"is_active": [True, False]}


@pytest.mark.django_db
def test_moving_a_user_between_organizations_is_recorded_for_both(staff_browser, org, member):
    other = OrganizationFactory(name="Other Org")
    url = f"/admin/accounts/user/{member.pk}/change/"
    assert _post_form(staff_browser, url, "user_form", organization=str(other.pk)).status_code == 302

    entries = _entries(target_id=str(member.pk))
    assert {e.organization_id for e in entries} == {org.pk, other.pk}
    assert entries[0].details["organization"] == [org.name, "Other Org"]


@pytest.mark.django_db
def test_member_changes_in_the_organization_inline_are_recorded(staff_browser, org, member):
    url = f"/admin/accounts/organization/{org.pk}/change/"
    data = form_fields(staff_browser.get(url).content.decode(), "organization_form")
    row = next(key.split("-")[1] for key, value in data.items() if key.endswith("-id") and value == str(member.pk))
    assert _post_form(staff_browser, url, "organization_form", **{f"members-{row}-role": "admin"}).status_code == 302

    (entry,) = _entries(target_id=str(member.pk))
    assert entry.action == "member_changed" and entry.details == {"role": ["member", "admin"]}
    assert entry.organization_id == org.pk


@pytest.mark.django_db
def test_the_organization_form_cannot_change_the_tier_or_the_debates_used(staff_browser, org):
    url = f"/admin/accounts/organization/{org.pk}/change/"
    page = staff_browser.get(url).content.decode()
    assert 'name="tier"' not in page and 'name="debates_used"' not in page
    assert _post_form(staff_browser, url, "organization_form", tier="enterprise", debates_used="0").status_code == 302
    Organization.objects.filter(pk=org.pk).update(debates_used=5)
    _post_form(staff_browser, url, "organization_form", debates_used="0")
    org.refresh_from_db()
    assert (org.tier, org.debates_used) == ("professional", 5)


@pytest.mark.django_db
def test_the_organization_page_links_to_everything_that_belongs_to_it(staff_browser, org):
    page = staff_browser.get(f"/admin/accounts/organization/{org.pk}/change/").content.decode()
    own = f"?organization__id__exact={org.pk}"
    for url in [
        f"/admin/billing/organizationbilling/{org.pk}/change/",
        f"/admin/billing/stripeeventreceipt/{own}",
        f"/admin/usage/usagemonthly/{own}",
        f"/admin/usage/usageevent/{own}",
        f"/admin/accounts/user/{own}",
        f"/admin/billing/notification/{own}",
        f"/admin/aragora_site/auditentry/{own}",
    ]:
        assert f'href="{url}"' in page, url
        assert staff_browser.get(url).status_code == 200, url
    assert "Stripe subscription" not in page  # nothing synced from Stripe for this organization


# ---------------------------------------------------------------------------
# Tier override and debates reset: actions that ask for a reason
# ---------------------------------------------------------------------------
def _action(browser, action, orgs, **fields):
    data = {"action": action, "_selected_action": [str(o.pk) for o in orgs], **fields}
    return browser.post("/admin/accounts/organization/", data)


@pytest.mark.django_db
def test_override_tier_asks_for_a_tier_and_a_reason_first(staff_browser, org):
    page = _action(staff_browser, "override_tier", [org], index="0")
    html = page.content.decode()
    assert page.status_code == 200 and 'name="reason"' in html and 'name="tier"' in html
    assert "Professional tier, Professional in force; 0 of 200 debates used" in html
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("reason", ["", "   \n "])
@pytest.mark.django_db
def test_override_tier_without_a_reason_shows_an_error_and_changes_nothing(staff_browser, org, reason):
    page = _action(staff_browser, "override_tier", [org], apply="1", tier="enterprise", reason=reason)
    assert page.status_code == 200
    assert "This field is required." in page.content.decode()
    org.refresh_from_db()
    assert org.tier == "professional" and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_override_tier_refuses_an_unknown_tier(staff_browser, org):
    page = _action(staff_browser, "override_tier", [org], apply="1", tier="platinum", reason="because")
    assert "Select a valid choice" in page.content.decode()
    org.refresh_from_db()
    assert org.tier == "professional" and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_override_tier_with_a_reason_changes_the_tier_and_records_it(staff_browser, org):
    free = OrganizationFactory(name="Free One")
    res = _action(staff_browser, "override_tier", [org, free], apply="1", tier="enterprise", reason="Design partner")
    assert res.status_code == 302
    page = staff_browser.get(res["Location"]).content.decode()
    assert "now on the Enterprise tier" in page
    assert {o.tier for o in Organization.objects.filter(pk__in=[org.pk, free.pk])} == {"enterprise"}
    entries = _entries(action="tier_override")
    assert {e.organization_id for e in entries} == {org.pk, free.pk}
    assert {e.reason for e in entries} == {"Design partner"}
    assert next(e for e in entries if e.organization_id == free.pk).details["tier"] == ["free", "enterprise"]


@pytest.mark.django_db
def test_override_to_the_same_tier_is_an_error_message_and_records_nothing(staff_browser, org):
    res = _action(staff_browser, "override_tier", [org], apply="1", tier="professional", reason="no-op")
    page = staff_browser.get(res["Location"]).content.decode()
    assert "already on the Professional tier" in page
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_reset_debates_without_a_reason_shows_an_error_and_changes_nothing(staff_browser, org):
    Organization.objects.filter(pk=org.pk).update(debates_used=42)
    page = _action(staff_browser, "reset_usage", [org], apply="1", reason="")
    assert page.status_code == 200 and "This field is required." in page.content.decode()
    org.refresh_from_db()
    assert org.debates_used == 42 and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_reset_debates_with_a_reason_resets_and_records_the_old_count(staff_browser, org):
    Organization.objects.filter(pk=org.pk).update(debates_used=42)
    res = _action(staff_browser, "reset_usage", [org], apply="1", reason="Outage refund")
    assert res.status_code == 302
    org.refresh_from_db()
    assert org.debates_used == 0
    (entry,) = _entries(action="debates_reset")
    assert entry.reason == "Outage refund" and entry.details["debates_used"] == [42, 0]


@pytest.mark.django_db
def test_the_organization_page_offers_both_actions_for_itself(staff_browser, org):
    change = f"/admin/accounts/organization/{org.pk}/change/"
    page = staff_browser.get(change).content.decode()
    tier_url, reset_url = (
        f"/admin/accounts/organization/{org.pk}/override-tier/",
        change.replace("change", "reset-debates"),
    )
    assert f'href="{tier_url}"' in page and f'href="{reset_url}"' in page

    assert staff_browser.get(tier_url).status_code == 200
    error = staff_browser.post(tier_url, {"apply": "1", "tier": "starter", "reason": ""})
    assert error.status_code == 200 and "This field is required." in error.content.decode()
    done = staff_browser.post(tier_url, {"apply": "1", "tier": "starter", "reason": "Downgrade asked by phone"})
    assert done.status_code == 302 and done["Location"] == change
    org.refresh_from_db()
    assert org.tier == "starter" and AuditEntry.objects.get().action == "tier_override"
    assert staff_browser.get("/admin/accounts/organization/not-a-uuid/override-tier/").status_code == 404


@pytest.mark.django_db
def test_staff_without_the_change_permission_cannot_override(client, org):
    viewer = UserFactory(organization=None, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_organization"))
    client.force_login(viewer)
    assert client.get(f"/admin/accounts/organization/{org.pk}/override-tier/").status_code == 403
    res = _action(client, "override_tier", [org], apply="1", tier="enterprise", reason="sneaky")
    assert res.status_code == 200 and "Override tier" not in res.content.decode()  # no such action for a viewer
    org.refresh_from_db()
    assert org.tier == "professional" and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_staff_find_a_key_by_prefix_or_email_and_revoke_it_on_the_record(staff_browser, org_admin):
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
    (entry,) = AuditEntry.objects.filter(action="api_key_revoked")
    assert entry.details == {"key_prefixes": [row.prefix]} and entry.actor_email == "staff@example.com"


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
