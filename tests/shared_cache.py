"""Empty this test process's part of the shared cache.

With Redis, parallel test processes share one database under their own key prefixes (tests/environment.py):
`cache.clear()` would flush the whole database, the other processes' revocation epochs and counters with it,
in the middle of their tests. Only this process's keys are deleted.
"""

from django.core.cache import cache


def clear() -> None:
    delete_pattern = getattr(cache, "delete_pattern", None)  # django-redis: the pattern is under KEY_PREFIX
    if delete_pattern is None:
        cache.clear()
    else:
        delete_pattern("*")
