from django.apps import AppConfig


class CreditsConfig(AppConfig):
    name = "credits"
    verbose_name = "Credits"

    def ready(self):
        from . import receivers  # noqa: F401 - connects the store-event receivers
