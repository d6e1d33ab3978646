"""The shipped price table prices usage exactly as genai-prices' own calc_price does, for the same usage and time."""

from datetime import datetime, timedelta

import pytest
from genai_prices import Usage, calc_price

from usage.money import quantize_cost
from usage.pricing import FALLBACK_PROVIDER, price_table
from usage.services.prices import snapshot_read

pytestmark = pytest.mark.django_db
# A day after the shipped file was generated: the seeded January 2025 rows are superseded by then.
AT = datetime.fromisoformat(snapshot_read()["generated_at"]).replace(hour=12, minute=0) + timedelta(days=1)

# (provider, model, tokens_in, tokens_out, cache_read, cache_write, reasoning)
CASES = [
    # Anthropic: cache reads and writes, long-context tiers, dated snapshots, routed names
    ("anthropic", "claude-sonnet-4", 10_000, 1_000, 6_000, 2_000, 0),  # the issue's $0.0303 call
    ("anthropic", "claude-sonnet-4-20250514", 48_000, 2_500, 40_000, 0, 0),
    ("anthropic", "claude-sonnet-4-5", 150_000, 4_000, 120_000, 20_000, 0),  # below the 200k tier
    ("anthropic", "claude-sonnet-4-5", 250_000, 4_000, 200_000, 30_000, 0),  # above: the whole request
    ("anthropic", "claude-sonnet-4-5-20250929", 200_000, 1_000, 0, 0, 0),  # exactly at the threshold
    ("anthropic", "claude-opus-4-1", 30_000, 2_000, 25_000, 5_000, 0),
    ("anthropic", "claude-opus-4", 5_000, 800, 0, 5_000, 0),
    ("anthropic", "claude-haiku-4-5", 80_000, 3_000, 70_000, 10_000, 0),
    ("anthropic", "claude-haiku-4-5-20251001", 2_000, 300, 0, 0, 0),
    ("anthropic", "claude-3-5-haiku-20241022", 9_000, 900, 4_000, 1_000, 0),  # dated: priced as its family
    ("anthropic", "claude-haiku-5-5", 99_999, 1_000, 50_000, 10_000, 0),  # below the 100k tier
    ("anthropic", "claude-haiku-5-5", 100_001, 1_000, 50_000, 10_000, 0),  # above it
    ("openrouter", "anthropic/claude-sonnet-4", 10_000, 1_000, 6_000, 2_000, 0),
    # OpenAI: cache reads, reasoning on o-series and GPT-5, dated snapshots with their own rows
    ("openai", "gpt-4o", 20_000, 1_500, 16_000, 0, 0),
    ("openai", "gpt-4o-2024-05-13", 20_000, 1_500, 0, 0, 0),  # its own row: $5/$15, not gpt-4o's
    ("openai", "gpt-4o-2024-08-06", 20_000, 1_500, 10_000, 0, 0),
    ("openai", "gpt-4o-mini", 300_000, 20_000, 250_000, 0, 0),
    ("openai", "gpt-4.1", 60_000, 5_000, 30_000, 0, 0),
    ("openai", "gpt-5", 40_000, 12_000, 30_000, 0, 9_000),
    ("openai", "gpt-5-mini", 10_000, 6_000, 0, 0, 5_000),
    ("openai", "o3", 15_000, 20_000, 5_000, 0, 18_000),  # after its June 2025 price cut
    ("openai", "o4-mini", 8_000, 10_000, 0, 0, 9_500),
    ("openai", "o1", 12_000, 30_000, 6_000, 0, 25_000),
    ("openai", "gpt-5.4", 300_000, 5_000, 100_000, 0, 2_000),  # above its 272k tier
    ("openai", "gpt-5.4", 100_000, 5_000, 50_000, 0, 2_000),  # below it
    # Google: cache reads, thinking tokens, the 200k tier
    ("google", "gemini-2.5-pro", 150_000, 8_000, 100_000, 0, 6_000),
    ("google", "gemini-2.5-pro", 250_000, 8_000, 100_000, 0, 6_000),
    ("google", "gemini-2.5-flash", 50_000, 9_000, 40_000, 0, 7_000),
    ("google", "gemini-2.0-flash", 50_000, 2_000, 25_000, 0, 0),
    ("google", "gemini-pro", 10_000, 1_000, 0, 0, 0),  # Gemini 1.0 Pro, no longer 1.5 Pro's rate
    # Others
    ("deepseek", "deepseek-chat", 70_000, 2_000, 60_000, 0, 0),  # 12:00 UTC: the standard rate
    ("deepseek", "deepseek-reasoner", 20_000, 8_000, 10_000, 0, 6_000),
    ("x-ai", "grok-4", 30_000, 3_000, 20_000, 0, 1_000),
    ("mistral", "mistral-large-latest", 30_000, 3_000, 0, 0, 0),
]


@pytest.mark.parametrize(("provider", "model", "t_in", "t_out", "read", "write", "reasoning"), CASES)
def test_cost_equals_genai_prices_calc_price(provider, model, t_in, t_out, read, write, reasoning):
    ours = price_table().price_usage(
        provider, model, t_in, t_out, AT, cache_read=read, cache_write=write, reasoning=reasoning
    )
    usage = Usage(
        input_tokens=t_in,
        output_tokens=t_out,
        cache_read_tokens=read,
        cache_write_tokens=write,
        output_reasoning_tokens=reasoning,
    )
    theirs = calc_price(usage, model, provider_id=provider, genai_request_timestamp=AT)
    assert ours.unpriced is False and ours.price_id is not None
    assert ours.cost == quantize_cost(theirs.total_price) > 0


def test_the_issue_example_costs_what_the_provider_charges():
    ours = price_table().price_usage(
        "anthropic", "claude-sonnet-4", 10_000, 1_000, AT, cache_read=6_000, cache_write=2_000
    )
    assert str(ours.cost.normalize()) == "0.0303"  # was 0.045 with no cache rates (+49 %)


def test_an_unknown_model_keeps_the_flagged_fallback():
    usage = price_table().price_usage("acme-ai", "mystery-9", 1_000_000, 1_000_000, AT, cache_read=500_000)
    fallback = price_table().find(FALLBACK_PROVIDER, "default", AT)
    assert usage.unpriced is True and usage.price_id == fallback.id
    assert usage.cost == 10  # the $2/$8 fallback; a cache rate it does not have means the input rate
    with pytest.raises(LookupError):
        calc_price(Usage(input_tokens=1), "mystery-9", provider_id="anthropic")


def test_reasoning_and_cache_parts_change_nothing_for_a_model_without_such_rates():
    plain = price_table().price_usage("mistral", "mistral-large-latest", 30_000, 3_000, AT)
    parts = price_table().price_usage(
        "mistral", "mistral-large-latest", 30_000, 3_000, AT, cache_read=10_000, reasoning=1_000
    )
    assert plain.cost == parts.cost
