"""The API does what its schema says, over real HTTP to gunicorn (two workers): idempotency keys that cover every
parameter, Stripe's refusals by cause, and the inputs the schema forbids refused with the usual 400 body."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

STRONG = "a-long-and-unusual-passphrase-42"
URLS = {"success_url": "https://app.example.com/ok", "cancel_url": "https://app.example.com/no"}


def register(base: str) -> dict:
    """Register a new account (the admin of a new Free organization) and return the answer."""
    email = f"contract-{secrets.token_hex(6)}@example.com"
    res = requests.post(f"{base}/api/auth/register", json={"email": email, "password": STRONG}, timeout=60)
    assert res.status_code == 201, res.text
    return res.json()


def bearer(account: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {account['access_token']}"}


def assert_error(res: requests.Response, status: int, code: str) -> dict:
    assert res.status_code == status, res.text
    assert res.headers["Content-Type"].startswith("application/json")
    body = res.json()
    assert body["code"] == code and isinstance(body["detail"], str)
    return body


def test_checkout_key_reused_with_another_parameter_is_409_before_stripe_on_every_worker(live_api, fake_stripe):
    headers = {**bearer(register(live_api)), "Idempotency-Key": "upgrade-click-1"}
    first = requests.post(
        f"{live_api}/api/billing/checkout", json={"tier": "starter", **URLS}, headers=headers, timeout=60
    )
    assert first.status_code == 201, first.text
    assert len(fake_stripe.requests_to("POST", "/v1/checkout/sessions")) == 1

    other = {"tier": "starter", **URLS, "success_url": "https://app.example.com/elsewhere"}

    def conflicting(_):
        return requests.post(f"{live_api}/api/billing/checkout", json=other, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=4) as pool:  # several requests, so that both workers answer some
        answers = list(pool.map(conflicting, range(8)))
    for res in answers:
        body = assert_error(res, 409, "idempotency_conflict")
        assert "Idempotency-Key" in body["detail"]
    assert len(fake_stripe.requests_to("POST", "/v1/checkout/sessions")) == 1, "refused before Stripe is called"

    again = requests.post(
        f"{live_api}/api/billing/checkout", json={"tier": "starter", **URLS}, headers=headers, timeout=60
    )
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    other_tier = requests.post(
        f"{live_api}/api/billing/checkout", json={"tier": "professional", **URLS}, headers=headers, timeout=60
    )
    assert_error(other_tier, 409, "idempotency_conflict")


def test_the_same_key_for_another_operation_is_a_conflict_and_a_new_key_is_a_new_session(live_api, fake_stripe):
    account = register(live_api)
    headers = {**bearer(account), "Idempotency-Key": "k-shared"}
    assert requests.post(
        f"{live_api}/api/billing/checkout", json={"tier": "starter", **URLS}, headers=headers, timeout=60
    ).ok
    portal = requests.post(
        f"{live_api}/api/billing/portal", json={"return_url": "https://app.example.com/a"}, headers=headers, timeout=60
    )
    assert_error(portal, 409, "idempotency_conflict")
    fresh = {**headers, "Idempotency-Key": "k-fresh"}
    other = requests.post(
        f"{live_api}/api/billing/checkout", json={"tier": "starter", **URLS}, headers=fresh, timeout=60
    )
    assert other.status_code == 201
    assert len(fake_stripe.requests_to("POST", "/v1/checkout/sessions")) == 2


@pytest.mark.parametrize(
    ("stripe_status", "status", "code"),
    [(429, 503, "stripe_rate_limited"), (402, 402, "card_declined"), (400, 400, "stripe_invalid_request")],
)
def test_stripe_refusals_answer_by_cause_and_free_the_key(live_api, fake_stripe, stripe_status, status, code):
    headers = {**bearer(register(live_api)), "Idempotency-Key": "k-refused"}
    fake_stripe.fail_next("POST", "/v1/checkout/sessions", stripe_status)
    refused = requests.post(
        f"{live_api}/api/billing/checkout", json={"tier": "starter", **URLS}, headers=headers, timeout=60
    )
    assert_error(refused, status, code)
    assert ("Retry-After" in refused.headers) == (status == 503)
    # Nothing was kept: the same key may now be used for a corrected request.
    other = {"tier": "professional", **URLS}
    assert requests.post(f"{live_api}/api/billing/checkout", json=other, headers=headers, timeout=60).status_code == 201


@pytest.mark.parametrize("amount", ["  ", "", "1e3", "-5", "0", "0.00", "1.001", " 10", 10, "1000000000.01", None])
def test_a_budget_the_schema_forbids_is_refused_and_the_budget_kept(live_api, amount):
    headers = bearer(register(live_api))
    url = f"{live_api}/api/costs/budget"
    assert requests.put(url, json={"monthly_budget_usd": "25.50"}, headers=headers, timeout=60).status_code == 200
    if amount is None:  # null is allowed: it removes the budget
        assert requests.put(url, json={"monthly_budget_usd": None}, headers=headers, timeout=60).status_code == 200
        assert requests.get(url, headers=headers, timeout=60).json()["monthly_budget_usd"] is None
        return
    res = requests.put(url, json={"monthly_budget_usd": amount}, headers=headers, timeout=60)
    body = assert_error(res, 400, "invalid")
    assert "monthly_budget_usd" in body["errors"]
    assert requests.get(url, headers=headers, timeout=60).json()["monthly_budget_usd"] == "25.50"


@pytest.mark.parametrize("amount", ["0.01", "7", "1000000000", "999999999.99"])
def test_plain_budgets_are_stored_exactly(live_api, amount):
    headers = bearer(register(live_api))
    res = requests.put(f"{live_api}/api/costs/budget", json={"monthly_budget_usd": amount}, headers=headers, timeout=60)
    assert res.status_code == 200 and res.json()["monthly_budget_usd"] == f"{float(amount):.2f}"


@pytest.mark.parametrize(
    "occurred_at",
    ["2026-11-30", "2026-11-30T10:00:00", "2026-11-30T10:00Z", "2026-11-30 10:00:00Z", "2026-11-30T10:00:00+0100"],
)
def test_occurred_at_without_a_time_zone_or_seconds_is_refused(live_api, occurred_at):
    headers = bearer(register(live_api))
    event = {"event_type": "api_call", "provider": "openai", "occurred_at": occurred_at}
    res = requests.post(f"{live_api}/api/usage/events", json=event, headers=headers, timeout=60)
    body = assert_error(res, 400, "invalid")
    assert "occurred_at" in body["errors"]
    summary = requests.get(f"{live_api}/api/usage/summary", headers=headers, timeout=60).json()
    assert summary["total_events"] == 0


def test_an_rfc_3339_occurred_at_is_recorded(live_api):
    headers = bearer(register(live_api))
    for moment in ("2026-11-30T10:00:00Z", "2026-11-30T11:00:00.5+01:00"):
        event = {"event_type": "api_call", "provider": "openai", "occurred_at": moment}
        assert requests.post(f"{live_api}/api/usage/events", json=event, headers=headers, timeout=60).status_code == 201


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/costs/budget", {"monthly_budget_usd": "5.00", "currency": "EUR"}),
        ("/api/auth/api-keys", {"name": "ci", "scope": "all"}),
        ("/api/usage/events", {"event_type": "api_call", "cost_usd": "0"}),
        ("/api/usage/events", {"event_type": "chat"}),
    ],
)
def test_what_the_schema_forbids_is_a_400_with_the_usual_body(live_api, path, body):
    headers = bearer(register(live_api))
    method = requests.put if path == "/api/costs/budget" else requests.post
    res = method(f"{live_api}{path}", json=body, headers=headers, timeout=60)
    assert_error(res, 400, "invalid")


@pytest.mark.parametrize("key", ["", "x" * 201, "caf\u00e9", "tab\tinside"])
def test_an_idempotency_key_outside_its_documented_limits_is_refused(live_api, key):
    headers = bearer(register(live_api))
    res = requests.post(
        f"{live_api}/api/billing/checkout",
        json={"tier": "starter", **URLS},
        headers={**headers, "Idempotency-Key": key.encode()},
        timeout=60,
    )
    assert_error(res, 400, "invalid_idempotency_key")
