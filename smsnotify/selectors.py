"""Reads of the messaging core."""

from django.db.models import QuerySet

from shop.models import Shop

from .models import Message, SmsSettings


def sms_settings_for(shop: Shop) -> SmsSettings:
    """The shop's SMS settings; every shop has one row (created with the shop)."""
    settings, _ = SmsSettings.objects.get_or_create(shop=shop)
    return settings


def messages_of_shop(shop: Shop) -> QuerySet[Message]:
    return Message.objects.filter(shop=shop)
