"""A Python client generated from the served schema (openapi-python-client) works end to end against gunicorn.

The client is generated into a temporary directory for each run (it is not committed). Every answer must load
into the generated model of its status: no raw dictionaries, and no field the schema does not describe.
ARAGORA_CONTRACT_TESTS=0 skips it (CI runs it in one of its passes only).
"""

from __future__ import annotations

import importlib
import os
import secrets
import subprocess
import sys
import time
from typing import Any

import attrs
import httpx
import pytest
import requests

from tests.servers import STRIPE_TEST_WEBHOOK_SECRET

pytestmark = pytest.mark.skipif(
    os.environ.get("ARAGORA_CONTRACT_TESTS", "1") == "0", reason="ARAGORA_CONTRACT_TESTS=0: the generated client"
)
PACKAGE = "aragora_client"
TIMEOUT = httpx.Timeout(60.0)
# Models that are maps by design: their additional properties are their content (per-field error messages are
# nested for a batch, so they are a free-form map too).
MAPS = {"UsageSummaryApiOutputByProvider", "UsageSummaryApiOutputByModel", "ErrorErrors"}


@pytest.fixture
def generated(live_api, tmp_path, monkeypatch):
    """Generate the client from the served schema, import it, and forget it afterwards."""
    schema = requests.get(f"{live_api}/api/schema/?format=json", timeout=60)
    assert schema.status_code == 200
    (tmp_path / "openapi.json").write_bytes(schema.content)
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")  # no formatter run: a plain, fast generation
    command = [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(tmp_path / "openapi.json")]
    command += ["--meta", "none", "--output-path", str(tmp_path / PACKAGE), "--config", str(tmp_path / "config.yaml")]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)  # noqa: S603
    assert run.returncode == 0 and "Warning" not in run.stdout + run.stderr, run.stdout + run.stderr
    monkeypatch.syspath_prepend(str(tmp_path))
    yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


def assert_typed(value: Any) -> None:
    """Assert that `value` is made of generated models all the way down, with no undescribed field."""
    if isinstance(value, list):
        for item in value:
            assert_typed(item)
        return
    if not attrs.has(type(value)):
        assert not isinstance(value, dict), f"a raw dictionary where a model was expected: {value!r}"
        return
    extra = value.additional_properties
    if type(value).__name__ in MAPS:
        for item in extra.values():
            assert_typed(item)
    else:
        assert extra == {}, f"{type(value).__name__} got fields the schema does not describe: {sorted(extra)}"
    for field in attrs.fields(type(value)):
        if field.name != "additional_properties":
            assert_typed(getattr(value, field.name))


def parsed(response: Any, status: int, model: type) -> Any:
    assert response.status_code == status, response.content[:2000]
    assert type(response.parsed) is model, f"{type(response.parsed).__name__} is not {model.__name__}"
    assert_typed(response.parsed)
    return response.parsed


