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


def _whole(value: Any, path: str) -> int:
    """Return a count as sent; absent or null is 0."""
    if value is None:
        return 0
    if type(value) is not int or not 0 <= value <= MAX_COUNT:  # bool is a subclass of int: refused too
        raise UsageShapeError(f"`{path}` must be a whole number from 0 to {MAX_COUNT}.")
    return value


def _inner(block: dict[str, Any], head: str, key: str) -> int:
    """Return the count at `head.key` (every provider nests at most once); an absent or null object is 0."""
    outer = block.get(head)
    if outer is None:
        return 0
    if not isinstance(outer, dict):
        raise UsageShapeError(f"`{head}` must be an object.")
    value = outer.get(key)
    # the common case answered here: the dotted path is spelled only for a value that may be refused
    return value if type(value) is int and 0 <= value <= MAX_COUNT else _whole(value, f"{head}.{key}")


def _count(block: dict[str, Any], key: str) -> int:
    value = block.get(key)
    return value if type(value) is int and 0 <= value <= MAX_COUNT else _whole(value, key)


# OpenAI's two APIs name the same counts differently: (input, output, input details, output details).
_OPENAI_CHAT_NAMES = ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details")
_OPENAI_RESPONSES_NAMES = ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")


def _openai(block: dict[str, Any], names: tuple[str, str, str, str]) -> TokenCounts:
    tokens_in, tokens_out, in_details, out_details = names
    return TokenCounts(
        _count(block, tokens_in),
        _count(block, tokens_out),
        _inner(block, in_details, "cached_tokens"),
        _inner(block, in_details, "cache_write_tokens"),
        _inner(block, out_details, "reasoning_tokens"),
    )


def _anthropic(block: dict[str, Any]) -> TokenCounts:
    read, written = _count(block, "cache_read_input_tokens"), _count(block, "cache_creation_input_tokens")
    return TokenCounts(
        _count(block, "input_tokens") + read + written,
        _count(block, "output_tokens"),
        read,
        written,
        _inner(block, "output_tokens_details", "thinking_tokens"),
    )


def _gemini(block: dict[str, Any], *, snake: bool) -> TokenCounts:
    def count(camel: str, snake_name: str) -> int:
        return _count(block, snake_name if snake else camel)

    thoughts = count("thoughtsTokenCount", "thoughts_token_count")
    return TokenCounts(
        tokens_in=count("promptTokenCount", "prompt_token_count")
        + count("toolUsePromptTokenCount", "tool_use_prompt_token_count"),
        tokens_out=count("candidatesTokenCount", "candidates_token_count") + thoughts,
        cache_read_tokens=count("cachedContentTokenCount", "cached_content_token_count"),
        reasoning_tokens=thoughts,
    )


_OPENAI_CHAT_KEYS = frozenset({"prompt_tokens", "completion_tokens"})
_IN_OUT_KEYS = frozenset({"input_tokens", "output_tokens"})
_ANTHROPIC_KEYS = frozenset({"cache_read_input_tokens", "cache_creation_input_tokens", "cache_creation"})
_GEMINI_CAMEL = frozenset({"promptTokenCount", "candidatesTokenCount", "cachedContentTokenCount", "thoughtsTokenCount"})
_GEMINI_SNAKE = frozenset(
    {"prompt_token_count", "candidates_token_count", "cached_content_token_count", "thoughts_token_count"}
)


def _shape(block: dict[str, Any]) -> str:
    """Return which provider convention the block follows, or raise when none or several fit."""
    keys = block.keys()
    found = []
    if not keys.isdisjoint(_OPENAI_CHAT_KEYS):
        found.append("openai_chat")
    if not keys.isdisjoint(_GEMINI_CAMEL):
        found.append("gemini")
    if not keys.isdisjoint(_GEMINI_SNAKE):
        found.append("gemini_snake")
    if not keys.isdisjoint(_IN_OUT_KEYS):
        # Anthropic leaves the cache out of input_tokens, OpenAI's Responses API counts it in: the cache keys tell.
        anthropic, responses = not keys.isdisjoint(_ANTHROPIC_KEYS), "input_tokens_details" in block
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


_READERS = {
    "openai_chat": lambda block: _openai(block, _OPENAI_CHAT_NAMES),
    "openai_responses": lambda block: _openai(block, _OPENAI_RESPONSES_NAMES),
    "anthropic": _anthropic,
    "gemini": lambda block: _gemini(block, snake=False),
    "gemini_snake": lambda block: _gemini(block, snake=True),
}


def token_counts(block: Any) -> TokenCounts:
    """Return the token counts of a provider's usage block, or raise UsageShapeError."""
    if not isinstance(block, dict):
        raise UsageShapeError("Must be a JSON object: the provider's usage block as it came.")
    counts = _READERS[_shape(block)](block)
    tokens_in, tokens_out, cache_read, cache_write, reasoning = counts
    if tokens_in > MAX_COUNT or tokens_out > MAX_COUNT:  # the parts are each checked, the sums are not
        raise UsageShapeError(f"The counts add up to more than {MAX_COUNT} tokens.")
    if cache_read + cache_write > tokens_in or reasoning > tokens_out:  # part_errors says which and why
        problems = part_errors(counts)
        raise UsageShapeError(" ".join(dict.fromkeys(m for messages in problems.values() for m in messages)))
    return counts
