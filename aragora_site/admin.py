"""Back office: the audit log, readable by staff and never editable, not even by superusers."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from aragora_site.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_email", "action", "target_link", "organization", "reason"]
    list_filter = ["action", "created_at"]
    search_fields = ["actor_email", "target", "=target_id", "reason", "organization__name", "organization__slug"]
    list_select_related = ["organization"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "actor",
        "actor_email",
        "action",
        "target_link",
        "target_type",
        "target_id",
        "organization",
        "reason",
        "details_json",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="Target", ordering="target")
    def target_link(self, obj: AuditEntry) -> str:
        if obj.target_type and obj.target_id:
            try:
                url = reverse(f"admin:{obj.target_type.replace('.', '_')}_change", args=[obj.target_id])
            except NoReverseMatch:
                return obj.target
            return format_html('<a href="{}">{}</a>', url, obj.target)
        return obj.target

    @admin.display(description="Details")
    def details_json(self, obj: AuditEntry) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.details, indent=2, sort_keys=True, ensure_ascii=False))