def test_a_generated_client_registers_upgrades_meters_reads_and_budgets(live_api, fake_stripe, generated):
    fake_stripe.webhook_target = (f"{live_api}/api/billing/webhook", STRIPE_TEST_WEBHOOK_SECRET)
    client_module, models = generated("client"), generated("models")
    api = {name: generated(f"api.{name}") for name in ("auth", "billing", "costs", "org", "usage")}
    for name in (
        "auth.auth_register_create",
        "auth.auth_api_keys_create",
        "billing.billing_checkout_create",
        "org.org_retrieve",
        "usage.usage_events_create",
        "usage.usage_summary_retrieve",
        "costs.costs_timeseries_retrieve",
        "costs.costs_budget_update",
        "costs.costs_budget_retrieve",
    ):
        generated(f"api.{name}")
    public = client_module.Client(base_url=live_api, raise_on_unexpected_status=True, timeout=TIMEOUT)

    # Register: a new account, admin of a new Free organization.
    email = f"generated-{secrets.token_hex(5)}@example.com"
    body = models.RegisterApiInputRequest(email=email, password="a-long-and-unusual-passphrase-42")
    account = parsed(
        api["auth"].auth_register_create.sync_detailed(client=public, body=body), 201, models.RegisterResponse
    )
    assert account.organization.tier == models.Tier.FREE and account.user.role == models.Role.ADMIN
    admin = client_module.AuthenticatedClient(base_url=live_api, token=account.access_token, timeout=TIMEOUT)

    # API keys need Professional: start a checkout at the Stripe stand-in and pay there.
    checkout = models.CheckoutApiInputRequest(
        tier=models.PaidTier.PROFESSIONAL,
        success_url="https://app.example.com/ok",
        cancel_url="https://app.example.com/no",
    )
    session = parsed(
        api["billing"].billing_checkout_create.sync_detailed(client=admin, body=checkout, idempotency_key="gen-1"),
        201,
        models.CheckoutSession,
    )
    assert session.url.startswith(fake_stripe.url)
    assert requests.post(session.url, allow_redirects=False, timeout=60).status_code == 303  # Stripe's webhooks
    deadline = time.monotonic() + 60
    read_org = api["org"].org_retrieve.sync_detailed
    while (org := parsed(read_org(client=admin), 200, models.OrganizationSummary)).tier != models.Tier.PROFESSIONAL:
        assert time.monotonic() < deadline, "the webhook did not upgrade the organization"
        time.sleep(0.2)
    assert org.limits.api_access is True
    again = api["billing"].billing_checkout_create.sync_detailed(client=admin, body=checkout, idempotency_key="gen-2")
    assert parsed(again, 409, models.Error).code == "subscription_exists"

    # An API key, then everything else with it.
    created = parsed(
        api["auth"].auth_api_keys_create.sync_detailed(client=admin, body=models.ApiKeysApiInputRequest(name="ci")),
        201,
        models.ApiKeysApiCreated,
    )
    key = client_module.AuthenticatedClient(
        base_url=live_api, token=created.api_key, prefix="", auth_header_name="X-API-Key", timeout=TIMEOUT
    )
    batch = models.UsageEventsApiInputRequest(
        events=[
            models.EventInputRequest(
                event_type=models.EventTypeEnum.API_CALL,
                provider="openai",
                model="gpt-4o",
                tokens_in=1200,
                tokens_out=300,
            ),
            models.EventInputRequest(event_type=models.EventTypeEnum.DEBATE, idempotency_key="debate-1"),
        ]
    )
    recorded = parsed(
        api["usage"].usage_events_create.sync_detailed(client=key, body=batch, receipts=True),
        201,
        models.UsageEventsApiOutput,
    )
    assert recorded.recorded == 2 and len(recorded.events) == 2
    assert all(type(receipt) is models.RecordedEvent for receipt in recorded.events)

    summary = parsed(api["usage"].usage_summary_retrieve.sync_detailed(client=key), 200, models.UsageSummaryApiOutput)
    assert summary.total_events == 2 and summary.total_debates == 1 and summary.tokens_in == 1200
    assert type(summary.by_provider.additional_properties["openai"]) is models.UsageBreakdownEntry
    series = parsed(
        api["costs"].costs_timeseries_retrieve.sync_detailed(client=key), 200, models.CostTimeseriesApiOutput
    )
    assert sum(point.events for point in series.points) == 2
    assert all(type(point) is models.CostPoint for point in series.points)

    budget = models.BudgetApiInputRequest(monthly_budget_usd="250.00", hard_limit=True)
    saved = parsed(api["costs"].costs_budget_update.sync_detailed(client=key, body=budget), 200, models.BudgetApiOutput)
    assert saved.monthly_budget_usd == "250.00" and saved.hard_limit is True
    blank = api["costs"].costs_budget_update.sync_detailed(
        client=key, body=models.BudgetApiInputRequest(monthly_budget_usd="  ")
    )
    assert parsed(blank, 400, models.Error).code == "invalid"
    read = parsed(api["costs"].costs_budget_retrieve.sync_detailed(client=key), 200, models.BudgetApiOutput)
    assert read.monthly_budget_usd == "250.00"
