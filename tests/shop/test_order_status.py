"""Order status changes go through the service, which schedules the status's SMS template in the same transaction."""

import pytest
from django.db import transaction

from shop import services
from shop.models import Order, OrderStatus, Shop
from smsnotify.models import EventType, Kind, Message, SmsSettings, Status
from templates_sms.models import SmsTemplate
from tests.factories import CustomerFactory, OrderFactory, make_shop

pytestmark = pytest.mark.django_db


def test_shipping_an_order_texts_the_customer_once(shop, sms_outbox, on_commit):
    order = OrderFactory(shop=shop, tracking_code="1Z999")
    with on_commit():
        services.order_change_status(order=order, status=OrderStatus.SHIPPED)
        services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    message = Message.objects.get()
    assert (message.kind, message.order, message.customer) == (Kind.ORDER_STATUS, order, order.customer)
    assert message.dedupe_key == f"order:{order.pk}:status:shipped"
    assert message.status == Status.SENT
    assert f"order {order.number} has been shipped" in message.body
    assert "Tracking: 1Z999" in message.body
    assert [sms.to for sms in sms_outbox] == [str(order.phone)]


def test_shipping_again_after_a_return_does_not_text_twice(shop, sms_outbox, on_commit):
    order = OrderFactory(shop=shop)
    for status in (OrderStatus.SHIPPED, OrderStatus.RETURNED, OrderStatus.SHIPPED):
        with on_commit():  # each change its own request: the first text has left before the return
            services.order_change_status(order=order, status=status)
    assert Message.objects.filter(kind=Kind.ORDER_STATUS, dedupe_key__endswith=":shipped").count() == 1
    assert len(sms_outbox) == 1  # "returned" is off by default
    assert Message.objects.get(kind=Kind.ORDER_STATUS).events.filter(type=EventType.REPEATED).count() == 1


@pytest.mark.parametrize("status", [s for s in OrderStatus.values if s != OrderStatus.SHIPPED])
def test_statuses_whose_template_is_inactive_send_nothing(shop, status):
    template = SmsTemplate.objects.get(shop=shop, event=f"order_status:{status}", audience="customer")
    assert template.active is False  # the standard set texts only "shipped" out of the box
    services.order_change_status(order=OrderFactory(shop=shop), status=status)
    assert Message.objects.count() == 0


def test_an_activated_template_for_another_status_sends(shop, sms_outbox, on_commit):
    SmsTemplate.objects.filter(shop=shop, event="order_status:accepted").update(
        active=True, body="{shop_name}: order {order_id} accepted, {firstname}!")
    order = OrderFactory(shop=shop, customer=CustomerFactory(shop=shop, first_name="Ada"))
    with on_commit():
        services.order_change_status(order=order, status=OrderStatus.ACCEPTED)
    message = Message.objects.get()
    assert message.body == f"{shop.name}: order {order.number} accepted, Ada!"
    assert message.dedupe_key == f"order:{order.pk}:status:accepted"
    assert [sms.to for sms in sms_outbox] == [str(order.phone)]


def test_switching_off_the_shipped_template_stops_the_sms(shop):
    SmsTemplate.objects.filter(shop=shop, event="order_status:shipped").update(active=False)
    services.order_change_status(order=OrderFactory(shop=shop), status=OrderStatus.SHIPPED)
    assert Message.objects.count() == 0


def test_message_is_rolled_back_with_the_status_change(shop, sms_outbox):
    order = OrderFactory(shop=shop)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            services.order_change_status(order=order, status=OrderStatus.SHIPPED)
            raise RuntimeError("the rest of the request failed")
    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED
    assert Message.objects.count() == 0
    assert sms_outbox == []


def test_order_without_a_phone_changes_status_without_sms(shop):
    order = OrderFactory(shop=shop, customer=None, phone="")
    services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED
    assert Message.objects.count() == 0


def test_raw_invalid_phone_on_an_old_row_does_not_block_the_status_change(shop):
    order = OrderFactory(shop=shop, customer=None)
    Order.objects.filter(pk=order.pk).update(phone="garbage")  # as stored before validation existed
    services.order_change_status(order=Order.objects.get(pk=order.pk), status=OrderStatus.SHIPPED)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED
    assert Message.objects.count() == 0


def test_polish_shop_texts_in_polish(db, on_commit):
    shop = make_shop(country="PL", currency="PLN", language="pl")
    order = OrderFactory(shop=shop, phone="+48601234567", customer=None)
    services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    assert Message.objects.get().recipient == "+48601234567"


def test_unknown_status_is_refused(shop):
    with pytest.raises(ValueError):
        services.order_change_status(order=OrderFactory(shop=shop), status="teleported")


def test_new_shop_starts_with_sms_off(db):
    shop = services.shop_create(name="New", slug="new")
    assert SmsSettings.objects.get(shop=shop).active is False


def test_customer_create_validates_the_phone(shop):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.customer_create(shop=shop, first_name="A", phone="not a phone")
    customer = services.customer_create(shop=shop, first_name="A", phone="(202) 555-0188")
    assert str(customer.phone) == "+12025550188"


def test_shipped_text_leaves_out_the_tracking_label_without_a_number(shop, on_commit):
    with_code = OrderFactory(shop=shop, tracking_code="1Z999")
    without = OrderFactory(shop=shop, tracking_code="")
    for order in (with_code, without):
        services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    assert Message.objects.get(order=with_code).body.endswith("has been shipped. Tracking: 1Z999")
    assert Message.objects.get(order=without).body.endswith("has been shipped.")


def test_polish_shipped_text_is_translated(db):
    shop = make_shop(country="PL", currency="PLN", language="pl")
    order = OrderFactory(shop=shop, phone="+48601234567", customer=None, tracking_code="PL123")
    services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    assert Message.objects.get().body.endswith("zostało wysłane. Numer przesyłki: PL123")


def test_customer_create_records_consent_with_when_and_where(shop):
    from shop.models import ConsentSource, MarketingConsent

    granted = services.customer_create(shop=shop, phone="+12025550101", marketing_consent=MarketingConsent.GRANTED,
                                       consent_source=ConsentSource.SIGNUP)
    unknown = services.customer_create(shop=shop, phone="+12025550102")
    assert (granted.marketing_consent, granted.marketing_consent_source) == ("granted", "signup")
    assert granted.marketing_consent_at is not None
    assert unknown.marketing_consent == "unknown" and unknown.marketing_consent_at is None


def test_demo_seed_is_idempotent_and_gives_bulk_sends_someone_to_reach(db):
    from django.core.management import call_command

    from shop.models import Customer, MarketingConsent

    call_command("seed_demo", stdout=open("/dev/null", "w"))
    counts = (Shop.objects.count(), Customer.objects.count(), Order.objects.count(), Message.objects.count())
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    assert (Shop.objects.count(), Customer.objects.count(), Order.objects.count(), Message.objects.count()) == counts
    assert counts[0] == 2
    for shop in Shop.objects.all():
        assert Customer.objects.filter(shop=shop, marketing_consent=MarketingConsent.GRANTED).count() == 2
    # the Polish shop's orders read as its merchant writes them (the new-order text shows the method)
    baltyk = Order.objects.filter(shop__slug="sklep-baltyk").first()
    assert (baltyk.shipping_method, baltyk.delivery_city) == ("Kurier", "Gdańsk")
