"""Texts sent by hand (the services): one to an order's or a customer's phone (bulk: test_bulk.py)."""

import pytest
from django.core.exceptions import ValidationError

from campaigns import sending
from campaigns.sending import send_target
from credits.estimate import sms_estimate
from smsnotify.models import Kind, Message, SmsSettings
from tests.campaigns.conftest import consenting
from tests.factories import CustomerFactory, OrderFactory, fund, make_shop

pytestmark = pytest.mark.django_db

LONG = "Hello, we have news about your order. " * 14  # 532 GSM-7 characters: 4 parts


def test_send_to_the_customer_of_an_order(funded, sms_outbox, on_commit):
    order = OrderFactory(shop=funded)
    key = sending.send_key_new()
    target = send_target(order=order)
    with on_commit():
        message = sending.sms_send_to_one(target=target, body="Your parcel is delayed by a day.", send_key=key)
        again = sending.sms_send_to_one(target=target, body="Your parcel is delayed by a day.", send_key=key)
    assert message.pk == again.pk  # a double click sends once
    assert (message.kind, message.order, message.customer) == (Kind.MANUAL, order, order.customer)
    assert [sms.to for sms in sms_outbox] == [str(order.phone)]


def test_the_target_of_an_order_or_a_customer(funded):
    order = OrderFactory(shop=funded, phone="+12025550177")
    target = send_target(order=order)
    assert (target.shop, target.customer, target.order, target.number) == (
        funded, order.customer, order, "+12025550177")
    assert target.event == "custom:order"
    assert target.context.order == order and target.context.customer == order.customer
    customer_target = send_target(customer=order.customer)
    assert (customer_target.event, customer_target.order, customer_target.context.order) == ("custom", None, None)


def test_send_is_blocked_when_sms_is_off(funded):
    SmsSettings.objects.filter(shop=funded).update(active=False)
    with pytest.raises(sending.SendBlocked):
        sending.sms_send_to_one(target=send_target(customer=CustomerFactory(shop=funded)), body="hi",
                                send_key=sending.send_key_new())
    assert Message.objects.count() == 0


def test_send_is_blocked_without_credits(db):
    shop = make_shop()
    with pytest.raises(sending.SendBlocked) as excinfo:
        sending.sms_send_to_one(target=send_target(customer=CustomerFactory(shop=shop)), body="hi",
                                send_key=sending.send_key_new())
    assert "credits" in str(excinfo.value).lower()


def test_send_is_refused_when_the_balance_cannot_pay_this_number(db):
    shop = make_shop()  # US: 12 credits a part at home, 30 abroad
    fund(shop, 20)
    polish = CustomerFactory(shop=shop, phone="+48601234567")
    with pytest.raises(sending.SendBlocked) as excinfo:
        sending.sms_send_to_one(target=send_target(customer=polish), body="hi", send_key=sending.send_key_new())
    assert "30" in str(excinfo.value)
    assert Message.objects.count() == 0


def test_forged_send_key_is_refused(funded):
    with pytest.raises(ValidationError):
        sending.sms_send_to_one(target=send_target(customer=CustomerFactory(shop=funded)), body="hi",
                                send_key="../../etc")


def test_order_tokens_work_for_a_text_about_an_order(funded, sms_outbox, on_commit):
    order = OrderFactory(shop=funded, number="7001", total=4500, tracking_code="1Z42")
    with on_commit():
        message = sending.sms_send_to_one(target=send_target(order=order), send_key=sending.send_key_new(),
                                          body="Order {order_id}: {total_cost}. {tracking}")
    assert message.body == "Order 7001: $45.00. Tracking: 1Z42"


def test_order_tokens_are_refused_for_a_customer(funded):
    with pytest.raises(ValidationError) as excinfo:
        sending.sms_send_to_one(target=send_target(customer=CustomerFactory(shop=funded)), body="Order {order_id}",
                                send_key=sending.send_key_new())
    assert "not available" in str(excinfo.value)
    assert Message.objects.count() == 0


def test_a_text_longer_than_the_shops_parts_is_refused(funded):
    customer = CustomerFactory(shop=funded)
    assert sms_estimate(shop=funded, text=LONG.strip()).segments == 4
    with pytest.raises(ValidationError) as excinfo:
        sending.sms_send_to_one(target=send_target(customer=customer), body=LONG, send_key=sending.send_key_new())
    assert excinfo.value.message_dict["body"] == [
        "For this recipient the text takes 4 SMS; your shop allows 3 parts. "
        "Shorten the text or raise the limit in your SMS settings."]
    assert Message.objects.count() == 0
    SmsSettings.objects.filter(shop=funded).update(max_segments=4)
    assert sending.sms_send_to_one(target=send_target(customer=customer), body=LONG, send_key=sending.send_key_new())


def test_the_parts_limit_counts_the_real_recipients_text(funded):
    # 150 GSM-7 characters and the name: 1 part for "Al", 3 for "Łucja" (UCS-2, 67 a part).
    body = "Hi {firstname}! " + "x" * 150
    SmsSettings.objects.filter(shop=funded).update(max_segments=2)
    al = CustomerFactory(shop=funded, first_name="Al")
    assert sending.sms_send_to_one(target=send_target(customer=al), body=body, send_key=sending.send_key_new())
    with pytest.raises(ValidationError):
        sending.sms_send_to_one(target=send_target(customer=CustomerFactory(shop=funded, first_name="Łucja")),
                                body=body, send_key=sending.send_key_new())


def test_unknown_token_is_refused_before_anything_is_sent(funded):
    customer = consenting(funded)
    with pytest.raises(ValidationError) as excinfo:
        sending.sms_send_to_one(target=send_target(customer=customer), body="Hi {frstname}",
                                send_key=sending.send_key_new())
    assert "frstname" in str(excinfo.value)
    assert Message.objects.count() == 0


def test_the_preview_of_one_recipient_is_their_estimate(db):
    shop = make_shop()
    fund(shop, 1000)
    customer = CustomerFactory(shop=shop, first_name="Zed", phone="+48601234567")
    preview = sending.manual_preview(target=send_target(customer=customer), body="Hi {firstname}! " + "x" * 160)
    estimate = sms_estimate(shop=shop, text="Hi Zed! " + "x" * 160, recipient="+48601234567")
    assert (preview.text, preview.info, preview.cost) == (estimate.text, estimate.info, estimate.credits)
    assert preview.cost == 30 * 2
    assert preview.as_json()["cost_line"] == "Cost: 60 credits per message"
