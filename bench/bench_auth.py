"""Request-authentication benchmark: requests/s of one endpoint with no auth, a JWT and an API key.

Runs the real WSGI application in-process (no socket, so the figures show the cost of the Django stack
and of authentication, not of the network) against a fresh SQLite database (or DATABASE_URL); with --http,
also over real HTTP to gunicorn with 2 workers, from 4 concurrent clients (a new connection per request, as
gunicorn's sync workers answer).

    .venv/bin/python bench/bench_auth.py [--seconds 3] [--quick] [--http]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_auth .venv/bin/python bench/bench_auth.py --http
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ARAGORA_DATA_DIR", tempfile.mkdtemp(prefix="aragora-bench-"))
os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
os.environ.setdefault("ARAGORA_JWT_SECRET", "bench-jwt-secret-that-is-long-enough-0123456789")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aragora_site.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
if os.environ.get("DATABASE_URL", "").startswith("postgres"):  # a database of its own, created afresh
    from bench.postgres import recreate_database

    recreate_database(os.environ["DATABASE_URL"])

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402


def _environ(url: str, headers: dict[str, str]) -> dict:
    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": url,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    env.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    return env


def _rps(app, url: str, headers: dict[str, str], seconds: float) -> tuple[float, str]:
    status_seen = []

    def start_response(status, _headers, exc_info=None):
        status_seen.append(status)

    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(50):
            b"".join(app(_environ(url, headers), start_response))
        n += 50
    return n / (time.perf_counter() - started), status_seen[-1]


def _interleaved(app, scenarios, seconds: float, rounds: int) -> list[tuple[float, str]]:
    """Measure every scenario in short alternating slices and keep each one's median: slow drift and
    background load hit all scenarios alike instead of whichever happened to run at the time."""
    for _name, url, headers in scenarios:
        _rps(app, url, headers, 0.2)  # warm up: caches, connections, imports
    samples: list[list[tuple[float, str]]] = [[] for _ in scenarios]
    for _ in range(rounds):
        for i, (_name, url, headers) in enumerate(scenarios):
            samples[i].append(_rps(app, url, headers, seconds / rounds))
    return [(statistics.median(r for r, _ in runs), runs[-1][1]) for runs in samples]


HTTP_CLIENTS = 4


def _http_rps(port: int, url: str, headers: dict[str, str], seconds: float) -> tuple[float, str]:
    """Requests/s of GET `url` from HTTP_CLIENTS threads for `seconds`; each request on its own connection."""
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {url} HTTP/1.0\r\nHost: 127.0.0.1\r\n{lines}\r\n".encode()
    counts, statuses = [0] * HTTP_CLIENTS, [""] * HTTP_CLIENTS
    deadline = time.perf_counter() + seconds

    def client(index: int) -> None:
        while True:
            with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
                sock.sendall(request)
                response = b""
                while chunk := sock.recv(65536):
                    response += chunk
            statuses[index] = response.split(b"\r\n", 1)[0].decode().split(" ", 1)[1]
            counts[index] += 1
            if time.perf_counter() >= deadline:
                return

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(HTTP_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started), statuses[0]


def _gunicorn() -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "ALLOWED_HOSTS": "127.0.0.1", "ARAGORA_TLS": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "aragora_site.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline:  # a deadline with retries: a busy machine starts gunicorn slowly
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.sendall(b"GET /ping/public HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                if sock.recv(64).split(b" ", 2)[1:2] == [b"200"]:
                    return server, port
        except OSError:
            time.sleep(0.25)
    server.kill()
    raise RuntimeError("gunicorn did not start within 120 s")


def _report(title: str, scenarios: list, results: list[tuple[float, str]]) -> None:
    print(title)
    print(f"{'scenario':<24}{'req/s':>10}{'vs baseline':>14}{'overhead':>10}  status")
    baseline = results[0][0]
    for (name, _url, _headers), (rps, status) in zip(scenarios, results, strict=True):
        ratio = rps / baseline
        print(f"{name:<24}{rps:>10.0f}{ratio:>13.2f}x{(1 - ratio) * 100:>9.1f}%  {status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per scenario (10 alternating slices)")
    parser.add_argument("--quick", action="store_true", help="0.5 s per scenario")
    parser.add_argument("--http", action="store_true", help="also over HTTP, to gunicorn with 2 workers")
    args = parser.parse_args()
    seconds = 0.5 if args.quick else args.seconds

    call_command("migrate", verbosity=0)
    settings.ROOT_URLCONF = "bench.ping_urls"
    from django.core.wsgi import get_wsgi_application

    from accounts import tokens
    from accounts.models import Organization, User, generate_slug
    from billing.tiers import SubscriptionTier

    org = Organization.objects.create(name="Bench", slug=generate_slug("Bench"), tier=SubscriptionTier.PROFESSIONAL)
    user = User.objects.create_user(email=f"bench-{time.time()}@example.com", password=None, organization=org)
    token = tokens.token_pair_for_user(user).access_token
    api_key = user.generate_api_key()
    app = get_wsgi_application()

    scenarios = [
        ("no auth (baseline)", "/ping/public", {}),
        ("JWT access token", "/ping/auth", {"Authorization": f"Bearer {token}"}),
        ("API key (X-API-Key)", "/ping/auth", {"X-API-Key": api_key}),
    ]
    print(f"database: {connection.vendor}; cache: {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}")
    _report("in-process (WSGI application, no socket):", scenarios, _interleaved(app, scenarios, seconds, rounds=10))
    if args.http:
        server, port = _gunicorn()
        try:
            for _name, url, headers in scenarios:  # warm every worker: connections, caches, imports
                _http_rps(port, url, headers, 1.0)
            samples: list[list[tuple[float, str]]] = [[] for _ in scenarios]
            for _ in range(10):
                for i, (_name, url, headers) in enumerate(scenarios):
                    samples[i].append(_http_rps(port, url, headers, seconds / 10))
            results = [(statistics.median(r for r, _ in runs), runs[-1][1]) for runs in samples]
            _report(f"over HTTP (gunicorn, 2 workers, {HTTP_CLIENTS} clients):", scenarios, results)
        finally:
            server.terminate()
            server.wait(10)

    def start_response(*_a, **_k):
        return None

    for name, headers in [("JWT", scenarios[1][2]), ("API key", scenarios[2][2])]:
        with CaptureQueriesContext(connection) as queries:
            b"".join(app(_environ("/ping/auth", headers), start_response))
        print(f"database queries per warm {name} request: {len(queries)}")


if __name__ == "__main__":
    main()
