"""Seed two demo shops, each with its own merchant login, customers, products and orders.

It lives in campaigns, the top app, because it needs every app below it.

Idempotent: every row is found by a natural key first, so running it again changes nothing.
"""

import datetime as dt
import uuid

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone, translation

from credits.models import CreditPack
from credits.purchases import purchase_create
from shop import services
from shop.models import (
    BackInStockSubscription,
    ConsentSource,
    Customer,
    MarketingConsent,
    Order,
    OrderStatus,
    Product,
    Shop,
    StockStatus,
    Ticket,
)
from shop.storefront.forms import consent_wording
from smsnotify.selectors import sms_settings_for
from templates_sms.services import templates_seed_standard

from ...models import AbandonedCartSettings, DateCampaign, OrderStatusRule, Trigger

DEMO_PASSWORD = "demo-pass-2026"

SHOPS = [
    {
        "shop": dict(name="Acme Outdoor", slug="acme-outdoor", country="US", currency="USD",
                     time_zone="America/New_York", language="en"),
        "sender": "AcmeOutdoor", "merchant_number": "+12025550143", "login": "merchant-acme",
        "customers": [
            ("Jane", "Doe", "jane@example.com", "+12025550101", dt.date(1990, 4, 12)),
            ("John", "Smith", "john@example.com", "+12025550102", dt.date(1985, 11, 3)),
            ("Maria", "Garcia", "maria@example.com", "+12025550103", None),
            ("Sandbox", "Invalid", "invalid@example.com", "+15005550001", None),
        ],
        "products": [("Trail backpack 30 L", "BP-30", 8900), ("Rain jacket", "RJ-01", 12900), ("Camp mug", "MUG-1", 1500)],
        "ticket": "Where is my parcel?",
        "shipping": "Courier", "street": "{n} Main Street", "city": "Springfield", "postcode": "12345",
    },
    {
        "shop": dict(name="Sklep Bałtyk", slug="sklep-baltyk", country="PL", currency="PLN",
                     time_zone="Europe/Warsaw", language="pl"),
        "sender": "SklepBaltyk", "merchant_number": "+48601000100", "login": "merchant-baltyk",
        "customers": [
            ("Zofia", "Wąsowska", "zofia@example.pl", "601 234 567", dt.date(1992, 7, 21)),
            ("Łukasz", "Żółkiewski", "lukasz@example.pl", "+48 602 345 678", dt.date(1979, 1, 30)),
            ("Anna", "Nowak", "anna@example.pl", "603456789", None),
        ],
        "products": [("Bursztynowa bransoletka", "AMB-1", 14900), ("Koszulka z kotwicą", "TS-7", 5900)],
        "ticket": "Gdzie jest moja paczka?",
        # the shop's own words: the merchant's new-order text and the order page show them
        "shipping": "Kurier", "street": "ul. Długa {n}", "city": "Gdańsk", "postcode": "80-827",
    },
]


