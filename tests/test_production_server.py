"""The service as it runs in production: gunicorn with several worker processes, real HTTP, DEBUG off."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.html_forms import form_fields
from tests.servers import free_port, wait_for_http

ROOT = Path(__file__).resolve().parent.parent
STRONG = "a-long-and-unusual-passphrase-42"
STAFF = {"ARAGORA_ADMIN_EMAIL": "ops@example.com", "ARAGORA_ADMIN_PASSWORD": "an-operators-passphrase-31"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("server-data")
    unset = {"DATABASE_URL", "REDIS_URL", "DEBUG", "ARAGORA_STATICFILES_STORAGE"}  # production defaults
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        ARAGORA_DATA_DIR=str(data_dir),
        ARAGORA_STATIC_ROOT=str(data_dir / "static"),
        DEBUG="0",
        ARAGORA_TLS="0",  # plain HTTP on loopback, like scripts/serve.sh
        PYTHONPATH=str(ROOT),
    )
    setup = (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"], ["bootstrap_demo"])
    for command in setup:
        subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", *command], cwd=ROOT, env={**env, **STAFF}, check=True, timeout=300
        )
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "aragora_site.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "3"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/api/health", process=proc)
    except (RuntimeError, TimeoutError) as exc:
        proc.terminate()
        pytest.fail(f"gunicorn did not come up: {exc}")
    yield base
    proc.terminate()
    proc.wait(timeout=30)


def _me_statuses(base, token, n=60, path="/api/auth/me"):
    """GET `path` n times from 12 concurrent clients, so that every worker serves some of them."""

    def one(_):
        with requests.Session() as session:
            return session.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)

    with ThreadPoolExecutor(max_workers=12) as pool:
        return [res.status_code for res in pool.map(one, range(n))]


def test_logout_is_seen_by_every_gunicorn_worker_at_once(server):
    res = requests.post(
        f"{server}/api/auth/register",
        json={"email": "workers@example.com", "password": STRONG, "name": "W"},
        timeout=10,
    )
    assert res.status_code == 201, res.text
    tokens = res.json()
    assert set(_me_statuses(server, tokens["access_token"])) == {200}  # every worker now holds it as valid
    out = requests.post(
        f"{server}/api/auth/logout",
        json={"refresh_token": tokens["refresh_token"]},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    )
    assert out.status_code == 200
    assert set(_me_statuses(server, tokens["access_token"])) == {401}


def _staff_session(base: str) -> requests.Session:
    browser = requests.Session()
    login = form_fields(browser.get(f"{base}/admin/login/", timeout=30).text, "login-form")
    login.update(username=STAFF["ARAGORA_ADMIN_EMAIL"], password=STAFF["ARAGORA_ADMIN_PASSWORD"])
    res = browser.post(f"{base}/admin/login/?next=/admin/", data=login, timeout=30)
    assert res.status_code == 200 and "/admin/logout/" in res.text, res.text[:500]
    return browser


def test_an_admin_demoted_in_django_admin_is_refused_by_every_worker_at_once(server):
    res = requests.post(
        f"{server}/api/auth/register",
        json={"email": "demoted@example.com", "password": STRONG, "name": "D"},
        timeout=30,
    )
    assert res.status_code == 201, res.text
    token, user_id = res.json()["access_token"], res.json()["user"]["id"]
    assert set(_me_statuses(server, token, path="/api/org")) == {200}  # every worker now trusts the token

    browser = _staff_session(server)
    url = f"{server}/admin/accounts/user/{user_id}/change/"
    form = form_fields(browser.get(url, timeout=30).text, "user_form")
    assert form["role"] == "admin"
    form["role"] = "member"
    assert browser.post(url, data=form, timeout=30, allow_redirects=False).status_code == 302

    assert set(_me_statuses(server, token, path="/api/org")) == {401}


def test_login_throttling_is_shared_by_the_workers(server):
    body = {"email": "nobody@example.com", "password": "wrong-password"}
    statuses = [requests.post(f"{server}/api/auth/login", json=body, timeout=10).status_code for _ in range(7)]
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429]


def test_errors_are_json_and_static_files_are_served_without_debug(server):
    headers = {"Content-Type": "application/json"}
    res = requests.post(f"{server}/api/auth/login", data=b"{not json", headers=headers, timeout=10)
    assert res.status_code == 400 and res.json()["code"] == "parse_error"
    assert requests.get(f"{server}/api/nope", timeout=10).json()["code"] == "not_found"
    page = requests.get(f"{server}/admin/login/", timeout=10).text
    stylesheet = page.split('href="/static/admin/css/base.', 1)[1].split('"', 1)[0]  # hashed by collectstatic
    assert requests.get(f"{server}/static/admin/css/base.{stylesheet}", timeout=10).status_code == 200
