"""Provider usage blocks, sent as they came, turned into this service's token counts. Pure: no database.

Every count here follows OpenAI's convention: cache reads and writes are parts of `tokens_in`, reasoning tokens a
part of `tokens_out`. Each provider reports usage its own way, so the conversion lives here once:

- OpenAI Chat Completions: `prompt_tokens`, `completion_tokens`, `prompt_tokens_details.cached_tokens`,
  `completion_tokens_details.reasoning_tokens` (already the convention);
- OpenAI Responses: `input_tokens`, `output_tokens`, `input_tokens_details`, `output_tokens_details` (likewise);
- Anthropic Messages: `input_tokens` excludes the cache, so `cache_read_input_tokens` and
  `cache_creation_input_tokens` are added to it;
- Gemini (`usageMetadata`): `candidatesTokenCount` excludes `thoughtsTokenCount`, which is added to the output.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from usage.models import MAX_COUNT


class UsageShapeError(ValueError):
    """The usage block is not one this service can read; the message says why, naming the provider's key."""


class TokenCounts(NamedTuple):  # a tuple: built for every event, several times cheaper than a frozen dataclass
    tokens_in: int = 0
    tokens_out: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        # not dataclasses.asdict: its deep copy costs more than the whole conversion
        return {
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }


def part_errors(counts: TokenCounts) -> dict[str, list[str]]:
    """Return {field: [messages]} for every part larger than its whole (empty when the counts agree)."""
    errors: dict[str, list[str]] = {}
    cached = counts.cache_read_tokens + counts.cache_write_tokens
    if cached > counts.tokens_in:
        message = (
            f"cache_read_tokens + cache_write_tokens ({cached}) may not exceed tokens_in ({counts.tokens_in}): "
            "cache tokens are part of the input."
        )
        for name in ("cache_read_tokens", "cache_write_tokens"):
            if getattr(counts, name):
                errors[name] = [message]
    if counts.reasoning_tokens > counts.tokens_out:
        errors["reasoning_tokens"] = [
            f"reasoning_tokens ({counts.reasoning_tokens}) may not exceed tokens_out ({counts.tokens_out}): "
            "reasoning is part of the output."
        ]
    return errors


class _Block:
    """Read whole-number counts out of a usage block by dotted path; absent or null counts are 0."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def count(self, path: str) -> int:
        """Return the count at `path` (one key, or two joined by a dot: every provider nests at most once)."""
        head, _, inner = path.partition(".")
        value: Any = self.data.get(head)
        if inner:
            if value is None:
                return 0
            if not isinstance(value, dict):
                raise UsageShapeError(f"`{head}` must be an object.")
            value = value.get(inner)
        if value is None:
            return 0
        if type(value) is not int or not 0 <= value <= MAX_COUNT:  # bool is a subclass of int: refused too
            raise UsageShapeError(f"`{path}` must be a whole number from 0 to {MAX_COUNT}.")
        return value

    def has(self, *keys: str) -> bool:
        return not self.data.keys().isdisjoint(keys)


def _openai_chat(block: _Block) -> TokenCounts:
    return TokenCounts(
        tokens_in=block.count("prompt_tokens"),
        tokens_out=block.count("completion_tokens"),
        cache_read_tokens=block.count("prompt_tokens_details.cached_tokens"),
        cache_write_tokens=block.count("prompt_tokens_details.cache_write_tokens"),
        reasoning_tokens=block.count("completion_tokens_details.reasoning_tokens"),
    )


def _openai_responses(block: _Block) -> TokenCounts:
    return TokenCounts(
        tokens_in=block.count("input_tokens"),
        tokens_out=block.count("output_tokens"),
        cache_read_tokens=block.count("input_tokens_details.cached_tokens"),
        cache_write_tokens=block.count("input_tokens_details.cache_write_tokens"),
        reasoning_tokens=block.count("output_tokens_details.reasoning_tokens"),
    )


def _anthropic(block: _Block) -> TokenCounts:
    read, written = block.count("cache_read_input_tokens"), block.count("cache_creation_input_tokens")
    return TokenCounts(
        tokens_in=block.count("input_tokens") + read + written,
        tokens_out=block.count("output_tokens"),
        cache_read_tokens=read,
        cache_write_tokens=written,
        reasoning_tokens=block.count("output_tokens_details.thinking_tokens"),
    )


def _gemini(block: _Block, *, snake: bool) -> TokenCounts:
    def key(camel: str, snake_name: str) -> str:
        return snake_name if snake else camel

    thoughts = block.count(key("thoughtsTokenCount", "thoughts_token_count"))
    return TokenCounts(
        tokens_in=block.count(key("promptTokenCount", "prompt_token_count"))
        + block.count(key("toolUsePromptTokenCount", "tool_use_prompt_token_count")),
        tokens_out=block.count(key("candidatesTokenCount", "candidates_token_count")) + thoughts,
        cache_read_tokens=block.count(key("cachedContentTokenCount", "cached_content_token_count")),
        reasoning_tokens=thoughts,
    )


_ANTHROPIC_KEYS = ("cache_read_input_tokens", "cache_creation_input_tokens", "cache_creation")
_GEMINI_CAMEL = ("promptTokenCount", "candidatesTokenCount", "cachedContentTokenCount", "thoughtsTokenCount")
_GEMINI_SNAKE = ("prompt_token_count", "candidates_token_count", "cached_content_token_count", "thoughts_token_count")


def _shape(block: _Block) -> str:
    """Return which provider convention the block follows, or raise when none or several fit."""
    found = []
    if block.has("prompt_tokens", "completion_tokens"):
        found.append("openai_chat")
    if block.has(*_GEMINI_CAMEL):
        found.append("gemini")
    if block.has(*_GEMINI_SNAKE):
        found.append("gemini_snake")
    if block.has("input_tokens", "output_tokens"):
        # Anthropic leaves the cache out of input_tokens, OpenAI's Responses API counts it in: the cache keys tell.
        anthropic, responses = block.has(*_ANTHROPIC_KEYS), block.has("input_tokens_details")
        if anthropic and responses:
            raise UsageShapeError("Mixes Anthropic cache keys with OpenAI's `input_tokens_details`: send one.")
        found.append("anthropic" if anthropic else "openai_responses")
    if not found:
        raise UsageShapeError(
            "Not a usage block this service reads: expected OpenAI (`prompt_tokens` or `input_tokens`), "
            "Anthropic (`input_tokens`, `cache_read_input_tokens`) or Gemini (`promptTokenCount`) keys."
        )
    if len(found) > 1:
        raise UsageShapeError("Mixes the keys of several providers' usage blocks: send one provider's block.")
    return found[0]


def token_counts(block: Any) -> TokenCounts:
    """Return the token counts of a provider's usage block, or raise UsageShapeError."""
    if not isinstance(block, dict):
        raise UsageShapeError("Must be a JSON object: the provider's usage block as it came.")
    reader = _Block(block)
    shape = _shape(reader)
    if shape == "openai_chat":
        counts = _openai_chat(reader)
    elif shape == "openai_responses":
        counts = _openai_responses(reader)
    elif shape == "anthropic":
        counts = _anthropic(reader)
    else:
        counts = _gemini(reader, snake=shape == "gemini_snake")
    if max(counts.tokens_in, counts.tokens_out) > MAX_COUNT:  # the parts are each checked, the sums are not
        raise UsageShapeError(f"The counts add up to more than {MAX_COUNT} tokens.")
    if problems := part_errors(counts):
        raise UsageShapeError(" ".join(dict.fromkeys(m for messages in problems.values() for m in messages)))
    return counts
