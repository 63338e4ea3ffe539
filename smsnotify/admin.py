"""The merchant's view of the messaging core: SMS settings and every message with its history."""

import tempfile
import uuid

from django import forms
from django.conf import settings as django_settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string
from django.utils.translation import gettext, gettext_lazy as _, ngettext
from phonenumber_field.formfields import PhoneNumberField

from shop.tenancy import ShopScopedAdmin, ShopScopedInline, is_operator, request_shop

from . import gateway_check, history, inbound, outbox, report
from .forms import ReportForm, TestTextForm
from .gateways.base import InboundSms
from .models import Direction, Message, MessageEvent, SenderRate, SmsSettings, Status
from .phones import InvalidPhoneNumber
from .pacing import DEFAULT_RATES, sender_kind

_STATUS_COLOURS = {
    Status.DELIVERED: "#2e7d32", Status.SENT: "#558b2f", Status.FAILED: "#c62828", Status.UNDELIVERED: "#c62828",
    Status.UNKNOWN: "#ef6c00", Status.CANCELLED: "#757575", Status.SUPPRESSED: "#757575",
}


def error_html(words: history.ErrorWords):
    """A failure's reason, with the provider's own words beneath it, smaller: the merchant reads the
    first line, support the second."""
    if not words.detail:
        return words.reason
    return format_html('{}<br><small class="provider-answer" style="color:var(--body-quiet-color)">{}</small>',
                       words.reason, words.detail)


@admin.register(SmsSettings)
class SmsSettingsAdmin(ShopScopedAdmin):
    phrases = {"change": _("Change SMS settings"), "view": _("View SMS settings")}
    merchant_actions = frozenset({"view", "change"})  # one row per shop, created with the shop
    list_display = ["shop", "active", "sender", "merchant_number"]

    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        return ["shop"] if is_operator(request) else []

    def change_view(self, request, object_id, form_url="", extra_context=None):
        settings = self.get_object(request, object_id)
        if request.method == "GET" and settings is not None and not settings.merchant_number:
            messages.warning(request, _("No merchant's number: alerts to you (new order, new ticket) are not texted. "
                                        "Add your mobile number below to get them."))
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [path("<path:object_id>/test-text/", self.admin_site.admin_view(self.test_text_view),
                     name="smsnotify_smssettings_test_text"),
                *super().get_urls()]

    def test_text_view(self, request, object_id):
        """Send a test text through the configured gateway and say what the provider answered."""
        settings = self.get_object(request, object_id)
        if settings is None or not self.has_change_permission(request, settings):
            raise Http404
        shop = settings.shop
        form = TestTextForm(request.POST or None, region=shop.country,
                            initial={"to": settings.merchant_number or None})
        if request.method == "POST" and form.is_valid():
            wait = gateway_check.gateway_test_wait(shop=shop)
            if wait:
                form.add_error(None, ngettext("Too many test texts: try again in %(n)d second.",
                                              "Too many test texts: try again in %(n)d seconds.", wait) % {"n": wait})
            else:
                try:
                    sent = gateway_check.gateway_test_send(shop=shop, to=form.cleaned_data["to"].as_e164,
                                                           user=request.user)
                except gateway_check.TestTextRefused as exc:
                    form.add_error(None, str(exc))
                except InvalidPhoneNumber as exc:
                    form.add_error("to", exc)
                else:
                    answer = gateway_check.gateway_test_answer(sent)
                    link = reverse("admin:smsnotify_message_change", args=[sent.pk])
                    self.message_user(request, format_html('{} <a href="{}">{}</a>', answer.text, link,
                                                           gettext("Open the message")),
                                      messages.SUCCESS if answer.ok else messages.ERROR)
                    return HttpResponseRedirect(request.path)
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": settings, "form": form,
                   "title": gettext("Send a test text"), "sms_active": settings.active}
        return TemplateResponse(request, "admin/smsnotify/smssettings/test_text.html", context)


def moment_display(field_name: str):
    """A readonly field showing a time of the message as its history does (history.moment_text:
    the shop's date format and time zone, to the second), so one page reads one format."""

    @admin.display(description=Message._meta.get_field(field_name).verbose_name, ordering=field_name)
    def shown(self, obj):
        moment = getattr(obj, field_name)
        return "-" if moment is None else history.in_shop_terms(obj.shop, history.moment_text, moment)

    shown.__name__ = f"{field_name}_shown"
    return shown


