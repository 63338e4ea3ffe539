"""Templates' part of a new shop: the standard set, in the shop's language."""

from django.dispatch import receiver

from shop.events import shop_created

from .services import templates_seed_standard


@receiver(shop_created, dispatch_uid="templates_sms.standard_templates_for_new_shop")
def seed_templates(sender, *, shop, **kwargs) -> None:
    templates_seed_standard(shop=shop)
