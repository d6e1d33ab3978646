"""Keep the shared revocation cache right when users are deleted."""

from typing import Any

from django.db.models.signals import post_delete
from django.dispatch import receiver

from accounts import revocation
from accounts.models import User


@receiver(post_delete, sender=User)
def user_deleted(sender: type[User], instance: User, **kwargs: Any) -> None:
    revocation.forget_user(str(instance.pk))
