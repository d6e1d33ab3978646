import json
import threading

import pytest
from django.db import connection

from accounts import jwt_auth, tokens
from accounts.models import LoginThrottle, Organization, RevokedToken, User
from tests.conftest import client_for
from tests.factories import PASSWORD, UserFactory

STRONG = "a-long-and-unusual-passphrase-42"


def _register(api, **overrides):
    body = {"email": "ada@example.com", "password": STRONG, "name": "Ada", **overrides}
    return api.post("/api/auth/register", body, format="json")


@pytest.mark.django_db
def test_register_creates_a_free_organization_administered_by_the_user(api):
    res = _register(api, organization_name="Analytical Engines")
    assert res.status_code == 201
    body = res.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86400
    assert body["organization"]["tier"] == "free"
    assert body["organization"]["slug"] == "analytical-engines"
    user = User.objects.get(email="ada@example.com")
    assert user.role == "admin" and user.organization.owner == user
    me = client_for(token=body["access_token"]).get("/api/auth/me")
    assert me.status_code == 200 and me.json()["user"]["email"] == "ada@example.com"


@pytest.mark.django_db
def test_register_refuses_duplicates_weak_passwords_and_wrong_types(api):
    assert _register(api).status_code == 201
    dup = _register(api, email="ADA@example.com")
    assert dup.status_code == 409 and dup.json()["code"] == "email_taken"
    weak = _register(api, email="bob@example.com", password="password")
    assert weak.status_code == 400 and weak.json()["code"] == "invalid"
    typed = _register(api, email="carl@example.com", password=12345678901234)
    assert typed.status_code == 400 and "password" in typed.json()["errors"]
    huge = _register(api, email="dan@example.com", password="x" * 1_000_000)
    assert huge.status_code == 400
    assert User.objects.count() == 1 and Organization.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b'"string"', b"null", b'{"email": ["a"], "password": {}}'],
)
def test_malformed_bodies_get_a_json_400(api, body):
    for url in ["/api/auth/register", "/api/auth/login", "/api/auth/refresh"]:
        res = api.post(url, body, content_type="application/json")
        assert res.status_code == 400, (url, res.content)
        assert res.json()["code"] in {"parse_error", "invalid"}


@pytest.mark.django_db
def test_login_gives_the_same_answer_for_unknown_email_and_wrong_password(api, org_admin):
    good = api.post("/api/auth/login", {"email": org_admin.email.upper(), "password": PASSWORD}, format="json")
    assert good.status_code == 200 and jwt_auth.validate_access_token(good.json()["access_token"])
    wrong = api.post("/api/auth/login", {"email": org_admin.email, "password": "nope"}, format="json")
    unknown = api.post("/api/auth/login", {"email": "ghost@example.com", "password": "nope"}, format="json")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "Invalid e-mail or password.", "code": "invalid_credentials"}


@pytest.mark.django_db
def test_repeated_login_failures_for_one_email_are_throttled(api, org_admin):
    for _ in range(5):
        api.post("/api/auth/login", {"email": org_admin.email, "password": "nope"}, format="json")
    locked = api.post("/api/auth/login", {"email": org_admin.email, "password": PASSWORD}, format="json")
    assert locked.status_code == 429 and locked.json()["code"] == "too_many_attempts"


