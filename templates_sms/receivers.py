"""Templates' part of a new shop: the standard set, in the shop's language."""

from django.dispatch import receiver

from shop.events import shop_created

from .services import seed_standard_templates


@receiver(shop_created, dispatch_uid="templates_sms.standard_templates_for_new_shop")
def seed_templates(sender, *, shop, **kwargs) -> None:
    seed_standard_templates(shop=shop)
