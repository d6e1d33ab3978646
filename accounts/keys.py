"""The API key format: `ara_` + 8 public characters + 32 secret characters + a CRC32 checksum, all base62.

Only the SHA-256 of a key and its public prefix are stored. The checksum lets a mistyped or invented key be
refused without a database query.
"""

from __future__ import annotations

import hashlib
import secrets
import zlib

API_KEY_PREFIX = "ara_"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_SET = frozenset(_BASE62)
_KEY_ID_LEN = 8  # public, non-secret part used for lookup
_KEY_SECRET_LEN = 32  # 32 base62 characters: about 190 bits
_KEY_CHECKSUM_LEN = 6
API_KEY_LENGTH = len(API_KEY_PREFIX) + _KEY_ID_LEN + _KEY_SECRET_LEN + _KEY_CHECKSUM_LEN


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, rem = divmod(number, 62)
        digits.append(_BASE62[rem])
    return "".join(reversed(digits)).rjust(width, "0")


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _KEY_CHECKSUM_LEN)


def api_key_new() -> str:
    """Return a fresh random API key."""
    body = "".join(secrets.choice(_BASE62) for _ in range(_KEY_ID_LEN + _KEY_SECRET_LEN))
    return f"{API_KEY_PREFIX}{body}{_checksum(body)}"


def api_key_is_well_formed(key: str) -> bool:
    """Return True when `key` has the shape and checksum of an Aragora API key (no database needed)."""
    if len(key) != API_KEY_LENGTH or not key.startswith(API_KEY_PREFIX):
        return False
    body = key[len(API_KEY_PREFIX) : -_KEY_CHECKSUM_LEN]
    if not _BASE62_SET.issuperset(body):
        return False
    return secrets.compare_digest(_checksum(body), key[-_KEY_CHECKSUM_LEN:])


def api_key_lookup_prefix(key: str) -> str:
    """Return the non-secret prefix under which a key is stored."""
    return key[: len(API_KEY_PREFIX) + _KEY_ID_LEN]


def hash_api_key(key: str) -> str:
    """Return the SHA-256 hex digest stored for an API key (keys are random, so a fast hash suffices)."""
    return hashlib.sha256(key.encode()).hexdigest()
