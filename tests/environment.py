"""Loaded by pytest as a plugin (-p) before Django reads its settings: the test environment."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("ARAGORA_JWT_SECRET", "test-jwt-secret-that-is-long-enough-0123456789")
# Each test process gets its own data directory: its own SQLite files and its own file cache.
os.environ["ARAGORA_DATA_DIR"] = tempfile.mkdtemp(prefix="aragora-test-")
# With Redis, its own key prefix too, and so its own revocation channel: parallel test processes do not hear
# each other's revocations.
os.environ.setdefault("ARAGORA_CACHE_PREFIX", f"aragora-test-{os.getpid()}")
os.environ.setdefault("ARAGORA_STATICFILES_STORAGE", "django.contrib.staticfiles.storage.StaticFilesStorage")
# dj-stripe's tables from one migration instead of its 500-step history (see settings, STRIPE).
os.environ.setdefault("DJSTRIPE_TEST_MIGRATIONS", "1")
