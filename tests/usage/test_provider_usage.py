"""Provider usage blocks sent as they came: converted like genai-prices' own extractors, bad shapes are 400s."""

import pytest
from genai_prices import extract_usage

from tests.usage.conftest import record
from usage.models import UsageEvent
from usage.provider_usage import TokenCounts, UsageShapeError, token_counts

pytestmark = pytest.mark.django_db
URL = "/api/usage/events"

OPENAI_CHAT = {
    "prompt_tokens": 12000,
    "completion_tokens": 3000,
    "total_tokens": 15000,
    "prompt_tokens_details": {"cached_tokens": 8000, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 2500, "audio_tokens": 0},
}
OPENAI_RESPONSES = {
    "input_tokens": 12000,
    "output_tokens": 3000,
    "total_tokens": 15000,
    "input_tokens_details": {"cached_tokens": 8000},
    "output_tokens_details": {"reasoning_tokens": 2500},
}
ANTHROPIC = {
    "input_tokens": 2000,
    "cache_read_input_tokens": 6000,
    "cache_creation_input_tokens": 2000,
    "cache_creation": {"ephemeral_5m_input_tokens": 2000, "ephemeral_1h_input_tokens": 0},
    "output_tokens": 1000,
    "service_tier": "standard",
}
GEMINI = {
    "promptTokenCount": 12000,
    "candidatesTokenCount": 500,
    "cachedContentTokenCount": 8000,
    "thoughtsTokenCount": 2500,
    "totalTokenCount": 15000,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 12000}],
}

# (block, genai-prices provider and API flavor that read it, what this service records)
SHAPES = [
    (OPENAI_CHAT, "openai", "chat", TokenCounts(12000, 3000, 8000, 0, 2500)),
    (OPENAI_RESPONSES, "openai", "responses", TokenCounts(12000, 3000, 8000, 0, 2500)),
    (ANTHROPIC, "anthropic", "default", TokenCounts(10000, 1000, 6000, 2000, 0)),
    (GEMINI, "google", "default", TokenCounts(12000, 3000, 8000, 0, 2500)),
]


@pytest.mark.parametrize(("block", "provider", "flavor", "expected"), SHAPES)
def test_each_provider_shape_converts_as_genai_prices_reads_it(block, provider, flavor, expected):
    root = "usageMetadata" if provider == "google" else "usage"
    theirs = extract_usage({root: block}, provider_id=provider, api_flavor=flavor).usage
    assert token_counts(block) == expected
    assert expected == TokenCounts(
        tokens_in=theirs.reported_value("input_tokens"),
        tokens_out=theirs.reported_value("output_tokens"),
        cache_read_tokens=theirs.reported_value("cache_read_tokens"),
        cache_write_tokens=theirs.reported_value("cache_write_tokens"),
        reasoning_tokens=theirs.reported_value("output_reasoning_tokens"),
    )


def test_gemini_python_sdk_snake_case_and_nulls_are_read():
    block = {"prompt_token_count": 100, "candidates_token_count": 5, "thoughts_token_count": None}
    assert token_counts(block) == TokenCounts(100, 5)
    assert token_counts({"prompt_tokens": 7, "prompt_tokens_details": None}) == TokenCounts(7, 0)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ([1, 2], "JSON object"),
        ({"tokens": 5}, "Not a usage block"),
        ({"prompt_tokens": "12"}, "`prompt_tokens` must be a whole number"),
        ({"prompt_tokens": 1.5}, "`prompt_tokens` must be a whole number"),
        ({"prompt_tokens": True}, "`prompt_tokens` must be a whole number"),
        ({"prompt_tokens": -1}, "`prompt_tokens` must be a whole number"),
        ({"prompt_tokens": 5, "prompt_tokens_details": 3}, "`prompt_tokens_details` must be an object"),
        (
            {"prompt_tokens": 5, "completion_tokens_details": {"reasoning_tokens": "3"}},
            "`completion_tokens_details.reasoning_tokens` must be a whole number",
        ),
        ({"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": 9}}, "may not exceed tokens_in (5)"),
        ({"input_tokens": 5, "output_tokens": 1, "output_tokens_details": {"reasoning_tokens": 2}}, "tokens_out (1)"),
        ({"prompt_tokens": 5, "promptTokenCount": 5}, "several providers"),
        ({"input_tokens": 5, "cache_read_input_tokens": 1, "input_tokens_details": {}}, "send one"),
        ({"input_tokens": 2**53 - 1, "cache_read_input_tokens": 2}, "add up to more than"),
    ],
)
def test_bad_usage_blocks_are_refused_with_the_reason(block, message):
    with pytest.raises(UsageShapeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        token_counts(block)


def test_an_event_with_an_anthropic_block_is_recorded_with_its_parts_and_cache_prices(admin_client_api, org):
    res = admin_client_api.post(
        URL,
        {"event_type": "agent_call", "provider": "anthropic", "model": "claude-sonnet-4", "usage": ANTHROPIC},
        format="json",
    )
    assert res.status_code == 201, res.json()
    assert res.json()["total_cost"] == "0.0303"  # the plain input rate would charge 0.045
    event = UsageEvent.objects.get(organization=org)
    assert (event.tokens_in, event.cache_read_tokens, event.cache_write_tokens, event.tokens_out) == (
        10000,
        6000,
        2000,
        1000,
    )


@pytest.mark.parametrize("tokens_in", [5, ""])
def test_a_usage_block_next_to_token_counts_is_a_400(admin_client_api, tokens_in):
    body = {"event_type": "agent_call", "usage": OPENAI_CHAT, "tokens_in": tokens_in}
    res = admin_client_api.post(URL, body, format="json")
    assert res.status_code == 400 and res.json()["errors"]["usage"] == [
        "Send either a provider usage block or token counts, not both."
    ]
    assert not UsageEvent.objects.exists()


def test_bad_blocks_in_a_batch_are_400s_under_their_index(admin_client_api):
    events = [
        {"event_type": "agent_call", "usage": OPENAI_CHAT},
        {"event_type": "agent_call", "usage": {"prompt_tokens": 1, "prompt_tokens_details": {"cached_tokens": 2}}},
        {"event_type": "agent_call", "usage": {"tokens": 5}},
    ]
    res = admin_client_api.post(URL, {"events": events}, format="json")
    body = res.json()
    assert res.status_code == 400 and body["code"] == "invalid", body
    assert set(body["errors"]["events"]) == {"1", "2"}
    assert "may not exceed tokens_in" in body["errors"]["events"]["1"]["usage"][0]
    assert not UsageEvent.objects.exists()
    res = admin_client_api.post(URL, {"event_type": "agent_call", "usage": "nope"}, format="json")
    assert res.status_code == 400 and "usage" in res.json()["errors"]


def test_the_python_api_takes_a_usage_block_and_refuses_it_next_to_counts(org, tracker):
    event = tracker.record_event(str(org.id), None, "agent_call", "openai", "gpt-4o", usage=OPENAI_RESPONSES)
    assert (event.tokens_in, event.cache_read_tokens, event.reasoning_tokens) == (12000, 8000, 2500)
    with pytest.raises(Exception, match="invalid"):
        record(org, provider="openai", model="gpt-4o", tokens_in=5, usage=OPENAI_CHAT)
