"""The messaging core's part of a new shop: its SMS settings row, switched off."""

from django.dispatch import receiver

from shop.events import shop_created

from .models import SmsSettings


@receiver(shop_created, dispatch_uid="smsnotify.sms_settings_for_new_shop")
def create_sms_settings(sender, *, shop, **kwargs) -> None:
    SmsSettings.objects.get_or_create(shop=shop)
