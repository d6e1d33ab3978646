import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_health_reports_database_and_cache(api):
    res = api.get("/api/health")
    assert res.status_code == 200
    body = res.json()
    assert body["status"] == "ok" and body["database"]["ok"] and body["cache"]["ok"]


@pytest.mark.django_db
def test_openapi_schema_documents_every_endpoint(api):
    res = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert res.status_code == 200
    paths = res.json()["paths"]
    for path in [
        "/api/auth/register",
        "/api/auth/login",
        "/api/auth/refresh",
        "/api/auth/api-keys",
        "/api/auth/api-keys/{key_id}",
        "/api/org/members/{user_id}",
        "/api/org/invitations",
        "/api/org/invitations/{invitation_id}",
        "/api/org/invitations/accept",
    ]:
        assert path in paths
    assert api.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_unknown_api_path_is_a_json_404(api):
    res = api.get("/api/nope")
    assert res.status_code == 404 and res.json()["code"] == "not_found"


def _start(env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ARAGORA_JWT_SECRET", "DEBUG"}}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_production_refuses_to_start_without_the_jwt_secret():
    res = _start({"SECRET_KEY": "k" * 50, "DEBUG": "0"})
    assert res.returncode != 0 and "ARAGORA_JWT_SECRET must be set" in res.stderr


def test_production_refuses_a_short_jwt_secret_and_a_missing_secret_key():
    short = _start({"SECRET_KEY": "k" * 50, "ARAGORA_JWT_SECRET": "short", "DEBUG": "0"})
    assert "at least 32 bytes" in short.stderr
    missing = _start({"ARAGORA_JWT_SECRET": "j" * 40, "DEBUG": "0"})
    assert missing.returncode != 0 and "SECRET_KEY must be set" in missing.stderr


def test_development_generates_a_secret_and_warns():
    res = _start({"DEBUG": "1"})
    assert res.returncode == 0
    assert "ARAGORA_JWT_SECRET is not set" in res.stderr and "die on restart" in res.stderr


@pytest.mark.django_db
def test_openapi_schema_is_valid_and_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/auth/login" in out.read_text()


@pytest.mark.django_db
def test_every_admin_page_renders_for_staff(client, org_admin):
    from django.contrib import admin
    from django.urls import reverse

    from accounts.models import User

    staff = User.objects.create_superuser(email="staff@example.com", password="staff-password-123")
    client.force_login(staff)
    for model in admin.site._registry:
        opts = model._meta
        for view in ("changelist", "add"):
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}")
            res = client.get(url)
            assert res.status_code in {200, 403}, (url, res.status_code)
        if model._meta.app_label in {"accounts", "billing", "usage"}:
            assert client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_write_locked_database_is_a_503_to_retry_and_writes_nothing(org_admin):
    import sqlite3

    from django.db import connection

    from tests.conftest import client_for
    from usage.models import UsageEvent

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's single-writer lock; PostgreSQL has row locks")
    client = client_for(org_admin)
    connection.cursor().execute("PRAGMA busy_timeout = 200")  # do not wait the production 20 s here
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        body = {"event_type": "agent_call", "provider": "openai", "model": "gpt-4o", "tokens_in": 1}
        res = client.post("/api/usage/events", body, format="json")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert res.status_code == 503 and res.json()["code"] == "database_busy"
    assert res["Retry-After"] == "1"
    assert not UsageEvent.objects.exists()
    assert client.post("/api/usage/events", body, format="json").status_code == 201
