"""The published schema: the committed openapi.yaml is what the server serves, every operation has examples that
match it, and it states the limits the server enforces (enums, strict bodies, the Idempotency-Key header)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "DEBUG=1 python manage.py spectacular --validate --fail-on-warn --file openapi.yaml"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    res = APIClient().get("/api/schema/")
    assert res.status_code == 200
    return yaml.safe_load(res.content)


def operations(schema: dict[str, Any]):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def as_json_schema(node: Any) -> Any:
    """Return an OpenAPI 3.0 schema as JSON Schema (`nullable` becomes a null alternative)."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def validator_for(schema: dict[str, Any], media: dict[str, Any]) -> jsonschema.Validator:
    root = {**as_json_schema(media["schema"]), "components": as_json_schema(copy.deepcopy(schema["components"]))}
    return jsonschema.Draft7Validator(root)


def test_the_served_schema_is_the_committed_openapi_yaml(served):
    committed = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    assert served == committed, f"openapi.yaml is not the schema the server serves: regenerate it with `{REGENERATE}`"


def test_every_operation_has_a_request_a_success_and_its_refusals_as_examples_that_match_the_schema(served):
    for name, operation in operations(served):
        body = operation.get("requestBody", {}).get("content", {})
        for media_type, media in body.items():
            assert media.get("examples"), f"{name}: no request example ({media_type})"
            for example in media["examples"].values():
                validator_for(served, media).validate(example["value"])
        answered = set()
        for status, response in operation["responses"].items():
            for media_type, media in response.get("content", {}).items():
                assert media.get("examples"), f"{name}: no example for {status} ({media_type})"
                for example in media["examples"].values():
                    if media_type == "application/json":
                        validator_for(served, media).validate(example["value"])
                        if status >= "400" and media["schema"] == {"$ref": "#/components/schemas/Error"}:
                            assert example["value"]["code"], f"{name}: {status} example without a code"
                answered.add(status[0])
        assert "2" in answered and "4" in answered, f"{name}: needs a success and refusals"


def test_the_idempotency_key_is_documented_with_its_limits_on_every_operation_that_takes_it(served):
    taking = {
        name: parameter["schema"]
        for name, operation in operations(served)
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "Idempotency-Key"
    }
    assert set(taking) == {
        "POST /api/billing/checkout",
        "POST /api/billing/portal",
        "POST /api/billing/subscription/cancel",
        "POST /api/billing/subscription/change",
    }
    for limits in taking.values():
        assert limits["minLength"] == 1 and limits["maxLength"] == 200 and limits["pattern"]
    for name in taking:
        operation = dict(operations(served))[name]
        codes = {
            ex["value"]["code"]
            for ex in operation["responses"]["409"]["content"]["application/json"]["examples"].values()
        }
        assert "idempotency_conflict" in codes


def test_enums_minimums_and_strict_bodies_are_in_the_schema(served):
    schemas = served["components"]["schemas"]
    assert schemas["Tier"]["enum"] == ["free", "starter", "professional", "enterprise"]
    assert schemas["PaidTier"]["enum"] == ["starter", "professional", "enterprise"]
    assert schemas["Role"]["enum"] == ["admin", "member"]
    assert schemas["EventTypeEnum"]["enum"] == ["debate", "api_call", "agent_call"]
    budget = schemas["BudgetApiInputRequest"]["properties"]["monthly_budget_usd"]
    pattern = budget["pattern"]

    assert not re.search(pattern, "0.00") and re.search(pattern, "0.01") and not re.search(pattern, "1e3")
    strict = {name for name, component in schemas.items() if component.get("additionalProperties") is False}
    assert strict == {
        "ApiKeysApiInputRequest",
        "BudgetApiInputRequest",
        "EventInputRequest",
        "InvitationAcceptApiInputRequest",
        "InvitationsApiInputRequest",
        "PatchedMemberApiInputRequest",
        "UsageEventsApiInputRequest",
    }


@pytest.mark.parametrize(("url", "loader"), [("/api/docs/", "/api/docs/?script="), ("/api/redoc/", "/api/redoc/")])
def test_swagger_ui_and_redoc_load_the_schema_with_its_examples(url, loader, served):
    client = APIClient()
    assert client.get(url).status_code == 200
    assert b"/api/schema/" in client.get(loader).content
