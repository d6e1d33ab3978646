"""Move each user's single API key (User.api_key_*) into an ApiKey row named "default".

The key itself was never stored, so the row keeps the same prefix and SHA-256: existing keys keep working.
Reversing copies each user's newest live key back (other keys of a user are then lost).
"""

from django.db import migrations
from django.utils import timezone

BATCH = 1000


def user_keys_to_api_keys(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    ApiKey = apps.get_model("accounts", "ApiKey")
    rows = []
    users = User.objects.exclude(api_key_prefix__isnull=True).exclude(api_key_hash="").order_by("pk")
    # Keys already there (the migration was reversed and is applied again) are not copied twice.
    users = users.exclude(api_key_prefix__in=ApiKey.objects.values("prefix"))
    for user in users.iterator(chunk_size=BATCH):
        rows.append(
            ApiKey(
                user_id=user.pk,
                name="default",
                prefix=user.api_key_prefix,
                key_hash=user.api_key_hash,
                created_at=user.api_key_created_at or timezone.now(),
                last_used_at=user.api_key_last_used_at,
            )
        )
        if len(rows) >= BATCH:
            ApiKey.objects.bulk_create(rows)
            rows = []
    ApiKey.objects.bulk_create(rows)


def api_keys_to_user_keys(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    ApiKey = apps.get_model("accounts", "ApiKey")
    seen = set()
    for key in ApiKey.objects.filter(revoked_at__isnull=True).order_by("user_id", "-created_at").iterator():
        if key.user_id in seen or (key.expires_at is not None and key.expires_at <= timezone.now()):
            continue
        seen.add(key.user_id)
        User.objects.filter(pk=key.user_id).update(
            api_key_prefix=key.prefix,
            api_key_hash=key.key_hash,
            api_key_created_at=key.created_at,
            api_key_last_used_at=key.last_used_at,
        )


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_apikey'),
    ]

    operations = [
        migrations.RunPython(user_keys_to_api_keys, api_keys_to_user_keys, elidable=True),
    ]
