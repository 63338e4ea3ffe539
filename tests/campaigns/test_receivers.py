"""campaigns/receivers.py: an order status change texts the shop's active template for the new status,
rendered with the order; a low-balance signal tells the merchant."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import transaction

from credits import ledger
from credits.models import CreditAccount
from credits.signals import low_balance
from shop import services as shop_services
from shop.models import OrderStatus
from shop.services import staff_add
from smsnotify.models import Kind, Message, SmsSettings, Status
from templates_sms import services
from templates_sms.models import SmsTemplate
from tests.credits.helpers import bare_message, charge
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


# --- the low-balance receiver: credits.signals.low_balance → campaigns.alerts ------------------------


def low_balance_alerts(shop):
    return list(Message.objects.filter(shop=shop, kind=Kind.MERCHANT_ALERT))


def test_an_operators_downward_adjustment_below_the_threshold_alerts_once(django_capture_on_commit_callbacks,
                                                                         admin_user):
    shop = make_shop(credits=100)  # the alert threshold is 50
    with django_capture_on_commit_callbacks(execute=True):
        ledger.account_adjust(shop=shop, amount=-60, reason="Duplicate purchase credited", user=admin_user)
    [alert] = low_balance_alerts(shop)
    assert alert.recipient == "+12025550199"  # the merchant's number
    assert "40 credits left" in alert.body
    with django_capture_on_commit_callbacks(execute=True):
        ledger.account_adjust(shop=shop, amount=-5, reason="Another correction", user=admin_user)  # still below
    assert low_balance_alerts(shop) == [alert]
    assert mail.outbox == []


def test_an_adjustment_that_stays_above_the_threshold_does_not_alert(django_capture_on_commit_callbacks, admin_user):
    shop = make_shop(credits=100)
    with django_capture_on_commit_callbacks(execute=True):
        ledger.account_adjust(shop=shop, amount=-50, reason="Correction", user=admin_user)  # exactly 50: not below
    assert low_balance_alerts(shop) == []


def charge_a_message(shop, admin_user):  # 55 → 43
    assert charge(bare_message(shop))


def adjust_down(shop, admin_user):
    ledger.account_adjust(shop=shop, amount=-10, reason="Correction", user=admin_user)  # 55 → 45


@pytest.mark.parametrize("debit", [charge_a_message, adjust_down])
def test_no_alert_exists_until_the_debit_has_committed(django_capture_on_commit_callbacks, admin_user, debit):
    shop = make_shop(credits=55)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with transaction.atomic():
            debit(shop, admin_user)
            assert low_balance_alerts(shop) == []
        assert low_balance_alerts(shop) == []  # the test's own transaction has not committed either
    assert low_balance_alerts(shop) == [] and mail.outbox == []
    for callback in callbacks:  # the commit
        callback()
    assert len(low_balance_alerts(shop)) == 1


def test_a_low_balance_signal_for_a_shop_that_no_longer_exists_is_ignored(db):
    low_balance.send(sender=CreditAccount, shop_id=987654, balance=10, threshold=50, crossing=1)
    assert Message.objects.count() == 0 and mail.outbox == []


def test_a_status_text_that_never_went_out_is_sent_when_the_status_comes_again(shop, sms_outbox, on_commit):
    """Shipped while SMS was switched off (cancelled), then shipped again with SMS on."""
    order = OrderFactory(shop=shop)
    SmsSettings.objects.filter(shop=shop).update(active=False)
    shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    cancelled = Message.objects.get(order=order)
    assert cancelled.status == Status.CANCELLED
    SmsSettings.objects.filter(shop=shop).update(active=True)
    shop_services.order_change_status(order=order, status=OrderStatus.PLACED)
    with on_commit():
        shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    assert len(sms_outbox) == 1
    sent = Message.objects.get(order=order, dedupe_key__isnull=False)
    assert sent.status == Status.SENT and sent.pk != cancelled.pk
    cancelled.refresh_from_db()
    assert (cancelled.status, cancelled.dedupe_key) == (Status.CANCELLED, None)  # its history stays
    with on_commit():  # and once sent, it is sent once
        shop_services.order_change_status(order=order, status=OrderStatus.PLACED)
        shop_services.order_change_status(order=order, status=OrderStatus.SHIPPED)
    assert len(sms_outbox) == 1


def test_a_low_balance_signal_alerts_with_its_balance_crossing_and_threshold(db):
    by_sms = make_shop(credits=60)
    low_balance.send(sender=CreditAccount, shop_id=by_sms.pk, balance=45, threshold=50, crossing=7)
    [alert] = low_balance_alerts(by_sms)
    assert alert.dedupe_key == f"low_balance:{by_sms.pk}:7"  # once per crossing
    assert "45 credits left" in alert.body

    by_email = make_shop(credits=60)
    SmsSettings.objects.filter(shop=by_email).update(active=False)
    staff_add(shop=by_email, user=get_user_model().objects.create_user("owner", "owner@example.com", "pw"))
    low_balance.send(sender=CreditAccount, shop_id=by_email.pk, balance=45, threshold=300, crossing=2)
    [email] = mail.outbox
    assert "45 credits left" in email.subject
    assert "45 left (alert below 300)" in email.body
