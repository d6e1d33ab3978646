"""Infrastructure faults and hostile bodies, caused for real: a 503 with a stable code and Retry-After, or a
clean 4xx, and nothing half-written."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import requests
from django.db import connection
from django.test import Client

from accounts.models import User
from aragora_site.caches import reset_process_caches
from tests.conftest import client_for
from tests.servers import free_port, wait_for_http

ROOT = Path(__file__).resolve().parent.parent
STRONG = "a-long-and-unusual-passphrase-42"


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# ---------------------------------------------------------------------------
# Hostile bodies
# ---------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("depth", [100_000, 33])
def test_json_nested_too_deep_is_a_parse_error_even_before_sign_in(api, depth):
    body = b'{"email": "a@example.com", "password": ' + _nested(depth) + b"}"
    res = api.generic("POST", "/api/auth/login", body, content_type="application/json")
    assert res.status_code == 400 and res.json()["code"] == "parse_error"


@pytest.mark.django_db
def test_deeply_nested_usage_metadata_is_refused_and_nothing_recorded(org_admin):
    metadata = b"{" + b'"a":{' * 40 + b"}" * 40 + b"}"
    body = b'{"event_type": "api_call", "metadata": ' + metadata + b"}"
    res = client_for(org_admin).generic("POST", "/api/usage/events", body, content_type="application/json")
    assert res.status_code == 400 and res.json()["code"] == "parse_error"
    assert not org_admin.organization.usage_events.exists()


@pytest.mark.django_db
def test_a_body_over_the_limit_is_a_json_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = b'{"email": "a@example.com", "password": "' + b"x" * 2000 + b'"}'
    res = api.generic("POST", "/api/auth/login", body, content_type="application/json")
    assert res.status_code == 413 and res.json()["code"] == "request_too_large"


# ---------------------------------------------------------------------------
# Redis unreachable
# ---------------------------------------------------------------------------
@pytest.fixture
def redis_down(settings):
    """The shared cache is Redis on a port where nothing listens; calling the fixture's value brings it back."""
    working = settings.CACHES

    def back() -> None:
        settings.CACHES = working
        reset_process_caches()

    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
    reset_process_caches()
    yield back
    back()


@pytest.mark.django_db(transaction=True)
def test_without_redis_requests_fail_closed_with_503(admin_client_api, redis_down):
    res = admin_client_api.get("/api/org")
    assert res.status_code == 503 and res.json()["code"] == "cache_unavailable"
    assert res["Retry-After"]


@pytest.mark.django_db(transaction=True)
def test_registration_without_redis_leaves_no_account_so_a_retry_succeeds(redis_down, api):
    body = {"email": "new@example.com", "password": STRONG}
    res = api.post("/api/auth/register", body, format="json")
    assert res.status_code == 503 and res.json()["code"] == "cache_unavailable" and res["Retry-After"]
    assert not User.objects.filter(email="new@example.com").exists()

    redis_down()  # the cache is back
    assert api.post("/api/auth/register", body, format="json").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_health_reports_the_cache_fault(redis_down, api):
    res = api.get("/api/health")
    assert res.status_code == 503 and res["Retry-After"]
    assert res.json()["cache"] == {"backend": "RedisCache", "ok": False, "error": "cache_unavailable"}


# ---------------------------------------------------------------------------
# PostgreSQL refusing connections
# ---------------------------------------------------------------------------
@pytest.fixture
def database_refusing_connections(on_postgres):
    name = connection.settings_dict["NAME"]
    admin_dsn = {k: v for k, v in connection.get_connection_params().items() if k in {"host", "port", "user"}}

    def allow(flag: bool) -> None:
        with psycopg.connect(**admin_dsn, dbname="postgres", autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(flag).lower()}')

    allow(False)
    connection.close()
    yield
    allow(True)


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_database_answers_503_on_the_api_and_on_pages(database_refusing_connections, api):
    login = api.post("/api/auth/login", {"email": "a@example.com", "password": STRONG}, format="json")
    assert login.status_code == 503 and login.json()["code"] == "database_unavailable" and login["Retry-After"]
    health = api.get("/api/health")
    assert health.status_code == 503 and health.json()["database"]["error"] == "database_unavailable"
    browser = Client(raise_request_exception=False)
    page = browser.post("/accounts/login/", {"username": "a@example.com", "password": STRONG})
    assert page.status_code == 503 and page["Retry-After"] and "Temporarily unavailable" in page.content.decode()


# ---------------------------------------------------------------------------
# SQLite on a full disk (a real one: a small tmpfs)
# ---------------------------------------------------------------------------
@pytest.fixture
def server_on_a_small_disk(tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite default only: PostgreSQL's disk is the server's")
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], capture_output=True)  # noqa: S603, S607
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {made.stderr.decode().strip()}")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(ARAGORA_DATA_DIR=str(mount), DEBUG="0", ARAGORA_TLS="0", PYTHONPATH=str(ROOT))
    proc = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        port = free_port()
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "aragora_site.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/api/health", process=proc)
        yield base, mount
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        subprocess.run(["umount", "-l", str(mount)], check=False)  # noqa: S603, S607


def _fill(mount: Path) -> Path:
    filler = mount / "filler"
    # Unbuffered: a partial last write must not leave bytes behind for close() to fail on.
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def test_a_full_disk_answers_503_storage_full_and_health_sees_it(server_on_a_small_disk):
    base, mount = server_on_a_small_disk
    body = {"email": "first@example.com", "password": STRONG}
    filler = _fill(mount)

    res = requests.post(f"{base}/api/auth/register", json=body, timeout=30)
    assert res.status_code == 503 and res.json()["code"] == "storage_full" and res.headers["Retry-After"]
    health = requests.get(f"{base}/api/health", timeout=30)
    assert health.status_code == 503 and health.json()["database"]["error"] == "storage_full"

    filler.unlink()
    shutil.disk_usage(mount)
    assert requests.get(f"{base}/api/health", timeout=30).status_code == 200
    assert requests.post(f"{base}/api/auth/register", json=body, timeout=30).status_code == 201


@pytest.fixture
def gunicorn_on_postgres(on_postgres, tmp_path):
    """gunicorn (one worker, persistent connections) on a database of its own on the test PostgreSQL server."""
    params = connection.get_connection_params()
    admin_dsn = {k: v for k, v in params.items() if k in {"host", "port", "user"}}
    name = f"aragora_conn_{os.getpid()}"
    with psycopg.connect(**admin_dsn, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgres://{admin_dsn['user']}@{admin_dsn['host']}:{admin_dsn['port']}/{name}"
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DATABASE_URL=url, ARAGORA_DATA_DIR=str(tmp_path), DEBUG="0", ARAGORA_TLS="0", PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "aragora_site.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/api/health", process=proc)
        yield base, name, admin_dsn
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        with psycopg.connect(**admin_dsn, dbname="postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_connection_the_server_dropped_fails_one_request_with_503_and_the_next_reconnects(gunicorn_on_postgres):
    base, name, admin_dsn = gunicorn_on_postgres
    assert requests.get(f"{base}/api/health", timeout=30).status_code == 200  # the worker keeps its connection
    with psycopg.connect(**admin_dsn, dbname="postgres", autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
    login = {"email": "a@example.com", "password": STRONG}
    dropped = requests.post(f"{base}/api/auth/login", json=login, timeout=30)
    assert dropped.status_code == 503 and dropped.json()["code"] == "database_unavailable"
    assert dropped.headers["Retry-After"]
    assert requests.get(f"{base}/api/health", timeout=30).status_code == 200
