"""Several named API keys per user: /api/auth/api-keys, what a key may do once revoked or expired, the seed's
single-key API on top of them, and the key that sent each request."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.request import Request

from accounts import jwt_auth, services
from accounts.authentication import APIKeyAuthentication, JWTAuthentication
from accounts.keys import hash_api_key
from accounts.models import ApiKey, User
from aragora_site.errors import ServiceError
from billing.tiers import SubscriptionTier
from tests.conftest import client_for
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/auth/api-keys"


def _create(client, name="ci", **extra):
    return client.post(URL, {"name": name, **extra}, format="json")


def _status(key):
    return client_for(api_key=key).get("/api/org").status_code


# ---------------------------------------------------------------------------
# Create and list
# ---------------------------------------------------------------------------
def test_each_named_key_is_shown_once_and_then_listed_without_it(org_admin):
    client = client_for(org_admin)
    first, second = _create(client, "ci"), _create(client, "laptop")
    assert first.status_code == second.status_code == 201
    body = first.json()
    assert body["name"] == "ci" and body["prefix"] == body["api_key"][:12]
    assert body["last_used_at"] is None and body["expires_at"] is None
    listed = client.get(URL)
    assert listed.status_code == 200
    assert [k["name"] for k in listed.json()] == ["laptop", "ci"]
    assert set(listed.json()[0]) == {"id", "name", "prefix", "created_at", "last_used_at", "expires_at"}
    for created in (first.json(), second.json()):
        assert created["api_key"] not in listed.content.decode()
        assert hash_api_key(created["api_key"]) not in listed.content.decode()
        assert _status(created["api_key"]) == 200
    assert ApiKey.objects.filter(user=org_admin).count() == 2


def test_a_key_records_its_last_use(org_admin):
    key = _create(client_for(org_admin)).json()["api_key"]
    assert _status(key) == 200
    (listed,) = client_for(org_admin).get(URL).json()
    assert listed["last_used_at"] is not None


def test_a_key_with_an_expiry_stops_working_once_it_passes(org_admin):
    expires = timezone.now() + timedelta(hours=1)
    created = _create(client_for(org_admin), expires_at=expires.isoformat())
    assert created.status_code == 201 and created.json()["expires_at"] is not None
    key = created.json()["api_key"]
    assert _status(key) == 200
    with time_machine.travel(expires + timedelta(seconds=1), tick=False):
        res = client_for(api_key=key).get("/api/org")
        assert res.status_code == 401 and res.json()["code"] == "invalid_api_key"
        assert client_for(org_admin).get(URL).json() == []


def test_an_expired_key_frees_its_name(org_admin):
    expires = timezone.now() + timedelta(hours=1)
    _create(client_for(org_admin), "ci", expires_at=expires.isoformat())
    with time_machine.travel(expires + timedelta(minutes=1), tick=False):
        again = _create(client_for(org_admin), "ci")
        assert again.status_code == 201
        assert _status(again.json()["api_key"]) == 200
    old = ApiKey.objects.get(user=org_admin, expires_at__isnull=False)
    assert old.revoked_at == old.expires_at


def test_names_are_unique_among_live_keys_only(org_admin):
    client = client_for(org_admin)
    first = _create(client, "ci").json()
    taken = _create(client, "ci")
    assert taken.status_code == 409 and taken.json()["code"] == "key_name_taken"
    client.delete(f"{URL}/{first['id']}")
    assert _create(client, "ci").status_code == 201


def test_a_user_holds_at_most_the_cap_of_live_keys(org_admin):
    client = client_for(org_admin)
    for n in range(services.API_KEYS_PER_USER):
        services.api_key_create(user=org_admin, name=f"key {n}")
    full = _create(client, "one too many")
    assert full.status_code == 409 and full.json()["code"] == "too_many_keys"
    assert ApiKey.objects.filter(user=org_admin, name="one too many").count() == 0
    client.delete(f"{URL}/{ApiKey.objects.filter(user=org_admin).first().pk}")
    assert _create(client, "one too many").status_code == 201


@pytest.mark.parametrize("tier", [SubscriptionTier.FREE, SubscriptionTier.STARTER])
def test_no_key_is_made_without_api_access(tier):
    user = OrganizationFactory(tier=tier, admin=True).owner
    res = _create(client_for(user))
    assert res.status_code == 403 and res.json()["code"] == "api_access_not_in_tier"
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "invalid"),
        ({"name": 5}, "invalid"),
        ({"name": ""}, "invalid"),
        ({"name": "x" * 101}, "invalid"),
        ({"name": "line\nbreak"}, "invalid_key_name"),
        ({"name": "ci", "expires_at": "tomorrow"}, "invalid"),
        ({"name": "ci", "expires_at": 1767225600}, "invalid"),
        ({"name": "ci", "expires_at": "2000-01-01T00:00:00Z"}, "invalid_expiry"),
        ({"name": "ci", "expires_at": "2999-01-01T00:00:00Z"}, "invalid_expiry"),
        ({"name": "ci", "org_id": "00000000-0000-0000-0000-000000000000"}, "invalid"),
        ({"name": "ci", "user_id": "00000000-0000-0000-0000-000000000000"}, "invalid"),
    ],
)
def test_malformed_key_requests_are_400_and_make_nothing(org_admin, body, code):
    res = client_for(org_admin).post(URL, body, format="json")
    assert res.status_code == 400 and res.json()["code"] == code, res.json()
    assert not ApiKey.objects.exists()


def test_a_body_that_is_not_json_is_a_400(org_admin):
    res = client_for(org_admin).post(URL, b"{nope", content_type="application/json")
    assert res.status_code == 400 and res.json()["code"] == "parse_error"


# ---------------------------------------------------------------------------
# Revoke
# ---------------------------------------------------------------------------
def test_revoking_a_key_stops_it_at_once_and_leaves_the_others(org_admin):
    client = client_for(org_admin)
    ci, laptop = _create(client, "ci").json(), _create(client, "laptop").json()
    assert _status(ci["api_key"]) == 200
    res = client.delete(f"{URL}/{ci['id']}")
    assert res.status_code == 200 and res.json() == {"success": True, "message": "API key revoked"}
    refused = client_for(api_key=ci["api_key"]).get("/api/org")
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_api_key"
    assert _status(laptop["api_key"]) == 200
    assert [k["name"] for k in client.get(URL).json()] == ["laptop"]
    assert ApiKey.objects.get(pk=ci["id"]).revoked_at is not None
    again = client.delete(f"{URL}/{ci['id']}")
    assert again.status_code == 404 and again.json()["code"] == "not_found"


def test_keys_of_other_users_and_organizations_are_invisible_and_untouchable(org_admin, member, other_org_admin):
    mine = _create(client_for(org_admin), "mine").json()
    colleague = _create(client_for(member), "colleague's").json()
    stranger = _create(client_for(other_org_admin), "stranger's").json()
    client = client_for(org_admin)
    for other in (colleague, stranger):
        res = client.delete(f"{URL}/{other['id']}")
        assert res.status_code == 404 and res.json()["code"] == "not_found"
        assert _status(other["api_key"]) == 200
        assert ApiKey.objects.get(pk=other["id"]).revoked_at is None
    assert [k["id"] for k in client.get(f"{URL}?user_id={member.pk}&org_id={other_org_admin.org_id}").json()] == [
        mine["id"]
    ]


def test_revoking_a_key_that_is_not_a_uuid_is_a_json_404(org_admin):
    res = client_for(org_admin).delete(f"{URL}/not-a-uuid")
    assert res.status_code == 404 and res.json()["code"] == "not_found"


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_key_management_needs_a_valid_access_token(org_admin, method):
    key = org_admin.generate_api_key()
    row = ApiKey.objects.get(user=org_admin)
    url = f"{URL}/{row.pk}" if method == "delete" else URL
    for client, code in [
        (client_for(), "not_authenticated"),
        (client_for(token="not-a-token"), "invalid_token"),
        (client_for(api_key=key), "not_authenticated"),  # a key cannot list, mint or revoke keys
        (client_for(token=key), "not_authenticated"),
    ]:
        res = getattr(client, method)(url, {"name": "x"}, format="json")
        assert res.status_code == 401 and res.json()["code"] == code, (method, code)
    assert ApiKey.objects.count() == 1 and ApiKey.objects.get().revoked_at is None


# ---------------------------------------------------------------------------
# The seed's single key, now the key named "default"
# ---------------------------------------------------------------------------
def test_the_single_key_endpoint_manages_only_the_default_key(org_admin):
    client = client_for(org_admin)
    ci = _create(client, "ci").json()
    assert client.get("/api/auth/api-key").json()["has_api_key"] is False
    default = client.post("/api/auth/api-key")
    assert default.status_code == 201
    info = client.get("/api/auth/api-key").json()
    assert info["has_api_key"] is True and info["prefix"] == default.json()["api_key"][:12]
    assert sorted(k["name"] for k in client.get(URL).json()) == ["ci", "default"]
    assert client.delete("/api/auth/api-key").status_code == 200
    assert _status(default.json()["api_key"]) == 401
    assert _status(ci["api_key"]) == 200


def test_generate_api_key_replaces_only_the_default_key_and_authenticates(org_admin):
    ci = _create(client_for(org_admin), "ci").json()["api_key"]
    first = org_admin.generate_api_key()
    second = org_admin.generate_api_key()
    assert _status(first) == 401
    assert _status(second) == 200 and _status(ci) == 200
    assert client_for(api_key=second).get("/api/auth/me").json()["auth_method"] == "api_key"
    assert org_admin.has_api_key
    org_admin.revoke_api_key()
    assert _status(second) == 401 and _status(ci) == 401
    assert not User.objects.get(pk=org_admin.pk).has_api_key


def test_a_key_generated_before_the_user_is_saved_works_once_saved(org):
    user = User(email="seed@example.com", organization=org, role="member")
    key = user.generate_api_key()
    assert user.has_api_key and user.to_dict(include_sensitive=True)["api_key_prefix"] == key[:12]
    user.save()
    assert ApiKey.objects.get(user=user).name == "default"
    assert _status(key) == 200


def test_to_dict_describes_the_newest_live_key_and_lists_them(org_admin):
    first = services.api_key_create(user=org_admin, name="ci")[0]
    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=False):
        newest = services.api_key_create(user=org_admin, name="laptop")[0]
    data = org_admin.to_dict(include_sensitive=True)
    assert data["has_api_key"] is True and data["api_key_prefix"] == newest.prefix
    assert data["api_key_created_at"] == newest.created_at.isoformat() and data["api_key_last_used_at"] is None
    assert [k["name"] for k in data["api_keys"]] == ["laptop", "ci"]
    assert first.key_hash not in str(data) and "key_hash" not in str(data)
    me = client_for(org_admin).get("/api/auth/me").json()["user"]
    assert me["api_key_prefix"] == newest.prefix and me["has_api_key"] is True


def test_removing_a_member_ends_every_key_of_theirs(org_admin, member):
    keys = [_create(client_for(member), name).json()["api_key"] for name in ("ci", "laptop")]
    assert client_for(org_admin).delete(f"/api/org/members/{member.pk}").status_code == 200
    assert [_status(key) for key in keys] == [401, 401]


# ---------------------------------------------------------------------------
# Authentication: one query, and the key that sent the request
# ---------------------------------------------------------------------------
def test_a_key_is_checked_with_one_query_then_from_memory_and_names_the_key(org_admin):
    row, key = services.api_key_create(user=org_admin, name="ci")
    with CaptureQueriesContext(connection) as first:
        services.api_key_authenticate(key=key)  # the lookup, and last_used_at written once per interval
    with CaptureQueriesContext(connection) as warm:
        owner = services.api_key_authenticate(key=key)
    assert [q["sql"].split()[0] for q in first.captured_queries] == ["SELECT", "UPDATE"]
    assert warm.captured_queries == []
    assert owner.key_id == str(row.pk) and owner.user_id == str(org_admin.pk) and owner.org_id == org_admin.org_id


def test_a_remembered_key_still_expires_and_its_grace_period_still_ends_on_time(org_admin):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    _, key = services.api_key_create(user=org_admin, name="ci", expires_at=timezone.now() + timedelta(days=2))
    organization = org_admin.organization
    organization.grace_until = timezone.now() + timedelta(days=1)
    organization.save(update_fields=["grace_until"])
    assert _status(key) == 200
    with time_machine.travel(timezone.now() + timedelta(days=1, hours=1)):
        assert _status(key) == 403  # the grace period ended: no API access on the free tier
    with time_machine.travel(timezone.now() + timedelta(days=2, hours=1)):
        assert _status(key) == 401


def test_the_principal_carries_the_api_key_id_and_none_for_access_tokens(org_admin):
    row, key = services.api_key_create(user=org_admin, name="ci")
    by_key = Request(RequestFactory().get("/api/org", HTTP_X_API_KEY=key))
    principal, _ = APIKeyAuthentication().authenticate(by_key)
    assert principal.api_key_id == str(row.pk) and principal.auth_method == "api_key"
    token = jwt_auth.create_token_pair(str(org_admin.pk), org_admin.email, org_admin.org_id, "admin").access_token
    by_token = Request(RequestFactory().get("/api/org", HTTP_AUTHORIZATION=f"Bearer {token}"))
    principal, _ = JWTAuthentication().authenticate(by_token)
    assert principal.api_key_id is None
    context = jwt_auth.extract_user_from_request(by_key)
    assert context.authenticated and context.api_key_id == str(row.pk)


def test_a_key_of_a_deactivated_user_is_refused(org_admin):
    key = services.api_key_create(user=org_admin, name="ci")[1]
    User.objects.filter(pk=org_admin.pk).update(is_active=False)
    assert services.api_key_authenticate(key=key) is None


def test_the_key_of_another_user_with_the_same_name_is_unaffected_by_revocation(org, org_admin):
    colleague = UserFactory(organization=org, role="admin")
    mine = services.api_key_create(user=org_admin, name="ci")[1]
    theirs_row, theirs = services.api_key_create(user=colleague, name="ci")
    with pytest.raises(ServiceError) as refused:
        services.api_key_revoke(user=org_admin, key_id=theirs_row.pk)
    assert refused.value.status == 404
    assert _status(mine) == 200 and _status(theirs) == 200


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_of_one_name_make_one_key():
    user = OrganizationFactory(tier=SubscriptionTier.PROFESSIONAL, admin=True).owner
    barrier, outcomes = threading.Barrier(5), []

    def create():
        barrier.wait()
        try:
            services.api_key_create(user=User.objects.select_related("organization").get(pk=user.pk), name="ci")
            outcomes.append("created")
        except ServiceError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] + ["key_name_taken"] * 4
    assert ApiKey.objects.filter(user=user, name="ci").count() == 1


def test_the_member_list_shows_who_holds_a_live_key_in_one_query(org, org_admin, member):
    services.api_key_create(user=org_admin, name="ci")
    revoked, _ = services.api_key_create(user=member, name="old")
    services.api_key_revoke(user=member, key_id=revoked.pk)
    for _ in range(3):
        UserFactory(organization=org)
    client = client_for(org_admin)
    with CaptureQueriesContext(connection) as queries:
        members = client.get("/api/org/members").json()
    holders = {m["email"]: m["has_api_key"] for m in members}
    assert holders[org_admin.email] is True and holders[member.email] is False
    assert len([q for q in queries.captured_queries if "accounts_apikey" in q["sql"]]) == 1
