import base64
import json
import time

import jwt
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import jwt_auth, tokens
from accounts.models import RevokedToken
from tests.conftest import client_for
from tests.factories import UserFactory

SECRET = "test-jwt-secret-that-is-long-enough-0123456789"


def _pair(user):
    return tokens.token_pair_for_user(user)


@pytest.mark.django_db
def test_access_token_round_trips_the_claims(org_admin):
    token = jwt_auth.create_access_token(str(org_admin.id), org_admin.email, org_admin.org_id, "admin")
    payload = jwt_auth.validate_access_token(token)
    assert payload.user_id == str(org_admin.id)
    assert payload.email == org_admin.email
    assert payload.org_id == org_admin.org_id
    assert payload.role == "admin"
    assert payload.is_expired is False
    assert payload.jti


@pytest.mark.django_db
def test_token_pair_has_expiry_in_seconds(org_admin, settings):
    pair = jwt_auth.create_token_pair(str(org_admin.id), org_admin.email, org_admin.org_id)
    assert pair.expires_in == 24 * 3600
    assert jwt_auth.validate_access_token(pair.access_token) is not None
    assert jwt_auth.validate_access_token(pair.refresh_token) is None  # wrong type


@pytest.mark.django_db
def test_expired_access_token_is_refused(org_admin):
    with time_machine.travel(timezone.now() - timezone.timedelta(hours=25)):
        token = _pair(org_admin).access_token
    assert jwt_auth.validate_access_token(token) is None


def _forge(claims, *, key=SECRET, alg="HS256"):
    return jwt.encode(claims, key, algorithm=alg)


def _b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.django_db
def test_tampered_none_and_foreign_algorithm_tokens_are_refused(org_admin):
    good = _pair(org_admin).access_token
    header, body, sig = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["role"] = "admin"
    claims["org_id"] = "00000000-0000-0000-0000-000000000000"
    tampered = f"{header}.{_b64(claims)}.{sig}"
    none_alg = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    hs512 = _forge(claims, alg="HS512")
    wrong_key = _forge(claims, key="another-secret-that-is-also-long-enough!!")
    for token in [tampered, none_alg, hs512, wrong_key, "not-a-jwt", "", "a.b.c"]:
        assert jwt_auth.validate_access_token(token) is None, token
        assert client_for(token=token).get("/api/auth/me").status_code == 401


@pytest.mark.django_db
def test_revoked_token_is_refused_and_the_revocation_is_stored(org_admin):
    token = _pair(org_admin).access_token
    jti = jwt_auth.validate_access_token(token).jti
    jwt_auth.revoke_token(token_jti=jti, reason="user_logout")
    assert jwt_auth.is_token_revoked(token_jti=jti)
    assert jwt_auth.validate_access_token(token) is None
    assert RevokedToken.objects.get(jti=jti).reason == "user_logout"


@pytest.mark.django_db
def test_revocation_survives_a_cleared_cache(org_admin):
    from accounts.revocation_cache import revocation_cache
    from tests import shared_cache

    token = _pair(org_admin).access_token
    jwt_auth.revoke_token(token_jti=jwt_auth.validate_access_token(token).jti, reason="x")
    shared_cache.clear()  # a restarted Redis, another host's cache
    revocation_cache.reset()  # a fresh worker process
    assert jwt_auth.validate_access_token(token) is None


@pytest.mark.django_db
def test_revoke_all_for_user_kills_tokens_issued_in_the_same_second(org_admin):
    with time_machine.travel(timezone.now().replace(microsecond=100), tick=False):
        before = _pair(org_admin)
        jwt_auth.TokenBlacklist.get_instance().revoke_all_for_user(user_id=str(org_admin.id), reason="compromised")
        after = _pair(org_admin)
    assert jwt_auth.validate_access_token(before.access_token) is None
    assert tokens.rotate_refresh_token(before.refresh_token) is None
    assert jwt_auth.validate_access_token(after.access_token) is not None


