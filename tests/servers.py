"""Starting real servers in tests: every wait is an overall deadline with retries, never one short timeout."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from psycopg import sql


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(
    url: str, *, process: subprocess.Popen | None = None, deadline_seconds: float = 180.0, status: int = 200
) -> None:
    """Poll `url` until it answers `status`; raise if the deadline passes or the server process exits.

    A busy 2-core machine can take many seconds to answer a first request, so each try may take up to 30 s
    and any request error is retried until the overall deadline.
    """
    deadline = time.monotonic() + deadline_seconds
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode} before answering {url}")
        try:
            answer = requests.get(url, timeout=min(30.0, max(1.0, deadline - time.monotonic())))
            if answer.status_code == status:
                return
            last_error = f"HTTP {answer.status_code}"
        except requests.RequestException as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(0.25)
    raise TimeoutError(f"{url} did not answer {status} within {deadline_seconds:.0f} s ({last_error})")


ROOT = Path(__file__).resolve().parent.parent
STRIPE_TEST_KEY = "sk_test_51AragoraFakeKey0000000000000000000000"
STRIPE_TEST_WEBHOOK_SECRET = "whsec_test_aragora_0123456789abcdef0123456789abcdef"
STRIPE_TEST_PRICES = {
    "STRIPE_PRICE_STARTER": "price_1AragoraStarter",
    "STRIPE_PRICE_PROFESSIONAL": "price_1AragoraProfessional",
    "STRIPE_PRICE_ENTERPRISE": "price_1AragoraEnterprise",
}
REDIRECT_HOST = "app.example.com"


def _fresh_database_url(data_dir: Path) -> tuple[str, str | None]:
    """Return a database URL for a server of its own and, on PostgreSQL, the database's name (to drop later).

    SQLite: a file in `data_dir`. PostgreSQL (DATABASE_URL set): a new database named after the configured one.
    """
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return f"sqlite:///{data_dir / 'live.sqlite3'}", None
    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'aragora'}_live_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlunsplit(parts._replace(path=f"/{name}")), name


def _drop_database(name: str) -> None:
    import psycopg

    parts = urlsplit(os.environ["DATABASE_URL"])
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _drop_cache_keys(redis_url: str, prefix: str) -> None:
    """Delete the server's keys from a shared Redis (its tokens' revocation entries live for days)."""
    if not redis_url:
        return
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        if keys := list(client.scan_iter(match=f"{prefix}:*", count=500)):
            client.delete(*keys)
    finally:
        client.close()


@contextmanager
def api_server(
    data_dir: Path, *, stripe_url: str, workers: int = 2, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """Run the service under gunicorn on a free port, on a fresh database, with Stripe at `stripe_url`; yield
    its base URL. DEBUG is off, as in production; the Redis cache is used when REDIS_URL is set."""
    database_url, pg_name = _fresh_database_url(data_dir)
    cache_prefix = f"live-{secrets.token_hex(4)}"
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "ARAGORA_STATICFILES_STORAGE"}}
    env.update(
        DATABASE_URL=database_url,
        ARAGORA_DATA_DIR=str(data_dir),
        ARAGORA_STATIC_ROOT=str(data_dir / "static"),
        DEBUG="0",
        ARAGORA_TLS="0",
        PYTHONPATH=str(ROOT),
        STRIPE_SECRET_KEY=STRIPE_TEST_KEY,
        STRIPE_API_BASE=stripe_url,
        STRIPE_WEBHOOK_SECRET=STRIPE_TEST_WEBHOOK_SECRET,
        ARAGORA_REDIRECT_ALLOWED_HOSTS=REDIRECT_HOST,
        ARAGORA_CACHE_PREFIX=cache_prefix,
        LOG_LEVEL="CRITICAL",
        **STRIPE_TEST_PRICES,
    )
    env.update(extra_env or {})
    proc = None
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=600
        )
        port = free_port()
        command = [sys.executable, "-m", "gunicorn", "aragora_site.wsgi", "--bind", f"127.0.0.1:{port}"]
        proc = subprocess.Popen(  # noqa: S603
            [*command, "--workers", str(workers), "--timeout", "120"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/api/health", process=proc)
        yield base
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if pg_name is not None:
            _drop_database(pg_name)
        _drop_cache_keys(env.get("REDIS_URL", ""), cache_prefix)
