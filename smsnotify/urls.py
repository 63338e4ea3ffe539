from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from . import webhooks

webhook_patterns = (
    [path("twilio/status/", webhooks.twilio_status, name="twilio-status"),
     path("twilio/inbound/", webhooks.twilio_inbound, name="twilio-inbound")],
    "webhooks",
)

admin.site.site_header = "smsnotify"
admin.site.site_title = "smsnotify"
admin.site.index_title = _("Back office")

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the header's language picker
    path("webhooks/", include(webhook_patterns)),
    path("webhooks/payments/", include("credits.urls")),
    path("store/", include("shop.urls")),  # the storefront's public pages
]
