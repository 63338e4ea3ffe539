"""The merchant's two lists of texts: the scheduled sends (search, filter, cancel) and the error
log (what did not reach anyone, why, and where it came from).

Both are admin pages over proxies of smsnotify's Message (campaigns/models.py), so they get the
admin's search, filters, paging and "select all N matching" for free, and tenant scoping from
ShopScopedAdmin. A row opens the message's own page (smsnotify's, with its whole history), which
stays reachable after the message has left the list. Times read in the message's shop's zone
(for a merchant that is also the request's; the operator's list mixes shops).
"""

from __future__ import annotations

import datetime as dt
import re

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import quote
from django.contrib.admin.views.main import ChangeList
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _, ngettext
from django.views.generic import RedirectView

from shop.tenancy import scope
from smsnotify import history
from smsnotify.admin import MessageAdmin, error_html
from smsnotify.models import Direction, Kind, Message

from .cancelling import messages_cancel
from .models import NOT_DELIVERED, FailedMessage, ScheduledMessage
from .sources import message_source

# What a phone number may be typed with: "+48 600-100-200", "(202) 555 0123".
_PHONE_LIKE = re.compile(r"^[\d\s+\-().]+$")


class _RowsOpenTheMessage(ChangeList):
    def url_for_result(self, result):
        return reverse("admin:smsnotify_message_change", args=[quote(result.pk)],
                       current_app=self.model_admin.admin_site.name)


class KindFilter(admin.SimpleListFilter):
    """The message's type, without "Received" (these lists hold outbound texts only)."""

    title = _("type")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(kind.value, kind.label) for kind in Kind if kind != Kind.INBOUND]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


class FailureStatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [(status.value, status.label) for status in NOT_DELIVERED]

    def queryset(self, request, queryset):
        return queryset.filter(status=self.value()) if self.value() else queryset


class SendDateFilter(admin.SimpleListFilter):
    """When a waiting text leaves, in days of the current time zone (the merchant's shop's)."""

    title = _("send date")
    parameter_name = "leaves"

    def lookups(self, request, model_admin):
        return [("today", _("Today")), ("tomorrow", _("Tomorrow")), ("week", _("In the next 7 days")),
                ("later", _("Later"))]

    def queryset(self, request, queryset):
        today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        day = dt.timedelta(days=1)
        bounds = {"today": (None, today + day), "tomorrow": (today + day, today + 2 * day),
                  "week": (None, today + 8 * day), "later": (today + 8 * day, None)}.get(self.value())
        if bounds is None:
            return queryset
        start, end = bounds
        if start is not None:
            queryset = queryset.filter(send_at__gte=start)
        return queryset.filter(send_at__lt=end) if end is not None else queryset