class MessageEventInline(ShopScopedInline):
    model = MessageEvent
    merchant_actions = frozenset({"view"})
    extra = 0
    can_delete = False
    fields = readonly_fields = ["when", "status_shown", "what_happened", "who"]
    verbose_name_plural = _("history")

    @admin.display(description=_("when"))
    def when(self, obj):
        return history.in_shop_terms(obj.message.shop, history.moment_text, obj.created_at)

    @admin.display(description=_("user"))
    def who(self, obj):  # a name, not a link: a merchant may not open user accounts
        return obj.user.get_username() if obj.user else "-"

    @admin.display(description=_("status"))
    def status_shown(self, obj):
        # The status the message had after the event: an incoming text's reads "Received".
        return Message(direction=obj.message.direction, status=obj.status).status_label

    @admin.display(description=_("what happened"))
    def what_happened(self, obj):
        return history.in_shop_terms(obj.message.shop, history.event_text, obj)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("message__shop", "user")

    class Media:
        css = {"all": ["smsnotify/history.css"]}

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(ShopScopedAdmin):
    """Messages are written by the outbox only; the admin reads them and cancels or resends.

    The actions need only "view": they go through the outbox, which allows only safe transitions.
    """

    merchant_actions = frozenset({"view"})
    list_display = ["id", "created_at", "recipient", "kind", "status_badge", "segments", "short_body"]
    list_filter = ["status", "kind", "direction"]
    search_fields = ["recipient", "body", "provider_id", "order__number"]
    date_hierarchy = "created_at"
    list_select_related = ["shop"]
    inlines = [MessageEventInline]
    actions = ["cancel_selected", "send_again_selected"]
    fieldsets = [
        (None, {"fields": ["shop", "recipient", "sender", "body", "encoding", "segments", "credits_charged"]}),
        (_("Status"), {"fields": ["status_text", "error_display", "send_at_shown", "attempts", "sent_at_shown",
                                  "delivered_at_shown"]}),
        (_("Concerns"), {"fields": ["kind", "direction", "customer", "order", "cart", "product"]}),
        (_("Technical"), {"classes": ["collapse"], "fields": [
            "error_code", "gateway", "provider_id", "dedupe_key", "created_at_shown", "queued_at_shown",
            "sending_at_shown"]}),
    ]
    # A customer's text to the shop: stored with the customer in ``recipient`` and the shop's
    # number in ``sender`` (the conversation's two ends), shown as who wrote it to whom; nothing
    # was encoded, attempted or charged by us.
    inbound_fieldsets = [
        (None, {"fields": ["shop", "from_customer", "to_shop", "body"]}),
        (_("Status"), {"fields": ["status_text", "received_at"]}),
        (_("Concerns"), {"fields": ["kind", "direction", "customer"]}),
        (_("Technical"), {"classes": ["collapse"], "fields": ["gateway", "provider_id", "dedupe_key"]}),
    ]
    readonly_fields = list(dict.fromkeys(field for sets in (fieldsets, inbound_fieldsets)
                                         for _name, options in sets for field in options["fields"]))

    created_at_shown = moment_display("created_at")
    send_at_shown = moment_display("send_at")
    sent_at_shown = moment_display("sent_at")
    delivered_at_shown = moment_display("delivered_at")
    queued_at_shown = moment_display("queued_at")
    sending_at_shown = moment_display("sending_at")

    def get_fieldsets(self, request, obj=None):
        return self.inbound_fieldsets if obj is not None and obj.direction == Direction.INBOUND else self.fieldsets

    @admin.display(description=_("From"))
    def from_customer(self, obj):
        return obj.recipient

    @admin.display(description=_("To"))
    def to_shop(self, obj):
        return obj.sender or "-"

    @admin.display(description=_("received at"))
    def received_at(self, obj):
        return history.in_shop_terms(obj.shop, history.moment_text, obj.created_at)

    @admin.display(description=_("status"))
    def status_text(self, obj):
        return obj.status_label

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [path("receive/", self.admin_site.admin_view(self.receive_view), name="smsnotify_message_receive"),
                path("report/", self.admin_site.admin_view(self.report_view), name="smsnotify_message_report"),
                *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra = {"receive_url": reverse("admin:smsnotify_message_receive") if may_simulate_inbound(request) else ""}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def report_view(self, request):
        """The SMS report's dates; with valid ones in the query, the file itself (streamed)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        operator = is_operator(request)
        today = timezone.localdate()  # in the shop's time zone (shop.middleware)
        form = ReportForm(request.GET if "start" in request.GET else None, today=today,
                          shop=None if operator else request_shop(request))
        if form.is_bound and form.is_valid():
            shop = form.cleaned_data["shop"] if operator else request_shop(request)
            return _report_response(shop=shop, start=form.cleaned_data["start"], end=form.cleaned_data["end"],
                                    file_format=form.cleaned_data["format"])
        context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form,
                   "title": gettext("SMS report")}
        return TemplateResponse(request, "admin/smsnotify/message/report.html", context)

    def receive_view(self, request):
        """Demo and sandbox only: a customer's text as if it had come in, handled like a real one."""
        if not may_simulate_inbound(request):
            raise Http404
        shop = request_shop(request)
        form = SimulatedInboundForm(request.POST or None, region=shop.country, language=shop.language)
        if request.method == "POST" and form.is_valid():
            sender = SmsSettings.objects.filter(shop=shop).values_list("sender", flat=True).first() or ""
            received = inbound.inbound_receive(shop=shop, sms=InboundSms(
                sender=form.cleaned_data["sender"].as_e164, to=sender, body=form.cleaned_data["body"],
                provider_id=f"SIM{uuid.uuid4().hex}", gateway="simulated"))
            messages.success(request, gettext("The text from %(number)s was received.") % {"number": received.recipient})
            after = request.POST.get("next", "")
            if after and url_has_allowed_host_and_scheme(after, allowed_hosts={request.get_host()},
                                                         require_https=request.is_secure()):
                return HttpResponseRedirect(after)  # back to the page that offered the simulation (the inbox)
            return HttpResponseRedirect(reverse("admin:smsnotify_message_change", args=[received.pk]))
        context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form,
                   "title": gettext("Simulate a text from a customer"),
                   "next": request.POST.get("next", request.GET.get("next", ""))}
        return TemplateResponse(request, "admin/smsnotify/message/receive.html", context)

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        colour = _STATUS_COLOURS.get(obj.status, "#1565c0")
        return format_html('<strong style="color:{}">{}</strong>', colour, obj.status_label)

    @admin.display(description=_("text"))
    def short_body(self, obj):
        return obj.body if len(obj.body) <= 60 else obj.body[:57] + "…"

    @admin.display(description=_("error"))
    def error_display(self, obj):
        return error_html(history.in_shop_terms(obj.shop, history.error_words, obj))

    @admin.action(description=_("Cancel selected scheduled messages"), permissions=["view"])
    def cancel_selected(self, request, queryset):
        count = sum(outbox.message_cancel(message=message, user=request.user) for message in queryset)
        self.message_user(request, ngettext("%d message cancelled.", "%d messages cancelled.", count) % count,
                          messages.SUCCESS if count else messages.WARNING)

    @admin.action(description=_("Send selected failed or unknown messages again"), permissions=["view"])
    def send_again_selected(self, request, queryset):
        count = sum(outbox.message_send_again(message=message, user=request.user) for message in queryset)
        self.message_user(request, ngettext("%d message will be sent again.", "%d messages will be sent again.", count)
                          % count, messages.SUCCESS if count else messages.WARNING)


