from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class TemplatesSmsConfig(AppConfig):
    name = "templates_sms"
    # Not "SMS templates": that is its one model's name, and the breadcrumbs read "SMS templates › SMS templates".
    verbose_name = pgettext_lazy("app", "Templates")

    def ready(self):
        from . import receivers  # noqa: F401 - connects the store-event receivers