class FailureDateFilter(admin.DateFieldListFilter):
    """Today, the past 7 days, ... of when the text stopped (its last change)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = _("date")


class MessageListAdmin(MessageAdmin):
    """What both lists share: read-only rows, search by phone or text, the source column."""

    list_select_related = ["shop", "order", "customer"]
    search_fields = ["recipient", "body"]
    search_help_text = _("Search by phone number or by the text of the message.")
    list_per_page = 50

    def get_urls(self):
        # Only a list's own pages. MessageAdmin's extra pages (the SMS report, a simulated text) are
        # the messages': inherited here, their copies took the same URL names, so the SMS report
        # opened under "Sending errors". Their addresses here, once linked from the menu, lead there.
        moved = [path(f"{page}/", RedirectView.as_view(pattern_name=f"admin:smsnotify_message_{page}", query_string=True))
                 for page in ("report", "receive")]
        return [*moved, *admin.ModelAdmin.get_urls(self)]

    def changelist_view(self, request, extra_context=None):
        # "Scheduled messages", not Django's "Select scheduled message to view": nothing here is picked to edit.
        return super().changelist_view(request, {"title": capfirst(self.opts.verbose_name_plural),
                                                 **(extra_context or {})})

    def get_changelist(self, request, **kwargs):
        return _RowsOpenTheMessage

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        digits = re.sub(r"\D", "", search_term)
        if _PHONE_LIKE.match(search_term) and len(digits) >= 3:
            # Numbers are stored as +48600100200; "600 100 200" or "600-100-200" finds it too.
            results = results | queryset.filter(recipient__contains=digits)
        return results, may_have_duplicates

    def _moment(self, obj, moment):
        if moment is None:
            return "-"
        local = timezone.localtime(moment, obj.shop.zone)
        return f"{formats.date_format(local, 'SHORT_DATE_FORMAT')} {local:%H:%M}"

    @admin.display(description=_("phone"), ordering="recipient")
    def phone(self, obj):
        return obj.recipient

    @admin.display(description=_("type"), ordering="kind")
    def message_type(self, obj):
        return obj.get_kind_display()

    @admin.display(description=_("came from"))
    def source(self, obj):
        found = message_source(obj)
        return format_html('<a href="{}">{}</a>', found.url, found.label) if found.url else found.label


@admin.register(ScheduledMessage)
class ScheduledMessageAdmin(MessageListAdmin):
    """The texts waiting to leave; cancelling picked ones, or every one matching the search."""
    phrases = {"view": _("View scheduled message")}

    list_display = ["phone", "short_body", "send_date", "message_type", "source", "status_badge"]
    list_filter = [KindFilter, SendDateFilter]
    date_hierarchy = "send_at"
    actions = ["cancel_selected"]

    @admin.display(description=_("send date"), ordering="send_at")
    def send_date(self, obj):
        return self._moment(obj, obj.send_at)

    @admin.action(description=_("Cancel selected messages"), permissions=["view"])
    def cancel_selected(self, request, queryset):
        if request.POST.get("select_across") == "1":
            picked = queryset  # every waiting text matching the search and filters, on every page
        else:
            # The ticked rows, also those that left the list since the page was drawn (they are
            # counted as not cancelled); another shop's ids are not the request's: scope drops them.
            ticked = request.POST.getlist(ACTION_CHECKBOX_NAME)  # ids only (ShopScopedAdmin.response_action)
            picked = scope(Message.objects.filter(direction=Direction.OUTBOUND, pk__in=ticked), request)
        tally = messages_cancel(messages=picked, user=request.user)
        if tally.cancelled or not tally.not_cancelled:
            self.message_user(request, ngettext("%(count)d message cancelled: it will not be sent.",
                                                "%(count)d messages cancelled: they will not be sent.",
                                                tally.cancelled) % {"count": tally.cancelled},
                              messages.SUCCESS if tally.cancelled else messages.WARNING)
        if tally.not_cancelled:
            self.message_user(request, ngettext(
                "%(count)d message was no longer waiting (it is being sent or was sent) and was not cancelled.",
                "%(count)d messages were no longer waiting (being sent or sent) and were not cancelled.",
                tally.not_cancelled) % {"count": tally.not_cancelled}, messages.WARNING)


@admin.register(FailedMessage)
class FailedMessageAdmin(MessageListAdmin):
    """What did not reach its recipient: the error, in the shop's language, and where it came from."""

    # no type column: "came from" begins with it
    list_display = ["error_code_display", "phone", "error", "source", "date", "status_badge"]
    list_display_links = ["phone"]
    list_filter = [KindFilter, FailureStatusFilter, ("updated_at", FailureDateFilter)]
    search_fields = ["recipient", "body", "error_code", "error_text"]
    search_help_text = _("Search by phone number, the text of the message or the error.")
    date_hierarchy = "updated_at"
    actions = ["send_again_selected"]

    @admin.display(description=_("error code"), ordering="error_code")
    def error_code_display(self, obj):
        return obj.error_code or "-"

    @admin.display(description=_("error"))
    def error(self, obj):
        return error_html(history.in_shop_terms(obj.shop, history.error_words, obj)) or obj.get_status_display()

    @admin.display(description=_("date"), ordering="updated_at")
    def date(self, obj):
        return self._moment(obj, obj.updated_at)
