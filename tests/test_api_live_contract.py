"""The live contract run: schemathesis (its CLI, as a user would run it) against gunicorn, from the served schema.

Every phase (examples, coverage, fuzzing, stateful), checked for server errors, for status-code, content-type and
response-schema conformance, and that what the schema forbids is refused (`negative_data_rejection`); once with a
bearer token, once with an API key, once without credentials. Credentials an operation revokes are renewed
(tests/contract_hooks.py), and each run must start by minting them. Any failure fails the test.

Bounded: a fixed number of examples per operation and a deadline per run. ARAGORA_CONTRACT_TESTS=0 skips it
(CI runs it in one of its passes only).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import STRIPE_TEST_WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    ]
)
EXAMPLES = {"bearer": 6, "api_key": 4, "none": 2}

pytestmark = pytest.mark.skipif(
    os.environ.get("ARAGORA_CONTRACT_TESTS", "1") == "0", reason="ARAGORA_CONTRACT_TESTS=0: the live contract run"
)


@pytest.mark.parametrize("auth", ["bearer", "api_key", "none"])
def test_the_live_api_keeps_its_contract(live_api, fake_stripe, auth, tmp_path):
    fake_stripe.webhook_target = (f"{live_api}/api/billing/webhook", STRIPE_TEST_WEBHOOK_SECRET)
    log = tmp_path / "credentials.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SCHEMATHESIS_HOOKS": "tests.contract_hooks",
        "CONTRACT_BASE_URL": live_api,
        "CONTRACT_AUTH": auth,
        "CONTRACT_LOG": str(log),
        "NO_COLOR": "1",
    }
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "run", f"{live_api}/api/schema/?format=json"),
        *("--phases", "examples,coverage,fuzzing,stateful", "--checks", CHECKS),
        *("--max-examples", str(EXAMPLES[auth]), "--seed", "20261201", "--workers", "2"),
        *("--suppress-health-check", "all", "--request-timeout", "60", "--no-shrink"),
        *("--report", "junit", "--report-dir", str(tmp_path)),
    ]
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)  # noqa: S603
    output = run.stdout + run.stderr
    print(output[-6000:], (tmp_path / "credentials.log").read_text() if log.exists() else "")
    assert run.returncode == 0, output[-30000:]
    assert re.search(r"✅\s+Stateful", output) and re.search(r"\d+ generated, \d+ passed", output), output[-5000:]
    if auth != "none":
        minted = log.read_text().splitlines()
        assert minted[0] == f"minted {auth}"
        assert minted.count(f"minted {auth}") >= 2, "credentials were revoked during the run and renewed"
