"""Time-ordered identifiers for rows written in volume."""

from __future__ import annotations

import os
import time
import uuid

_RAND_B = (1 << 62) - 1


def uuid7() -> uuid.UUID:
    """Return a UUID version 7 (RFC 9562): 48 bits of Unix time in milliseconds, then 74 random bits.

    Rows keyed by it are inserted at the right edge of their primary-key index, so an insert touches the index's
    last pages instead of a random one: on a large table a random UUID reads and dirties one index page per row.
    It tells when the row was written, to the millisecond, as the row's own `recorded_at` already does.
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    return uuid.UUID(
        int=(millis & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (rand >> 68) << 64 | 0b10 << 62 | rand & _RAND_B
    )
