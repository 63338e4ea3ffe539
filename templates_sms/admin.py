"""The template editor in the admin. Thin: every write goes through templates_sms.services and
every number the editor shows (preview, parts, characters left, cost) is computed by
selectors.template_preview; editor.js only displays it."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _, gettext_lazy, ngettext

from shop.models import Shop
from shop.tenancy import ShopScopedAdmin, is_operator, request_shop

from . import selectors, services
from .models import SmsTemplate
from .tokens import CUSTOM, EVENTS

# Constant markup of ours, never merchant text.
# Said beside every text whose event no feature sends yet (tokens.Event.sent).
NOT_SENT_YET = gettext_lazy("Not sent yet: the feature that sends this text is coming.")
NOT_SENT_YET_SHORT = gettext_lazy("not sent yet")

_EYE_OPEN = mark_safe(
    '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path fill="currentColor" '
    'd="M12 5C6.5 5 2.7 9.1 1.5 12c1.2 2.9 5 7 10.5 7s9.3-4.1 10.5-7C21.3 9.1 17.5 5 12 5zm0 11.5a4.5 4.5 0 1 1 '
    '0-9 4.5 4.5 0 0 1 0 9zm0-7a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5z"/></svg>'
)
_EYE_CLOSED = mark_safe(
    '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path fill="currentColor" '
    'd="M2.1 3.5 3.5 2.1l18.4 18.4-1.4 1.4-3.2-3.2A11.6 11.6 0 0 1 12 19c-5.5 0-9.3-4.1-10.5-7a12.8 12.8 0 0 1 '
    '4.2-5.2L2.1 3.5zM12 5c5.5 0 9.3 4.1 10.5 7a12.6 12.6 0 0 1-3.3 4.6l-3-3A4.5 4.5 0 0 0 10.4 7.8L8.3 5.7A11 11 0 '
    '0 1 12 5zm-4.4 5.4a4.5 4.5 0 0 0 6 6l-1.6-1.6a2.5 2.5 0 0 1-2.8-2.8l-1.6-1.6z"/></svg>'
)


def _eye_title(active: bool) -> str:
    return _("Active: click to switch off") if active else _("Off: click to switch on")


class SmsTemplateForm(forms.ModelForm):
    class Meta:
        model = SmsTemplate
        fields = ["shop", "name", "body", "active"]
        widgets = {"body": forms.Textarea(attrs={"rows": 6, "cols": 60, "class": "sms-body", "spellcheck": "true"})}


@admin.register(SmsTemplate)
class SmsTemplateAdmin(ShopScopedAdmin):
    form = SmsTemplateForm
    change_form_template = "admin/templates_sms/smstemplate/change_form.html"
    list_display_links = ["name"]
    list_filter = ["audience", "active", "is_standard"]
    search_fields = ["name", "body"]
    actions = ["reset_to_default"]

    # --- list ------------------------------------------------------------------------------

    def get_list_display(self, request):
        # The eye posts through the changelist's own form (it holds the CSRF token); the
        # column is built per request so it can send the merchant back to the same filtered list.
        back = request.get_full_path()

        def eye(obj):
            return format_html(
                '<button type="submit" class="sms-eye {}" formaction="{}" formmethod="post" name="next" value="{}" '
                'title="{}" aria-label="{}" aria-pressed="{}">{}</button>',
                "is-active" if obj.active else "is-off",
                reverse("admin:templates_sms_smstemplate_toggle", args=[obj.pk]), back,
                _eye_title(obj.active), _eye_title(obj.active), "true" if obj.active else "false",
                _EYE_OPEN if obj.active else _EYE_CLOSED,
            )

        eye.short_description = gettext_lazy("active")
        eye.admin_order_field = "active"
        columns = ["name", "event_label", "audience", eye, "excerpt", "is_standard", "updated_at"]
        return (["shop", *columns]) if is_operator(request) else columns

    @admin.display(description=gettext_lazy("event"), ordering="event")
    def event_label(self, obj):
        event = EVENTS.get(obj.event)
        if event is not None and not event.sent:
            return format_html('{} <span class="sms-not-sent-yet" title="{}">{}</span>', obj.get_event_display(),
                               NOT_SENT_YET, NOT_SENT_YET_SHORT)
        return obj.get_event_display()

    @admin.display(description=gettext_lazy("text"))
    def excerpt(self, obj):
        return obj.body if len(obj.body) <= 70 else obj.body[:67] + "…"

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # standard templates are never deleted; custom ones from their page
        return actions

    class Media:
        css = {"all": ["templates_sms/editor.css"]}

    # --- form ------------------------------------------------------------------------------

    def get_fields(self, request, obj=None):
        fields = ["name", "body", "active"]
        if is_operator(request) and obj is None:
            fields = ["shop", *fields]
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["shop", "event", "audience", "is_standard", "updated_at"] if is_operator(request) else [
            "event", "audience", "is_standard", "updated_at"]

    def get_fieldsets(self, request, obj=None):
        fields = list(self.get_fields(request, obj))
        if obj is not None:
            fields = [*self.get_readonly_fields(request, obj)[:-1], *fields, "updated_at"]
        return [(None, {"fields": fields})]

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_standard:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            current = self.get_queryset(request).get(pk=obj.pk)
            services.template_update(template=current, name=data["name"], body=data["body"], active=data["active"])
        else:
            shop = data.get("shop") or request_shop(request)
            created = services.template_create(shop=shop, name=data["name"], body=data["body"], active=data["active"])
            obj.pk, obj.shop = created.pk, created.shop

    # --- the editor ------------------------------------------------------------------------

    def _editor_context(self, request, obj=None) -> dict:
        shop = obj.shop if obj is not None else request_shop(request)
        event = obj.event if obj is not None else CUSTOM
        context = selectors.editor_context(shop=shop, event=event, body=obj.body if obj else "")
        context["not_sent_yet"] = NOT_SENT_YET
        if obj is not None:
            context.update(
                toggle_url=reverse("admin:templates_sms_smstemplate_toggle", args=[obj.pk]),
                reset_url=reverse("admin:templates_sms_smstemplate_reset", args=[obj.pk]) if obj.is_standard else "",
                eye_title=_eye_title(obj.active), eye_open=_EYE_OPEN, eye_closed=_EYE_CLOSED,
                change_url=request.get_full_path(),
            )
        return context

    def add_view(self, request, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "sms_editor": self._editor_context(request)}
        return super().add_view(request, form_url, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        extra_context = {**(extra_context or {}), "sms_editor": self._editor_context(request, obj)}
        return super().change_view(request, object_id, form_url, extra_context)

    # --- custom URLs: before super().get_urls(), whose catch-all would take them -------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("preview/", wrap(self.preview_view), name="templates_sms_smstemplate_preview"),
            path("<path:object_id>/toggle/", wrap(self.toggle_view), name="templates_sms_smstemplate_toggle"),
            path("<path:object_id>/reset/", wrap(self.reset_view), name="templates_sms_smstemplate_reset"),
            *super().get_urls(),
        ]

    def _own_template(self, request, object_id) -> SmsTemplate:
        """The request's shop's template, or a 404 whether the id is foreign or missing."""
        obj = self.get_object(request, unquote(str(object_id)))
        if obj is None:
            raise Http404
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        return obj

    def _back(self, request, default: str) -> str:
        target = request.POST.get("next", "")
        safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure())
        return target if target and safe else default

    def preview_view(self, request):
        """JSON for editor.js: the text rendered with sample data and its exact count. (The send
        pages preview their one real recipient with their own endpoint, in campaigns.admin.)"""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        template_id = request.POST.get("template")
        if template_id:
            template = self._own_template(request, template_id)
            shop, event = template.shop, template.event
        else:
            if not self.has_add_permission(request):
                raise PermissionDenied
            shop, event = request_shop(request), CUSTOM
            if is_operator(request) and request.POST.get("shop", "").isdigit():
                shop = Shop.objects.filter(pk=request.POST["shop"]).first()
        if shop is None:
            return JsonResponse({"errors": [_("Choose a shop first.")]}, status=400)
        body = request.POST.get("body", "")[:5000]  # the editor's text, bounded: a preview is not storage
        return JsonResponse(selectors.template_preview(shop=shop, event=event, body=body).as_json())

    def toggle_view(self, request, object_id):
        """The eye: switch a template on or off (POST only; CSRF-checked by admin_view)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        template = services.template_toggle(template=self._own_template(request, object_id))
        if "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"active": template.active, "title": _eye_title(template.active)})
        message = (_("“%(name)s” is switched on.") if template.active else _("“%(name)s” is switched off.")) % {
            "name": template.name}
        self.message_user(request, message, messages.SUCCESS)
        return redirect(self._back(request, reverse("admin:templates_sms_smstemplate_changelist")))

    def reset_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        template = self._own_template(request, object_id)
        try:
            services.template_reset(template=template)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
        else:
            self.message_user(request, _("The default text is back."), messages.SUCCESS)
        return redirect(reverse("admin:templates_sms_smstemplate_change", args=[template.pk]))

    @admin.action(description=gettext_lazy("Reset selected standard templates to their default text"),
                  permissions=["change"])
    def reset_to_default(self, request, queryset):
        count = 0
        for template in queryset.filter(is_standard=True).select_related("shop"):
            services.template_reset(template=template)
            count += 1
        self.message_user(request, ngettext("%d template reset to its default text.",
                                            "%d templates reset to their default text.", count) % count,
                          messages.SUCCESS if count else messages.WARNING)
