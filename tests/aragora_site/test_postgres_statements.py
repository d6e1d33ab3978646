"""PostgreSQL connections bind parameters on the server and prepare the statements they repeat."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from accounts.models import Organization

ROOT = Path(__file__).resolve().parents[2]
_PRINT_OPTIONS = (
    "import django, json; django.setup(); from django.conf import settings; "
    "print(json.dumps(settings.DATABASES['default'].get('OPTIONS', {})))"
)


def _options(**env_overrides: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARAGORA_DB_", "DATABASE_URL"))}
    env.update(DJANGO_SETTINGS_MODULE="aragora_site.settings", DEBUG="1", **env_overrides)
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", _PRINT_OPTIONS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_postgresql_binds_on_the_server_and_prepares_after_five_runs_unless_turned_off():
    url = "postgres://aragora@db.invalid:5432/aragora"
    assert _options(DATABASE_URL=url) == {"server_side_binding": True, "prepare_threshold": 5}
    assert _options(DATABASE_URL=url, ARAGORA_DB_PREPARE_THRESHOLD="2")["prepare_threshold"] == 2
    assert _options(DATABASE_URL=url, ARAGORA_DB_PREPARED_STATEMENTS="false") == {}
    assert "server_side_binding" not in _options(DATABASE_URL="sqlite:////tmp/aragora-options.sqlite3")


@pytest.mark.django_db
@pytest.mark.skipif(
    not connection.settings_dict.get("OPTIONS", {}).get("server_side_binding"),
    reason="PostgreSQL with prepared statements (the default there)",
)
def test_a_statement_a_connection_repeats_is_prepared_on_the_server_and_answers_alike():
    Organization.objects.create(name="Prepared", slug="prepared")
    answers = [Organization.objects.filter(slug="prepared").values_list("name", flat=True).first() for _ in range(7)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert answers == ["Prepared"] * 7
    assert any('"accounts_organization"."slug" = $1' in statement for statement in prepared), prepared
