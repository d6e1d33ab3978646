"""Request-authentication benchmark: requests/s of one endpoint with no auth, a JWT and an API key.

Runs the real WSGI application in-process (no socket, so the figures show the cost of the Django stack
and of authentication, not of the network) against a fresh SQLite database (or DATABASE_URL).

    .venv/bin/python bench/bench_auth.py [--seconds 3] [--quick]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ARAGORA_DATA_DIR", tempfile.mkdtemp(prefix="aragora-bench-"))
os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
os.environ.setdefault("ARAGORA_JWT_SECRET", "bench-jwt-secret-that-is-long-enough-0123456789")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aragora_site.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.permissions import AllowAny, IsAuthenticated  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402


class PublicPing(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"ok": True})


class AuthPing(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"ok": True, "org": request.user.org_id})


urlpatterns = [path("ping/public", PublicPing.as_view()), path("ping/auth", AuthPing.as_view())]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per scenario (10 alternating slices)")
    parser.add_argument("--quick", action="store_true", help="0.5 s per scenario")
    args = parser.parse_args()
    seconds = 0.5 if args.quick else args.seconds

    call_command("migrate", verbosity=0)
    settings.ROOT_URLCONF = "bench.bench_auth"
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
    print(f"{'scenario':<24}{'req/s':>10}{'vs baseline':>14}{'overhead':>10}  status")
    results = _interleaved(app, scenarios, seconds, rounds=10)
    baseline = results[0][0]
    for (name, _url, _headers), (rps, status) in zip(scenarios, results, strict=True):
        ratio = rps / baseline
        print(f"{name:<24}{rps:>10.0f}{ratio:>13.2f}x{(1 - ratio) * 100:>9.1f}%  {status}")

    def start_response(*_a, **_k):
        return None

    for name, headers in [("JWT", scenarios[1][2]), ("API key", scenarios[2][2])]:
        with CaptureQueriesContext(connection) as queries:
            b"".join(app(_environ("/ping/auth", headers), start_response))
        print(f"database queries per warm {name} request: {len(queries)}")


if __name__ == "__main__":
    main()
