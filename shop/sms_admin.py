"""Admin pages for texting by hand: a "Send text message" page per order and customer, and
a bulk action on customers. Thin: they parse the form and call campaigns.sending."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _, ngettext

from campaigns import sending
from campaigns.forms import SmsTextForm
from credits.selectors import credit_balance, send_block_reason
from templates_sms.selectors import editor_context
from templates_sms.tokens import CUSTOM, RenderContext

from .tenancy import request_shop


class SendSmsAdminMixin:
    """Adds /<id>/send-sms/ and the button on the change page (hidden with its reason when blocked)."""

    change_form_template = "admin/shop/sms_change_form.html"

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_send_sms"
        return [path("<path:object_id>/send-sms/", self.admin_site.admin_view(self.send_sms_view), name=name),
                *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None:
            extra_context = {
                **(extra_context or {}),
                "sms_block_reason": send_block_reason(obj.shop),
                "send_sms_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_send_sms", args=[obj.pk]),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def sms_phone(self, obj):
        return obj.phone

    def sms_render_context(self, obj) -> RenderContext:
        if self.opts.model_name == "order":
            return RenderContext(shop=obj.shop, order=obj, customer=obj.customer)
        return RenderContext(shop=obj.shop, customer=obj)

    def send_sms_view(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        block_reason = send_block_reason(obj.shop)
        if request.method == "POST":
            form = SmsTextForm(request.POST)
            if form.is_valid() and not block_reason:
                target = {self.opts.model_name: obj}
                try:
                    message = sending.send_to_one(shop=obj.shop, body=form.cleaned_data["body"],
                                                  send_key=form.cleaned_data["send_key"], **target)
                except ValidationError as exc:
                    form.add_error(None, exc)
                else:
                    messages.success(request, _("The text message to %(to)s is on its way.") % {"to": message.recipient})
                    return HttpResponseRedirect(reverse("admin:smsnotify_message_change", args=[message.pk]))
        else:
            form = SmsTextForm(initial={"send_key": sending.new_send_key(), "body": sending.default_text(obj.shop)})
        context = {
            **self.admin_site.each_context(request),
            "title": _("Send text message"), "opts": self.opts, "original": obj, "form": form,
            "recipient": self.sms_phone(obj), "block_reason": block_reason, "balance": credit_balance(obj.shop),
            "editor": editor_context(shop=obj.shop, event=CUSTOM, body=form["body"].value() or "",
                                     context=self.sms_render_context(obj)),
        }
        return TemplateResponse(request, "admin/shop/send_sms.html", context)


class BulkSmsAdminMixin:
    """The "Send text message to selected customers" action, with a confirmation page
    shaped like Django's delete_selected: the confirming POST goes through the changelist
    again, so tenant scoping also filters forged ids."""

    actions = ["send_sms_selected"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        shop = request_shop(request)
        if shop is not None and send_block_reason(shop):
            actions.pop("send_sms_selected", None)  # the changelist says why instead
        return actions

    def changelist_view(self, request, extra_context=None):
        shop = request_shop(request)
        reason = send_block_reason(shop) if shop is not None else None
        return super().changelist_view(request, {**(extra_context or {}), "sms_block_reason": reason})

    def send_sms_selected(self, request, queryset):
        shop_ids = set(queryset.values_list("shop_id", flat=True))
        if len(shop_ids) != 1:
            self.message_user(request, _("Select customers of one shop."), messages.ERROR)
            return None
        shop = queryset.first().shop
        form = SmsTextForm(request.POST if "body" in request.POST else None,
                           initial={"send_key": sending.new_send_key(), "body": sending.default_text(shop)})
        body = form["body"].value() or ""
        if form.is_bound and "confirm" in request.POST and form.is_valid():
            try:
                plan = sending.send_bulk(shop=shop, customers=queryset, body=form.cleaned_data["body"],
                                         send_key=form.cleaned_data["send_key"])
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                count = len(plan.recipients)
                self.message_user(request, ngettext(
                    "%(count)d text message scheduled (%(credits)d credits).",
                    "%(count)d text messages scheduled (%(credits)d credits).", count)
                    % {"count": count, "credits": plan.credits}, messages.SUCCESS)
                return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Send text message to selected customers"), "opts": self.opts, "form": form,
            "queryset": queryset, "plan": sending.plan_bulk(shop=shop, customers=queryset, body=body),
            "block_reason": send_block_reason(shop), "action_checkbox_name": "_selected_action",
            "selected": queryset.values_list("pk", flat=True),
            "editor": editor_context(shop=shop, event=CUSTOM, body=body),
        }
        return TemplateResponse(request, "admin/shop/customer/send_sms_bulk.html", context)

    send_sms_selected.short_description = _("Send text message to selected customers")
    send_sms_selected.allowed_permissions = ["view"]
