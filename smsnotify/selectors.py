"""Reads of the messaging core."""

from shop.models import Shop

from .models import SmsSettings


def sms_settings_for(shop: Shop) -> SmsSettings:
    """The shop's SMS settings (a row made with the shop); switched off, unsaved, if it has none."""
    return SmsSettings.objects.filter(shop=shop).first() or SmsSettings(shop=shop)