@pytest.mark.django_db
def test_blacklist_is_one_shared_instance_and_cleanup_drops_expired_rows(org_admin):
    blacklist = jwt_auth.TokenBlacklist.get_instance()
    assert blacklist is jwt_auth.TokenBlacklist.get_instance()
    jwt_auth.revoke_token(token_jti="old", reason="x", expires_at=timezone.now() - timezone.timedelta(seconds=1))
    jwt_auth.revoke_token(token_jti="live", reason="x")
    removed = blacklist.cleanup()
    assert removed["revoked_tokens"] == 1
    assert list(RevokedToken.objects.values_list("jti", flat=True)) == ["live"]


@pytest.mark.django_db
def test_refresh_rotation_is_single_use(org_admin):
    pair = _pair(org_admin)
    new = tokens.rotate_refresh_token(pair.refresh_token)
    assert new is not None and new.refresh_token != pair.refresh_token
    with pytest.raises(tokens.TokenReuseError):
        tokens.rotate_refresh_token(pair.refresh_token)
    # reuse is theft: every token of the user dies, including the freshly rotated ones
    assert jwt_auth.validate_access_token(new.access_token) is None
    assert tokens.rotate_refresh_token(new.refresh_token) is None


@pytest.mark.django_db
def test_rotated_refresh_token_keeps_the_family_absolute_expiry(org_admin):
    pair = _pair(org_admin)
    first_exp = tokens.decode_token_unchecked(pair.refresh_token).exp
    time.sleep(1.1)
    rotated = tokens.rotate_refresh_token(pair.refresh_token)
    assert tokens.decode_token_unchecked(rotated.refresh_token).exp == first_exp


@pytest.mark.django_db
def test_warm_jwt_request_costs_no_database_query(org_admin):
    token = _pair(org_admin).access_token
    assert jwt_auth.validate_access_token(token) is not None  # warms the cache
    with CaptureQueriesContext(connection) as queries:
        assert jwt_auth.validate_access_token(token) is not None
    assert len(queries) == 0


@pytest.mark.django_db
def test_deactivated_user_tokens_stop_working(org_admin):
    from accounts.services import user_deactivate

    pair = _pair(org_admin)
    assert jwt_auth.validate_access_token(pair.access_token)
    user_deactivate(user=org_admin)
    assert jwt_auth.validate_access_token(pair.access_token) is None
    assert tokens.rotate_refresh_token(pair.refresh_token) is None


class _Req:
    def __init__(self, headers):
        self.headers = headers


@pytest.mark.django_db
def test_extract_user_from_request_reads_jwt_and_api_keys(org_admin):
    token = _pair(org_admin).access_token
    ctx = jwt_auth.extract_user_from_request(_Req({"Authorization": f"Bearer {token}"}))
    assert ctx.authenticated and ctx.token_type == "access" and ctx.is_admin
    assert ctx.org_id == org_admin.org_id
    key = org_admin.generate_api_key()
    ctx = jwt_auth.extract_user_from_request(_Req({"X-API-Key": key}))
    assert ctx.authenticated and ctx.token_type == "api_key" and ctx.user_id == str(org_admin.id)
    assert not jwt_auth.extract_user_from_request(_Req({})).authenticated
    assert not jwt_auth.extract_user_from_request(_Req({"Authorization": "Bearer junk"})).authenticated


@pytest.mark.django_db
def test_member_role_is_not_admin(member):
    ctx = jwt_auth.extract_user_from_request(_Req({"Authorization": f"Bearer {_pair(member).access_token}"}))
    assert ctx.authenticated and not ctx.is_admin


@pytest.mark.django_db
def test_tokens_for_unknown_users_never_authenticate_requests():
    token = jwt_auth.create_access_token("user_123", "user@example.com", "org_456", "admin")
    assert jwt_auth.validate_access_token(token).user_id == "user_123"
    assert client_for(token=token).get("/api/auth/me").status_code == 401
    UserFactory()  # unrelated users do not help