@pytest.mark.django_db
def test_repeated_failures_from_one_address_are_throttled_and_forwarded_for_is_not_trusted(api, org_admin, settings):
    settings.ARAGORA_LOGIN_ADDRESS_FAILURES = 5
    for i in range(5):
        api.post(
            "/api/auth/login",
            {"email": f"guess{i}@example.com", "password": "nope"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{i}",
        )
    addresses = LoginThrottle.objects.filter(scope="address").values_list("key", "failures")
    assert list(addresses) == [("127.0.0.1", 5)]
    res = api.post("/api/auth/login", {"email": org_admin.email, "password": PASSWORD}, format="json")
    assert res.status_code == 429


@pytest.mark.django_db
def test_refresh_returns_a_new_pair_and_reuse_revokes_every_session(api, org_admin):
    pair = tokens.token_pair_for_user(org_admin)
    first = api.post("/api/auth/refresh", {"refresh_token": pair.refresh_token}, format="json")
    assert first.status_code == 200
    new_access = first.json()["access_token"]
    assert client_for(token=new_access).get("/api/auth/me").status_code == 200
    replay = api.post("/api/auth/refresh", {"refresh_token": pair.refresh_token}, format="json")
    assert replay.status_code == 401 and replay.json()["code"] == "refresh_token_reused"
    assert client_for(token=new_access).get("/api/auth/me").status_code == 401
    assert client_for(token=pair.access_token).get("/api/auth/me").status_code == 401


@pytest.mark.django_db
def test_refresh_refuses_access_tokens_and_garbage(api, org_admin):
    pair = tokens.token_pair_for_user(org_admin)
    for token in [pair.access_token, "garbage", "a.b.c"]:
        res = api.post("/api/auth/refresh", {"refresh_token": token}, format="json")
        assert res.status_code == 401 and res.json()["code"] == "invalid_token"


@pytest.mark.django_db(transaction=True)
def test_concurrent_refresh_with_one_token_yields_at_most_one_pair(org_admin):
    pair = tokens.token_pair_for_user(org_admin)
    statuses = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        res = client_for().post("/api/auth/refresh", {"refresh_token": pair.refresh_token}, format="json")
        statuses.append(res.status_code)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count(200) <= 1
    assert set(statuses) <= {200, 401}


@pytest.mark.django_db
def test_logout_kills_the_access_token_and_the_given_refresh_token(org_admin):
    pair = tokens.token_pair_for_user(org_admin)
    client = client_for(token=pair.access_token)
    res = client.post("/api/auth/logout", {"refresh_token": pair.refresh_token}, format="json")
    assert res.status_code == 200 and res.json()["success"] is True
    assert client.get("/api/auth/me").status_code == 401
    assert (
        client_for().post("/api/auth/refresh", {"refresh_token": pair.refresh_token}, format="json").status_code == 401
    )
    assert RevokedToken.objects.filter(user=org_admin, reason="logout").count() == 2


@pytest.mark.django_db
def test_revoke_endpoint_revokes_own_tokens_only(org_admin, member):
    mine = tokens.token_pair_for_user(org_admin)
    theirs = tokens.token_pair_for_user(member)
    client = client_for(org_admin)
    ok = client.post("/api/auth/revoke", {"token": mine.access_token, "reason": "manual_revocation"}, format="json")
    assert ok.json() == {"success": True, "message": "Token revoked successfully"}
    assert client_for(token=mine.access_token).get("/api/auth/me").status_code == 401
    denied = client.post("/api/auth/revoke", {"token": theirs.access_token}, format="json")
    assert denied.status_code == 403
    assert client_for(token=theirs.access_token).get("/api/auth/me").status_code == 200
    bad = client.post("/api/auth/revoke", {"token": "not-a-token"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_token"


@pytest.mark.django_db
def test_staff_may_revoke_anyones_token(member):
    staff = UserFactory(is_staff=True)
    theirs = tokens.token_pair_for_user(member)
    res = client_for(staff).post("/api/auth/revoke", {"token": theirs.access_token}, format="json")
    assert res.status_code == 200
    assert client_for(token=theirs.access_token).get("/api/auth/me").status_code == 401


@pytest.mark.django_db
def test_revoke_all_signs_out_every_session(org_admin):
    a, b = tokens.token_pair_for_user(org_admin), tokens.token_pair_for_user(org_admin)
    res = client_for(token=a.access_token).post("/api/auth/revoke-all", {}, format="json")
    assert res.status_code == 200
    assert client_for(token=a.access_token).get("/api/auth/me").status_code == 401
    assert client_for(token=b.access_token).get("/api/auth/me").status_code == 401


@pytest.mark.django_db
def test_password_change_revokes_other_sessions_and_returns_a_working_pair(org_admin):
    other = tokens.token_pair_for_user(org_admin)
    res = client_for(org_admin).post(
        "/api/auth/password", {"old_password": PASSWORD, "new_password": STRONG}, format="json"
    )
    assert res.status_code == 200
    assert client_for(token=res.json()["access_token"]).get("/api/auth/me").status_code == 200
    assert client_for(token=other.access_token).get("/api/auth/me").status_code == 401
    org_admin.refresh_from_db()
    assert org_admin.verify_password(STRONG)


@pytest.mark.django_db
def test_password_change_with_wrong_old_password_changes_nothing(org_admin):
    token = tokens.token_pair_for_user(org_admin).access_token
    res = client_for(token=token).post(
        "/api/auth/password", {"old_password": "wrong", "new_password": STRONG}, format="json"
    )
    assert res.status_code == 400
    org_admin.refresh_from_db()
    assert org_admin.verify_password(PASSWORD)
    assert client_for(token=token).get("/api/auth/me").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/api/auth/logout"),
        ("post", "/api/auth/revoke"),
        ("post", "/api/auth/revoke-all"),
        ("post", "/api/auth/password"),
        ("get", "/api/auth/me"),
        ("get", "/api/auth/api-key"),
        ("post", "/api/auth/api-key"),
        ("delete", "/api/auth/api-key"),
        ("get", "/api/org"),
        ("get", "/api/org/members"),
        ("post", "/api/org/members"),
    ],
)
def test_authenticated_endpoints_refuse_missing_credentials(api, method, url):
    res = getattr(api, method)(url, {}, format="json")
    assert res.status_code == 401
    assert res.json()["code"] == "not_authenticated"


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["nul\x00", "half\ud800"])
def test_text_postgresql_cannot_store_is_refused_at_registration(api, name):
    body = {"email": "ada@example.com", "password": STRONG, "name": name, "organization_name": name}
    res = api.post("/api/auth/register", json.dumps(body), content_type="application/json")
    assert res.status_code == 400 and res.json()["code"] == "invalid"
    assert not User.objects.exists()
