"""Fast, cross-worker-correct answers to "is this token still good?".

Three layers, each correct on its own:

1. process-local dicts, trusted only while the shared *revocation epoch* is unchanged;
2. the shared cache (Redis, or the file cache that every worker of one host shares);
3. the database, which is the truth.

Every revocation bumps the epoch, so every worker drops its local answers before its next request. Reading the
epoch is one `stat()` of a file when the cache is the host-local file cache, a memory read with Redis (a
subscriber thread hears every bump), one cache GET otherwise.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache

from aragora_site.caches import process_cache

_EPOCH_KEY = "auth:epoch"
_GENERATION_KEY = "auth:gen:{}"
_FILE_EPOCH_MAX = 64 * 1024


class FileEpoch:
    """The epoch is the identity of a file that grows by one byte per revocation (same-host workers)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> Hashable:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def bump(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as fh:  # O_APPEND: concurrent bumps never lose a byte
            fh.write(b".")
            size = fh.tell()
        if size > _FILE_EPOCH_MAX:  # start over in a new file (new inode), atomically
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(b".")
            os.replace(tmp, self.path)


class CacheEpoch:
    """The epoch is a counter in the shared cache (Redis)."""

    def read(self) -> Hashable:
        return cache.get(_EPOCH_KEY)

    def bump(self) -> int | None:
        """Add one to the counter (starting it at 1); return its new value, or None when that is not known."""
        try:
            return cache.incr(_EPOCH_KEY)
        except ValueError:  # no counter yet: start it, unless another worker just did
            if cache.add(_EPOCH_KEY, 1, None):
                return 1
            with contextlib.suppress(ValueError):
                return cache.incr(_EPOCH_KEY)
        return None


class RedisEpoch(CacheEpoch):
    """The epoch counter in Redis, plus a subscriber thread per worker that hears every bump as it happens.

    The epoch read is a version number kept in memory. It moves when a bump is heard, when this worker bumps,
    and when the counter in Redis is found different from the last value seen. Until the listener has subscribed
    (starting up, connection lost) every read GETs the counter. Once subscribed, it reads the counter again, so a
    bump made before the subscription is not missed, and from then on reads are memory reads. Every idle second
    the listener also compares the counter with what it last saw, so even a silently dead connection cannot hide
    a bump for longer. The epoch moves only on a change: subscribing, and hearing its own bumps back, do not
    move it again (each move makes every worker re-read what it remembers).
    """

    def __init__(self) -> None:
        # Named like a cache key (with its prefix), so deployments that share one Redis do not hear each other.
        self.channel = cache.make_key("auth:revocations")
        self._version = 0
        self._counter: Hashable = object()  # the counter in Redis as last seen (nothing seen yet)
        self._token = os.urandom(16).hex().encode()  # this worker's bumps, as published
        self._subscribed = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def close(self) -> None:
        """Stop the listener (it exits within a second) and give its connection back."""
        self._stop.set()
        self._subscribed = False

    def _ensure_listener(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._subscribed = False
                self._thread = threading.Thread(target=self._listen, name="revocation-epoch", daemon=True)
                self._thread.start()

    def _moved(self) -> None:
        with self._lock:
            self._version += 1

    def _note(self, counter: Hashable) -> None:
        """Move the epoch if the counter in Redis is not the one last seen."""
        with self._lock:
            if counter != self._counter:
                self._counter = counter
                self._version += 1

    def _listen(self) -> None:
        from django_redis import get_redis_connection

        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = get_redis_connection("default").pubsub()
                pubsub.subscribe(self.channel)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message["type"] == "subscribe":
                        # every bump from now on is heard; one made before shows in the counter
                        self._note(super().read())
                        self._subscribed = True
                    elif message and message["type"] == "message":
                        if message["data"] != self._token:  # this worker's own bumps moved the epoch already
                            self._moved()
                    elif message is None:
                        self._note(super().read())
            except Exception:
                self._subscribed = False
                self._moved()
                self._stop.wait(1)
            finally:
                if pubsub is not None:
                    pubsub.close()

    def read(self) -> Hashable:
        self._ensure_listener()
        if not self._subscribed:
            self._note(super().read())
        return self._version

    def bump(self) -> int | None:
        from django_redis import get_redis_connection

        with self._lock:
            before = self._counter
        after = super().bump()
        get_redis_connection("default").publish(self.channel, self._token)
        expected = 1 if before is None else before + 1 if isinstance(before, int) else None
        with self._lock:
            self._version += 1
            if after is not None and after == expected:  # nobody else bumped in between: nothing to hide
                self._counter = after
        return after


def _make_epoch() -> FileEpoch | CacheEpoch:
    conf = settings.CACHES["default"]
    if conf["BACKEND"].endswith("FileBasedCache"):
        return FileEpoch(Path(conf["LOCATION"]) / "revocations.epoch")
    if conf["BACKEND"].startswith("django_redis."):
        return RedisEpoch()
    return CacheEpoch()


class RevocationCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._epoch_source: FileEpoch | CacheEpoch | None = None
        self._epoch: Any = object()
        self._local: dict[str, Any] = {}

    @property
    def epoch(self) -> FileEpoch | CacheEpoch:
        if self._epoch_source is None:
            self._epoch_source = _make_epoch()
        return self._epoch_source

    def reset(self) -> None:
        """Forget the epoch source and local answers (after settings change, e.g. in tests)."""
        with self._lock:
            if isinstance(self._epoch_source, RedisEpoch):
                self._epoch_source.close()
            self._epoch_source = None
            self._epoch = object()
            self._local.clear()

    def _sync(self) -> None:
        current = self.epoch.read()
        if current != self._epoch:
            with self._lock:
                self._local.clear()
                self._epoch = current

    def sync(self) -> None:
        """Drop local answers if any worker recorded a revocation since the last look (one epoch read)."""
        self._sync()

    def get(self, key: str, load: Callable[[], Any], timeout: Callable[[], int] | int, *, synced: bool = False) -> Any:
        """Return the value for `key`: local, else shared cache, else `load()` (the database).

        `synced=True` skips the epoch read when the caller has just called `sync()`.
        """
        if not synced:
            self._sync()
        try:
            return self._local[key]
        except KeyError:
            pass
        value = cache.get(key)
        if value is None:
            value = load()
            cache.add(key, value, timeout() if callable(timeout) else timeout)  # add: a concurrent write wins
        if len(self._local) > 100_000:
            self._local.clear()
        self._local[key] = value
        return value

    def local(self, key: str, load: Callable[[], Any]) -> Any:
        """Return the value for `key` from this worker's memory, else `load()` (the database), kept until the
        epoch moves. For answers that every relevant change announces with `changed()` (API keys)."""
        self._sync()
        try:
            return self._local[key]
        except KeyError:
            pass
        value = load()
        if len(self._local) > 100_000:
            self._local.clear()
        self._local[key] = value
        return value

    def changed(self, *, delete: tuple[str, ...] = (), set_values: dict[str, tuple[Any, int]] | None = None) -> None:
        """Record a revocation: update the shared cache, then move the epoch so every worker re-reads."""
        for key in delete:
            cache.delete(key)
        for key, (value, timeout) in (set_values or {}).items():
            cache.set(key, value, timeout)
        self.epoch.bump()
        with self._lock:
            self._local.clear()


revocation_cache = RevocationCache()


def generation_key(user_id: Any) -> str:
    """The cache key of a user's token generation."""
    return _GENERATION_KEY.format(user_id)


process_cache("revocation answers and epoch source")(revocation_cache.reset)
