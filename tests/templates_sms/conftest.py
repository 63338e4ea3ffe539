import datetime as dt

import pytest

from shop.models import Cart, CartItem, Coupon, Order, Ticket
from templates_sms.tokens import RenderContext
from tests.factories import CustomerFactory, OrderFactory, ProductFactory, make_merchant, make_shop


@pytest.fixture
def full_context(db):
    """A context where every token has data: an American shop, a customer, an order, a
    product, a cart, a ticket, a code and a balance."""
    shop = make_shop(name="Acme Outdoor", currency="USD", language="en", time_zone="America/New_York")
    customer = CustomerFactory(shop=shop, first_name="Jane", last_name="Doe", email="jane@example.com")
    order = OrderFactory(
        shop=shop, customer=customer, number="1042", subtotal=123450, shipping_cost=990, total=124440,
        email="orders@example.com", shipping_method="UPS Ground", tracking_code="1Z999AA10123456784",
        delivery_name="Jane Q. Doe", delivery_street="742 Evergreen Terrace", delivery_city="Springfield",
        delivery_postcode="62704", delivery_country="US", status="shipped",
        placed_at=dt.datetime(2026, 1, 2, 3, 0, tzinfo=dt.timezone.utc),  # 1 January in New York
    )
    product = ProductFactory(shop=shop, name="Trail backpack 30 L", price=8900)
    cart = Cart.objects.create(shop=shop, customer=customer)
    CartItem.objects.create(cart=cart, product=product, quantity=2, unit_price=8900)
    CartItem.objects.create(cart=cart, product=ProductFactory(shop=shop, name="Mug", price=1500), quantity=1,
                            unit_price=1500)
    ticket = Ticket.objects.create(shop=shop, customer=customer, order=order, subject="Where is my parcel?")
    coupon = Coupon.objects.create(shop=shop, code="K7QW3MZP9X", kind="percent", value=15, customer=customer,
                                   valid_until=dt.datetime(2026, 2, 1, 4, 59, tzinfo=dt.timezone.utc))  # 31 Jan in NY
    return RenderContext(shop=shop, customer=customer, order=Order.objects.get(pk=order.pk), product=product,
                         cart=cart, ticket=ticket, code="482913", balance=1500, coupon=coupon)


@pytest.fixture
def merchant_client(client, db):
    """A logged-in merchant of one shop, and a second shop they must never reach."""
    shop, other = make_shop(name="Shop A"), make_shop(name="Shop B")
    client.force_login(make_merchant(shop))
    client.shop, client.other_shop = shop, other
    return client
