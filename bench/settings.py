"""The service's settings with the benchmark's do-nothing endpoints as the URL configuration (for gunicorn)."""

from aragora_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.ping_urls"
