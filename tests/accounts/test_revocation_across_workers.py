"""Revocations made by another process (another gunicorn worker) take effect here at once."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts import jwt_auth
from tests.conftest import client_for

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    return f"postgres://{conf['USER']}@{conf['HOST']}:{conf['PORT']}/{conf['NAME']}"


def _in_another_worker(code: str) -> None:
    env = {**os.environ, "DATABASE_URL": _database_url(), "ARAGORA_DATA_DIR": str(settings.DATA_DIR)}
    script = f"import django; django.setup()\nfrom accounts import jwt_auth\n{code}"
    res = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "aragora_site.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr


@pytest.mark.django_db(transaction=True)
def test_token_revoked_by_another_worker_is_refused_here(org_admin):
    token = jwt_auth.token_pair_for_user(org_admin).access_token
    client = client_for(token=token)
    assert client.get("/api/auth/me").status_code == 200  # this worker's caches are warm
    jti = jwt_auth.validate_access_token(token).jti
    _in_another_worker(f"jwt_auth.revoke_token(token_jti={jti!r}, reason='elsewhere')")
    assert client.get("/api/auth/me").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_revoke_all_by_another_worker_is_seen_here(org_admin):
    token = jwt_auth.token_pair_for_user(org_admin).access_token
    client = client_for(token=token)
    assert client.get("/api/auth/me").status_code == 200
    _in_another_worker(f"jwt_auth.TokenBlacklist.get_instance().revoke_all_for_user({str(org_admin.id)!r})")
    assert client.get("/api/auth/me").status_code == 401
