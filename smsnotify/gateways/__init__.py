"""Pluggable SMS gateways, loaded like django.core.mail backends."""

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import pgettext_lazy

from .base import (
    AmbiguousGatewayError,
    BaseGateway,
    DeliveryReport,
    GatewayError,
    OutboundSms,
    PermanentGatewayError,
    RecipientOptedOut,
    SendResult,
    SentRef,
    TransientGatewayError,
    report_billed,
)

__all__ = [
    "AmbiguousGatewayError",
    "BaseGateway",
    "DeliveryReport",
    "GatewayError",
    "OutboundSms",
    "PermanentGatewayError",
    "RecipientOptedOut",
    "SendResult",
    "SentRef",
    "TransientGatewayError",
    "gateway_name",
    "get_gateway",
    "report_billed",
]


def get_gateway(backend: str | None = None, **kwargs) -> BaseGateway:
    """Build the configured gateway backend (``settings.SMS_GATEWAY`` unless given)."""
    return import_string(backend or settings.SMS_GATEWAY)(**kwargs)


# What a merchant reads for a message's ``gateway`` (a backend's ``name``, or "simulated" for a
# customer's text simulated in the admin). Read after "via" in a message's history ("Received via
# Twilio."), hence the context: Polish needs the accusative there.
GATEWAY_NAMES = {
    "twilio": "Twilio",
    "sandbox": pgettext_lazy("gateway, after 'via'", "the sandbox (test gateway)"),
    "simulated": pgettext_lazy("gateway, after 'via'", "a simulation in the admin"),
    "console": pgettext_lazy("gateway, after 'via'", "the console (development)"),
    "locmem": pgettext_lazy("gateway, after 'via'", "the test outbox"),
}


def gateway_name(code: str) -> str:
    """A gateway's name for people; an unknown backend keeps its code."""
    return str(GATEWAY_NAMES.get(code, code))
