from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.usage.factories import ModelPriceFactory
from usage.models import ModelPrice
from usage.pricing import calculate_token_cost, model_candidates, price_table

pytestmark = pytest.mark.django_db

SHIPPED_PRICES = [
    ("anthropic", "claude-opus-4", "15", "75"),
    ("anthropic", "claude-sonnet-4", "3", "15"),
    ("openai", "gpt-4o", "2.50", "10"),
    ("openai", "gpt-4o-mini", "0.15", "0.60"),
    ("google", "gemini-pro", "0.125", "0.375"),  # Gemini 1.0 Pro, no longer 1.5 Pro's rate
    ("deepseek", "deepseek-v3", "0.27", "1.10"),  # served as deepseek-chat; no longer the promotional price
    ("deepseek", "deepseek-chat", "0.27", "1.10"),  # no longer the $2/$8 fallback
    ("openrouter", "default", "2", "8"),
]


@pytest.mark.parametrize(("provider", "model", "price_in", "price_out"), SHIPPED_PRICES)
def test_shipped_price_table_matches_the_published_prices(provider, model, price_in, price_out):
    cost = calculate_token_cost(provider, model, 1_000_000, 1_000_000)
    assert cost == Decimal(price_in) + Decimal(price_out)
    assert isinstance(cost, Decimal)


def test_cost_of_the_seed_example_is_exact():
    assert calculate_token_cost("anthropic", "claude-sonnet-4", 1500, 800) == Decimal("0.0165")


def test_model_names_match_case_insensitively_and_through_dated_aliases():
    expected = calculate_token_cost("anthropic", "claude-sonnet-4", 1000, 1000)
    for provider, model in [
        ("Anthropic", "Claude-Sonnet-4"),
        ("anthropic", "claude-sonnet-4-20250514"),
        ("anthropic", "claude-sonnet-4-latest"),
        ("openrouter", "anthropic/claude-sonnet-4"),
    ]:
        assert calculate_token_cost(provider, model, 1000, 1000) == expected
    assert calculate_token_cost("openai", "gpt-4o-mini-2024-07-18", 10**6, 0) == Decimal("0.15")
    assert calculate_token_cost("openai", "gpt-4o-2024-08-06", 10**6, 0) == Decimal("2.5")


def test_dated_alias_never_matches_a_different_model():
    assert ("openai", "gpt-4o") not in model_candidates("openai", "gpt-4o-mini")


def test_unknown_model_falls_back_to_the_provider_default_and_is_flagged():
    ModelPriceFactory(provider="mistral", model="default", input_per_million=Decimal("1"), output_per_million=0)
    table = price_table()
    usage = table.price_usage("mistral", "mistral-huge", 10**6, 0, timezone.now())
    assert usage.unpriced is True and usage.cost == Decimal("1")


def test_unknown_provider_falls_back_to_openrouter_default_and_is_flagged():
    usage = price_table().price_usage("nobody", "mystery-1", 10**6, 10**6, timezone.now())
    assert usage.unpriced is True and usage.cost == Decimal("10")


def test_known_model_is_not_flagged():
    usage = price_table().price_usage("openai", "GPT-4o", 10, 10, timezone.now())
    assert usage.unpriced is False and usage.price_id is not None


def test_usage_without_provider_model_or_tokens_costs_nothing():
    usage = price_table().price_usage("", "", 0, 0, timezone.now())
    assert usage.cost == 0 and usage.unpriced is False


def test_a_price_edit_is_seen_at_once_and_a_new_row_applies_from_its_effective_date():
    assert calculate_token_cost("openai", "gpt-4o", 10**6, 0) == Decimal("2.5")
    row = ModelPrice.objects.filter(provider="openai", model="gpt-4o").latest("effective_from")
    row.input_per_million = Decimal("2.0")
    row.save()
    assert calculate_token_cost("openai", "gpt-4o", 10**6, 0) == Decimal("2")
    ModelPriceFactory(
        provider="openai", model="gpt-4o", input_per_million=Decimal("9"), effective_from=timezone.now() + timedelta(1)
    )
    assert calculate_token_cost("openai", "gpt-4o", 10**6, 0) == Decimal("2")
    later = timezone.now() + timedelta(days=2)
    assert price_table().price_usage("openai", "gpt-4o", 10**6, 0, later).cost == Decimal("9")


def test_deleting_a_price_is_seen_at_once():
    ModelPrice.objects.filter(provider="deepseek").delete()
    usage = price_table().price_usage("deepseek", "deepseek-v3", 10**6, 0, timezone.now())
    assert usage.unpriced is True and usage.cost == Decimal("2")


def test_tiny_costs_are_exact_to_the_tenth_decimal():
    assert calculate_token_cost("deepseek", "deepseek-v3", 1, 1) == Decimal("0.00000137")


@pytest.mark.parametrize("bad", [-1, 1.5, float("nan"), float("inf"), True, "10", 2**53])
def test_calculate_token_cost_refuses_bad_counts(bad):
    with pytest.raises(ValueError, match="whole number"):
        calculate_token_cost("openai", "gpt-4o", bad, 0)
