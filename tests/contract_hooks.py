"""Schemathesis hooks for the live contract run (tests/test_api_live_contract.py loads them through
SCHEMATHESIS_HOOKS): the credentials every request carries, renewed whenever an operation revoked them.

CONTRACT_BASE_URL is the server; CONTRACT_AUTH is `bearer`, `api_key` or `none` (no credentials at all). Each
identity is a new account whose organization is upgraded to Professional through Checkout at the Stripe
stand-in (so that API keys and every admin operation are reachable); CONTRACT_LOG names a file that receives one
line per identity minted and per revocation seen.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass, field

import requests
import schemathesis

BASE = os.environ.get("CONTRACT_BASE_URL", "")
MODE = os.environ.get("CONTRACT_AUTH", "none")
LOG = os.environ.get("CONTRACT_LOG", "")
PASSWORD = "a-long-and-unusual-passphrase-42"
CHECKOUT = {
    "tier": "professional",
    "success_url": "https://app.example.com/ok",
    "cancel_url": "https://app.example.com/no",
}
# Operations that can end the credentials they are called with (sessions, keys, the caller's own membership).
REVOKING = {
    ("POST", "/api/auth/logout"),
    ("POST", "/api/auth/revoke"),
    ("POST", "/api/auth/revoke-all"),
    ("POST", "/api/auth/password"),
    ("POST", "/api/auth/api-key"),
    ("DELETE", "/api/auth/api-key"),
    ("DELETE", "/api/auth/api-keys/{key_id}"),
    ("PATCH", "/api/org/members/{user_id}"),
    ("DELETE", "/api/org/members/{user_id}"),
}
# Operations that answer 401 for reasons of their own (a wrong password, an unknown refresh token).
PUBLIC = {"/api/auth/login", "/api/auth/refresh", "/api/auth/register", "/api/billing/webhook"}


def _log(line: str) -> None:
    if LOG:
        with open(LOG, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def _call(method: str, path: str, **kwargs) -> requests.Response:
    deadline = time.monotonic() + 120
    while True:
        try:
            return requests.request(method, f"{BASE}{path}", timeout=60, **kwargs)
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _professional_account() -> dict[str, str]:
    """Register a new account, pay for Professional at the Stripe stand-in, and return its bearer header."""
    email = f"contract-{secrets.token_hex(6)}@example.com"
    account = _call("POST", "/api/auth/register", json={"email": email, "password": PASSWORD})
    assert account.status_code == 201, account.text
    headers = {"Authorization": f"Bearer {account.json()['access_token']}"}
    session = _call("POST", "/api/billing/checkout", json=CHECKOUT, headers=headers)
    assert session.status_code == 201, session.text
    # Paying on the hosted page makes the stand-in send its signed webhooks to the server.
    paid = requests.post(session.json()["url"], allow_redirects=False, timeout=60)
    assert paid.status_code == 303, paid.text
    deadline = time.monotonic() + 60
    while _call("GET", "/api/org", headers=headers).json().get("tier") != "professional":
        assert time.monotonic() < deadline, "the organization was not upgraded by the webhook"
        time.sleep(0.2)
    return headers


def mint_credentials() -> dict[str, str]:
    """Return fresh credentials of the run's kind: a bearer access token or an API key."""
    headers = _professional_account()
    if MODE == "bearer":
        return headers
    key = _call("POST", "/api/auth/api-keys", json={"name": f"contract-{secrets.token_hex(4)}"}, headers=headers)
    assert key.status_code == 201, key.text
    return {"X-API-Key": key.json()["api_key"]}


@dataclass
class Credentials:
    headers: dict[str, str] = field(default_factory=dict)
    stale: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self) -> dict[str, str]:
        with self.lock:
            if self.stale:
                self.headers, self.stale = mint_credentials(), False
                _log(f"minted {MODE}")
            return self.headers

    def still_valid(self) -> bool:
        path = "/api/auth/me" if MODE == "bearer" else "/api/org"
        return _call("GET", path, headers=self.headers).status_code == 200


CREDENTIALS = Credentials()

if MODE != "none":

    @schemathesis.auth(refresh_interval=None, retry_on=[])
    class LiveCredentials:
        def get(self, case, ctx):
            return CREDENTIALS.current()

        def set(self, case, data, ctx):
            case.headers = {**(case.headers or {}), **data}

    @schemathesis.hook
    def before_call(context, case, kwargs):
        """Send the credentials valid now: cases are generated (and given credentials) ahead of their call."""
        case.headers = {**(case.headers or {}), **CREDENTIALS.current()}

    @schemathesis.hook
    def after_call(context, case, response):
        """Renew the credentials after an operation that revoked them (and check after any other 401)."""
        operation = (case.operation.method.upper(), case.operation.path)
        if operation in REVOKING and response.status_code < 300:
            CREDENTIALS.stale = True
            _log(f"revoked by {operation[0]} {operation[1]}")
        elif response.status_code == 401 and case.operation.path not in PUBLIC and not CREDENTIALS.still_valid():
            CREDENTIALS.stale = True
            _log(f"unexpectedly revoked after {operation[0]} {operation[1]}")
