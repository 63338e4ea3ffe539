"""Payment providers, loaded from dotted paths like the SMS gateways."""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .base import (
    BasePaymentProvider,
    InvalidSignature,
    PaymentDeclined,
    PaymentEvent,
    PaymentMethod,
    PaymentRequest,
    PaymentResult,
)

__all__ = [
    "BasePaymentProvider",
    "InvalidSignature",
    "PaymentDeclined",
    "PaymentEvent",
    "PaymentMethod",
    "PaymentRequest",
    "PaymentResult",
    "get_provider",
    "method_choices",
    "providers",
    "provider_of_method",
]


@functools.cache
def _load(paths: tuple[str, ...]) -> dict[str, BasePaymentProvider]:
    loaded: dict[str, BasePaymentProvider] = {}
    for path in paths:
        try:
            provider = import_string(path)()
        except ImportError as exc:
            raise ImproperlyConfigured(f"CREDITS_PAYMENT_PROVIDERS: cannot import {path!r} ({exc}).") from exc
        loaded[provider.name] = provider
    return loaded


def providers() -> dict[str, BasePaymentProvider]:
    return _load(tuple(settings.CREDITS_PAYMENT_PROVIDERS))


def get_provider(name: str) -> BasePaymentProvider | None:
    return providers().get(name)


def provider_of_method(code: str) -> tuple[BasePaymentProvider, PaymentMethod] | None:
    for provider in providers().values():
        for method in provider.methods:
            if method.code == code:
                return provider, method
    return None


def method_choices(currency: str) -> list[PaymentMethod]:
    """Methods that can pay in ``currency``."""
    return [method for provider in providers().values() for method in provider.methods
            if method.currencies is None or currency in method.currencies]
