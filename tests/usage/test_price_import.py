"""The price importer, on a real copy of the pinned genai-prices package's data."""

import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.usage.factories import ModelPriceFactory
from usage import price_source
from usage.models import SEED_SOURCE, STAFF_SOURCE, ModelPrice
from usage.pricing import calculate_token_cost
from usage.services.prices import model_prices_import, snapshot_read

pytestmark = pytest.mark.django_db
SOURCE = "genai-prices==0.2.3"


@pytest.fixture(scope="module")
def package_snapshot():
    return price_source.snapshot()


def _import(*args: str) -> str:
    out = StringIO()
    call_command("usage_import_prices", *args, stdout=out)
    return out.getvalue()


def test_the_pinned_version_is_the_one_installed_and_recorded(package_snapshot):
    assert package_snapshot["source"] == SOURCE == price_source.source_label()
    requirements = Path(__file__).resolve().parents[2] / "requirements.txt"
    assert "genai-prices==0.2.3" in requirements.read_text().splitlines()


def test_the_shipped_data_file_is_the_pinned_package_data(package_snapshot):
    shipped = snapshot_read()
    assert shipped["source"] == package_snapshot["source"]
    assert shipped["models"] == package_snapshot["models"], "run manage.py usage_import_prices --write-data"


def test_dry_run_prints_the_difference_and_writes_nothing():
    ModelPrice.objects.filter(source=SOURCE).delete()
    before = ModelPrice.objects.count()
    out = _import("--provider", "anthropic")
    assert "+ anthropic/claude-haiku-4-5 from 2024-01-01 00:00: in 1 out 5 cache read 0.1 cache write 1.25" in out
    assert "~ anthropic/claude-sonnet-4 from " in out and "(was in 3 out 15)" in out  # the seeded row superseded
    assert "Dry run" in out
    assert ModelPrice.objects.count() == before


def test_apply_adds_dated_rows_only_and_a_second_run_adds_nothing():
    ModelPrice.objects.filter(source=SOURCE).delete()
    seeded = {row.pk: row.updated_at for row in ModelPrice.objects.all()}
    out = _import("--apply", "--provider", "openai", "--provider", "anthropic")
    assert "row(s) added" in out
    assert {row.pk: row.updated_at for row in ModelPrice.objects.filter(pk__in=seeded)} == seeded  # no edits
    assert ModelPrice.objects.filter(source=SEED_SOURCE).count() == 7  # the seed's history stays
    assert calculate_token_cost("openai", "gpt-4o-2024-05-13", 10**6, 10**6) == Decimal("20")  # its own row
    assert calculate_token_cost("openai", "o3", 10**6, 10**6) == Decimal("10")  # after its price cut
    count = ModelPrice.objects.count()
    assert "0 row(s) added" in _import("--apply", "--provider", "openai", "--provider", "anthropic")
    assert ModelPrice.objects.count() == count


def test_a_staff_price_survives_an_import():
    staff = ModelPriceFactory(
        provider="anthropic",
        model="claude-haiku-4-5",
        input_per_million=Decimal("0.5"),
        output_per_million=Decimal("2"),
        source=STAFF_SOURCE,
        effective_from=timezone.now() - timedelta(hours=1),
    )
    out = _import("--apply", "--provider", "anthropic")
    assert "= anthropic/claude-haiku-4-5: staff price kept (in 0.5 out 2)" in out
    latest = ModelPrice.objects.filter(provider="anthropic", model="claude-haiku-4-5").latest("effective_from")
    assert latest == staff
    assert calculate_token_cost("anthropic", "claude-haiku-4-5", 10**6, 0) == Decimal("0.5")


def test_a_changed_source_price_is_added_from_the_import_on_and_past_rows_stay(package_snapshot):
    model = next(m for m in package_snapshot["models"] if "gpt-4.1" in m["names"])
    snapshot = {**package_snapshot, "models": [{**model, "names": ["gpt-4.1"]}]}
    changed = {**model["segments"][-1]["rates"], "input_per_million": "1.5"}
    snapshot["models"][0]["segments"] = [*model["segments"][:-1], {**model["segments"][-1], "rates": changed}]
    old = list(ModelPrice.objects.filter(model="gpt-4.1").values_list("pk", "input_per_million"))
    before = calculate_token_cost("openai", "gpt-4.1", 10**6, 0)
    changes = model_prices_import(snapshot=snapshot, apply=True, as_of=timezone.now() - timedelta(seconds=1))
    assert [c.kind for c in changes] == ["update"] and len(changes[0].rows) == 1
    assert before == Decimal("2") and calculate_token_cost("openai", "gpt-4.1", 10**6, 0) == Decimal("1.5")
    assert (
        list(
            ModelPrice.objects.filter(model="gpt-4.1", pk__in=[pk for pk, _ in old]).values_list(
                "pk", "input_per_million"
            )
        )
        == old
    )


def test_web_workers_and_migrations_never_import_the_package():
    code = (
        "import sys, django; django.setup(); import aragora_site.urls, aragora_site.wsgi, usage.services.recording; "
        "import importlib; importlib.import_module('usage.migrations.0004_shipped_model_prices'); "
        "print('genai_prices' in sys.modules, 'pydantic' in sys.modules)"
    )
    env_run = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert env_run.stdout.strip().endswith("False False"), env_run.stdout + env_run.stderr


def test_the_package_never_goes_online():
    from genai_prices import data_snapshot

    price_source.snapshot(providers={"openai"})
    assert data_snapshot.get_snapshot().from_auto_update is False