@admin.register(SenderRate)
class SenderRateAdmin(admin.ModelAdmin):
    """The operator's rates per sender (a platform setting: merchants have no access). A sender
    without one sends at its provider's rule for its kind."""

    list_display = ["sender", "segments_per_second", "providers_rule"]
    search_fields = ["sender"]

    @admin.display(description=_("provider's rule"))
    def providers_rule(self, obj):
        kind = sender_kind(obj.sender)
        return f"{DEFAULT_RATES[kind]:g}/s ({kind.replace('_', ' ')})"


def _report_response(*, shop, start, end, file_format: str):
    """The report as a download: the CSV yielded line by line, the XLSX written to a temporary
    file first (a workbook is a zip whose parts are written at the end) and streamed from it."""
    texts = report.report_messages(shop=shop, start=start, end=end)
    filename = f"sms-report-{shop.slug}-{start:%Y%m%d}-{end:%Y%m%d}.{file_format}"
    if file_format == "xlsx":
        file = tempfile.TemporaryFile()  # gone when the response closes it
        report.report_xlsx(shop=shop, messages=texts, file=file)
        file.seek(0)
        return FileResponse(file, as_attachment=True, filename=filename,
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response = StreamingHttpResponse(report.report_csv(shop=shop, messages=texts),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class SimulatedInboundForm(forms.Form):
    sender = PhoneNumberField(label=_("From"), help_text=_("The customer's number."))
    body = forms.CharField(label=_("Text"), max_length=1600, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, region: str, language: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sender"].region = region
        # The words the shop reacts to, its language's too (NIE, TAK… for a Polish shop).
        words = inbound.inbound_keywords(language=language)
        if words:
            self.fields["body"].help_text = gettext("Try one of these words: %(words)s.") % {
                "words": ", ".join(words)}


def may_simulate_inbound(request) -> bool:
    """A merchant, while the gateway is a sandbox (real texts come in through the provider's webhook)."""
    return request_shop(request) is not None and import_string(django_settings.SMS_GATEWAY).simulates_inbound
