"""Helpers for the messaging core's tests."""

from smsnotify import outbox
from smsnotify.models import Kind


def schedule(shop, **kwargs):
    defaults = dict(shop=shop, to="+12025550123", body="Hello from the shop", kind=Kind.MANUAL)
    return outbox.message_schedule(**{**defaults, **kwargs})


def history(message):
    return list(message.events.values_list("status", flat=True))
