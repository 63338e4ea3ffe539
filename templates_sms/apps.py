from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class TemplatesSmsConfig(AppConfig):
    name = "templates_sms"
    verbose_name = pgettext_lazy("app", "SMS templates")

    def ready(self):
        from . import receivers  # noqa: F401 - connects the store-event receivers
