"""The one table of the project itself: a row /api/health writes to prove the database still takes writes."""

from django.db import models
from django.utils import timezone


class HealthProbe(models.Model):
    id = models.PositiveSmallIntegerField(primary_key=True)
    written_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "aragora_health_probe"

    def __str__(self) -> str:
        return f"written {self.written_at:%Y-%m-%d %H:%M:%S}"
