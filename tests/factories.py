"""Factories for the store domain. Shops are built through the service, as in production."""

import itertools

import factory
from django.contrib.auth import get_user_model

from credits.ledger import credits_grant_bonus
from shop import services
from shop.models import (
    BackInStockSubscription,
    Cart,
    CartItem,
    Customer,
    MarketingConsent,
    Order,
    Product,
    Shop,
    StockStatus,
    Ticket,
)
from smsnotify.models import Kind, Message, SmsSettings

_seq = itertools.count(1)


def make_shop(*, active: bool = True, sender: str = "TestShop", country: str = "US", currency: str = "USD",
              language: str = "en", name: str | None = None, credits: int = 0, **kwargs) -> Shop:
    n = next(_seq)
    shop = services.shop_create(name=name or f"Shop {n}", slug=f"shop-{n}", country=country, currency=currency,
                                language=language, **kwargs)
    SmsSettings.objects.filter(shop=shop).update(active=active, sender=sender, merchant_number="+12025550199")
    if credits:  # a new shop has no credits, as in production; sending needs some
        fund(shop, credits)
    return shop


def fund(shop: Shop, credits: int) -> None:
    """Give ``shop`` credits (a bonus in its ledger, so balance == sum(ledger) holds)."""
    credits_grant_bonus(shop=shop, amount=credits, reason="test credits")


def make_merchant(shop: Shop, username: str | None = None, password: str = "pw-merchant-123"):
    user = get_user_model().objects.create_user(username or f"merchant{next(_seq)}", password=password)
    services.staff_add(shop=shop, user=user)
    return user


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Faker("email")
    phone = factory.Sequence(lambda n: f"+1202555{n % 10000:04d}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Product {n}")
    price = 1999


class BackInStockSubscriptionFactory(factory.django.DjangoModelFactory):
    """A number waiting for a product that is out of stock (written directly, as the admin lists it)."""

    class Meta:
        model = BackInStockSubscription

    product = factory.LazyAttribute(lambda o: ProductFactory(shop=o.shop, stock_status=StockStatus.OUT_OF_STOCK))
    phone = factory.Sequence(lambda n: f"+1202556{n % 10000:04d}")
    # Signing up on the storefront records the customer's consent (the box is required).
    customer = factory.LazyAttribute(lambda o: CustomerFactory(shop=o.shop, phone=o.phone,
                                                               marketing_consent=MarketingConsent.GRANTED))


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"{5000 + n}")
    customer = factory.LazyAttribute(lambda o: CustomerFactory(shop=o.shop))
    phone = factory.LazyAttribute(lambda o: o.customer.phone if o.customer else "+12025550100")
    currency = factory.LazyAttribute(lambda o: o.shop.currency)
    subtotal = 4000
    shipping_cost = 500
    total = 4500


class CartFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cart

    customer = factory.LazyAttribute(lambda o: CustomerFactory(shop=o.shop))
    phone = factory.LazyAttribute(lambda o: o.customer.phone if o.customer else "+12025550100")


class CartItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CartItem

    product = factory.LazyAttribute(lambda o: ProductFactory(shop=o.cart.shop))
    unit_price = factory.LazyAttribute(lambda o: o.product.price)


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    customer = factory.LazyAttribute(lambda o: CustomerFactory(shop=o.shop))
    subject = factory.Sequence(lambda n: f"Where is my parcel? ({n})")


class MessageFactory(factory.django.DjangoModelFactory):
    """A Message row as the admin shows it, written directly: tests of the outbox go through
    outbox.message_schedule instead, which also renders, prices and rings the doorbell."""

    class Meta:
        model = Message

    kind = Kind.MANUAL
    recipient = "+12025550123"
    body = factory.Sequence(lambda n: f"Hello {n}")
