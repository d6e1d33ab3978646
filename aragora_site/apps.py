from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.contrib.admin.apps import AdminConfig


class SiteConfig(AppConfig):
    name = "aragora_site"
    verbose_name = "Aragora"

    def ready(self) -> None:
        # The SQLite database, the file cache and collected static files live in these folders.
        for folder in (settings.DATA_DIR, Path(settings.STATIC_ROOT)):
            Path(folder).mkdir(parents=True, exist_ok=True)


class AragoraAdminConfig(AdminConfig):
    default_site = "aragora_site.admin_site.AragoraAdminSite"