class Command(BaseCommand):
    help = "Create (or leave as they are) two demo shops with merchant logins and sample data."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        if not User.objects.filter(username="operator").exists():
            User.objects.create_superuser("operator", "operator@example.com", DEMO_PASSWORD)
        for spec in SHOPS:
            shop = Shop.objects.filter(slug=spec["shop"]["slug"]).first() or services.shop_create(**spec["shop"])
            sms = sms_settings_for(shop)
            if not sms.sender:
                sms.active, sms.sender, sms.merchant_number = True, spec["sender"], spec["merchant_number"]
                sms.save()
            user = User.objects.filter(username=spec["login"]).first()
            if user is None:
                user = User.objects.create_user(spec["login"], f"{spec['login']}@example.com", DEMO_PASSWORD)
            services.staff_add(shop=shop, user=user)
            self._credits(shop, user)
            self._catalogue(shop, spec)
            self._back_in_stock(shop, spec)
        for shop in Shop.objects.all():  # shops made before templates existed get the standard set too
            templates_seed_standard(shop=shop)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(
            "Logins (password %s): operator (platform operator), %s" % (
                DEMO_PASSWORD, ", ".join(spec["login"] for spec in SHOPS))
        )
        for product in Product.objects.filter(stock_status=StockStatus.OUT_OF_STOCK).select_related("shop"):
            self.stdout.write(f"Out of stock, sign up for a text: http://127.0.0.1:8000/store/{product.shop.slug}"
                              f"/products/{product.pk}/")
        for shop in Shop.objects.all():
            self.stdout.write(f"Storefront sign-up of {shop.name}: http://127.0.0.1:8000/store/{shop.slug}/account/signup/")

    def _back_in_stock(self, shop, spec):
        """The last product is sold out and the first customer waits for it (Store → Back-in-stock
        notifications); setting it in stock again texts them."""
        if BackInStockSubscription.objects.filter(shop=shop).exists():
            return
        product = Product.objects.get(shop=shop, sku=spec["products"][-1][1])
        services.product_stock_set(product=product, stock_status=StockStatus.OUT_OF_STOCK, stock_quantity=0)
        with translation.override(shop.language):
            services.back_in_stock_subscribe(product=product, phone=spec["customers"][0][3],
                                             consent_text=consent_wording(shop=shop), ip="127.0.0.1")

    def _credits(self, shop, user):
        """A paid sandbox purchase of the 1,000 pack, once (its key is fixed per shop)."""
        pack = CreditPack.objects.filter(credits=1000).first()
        if pack is not None and pack.price_in(shop.currency) is not None:
            with translation.override(shop.language):  # as its merchant would have bought it
                purchase_create(shop=shop, method="sandbox_card", user=user, pack=pack,
                                idempotency_key=uuid.uuid5(uuid.NAMESPACE_URL, f"smsnotify:seed-demo:{shop.slug}"))

    def _catalogue(self, shop, spec):
        products = [Product.objects.get_or_create(shop=shop, sku=sku,
                                                  defaults={"name": name, "price": price, "stock_quantity": 10})[0]
                    for name, sku, price in spec["products"]]
        # Orders with the first product are texted "shipped" two hours after it ships (the rules page's example).
        OrderStatusRule.objects.get_or_create(shop=shop, status=OrderStatus.SHIPPED, product=products[0],
                                              defaults={"delay_hours": 2})
        # Marketing texts wait for the merchant to switch them on (and their templates).
        with translation.override(shop.language):
            DateCampaign.objects.get_or_create(shop=shop, trigger=Trigger.BIRTHDAY,
                                               defaults={"name": str(Trigger.BIRTHDAY.label), "send_hour": 10,
                                                         "active": False})
        AbandonedCartSettings.objects.get_or_create(shop=shop)
        now = timezone.now()
        for index, (first, last, email, phone, birthday) in enumerate(spec["customers"], start=1):
            customer = Customer.objects.filter(shop=shop, email=email).first() or services.customer_create(
                shop=shop, first_name=first, last_name=last, email=email, phone=phone, birthday=birthday,
                registered_at=now - dt.timedelta(days=30 * index),
                # the first two opted in to marketing texts at sign-up, so a bulk send has someone to reach
                **({"marketing_consent": MarketingConsent.GRANTED, "consent_source": ConsentSource.SIGNUP}
                   if index <= 2 else {}),
            )
            number = f"{1000 + index}"
            if not Order.objects.filter(shop=shop, number=number).exists():
                services.order_create(
                    shop=shop, number=number, customer=customer, items=[(products[(index - 1) % len(products)], index)],
                    shipping_cost=990,
                    shipping_method=spec["shipping"], placed_at=now - dt.timedelta(days=index),
                    delivery={"name": customer.full_name, "street": spec["street"].format(n=index),
                              "city": spec["city"], "postcode": spec["postcode"], "country": shop.country},
                )
        # one order already further along, so the list shows more than one status
        second = Order.objects.filter(shop=shop, number="1002", status=OrderStatus.PLACED).first()
        if second:
            services.order_change_status(order=second, status=OrderStatus.ACCEPTED)
        first = Customer.objects.filter(shop=shop, email=spec["customers"][0][2]).first()
        if not Ticket.objects.filter(shop=shop).exists():
            services.ticket_open(shop=shop, customer=first, order=first.orders.first(), subject=spec["ticket"],
                                 body=spec["ticket"])
