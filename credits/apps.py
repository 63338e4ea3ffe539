from django.apps import AppConfig


class CreditsConfig(AppConfig):
    name = "credits"
    verbose_name = "Credits"

    def ready(self):
        from . import pricing  # noqa: F401 - connects the signals that forget cached rates
