"""The audit log: written by one service, readable by staff, never editable, not even by superusers."""

import pytest
from django.contrib.auth.models import Permission
from django.db import IntegrityError

from accounts.models import User
from aragora_site.audit import audit_record
from aragora_site.errors import ServiceError
from aragora_site.models import AuditAction, AuditEntry
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser():
    return User.objects.create_superuser(email="root@example.com", password="root-password-123")


@pytest.fixture
def entry(superuser):
    org = OrganizationFactory(name="Acme")
    return audit_record(
        actor=superuser,
        action=AuditAction.TIER_OVERRIDE,
        target=org,
        organization=org,
        reason="  Pilot for the quarter  ",
        details={"tier": ["free", "enterprise"]},
    )


def test_an_entry_records_who_what_when_why_and_the_target(entry, superuser):
    assert entry.actor == superuser and entry.actor_email == "root@example.com"
    assert entry.action == "tier_override" and entry.reason == "Pilot for the quarter"
    assert entry.target == "Acme (acme)" and entry.target_type == "accounts.organization"
    assert entry.target_id == str(entry.organization_id) and entry.created_at is not None
    assert entry.details == {"tier": ["free", "enterprise"]}


def test_an_entry_keeps_naming_its_author_after_the_account_is_deleted(entry, superuser):
    superuser.delete()
    entry.refresh_from_db()
    assert entry.actor is None and entry.actor_email == "root@example.com"


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_overrides_without_a_reason_are_refused_and_not_recorded(superuser, reason):
    org = OrganizationFactory()
    for action in (AuditAction.TIER_OVERRIDE, AuditAction.DEBATES_RESET):
        with pytest.raises(ServiceError) as caught:
            audit_record(actor=superuser, action=action, target=org, organization=org, reason=reason)
        assert caught.value.code == "reason_required"
    assert not AuditEntry.objects.exists()


def test_the_database_refuses_an_override_entry_without_a_reason(superuser):
    with pytest.raises(IntegrityError):
        AuditEntry.objects.create(actor_email="x@example.com", action="tier_override", target="Acme", reason="")


def test_staff_read_the_log_and_find_entries_by_search_and_filter(client, entry, superuser):
    other = audit_record(actor=superuser, action=AuditAction.TOKENS_REVOKED, target=UserFactory(email="bob@x.io"))
    client.force_login(superuser)

    assert list(client.get("/admin/aragora_site/auditentry/?q=Pilot").context["cl"].result_list) == [entry]
    by_action = client.get("/admin/aragora_site/auditentry/?action__exact=tokens_revoked")
    assert list(by_action.context["cl"].result_list) == [other]
    page = client.get(f"/admin/aragora_site/auditentry/{entry.pk}/change/").content.decode()
    assert "Pilot for the quarter" in page and "enterprise" in page
    assert f'href="/admin/accounts/organization/{entry.organization_id}/change/"' in page


def test_no_one_adds_changes_or_deletes_an_entry_not_even_a_superuser(client, entry, superuser):
    client.force_login(superuser)
    url = f"/admin/aragora_site/auditentry/{entry.pk}"

    assert client.get("/admin/aragora_site/auditentry/add/").status_code == 403
    assert client.post("/admin/aragora_site/auditentry/add/", {"reason": "forged"}).status_code == 403
    assert client.post(f"{url}/change/", {"reason": "rewritten"}).status_code == 403
    assert client.post(f"{url}/delete/", {"post": "yes"}).status_code == 403
    bulk = client.post(
        "/admin/aragora_site/auditentry/", {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
    )
    assert bulk.status_code == 200  # no such action: the list is shown again
    entry.refresh_from_db()
    assert entry.reason == "Pilot for the quarter" and AuditEntry.objects.count() == 1
    assert 'name="_save"' not in client.get(f"{url}/change/").content.decode()


def test_staff_need_the_view_permission_to_read_the_log(client, entry):
    staff = UserFactory(organization=None, is_staff=True)
    client.force_login(staff)
    assert client.get("/admin/aragora_site/auditentry/").status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_auditentry"))
    assert client.get("/admin/aragora_site/auditentry/").status_code == 200
