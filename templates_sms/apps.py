from django.apps import AppConfig


class TemplatesSmsConfig(AppConfig):
    name = "templates_sms"
    verbose_name = "SMS templates"

    def ready(self):
        from . import receivers  # noqa: F401 - connects the store-event receivers
