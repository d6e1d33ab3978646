import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import ApiKey, User
from billing.tiers import SubscriptionTier
from tests.conftest import client_for
from tests.factories import OrganizationFactory, UserFactory

STRONG = "a-long-and-unusual-passphrase-42"


@pytest.mark.django_db
def test_api_key_is_returned_once_and_then_only_described(org_admin):
    client = client_for(org_admin)
    created = client.post("/api/auth/api-key")
    assert created.status_code == 201
    key = created.json()["api_key"]
    info = client.get("/api/auth/api-key").json()
    assert info["has_api_key"] is True and info["prefix"] == key[:12]
    assert key not in str(info)
    assert client_for(api_key=key).get("/api/auth/me").json()["auth_method"] == "api_key"


@pytest.mark.django_db
def test_api_key_works_as_bearer_credential_too(org_admin):
    key = org_admin.generate_api_key()
    assert client_for(token=key).get("/api/org").status_code == 200


@pytest.mark.django_db
def test_api_key_is_refused_for_tiers_without_api_access(db):
    user = UserFactory(organization=OrganizationFactory(tier=SubscriptionTier.STARTER), role="admin")
    key = user.generate_api_key()
    res = client_for(api_key=key).get("/api/org")
    assert res.status_code == 403 and res.json()["code"] == "api_access_not_in_tier"


@pytest.mark.django_db
@pytest.mark.parametrize("tier", [SubscriptionTier.FREE, SubscriptionTier.STARTER])
def test_an_organization_without_api_access_is_refused_a_key_and_none_is_made(tier):
    user = OrganizationFactory(tier=tier, admin=True).owner
    res = client_for(user).post("/api/auth/api-key")
    assert res.status_code == 403 and res.json()["code"] == "api_access_not_in_tier"
    user.refresh_from_db()
    assert not user.has_api_key


@pytest.mark.django_db
def test_revoked_rotated_and_forged_api_keys_are_refused(org_admin):
    old = org_admin.generate_api_key()
    new = org_admin.generate_api_key()
    assert client_for(api_key=old).get("/api/org").status_code == 401
    assert client_for(api_key=new).get("/api/org").status_code == 200
    client_for(org_admin).delete("/api/auth/api-key")
    assert client_for(api_key=new).get("/api/org").status_code == 401
    assert client_for(api_key="ara_" + "x" * 46).get("/api/org").json()["code"] == "invalid_api_key"


@pytest.mark.django_db
def test_api_key_in_query_string_is_ignored(org_admin):
    key = org_admin.generate_api_key()
    assert client_for().get(f"/api/org?api_key={key}").status_code == 401


@pytest.mark.django_db
def test_malformed_api_key_is_refused_without_a_query(org_admin):
    with CaptureQueriesContext(connection) as queries:
        res = client_for(api_key="ara_not-a-real-key").get("/api/org")
    assert res.status_code == 401
    assert not [q for q in queries.captured_queries if "accounts_user" in q["sql"] or "accounts_apikey" in q["sql"]]


@pytest.mark.django_db
def test_api_key_last_used_is_recorded_without_a_write_per_request(org_admin):
    key = org_admin.generate_api_key()
    client = client_for(api_key=key)
    client.get("/api/org")
    assert ApiKey.objects.get(user=org_admin).last_used_at is not None
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/org")
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]


@pytest.mark.django_db
def test_deactivated_user_api_key_stops_working(org_admin):
    from accounts.services import user_deactivate

    key = org_admin.generate_api_key()
    user_deactivate(user=org_admin)
    assert client_for(api_key=key).get("/api/org").status_code == 401


@pytest.mark.django_db
def test_org_endpoint_reports_limits_and_usage(org_admin, member):
    body = client_for(member).get("/api/org").json()
    assert body["id"] == org_admin.org_id
    assert body["tier"] == "professional"
    assert body["limits"]["debates_per_month"] == 200
    assert body["debates_remaining"] == 200 and body["is_at_limit"] is False
    assert body["member_count"] == 2


