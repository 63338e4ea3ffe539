"""Credits' part of a new shop: an empty account."""

from django.dispatch import receiver

from shop.events import shop_created

from .ledger import account_create


@receiver(shop_created, dispatch_uid="credits.account_for_new_shop")
def create_account(sender, *, shop, **kwargs) -> None:
    account_create(shop=shop)
