"""Seed the pricing table with the published prices per 1M tokens (January 2025)."""

from datetime import UTC, datetime
from decimal import Decimal

from django.db import migrations

EFFECTIVE_FROM = datetime(2025, 1, 1, tzinfo=UTC)
PRICES = [
    ("anthropic", "claude-opus-4", "Claude Opus 4", "15.00", "75.00"),
    ("anthropic", "claude-sonnet-4", "Claude Sonnet 4", "3.00", "15.00"),
    ("openai", "gpt-4o", "GPT-4o", "2.50", "10.00"),
    ("openai", "gpt-4o-mini", "GPT-4o Mini", "0.15", "0.60"),
    ("google", "gemini-pro", "Gemini Pro", "1.25", "5.00"),
    ("deepseek", "deepseek-v3", "DeepSeek V3", "0.14", "0.28"),
    ("openrouter", "default", "OpenRouter default", "2.00", "8.00"),
]


def seed(apps, schema_editor):
    ModelPrice = apps.get_model("usage", "ModelPrice")
    for provider, model, name, price_in, price_out in PRICES:
        ModelPrice.objects.get_or_create(
            provider=provider,
            model=model,
            effective_from=EFFECTIVE_FROM,
            defaults={
                "display_name": name,
                "input_per_million": Decimal(price_in),
                "output_per_million": Decimal(price_out),
            },
        )


def unseed(apps, schema_editor):
    ModelPrice = apps.get_model("usage", "ModelPrice")
    for provider, model, *_ in PRICES:
        ModelPrice.objects.filter(provider=provider, model=model, effective_from=EFFECTIVE_FROM).delete()


class Migration(migrations.Migration):
    dependencies = [("usage", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