@pytest.mark.django_db
def test_org_comes_from_credentials_not_from_the_request(org_admin, other_org_admin):
    other_id = other_org_admin.org_id
    client = client_for(org_admin)
    assert client.get(f"/api/org?org_id={other_id}").json()["id"] == org_admin.org_id
    members = client.get(f"/api/org/members?org_id={other_id}").json()
    assert other_org_admin.email not in {m["email"] for m in members}
    res = client.delete(f"/api/org/members/{other_org_admin.id}")
    assert res.status_code == 404
    assert User.objects.get(pk=other_org_admin.pk).organization_id is not None


@pytest.mark.django_db
def test_admin_adds_members_within_the_tier_user_limit(db):
    org = OrganizationFactory(tier=SubscriptionTier.STARTER)  # 2 users
    admin = UserFactory(organization=org, role="admin")
    client = client_for(admin)
    ok = client.post("/api/org/members", {"email": "b@example.com", "password": STRONG}, format="json")
    assert ok.status_code == 201 and ok.json()["org_id"] == str(org.id)
    full = client.post("/api/org/members", {"email": "c@example.com", "password": STRONG}, format="json")
    assert full.status_code == 403 and full.json()["code"] == "user_limit_reached"
    assert not User.objects.filter(email="c@example.com").exists()


@pytest.mark.django_db
def test_members_cannot_manage_members(member, org_admin):
    client = client_for(member)
    res = client.post("/api/org/members", {"email": "z@example.com", "password": STRONG}, format="json")
    assert res.status_code == 403
    assert client.delete(f"/api/org/members/{org_admin.id}").status_code == 403
    assert client.get("/api/org/members").status_code == 200


@pytest.mark.django_db
def test_removing_a_member_ends_their_sessions(org_admin, member):
    member_client = client_for(member)
    res = client_for(org_admin).delete(f"/api/org/members/{member.id}")
    assert res.status_code == 200
    member.refresh_from_db()
    assert member.organization_id is None
    assert member_client.get("/api/org").status_code == 401


@pytest.mark.django_db
def test_removing_the_owner_or_oneself_is_refused(org_admin, org):
    co_admin = UserFactory(organization=org, role="admin")
    assert client_for(co_admin).delete(f"/api/org/members/{org_admin.id}").json()["code"] == "cannot_remove_owner"
    assert client_for(co_admin).delete(f"/api/org/members/{co_admin.id}").json()["code"] == "cannot_remove_self"


@pytest.mark.django_db
def test_member_creation_with_bad_input_is_a_400(org_admin):
    client = client_for(org_admin)
    for body in [{"email": "not-an-email", "password": STRONG}, {"email": "q@example.com"}, {"role": "owner"}]:
        res = client.post("/api/org/members", body, format="json")
        assert res.status_code == 400 and res.json()["code"] == "invalid"
    assert client.delete("/api/org/members/not-a-uuid").status_code == 404


@pytest.mark.django_db
def test_lapsed_grace_period_shows_the_free_tier_without_writing(org_admin, org):
    from django.utils import timezone

    org.grace_until = timezone.now() - timezone.timedelta(minutes=1)
    org.save(update_fields=["grace_until"])
    for path in ("/api/org", "/api/auth/me"):
        body = client_for(org_admin).get(path).json()
        shown = body if path == "/api/org" else body["organization"]
        assert shown["tier"] == "free" and shown["limits"]["debates_per_month"] == 10
    org.refresh_from_db()
    assert org.tier == "professional"  # the grace sweep and Stripe's webhooks write the downgrade, never a read


@pytest.mark.django_db
def test_api_key_of_an_organization_whose_grace_lapsed_loses_api_access(org_admin, org):
    from django.utils import timezone

    key = org_admin.generate_api_key()
    assert client_for(api_key=key).get("/api/org").status_code == 200
    org.grace_until = timezone.now() - timezone.timedelta(minutes=1)
    org.save(update_fields=["grace_until"])
    res = client_for(api_key=key).get("/api/org")
    assert res.status_code == 403 and res.json()["code"] == "api_access_not_in_tier"
    org.refresh_from_db()
    assert org.tier == "professional"


@pytest.mark.django_db
def test_running_grace_period_keeps_the_paid_tier(org_admin, org):
    from django.utils import timezone

    key = org_admin.generate_api_key()
    org.grace_until = timezone.now() + timezone.timedelta(days=3)
    org.save(update_fields=["grace_until"])
    assert client_for(api_key=key).get("/api/org").json()["tier"] == "professional"
