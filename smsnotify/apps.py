from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


class SmsnotifyConfig(AppConfig):
    name = "smsnotify"
    verbose_name = _("SMS")

    def ready(self):
        from . import receivers  # noqa: F401 - connects the store-event receivers

        # A typo in SMS_GATEWAY must stop the web server, the worker and beat at start-up,
        # not surface as a failed delivery hours later.
        from django.conf import settings
        from django.utils.module_loading import import_string

        try:
            import_string(settings.SMS_GATEWAY)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"SMS_GATEWAY={settings.SMS_GATEWAY!r} cannot be imported ({exc}). "
                "Use a dotted path such as 'smsnotify.gateways.sandbox.SandboxGateway'."
            ) from exc
