"""The audit log's one writer: every staff action of the back office is recorded through `audit_record`."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction

from aragora_site.errors import ServiceError
from aragora_site.models import REASON_REQUIRED, AuditAction, AuditEntry


def _target_fields(target: models.Model | str) -> dict[str, str]:
    if isinstance(target, models.Model):
        return {"target": str(target)[:300], "target_type": target._meta.label_lower, "target_id": str(target.pk)}
    return {"target": str(target)[:300]}


@transaction.atomic
def audit_record(
    *,
    actor: Any,
    action: str,
    target: models.Model | str,
    organization: models.Model | None = None,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record that `actor` did `action` to `target` (an object or a description), and why.

    Call it inside the transaction of the change it describes, so that both are kept or neither.
    Raises ServiceError (reason_required) when the action needs a reason and none was given.
    """
    action = AuditAction(action)
    reason = (reason or "").strip()
    if action in REASON_REQUIRED and not reason:
        raise ServiceError("Give a reason: it is recorded in the audit log.", code="reason_required")
    is_person = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEntry.objects.create(
        actor=actor if is_person else None,
        actor_email=getattr(actor, "email", "") if is_person else "",
        action=action,
        organization=organization,
        reason=reason,
        details=details or {},
        **_target_fields(target),
    )


def changes_between(*, before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Return {field: [before, after]} for the fields whose value differs."""
    return {name: [before.get(name), after.get(name)] for name in after if before.get(name) != after.get(name)}
