from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _

from credits.signals import low_balance
from shop import events


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        from . import receivers  # imports models: only once the app registry is ready

        for signal, receiver in (
            (events.shop_created, receivers.marketing_settings_create),
            (events.shop_created, receivers.inbox_settings_create),
            (events.order_placed, receivers.text_order_placed),
            (events.order_placed, receivers.attribute_order),
            (events.order_status_changed, receivers.text_order_status),
            (events.tracking_code_set, receivers.text_tracking_code),
            (events.ticket_opened, receivers.alert_ticket_opened),
            (events.ticket_answered, receivers.text_ticket_answered),
            (events.product_back_in_stock, receivers.text_back_in_stock),
            (events.verification_code_issued, receivers.text_verification_code),
            (events.code_ceiling_reached, receivers.alert_code_ceiling),
            (low_balance, receivers.alert_low_balance),
        ):
            signal.connect(receiver, sender=None, dispatch_uid=f"campaigns.{receiver.__name__}")


class BackOfficeAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the back office's site (campaigns/admin_dashboard.py): the
    merchant's dashboard as the first page, and the statistics page."""

    default = False  # named in INSTALLED_APPS; CampaignsConfig stays the app's own
    default_site = "campaigns.admin_dashboard.BackOfficeSite"
