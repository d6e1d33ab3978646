"""The billing API: who may do what, to which organization, and what reaches Stripe."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import Organization
from billing.models import IdempotencyRecord
from tests.billing.factories import subscribed_organization
from tests.conftest import client_for
from tests.factories import OrganizationFactory, UserFactory
from tests.fakes.stripe_plugin import PRICES

pytestmark = pytest.mark.django_db

URLS = {"success_url": "https://app.example.com/ok", "cancel_url": "https://app.example.com/no"}
ADMIN_ENDPOINTS = [
    ("/api/billing/checkout", {"tier": "starter", **URLS}),
    ("/api/billing/subscription/cancel", {"at_period_end": True}),
    ("/api/billing/subscription/change", {"tier": "enterprise"}),
    ("/api/billing/portal", {"return_url": "https://app.example.com/account"}),
]


def test_plans_are_public_with_limits_prices_and_availability(fake_stripe, settings):
    settings.STRIPE_PRICE_ENTERPRISE = ""
    res = APIClient().get("/api/billing/plans")
    assert res.status_code == 200
    plans = {p["tier"]: p for p in res.json()["plans"]}
    assert list(plans) == ["free", "starter", "professional", "enterprise"]
    assert plans["professional"]["limits"]["price_monthly_usd"] == "299.00"
    assert plans["professional"]["limits"]["debates_per_month"] == 200
    assert [p["purchasable"] for p in plans.values()] == [False, True, True, False]


def test_checkout_opens_a_subscription_session_for_the_callers_organization(fake_stripe):
    org = OrganizationFactory(admin=True)
    admin = org.owner
    other = OrganizationFactory(admin=True)

    res = client_for(admin).post(
        "/api/billing/checkout",
        {"tier": "professional", "org_id": str(other.pk), **URLS},
        format="json",
        HTTP_IDEMPOTENCY_KEY="click-1",
    )

    assert res.status_code == 201
    body = res.json()
    assert body["url"] == f"{fake_stripe.url}/pay/{body['id']}" and body["id"].startswith("cs_")
    assert body["session_id"] == body["id"]
    (customer_call,) = fake_stripe.requests_to("POST", "/v1/customers")
    assert customer_call.params["metadata"] == {"org_id": str(org.pk), "djstripe_subscriber": str(org.pk)}
    (call,) = fake_stripe.requests_to("POST", "/v1/checkout/sessions")
    assert call.params["mode"] == "subscription"
    assert call.params["line_items"] == [{"price": PRICES["professional"][0], "quantity": "1"}]
    assert call.params["metadata"] == {"org_id": str(org.pk), "tier": "professional"}
    assert call.params["subscription_data"] == {"metadata": {"org_id": str(org.pk), "tier": "professional"}}
    assert call.params["client_reference_id"] == str(org.pk)
    org.refresh_from_db()
    assert call.params["customer"] == org.stripe_customer_id
    assert call.idempotency_key and customer_call.idempotency_key == f"aragora-customer-create-{org.pk}"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/billing/checkout", {"tier": "starter", **URLS, "success_url": "https://evil.example.net/ok"}),
        ("/api/billing/checkout", {"tier": "starter", **URLS, "cancel_url": "http://app.example.com.evil.io/x"}),
        ("/api/billing/portal", {"return_url": "https://phish.example/account"}),
    ],
)
def test_return_addresses_outside_the_allowed_hosts_are_refused_before_stripe(fake_stripe, path, body):
    org = OrganizationFactory(admin=True, stripe_customer_id="cus_allowed")
    res = client_for(org.owner).post(path, body, format="json")
    assert res.status_code == 400 and res.json()["code"] == "redirect_not_allowed"
    assert fake_stripe.requests == []


def test_return_addresses_on_allowed_subdomains_are_accepted(fake_stripe):
    admin = OrganizationFactory(admin=True).owner
    urls = {"success_url": "https://app.example.org/ok", "cancel_url": "https://www.example.org/no"}
    res = client_for(admin).post("/api/billing/checkout", {"tier": "starter", **urls}, format="json")
    assert res.status_code == 201


def test_checkout_repeated_with_the_same_idempotency_key_opens_one_session(fake_stripe):
    admin = OrganizationFactory(admin=True).owner
    client = client_for(admin)
    first = client.post("/api/billing/checkout", {"tier": "starter", **URLS}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post("/api/billing/checkout", {"tier": "starter", **URLS}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    other = client.post("/api/billing/checkout", {"tier": "starter", **URLS}, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert first.json()["session_id"] == again.json()["session_id"] != other.json()["session_id"]


@pytest.mark.parametrize("tier", ["free", "platinum", "", "FREE"])
def test_checkout_refuses_free_and_unknown_tiers(fake_stripe, tier):
    admin = OrganizationFactory(admin=True).owner
    res = client_for(admin).post("/api/billing/checkout", {"tier": tier, **URLS}, format="json")
    assert res.status_code == 400 and res.json()["code"] in {"invalid_tier", "invalid"}
    assert not fake_stripe.requests_to("POST", "/v1/checkout/sessions")


@pytest.mark.parametrize(
    "body",
    [
        {"tier": 3, **URLS},
        {"tier": "starter", "success_url": "javascript:alert(1)", "cancel_url": URLS["cancel_url"]},
        {"tier": "starter", "success_url": ["x"], "cancel_url": URLS["cancel_url"]},
        {"tier": "starter"},
        {"tier": "starter", "success_url": "https://a.example/" + "x" * 3000, "cancel_url": URLS["cancel_url"]},
    ],
)
def test_malformed_checkout_input_is_a_json_400(fake_stripe, body):
    admin = OrganizationFactory(admin=True).owner
    res = client_for(admin).post("/api/billing/checkout", body, format="json")
    assert res.status_code == 400 and res.json()["code"] == "invalid"


def test_non_json_body_and_bad_idempotency_key_are_4xx_json(fake_stripe):
    admin = OrganizationFactory(admin=True).owner
    client = client_for(admin)
    raw = client.generic("POST", "/api/billing/checkout", b"tier=starter", content_type="text/plain")
    assert raw.status_code == 415 and "code" in raw.json()
    broken = client.generic("POST", "/api/billing/checkout", b"{oops", content_type="application/json")
    assert broken.status_code == 400
    bad_key = client.post(
        "/api/billing/checkout", {"tier": "starter", **URLS}, format="json", HTTP_IDEMPOTENCY_KEY="x" * 300
    )
    assert bad_key.status_code == 400 and bad_key.json()["code"] == "invalid_idempotency_key"


def test_checkout_answers_503_when_stripe_is_not_configured(settings, db):
    settings.STRIPE_SECRET_KEY = ""
    settings.ARAGORA_REDIRECT_ALLOWED_HOSTS = ["app.example.com"]
    admin = OrganizationFactory(admin=True).owner
    res = client_for(admin).post("/api/billing/checkout", {"tier": "starter", **URLS}, format="json")
    assert res.status_code == 503 and res.json()["code"] == "stripe_not_configured"
    assert "STRIPE_SECRET_KEY" in res.json()["detail"]


def test_checkout_answers_503_naming_the_missing_price(fake_stripe, settings):
    settings.STRIPE_PRICE_STARTER = ""
    admin = OrganizationFactory(admin=True).owner
    res = client_for(admin).post("/api/billing/checkout", {"tier": "starter", **URLS}, format="json")
    assert res.status_code == 503 and "STRIPE_PRICE_STARTER" in res.json()["detail"]


def test_checkout_is_refused_while_a_subscription_is_live(fake_stripe):
    s = subscribed_organization(fake_stripe)
    res = client_for(s.admin).post("/api/billing/checkout", {"tier": "enterprise", **URLS}, format="json")
    assert res.status_code == 409 and res.json()["code"] == "subscription_exists"


def test_stripe_being_unreachable_is_a_502_not_a_500_and_writes_nothing(fake_stripe, settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    org = OrganizationFactory(admin=True)
    res = client_for(org.owner).post(
        "/api/billing/checkout", {"tier": "starter", **URLS}, format="json", HTTP_IDEMPOTENCY_KEY="k-down"
    )
    assert res.status_code == 502 and res.json()["code"] == "stripe_unavailable"
    assert not IdempotencyRecord.objects.exists()
    org.refresh_from_db()
    assert org.stripe_customer_id == "" and org.tier == "free"


@pytest.mark.parametrize(("url", "body"), ADMIN_ENDPOINTS)
def test_admin_endpoints_refuse_members_and_anonymous_callers(fake_stripe, url, body):
    s = subscribed_organization(fake_stripe)
    member = UserFactory(organization=s.org, role="member")
    assert client_for(member).post(url, body, format="json").status_code == 403
    assert APIClient().post(url, body, format="json").status_code == 401
    assert len(fake_stripe.requests) == 0


@pytest.mark.parametrize(("url", "body"), ADMIN_ENDPOINTS)
def test_users_without_an_organization_are_refused(fake_stripe, url, body):
    loner = UserFactory(organization=None, role="admin")
    assert client_for(loner).post(url, body, format="json").status_code == 403
    assert client_for(loner).get("/api/billing/subscription").status_code == 403


def test_subscription_shows_only_the_callers_organization(fake_stripe):
    a = subscribed_organization(fake_stripe, tier="enterprise")
    b_admin = OrganizationFactory(admin=True).owner
    member_a = UserFactory(organization=a.org, role="member")

    body_a = client_for(member_a).get("/api/billing/subscription").json()
    body_b = client_for(b_admin).get("/api/billing/subscription", {"org_id": str(a.org.pk)}).json()

    assert body_a["tier"] == "enterprise" and body_a["status"] == "active" and body_a["has_subscription"]
    assert body_b["tier"] == "free" and body_b["status"] is None and not body_b["has_subscription"]
    assert APIClient().get("/api/billing/subscription").status_code == 401


def test_cancel_at_period_end_reaches_stripe_for_the_callers_subscription_only(fake_stripe):
    a = subscribed_organization(fake_stripe)
    b = subscribed_organization(fake_stripe)

    res = client_for(b.admin).post(
        "/api/billing/subscription/cancel", {"at_period_end": True, "org_id": str(a.org.pk)}, format="json"
    )

    assert res.status_code == 200 and res.json()["subscription"]["cancel_at_period_end"] is True
    (call,) = fake_stripe.requests_to("POST", r"/v1/subscriptions/.+")
    assert call.path == f"/v1/subscriptions/{b.subscription['id']}" and call.params == {"cancel_at_period_end": "true"}
    assert call.idempotency_key
    assert fake_stripe.get(a.subscription["id"])["cancel_at_period_end"] is False
    assert fake_stripe.get(b.subscription["id"])["cancel_at_period_end"] is True


def test_cancel_at_once_deletes_the_subscription_at_stripe(fake_stripe):
    s = subscribed_organization(fake_stripe)
    res = client_for(s.admin).post("/api/billing/subscription/cancel", {"at_period_end": False}, format="json")
    assert res.status_code == 200 and res.json()["subscription"]["status"] == "canceled"
    (call,) = fake_stripe.requests_to("DELETE", r"/v1/subscriptions/.+")
    assert call.idempotency_key


def test_cancel_without_a_subscription_is_409(fake_stripe):
    admin = OrganizationFactory(admin=True).owner
    res = client_for(admin).post("/api/billing/subscription/cancel", {}, format="json")
    assert res.status_code == 409 and res.json()["code"] == "no_subscription"


def test_change_moves_the_callers_subscription_to_the_new_price_with_proration(fake_stripe):
    a = subscribed_organization(fake_stripe, tier="starter")
    b = subscribed_organization(fake_stripe, tier="starter")

    res = client_for(a.admin).post("/api/billing/subscription/change", {"tier": "enterprise"}, format="json")

    assert res.status_code == 200 and res.json()["subscription"]["tier"] == "enterprise"
    (call,) = fake_stripe.requests_to("POST", r"/v1/subscriptions/.+")
    assert call.path == f"/v1/subscriptions/{a.subscription['id']}"
    assert call.params["proration_behavior"] == "create_prorations"
    assert call.params["items"] == [{"id": a.subscription["items"]["data"][0]["id"], "price": PRICES["enterprise"][0]}]
    assert fake_stripe.get(a.subscription["id"])["items"]["data"][0]["price"]["id"] == PRICES["enterprise"][0]
    assert fake_stripe.get(b.subscription["id"])["items"]["data"][0]["price"]["id"] == PRICES["starter"][0]
    a.org.refresh_from_db()
    assert a.org.tier == "starter", "the organization follows when Stripe's webhook confirms the change"


@pytest.mark.parametrize(
    ("tier", "code"), [("starter", "same_tier"), ("free", "invalid_tier"), ("gold", "invalid_tier")]
)
def test_change_refuses_the_same_free_or_unknown_tier(fake_stripe, tier, code):
    s = subscribed_organization(fake_stripe, tier="starter")
    res = client_for(s.admin).post("/api/billing/subscription/change", {"tier": tier}, format="json")
    assert res.status_code == 400 and res.json()["code"] == code
    assert not fake_stripe.requests_to("POST", r"/v1/subscriptions/.+")


def test_portal_opens_a_session_for_the_callers_customer(fake_stripe):
    a = subscribed_organization(fake_stripe)
    subscribed_organization(fake_stripe)
    res = client_for(a.admin).post(
        "/api/billing/portal", {"return_url": "https://app.example.com/account"}, format="json"
    )
    assert res.status_code == 200 and res.json()["url"].startswith(f"{fake_stripe.url}/portal/bps_")
    (call,) = fake_stripe.requests_to("POST", "/v1/billing_portal/sessions")
    assert call.params == {"customer": a.customer["id"], "return_url": "https://app.example.com/account"}
    assert call.idempotency_key


def test_portal_without_a_customer_is_409(fake_stripe):
    admin = OrganizationFactory(admin=True).owner
    res = client_for(admin).post("/api/billing/portal", {"return_url": "https://app.example.com/a"}, format="json")
    assert res.status_code == 409 and res.json()["code"] == "no_customer"


def test_stripe_refusing_a_request_in_the_wrong_state_is_a_400_with_the_reason(fake_stripe):
    s = subscribed_organization(fake_stripe)
    fake_stripe.handle("DELETE", f"/v1/subscriptions/{s.subscription['id']}", {}, {})
    res = client_for(s.admin).post(
        "/api/billing/subscription/cancel", {}, format="json", HTTP_IDEMPOTENCY_KEY="cancel-1"
    )
    assert res.status_code == 400 and res.json()["code"] == "stripe_invalid_request"
    assert "canceled subscription" in res.json()["detail"]
    assert Organization.objects.get(pk=s.org.pk).tier == "professional"
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize(
    ("stripe_status", "status", "code"),
    [
        (402, 402, "card_declined"),
        (404, 409, "stripe_resource_missing"),
        (401, 502, "stripe_error"),
        (500, 502, "stripe_error"),
        (429, 503, "stripe_rate_limited"),
    ],
)
def test_stripe_errors_are_answered_by_cause_and_write_nothing(fake_stripe, stripe_status, status, code):
    org = OrganizationFactory(admin=True)
    for _ in range(3):  # the Stripe library retries a 5xx twice
        fake_stripe.fail_next("POST", "/v1/checkout/sessions", stripe_status)
    res = client_for(org.owner).post(
        "/api/billing/checkout", {"tier": "starter", **URLS}, format="json", HTTP_IDEMPOTENCY_KEY="k-refused"
    )
    assert res.status_code == status and res.json()["code"] == code
    assert (res.headers.get("Retry-After") is not None) == (status == 503)
    org.refresh_from_db()
    assert org.stripe_customer_id == "" and not IdempotencyRecord.objects.exists()


def test_openapi_schema_documents_the_billing_endpoints(api):
    paths = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    for path in [
        "/api/billing/plans",
        "/api/billing/checkout",
        "/api/billing/subscription",
        "/api/billing/subscription/cancel",
        "/api/billing/subscription/change",
        "/api/billing/portal",
        "/api/billing/webhook",
    ]:
        assert path in paths, path


@pytest.mark.parametrize(
    ("path", "first", "second", "stripe_path"),
    [
        (
            "/api/billing/subscription/cancel",
            {"at_period_end": True},
            {"at_period_end": False},
            r"/v1/subscriptions/.+",
        ),
        ("/api/billing/subscription/change", {"tier": "enterprise"}, {"tier": "starter"}, r"/v1/subscriptions/.+"),
        (
            "/api/billing/portal",
            {"return_url": "https://app.example.com/a"},
            {"return_url": "https://app.example.com/b"},
            "/v1/billing_portal/sessions",
        ),
    ],
)
def test_every_keyed_operation_refuses_its_key_with_other_parameters_before_stripe(
    fake_stripe, path, first, second, stripe_path
):
    s = subscribed_organization(fake_stripe, tier="professional")
    client = client_for(s.admin)
    assert client.post(path, first, format="json", HTTP_IDEMPOTENCY_KEY="op-1").status_code == 200
    calls = len(fake_stripe.requests_to("POST", stripe_path) + fake_stripe.requests_to("DELETE", stripe_path))
    again = client.post(path, first, format="json", HTTP_IDEMPOTENCY_KEY="op-1")
    assert again.status_code == 200
    conflict = client.post(path, second, format="json", HTTP_IDEMPOTENCY_KEY="op-1")
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"
    after = len(fake_stripe.requests_to("POST", stripe_path) + fake_stripe.requests_to("DELETE", stripe_path))
    assert after == calls + 1, "the replay reaches Stripe (which answers it from its key), the conflict does not"
    assert IdempotencyRecord.objects.filter(organization=s.org, key="op-1").count() == 1
