from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TemplatesSmsConfig(AppConfig):
    name = "templates_sms"
    verbose_name = _("SMS templates")

    def ready(self):
        from . import receivers  # noqa: F401 - connects the store-event receivers
