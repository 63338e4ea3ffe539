"""campaigns/receivers.py: an order status change texts the shop's active template for the new status,
rendered with the order; a low-balance signal tells the merchant."""

import pytest

from shop import services as shop_services
from shop.models import OrderStatus
from smsnotify.models import Kind, Message
from templates_sms import services
from templates_sms.models import SmsTemplate
from tests.factories import CustomerFactory, OrderFactory, make_shop

pytestmark = pytest.mark.django_db


def test_the_shipped_sms_is_the_shops_edited_template(shop, sms_outbox, on_commit):
    template = SmsTemplate.objects.get(shop=shop, event="order_status:shipped")
    services.template_update(template=template, body="[[firstname]], {order_id} ({total_cost}) left via "
                                                      "{shipping_name}. Track: {tracking_code}")
    customer = CustomerFactory(shop=shop, first_name="Ada")
    order = OrderFactory(shop=shop, customer=customer, subtotal=4000, shipping_cost=500, total=4500,
                         shipping_method="UPS")
    with on_commit():
        shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED, tracking_code="1Z42")
    message = Message.objects.get()
    assert message.body == f"Ada, {order.number} ($45.00) left via UPS. Track: 1Z42"
    assert (message.kind, message.dedupe_key) == (Kind.ORDER_STATUS, f"order:{order.pk}:status:shipped")
    assert [sms.body for sms in sms_outbox] == [message.body]


def test_the_default_shipped_text(shop):
    order = OrderFactory(shop=shop, tracking_code="1Z999")
    shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    assert Message.objects.get().body == f"{shop.name}: your order {order.number} has been shipped. Tracking: 1Z999"


def test_a_polish_shop_texts_its_polish_template(db):
    shop = make_shop(country="PL", currency="PLN", language="pl", name="Sklep Bałtyk")
    order = OrderFactory(shop=shop, phone="+48601234567", customer=None, number="PL-9", tracking_code="PX1")
    shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    assert Message.objects.get().body == "Sklep Bałtyk: Twoje zamówienie PL-9 zostało wysłane. Numer przesyłki: PX1"


def test_an_inactive_template_sends_nothing_and_another_shops_template_is_not_used(shop):
    other = make_shop()
    SmsTemplate.objects.filter(shop=shop, event="order_status:shipped").update(active=False)
    services.template_update(template=SmsTemplate.objects.get(shop=other, event="order_status:cancelled"),
                             active=True)
    shop_services.order_change_status(order=OrderFactory(shop=shop), status=OrderStatus.SHIPPED)
    shop_services.order_change_status(order=OrderFactory(shop=shop), status=OrderStatus.CANCELLED)
    assert Message.objects.count() == 0


def test_a_text_that_renders_empty_is_not_sent(shop):
    template = SmsTemplate.objects.get(shop=shop, event="order_status:shipped")
    services.template_update(template=template, body="{tracking_code}")
    shop_services.order_change_status(order=OrderFactory(shop=shop, tracking_code=""), status=OrderStatus.SHIPPED)
    assert Message.objects.count() == 0
