"""Every process-wide cache, registered in one place so that one call resets them all (tests, settings changes).

Each cache is correct on its own (see the README's "Process-wide caches"); resetting only costs a re-read.
"""

from __future__ import annotations

from collections.abc import Callable

_RESETS: dict[str, Callable[[], None]] = {}


def process_cache(name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register `reset` as the way to empty the process-wide cache called `name`."""

    def register(reset: Callable[[], None]) -> Callable[[], None]:
        _RESETS[name] = reset
        return reset

    return register


def registered_caches() -> list[str]:
    return sorted(_RESETS)


def reset_process_caches() -> None:
    """Empty every registered process-wide cache."""
    for reset in _RESETS.values():
        reset()
