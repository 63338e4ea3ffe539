"""The inbox in the admin: the list of conversations (unread first in bold, filters by status,
unread, date, product bought and order status) and the thread page with its side panel and
reply box. The admin's change page of a conversation *is* its thread: opening it marks it read.

Thin: the views parse the form and call campaigns.inbox and campaigns.sending.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseBadRequest, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext as _, gettext_lazy, ngettext

from credits.selectors import credit_balance, send_block
from shop.models import OrderStatus, Product
from shop.money import format_number
from shop.tenancy import ShopScopedAdmin, is_operator, request_shop, scope
from smsnotify.admin import may_simulate_inbound

from . import inbox, satisfaction, sending
from .admin_ratings import rating_text
from .forms import SmsTextForm
from .models import WEEKDAYS, Conversation, InboxSettings

ACTIONS = ("reply", "read", "unread", "close", "reopen")
_BODY_PREVIEW_MAX = 5000  # the text being typed, bounded: a preview is not storage


def _local(shop, moment) -> str:
    """A time in the shop's zone, in the merchant's language."""
    if moment is None:
        return "-"
    local = timezone.localtime(moment, shop.zone)
    return f"{formats.date_format(local, 'SHORT_DATE_FORMAT')} {local:%H:%M}"


class UnreadFilter(admin.SimpleListFilter):
    title = gettext_lazy("unread")
    parameter_name = "unread"

    def lookups(self, request, model_admin):
        return [("yes", _("Unread")), ("no", _("Read"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(unread__gt=0)
        if self.value() == "no":
            return queryset.filter(unread=0)
        return queryset


class ProductFilter(admin.SimpleListFilter):
    """Conversations of customers who ordered the product."""

    title = gettext_lazy("product ordered")
    parameter_name = "product"

    def lookups(self, request, model_admin):
        products = scope(Product.objects.all(), request).order_by("name", "pk")
        return [(str(product.pk), product.name) for product in products[:200]]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(customer__orders__items__product_id=int(value)).distinct()


class OrderStatusFilter(admin.SimpleListFilter):
    """Conversations of customers with an order in the status."""

    title = gettext_lazy("order status")
    parameter_name = "order_status"

    def lookups(self, request, model_admin):
        return OrderStatus.choices

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if value not in OrderStatus.values:
            return queryset.none()
        return queryset.filter(customer__orders__status=value).distinct()


@admin.register(Conversation)
class ConversationAdmin(ShopScopedAdmin):
    merchant_actions = frozenset({"view", "change"})
    list_display = ["who", "phone", "last_text_display", "last_activity", "status"]
    list_filter = ["status", UnreadFilter, ("last_message_at", admin.DateFieldListFilter), ProductFilter,
                   OrderStatusFilter]
    search_fields = ["phone", "customer__first_name", "customer__last_name"]
    list_select_related = ["customer", "shop"]
    actions = None
    change_list_template = "admin/campaigns/conversation/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=gettext_lazy("customer"), ordering="customer__last_name")
    def who(self, obj):
        name = str(obj.customer) if obj.customer_id else obj.phone
        if obj.unread:
            return format_html('<strong class="inbox-unread">{} ({})</strong>', name, obj.unread)
        return name

    @admin.display(description=gettext_lazy("last text"))
    def last_text_display(self, obj):
        text = obj.last_text
        return text if len(text) <= 70 else text[:69] + "…"

    @admin.display(description=gettext_lazy("last message"), ordering="last_message_at")
    def last_activity(self, obj):
        return _local(obj.shop, obj.last_message_at)

    def changelist_view(self, request, extra_context=None):
        shop = request_shop(request)
        here = reverse("admin:campaigns_conversation_changelist")
        settings = InboxSettings.objects.filter(shop=shop).first() if shop is not None else None
        extra = {
            "title": _("Inbox"),
            "unread_total": inbox.unread_total(shop) if shop is not None else None,
            "receive_url": (f"{reverse('admin:smsnotify_message_receive')}?{urlencode({'next': here})}"
                            if may_simulate_inbound(request) else ""),
            "inbox_settings_url": (reverse("admin:campaigns_inboxsettings_change", args=[settings.pk])
                                   if settings is not None else ""),
        }
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def get_urls(self):
        return [path("<path:object_id>/reply-preview/", self.admin_site.admin_view(self.reply_preview_view),
                     name="campaigns_conversation_reply_preview"),
                *super().get_urls()]

    def _conversation(self, request, object_id) -> Conversation:
        """The request's shop's conversation, else 404."""
        conversation = self.get_object(request, unquote(object_id))
        if conversation is None:
            raise Http404
        if not self.has_view_permission(request, conversation):
            raise PermissionDenied
        return conversation

    def reply_preview_view(self, request, object_id):
        """JSON for inbox.js: what the reply being typed costs, to this number."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        conversation = self._conversation(request, object_id)
        body = request.POST.get("body", "")[:_BODY_PREVIEW_MAX]
        return JsonResponse({"line": _estimate_line(conversation, body)})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        conversation = self._conversation(request, object_id)
        here = reverse("admin:campaigns_conversation_change", args=[conversation.pk])
        form = SmsTextForm(initial={"send_key": sending.send_key_new()})
        estimate = ""
        if request.method == "POST":
            if not self.has_change_permission(request, conversation):
                raise PermissionDenied
            action = request.POST.get("inbox_action", "")
            if action not in ACTIONS:
                return HttpResponseBadRequest(_("Unknown action."))
            if action == "reply":
                form = SmsTextForm(request.POST)
                if form.is_valid():
                    try:
                        message = sending.sms_reply_send(conversation=conversation, body=form.cleaned_data["body"],
                                                         send_key=form.cleaned_data["send_key"], user=request.user)
                    except ValidationError as exc:
                        form.add_error(None, exc)
                    else:
                        messages.success(request, _("Your reply is on its way (%(segments)d SMS).")
                                         % {"segments": message.segments})
                        return HttpResponseRedirect(here)
                estimate = _estimate_line(conversation, (form["body"].value() or "")[:_BODY_PREVIEW_MAX])
            else:
                return self._state_change(request, conversation, action, here)
        elif request_shop(request) is not None:
            # The merchant read it; the operator looking in on a shop's inbox leaves it as it was.
            inbox.conversation_mark_read(conversation=conversation)
        return TemplateResponse(request, "admin/campaigns/conversation/thread.html",
                                self._thread_context(request, conversation, form, estimate))

    def _state_change(self, request, conversation, action, here):
        if action == "read":
            inbox.conversation_mark_read(conversation=conversation)
        elif action == "unread":
            inbox.conversation_mark_unread(conversation=conversation)
            messages.success(request, _("The conversation is marked unread."))
            return HttpResponseRedirect(reverse("admin:campaigns_conversation_changelist"))
        elif action == "close":
            inbox.conversation_close(conversation=conversation)
            messages.success(request, _("The conversation is closed; a new text from the customer reopens it."))
        elif action == "reopen":
            inbox.conversation_reopen(conversation=conversation)
            messages.success(request, _("The conversation is open again."))
        return HttpResponseRedirect(here)

    def _thread_context(self, request, conversation, form, estimate) -> dict:
        shop = conversation.shop
        inbox.conversation_customer_link(conversation=conversation)
        opted_out = inbox.conversation_opted_out(conversation=conversation)
        thread = list(inbox.conversation_thread(conversation=conversation).select_related("shop"))
        ratings = satisfaction.ratings_by_answer(shop=shop, number=conversation.phone)
        for message in thread:
            rating = ratings.get(message.pk)
            message.rating_text = rating_text(rating) if rating is not None else ""
        return {
            **self.admin_site.each_context(request),
            "title": _("Conversation with %(who)s") % {"who": conversation},
            "opts": self.opts, "original": conversation, "conversation": conversation, "shop": shop,
            "thread": thread,
            "customer": conversation.customer, "opted_out": opted_out,
            "orders": inbox.conversation_orders(conversation=conversation),
            "form": form, "estimate_line": estimate,
            "preview_url": reverse("admin:campaigns_conversation_reply_preview", args=[conversation.pk]), "balance": credit_balance(shop),
            "sms_block": send_block(shop), "buy_credits_url": _buy_credits_url(request),
            "can_change": self.has_change_permission(request, conversation),
            "is_operator": is_operator(request),
        }


