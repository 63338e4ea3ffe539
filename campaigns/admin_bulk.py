"""The bulk sends' pages: a list, and each send's page with its live progress (a JSON endpoint
its script polls every 2 s) and a button that cancels whatever has not left. Bulk sends are
made from the customer and order lists (campaigns/admin.py), never here."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _, gettext_lazy, ngettext

from shop.money import format_number
from shop.tenancy import ShopScopedAdmin
from smsnotify import history

from . import bulk
from .models import BulkSend


def _moment(moment) -> str:
    """A time today as "08:00", another day's with its date, in the active zone and language."""
    local = timezone.localtime(moment)
    time = formats.time_format(local, "H:i")
    if local.date() == timezone.localdate():
        return time
    return f"{formats.date_format(local, 'SHORT_DATE_FORMAT')} {time}"


def waiting_text(wait: bulk.BulkWait | None) -> str:
    """Why a bulk send's texts wait and until when, in the active language and zone; "" when
    they are leaving."""
    if wait is None:
        return ""
    values = {"time": _moment(wait.until)}
    if wait.reason == "scheduled":
        return _("Scheduled: sending starts at %(time)s.") % values
    if wait.reason == "outside_hours":
        return _("Waiting for quiet hours to end: sending starts at %(time)s.") % values
    if wait.reason == bulk.PACED:
        try:
            rate = float(wait.params.get("rate", ""))
            rate = format_number(int(rate) if rate.is_integer() else rate)
        except ValueError:
            rate = "?"
        return _("Sending at your sender's rate of %(rate)s SMS parts per second: the texts leave one after "
                 "another.") % {"rate": rate}
    return _("Waiting until %(time)s: %(reason)s") % {**values,
                                                       "reason": history.reason_text(wait.reason, wait.params)}


@admin.register(BulkSend)
class BulkSendAdmin(ShopScopedAdmin):
    phrases = {"view": gettext_lazy("View bulk send")}
    merchant_actions = frozenset({"view"})
    list_display = ["__str__", "created_at", "purpose", "recipients", "status", "progress_display"]
    list_filter = ["status", "purpose"]
    date_hierarchy = "created_at"
    change_form_template = "admin/campaigns/bulksend/change_form.html"
    fields = ["purpose", "source", "body", "send_at", "status", "recipients", "left_out_display", "credits_held",
              "created_by", "created_at", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/progress/", wrap(self.progress_view), name="campaigns_bulksend_progress"),
            path("<path:object_id>/cancel/", wrap(self.cancel_view), name="campaigns_bulksend_cancel"),
            *super().get_urls(),
        ]

    @admin.display(description=gettext_lazy("progress"))
    def progress_display(self, obj):
        return f"{bulk.bulk_progress(bulk=obj).percent} %"

    @admin.display(description=gettext_lazy("left out"))
    def left_out_display(self, obj):
        return "; ".join(f"{reason}: {format_number(count)}" for reason, count in bulk.left_out(obj.excluded)) or "—"

    def _bulk(self, request, object_id) -> BulkSend:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        return obj

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None:
            extra_context = {**(extra_context or {}), "progress": bulk.bulk_progress(bulk=obj),
                             "waiting_note": self._waiting_note(obj),
                             "progress_url": reverse("admin:campaigns_bulksend_progress", args=[obj.pk]),
                             "cancel_url": reverse("admin:campaigns_bulksend_cancel", args=[obj.pk]),
                             "can_cancel": obj.status in BulkSend.ACTIVE_STATES}
        return super().change_view(request, object_id, form_url, extra_context)

    @staticmethod
    def _waiting_note(obj) -> str:
        return history.in_shop_terms(obj.shop, waiting_text, bulk.bulk_waiting(bulk=obj))

    def progress_view(self, request, object_id):
        obj = self._bulk(request, object_id)
        progress = bulk.bulk_progress(bulk=obj)  # reads only: delivery finishes the send (BulkSendFinishing)
        return JsonResponse({
            "status": obj.status, "status_display": obj.get_status_display(), "percent": progress.percent,
            "recipients": progress.recipients, "written": progress.written, "sent": progress.sent,
            "delivered": progress.delivered, "failed": progress.failed, "suppressed": progress.suppressed,
            "cancelled": progress.cancelled, "waiting": progress.waiting,
            "can_cancel": obj.status in BulkSend.ACTIVE_STATES, "waiting_note": self._waiting_note(obj),
            "finished_at": history.in_shop_terms(obj.shop, history.moment_text, obj.finished_at)
            if obj.finished_at else "",
        })

    def cancel_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self._bulk(request, object_id)
        if obj.status not in BulkSend.ACTIVE_STATES:
            messages.warning(request, _("This bulk send is over already; nothing was cancelled."))
        else:
            count = bulk.bulk_send_cancel(bulk=obj, user=request.user)
            messages.success(request, ngettext(
                "Bulk send cancelled: %(count)s text message that had not left was cancelled and the credits "
                "not used were given back.",
                "Bulk send cancelled: %(count)s text messages that had not left were cancelled and the credits "
                "not used were given back.", count) % {"count": format_number(count)})
        return HttpResponseRedirect(reverse("admin:campaigns_bulksend_change", args=[obj.pk]))
