"""GET /api/usage/prices and the price table in the back office: the price in force per model, by dimension."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.conftest import client_for
from tests.factories import UserFactory
from tests.usage.factories import ModelPriceFactory

pytestmark = pytest.mark.django_db
URL = "/api/usage/prices"


def test_members_see_the_price_in_force_per_model_with_every_rate_and_its_source(admin_client_api):
    body = admin_client_api.get(URL, {"provider": "anthropic", "model": "sonnet-4-5"}).json()
    by_model = {item["model"]: item for item in body}
    sonnet = by_model["claude-sonnet-4-5"]
    assert sonnet["source"] == "genai-prices==0.2.3"
    assert sonnet["rates"] == {
        "input": "3.00",
        "output": "15.00",
        "cache_read": "0.30",
        "cache_write": "3.75",
        "reasoning": "15.00",
    }
    assert sonnet["long_context"]["threshold"] == 200000
    assert sonnet["long_context"]["rates"]["input"] == "6.00" and sonnet["long_context"]["rates"]["output"] == "22.50"
    assert all(item["provider"] == "anthropic" and "sonnet-4-5" in item["model"] for item in body)


def test_a_future_price_is_not_yet_in_force_and_a_staff_price_says_so(admin_client_api):
    ModelPriceFactory(provider="acme", model="m1", input_per_million=Decimal("1"), source="staff")
    ModelPriceFactory(
        provider="acme", model="m1", input_per_million=Decimal("9"), effective_from=timezone.now() + timedelta(days=1)
    )
    [item] = admin_client_api.get(URL, {"provider": "acme"}).json()
    assert item["rates"]["input"] == "1.00" and item["source"] == "staff" and item["long_context"] is None


def test_the_price_list_needs_credentials(db):
    assert client_for().get(URL).status_code == 401


def test_staff_see_rates_by_dimension_and_where_they_came_from(client):
    client.force_login(UserFactory(organization=None, is_staff=True, is_superuser=True))
    html = client.get("/admin/usage/modelprice/?q=claude-sonnet-4-5&source=genai-prices%3D%3D0.2.3").content.decode()
    assert "claude-sonnet-4-5" in html and "genai-prices==0.2.3" in html
    assert "0.30" in html and "3.75" in html and "&gt; 200,000 in: 6.00 / 22.50" in html
