"""Behind TLS with DEBUG off: HSTS for a year, Secure cookies, and a Content-Security-Policy on every page."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
BEHIND_TLS = {
    "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
    "SECURE_HSTS_SECONDS": 31_536_000,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
}


@pytest.mark.django_db
@override_settings(**BEHIND_TLS)
def test_pages_behind_the_tls_proxy_get_hsts_secure_cookies_and_a_csp(org_admin):
    browser = Client(HTTP_X_FORWARDED_PROTO="https")
    page = browser.get("/accounts/login/")
    assert page["Strict-Transport-Security"] == "max-age=31536000"
    assert "script-src 'self'" in page["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert page.cookies["csrftoken"]["secure"] is True
    signed_in = browser.post("/accounts/login/", {"username": org_admin.email, "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in.cookies["sessionid"]["secure"] is True
    for path in ("/dashboard/", "/admin/login/", "/api/docs/", "/api/redoc/"):
        res = browser.get(path)
        assert res.status_code == 200, path
        assert res["Content-Security-Policy"].startswith("default-src 'self'"), path


@pytest.mark.django_db
@override_settings(**BEHIND_TLS)
def test_plain_http_gets_no_hsts_and_json_gets_no_csp(api):
    assert "Strict-Transport-Security" not in Client().get("/accounts/login/")
    assert "Content-Security-Policy" not in api.get("/api/health")


def _settings_with(env_overrides: dict[str, str], expression: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "ARAGORA_TLS", "ARAGORA_PROXY_SSL_HEADER"}}
    env.update(env_overrides)
    code = f"import django; django.setup(); from django.conf import settings as s; print({expression})"
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_defaults_to_tls_and_reads_the_proxy_header():
    production = {"DEBUG": "0", "DJANGO_SETTINGS_MODULE": "aragora_site.settings"}
    res = _settings_with(
        {**production, "ARAGORA_PROXY_SSL_HEADER": "X-Forwarded-Proto: https"},
        "s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER",
    )
    assert res.stdout.strip() == "31536000 True True ('HTTP_X_FORWARDED_PROTO', 'https')", res.stderr
    bad = _settings_with({**production, "ARAGORA_PROXY_SSL_HEADER": "X-Forwarded-Proto"}, "s.SECURE_PROXY_SSL_HEADER")
    assert bad.returncode != 0 and "ARAGORA_PROXY_SSL_HEADER" in bad.stderr
