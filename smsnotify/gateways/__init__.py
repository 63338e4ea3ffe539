"""Pluggable SMS gateways, loaded like django.core.mail backends."""

from django.conf import settings
from django.utils.module_loading import import_string

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
    "get_gateway",
    "report_billed",
]


def get_gateway(backend: str | None = None, **kwargs) -> BaseGateway:
    """Build the configured gateway backend (``settings.SMS_GATEWAY`` unless given)."""
    return import_string(backend or settings.SMS_GATEWAY)(**kwargs)
