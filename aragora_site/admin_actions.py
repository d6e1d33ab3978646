"""Admin actions that ask for a reason before they act (Django's action-confirmation pattern).

The action first renders a page with its form over the selected objects; the page posts back to the same
address with `apply`, and only a valid form runs the service, once per object. The same page also serves a
single object from its change page (`object_action_view`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from aragora_site.errors import ServiceError

Apply = Callable[[Any, dict[str, Any]], str]


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Recorded in the audit log with your name.",
    )


def reason_form_page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    form_class: type[forms.Form],
    action: str,
    title: str,
    submit_label: str,
    apply: Apply,
    describe: Callable[[Any], str] = str,
) -> TemplateResponse | None:
    """Show the action's form over the selected objects; once it is valid apply it to each and return None.

    `apply(obj, cleaned_data)` calls the service and returns the success message; a ServiceError it raises
    becomes an error message for that object, and the others still go ahead. `describe(obj)` is how the page
    lists each object.
    """
    form = form_class(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        for obj in queryset:
            try:
                message = apply(obj, form.cleaned_data)
            except ServiceError as exc:
                model_admin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
            else:
                model_admin.message_user(request, message, messages.SUCCESS)
        return None
    opts = model_admin.model._meta
    objects = list(queryset)
    back = (
        reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[objects[0].pk])
        if len(objects) == 1
        else reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    )
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "opts": opts,
        "form": form,
        "objects": objects,
        "descriptions": [describe(obj) for obj in objects],
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "submit_label": submit_label,
        "cancel_url": back,
        "media": model_admin.media + form.media,
    }
    return TemplateResponse(request, "admin/reason_form.html", context)


def object_action_view(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    object_id: str,
    action: Callable[[HttpRequest, QuerySet], HttpResponse | None],
) -> HttpResponse:
    """Run a reason-asking action on one object from its change page, then go back to that page."""
    obj: Model | None = model_admin.get_object(request, unquote(object_id))
    if obj is None:
        raise Http404("No such object.")
    if not model_admin.has_change_permission(request, obj):
        raise PermissionDenied
    response = action(request, model_admin.get_queryset(request).filter(pk=obj.pk))
    if response is not None:
        return response
    opts = model_admin.model._meta
    return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
