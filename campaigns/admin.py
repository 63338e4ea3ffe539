"""Texting from the store's admin pages: a "Send text message" page per order and customer
(with its per-recipient preview), a bulk action on customers, and on an order's page the texts
the order has caused and what its status change will text.

The store's admin (shop/admin.py) knows nothing of SMS: the Order and Customer admins are
registered again here, as subclasses with the SMS parts (campaigns is after shop in
INSTALLED_APPS). Thin: the views parse the form and call campaigns.sending or the selectors.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from phonenumber_field.formfields import PhoneNumberField
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _, gettext_lazy, ngettext

from credits.selectors import credit_balance, send_block
from shop import admin as store_admin
from shop.models import Customer, Order, Shop
from shop.money import format_money, format_number
from shop.tenancy import ShopScopedAdmin, is_operator, request_shop
from smsnotify import history
from smsnotify.models import Message
from smsnotify.selectors import sms_settings_for
from templates_sms.selectors import active_template, editor_context
from templates_sms.tokens import CART_ABANDONED, DATE_PREFIX, ORDER_STATUS_PREFIX, Audience, order_status_event

from . import admin_bulk, admin_inbox, admin_lists, admin_revenue  # noqa: F401 - they register their pages
from . import bulk, satisfaction, selectors, sending
from .admin_ratings import local_moment, rating_text  # also registers the ratings' list
from .bulk import bulk_event
from .forms import BulkSmsForm, DateCampaignAdminForm, SmsTextForm
from .keywords import consent_request_send
from .models import AbandonedCartSettings, BulkSend, DateCampaign, MarketingSettings, OptOut, OrderStatusRule

_BODY_PREVIEW_MAX = 5000  # the editor's text, bounded: a preview is not storage


class OptOutPhoneField(PhoneNumberField):
    """A number typed as the merchant writes it, stored as E.164 (what the policy compares)."""

    def clean(self, value):
        number = super().clean(value)
        return number.as_e164 if number else number


def buy_credits_url(request) -> str:
    """The purchase page, for a merchant (the operator grants credits instead)."""
    return reverse("admin:credits_purchase_buy") if request_shop(request) is not None else ""


def _editor(*, shop, event: str, preview, preview_url: str, target=None) -> dict:
    """The editor panel (tokens, preview, counter, cost) of a send page."""
    editor = editor_context(shop=shop, event=event, body="")
    editor.update(
        preview=preview, preview_url=preview_url,
        for_order=target.order.pk if target is not None and target.order is not None else "",
        for_customer=target.customer.pk if target is not None and target.customer is not None else "",
    )
    return editor


class SendSmsAdminMixin:
    """Adds /<id>/send-sms/ (and its preview) and the button on the change page, hidden with its
    reason when the shop cannot send."""

    change_form_template = "admin/campaigns/sms_change_form.html"

    def _url_name(self, suffix: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{suffix}"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/send-sms/", wrap(self.send_sms_view), name=self._url_name("send_sms")),
            path("<path:object_id>/send-sms/preview/", wrap(self.send_sms_preview_view),
                 name=self._url_name("send_sms_preview")),
            *super().get_urls(),
        ]

    def _send_target(self, request, object_id) -> sending.SendTarget:
        """The page's order or customer if it is the request's shop's; else 404."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        return sending.send_target(**{self.opts.model_name: obj})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None:
            extra_context = {
                **(extra_context or {}),
                "sms_block": send_block(obj.shop), "buy_credits_url": buy_credits_url(request),
                "send_sms_url": reverse(f"admin:{self._url_name('send_sms')}", args=[obj.pk]),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def send_sms_view(self, request, object_id):
        target = self._send_target(request, object_id)
        obj = target.order or target.customer
        block = send_block(target.shop)
        if request.method == "POST":
            form = SmsTextForm(request.POST)
            if form.is_valid() and block is None:
                try:
                    message = sending.sms_send_to_one(target=target, body=form.cleaned_data["body"],
                                                      send_key=form.cleaned_data["send_key"], user=request.user)
                except ValidationError as exc:
                    form.add_error(None, exc)
                else:
                    messages.success(request, _("The text message to %(to)s is on its way.") % {"to": message.recipient})
                    return HttpResponseRedirect(reverse("admin:smsnotify_message_change", args=[message.pk]))
        else:
            form = SmsTextForm(initial={"send_key": sending.send_key_new(),
                                        "body": sending.manual_text_default(shop=target.shop)})
        body = form["body"].value() or ""
        context = {
            **self.admin_site.each_context(request),
            "title": _("Send text message"), "opts": self.opts, "original": obj, "form": form,
            "recipient": target.phone, "sms_block": block, "buy_credits_url": buy_credits_url(request),
            "balance": credit_balance(target.shop),
            "editor": _editor(shop=target.shop, event=target.event,
                              preview=sending.manual_preview(target=target, body=body),
                              preview_url=reverse(f"admin:{self._url_name('send_sms_preview')}", args=[obj.pk]),
                              target=target),
        }
        return TemplateResponse(request, "admin/campaigns/send_sms.html", context)

    def send_sms_preview_view(self, request, object_id):
        """JSON for editor.js: the text this page's one recipient will get, its parts and cost."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        target = self._send_target(request, object_id)
        body = request.POST.get("body", "")[:_BODY_PREVIEW_MAX]
        return JsonResponse(sending.manual_preview(target=target, body=body).as_json())


class BulkSmsAdminMixin:
    """The "Send text message to selected …" action (customers or orders, "select all N matching"
    included), with a confirmation page shaped like Django's delete_selected: the confirming
    POST goes through the changelist again (with its filters, or ``select_across``), so tenant
    scoping also filters forged ids. Confirming creates a BulkSend and opens its progress page."""

    bulk_action_label = gettext_lazy("Send text message to selected customers")
    actions = ["send_sms_selected"]
    change_list_template = "admin/campaigns/customer_change_list.html"

    def get_actions(self, request):
        actions = super().get_actions(request)
        shop = request_shop(request)
        if shop is not None and send_block(shop) is not None:
            actions.pop("send_sms_selected", None)  # the changelist says why instead
        elif "send_sms_selected" in actions:
            func, name, _label = actions["send_sms_selected"]
            actions["send_sms_selected"] = (func, name, self.bulk_action_label)
        return actions

    def changelist_view(self, request, extra_context=None):
        shop = request_shop(request)
        extra = {"sms_block": send_block(shop) if shop is not None else None,
                 "buy_credits_url": buy_credits_url(request)}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    @admin.action(description=gettext_lazy("Send text message to selected customers"), permissions=["view"])
    def send_sms_selected(self, request, queryset):
        shop_ids = set(queryset.values_list("shop_id", flat=True).distinct()[:2])
        if len(shop_ids) != 1:
            self.message_user(request, _("Select customers of one shop."), messages.ERROR)
            return None
        shop = Shop.objects.get(pk=shop_ids.pop())
        bound = "body" in request.POST
        form = BulkSmsForm(request.POST if bound else None, zone=shop.zone,
                           initial={"send_key": sending.send_key_new(), "body": sending.manual_text_default(shop=shop),
                                    "purpose": BulkSend.Purpose.PROMOTIONAL})
        body = (form["body"].value() or "")[:_BODY_PREVIEW_MAX]
        purpose = form["purpose"].value() if form["purpose"].value() in BulkSend.Purpose.values \
            else BulkSend.Purpose.PROMOTIONAL
        if bound and "confirm" in request.POST and form.is_valid():
            try:
                sent = bulk.bulk_send_create(shop=shop, selection=queryset, body=form.cleaned_data["body"],
                                             send_key=form.cleaned_data["send_key"], purpose=purpose,
                                             send_at=form.cleaned_data["send_at"], user=request.user)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.message_user(request, ngettext(
                    "%(count)s text message is being written (%(credits)s credits held).",
                    "%(count)s text messages are being written (%(credits)s credits held).", sent.recipients)
                    % {"count": format_number(sent.recipients), "credits": format_number(sent.credits_held)},
                    messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:campaigns_bulksend_change", args=[sent.pk]))
        select_across = request.POST.get("select_across") == "1"
        context = {
            **self.admin_site.each_context(request),
            "title": self.bulk_action_label, "opts": self.opts, "form": form,
            "plan": bulk.bulk_plan(shop=shop, selection=queryset, body=body, purpose=purpose),
            "sms_block": send_block(shop), "buy_credits_url": buy_credits_url(request),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME, "select_across": select_across,
            # "all N matching": the changelist's filters (in the URL) and select_across say who; the
            # ticked page's ids only come along because Django's changelist wants some to run an action
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)[:1000],
            "editor": editor_context(shop=shop, event=bulk_event(queryset), body=body),
        }
        return TemplateResponse(request, "admin/campaigns/send_sms_bulk.html", context)


class OrderAdmin(BulkSmsAdminMixin, SendSmsAdminMixin, store_admin.OrderAdmin):
    bulk_action_label = gettext_lazy("Send text message to the customers of selected orders")
    actions = [*store_admin.OrderAdmin.actions, *BulkSmsAdminMixin.actions]
    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The texts the order has caused: a read-only panel (not an inline, which would add a
        # formset every save of the order must carry).
        obj = self.get_object(request, unquote(object_id))
        if obj is not None:
            rows = [{"message": message, "send_at": history.in_shop_terms(obj.shop, history.moment_text, message.send_at),
                     "note": history.in_shop_terms(obj.shop, history.event_text, list(message.events.all())[-1])
                     if message.events.all() else ""}
                    for message in selectors.order_messages(order=obj)]
            ratings = [{"rating": rating, "text": rating_text(rating), "at": local_moment(obj.shop, rating.created_at),
                        "answered_at": local_moment(obj.shop, rating.answered_at) if rating.changed else ""}
                       for rating in satisfaction.order_ratings(order=obj)]
            extra_context = {**(extra_context or {}), "show_order_messages": True, "order_messages": rows,
                             "order_ratings": ratings}
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        status_changed = change and "status" in form.changed_data
        # Before the save: the save itself writes the text this status sends, under the same key.
        earlier = selectors.order_status_message(order=obj, status=obj.status) if status_changed else None
        super().save_model(request, obj, form, change)
        if status_changed:
            self._status_notices(request, obj, earlier)

    def _status_notices(self, request, order: Order, earlier: Message | None) -> None:
        status = order.get_status_display()
        if earlier is not None:
            moment = (earlier.sent_at or earlier.created_at).astimezone(order.shop.zone)
            messages.info(request, _("A text for %(status)s was already sent on %(date)s; it is not sent again.") % {
                "status": status, "date": formats.date_format(moment, "DATE_FORMAT")})
            return
        estimate = selectors.order_status_estimate(order=order)
        if estimate is not None and not sms_settings_for(order.shop).active:
            messages.warning(request, _("The text for %(status)s was not sent: SMS is switched off for this shop. "
                                        "Switch it on in SMS settings.") % {"status": status})
            return
        balance = credit_balance(order.shop)
        if estimate is None or balance >= estimate.credits:
            return
        warning = _("The text for %(status)s cannot be paid for: it costs %(cost)s credits and the balance is "
                    "%(balance)s. It fails unless you buy credits before it is sent.") % {
            "status": status, "cost": format_number(estimate.credits), "balance": format_number(balance)}
        url = buy_credits_url(request)
        if url:
            messages.warning(request, format_html('{} <a href="{}">{}</a>', warning, url, _("Buy credits")))
        else:
            messages.warning(request, warning)


class CustomerAdmin(BulkSmsAdminMixin, SendSmsAdminMixin, store_admin.CustomerAdmin):
    actions = [*BulkSmsAdminMixin.actions, "request_consent_selected"]

    @admin.action(description=gettext_lazy("Ask selected customers for marketing consent by text"),
                  permissions=["view"])
    def request_consent_selected(self, request, queryset):
        """Double opt-in: each gets a text asking them to reply YES (at most one a month each)."""
        asked = [m for m in (consent_request_send(customer=c) for c in queryset.select_related("shop")) if m]
        skipped = queryset.count() - len(asked)
        self.message_user(request, ngettext(
            "%(asked)d customer asked for consent by text; %(skipped)d skipped (no number, opted out, refused or "
            "already agreed).", "%(asked)d customers asked for consent by text; %(skipped)d skipped (no number, "
            "opted out, refused or already agreed).", len(asked)) % {"asked": len(asked), "skipped": skipped},
            messages.SUCCESS if asked else messages.WARNING)


@admin.register(MarketingSettings)
class MarketingSettingsAdmin(ShopScopedAdmin):
    """The hours marketing texts may arrive, the frequency cap and the HELP reply: one row per shop."""

    merchant_actions = frozenset({"view", "change"})
    list_display = ["shop", "send_from", "send_until", "no_sundays", "cap_count", "cap_hours", "cap_action"]
    fieldsets = [
        (gettext_lazy("Hours"), {"fields": ["send_from", "send_until", "no_sundays"]}),
        (gettext_lazy("Frequency"), {"fields": ["cap_count", "cap_hours", "cap_action"]}),
        (gettext_lazy("Replies"), {"fields": ["help_reply"]}),
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OptOut)
class OptOutAdmin(ShopScopedAdmin):
    """Numbers that asked not to be texted. A merchant may add one (a customer who asked by phone);
    only the customer can opt back in, by texting START."""
    phrases = {"add": gettext_lazy("Add opt-out"), "change": gettext_lazy("Change opt-out"),
               "view": gettext_lazy("View opt-out")}

    merchant_actions = frozenset({"view", "add"})
    list_display = ["phone", "source", "keyword", "created_at"]
    list_filter = ["source"]
    search_fields = ["phone"]
    date_hierarchy = "created_at"
    fields = ["phone"]

    def get_fields(self, request, obj=None):
        return ["shop", "phone"] if request_shop(request) is None and obj is None else ["phone"]

    def get_readonly_fields(self, request, obj=None):
        return ["phone", "source", "keyword", "created_at"] if obj is not None else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if "phone" in form.base_fields:
            shop = request_shop(request)
            form.base_fields["phone"] = OptOutPhoneField(region=shop.country if shop else None)
        return form

    def save_model(self, request, obj, form, change):
        obj.source = OptOut.Source.ADMIN
        super().save_model(request, obj, form, change)


class RuleAdmin(ShopScopedAdmin):
    """An automation's page: its "template" field offers the shop's templates of its events only."""

    template_events = ""  # the prefix of the events whose templates fit

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "template" and field is not None:
            field.queryset = field.queryset.filter(event__startswith=self.template_events)
        return field


@admin.register(OrderStatusRule)
class OrderStatusRuleAdmin(RuleAdmin):
    """When each order status is texted: at once (no rule), after a delay, or not at all; per
    product where orders of a product need their own text."""
    phrases = {"add": gettext_lazy("Add order status rule"), "change": gettext_lazy("Change order status rule"),
               "view": gettext_lazy("View order status rule")}

    list_display = ["status", "orders", "sends", "delay_display", "text"]
    list_filter = ["status", "active"]
    search_fields = ["product__name"]
    autocomplete_fields = ["product"]
    list_select_related = ["product", "template", "shop"]
    fieldsets = [
        (None, {"fields": ["shop", "status", "product", "active", "template"]}),
        (gettext_lazy("Delay"), {"fields": [("delay_days", "delay_hours", "delay_minutes")],
                                 "description": gettext_lazy(
                                     "How long after the status change the text leaves. A text that is waiting "
                                     "is cancelled when the order's status changes again before it leaves.")}),
    ]
    change_list_template = "admin/campaigns/orderstatusrule/change_list.html"

    template_events = ORDER_STATUS_PREFIX  # only status texts: theirs are the tokens that fit

    @admin.display(description=gettext_lazy("orders"), ordering="product__name")
    def orders(self, obj):
        return obj.product.name if obj.product_id else _("Every order")

    @admin.display(description=gettext_lazy("sends"), boolean=True)
    def sends(self, obj):
        return obj.active and (obj.template_id is not None or active_template(
            shop=obj.shop, event=order_status_event(obj.status), audience=Audience.CUSTOMER) is not None)

    @admin.display(description=gettext_lazy("delay"))
    def delay_display(self, obj):
        return obj.delay_text

    @admin.display(description=gettext_lazy("text"))
    def text(self, obj):
        if obj.template_id:
            return obj.template.name
        return _("The status's own template (sent while it is on)")


@admin.register(DateCampaign)
class DateCampaignAdmin(RuleAdmin):
    """Texts a number of days after a customer's date (an order shipped, the first or last
    order, the registration) or on their birthday, at an hour of the shop's day; with a
    discount code made for each customer if the merchant wants."""
    phrases = {"add": gettext_lazy("Add date campaign"), "change": gettext_lazy("Change date campaign"),
               "view": gettext_lazy("View date campaign")}

    form = DateCampaignAdminForm
    list_display = ["name", "trigger", "delay_display", "hour_display", "active", "sends", "survey",
                    "discount_display"]
    list_filter = ["trigger", "active"]
    search_fields = ["name"]
    list_select_related = ["template", "shop"]
    actions = ["switch_off", "switch_on"]
    fieldsets = [
        (None, {"fields": ["shop", "name", "trigger", "delay_days", "send_hour", "active", "template"],
                "description": gettext_lazy(
                    "Each customer who agreed to marketing texts is texted once per date, at the hour you choose "
                    "in your shop's time zone. A campaign texts the dates that fall due after you switch it on.")}),
        (gettext_lazy("Satisfaction survey"), {"fields": ["ask_rating"], "description": gettext_lazy(
            "Ask how the order went: the customer replies with a number from 1 to 5, and the answer is shown "
            "in the inbox, on the order and under Satisfaction ratings. Best a few days after an order was "
            "shipped. The text must ask for the number.")}),
        (gettext_lazy("Discount code"), {"fields": ["discount_kind", "discount_value", "discount_valid_days"],
                                         "description": gettext_lazy(
                                             "Each customer gets a code of their own, valid once; the text shows it "
                                             "with {coupon_code}.")}),
    ]

    template_events = DATE_PREFIX  # only date texts: theirs are the tokens that fit

    @admin.display(description=gettext_lazy("delay"), ordering="delay_days")
    def delay_display(self, obj):
        if not obj.delay_days:
            return _("on the day")
        return ngettext("%(days)d day after", "%(days)d days after", obj.delay_days) % {"days": obj.delay_days}

    @admin.display(description=gettext_lazy("hour"), ordering="send_hour")
    def hour_display(self, obj):
        return f"{obj.send_hour:02d}:00"

    @admin.display(description=gettext_lazy("sends"), boolean=True)
    def sends(self, obj):
        return obj.active and obj.text_template() is not None

    @admin.display(description=gettext_lazy("asks for a rating"), boolean=True, ordering="ask_rating")
    def survey(self, obj):
        return obj.ask_rating

    @admin.display(description=gettext_lazy("discount"))
    def discount_display(self, obj):
        if not obj.has_discount:
            return "-"
        value = f"{obj.discount_value}%" if obj.discount_kind == "percent" else format_money(
            obj.discount_value or 0, obj.shop.currency)
        return ngettext("%(value)s, valid %(days)d day", "%(value)s, valid %(days)d days",
                        obj.discount_valid_days) % {"value": value, "days": obj.discount_valid_days}

    @admin.action(description=gettext_lazy("Switch off selected campaigns"), permissions=["change"])
    def switch_off(self, request, queryset):
        count = queryset.filter(active=True).update(active=False)
        self.message_user(request, ngettext("%d campaign switched off.", "%d campaigns switched off.", count)
                          % count, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Switch on selected campaigns"), permissions=["change"])
    def switch_on(self, request, queryset):
        # From now on: what fell due while a campaign was off is not texted late.
        count = queryset.filter(active=False).update(active=True, scanned_until=timezone.now())
        self.message_user(request, ngettext("%d campaign switched on.", "%d campaigns switched on.", count)
                          % count, messages.SUCCESS)

    def save_model(self, request, obj, form, change):
        if change and "active" in form.changed_data and obj.active:
            obj.scanned_until = timezone.now()
        super().save_model(request, obj, form, change)
        if obj.active and obj.text_template() is None:
            messages.warning(request, _("This campaign sends nothing yet: its standard text is switched off. "
                                        "Choose a text, or switch the standard one on under Templates."))


@admin.register(AbandonedCartSettings)
class AbandonedCartSettingsAdmin(ShopScopedAdmin):
    """A shop's abandoned-cart reminder: on or off, and after how many idle hours. One row per
    shop, added by its merchant the first time."""

    list_display = ["__str__", "active", "idle_hours", "sends"]
    list_select_related = ["shop"]

    def has_add_permission(self, request):
        shop = request_shop(request)
        if shop is not None and AbandonedCartSettings.objects.filter(shop=shop).exists():
            return False  # one per shop: the merchant edits theirs
        return super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return is_operator(request)

    @admin.display(description=gettext_lazy("sends"), boolean=True)
    def sends(self, obj):
        return obj.active and active_template(shop=obj.shop, event=CART_ABANDONED,
                                              audience=Audience.CUSTOMER) is not None

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.active and not self.sends(obj):
            messages.warning(request, _("Reminders are on but nothing is sent yet: the \"Abandoned cart\" template "
                                        "is switched off. Switch it on under Templates."))


for _model, _admin_class in ((Order, OrderAdmin), (Customer, CustomerAdmin)):
    admin.site.unregister(_model)
    admin.site.register(_model, _admin_class)