def _estimate_line(conversation, body: str) -> str:
    """What a reply costs, in words; empty for an empty text."""
    if not body.strip():
        return ""
    estimate = sending.reply_estimate(conversation=conversation, body=body)
    return ngettext("This reply: %(counter)s SMS, %(credits)s credits.",
                    "This reply: %(counter)s SMS, %(credits)s credits.", estimate.segments) % {
        "counter": estimate.segments, "credits": format_number(estimate.credits)}


def _buy_credits_url(request) -> str:
    return reverse("admin:credits_purchase_buy") if request_shop(request) is not None else ""


class InboxSettingsForm(forms.ModelForm):
    open_days = forms.TypedMultipleChoiceField(
        label=gettext_lazy("open on"), choices=WEEKDAYS, coerce=int, required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("The days you answer texts, in your shop's time zone."))

    class Meta:
        model = InboxSettings
        fields = ["auto_reply_active", "auto_reply_text", "open_from", "open_until", "open_days"]
        widgets = {"auto_reply_text": forms.Textarea(attrs={"rows": 3, "cols": 60})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["open_days"] = sorted(self.instance.days)

    def clean_open_days(self):
        return ",".join(str(day) for day in sorted(set(self.cleaned_data["open_days"])))


@admin.register(InboxSettings)
class InboxSettingsAdmin(ShopScopedAdmin):
    """The automatic answer outside opening hours: one row per shop."""

    merchant_actions = frozenset({"view", "change"})
    form = InboxSettingsForm
    list_display = ["shop", "auto_reply_active", "open_from", "open_until"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
